/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What a load balancer in front of several instances should know about this one: is its
 * subscription rate-limited (and until when), and how much headroom it has, as a weight 0..100.
 * /health, /metrics and the agent-check port (http/lb-agent.c) all report the same state.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "rate-limit.h"

typedef struct Server Server;

typedef struct BalancerState {
        RateLimitVerdict rate_limit;    /* its window points into the server's RateLimit */
        unsigned weight;                /* 0..100; 0: send nothing new here */
        const char *reason;             /* weight 0: why, else NULL */
} BalancerState;

/* A finished request's rate_limit_info (may be NULL); `rejected`: it failed as rate-limited. */
void balancer_observe(Server *s, const json_t *info, bool rejected);
void balancer_state(const Server *s, BalancerState *ret);
