/* SPDX-License-Identifier: MIT */

/* /metrics: counting finished requests and rate-limit events, and the exact exposition text. */

#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "http/metrics.h"
#include "util/macro.h"

static const MetricsGauges gauges = { .in_flight = 2, .queued = 1, .children = 2, .parked = 3, .uptime_sec = 9,
                                      .version = "0.1.0", .scope_mode = "cgroup" };

static void assert_has(const char *text, const char *line) {
        if (!strstr(text, line))
                fail_msg("missing '%s' in:\n%s", line, text);
}

static void test_empty(void **state) {
        Metrics m = {};
        _cleanup_free_ char *t = metrics_format(&m, &gauges);

        assert_non_null(t);
        assert_true(strneq(t, "# HELP claude_proxy_info ", 25));
        assert_has(t, "\nclaude_proxy_info{version=\"0.1.0\",scope_mode=\"cgroup\"} 1\n");
        assert_has(t, "\n# TYPE claude_proxy_requests_total counter\n# HELP");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_bucket{le=\"+Inf\"} 0\n");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_sum 0.000000\n");
        assert_has(t, "\nclaude_proxy_requests_in_flight 2\n");
        assert_has(t, "\nclaude_proxy_requests_queued 1\n");
        assert_has(t, "\nclaude_proxy_cli_children 2\n");
        assert_has(t, "\nclaude_proxy_parked_runs 3\n");
        assert_has(t, "\nclaude_proxy_uptime_seconds 9\n");
        assert_has(t, "\nclaude_proxy_tokens_total{direction=\"output\"} 0\n");
        assert_null(strstr(t, "claude_proxy_rate_limit_status{"));
        assert_has(t, "\nclaude_proxy_rate_limited 0\n");
        assert_has(t, "\nclaude_proxy_rate_limited_until_seconds 0\n");
        assert_has(t, "\n# TYPE claude_proxy_lb_weight gauge\n");
        assert_int_equal(t[strlen(t) - 1], '\n');
}

static void test_requests(void **state) {
        Metrics m = {};
        _cleanup_free_ char *t = NULL;

        metrics_observe_request(&m, &(MetricsRequest) { .api = "anthropic", .http_status = 200,
                                                        .duration_usec = 300000, .ttfb_usec = 50000,
                                                        .input_tokens = 10, .output_tokens = 5 });
        metrics_observe_request(&m, &(MetricsRequest) { .api = "anthropic", .http_status = 200,
                                                        .duration_usec = 4000000, .ttfb_usec = 1000000,
                                                        .input_tokens = 1, .output_tokens = 2 });
        metrics_observe_request(&m, &(MetricsRequest) { .api = "anthropic", .http_status = 429,
                                                        .duration_usec = 700000000, .error_class = "rate_limit" });
        metrics_observe_request(&m, &(MetricsRequest) { .api = "anthropic", .http_status = 499,
                                                        .duration_usec = 100000, .error_class = "disconnect" });
        metrics_observe_request(&m, &(MetricsRequest) { .api = "anthropic", .http_status = 504,
                                                        .duration_usec = 100000, .error_class = "rate_limit" });
        t = metrics_format(&m, &gauges);
        assert_has(t, "\nclaude_proxy_requests_total{api=\"anthropic\",status=\"200\"} 2\n");
        assert_has(t, "\nclaude_proxy_requests_total{api=\"anthropic\",status=\"429\"} 1\n");
        assert_has(t, "\nclaude_proxy_requests_total{api=\"anthropic\",status=\"499\"} 1\n");
        /* Cumulative buckets: 0.1 s holds the two 100 ms ones, 0.5 s adds 300 ms, 5 s adds 4 s. */
        assert_has(t, "\nclaude_proxy_request_duration_seconds_bucket{le=\"0.1\"} 2\n");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_bucket{le=\"0.25\"} 2\n");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_bucket{le=\"0.5\"} 3\n");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_bucket{le=\"5\"} 4\n");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_bucket{le=\"600\"} 4\n");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_bucket{le=\"+Inf\"} 5\n");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_sum 704.500000\n");
        assert_has(t, "\nclaude_proxy_request_duration_seconds_count 5\n");
        /* Only requests that sent something have a time to first byte. */
        assert_has(t, "\nclaude_proxy_time_to_first_byte_seconds_bucket{le=\"0.1\"} 1\n");
        assert_has(t, "\nclaude_proxy_time_to_first_byte_seconds_count 2\n");
        assert_has(t, "\nclaude_proxy_time_to_first_byte_seconds_sum 1.050000\n");
        assert_has(t, "\nclaude_proxy_tokens_total{direction=\"input\"} 11\n");
        assert_has(t, "\nclaude_proxy_tokens_total{direction=\"output\"} 7\n");
        assert_has(t, "\nclaude_proxy_errors_total{class=\"rate_limit\"} 2\n");
        assert_has(t, "\nclaude_proxy_errors_total{class=\"disconnect\"} 1\n");
}

