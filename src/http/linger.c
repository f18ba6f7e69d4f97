/* SPDX-License-Identifier: MIT */

/*
 * Bounded lingering close, see linger.h. libevent frees the connection after the reply is
 * written (shutdown(SHUT_WR), close()); in its close callback we dup the socket first, so the
 * close only drops libevent's descriptor, the FIN goes out after the reply, and our duplicate
 * drains whatever the client still sends until EOF or a bound.
 */

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/linger.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"

#define LINGER_MS 2000
#define LINGER_MAX_BYTES (4u << 20)
/* Each lingering socket holds a descriptor: past this many, close at once. */
#define LINGER_MAX_SOCKETS 64

typedef struct Linger {
        struct Linger *next, *prev;
        struct event *ev;
        int fd;
        size_t drained;
} Linger;

static Linger *lingering;
static unsigned n_lingering;

static void linger_free(Linger *l) {
        if (l->prev)
                l->prev->next = l->next;
        else
                lingering = l->next;
        if (l->next)
                l->next->prev = l->prev;
        n_lingering--;
        if (l->ev)
                event_free(l->ev);
        safe_close(l->fd);
        free(l);
}

static void on_linger(evutil_socket_t fd, short what, void *userdata) {
        Linger *l = userdata;
        char buf[16384];

        if (what & EV_TIMEOUT) {
                linger_free(l);
                return;
        }
        for (;;) {
                ssize_t n = read(l->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n <= 0 || (l->drained += (size_t) n) > LINGER_MAX_BYTES) {
                        linger_free(l);
                        return;
                }
        }
}

static void on_close(struct evhttp_connection *evcon, void *userdata) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
        int fd = bev ? bufferevent_getfd(bev) : -1;
        Linger *l;

        if (fd < 0 || n_lingering >= LINGER_MAX_SOCKETS)
                return;
        l = calloc(1, sizeof(*l));
        if (!l)
                return;
        l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (l->fd < 0) {
                free(l);
                return;
        }
        l->next = lingering;
        if (lingering)
                lingering->prev = l;
        lingering = l;
        n_lingering++;
        l->ev = event_new(evhttp_connection_get_base(evcon), l->fd, EV_READ | EV_PERSIST, on_linger, l);
        /* The deadline counts from here, whatever the client sends meanwhile. */
        if (!l->ev || event_add_ms(l->ev, LINGER_MS) < 0)
                linger_free(l);
}

void http_linger_after_reply(struct evhttp_request *req) {
        struct evhttp_connection *evcon = evhttp_request_get_connection(req);

        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        if (!evcon)
                return;
        /* libevent keeps a CONNECT connection open whatever the headers say
         * (evhttp_is_request_connection_close); shutting our reading side makes its next read see
         * EOF, so it closes once the reply is out. */
        if (evhttp_request_get_command(req) == EVHTTP_REQ_CONNECT) {
                struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
                if (bev && bufferevent_getfd(bev) >= 0)
                        (void) shutdown(bufferevent_getfd(bev), SHUT_RD);
        }
        evhttp_connection_set_closecb(evcon, on_close, NULL);
}

void http_linger_close_all(void) {
        while (lingering)
                linger_free(lingering);
}
