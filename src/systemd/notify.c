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

struct Notify {
        Server *server;
        struct event *ev_watchdog;
        struct event *ev_tick;
        char status[512];
};

static void on_watchdog(evutil_socket_t fd, short what, void *userdata) {
        (void) sd_notify(0, "WATCHDOG=1");
}

static bool server_idle(const Server *s) {
        return scheduler_idle(&s->scheduler);
}

/**
 * notify_status_now() - send STATUS= if it changed since the last one
 * @n: the notifier, may be NULL
 */
void notify_status_now(Notify *n) {
        const Server *s;
        char buf[sizeof(n->status)];

        if (!n)
                return;
        s = n->server;
        if (s->stopping)
                return;         /* server_stop() said "stopping" */
        snprintf(buf, sizeof(buf), "%u in flight, %u queued, %u children, %" PRIu64 " served%s%s", scheduler_in_flight(&s->scheduler),
                 scheduler_queued(&s->scheduler), scheduler_children(&s->scheduler), s->requests_total, s->last_error[0] ? "; last error: " : "",
                 s->last_error);
        if (streq(buf, n->status))
                return;
        memcpy(n->status, buf, sizeof(buf));
        (void) sd_notifyf(0, "STATUS=%s", buf);
}

static void on_tick(evutil_socket_t fd, short what, void *userdata) {
        Notify *n = userdata;
        Server *s = n->server;
        uint64_t idle = s->config->exit_idle_sec;

        notify_status_now(n);
        if (idle > 0 && !s->stopping && server_idle(s) &&
            now_usec() - s->last_activity_usec >= idle * 1000000ULL) {
                log_info("idle for %" PRIu64 " s with no request and no CLI child, exiting", idle);
                server_stop(s);
        }
}

/**
 * notify_new() - start the watchdog and status timers
 * @ret: the notifier
 * @server: the server whose counters STATUS= shows
 *
 * Return: 0, or -ENOMEM.
 */
int notify_new(Notify **ret, Server *server) {
        struct timeval second = { .tv_sec = 1 };
        Notify *n = calloc(1, sizeof(*n));
        uint64_t wd = 0;

        if (!n)
                return -ENOMEM;
        n->server = server;
        /* 0: keep WATCHDOG_* set, a reload or re-check may ask again; the CLI's env drops them. */
        if (sd_watchdog_enabled(0, &wd) > 0 && wd > 0) {
                uint64_t half = wd / 2;
                struct timeval tv = { .tv_sec = (time_t) (half / 1000000), .tv_usec = (suseconds_t) (half % 1000000) };
                n->ev_watchdog = event_new(server->base, -1, EV_PERSIST, on_watchdog, n);
                if (!n->ev_watchdog) {
                        notify_free(n);
                        return -ENOMEM;
                }
                (void) event_add(n->ev_watchdog, &tv);
                log_debug("watchdog: WATCHDOG=1 every %" PRIu64 " ms", half / 1000);
        }
        n->ev_tick = event_new(server->base, -1, EV_PERSIST, on_tick, n);
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
