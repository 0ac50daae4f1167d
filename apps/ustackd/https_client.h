/*
 * https_client.h - ustackd's HTTPS client (one GET over the stack's TLS,
 * certificate verified against a CA file). Options:
 *   --https-get https://ADDR[:PORT]/PATH --https-ca FILE --https-name NAME
 * The body goes to stdout, a one-line summary to stderr.
 */
#ifndef USTACKD_HTTPS_CLIENT_H
#define USTACKD_HTTPS_CLIENT_H

#include "svc.h"

extern const struct svc_desc svc_https_get;
extern const struct svc_desc svc_https_ca;
extern const struct svc_desc svc_https_name;

/* --https-get is a one-shot service (svc_desc.finished): once the GET is
 * done the daemon exits with 0 for a verified, complete 2xx response and
 * 1 otherwise. */

#endif
