/*
 * ipv6_ext.h - the IPv6 extension-header chain (RFC 8200 section 4): a
 * bounded walk from the fixed header to the upper-layer header.
 *
 * Every length is checked against the datagram before the bytes it covers
 * are read; the walk only moves forward and stops after US_IP6_EXT_MAX
 * headers, so no chain, however built, makes it loop or read outside the
 * buffer. The walk applies the rules RFC 8200 gives the destination:
 *  - hop-by-hop options only right after the fixed header (4.1);
 *  - options in hop-by-hop and destination options headers: Pad1, PadN and
 *    Router Alert (RFC 2711) are known; an unknown one is handled by the two
 *    high bits of its type (4.2): skip, discard, discard and send a
 *    parameter problem, or that unless the destination was multicast;
 *  - a routing header with Segments Left 0 is ignored whatever its type
 *    (4.4); with Segments Left != 0 it would make us a router: type 0 is
 *    refused as RFC 5095 3 says, every other type as unrecognised (4.4),
 *    both with a parameter problem pointing at the Routing Type;
 *  - a fragment header with offset 0 and M clear (an atomic fragment) is
 *    skipped and the walk goes on (RFC 6946); any other fragment header is
 *    checked (4.5: data a multiple of 8 unless last, offset + length within
 *    65535) and ends the walk, except that in a first fragment the headers
 *    behind it are walked for their lengths only, to check that the whole
 *    header chain and the upper-layer header are in it (RFC 7112).
 * A verdict that RFC 8200, RFC 5095 or RFC 7112 answers with an ICMPv6
 * parameter problem sets `icmp` with the code and pointer to send.
 */
#ifndef USTACK_WIRE_IPV6_EXT_H
#define USTACK_WIRE_IPV6_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extension headers walked at most: a chain of every kind RFC 8200 4.1
 * recommends (hop-by-hop, two destination options, routing, fragment,
 * AH, ESP) is 7 long; anything longer is an attack on the walk. */
#define US_IP6_EXT_MAX 8

/* Option types (RFC 8200 4.2, RFC 2711). */
#define US_IP6_OPT_PAD1         0
#define US_IP6_OPT_PADN         1
#define US_IP6_OPT_ROUTER_ALERT 5

/* ICMPv6 parameter problem codes (RFC 4443 3.4, RFC 7112). */
#define US_ICMP6_PARAM_HEADER     0 /* erroneous header field */
#define US_ICMP6_PARAM_NEXT_HDR   1 /* unrecognised Next Header type */
#define US_ICMP6_PARAM_OPTION     2 /* unrecognised IPv6 option */
#define US_ICMP6_PARAM_INCOMPLETE 3 /* first fragment without the whole chain */

enum us_ip6_ext_verdict {
  US_IP6_EXT_OK = 0,        /* reached the upper layer, or a fragment */
  US_IP6_EXT_TRUNCATED,     /* a header runs past the datagram */
  US_IP6_EXT_HBH_NOT_FIRST, /* hop-by-hop after another header */
  US_IP6_EXT_TOO_LONG,      /* more than US_IP6_EXT_MAX headers */
  US_IP6_EXT_BAD_OPTION,    /* an option runs past its header */
  US_IP6_EXT_OPT_UNKNOWN,   /* an unknown option whose action discards */
  US_IP6_EXT_RH0,           /* routing type 0, Segments Left != 0 */
  US_IP6_EXT_RH_UNKNOWN,    /* other routing type, Segments Left != 0 */
  US_IP6_EXT_FRAG_BAD_LEN,  /* M set and data not a multiple of 8 */
  US_IP6_EXT_FRAG_TOO_BIG,  /* offset + data beyond 65535 */
  US_IP6_EXT_FRAG_NESTED,   /* a fragment header where none may be */
  US_IP6_EXT_INCOMPLETE,    /* first fragment without the whole chain */
};

struct us_ip6_chain {
  /* The upper layer (meaningful when not `frag`, or when frag_off == 0). */
  uint8_t proto;      /* Next Header of the last extension header walked */
  uint32_t l4_off;    /* offset of the upper-layer header in the datagram */
  uint32_t proto_ptr; /* offset of the Next Header field holding `proto` */
  uint8_t nhdrs;      /* extension headers walked */
  bool atomic;        /* an atomic fragment header was skipped (RFC 6946) */
  /* A fragment (a fragment header with offset != 0 or M set). */
  bool frag;
  bool frag_mf;
  uint16_t frag_off;      /* bytes */
  uint32_t frag_id;       /* identification */
  uint32_t frag_hdr_off;  /* offset of the fragment header */
  uint32_t frag_nh_ptr;   /* offset of the Next Header field holding 44 */
  uint8_t frag_next;      /* the fragment header's Next Header */
  uint32_t frag_data_off; /* offset of the fragment's data (frag_hdr_off + 8) */
  /* A parameter problem to send (RFC 4443 3.4), when `icmp`. */
  bool icmp;
  bool icmp_unless_mcast; /* option action 11: not to a multicast destination */
  uint8_t icmp_code;
  uint32_t icmp_ptr; /* offset in the datagram of the offending byte */
};

/*
 * Walk the chain of the datagram `d` (the 40-byte header and its payload,
 * `len` = 40 + payload length). With `allow_frag` false (a reassembled
 * datagram), a fragment header other than an atomic one is refused as
 * US_IP6_EXT_FRAG_NESTED. Borrows `d`; fills `out` whatever the verdict.
 */
enum us_ip6_ext_verdict us_ip6_walk(const uint8_t *d, size_t len, bool allow_frag,
                                    struct us_ip6_chain *out);

/*
 * Find the upper-layer header of `d` (`len` bytes, maybe a cut quote) by
 * the lengths of its extension headers alone, with none of the walk's
 * rules: for judging a datagram the walk refused (is it an ICMPv6 error?)
 * and datagrams quoted in ICMPv6 errors. False when the chain is longer
 * than US_IP6_EXT_MAX, runs past `len`, or is cut by a fragment header
 * with a non-zero offset.
 */
bool us_ip6_find_upper(const uint8_t *d, size_t len, uint8_t *proto, size_t *off);

/* The bytes of upper-layer header RFC 7112 wants in a first fragment:
 * the fixed TCP header (with its options, when the data offset is there),
 * UDP's 8, ICMPv6's 8 (type, code, checksum and the 32-bit field every
 * message has), 0 for anything else. `h`/`avail` are what is there. */
size_t us_ip6_l4_min(uint8_t proto, const uint8_t *h, size_t avail);

#endif
