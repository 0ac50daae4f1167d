/*
 * httpd_files.c - files under the root (see httpd.h).
 *
 * Files are served only from below the root: the URL path is decoded,
 * ".." segments are refused (403), and the final path after realpath() (so
 * after symlinks) must still be under the root's realpath. What a file
 * request gets (200, 206, 304, 416) is decided by http_decide.c from the
 * request and the file's size and mtime; this file does the system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd.h"

const char *httpd_content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".htm", "text/html; charset=utf-8" },
    { ".css", "text/css" },
    { ".js", "text/javascript" },
    { ".json", "application/json" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".md", "text/plain; charset=utf-8" },
    { ".png", "image/png" },
    { ".jpg", "image/jpeg" },
    { ".jpeg", "image/jpeg" },
    { ".gif", "image/gif" },
    { ".svg", "image/svg+xml" },
    { ".ico", "image/x-icon" },
    { ".webp", "image/webp" },
    { ".pdf", "application/pdf" },
    { ".wasm", "application/wasm" },
    { ".xml", "application/xml" },
    { ".gz", "application/gzip" },
  };
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (dot && (!slash || dot > slash))
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (strcasecmp(dot, types[i].ext) == 0)
        return types[i].type;
  return "application/octet-stream";
}

/* Append `s` to the string of `len` bytes in dst (capacity cap, kept
 * NUL-terminated, cut at the end); returns the new length. */
static size_t cat(char *dst, size_t len, size_t cap, const char *s) {
  size_t n = strlen(s);
  if (len + n >= cap)
    n = cap - 1 - len;
  memcpy(dst + len, s, n);
  dst[len + n] = '\0';
  return len + n;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static void file_meta(const struct stat *st, struct http_file *m) {
  m->size = (uint64_t)st->st_size;
  m->mtime_s = (int64_t)st->st_mtim.tv_sec;
  m->mtime_ns = st->st_mtim.tv_nsec;
  m->ino = (uint64_t)st->st_ino;
}

/*
 * Map the URL path to a file under the root. Returns 200 with an open fd
 * and its metadata, 301 with `loc` (a directory without its slash), or an
 * error status.
 */
int httpd_resolve(const struct httpd *svc, const char *path, size_t plen, int *fd,
                  struct http_file *meta, char *real, char *loc, size_t loclen) {
  char dec[PATH_MAX];
  size_t dl = 0;
  /* Percent-decoding (RFC 3986 2.1); NUL and bad escapes are refused. */
  for (size_t i = 0; i < plen; i++) {
    char ch = path[i];
    if (ch == '%') {
      if (i + 2 >= plen) /* needs two hex digits */
        return 400;
      int hi = hexval(path[i + 1]), lo = hexval(path[i + 2]);
      if (hi < 0 || lo < 0)
        return 400;
      ch = (char)(hi * 16 + lo);
      i += 2;
      if (ch == '\0')
        return 400;
    }
    if (dl + 1 >= sizeof dec - 16)
      return 414;
    dec[dl++] = ch;
  }
  dec[dl] = '\0';
  if (dl == 0 || dec[0] != '/')
    return 400;
  /* No ".." segment, before any file system lookup. */
  for (size_t i = 0; i < dl; i++) {
    if (dec[i] == '/' && dec[i + 1] == '.' && dec[i + 2] == '.' &&
        (dec[i + 3] == '/' || dec[i + 3] == '\0'))
      return 403;
    if (dec[i] == '\\')
      return 403;
  }
  bool dir_req = dec[dl - 1] == '/';
  char full[PATH_MAX * 2];
  size_t fl = cat(full, 0, sizeof full, svc->root);
  fl = cat(full, fl, sizeof full, dec);
  fl = cat(full, fl, sizeof full, dir_req ? "index.html" : "");
  if (fl + 1 >= sizeof full)
    return 414;
  if (!realpath(full, real))
    return errno == EACCES ? 403 : 404;
  /* After symlinks, still below the root? */
  if (strncmp(real, svc->root, svc->root_len) != 0 ||
      (real[svc->root_len] != '/' && real[svc->root_len] != '\0'))
    return 403;
  struct stat st;
  if (stat(real, &st) != 0)
    return 404;
  if (S_ISDIR(st.st_mode)) {
    if (dir_req)
      return 403;
    snprintf(loc, loclen, "%s/", dec); /* RFC 9110 15.4.2 */
    return 301;
  }
  if (!S_ISREG(st.st_mode))
    return 403;
  int f = open(real, O_RDONLY | O_CLOEXEC);
  if (f < 0)
    return errno == EACCES ? 403 : 404;
  if (fstat(f, &st) != 0) {
    close(f);
    return 500;
  }
  *fd = f;
  file_meta(&st, meta);
  return 200;
}

/*
 * Answer a GET/HEAD of an open file (takes `fd`). Every answer carries the
 * validators (RFC 9110 8.8.2 Last-Modified, 8.8.3 ETag) and
 * "Accept-Ranges: bytes" (RFC 9110 14.3); the body, if any, is the range
 * http_decide_file() chose. Up to HTTPD_CHUNK bytes go in c->out with the
 * head, so a small file is one write; more is streamed from fd.
 */
void httpd_serve_file(struct hconn *c, int fd, const struct http_file *meta, const char *real) {
  struct http_decision d;
  http_decide_file(&c->req, meta, &d);
  char etag[64], lm[64], extra[320];
  http_etag(meta, etag, sizeof etag);
  http_date(meta->mtime_s, lm, sizeof lm);
  /* No printf on the common path: this runs for every file served. */
  size_t n = 0;
  n = cat(extra, n, sizeof extra, "ETag: ");
  n = cat(extra, n, sizeof extra, etag);
  n = cat(extra, n, sizeof extra, "\r\nLast-Modified: ");
  n = cat(extra, n, sizeof extra, lm);
  n = cat(extra, n, sizeof extra, "\r\nAccept-Ranges: bytes\r\n");
  if (d.status == 206)
    snprintf(extra + n, sizeof extra - n,
             "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", d.off,
             d.off + d.len - 1, meta->size);
  if (d.status == 304) {
    close(fd);
    httpd_head(c, 304, NULL, 0, extra);
    return;
  }
  if (d.status == 416) {
    close(fd);
    char cr[64];
    snprintf(cr, sizeof cr, "Content-Range: bytes */%" PRIu64 "\r\n", meta->size);
    const char *body = "<!doctype html><title>416</title><h1>416 Range Not Satisfiable</h1>\n";
    httpd_head(c, 416, "text/html; charset=utf-8", strlen(body), cr);
    if (c->req.method != HTTP_M_HEAD)
      sb_add(&c->out, body, strlen(body));
    return;
  }
  httpd_head(c, d.status, httpd_content_type(real), d.len, extra);
  if (!d.body || d.len == 0) {
    close(fd);
    return;
  }
  c->fd = fd;
  c->file_off = d.off;
  c->file_left = d.len;
  c->chunk_len = c->chunk_off = 0;
  /* The first piece rides with the head. */
  size_t first = d.len < HTTPD_CHUNK ? (size_t)d.len : HTTPD_CHUNK;
  sb_grow(&c->out, first);
  if (c->out.oom)
    return; /* streamed from fd instead */
  ssize_t r = pread(fd, c->out.p + c->out.len, first, (off_t)c->file_off);
  if (r > 0) {
    c->out.len += (size_t)r;
    c->file_off += (uint64_t)r;
    c->file_left -= (uint64_t)r;
  }
  if (c->file_left == 0) {
    close(fd);
    c->fd = -1;
  }
}
