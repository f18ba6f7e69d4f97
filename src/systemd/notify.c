/* SPDX-License-Identifier: MIT */

/*
 * The service manager's view of us, kept current from inside the event loop: WATCHDOG=1 every
 * half WATCHDOG_USEC from a loop timer, so a hung loop (not just a dead process) is caught;
 * STATUS= rebuilt once a second and sent only when the text changed, which throttles it without
 * hooks in every code path; and EXIT_IDLE_SEC, checked on the same tick: with no request and
 * no child for that long the server stops cleanly (STOPPING=1, exit 0) and systemd's socket
 * starts a fresh instance for the next connection. READY=1 and RELOADING=1 are sent by main.c.
 * Outside systemd every sd_notify() is a no-op.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "systemd/notify.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/time-util.h"

struct Notify {
        const NotifySource *source;
        void *userdata;
        struct event *ev_watchdog;
        struct event *ev_tick;
        char status[512];
};

static void on_watchdog(evutil_socket_t fd, short what, void *userdata) {
        (void) sd_notify(0, "WATCHDOG=1");
}

/**
 * notify_status_now() - send STATUS= if it changed since the last one
 * @n: the notifier, may be NULL
 */
void notify_status_now(Notify *n) {
        NotifyFigures f = {};
        char buf[sizeof(n->status)];

        if (!n)
                return;
        n->source->figures(n->userdata, &f);
        if (f.stopping)
                return;         /* server_stop() said "stopping" */
        const char *last_error = f.last_error ?: "";
        snprintf(buf, sizeof(buf), "%u in flight, %u queued, %u children, %" PRIu64 " served%s%s", f.in_flight,
                 f.queued, f.children, f.served, last_error[0] ? "; last error: " : "", last_error);
        if (streq(buf, n->status))
                return;
        memcpy(n->status, buf, sizeof(buf));
        (void) sd_notifyf(0, "STATUS=%s", buf);
}

static void on_tick(evutil_socket_t fd, short what, void *userdata) {
        Notify *n = userdata;
        NotifyFigures f = {};

        notify_status_now(n);
        n->source->figures(n->userdata, &f);
        if (f.exit_idle_sec > 0 && !f.stopping && f.idle &&
            now_usec() - f.last_activity_usec >= f.exit_idle_sec * 1000000ULL) {
                log_info("idle for %" PRIu64 " s with no request and no CLI child, exiting", f.exit_idle_sec);
                n->source->exit_idle(n->userdata);
        }
}

/**
 * notify_new() - start the watchdog and status timers
 * @ret: the notifier
 * @base: the event loop
 * @source: where the figures for STATUS= and the idle check come from
 * @userdata: for @source
 *
 * Return: 0, or -ENOMEM.
 */
int notify_new(Notify **ret, struct event_base *base, const NotifySource *source, void *userdata) {
        struct timeval second = { .tv_sec = 1 };
        Notify *n = calloc(1, sizeof(*n));
        uint64_t wd = 0;

        if (!n)
                return -ENOMEM;
        n->source = source;
        n->userdata = userdata;
        /* 0: keep WATCHDOG_* set, a reload or re-check may ask again; the CLI's env drops them. */
        if (sd_watchdog_enabled(0, &wd) > 0 && wd > 0) {
                uint64_t half = wd / 2;
                struct timeval tv = { .tv_sec = (time_t) (half / 1000000), .tv_usec = (suseconds_t) (half % 1000000) };
                n->ev_watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, n);
                if (!n->ev_watchdog) {
                        notify_free(n);
                        return -ENOMEM;
                }
                (void) event_add(n->ev_watchdog, &tv);
                log_debug("watchdog: WATCHDOG=1 every %" PRIu64 " ms", half / 1000);
        }
        n->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, n);
        if (!n->ev_tick) {
                notify_free(n);
                return -ENOMEM;
        }
        (void) event_add(n->ev_tick, &second);
        *ret = n;
        return 0;
}

/**
 * notify_free() - stop the timers
 * @n: the notifier, may be NULL
 *
 * Return: NULL.
 */
Notify *notify_free(Notify *n) {
        if (!n)
                return NULL;
        if (n->ev_watchdog)
                event_free(n->ev_watchdog);
        if (n->ev_tick)
                event_free(n->ev_tick);
        free(n);
        return NULL;
}
