/*
 * no_http.c - stand-ins for the HTTP services in a ustackd built without
 * libhttp-parser (the build warns and compiles this instead of http*.c).
 * Each option exists, so --help lists it; giving it is one clear error.
 */
#include "no_http.h"

#include <stdio.h>

static int no_http(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  (void)arg;
  (void)state;
  snprintf(err, errlen,
           "ustackd was built without HTTP (apt-get install libhttp-parser-dev and rebuild)");
  return -1;
}

#define NO_HTTP(sym, opt, meta)                                                      \
  const struct svc_desc sym = { .option = opt,                                       \
                                .metavar = meta,                                     \
                                .help = "(not in this build: needs libhttp-parser)", \
                                .parse = no_http }
NO_HTTP(svc_http, "--http", "PORT");
NO_HTTP(svc_https, "--https", "PORT");
NO_HTTP(svc_https_cert, "--cert", "FILE");
NO_HTTP(svc_https_key, "--key", "FILE");
NO_HTTP(svc_http_root, "--root", "DIR");
NO_HTTP(svc_http_max_conns, "--http-max-conns", "N");
NO_HTTP(svc_http_per_source, "--http-per-source", "N");
NO_HTTP(svc_http_header_timeout, "--http-header-timeout", "SEC");
NO_HTTP(svc_http_request_timeout, "--http-request-timeout", "SEC");
NO_HTTP(svc_http_idle_timeout, "--http-idle-timeout", "SEC");
NO_HTTP(svc_http_status_clients, "--status-clients", NULL);
NO_HTTP(svc_https_get, "--https-get", "URL");
NO_HTTP(svc_https_ca, "--https-ca", "FILE");
NO_HTTP(svc_https_name, "--https-name", "NAME");
