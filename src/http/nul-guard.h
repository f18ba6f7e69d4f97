/* SPDX-License-Identifier: MIT */
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

/*
 * evhttp_set_bevcb() callback: the bufferevent for an incoming connection, with every NUL byte the
 * client sends turned into 0x01 as it arrives (see nul-guard.c).
 */
struct bufferevent *http_nul_guard_bev_new(struct event_base *base, void *userdata);
