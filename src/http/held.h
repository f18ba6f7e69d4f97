/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A request held for a later reply (a side query to the CLI is running): watch its connection
 * so that a client that leaves is noticed at once, not at the reply. libevent does not read a
 * connection while a request on it is being answered, so its close callback alone would only
 * fire at the next write; an EV_CLOSED watch on the socket tells us at once (as session.c does).
 */

#include <event2/event.h>
#include <event2/http.h>

typedef struct HeldRequest {
        struct evhttp_request *req;     /* NULL once taken or gone */
        struct evhttp_connection *evcon;
        struct event *ev_closed;
        void (*gone)(void *userdata);   /* the client left: the request is no more */
        void *userdata;
} HeldRequest;

/* Start watching; @gone is called at most once, never after held_request_take()/_release(). */
void held_request_hold(HeldRequest *h, struct event_base *base, struct evhttp_request *req, void (*gone)(void *userdata),
                       void *userdata);
/* Stop watching and return the request to reply on (NULL if the client left). */
struct evhttp_request *held_request_take(HeldRequest *h);
/* Stop watching without replying (the proxy is exiting: evhttp frees the connection). */
void held_request_release(HeldRequest *h);
