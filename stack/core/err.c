/* err.c - names and messages for us_err, generated from US_ERR_MAP. */
#include "ustack/us_err.h"

const char *us_strerror(int err) {
  switch (err) {
  case US_OK:
    return "success";
#define XX(name, msg) \
  case US_ERR_##name: \
    return msg;
    US_ERR_MAP(XX)
#undef XX
  default:
    return "unknown error";
  }
}

const char *us_err_name(int err) {
  switch (err) {
  case US_OK:
    return "US_OK";
#define XX(name, msg) \
  case US_ERR_##name: \
    return "US_ERR_" #name;
    US_ERR_MAP(XX)
#undef XX
  default:
    return "US_ERR_UNKNOWN";
  }
}
