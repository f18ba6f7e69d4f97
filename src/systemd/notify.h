/* SPDX-License-Identifier: MIT */
#pragma once

/* sd_notify from the event loop: WATCHDOG=1, a throttled STATUS=, exit on idle. */

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Notify Notify;

/* What STATUS= shows and EXIT_IDLE_SEC checks, asked for once a second. */
typedef struct NotifyFigures {
        unsigned in_flight, queued, children;
        uint64_t served;
        const char *last_error;         /* "" for none */
        bool stopping;                  /* the owner said "stopping" itself */
        bool idle;                      /* no request and no CLI child */
        uint64_t last_activity_usec;    /* CLOCK_MONOTONIC */
        uint64_t exit_idle_sec;         /* EXIT_IDLE_SEC, 0: never */
} NotifyFigures;

typedef struct NotifySource {
        void (*figures)(void *userdata, NotifyFigures *ret);
        /* Idle for EXIT_IDLE_SEC: stop cleanly. */
        void (*exit_idle)(void *userdata);
} NotifySource;

int notify_new(Notify **ret, struct event_base *base, const NotifySource *source, void *userdata);
Notify *notify_free(Notify *n);
void notify_status_now(Notify *n);
