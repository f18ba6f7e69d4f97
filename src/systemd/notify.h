/* SPDX-License-Identifier: MIT */
#pragma once

/* sd_notify from the event loop: WATCHDOG=1, a throttled STATUS=, exit on idle. */

#include "http/server.h"

typedef struct Notify Notify;

int notify_new(Notify **ret, Server *server);
Notify *notify_free(Notify *n);
void notify_status_now(Notify *n);
