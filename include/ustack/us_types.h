/*
 * us_types.h - the few value types every layer and every application shares.
 *
 * Time is a number passed in by the caller, never read inside the stack:
 * us_time_t counts microseconds on a monotonic clock whose origin the caller
 * chooses (the platform loop uses CLOCK_MONOTONIC, unit tests start at 0).
 */
#ifndef USTACK_US_TYPES_H
#define USTACK_US_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef int64_t us_time_t;

/* A deadline that never comes: what us_stack_poll() returns when idle. */
#define US_TIME_NEVER INT64_MAX

#define US_USEC(x) ((us_time_t)(x))
#define US_MSEC(x) ((us_time_t)(x)*1000)
#define US_SEC(x)  ((us_time_t)(x)*1000000)

/* An IPv4 address in host byte order: 10.0.0.2 is 0x0a000002. */
typedef uint32_t us_ip4_t;

#define US_IP4(a, b, c, d) \
  ((us_ip4_t)(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d)))

/*
 * An IPv4 or IPv6 address, the type the socket API and the TCB use.
 * The 16 bytes are in network order. An IPv4 address is held in its
 * IPv4-mapped form ::ffff:a.b.c.d (RFC 4291 2.5.5.2), so hashing and
 * comparing always cover the same 16 bytes; `family` says which family the
 * address belongs to, and only us_addr_*() helpers should build one.
 * us_ip4_t stays the type of IPv4-only code (the IPv4 header, ICMPv4).
 */
enum us_family {
  US_AF_NONE = 0, /* unset: us_addr_t zero-initialised */
  US_AF_INET = 4,
  US_AF_INET6 = 6,
};

typedef struct {
  uint8_t family; /* enum us_family */
  uint8_t b[16];
} us_addr_t;

/* A transport endpoint: address and port (host order). */
typedef struct {
  us_addr_t addr;
  uint16_t port;
} us_endpoint_t;

static inline us_addr_t us_addr_v4(us_ip4_t ip) {
  us_addr_t a = { .family = US_AF_INET };
  a.b[10] = 0xff;
  a.b[11] = 0xff;
  a.b[12] = (uint8_t)(ip >> 24);
  a.b[13] = (uint8_t)(ip >> 16);
  a.b[14] = (uint8_t)(ip >> 8);
  a.b[15] = (uint8_t)ip;
  return a;
}

/* An IPv6 address from its 16 network-order bytes. */
static inline us_addr_t us_addr_v6(const uint8_t bytes[16]) {
  us_addr_t a = { .family = US_AF_INET6 };
  for (int i = 0; i < 16; i++)
    a.b[i] = bytes[i];
  return a;
}

static inline bool us_addr_is_v4(us_addr_t a) { return a.family == US_AF_INET; }
static inline bool us_addr_is_v6(us_addr_t a) { return a.family == US_AF_INET6; }

/* The IPv4 address in host order (0 for an address that is not IPv4). */
static inline us_ip4_t us_addr_ip4(us_addr_t a) {
  if (a.family != US_AF_INET)
    return 0;
  return (us_ip4_t)a.b[12] << 24 | (us_ip4_t)a.b[13] << 16 | (us_ip4_t)a.b[14] << 8 | a.b[15];
}

static inline bool us_addr_eq(us_addr_t x, us_addr_t y) {
  /* memcmp of a constant 16 bytes compiles to two word compares: this runs
   * twice per segment in the connection lookup. */
  return x.family == y.family && memcmp(x.b, y.b, sizeof x.b) == 0;
}

/* 0.0.0.0 or ::, and the unset address, are "any" (a wildcard bind). */
static inline bool us_addr_is_any(us_addr_t a) {
  if (a.family == US_AF_INET)
    return us_addr_ip4(a) == 0;
  for (int i = 0; i < 16; i++)
    if (a.b[i] != 0)
      return false;
  return true;
}

static inline us_endpoint_t us_endpoint(us_addr_t addr, uint16_t port) {
  us_endpoint_t e = { .addr = addr, .port = port };
  return e;
}

static inline bool us_endpoint_eq(us_endpoint_t x, us_endpoint_t y) {
  return x.port == y.port && us_addr_eq(x.addr, y.addr);
}

/* Room for the longest text each formatter writes, with its NUL. */
#define US_ADDR_STRLEN     46 /* ffff:ffff:...:255.255.255.255 */
#define US_ENDPOINT_STRLEN 54 /* "[" addr "]:65535" */

/*
 * Text of an address: "10.0.0.2", "fd00::2" (RFC 5952: lower case, the
 * longest run of two or more zero groups shortened to "::"), "*" for an
 * unset one (the wildcard: a listener's local address). Writes at most `cap` bytes with the NUL, truncating; returns
 * the length the full text has (as snprintf).
 */
int us_addr_format(us_addr_t a, char *buf, size_t cap);
/* "10.0.0.2:80", "[fd00::2]:443" (RFC 5952 section 6). As us_addr_format. */
int us_endpoint_format(us_endpoint_t e, char *buf, size_t cap);
/*
 * Parse a dotted quad or an IPv6 address (RFC 4291 2.2, including "::" and
 * a trailing dotted quad). The whole string must be the address. Returns
 * true and fills `out`, or false and leaves `out` alone.
 */
bool us_addr_parse(const char *text, us_addr_t *out);
/*
 * Parse "10.0.0.2:80" or "[fd00::2]:443" (the brackets are required for
 * IPv6). The port is decimal 0..65535 without a sign; callers that need a
 * real port reject 0.
 */
bool us_endpoint_parse(const char *text, us_endpoint_t *out);

/*
 * A socket handle: slot index in the low 16 bits, the slot's generation in
 * the high 16 bits. A handle kept after its socket was freed (and the slot
 * reused) no longer matches the slot's generation, so every call with it
 * fails with US_ERR_BADF instead of touching someone else's connection.
 * The value 0 is never a valid handle (generations start at 1).
 */
typedef struct {
  uint32_t v;
} us_sock_t;

#define US_SOCK_INVALID ((us_sock_t){ 0 })

static inline bool us_sock_valid(us_sock_t s) { return s.v != 0; }
static inline bool us_sock_eq(us_sock_t a, us_sock_t b) { return a.v == b.v; }

#endif
