/* SPDX-License-Identifier: MIT */
#pragma once

/* libevent helpers shared by the I/O modules. */

#include <event2/event.h>
#include <stdint.h>

/* Free `*e` (NULL allowed) and forget it, so a later teardown or re-check sees it gone. */
static inline void event_freep(struct event **e) {
        if (*e) {
                event_free(*e);
                *e = NULL;
        }
}

/* Arm (or re-arm) `ev` to fire after `ms` milliseconds. */
static inline int event_add_ms(struct event *ev, uint64_t ms) {
        struct timeval tv = { .tv_sec = (time_t) (ms / 1000), .tv_usec = (suseconds_t) (ms % 1000) * 1000 };

        return event_add(ev, &tv);
}
