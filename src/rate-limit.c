/* SPDX-License-Identifier: MIT */

/*
 * Rate-limit state for load balancing. With an OAuth login the CLI reports the subscription's
 * unified rate limit before each answer (a rate_limit_event: status allowed, allowed_warning or
 * rejected, the window's type, its reset time and often its utilization; shared cli/README.md
 * §rate_limit_event). One entry per window: the newest event replaces the window's state, as it
 * is what the limit looks like now. A rejected window limits the instance until its reset time;
 * one without a reset time (a plain 429) for RATE_LIMIT_UNKNOWN_RESET_SEC. A window whose reset
 * has passed starts afresh: nothing used, nothing rejected, so the verdict clears by itself.
 *
 * The weight is the headroom of the most used window, 1..100 while requests are allowed (never 0:
 * that would drain an instance that still works) and 0 while limited.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rate-limit.h"
#include "util/macro.h"

static const char *const statuses[_RATE_LIMIT_STATUS_MAX] = {
        [RATE_LIMIT_ALLOWED] = "allowed",
        [RATE_LIMIT_ALLOWED_WARNING] = "allowed_warning",
        [RATE_LIMIT_REJECTED] = "rejected",
};

const char *rate_limit_status_to_string(RateLimitStatus s) {
        return s >= 0 && s < _RATE_LIMIT_STATUS_MAX ? statuses[s] : NULL;
}

RateLimitStatus rate_limit_status_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(statuses); i++)
                if (streq(s, statuses[i]))
                        return (RateLimitStatus) i;
        return _RATE_LIMIT_STATUS_INVALID;
}

static RateLimitWindow *window_get(RateLimit *rl, const char *name) {
        size_t i;

        for (i = 0; i < rl->n_windows; i++)
                if (streq(rl->windows[i].window, name))
                        return &rl->windows[i];
        /* The names come from the CLI, not a client, but a full table still must not grow. */
        if (rl->n_windows < RATE_LIMIT_MAX_WINDOWS)
                i = rl->n_windows++;
        else
                i = RATE_LIMIT_MAX_WINDOWS - 1;
        rl->windows[i] = (RateLimitWindow) { .utilization = -1 };
        snprintf(rl->windows[i].window, sizeof(rl->windows[i].window), "%s", name);
        return &rl->windows[i];
}

/**
 * rate_limit_observe() - remember one rate_limit_event
 * @rl: the state
 * @info: its rate_limit_info (borrowed)
 * @now: unix seconds
 *
 * Return: 0; -EINVAL when @info is not an object with a known status (nothing is changed).
 */
int rate_limit_observe(RateLimit *rl, const json_t *info, int64_t now) {
        RateLimitStatus status;
        const json_t *v;

        if (!json_is_object(info))
                return -EINVAL;
        status = rate_limit_status_from_string(json_string_value(json_object_get(info, "status")));
        if (status < 0)
                return -EINVAL;

        RateLimitWindow *w = window_get(rl, json_string_value(json_object_get(info, "rateLimitType")) ?: "unknown");
        *w = (RateLimitWindow) { .status = status, .utilization = -1, .observed_at = now };
        snprintf(w->window, sizeof(w->window), "%s",
                 json_string_value(json_object_get(info, "rateLimitType")) ?: "unknown");

        v = json_object_get(info, "resetsAt");
        if (json_is_integer(v) && json_integer_value(v) > 0)
                w->resets_at = MIN((int64_t) json_integer_value(v), now + RATE_LIMIT_MAX_RESET_SEC);

        /* A request went through: a guessed rejection (no reset time) is over. */
        if (status != RATE_LIMIT_REJECTED)
                for (size_t i = 0; i < rl->n_windows; i++)
                        if (rl->windows[i].status == RATE_LIMIT_REJECTED && rl->windows[i].resets_at == 0)
                                rl->windows[i].status = RATE_LIMIT_ALLOWED;

        v = json_object_get(info, "utilization");
        if (!json_is_number(v) && status == RATE_LIMIT_ALLOWED_WARNING)
                v = json_object_get(info, "surpassedThreshold");
        if (json_is_number(v) && isfinite(json_number_value(v)))
                w->utilization = MIN(MAX(json_number_value(v), 0.0), 1.0);
        else if (status == RATE_LIMIT_ALLOWED_WARNING)
                w->utilization = RATE_LIMIT_WARNING_UTILIZATION;
        return 0;
}

/**
 * rate_limit_observe_rejection() - a 429 without rate_limit_info
 * @rl: the state
 * @now: unix seconds
 *
 * Only when no window is rejected already: a reported reset time is better than a guess.
 */
