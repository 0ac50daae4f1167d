/*
 * https.h - ustackd's --https service: the HTTP/1.1 file server of
 * httpd.h over us_tls (TLS 1.2, BearSSL) over ustack TCP.
 *
 * Options: --https PORT --cert FILE --key FILE, with --root DIR and the
 * --http-* options of httpd_opts.c. --cert and --key are read at start;
 * a missing, unreadable, malformed or mismatched file is one line on
 * stderr and a non-zero exit. The TLS connection slots are the HTTP
 * service's slots (--http-max-conns); at most half of them may be in a
 * handshake at once.
 */
#ifndef USTACKD_HTTPS_H
#define USTACKD_HTTPS_H

#include "svc.h"

extern const struct svc_desc svc_https;
extern const struct svc_desc svc_https_cert;
extern const struct svc_desc svc_https_key;

#endif
