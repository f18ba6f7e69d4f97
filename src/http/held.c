/* SPDX-License-Identifier: MIT */

/*
 * Requests held for a later reply (see held.h).
 */

#include <event2/bufferevent.h>

#include "http/held.h"

static void held_unwatch(HeldRequest *h) {
        if (h->ev_closed) {
                event_free(h->ev_closed);
                h->ev_closed = NULL;
        }
        if (h->evcon)
                evhttp_connection_set_closecb(h->evcon, NULL, NULL);
        h->evcon = NULL;
}

static void on_connection_close(struct evhttp_connection *evcon, void *userdata) {
        HeldRequest *h = userdata;
        struct evhttp_request *req = h->req;

        h->evcon = NULL;
        held_unwatch(h);
        h->req = NULL;
        /* A request libevent detached from its connection is ours to free. */
        if (req)
                evhttp_request_free(req);
        if (h->gone)
                h->gone(h->userdata);
}

static void on_socket_closed(evutil_socket_t fd, short what, void *userdata) {
        HeldRequest *h = userdata;
        struct evhttp_connection *evcon = h->evcon;

        held_unwatch(h);
        h->req = NULL;
        /* Freeing the connection frees the request still queued on it. */
        if (evcon)
                evhttp_connection_free(evcon);
        if (h->gone)
                h->gone(h->userdata);
}

/**
 * held_request_hold() - watch a request's connection until its reply
 * @h: the holder (zeroed or released)
 * @base: the loop
 * @req: the request
 * @gone: called if the client leaves first (after which @h holds nothing)
 * @userdata: for @gone
 *
 * Without memory for the socket watch, only the close callback watches (a late notice, no leak).
 */
void held_request_hold(HeldRequest *h, struct event_base *base, struct evhttp_request *req, void (*gone)(void *userdata),
                       void *userdata) {
        struct bufferevent *bev;
        evutil_socket_t fd;

        *h = (HeldRequest) { .req = req, .gone = gone, .userdata = userdata };
        h->evcon = evhttp_request_get_connection(req);
        if (!h->evcon)
                return;
        evhttp_connection_set_closecb(h->evcon, on_connection_close, h);
        bev = evhttp_connection_get_bufferevent(h->evcon);
        fd = bev ? bufferevent_getfd(bev) : -1;
        if (fd >= 0) {
                h->ev_closed = event_new(base, fd, EV_CLOSED, on_socket_closed, h);
                if (h->ev_closed)
                        (void) event_add(h->ev_closed, NULL);
        }
}

struct evhttp_request *held_request_take(HeldRequest *h) {
        struct evhttp_request *req = h->req;

        held_unwatch(h);
        h->req = NULL;
        return req;
}

void held_request_release(HeldRequest *h) {
        (void) held_request_take(h);
}
