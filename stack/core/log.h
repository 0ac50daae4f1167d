/*
 * log.h - levelled logging to the sink injected in us_config.
 *
 * US_LOG checks the level before formatting, so a disabled debug line costs
 * one comparison. Each line is prefixed with the stack's last known time.
 */
#ifndef USTACK_CORE_LOG_H
#define USTACK_CORE_LOG_H

#include "ustack/us_config.h"

struct us_stack;

void us_log_emit(struct us_stack *s, enum us_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define US_LOG(s, level, ...)                         \
  do {                                                \
    if ((level) <= (s)->log_level && (s)->cfg.log.fn) \
      us_log_emit((s), (level), __VA_ARGS__);         \
  } while (0)

#define US_LOGE(s, ...) US_LOG(s, US_LOG_ERROR, __VA_ARGS__)
#define US_LOGW(s, ...) US_LOG(s, US_LOG_WARN, __VA_ARGS__)
#define US_LOGI(s, ...) US_LOG(s, US_LOG_INFO, __VA_ARGS__)
#define US_LOGD(s, ...) US_LOG(s, US_LOG_DEBUG, __VA_ARGS__)
#define US_LOGT(s, ...) US_LOG(s, US_LOG_TRACE, __VA_ARGS__)

/* Format an address as dotted quad into buf (16 bytes). Returns buf. */
char *us_ip4_str(uint32_t addr, char buf[16]);
/* "10.0.0.2:80" or "[fd00::2]:443" into buf. Returns buf (for log
 * arguments, which are only evaluated when the level is on). */
char *us_ep_str(us_addr_t addr, uint16_t port, char buf[US_ENDPOINT_STRLEN]);

#endif
