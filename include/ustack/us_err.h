/*
 * us_err.h - API results: 0 for success or a negative us_err.
 *
 * One X-macro table gives the enum, the name and the message, so the three
 * can never drift apart. Bad input from the network is never an error
 * return: it is dropped and counted (see us_stats.h).
 */
#ifndef USTACK_US_ERR_H
#define USTACK_US_ERR_H

#define US_ERR_MAP(XX)                             \
  XX(NOMEM, "out of memory (a pool is exhausted)") \
  XX(INVAL, "invalid argument")                    \
  XX(BADF, "bad or stale socket handle")           \
  XX(AGAIN, "operation would block")               \
  XX(ADDRINUSE, "address already in use")          \
  XX(ADDRNOTAVAIL, "address not available")        \
  XX(CONNRESET, "connection reset by peer")        \
  XX(CONNREFUSED, "connection refused")            \
  XX(CONNABORTED, "connection aborted")            \
  XX(TIMEDOUT, "connection timed out")             \
  XX(NOTCONN, "socket is not connected")           \
  XX(ISCONN, "socket is already connected")        \
  XX(INPROGRESS, "operation in progress")          \
  XX(ALREADY, "operation already in progress")     \
  XX(PIPE, "sending side is shut down")            \
  XX(MSGSIZE, "message too long")                  \
  XX(NOBUFS, "no buffer space available")          \
  XX(NOTSUP, "operation not supported")            \
  XX(HOSTUNREACH, "no route to host")              \
  XX(PROTO, "protocol error")                      \
  XX(TLS, "TLS failure (see the TLS error code)")  \
  XX(IO, "input/output error")

enum us_err {
  US_OK = 0,
#define US_ERR_ENUM_(name, msg) US_ERR_##name,
  US_ERR_FIRST_ = -1000,
  US_ERR_MAP(US_ERR_ENUM_)
#undef US_ERR_ENUM_
      US_ERR_END_
};

/* A message for any value: US_OK, a us_err, or anything else. Never NULL. */
const char *us_strerror(int err);
/* "US_ERR_TIMEDOUT" and so on; "US_OK" for 0; "US_ERR_UNKNOWN" otherwise. */
const char *us_err_name(int err);

#endif
