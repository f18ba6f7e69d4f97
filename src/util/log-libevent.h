/* SPDX-License-Identifier: MIT */
#pragma once

/* Route libevent's own messages through our log, rate-limited (see log-libevent.c). */
void log_libevent_setup(void);
