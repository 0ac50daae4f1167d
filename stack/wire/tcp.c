/*
 * tcp.c - the TCP header and options (RFC 9293 3.1, RFC 7323, RFC 2018).
 *
 * The option walk is bounded by the header: every step advances at least
 * one byte, an option length below 2 or past the header end stops the walk
 * with US_TCP_PARSE_BAD_OPTIONS (MUST-7; picoTCP CVE-2020-24337), and a
 * known kind with the wrong length is ignored as if unknown (MUST-6), so a
 * malformed MSS or timestamp never yields a half-read value.
 */
#include "tcp.h"

#include "bytes.h"
#include "checksum.h"

#define PROTO_TCP 6

enum us_tcp_parse_result us_tcp_parse_options(const uint8_t *opt, size_t len,
                                              struct us_tcp_seg *out) {
  size_t i = 0;
  while (i < len) {
    uint8_t kind = opt[i];
    if (kind == US_TCPOPT_EOL)
      break; /* the rest is padding (MUST-69), never parsed */
    if (kind == US_TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= len)
      return US_TCP_PARSE_BAD_OPTIONS; /* a lone kind byte at the end */
    uint8_t olen = opt[i + 1];
    if (olen < 2 || olen > len - i)
      return US_TCP_PARSE_BAD_OPTIONS;
    const uint8_t *v = opt + i + 2;
    switch (kind) {
    case US_TCPOPT_MSS:
      if (olen == 4) {
        out->has_mss = true;
        out->mss = us_get16(v);
      }
      break;
    case US_TCPOPT_WS:
      if (olen == 3) {
        out->has_ws = true;
        /* RFC 7323 2.3: a shift above 14 is used as 14. */
        out->ws_clamped = v[0] > US_TCP_WS_MAX;
        out->ws = out->ws_clamped ? US_TCP_WS_MAX : v[0];
      }
      break;
    case US_TCPOPT_SACK_PERM:
      if (olen == 2)
        out->sack_perm = true;
      break;
    case US_TCPOPT_SACK: {
      /* RFC 2018 3: 2 + 8n bytes; at most 4 blocks fit in 40 bytes. */
      size_t n = (size_t)(olen - 2) / 8;
      if ((olen - 2) % 8 == 0 && n >= 1 && n <= US_TCP_SACK_MAX_BLOCKS) {
        out->sack_count = (uint8_t)n;
        for (size_t k = 0; k < n; k++) {
          out->sack[k].left = us_get32(v + 8 * k);
          out->sack[k].right = us_get32(v + 8 * k + 4);
        }
      }
      break;
    }
    case US_TCPOPT_TS:
      if (olen == 10) {
        out->has_ts = true;
        out->tsval = us_get32(v);
        out->tsecr = us_get32(v + 4);
      }
      break;
    default:
      break; /* unknown option with a valid length: skip (MUST-6) */
    }
    i += olen;
  }
  return US_TCP_PARSE_OK;
}

enum us_tcp_parse_result us_tcp_parse(const uint8_t *b, size_t len, uint32_t pseudo,
                                      struct us_tcp_seg *out) {
  if (b == NULL || len < US_TCP_HDR_MIN)
    return US_TCP_PARSE_TOO_SHORT;
  size_t hl = (size_t)(b[12] >> 4) * 4;
  if (hl < US_TCP_HDR_MIN || hl > len)
    return US_TCP_PARSE_BAD_OFFSET;
  /* No datagram we accept carries more (IPv4's total length and IPv6's
   * payload length are 16 bits; we take no jumbograms, RFC 2675). */
  if (len > 0xffff)
    return US_TCP_PARSE_BAD_CSUM;
  if (us_csum_fold(us_csum_add(us_csum_pseudo_len(pseudo, (uint32_t)len), b, len)) != 0)
    return US_TCP_PARSE_BAD_CSUM;
  return us_tcp_parse_trusted(b, len, out);
}

enum us_tcp_parse_result us_tcp_parse_trusted(const uint8_t *b, size_t len,
                                              struct us_tcp_seg *out) {
  if (b == NULL || len < US_TCP_HDR_MIN)
    return US_TCP_PARSE_TOO_SHORT;
  size_t hl = (size_t)(b[12] >> 4) * 4;
  if (hl < US_TCP_HDR_MIN || hl > len)
    return US_TCP_PARSE_BAD_OFFSET;
  if (len > 0xffff)
    return US_TCP_PARSE_BAD_CSUM; /* as above: no such TCP segment exists */

  struct us_tcp_seg s = { 0 };
  s.sport = us_get16(b);
  s.dport = us_get16(b + 2);
  s.seq = us_get32(b + 4);
  s.ack = us_get32(b + 8);
  s.hdr_len = (uint8_t)hl;
  s.flags = b[13];
  s.wnd = us_get16(b + 14);
  s.csum = us_get16(b + 16);
  s.urp = us_get16(b + 18);
  enum us_tcp_parse_result r = us_tcp_parse_options(b + US_TCP_HDR_MIN, hl - US_TCP_HDR_MIN, &s);
  if (r != US_TCP_PARSE_OK)
    return r;
  s.payload = b + hl;
  s.payload_len = (uint32_t)(len - hl);
  *out = s;
  return US_TCP_PARSE_OK;
}

