/* SPDX-License-Identifier: MIT */

/*
 * Metrics: plain counters updated once per finished request (from the access-log path) and a
 * formatter for the Prometheus text exposition format 0.0.4. The tables are fixed-size: label
 * sets come from a small closed world (APIs, HTTP statuses, error classes, rate-limit windows),
 * and once a table is full new label values are folded into the last slot rather than growing
 * memory on a value a client controls. This file does no I/O; http/server.c serves the text.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/metrics.h"
#include "util/macro.h"

/* Seconds. LLM requests are slow: the interesting range is 100 ms .. 10 min. */
static const double bucket_bounds[METRICS_N_BUCKETS] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600 };

static void histogram_observe(MetricsHistogram *h, uint64_t usec) {
        double sec = (double) usec / 1e6;

        for (size_t i = 0; i < METRICS_N_BUCKETS; i++)
                if (sec <= bucket_bounds[i]) {
                        h->buckets[i]++;
                        break;
                }
        h->count++;
        h->sum_usec += usec;
}

/**
 * metrics_observe_request() - count one finished request
 * @m: the metrics
 * @r: what happened
 */
void metrics_observe_request(Metrics *m, const MetricsRequest *r) {
        const char *api = r->api ?: "unknown";
        size_t i;

        for (i = 0; i < m->n_requests; i++)
                if (m->requests[i].status == r->http_status && streq(m->requests[i].api, api))
                        break;
        if (i == m->n_requests) {
                if (m->n_requests < METRICS_MAX_SERIES)
                        m->n_requests++;
                else
                        i = METRICS_MAX_SERIES - 1;
                snprintf(m->requests[i].api, sizeof(m->requests[i].api), "%s", api);
                m->requests[i].status = r->http_status;
        }
        m->requests[i].n++;

        histogram_observe(&m->latency, r->duration_usec);
        if (r->ttfb_usec > 0)
                histogram_observe(&m->ttfb, r->ttfb_usec);
        m->tokens_in += r->input_tokens;
        m->tokens_out += r->output_tokens;

        if (r->error_class) {
                for (i = 0; i < m->n_errors; i++)
                        if (streq(m->errors[i].class, r->error_class))
                                break;
                if (i == m->n_errors) {
                        if (m->n_errors < METRICS_MAX_SERIES)
                                m->n_errors++;
                        else
                                i = METRICS_MAX_SERIES - 1;
                        snprintf(m->errors[i].class, sizeof(m->errors[i].class), "%s", r->error_class);
                }
                m->errors[i].n++;
        }
}

/**
 * metrics_observe_rate_limit() - remember the latest rate_limit_info of a window
 * @m: the metrics
 * @info: a rate_limit_event's rate_limit_info (borrowed; NULL or non-objects are ignored)
 *
 * One entry per rateLimitType: the newest event replaces the window's state, because that is
 * what the subscription's limit looks like now.
 */
void metrics_observe_rate_limit(Metrics *m, const json_t *info) {
        const char *window, *status;
        const json_t *v;
        size_t i;

        if (!json_is_object(info))
                return;
        status = json_string_value(json_object_get(info, "status"));
        if (!status)
                return;
        window = json_string_value(json_object_get(info, "rateLimitType")) ?: "unknown";
        for (i = 0; i < m->n_windows; i++)
                if (streq(m->windows[i].window, window))
                        break;
        if (i == m->n_windows) {
                if (m->n_windows < METRICS_MAX_WINDOWS)
                        m->n_windows++;
                else
                        i = METRICS_MAX_WINDOWS - 1;
        }
        MetricsRateLimit *w = &m->windows[i];
        *w = (MetricsRateLimit) { .utilization = -1 };
        snprintf(w->window, sizeof(w->window), "%s", window);
        snprintf(w->status, sizeof(w->status), "%s", status);
        v = json_object_get(info, "resetsAt");
        if (json_is_integer(v))
                w->resets_at = (int64_t) json_integer_value(v);
        v = json_object_get(info, "utilization");
        if (json_is_number(v))
                w->utilization = json_number_value(v);
}

/* Label values: backslash, double quote and newline are escaped (exposition format rules). */
static void put_label(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        fprintf(f, "\\%c", *s);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
        }
        fputc('"', f);
}

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(FILE *f, const char *name, const char *help, uint64_t v) {
        header(f, name, "gauge", help);
        fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v) {
        header(f, name, "counter", help);
        fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void histogram(FILE *f, const char *name, const char *help, const MetricsHistogram *h) {
        uint64_t cum = 0;

        header(f, name, "histogram", help);
        for (size_t i = 0; i < METRICS_N_BUCKETS; i++) {
                cum += h->buckets[i];
                fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bucket_bounds[i], cum);
        }
        fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
        fprintf(f, "%s_sum %" PRIu64 ".%06" PRIu64 "\n", name, h->sum_usec / 1000000, h->sum_usec % 1000000);
        fprintf(f, "%s_count %" PRIu64 "\n", name, h->count);
}

/**
 * metrics_format() - the exposition text
 * @m: the counters
 * @g: the gauges at this moment
 *
 * Return: a new string, or NULL on OOM.
 */
