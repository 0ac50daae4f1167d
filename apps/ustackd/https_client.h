/*
 * https_client.h - ustackd's HTTPS client (one GET over the stack's TLS,
 * certificate verified against a CA file). Options:
 *   --https-get https://ADDR[:PORT]/PATH --https-ca FILE --https-name NAME
 * The body goes to stdout, a one-line summary to stderr.
 */
#ifndef USTACKD_HTTPS_CLIENT_H
#define USTACKD_HTTPS_CLIENT_H

#include <stdbool.h>

#include "svc.h"

extern const struct svc_desc svc_https_get;
extern const struct svc_desc svc_https_ca;
extern const struct svc_desc svc_https_name;

/* True once the GET finished (or failed); *status is 0 for a verified,
 * complete 2xx response, 1 otherwise. The daemon may exit with it. */
bool https_client_finished(int *status);

#endif