void rate_limit_observe_rejection(RateLimit *rl, int64_t now) {
        RateLimitVerdict v;

        rate_limit_verdict(rl, now, &v);
        if (v.limited)
                return;
        RateLimitWindow *w = window_get(rl, "unknown");
        *w = (RateLimitWindow) { .status = RATE_LIMIT_REJECTED, .utilization = 1, .observed_at = now };
        snprintf(w->window, sizeof(w->window), "unknown");
}

/* When a rejected window stops limiting; 0 for a window that is not rejected. */
static int64_t window_rejected_until(const RateLimitWindow *w) {
        if (w->status != RATE_LIMIT_REJECTED)
                return 0;
        return w->resets_at > 0 ? w->resets_at : w->observed_at + RATE_LIMIT_UNKNOWN_RESET_SEC;
}

/* A window whose reset time has passed has started afresh. */
static bool window_expired(const RateLimitWindow *w, int64_t now) {
        int64_t end = w->status == RATE_LIMIT_REJECTED ? window_rejected_until(w) : w->resets_at;

        return end > 0 && end <= now;
}

static double window_utilization(const RateLimitWindow *w, int64_t now) {
        if (window_expired(w, now))
                return 0;
        if (w->status == RATE_LIMIT_REJECTED)
                return 1;
        return w->utilization >= 0 ? w->utilization : 0;
}

/**
 * rate_limit_verdict() - what the state means at @now
 * @rl: the state
 * @now: unix seconds
 * @ret: the verdict; its window points into @rl
 */
void rate_limit_verdict(const RateLimit *rl, int64_t now, RateLimitVerdict *ret) {
        const RateLimitWindow *most = NULL;
        double most_used = 0;

        *ret = (RateLimitVerdict) {};
        for (size_t i = 0; i < rl->n_windows; i++) {
                const RateLimitWindow *w = &rl->windows[i];
                int64_t until = window_rejected_until(w);

                if (until > now && until > ret->until) {
                        ret->limited = true;
                        ret->until = until;
                        ret->window = w;
                }
                double u = window_utilization(w, now);
                if (!most || u > most_used) {
                        most = w;
                        most_used = u;
                }
        }
        if (ret->limited)
                return;
        ret->window = most;
        /* Rounded to the nearest percent, without libm. */
        ret->weight = MIN(MAX((unsigned) (100.0 * (1.0 - most_used) + 0.5), 1u), 100u);
}

static json_t *window_to_json(const RateLimitWindow *w, int64_t now) {
        json_auto_t *j = json_pack("{s:s,s:s,s:b}", "window", w->window, "status",
                                   rate_limit_status_to_string(w->status), "expired", window_expired(w, now));

        if (!j)
                return NULL;
        if (w->resets_at > 0 && json_object_set_new(j, "resets_at", json_integer(w->resets_at)) < 0)
                return NULL;
        if (w->utilization >= 0 && json_object_set_new(j, "utilization", json_real(w->utilization)) < 0)
                return NULL;
        return TAKE_PTR(j);
}

/**
 * rate_limit_to_json() - the state for /health
 * @rl: the state
 * @v: its verdict at @now
 * @now: unix seconds
 *
 * Return: a new object, or NULL on OOM.
 */
json_t *rate_limit_to_json(const RateLimit *rl, const RateLimitVerdict *v, int64_t now) {
        json_auto_t *windows = json_array();
        json_auto_t *j = NULL;

        if (!windows)
                return NULL;
        for (size_t i = 0; i < rl->n_windows; i++)
                if (json_array_append_new(windows, window_to_json(&rl->windows[i], now)) < 0)
                        return NULL;
        j = json_pack("{s:b,s:O}", "limited", v->limited, "windows", windows);
        if (!j)
                return NULL;
        if (v->limited) {
                struct tm tm;
                char when[32] = "?", reason[160];
                time_t t = (time_t) v->until;

                if (gmtime_r(&t, &tm))
                        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                /* For the person reading /health: which limit, and when it lifts. */
                snprintf(reason, sizeof(reason), "The subscription's %s rate limit is reached until %s (%" PRId64 " s)",
                         v->window->window, when, MAX(v->until - now, (int64_t) 1));
                if (json_object_set_new(j, "reason", json_string(reason)) < 0 ||
                    json_object_set_new(j, "until", json_integer(v->until)) < 0 ||
                    json_object_set_new(j, "retry_after", json_integer(MAX(v->until - now, (int64_t) 1))) < 0 ||
                    json_object_set_new(j, "window", json_string(v->window->window)) < 0)
                        return NULL;
        }
        return TAKE_PTR(j);
}