static void test_rate_limit(void **state) {
        Metrics m = {};
        _cleanup_free_ char *t = NULL;
        json_auto_t *a = json_literal("{\"status\":\"allowed_warning\",\"resetsAt\":1795529999,"
                                      "\"rateLimitType\":\"five_hour\",\"utilization\":0.95}");
        json_auto_t *b = json_literal("{\"status\":\"rejected\",\"isUsingOverage\":false}");
        json_auto_t *c = json_literal("{\"status\":\"allowed\",\"resetsAt\":1795520000,\"rateLimitType\":\"five_hour\"}");
        json_auto_t *bad = json_literal("{\"resetsAt\":1}");

        metrics_observe_rate_limit(&m, a);
        metrics_observe_rate_limit(&m, b);
        metrics_observe_rate_limit(&m, bad);
        metrics_observe_rate_limit(&m, NULL);
        assert_int_equal(m.n_windows, 2);
        t = metrics_format(&m, &gauges);
        assert_has(t, "\nclaude_proxy_rate_limit_status{window=\"five_hour\",status=\"allowed_warning\"} 1\n");
        assert_has(t, "\nclaude_proxy_rate_limit_status{window=\"five_hour\",status=\"allowed\"} 0\n");
        assert_has(t, "\nclaude_proxy_rate_limit_status{window=\"unknown\",status=\"rejected\"} 1\n");
        assert_has(t, "\nclaude_proxy_rate_limit_resets_at_seconds{window=\"five_hour\"} 1795529999\n");
        assert_null(strstr(t, "resets_at_seconds{window=\"unknown\"}"));
        assert_has(t, "\nclaude_proxy_rate_limit_utilization{window=\"five_hour\"} 0.95\n");
        free(t);

        /* The newest event replaces the window's state, including fields it no longer carries. */
        metrics_observe_rate_limit(&m, c);
        assert_int_equal(m.n_windows, 2);
        t = metrics_format(&m, &gauges);
        assert_has(t, "\nclaude_proxy_rate_limit_status{window=\"five_hour\",status=\"allowed\"} 1\n");
        assert_has(t, "\nclaude_proxy_rate_limit_status{window=\"five_hour\",status=\"allowed_warning\"} 0\n");
        assert_has(t, "\nclaude_proxy_rate_limit_resets_at_seconds{window=\"five_hour\"} 1795520000\n");
        assert_null(strstr(t, "claude_proxy_rate_limit_utilization{"));
}

static void test_balancer_gauges(void **state) {
        Metrics m = {};
        MetricsGauges g = gauges;
        _cleanup_free_ char *serving = NULL, *limited = NULL;

        g.lb_weight = 73;
        serving = metrics_format(&m, &g);
        assert_has(serving, "\nclaude_proxy_rate_limited 0\n");
        assert_has(serving, "\nclaude_proxy_lb_weight 73\n");

        g = (MetricsGauges) { .rate_limited = true, .rate_limited_until = 1795529999, .lb_weight = 0 };
        limited = metrics_format(&m, &g);
        assert_has(limited, "\nclaude_proxy_rate_limited 1\n");
        assert_has(limited, "\nclaude_proxy_rate_limited_until_seconds 1795529999\n");
        assert_has(limited, "\nclaude_proxy_lb_weight 0\n");
}

static void test_label_escaping_and_overflow(void **state) {
        Metrics m = {};
        _cleanup_free_ char *t = NULL;
        json_auto_t *w = json_literal("{\"status\":\"rejected\",\"rateLimitType\":\"we\\\"ird\\\\\\n\"}");
        char cls[32];

        metrics_observe_rate_limit(&m, w);
        for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
                snprintf(cls, sizeof(cls), "c%d", i);
                metrics_observe_request(&m, &(MetricsRequest) { .api = "anthropic", .http_status = 100 + i,
                                                                .error_class = cls });
        }
        /* A full table folds new label values into its last slot instead of growing. */
        assert_int_equal(m.n_requests, METRICS_MAX_SERIES);
        assert_int_equal(m.n_errors, METRICS_MAX_SERIES);
        assert_int_equal(m.requests[METRICS_MAX_SERIES - 1].n, 11);
        t = metrics_format(&m, &gauges);
        assert_has(t, "{window=\"we\\\"ird\\\\\\n\",status=\"rejected\"} 1\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_requests),
                cmocka_unit_test(test_rate_limit),
                cmocka_unit_test(test_balancer_gauges),
                cmocka_unit_test(test_label_escaping_and_overflow),
        };
        return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
