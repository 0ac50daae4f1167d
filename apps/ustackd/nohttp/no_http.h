/*
 * no_http.h - what options.c needs from the HTTP services when ustackd is
 * built without libhttp-parser (apps/ustackd/CMakeLists.txt): the option
 * rows only, so --help still lists them and using one says why it cannot
 * work. With the library, options.c includes httpd.h and the real services.
 */
#ifndef USTACKD_NO_HTTP_H
#define USTACKD_NO_HTTP_H

#include "svc.h"

extern const struct svc_desc svc_http, svc_https, svc_https_cert, svc_https_key, svc_http_root,
    svc_http_max_conns, svc_http_per_source, svc_http_header_timeout, svc_http_request_timeout,
    svc_http_idle_timeout, svc_http_status_clients, svc_https_get, svc_https_ca, svc_https_name;

#endif
