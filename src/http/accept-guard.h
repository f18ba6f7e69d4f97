/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Out of file descriptors, without spinning: see accept-guard.c.
 */

#include <event2/event.h>
#include <event2/listener.h>

typedef struct AcceptGuard AcceptGuard;

int accept_guard_new(AcceptGuard **ret, struct event_base *base);
AcceptGuard *accept_guard_free(AcceptGuard *g);
/* Take over `l`'s accept errors. At most 16 listeners. */
int accept_guard_watch(AcceptGuard *g, struct evconnlistener *l);
/* Forget every listener (they are being freed). */
void accept_guard_forget(AcceptGuard *g);