char *metrics_format(const Metrics *m, const MetricsGauges *g) {
        static const char *const statuses[] = { "allowed", "allowed_warning", "rejected" };
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;

        header(f, "claude_proxy_info", "gauge", "Build and containment mode.");
        fputs("claude_proxy_info{version=", f);
        put_label(f, g->version ?: "unknown");
        fputs(",scope_mode=", f);
        put_label(f, g->scope_mode ?: "unknown");
        fputs("} 1\n", f);
        gauge(f, "claude_proxy_uptime_seconds", "Seconds since the proxy started.", g->uptime_sec);

        header(f, "claude_proxy_requests_total", "counter", "Finished API requests by API and HTTP status.");
        for (size_t i = 0; i < m->n_requests; i++) {
                fputs("claude_proxy_requests_total{api=", f);
                put_label(f, m->requests[i].api);
                fprintf(f, ",status=\"%d\"} %" PRIu64 "\n", m->requests[i].status, m->requests[i].n);
        }
        histogram(f, "claude_proxy_request_duration_seconds", "Time from request to the reply's end.", &m->latency);
        histogram(f, "claude_proxy_time_to_first_byte_seconds", "Time from request to the first reply byte.",
                  &m->ttfb);

        gauge(f, "claude_proxy_requests_in_flight", "API requests being answered.", g->in_flight);
        gauge(f, "claude_proxy_requests_queued", "API requests waiting for a CLI slot.", g->queued);
        gauge(f, "claude_proxy_cli_children", "CLI children running, idle pooled ones included.", g->children);
        gauge(f, "claude_proxy_parked_runs", "Runs parked on client tools, waiting for the results (TOOL_PARK_MS).",
              g->parked);
        if (g->pool) {
                const MetricsPool *p = g->pool;

                gauge(f, "claude_proxy_pool_target", "WARM_POOL: idle CLIs to keep started.", p->target);
                gauge(f, "claude_proxy_pool_size", "Idle pooled CLIs, ready or starting.", p->size);
                gauge(f, "claude_proxy_pool_ready", "Idle pooled CLIs that answered the readiness probe.", p->ready);
                counter(f, "claude_proxy_pool_hits_total", "Requests that adopted a pooled CLI.", p->hits);
                counter(f, "claude_proxy_pool_misses_total",
                        "Requests for the pool's model that found no idle CLI and spawned cold.", p->misses);
                counter(f, "claude_proxy_pool_cold_fallbacks_total",
                        "Requests for a model the pool does not keep, spawned cold.", p->cold_fallbacks);
                counter(f, "claude_proxy_pool_spawn_failures_total",
                        "Pooled CLIs that failed to start or ended while idle.", p->spawn_failures);
                counter(f, "claude_proxy_pool_sacrificed_total",
                        "Idle pooled CLIs ended to free a slot for a request.", p->sacrificed);
        }

        header(f, "claude_proxy_tokens_total", "counter", "Tokens reported by the CLI.");
        fprintf(f, "claude_proxy_tokens_total{direction=\"input\"} %" PRIu64 "\n", m->tokens_in);
        fprintf(f, "claude_proxy_tokens_total{direction=\"output\"} %" PRIu64 "\n", m->tokens_out);

        header(f, "claude_proxy_errors_total", "counter", "Failed requests by error class.");
        for (size_t i = 0; i < m->n_errors; i++) {
                fputs("claude_proxy_errors_total{class=", f);
                put_label(f, m->errors[i].class);
                fprintf(f, "} %" PRIu64 "\n", m->errors[i].n);
        }

        header(f, "claude_proxy_rate_limit_status", "gauge",
               "Subscription rate-limit state per window from the last rate_limit_event (1 = current).");
        for (size_t i = 0; i < m->n_windows; i++)
                for (size_t k = 0; k < ELEMENTSOF(statuses); k++) {
                        fputs("claude_proxy_rate_limit_status{window=", f);
                        put_label(f, m->windows[i].window);
                        fprintf(f, ",status=\"%s\"} %d\n", statuses[k], streq(m->windows[i].status, statuses[k]));
                }
        header(f, "claude_proxy_rate_limit_resets_at_seconds", "gauge",
               "Unix time the window resets, from the last rate_limit_event.");
        for (size_t i = 0; i < m->n_windows; i++)
                if (m->windows[i].resets_at > 0) {
                        fputs("claude_proxy_rate_limit_resets_at_seconds{window=", f);
                        put_label(f, m->windows[i].window);
                        fprintf(f, "} %" PRId64 "\n", m->windows[i].resets_at);
                }
        header(f, "claude_proxy_rate_limit_utilization", "gauge", "Window utilization (0..1) when reported.");
        for (size_t i = 0; i < m->n_windows; i++)
                if (m->windows[i].utilization >= 0) {
                        fputs("claude_proxy_rate_limit_utilization{window=", f);
                        put_label(f, m->windows[i].window);
                        fprintf(f, "} %g\n", m->windows[i].utilization);
                }

        gauge(f, "claude_proxy_rate_limited", "1 while a rate-limit window is rejected and not yet reset.",
              g->rate_limited);
        header(f, "claude_proxy_rate_limited_until_seconds", "gauge",
               "Unix time the rate limit lifts; 0 when not limited.");
        fprintf(f, "claude_proxy_rate_limited_until_seconds %" PRId64 "\n", g->rate_limited_until);
        gauge(f, "claude_proxy_lb_weight", "Load-balancer weight 0..100 (the agent-check port reports it).",
              g->lb_weight);

        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
