/*
 * addr.c - text forms of us_addr_t and us_endpoint_t: IPv4 dotted quads and
 * IPv6 addresses as RFC 4291 2.2 allows them and RFC 5952 recommends
 * writing them, endpoints with the port after a colon (IPv6 in brackets,
 * RFC 5952 section 6).
 */
#include <stdio.h>
#include <string.h>

#include "ustack/us_types.h"

/* snprintf's contract for a piece of text: copy what fits, count it all. */
static int put_text(char *buf, size_t cap, size_t at, const char *text) {
  size_t n = strlen(text);
  for (size_t i = 0; i < n; i++)
    if (at + i + 1 < cap)
      buf[at + i] = text[i];
  if (cap > 0)
    buf[at + n < cap ? at + n : cap - 1] = '\0';
  return (int)n;
}

static void format_v4(const uint8_t *b, char *out) {
  sprintf(out, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

/* The longest run of two or more zero groups (the first of equal runs). */
static void longest_zero_run(const uint16_t g[8], int *start, int *len) {
  *start = -1;
  *len = 0;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && g[j] == 0)
      j++;
    if (j - i >= 2 && j - i > *len) {
      *start = i;
      *len = j - i;
    }
    i = j > i ? j : i + 1;
  }
}

static bool is_v4_mapped(const uint8_t *b) {
  for (int i = 0; i < 10; i++)
    if (b[i] != 0)
      return false;
  return b[10] == 0xff && b[11] == 0xff;
}

