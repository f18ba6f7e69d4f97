/* SPDX-License-Identifier: MIT */

/*
 * When accept() fails with EMFILE/ENFILE the pending connection stays in the backlog, the
 * listening socket stays readable, and libevent's listener calls accept() again at once: 100 %
 * CPU and one "Error from accept() call" line per attempt (1.4 million lines in 8 s). Here:
 *
 *   - pause every listener for a moment, so the loop serves the connections it has;
 *   - shed what waits in the backlog: a descriptor is kept in reserve, given up for a moment to
 *     accept each waiting connection, which gets a 503 in the API's envelope and is closed,
 *     instead of hanging until the client gives up (the classic reserve-fd trick);
 *   - say so in the log once, then at most once per interval with the count shed since.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http/accept-guard.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"

#define PAUSE_MS 100
#define SHED_PER_PAUSE 64
#define LOG_INTERVAL_USEC (10 * 1000000ULL)

struct AcceptGuard {
        struct event_base *base;
        struct evconnlistener *listeners[16];
        unsigned n_listeners;
        int reserve_fd;
        struct event *ev_resume;
        bool paused;
        uint64_t last_log_usec;
        unsigned long shed_since_log, errors_since_log;
};

/* The error callback gets the listener's user data, which is evhttp's, not ours: one guard per
 * process, found here. */
static AcceptGuard *the_guard;

static uint64_t mono_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static int reserve_open(void) {
        return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static const char shed_body[] =
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Too many open "
        "connections; try again later\"}}\n";

/* One waiting connection: read what it sent so far (so the close is a FIN, not an RST, in the
 * common case of a small request that already arrived; a few reads at most, a fast sender must
 * not keep us here), answer 503, close. */
static bool shed_one(int listen_fd) {
        char buf[4096], head[256];
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct iovec iov[2];
        int n;

        if (fd < 0)
                return false;
        for (int i = 0; i < 4 && read(fd, buf, sizeof(buf)) > 0; i++)
                ;
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 503 Service Unavailable\r\n"
                     "Content-Type: application/json\r\n"
                     "Retry-After: 1\r\n"
                     "Connection: close\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     sizeof(shed_body) - 1);
        iov[0] = (struct iovec) { head, (size_t) n };
        iov[1] = (struct iovec) { (void *) shed_body, sizeof(shed_body) - 1 };
        (void) !writev(fd, iov, 2);
        (void) shutdown(fd, SHUT_WR);
        close(fd);
        return true;
}

static void on_resume(evutil_socket_t fd, short what, void *userdata) {
        AcceptGuard *g = userdata;

        g->paused = false;
        for (unsigned i = 0; i < g->n_listeners; i++)
                (void) evconnlistener_enable(g->listeners[i]);
}

static void on_accept_error(struct evconnlistener *l, void *userdata) {
        AcceptGuard *g = the_guard;
        int err = errno;

        if (!g)
                return;
        uint64_t now = mono_usec();

        g->errors_since_log++;
        if (err == EMFILE || err == ENFILE) {
                /* Free the reserve: exactly one descriptor to accept with, one connection at a time. */
                g->reserve_fd = safe_close(g->reserve_fd);
                for (unsigned i = 0; i < SHED_PER_PAUSE && shed_one(evconnlistener_get_fd(l)); i++)
                        g->shed_since_log++;
                g->reserve_fd = reserve_open();
        }
        if (g->last_log_usec == 0 || now - g->last_log_usec >= LOG_INTERVAL_USEC) {
                log_warning_errno(-err,
                                  "Cannot accept connections: %m. Pausing accepts for %d ms; %lu waiting "
                                  "connections answered 503 (%lu failed accepts since the last message). "
                                  "Raise LimitNOFILE= if this is not an attack.",
                                  PAUSE_MS, g->shed_since_log, g->errors_since_log);
                g->last_log_usec = now;
                g->shed_since_log = g->errors_since_log = 0;
        }
        if (g->paused)
                return;
        for (unsigned i = 0; i < g->n_listeners; i++)
                (void) evconnlistener_disable(g->listeners[i]);
        g->paused = true;
        (void) event_add_ms(g->ev_resume, PAUSE_MS);
}

int accept_guard_new(AcceptGuard **ret, struct event_base *base) {
        AcceptGuard *g = calloc(1, sizeof(*g));

        if (!g)
                return -ENOMEM;
        g->base = base;
        g->reserve_fd = reserve_open();
        g->ev_resume = evtimer_new(base, on_resume, g);
        if (g->reserve_fd < 0 || !g->ev_resume) {
                int r = g->reserve_fd < 0 ? -errno : -ENOMEM;
                accept_guard_free(g);
                return r;
        }
        the_guard = g;
        *ret = g;
        return 0;
}

AcceptGuard *accept_guard_free(AcceptGuard *g) {
        if (!g)
                return NULL;
        if (the_guard == g)
                the_guard = NULL;
        if (g->ev_resume)
                event_free(g->ev_resume);
        safe_close(g->reserve_fd);
        free(g);
        return NULL;
}

int accept_guard_watch(AcceptGuard *g, struct evconnlistener *l) {
        if (!l)
                return -EINVAL;
        if (g->n_listeners >= ELEMENTSOF(g->listeners))
                return -E2BIG;
        g->listeners[g->n_listeners++] = l;
        evconnlistener_set_error_cb(l, on_accept_error);
        return 0;
}

void accept_guard_forget(AcceptGuard *g) {
        if (!g)
                return;
        g->n_listeners = 0;
        if (g->ev_resume)
                (void) event_del(g->ev_resume);
        g->paused = false;
}
