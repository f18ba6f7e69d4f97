/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * PURE: the subscription's rate-limit state, from the CLI's rate_limit_event lines and 429s,
 * and what a load balancer should make of it: limited until when, and how much headroom
 * (a weight of 0..100). The caller supplies the time, so /health turns back to 200 on its own
 * once a reset time has passed, with no request needed.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_LIMIT_MAX_WINDOWS 8
/* A rejection that names no reset time (a plain 429: "Server is temporarily limiting requests
 * (not your usage limit)"): how long to keep the balancer away before trying again. */
#define RATE_LIMIT_UNKNOWN_RESET_SEC 60
/* The longest window the subscription has is a week: a reset further out is garbage, clamp it. */
#define RATE_LIMIT_MAX_RESET_SEC (8 * 24 * 3600)
/* allowed_warning with neither utilization nor surpassedThreshold: assume this much used. */
#define RATE_LIMIT_WARNING_UTILIZATION 0.8

typedef enum RateLimitStatus {
        RATE_LIMIT_ALLOWED,
        RATE_LIMIT_ALLOWED_WARNING,
        RATE_LIMIT_REJECTED,
        _RATE_LIMIT_STATUS_MAX,
        _RATE_LIMIT_STATUS_INVALID = -1,
} RateLimitStatus;

typedef struct RateLimitWindow {
        char window[32];                /* rateLimitType, "unknown" when absent */
        RateLimitStatus status;
        int64_t resets_at;              /* unix seconds; 0: not reported */
        double utilization;             /* 0..1; < 0: not reported */
        int64_t observed_at;            /* unix seconds of the event */
} RateLimitWindow;

typedef struct RateLimit {
        RateLimitWindow windows[RATE_LIMIT_MAX_WINDOWS];
        size_t n_windows;
} RateLimit;

typedef struct RateLimitVerdict {
        bool limited;                   /* a window is rejected and its reset has not passed */
        int64_t until;                  /* limited: unix seconds when the last rejected window resets */
        const RateLimitWindow *window;  /* limited: that window; else the most used one, or NULL */
        unsigned weight;                /* 0..100: headroom; 0 while limited */
} RateLimitVerdict;

const char *rate_limit_status_to_string(RateLimitStatus s);
RateLimitStatus rate_limit_status_from_string(const char *s);

/* A rate_limit_event's rate_limit_info (borrowed; NULL or malformed ones are ignored). */
int rate_limit_observe(RateLimit *rl, const json_t *info, int64_t now);
/* A 429 that came without any rate_limit_info (API-key logins get none). */
void rate_limit_observe_rejection(RateLimit *rl, int64_t now);
void rate_limit_verdict(const RateLimit *rl, int64_t now, RateLimitVerdict *ret);
/* The /health object: {limited, until?, retry_after?, window?, windows:[...]}. */
json_t *rate_limit_to_json(const RateLimit *rl, const RateLimitVerdict *v, int64_t now);
