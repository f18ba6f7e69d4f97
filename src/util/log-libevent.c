/* SPDX-License-Identifier: MIT */

/*
 * libevent prints its warnings to stderr by itself, once per event: a condition that repeats in
 * a loop (accept failing for lack of descriptors) wrote 1.4 million lines in 8 s. Its messages
 * come here instead, into our log with our levels, and at most LIBEVENT_BURST per
 * LIBEVENT_INTERVAL; the next message after a quiet spell says how many were dropped.
 */

#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "util/log-libevent.h"
#include "util/log.h"

#define LIBEVENT_BURST 10
#define LIBEVENT_INTERVAL_USEC (10 * 1000000ULL)

static uint64_t window_start;
static unsigned in_window;
static unsigned long dropped;

static uint64_t mono_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static void on_libevent_log(int severity, const char *msg) {
        int level = severity >= EVENT_LOG_ERR ? LOG_ERR
                  : severity >= EVENT_LOG_WARN ? LOG_WARNING
                  : severity >= EVENT_LOG_MSG ? LOG_INFO
                                              : LOG_DEBUG;
        uint64_t now = mono_usec();

        if (level > log_get_max_level())
                return;
        if (window_start == 0 || now - window_start >= LIBEVENT_INTERVAL_USEC) {
                if (dropped > 0)
                        log_warning("libevent: %lu more messages dropped (rate limit)", dropped);
                window_start = now;
                in_window = 0;
                dropped = 0;
        }
        if (++in_window > LIBEVENT_BURST) {
                dropped++;
                return;
        }
        log_full_errno(level, 0, "libevent: %s", msg);
}

void log_libevent_setup(void) {
        event_set_log_callback(on_libevent_log);
}
