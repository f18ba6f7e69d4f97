/* SPDX-License-Identifier: MIT */

/*
 * The bridge between sd-bus and libevent (SYSTEMD.md §3a): one event carries the bus fd with
 * the events sd-bus asks for plus its timeout, and is re-armed after every sd_bus_process()
 * round. A queued method call only goes out once the fd is writable, so whoever queues one calls
 * bus_kick(), which runs a processing round from the loop. The connection is private to us
 * (never sd_bus_default_*(), which is shared and thread-bound). Which bus: the user bus when we
 * run under a user manager, else the system bus, else (root without dbus-daemon) systemd's
 * private socket. This module knows nothing about units; systemd/scope.c does.
 */

#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "systemd/bus.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/time-util.h"

struct Bus {
        sd_bus *bus;
        struct event_base *base;
        struct event *ev;               /* fd + timeout */
        struct event *ev_kick;
        bool user;
        bool dead;
};

static void bus_rearm(Bus *b);

static void bus_process(Bus *b) {
        int r;

        if (b->dead)
                return;
        do
                r = sd_bus_process(b->bus, NULL);
        while (r > 0);
        if (r < 0) {
                /* The manager went away (restart, shutdown): later placements fail and say so. */
                log_warning_errno(r, "Lost the connection to the service manager's bus: %m");
                b->dead = true;
                event_del(b->ev);
                return;
        }
        bus_rearm(b);
}

static void on_bus(evutil_socket_t fd, short what, void *userdata) {
        bus_process(userdata);
}

static void bus_rearm(Bus *b) {
        int fd = sd_bus_get_fd(b->bus), events = sd_bus_get_events(b->bus);
        uint64_t until = UINT64_MAX;
        short what = 0;

        if (fd < 0 || events < 0) {
                b->dead = true;
                return;
        }
        (void) sd_bus_get_timeout(b->bus, &until);
        if (events & POLLIN)
                what |= EV_READ;
        if (events & POLLOUT)
                what |= EV_WRITE;
        event_del(b->ev);
        (void) event_assign(b->ev, b->base, fd, what, on_bus, b);
        if (until == UINT64_MAX)
                (void) event_add(b->ev, NULL);
        else {
                /* sd-bus reports an absolute CLOCK_MONOTONIC time. */
                uint64_t now = now_usec(), d = until > now ? until - now : 0;
                struct timeval tv = { .tv_sec = (time_t) (d / 1000000), .tv_usec = (suseconds_t) (d % 1000000) };
                (void) event_add(b->ev, &tv);
        }
}

static void on_kick(evutil_socket_t fd, short what, void *userdata) {
        bus_process(userdata);
}

static int open_private(sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

/**
 * bus_open() - connect to the service manager's bus and hook it into @base
 * @ret: the bus
 * @base: the event loop
 *
 * Return: 0, or a negative errno when no bus is reachable (-ENOMEDIUM outside systemd).
 */
int bus_open(Bus **ret, struct event_base *base) {
        _cleanup_free_ char *unit = NULL;
        sd_bus *bus = NULL;
        bool user = false;
        Bus *b;
        int r;

        if (sd_pid_get_user_unit(0, &unit) >= 0) {
                user = true;
                r = sd_bus_open_user(&bus);
        } else {
                r = sd_bus_open_system(&bus);
                if (r < 0 && geteuid() == 0)
                        r = open_private(&bus);
        }
        if (r < 0)
                return r;

        b = calloc(1, sizeof(*b));
        if (!b) {
                sd_bus_unref(bus);
                return -ENOMEM;
        }
        b->bus = bus;
        b->base = base;
        b->user = user;
        b->ev = event_new(base, -1, 0, on_bus, b);
        b->ev_kick = event_new(base, -1, 0, on_kick, b);
        if (!b->ev || !b->ev_kick) {
                bus_free(b);
                return -ENOMEM;
        }
        bus_rearm(b);
        *ret = b;
        return 0;
}

/**
 * bus_free() - disconnect
 * @b: the bus, may be NULL
 *
 * Return: NULL.
 */
Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        if (b->ev)
                event_free(b->ev);
        if (b->ev_kick)
                event_free(b->ev_kick);
        /* Flushing first: queued kills (KillUnit at teardown) still go out. */
        if (b->bus)
                sd_bus_flush_close_unref(b->bus);
        free(b);
        return NULL;
}

/**
 * bus_get() - the sd-bus connection, NULL once it was lost
 * @b: the bus, may be NULL
 */
sd_bus *bus_get(Bus *b) {
        return b && !b->dead ? b->bus : NULL;
}

/**
 * bus_is_user() - whether this is a user manager's bus
 * @b: the bus
 */
bool bus_is_user(const Bus *b) {
        return b && b->user;
}

/**
 * bus_kick() - process the bus soon (call after queueing a message)
 * @b: the bus, may be NULL
 */
void bus_kick(Bus *b) {
        if (b && !b->dead)
                event_active(b->ev_kick, 0, 0);
}
