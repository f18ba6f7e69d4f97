/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: the counters behind GET /metrics and their Prometheus text format (0.0.4). */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_N_BUCKETS 12
#define METRICS_MAX_SERIES 64
#define METRICS_MAX_WINDOWS 8

typedef struct MetricsHistogram {
        uint64_t buckets[METRICS_N_BUCKETS];    /* per bucket, not cumulative; +Inf is count */
        uint64_t count;
        uint64_t sum_usec;
} MetricsHistogram;

typedef struct MetricsRateLimit {
        char window[32];                /* rateLimitType, "unknown" when absent */
        char status[24];                /* allowed | allowed_warning | rejected */
        int64_t resets_at;              /* unix seconds, 0 unknown */
        double utilization;             /* < 0: unknown */
} MetricsRateLimit;

typedef struct Metrics {
        struct {
                char api[16];
                int status;
                uint64_t n;
        } requests[METRICS_MAX_SERIES];
        size_t n_requests;
        struct {
                char class[32];
                uint64_t n;
        } errors[METRICS_MAX_SERIES];
        size_t n_errors;
        MetricsHistogram latency, ttfb;
        uint64_t tokens_in, tokens_out;
        MetricsRateLimit windows[METRICS_MAX_WINDOWS];
        size_t n_windows;
} Metrics;

/* One finished request, as the access log sees it. */
typedef struct MetricsRequest {
        const char *api;
        int http_status;
        uint64_t duration_usec;
        uint64_t ttfb_usec;             /* 0: nothing was sent */
        uint64_t input_tokens, output_tokens;
        const char *error_class;        /* NULL on success */
} MetricsRequest;

/* The warm pool at scrape time (pool.h's PoolFigures, without the I/O side's header). */
typedef struct MetricsPool {
        unsigned target, size, ready;
        uint64_t hits, misses, cold_fallbacks, spawn_failures, sacrificed;
} MetricsPool;

/* Point-in-time values the server supplies at scrape time. */
typedef struct MetricsGauges {
        unsigned in_flight, queued, children;
        unsigned parked;                /* runs parked on client tools (TOOL_PARK_MS) */
        const MetricsPool *pool;        /* NULL: no pool figures */
        uint64_t uptime_sec;
        const char *version;
        const char *scope_mode;
        /* For a load balancer (http/balancer.c). */
        bool rate_limited;
        int64_t rate_limited_until;     /* unix seconds; 0 when not limited */
        unsigned lb_weight;             /* 0..100 */
} MetricsGauges;

void metrics_observe_request(Metrics *m, const MetricsRequest *r);
void metrics_observe_rate_limit(Metrics *m, const json_t *info);
char *metrics_format(const Metrics *m, const MetricsGauges *g);