static void format_v6(const uint8_t *b, char *out) {
  if (is_v4_mapped(b)) { /* RFC 5952 section 5 */
    strcpy(out, "::ffff:");
    format_v4(b + 12, out + strlen(out));
    return;
  }
  uint16_t g[8];
  for (int i = 0; i < 8; i++)
    g[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
  int zs, zl;
  longest_zero_run(g, &zs, &zl);
  char *p = out;
  for (int i = 0; i < 8; i++) {
    if (i == zs) {
      p += sprintf(p, "::");
      i += zl - 1;
      continue;
    }
    if (i > 0 && i != zs + zl)
      *p++ = ':';
    p += sprintf(p, "%x", g[i]);
  }
  *p = '\0';
}

int us_addr_format(us_addr_t a, char *buf, size_t cap) {
  char text[US_ADDR_STRLEN];
  if (a.family == US_AF_INET)
    format_v4(a.b + 12, text);
  else if (a.family == US_AF_INET6)
    format_v6(a.b, text);
  else
    strcpy(text, "*"); /* unset: a wildcard (a listener's local address) */
  return put_text(buf, cap, 0, text);
}

int us_endpoint_format(us_endpoint_t e, char *buf, size_t cap) {
  char addr[US_ADDR_STRLEN];
  char text[US_ENDPOINT_STRLEN];
  us_addr_format(e.addr, addr, sizeof addr);
  if (e.addr.family == US_AF_INET6)
    snprintf(text, sizeof text, "[%s]:%u", addr, e.port);
  else
    snprintf(text, sizeof text, "%s:%u", addr, e.port);
  return put_text(buf, cap, 0, text);
}

/* One decimal part of a dotted quad: 0..255, no leading zero (that would
 * read as octal to inet_aton). Returns the characters used, 0 if none. */
static size_t parse_octet(const char *s, uint8_t *out) {
  size_t n = 0;
  unsigned v = 0;
  while (s[n] >= '0' && s[n] <= '9' && n < 3) {
    v = v * 10 + (unsigned)(s[n] - '0');
    n++;
  }
  if (n == 0 || v > 255 || (n > 1 && s[0] == '0'))
    return 0;
  *out = (uint8_t)v;
  return n;
}

/* A dotted quad that ends at `end` (the NUL). */
static bool parse_v4(const char *s, uint8_t out[4]) {
  for (int i = 0; i < 4; i++) {
    size_t n = parse_octet(s, &out[i]);
    if (n == 0)
      return false;
    s += n;
    if (i < 3 && *s++ != '.')
      return false;
  }
  return *s == '\0';
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/*
 * RFC 4291 2.2: eight groups of one to four hex digits; one "::" stands
 * for one or more zero groups; the last 32 bits may be a dotted quad.
 */
static bool parse_v6(const char *s, uint8_t out[16]) {
  uint8_t b[16] = { 0 };
  int n = 0;    /* bytes written */
  int gap = -1; /* byte index where "::" stood */
  if (s[0] == ':') {
    if (s[1] != ':')
      return false;
    gap = 0;
    s += 2;
  }
  while (*s != '\0') {
    if (n == 16)
      return false;
    /* A dotted quad as the last 32 bits: it has a '.' before any ':'. */
    const char *colon = strchr(s, ':');
    const char *dot = strchr(s, '.');
    if (dot != NULL && (colon == NULL || dot < colon)) {
      if (n > 12 || !parse_v4(s, b + n))
        return false;
      n += 4;
      break;
    }
    unsigned v = 0;
    int digits = 0;
    int d;
    while ((d = hex_digit(*s)) >= 0) {
      if (++digits > 4)
        return false;
      v = v << 4 | (unsigned)d;
      s++;
    }
    if (digits == 0)
      return false;
    b[n++] = (uint8_t)(v >> 8);
    b[n++] = (uint8_t)v;
    if (*s == '\0')
      break;
    if (*s++ != ':')
      return false;
    if (*s == ':') {
      if (gap >= 0)
        return false; /* a second "::" */
      gap = n;
      s++;
    } else if (*s == '\0') {
      return false; /* a lone trailing ':' */
    }
  }
  if (gap < 0) {
    if (n != 16)
      return false;
  } else {
    if (n > 14)
      return false; /* "::" must stand for at least one group */
    int tail = n - gap;
    memmove(b + 16 - tail, b + gap, (size_t)tail);
    memset(b + gap, 0, (size_t)(16 - tail - gap));
  }
  memcpy(out, b, 16);
  return true;
}

bool us_addr_parse(const char *text, us_addr_t *out) {
  uint8_t b[16];
  if (text == NULL)
    return false;
  if (strchr(text, ':') == NULL) {
    if (!parse_v4(text, b))
      return false;
    *out = us_addr_v4((us_ip4_t)b[0] << 24 | (us_ip4_t)b[1] << 16 | (us_ip4_t)b[2] << 8 | b[3]);
    return true;
  }
  if (!parse_v6(text, b))
    return false;
  *out = us_addr_v6(b);
  return true;
}

static bool parse_port(const char *s, uint16_t *out) {
  unsigned long v = 0;
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9') {
    v = v * 10 + (unsigned long)(s[n] - '0');
    if (v > 65535)
      return false;
    n++;
  }
  if (n == 0 || s[n] != '\0')
    return false;
  *out = (uint16_t)v;
  return true;
}

bool us_endpoint_parse(const char *text, us_endpoint_t *out) {
  char host[US_ADDR_STRLEN];
  const char *port;
  if (text == NULL)
    return false;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':')
      return false;
    size_t len = (size_t)(close - text - 1);
    if (len == 0 || len >= sizeof host)
      return false;
    memcpy(host, text + 1, len);
    host[len] = '\0';
    port = close + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (colon == NULL)
      return false;
    size_t len = (size_t)(colon - text);
    if (len == 0 || len >= sizeof host)
      return false;
    memcpy(host, text, len);
    host[len] = '\0';
    port = colon + 1;
  }
  us_addr_t a;
  uint16_t p;
  if (!us_addr_parse(host, &a) || !parse_port(port, &p))
    return false;
  if (text[0] == '[' ? !us_addr_is_v6(a) : !us_addr_is_v4(a))
    return false; /* brackets hold IPv6 only, and IPv6 needs them */
  *out = us_endpoint(a, p);
  return true;
}
