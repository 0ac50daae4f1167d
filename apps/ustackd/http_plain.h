/*
 * http_plain.h - ustackd's --http PORT service: the HTTP/1.1 file server
 * of httpd.h straight over a ustack TCP socket (no TLS). Same files, same
 * /status pages, same limits and --http-* options as --https; needs --root.
 */
#ifndef USTACKD_HTTP_PLAIN_H
#define USTACKD_HTTP_PLAIN_H

#include "svc.h"

extern const struct svc_desc svc_http;

#endif
