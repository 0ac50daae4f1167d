/* ustack.h - the whole public API in one include. */
#ifndef USTACK_USTACK_H
#define USTACK_USTACK_H

#include "us_config.h"
#include "us_device.h"
#include "us_err.h"
#include "us_socket.h"
#include "us_stack.h"
#include "us_stats.h"
#include "us_types.h"

#endif
