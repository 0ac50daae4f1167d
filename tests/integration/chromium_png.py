#!/usr/bin/env python3
"""chromium_png.py - check that a PNG screenshot is a real, non-blank page.

    python3 chromium_png.py FILE [MIN_WIDTH MIN_HEIGHT]

Decodes the PNG with zlib only (no PIL): 8-bit greyscale, RGB, RGBA or
grey+alpha, non-interlaced (what Chromium writes). Undoes the per-row
filters (PNG spec, W3C 2003, section 9), then counts the distinct pixel
values and the pixels that are not near-white. Prints one summary line and
exits 0 when the image has at least MIN_WIDTH x MIN_HEIGHT pixels, at
least 3 distinct values and 0.5% non-white pixels (text on the page);
otherwise prints why and exits 1.
"""
import struct
import sys
import zlib

PNG_SIG = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def fail(msg):
    print(f"chromium_png: {msg}")
    sys.exit(1)


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[:8] != PNG_SIG:
        fail(f"{path}: not a PNG file ({len(data)} bytes)")
    pos, ihdr, idat = 8, None, []
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + 12 + length > len(data):
            fail(f"{path}: chunk {ctype!r} runs past the end of the file")
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            fail(f"{path}: bad CRC in chunk {ctype!r}")
        if ctype == b"IHDR":
            if length != 13:
                fail(f"{path}: IHDR of {length} bytes")
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
        pos += 12 + length
    if ihdr is None or not idat:
        fail(f"{path}: no IHDR or no IDAT")
    width, height, depth, ctype, _comp, _filt, interlace = ihdr
    if depth != 8 or ctype not in CHANNELS or interlace != 0:
        fail(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    bpp = CHANNELS[ctype]
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != height * (stride + 1):
        fail(f"{path}: {len(raw)} bytes of image data, expected {height * (stride + 1)}")
    rows, prev = [], bytearray(stride)
    for y in range(height):
        off = y * (stride + 1)
        ftype = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        if ftype == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:  # Up
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        elif ftype != 0:
            fail(f"{path}: row {y} has filter type {ftype}")
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    if len(sys.argv) not in (2, 4):
        print(__doc__.strip().splitlines()[2].strip())
        sys.exit(2)
    path = sys.argv[1]
    min_w = int(sys.argv[2]) if len(sys.argv) == 4 else 1
    min_h = int(sys.argv[3]) if len(sys.argv) == 4 else 1
    width, height, bpp, rows = read_png(path)
    colour = 3 if bpp >= 3 else 1  # ignore alpha
    values, nonwhite = set(), 0
    for row in rows:
        for x in range(0, len(row), bpp):
            px = row[x:x + colour]
            values.add(px)
            if min(px) < 224:
                nonwhite += 1
    total = width * height
    share = nonwhite / total if total else 0.0
    print(f"chromium_png: {width}x{height}, {len(values)} distinct values, "
          f"{nonwhite} non-white pixels ({share:.1%})")
    if width < min_w or height < min_h:
        fail(f"image is {width}x{height}, expected at least {min_w}x{min_h}")
    if len(values) < 3:
        fail("blank image: fewer than 3 distinct pixel values")
    if share < 0.005:
        fail("blank image: less than 0.5% non-white pixels")


if __name__ == "__main__":
    main()