/*
 * Output layout. Each option is padded with leading NOPs to a 4-byte
 * boundary, the way most stacks lay them out (MSS; SACK-permitted + TS in
 * 12 bytes; NOP WS; NOP NOP SACK), so the length is always a multiple of 4.
 * SACK blocks are cut to what fits in the 40 option bytes (RFC 2018 3: 3
 * blocks beside a timestamp).
 */
static size_t sack_blocks_fitting(const struct us_tcp_seg *seg, size_t fixed) {
  size_t n = seg->sack_count > US_TCP_SACK_MAX_BLOCKS ? US_TCP_SACK_MAX_BLOCKS : seg->sack_count;
  while (n > 0 && fixed + 4 + 8 * n > US_TCP_HDR_MAX)
    n--;
  return n;
}

static size_t fixed_len(const struct us_tcp_seg *seg) {
  size_t hl = US_TCP_HDR_MIN;
  if (seg->has_mss)
    hl += 4;
  if (seg->has_ts)
    hl += 12; /* SACK-permitted (or NOP NOP) + TS */
  else if (seg->sack_perm)
    hl += 4; /* NOP NOP SACK-permitted */
  if (seg->has_ws)
    hl += 4;
  return hl;
}

size_t us_tcp_hdr_len(const struct us_tcp_seg *seg) {
  size_t hl = fixed_len(seg);
  size_t n = sack_blocks_fitting(seg, hl);
  if (n > 0)
    hl += 4 + 8 * n;
  return hl;
}

static size_t write_hdr(const struct us_tcp_seg *seg, uint8_t *out, size_t cap,
                        size_t payload_len) {
  size_t fixed = fixed_len(seg);
  size_t nsack = sack_blocks_fitting(seg, fixed);
  size_t hl = fixed + (nsack > 0 ? 4 + 8 * nsack : 0);
  if (out == NULL || cap < hl || hl + payload_len > 0xffff)
    return 0;
  us_put16(out, seg->sport);
  us_put16(out + 2, seg->dport);
  us_put32(out + 4, seg->seq);
  us_put32(out + 8, seg->ack);
  out[12] = (uint8_t)((hl / 4) << 4);
  out[13] = seg->flags;
  us_put16(out + 14, seg->wnd);
  us_put16(out + 16, 0);
  us_put16(out + 18, seg->urp);

  uint8_t *o = out + US_TCP_HDR_MIN;
  if (seg->has_mss) {
    o[0] = US_TCPOPT_MSS;
    o[1] = 4;
    us_put16(o + 2, seg->mss);
    o += 4;
  }
  if (seg->has_ts) {
    if (seg->sack_perm) {
      o[0] = US_TCPOPT_SACK_PERM;
      o[1] = 2;
    } else {
      o[0] = US_TCPOPT_NOP;
      o[1] = US_TCPOPT_NOP;
    }
    o[2] = US_TCPOPT_TS;
    o[3] = 10;
    us_put32(o + 4, seg->tsval);
    us_put32(o + 8, seg->tsecr);
    o += 12;
  } else if (seg->sack_perm) {
    o[0] = US_TCPOPT_NOP;
    o[1] = US_TCPOPT_NOP;
    o[2] = US_TCPOPT_SACK_PERM;
    o[3] = 2;
    o += 4;
  }
  if (seg->has_ws) {
    o[0] = US_TCPOPT_NOP;
    o[1] = US_TCPOPT_WS;
    o[2] = 3;
    o[3] = seg->ws > US_TCP_WS_MAX ? US_TCP_WS_MAX : seg->ws;
    o += 4;
  }
  if (nsack > 0) {
    o[0] = US_TCPOPT_NOP;
    o[1] = US_TCPOPT_NOP;
    o[2] = US_TCPOPT_SACK;
    o[3] = (uint8_t)(2 + 8 * nsack);
    for (size_t k = 0; k < nsack; k++) {
      us_put32(o + 4 + 8 * k, seg->sack[k].left);
      us_put32(o + 8 + 8 * k, seg->sack[k].right);
    }
    o += 4 + 8 * nsack;
  }
  return hl;
}

size_t us_tcp_build(const struct us_tcp_seg *seg, uint8_t *out, size_t cap, size_t payload_len,
                    uint32_t pseudo) {
  size_t hl = write_hdr(seg, out, cap, payload_len);
  if (hl == 0)
    return 0;
  uint32_t sum = us_csum_pseudo_len(pseudo, (uint32_t)(hl + payload_len));
  us_put16(out + 16, us_csum_fold(us_csum_add(sum, out, hl + payload_len)));
  return hl;
}

size_t us_tcp_build_partial(const struct us_tcp_seg *seg, uint8_t *out, size_t cap,
                            size_t payload_len, uint32_t pseudo) {
  size_t hl = write_hdr(seg, out, cap, payload_len);
  if (hl == 0)
    return 0;
  /* The folded pseudo-header sum, NOT complemented: adding the segment's
   * bytes to it and complementing gives the real checksum, which is what
   * the device does (us_device.h). */
  uint32_t sum = us_csum_pseudo_len(pseudo, (uint32_t)(hl + payload_len));
  us_put16(out + 16, (uint16_t)~us_csum_fold(sum));
  return hl;
}
