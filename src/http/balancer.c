/* SPDX-License-Identifier: MIT */

/*
 * The load-balancing state, on the wall clock: rate-limit reset times are unix seconds, and an
 * instance must turn healthy again by itself when one passes. The weight is the rate limit's
 * headroom (rate-limit.c), forced to 0 while the instance cannot serve at all: stopping, or no
 * CLI that can answer (missing, or not logged in). A login check that merely failed to run is
 * not a reason: the CLI may well work.
 */

#include <time.h>

#include "cli/auth-status.h"
#include "http/balancer.h"
#include "http/server.h"

void balancer_observe(Server *s, const json_t *info, bool rejected) {
        int64_t now = (int64_t) time(NULL);

        if (info && rate_limit_observe(&s->rate_limit, info, now) >= 0)
                return;
        if (rejected)
                rate_limit_observe_rejection(&s->rate_limit, now);
}

void balancer_state(const Server *s, BalancerState *ret) {
        *ret = (BalancerState) {};
        rate_limit_verdict(&s->rate_limit, (int64_t) time(NULL), &ret->rate_limit);
        ret->weight = ret->rate_limit.weight;
        if (s->stopping)
                ret->reason = "stopping";
        else if (!s->claude_path)
                ret->reason = "no Claude CLI";
        else if (s->cli_auth.state == CLI_AUTH_LOGGED_OUT)
                ret->reason = "the Claude CLI is not logged in";
        else if (ret->rate_limit.limited)
                ret->reason = "rate limited";
        if (ret->reason)
                ret->weight = 0;
}
