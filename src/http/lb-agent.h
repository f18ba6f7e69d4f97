/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * HAProxy's agent-check (AGENT_PORT): a TCP port that answers each connection with one line
 * saying how much traffic this instance wants, see lb-agent.c.
 */

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct LbAgent LbAgent;

/* The weight to report right now, 0..100. */
typedef unsigned (*LbAgentWeight)(void *userdata);

int lb_agent_new(LbAgent **ret, struct event_base *base, const char *host, uint16_t port, LbAgentWeight weight,
                 void *userdata);
LbAgent *lb_agent_free(LbAgent *a);
/* The port bound (for PORT 0 in tests: the kernel's pick). */
uint16_t lb_agent_port(const LbAgent *a);

/* PURE: the agent's line for `weight`, '\n' terminated. Return: its length, or -ENOBUFS. */
int lb_agent_reply(unsigned weight, char *buf, size_t size);
