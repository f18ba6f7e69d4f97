/* SPDX-License-Identifier: MIT */

/* Rate-limit state: recorded rate_limit_event lines in, "limited until" and a weight out. */

#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "rate-limit.h"
#include "util/macro.h"

/* The recorded resetsAt of the transcripts below. */
#define RESET 1795529999

/* The rate_limit_info of the first rate_limit_event line of a recorded transcript. */
static json_t *recorded_info(const char *name) {
        char rel[128];
        json_auto_t *lines = NULL;
        size_t i;
        json_t *l;

        snprintf(rel, sizeof(rel), "transcripts/%s.ndjson", name);
        lines = fixture_lines(rel);
        json_array_foreach(lines, i, l) {
                json_auto_t *j = json_loads(json_string_value(l), 0, NULL);
                if (streq_ptr(json_string_value(json_object_get(j, "type")), "rate_limit_event"))
                        return json_incref(json_object_get(j, "rate_limit_info"));
        }
        fail_msg("%s has no rate_limit_event", name);
        return NULL;
}

static void test_nothing_seen(void **state) {
        RateLimit rl = {};
        RateLimitVerdict v;

        rate_limit_verdict(&rl, RESET, &v);
        assert_false(v.limited);
        assert_int_equal(v.weight, 100);
        assert_null(v.window);

        json_auto_t *j = rate_limit_to_json(&rl, &v, RESET);
        json_auto_t *want = json_literal("{\"limited\": false, \"windows\": []}");
        assert_json_equal(j, want);
}

static void test_rejected_until_reset(void **state) {
        json_auto_t *info = recorded_info("err_429_oauth_rejected");
        RateLimit rl = {};
        RateLimitVerdict v;

        assert_int_equal(rate_limit_observe(&rl, info, RESET - 100), 0);
        rate_limit_verdict(&rl, RESET - 30, &v);
        assert_true(v.limited);
        assert_int_equal(v.until, RESET);
        assert_int_equal(v.weight, 0);
        assert_string_equal(v.window->window, "five_hour");

        json_auto_t *j = rate_limit_to_json(&rl, &v, RESET - 30);
        json_auto_t *want = json_literal("{\"limited\": true, \"until\": 1795529999, \"retry_after\": 30,"
                                         " \"reason\": \"The subscription's five_hour rate limit is reached until"
                                         " 2026-11-24T14:19:59Z (30 s)\","
                                         " \"window\": \"five_hour\", \"windows\": [{\"window\": \"five_hour\","
                                         " \"status\": \"rejected\", \"resets_at\": 1795529999, \"expired\": false}]}");
        assert_json_equal(j, want);

        /* The reset time passing is enough: no new event is needed. */
        rate_limit_verdict(&rl, RESET, &v);
        assert_false(v.limited);
        assert_int_equal(v.weight, 100);
        json_auto_t *after = rate_limit_to_json(&rl, &v, RESET);
        assert_true(json_is_true(json_object_get(json_array_get(json_object_get(after, "windows"), 0), "expired")));
}

static void test_warning_weight(void **state) {
        json_auto_t *info = recorded_info("rate_limit_warning");
        RateLimit rl = {};
        RateLimitVerdict v;

        assert_int_equal(rate_limit_observe(&rl, info, RESET - 3600), 0);
        rate_limit_verdict(&rl, RESET - 3600, &v);
        assert_false(v.limited);
        /* Recorded utilization 0.95: 5% headroom. */
        assert_int_equal(v.weight, 5);
        assert_string_equal(v.window->window, "five_hour");
        rate_limit_verdict(&rl, RESET + 1, &v);
        assert_int_equal(v.weight, 100);
}

static void test_weight_bounds(void **state) {
        RateLimit rl = {};
        RateLimitVerdict v;
        json_auto_t *full = json_literal("{\"status\": \"allowed_warning\", \"rateLimitType\": \"seven_day\","
                                         " \"utilization\": 1.0, \"resetsAt\": 2000}");
        json_auto_t *guess = json_literal("{\"status\": \"allowed_warning\", \"rateLimitType\": \"seven_day\","
                                          " \"surpassedThreshold\": 0.75, \"resetsAt\": 2000}");
        json_auto_t *bare = json_literal("{\"status\": \"allowed_warning\"}");
        json_auto_t *allowed = json_literal("{\"status\": \"allowed\", \"rateLimitType\": \"five_hour\","
                                            " \"resetsAt\": 1500}");

        /* Still allowed, however full: never 0, which would drain a working instance. */
        assert_int_equal(rate_limit_observe(&rl, full, 1000), 0);
        rate_limit_verdict(&rl, 1000, &v);
        assert_false(v.limited);
        assert_int_equal(v.weight, 1);

        /* No utilization: the threshold it passed, else a fixed guess. */
        assert_int_equal(rate_limit_observe(&rl, guess, 1000), 0);
        rate_limit_verdict(&rl, 1000, &v);
        assert_int_equal(v.weight, 25);
        assert_int_equal(rate_limit_observe(&rl, bare, 1000), 0);
        rate_limit_verdict(&rl, 1000, &v);
        assert_int_equal(v.weight, 20);
        assert_string_equal(v.window->window, "unknown");

        /* The most used window decides; a window after its reset counts as unused. */
        assert_int_equal(rate_limit_observe(&rl, allowed, 1000), 0);
        rate_limit_verdict(&rl, 1000, &v);
        assert_int_equal(v.weight, 20);
        assert_int_equal(rl.n_windows, 3);
}

static void test_plain_429(void **state) {
        json_auto_t *ok = json_literal("{\"status\": \"allowed\", \"rateLimitType\": \"five_hour\"}");
        RateLimit rl = {};
        RateLimitVerdict v;

        /* No reset time reported: keep away for a minute. */
        rate_limit_observe_rejection(&rl, 1000);
        rate_limit_verdict(&rl, 1000 + RATE_LIMIT_UNKNOWN_RESET_SEC - 1, &v);
        assert_true(v.limited);
        assert_int_equal(v.until, 1000 + RATE_LIMIT_UNKNOWN_RESET_SEC);
        assert_string_equal(v.window->window, "unknown");
        rate_limit_verdict(&rl, 1000 + RATE_LIMIT_UNKNOWN_RESET_SEC, &v);
        assert_false(v.limited);

        /* A later allowed request ends a guessed rejection at once. */
        rate_limit_observe_rejection(&rl, 2000);
        rate_limit_verdict(&rl, 2001, &v);
        assert_true(v.limited);
        assert_int_equal(rate_limit_observe(&rl, ok, 2001), 0);
        rate_limit_verdict(&rl, 2001, &v);
        assert_false(v.limited);
}

static void test_rejection_keeps_reported_reset(void **state) {
        json_auto_t *info = recorded_info("err_429_oauth_rejected");
        RateLimit rl = {};
        RateLimitVerdict v;

        assert_int_equal(rate_limit_observe(&rl, info, RESET - 1000), 0);
        rate_limit_observe_rejection(&rl, RESET - 1000);
        rate_limit_verdict(&rl, RESET - 1000, &v);
        assert_int_equal(v.until, RESET);
        assert_int_equal(rl.n_windows, 1);
}

static void test_bad_input(void **state) {
        RateLimit rl = {};
        RateLimitVerdict v;
        json_auto_t *no_status = json_literal("{\"rateLimitType\": \"five_hour\"}");
        json_auto_t *bad_status = json_literal("{\"status\": \"maybe\"}");
        json_auto_t *far = json_literal("{\"status\": \"rejected\", \"resetsAt\": 99999999999}");
        json_auto_t *arr = json_literal("[]");

        assert_int_equal(rate_limit_observe(&rl, NULL, 0), -EINVAL);
        assert_int_equal(rate_limit_observe(&rl, arr, 0), -EINVAL);
        assert_int_equal(rate_limit_observe(&rl, no_status, 0), -EINVAL);
        assert_int_equal(rate_limit_observe(&rl, bad_status, 0), -EINVAL);
        assert_int_equal(rl.n_windows, 0);

        /* A reset beyond any window's length is clamped, not believed. */
        assert_int_equal(rate_limit_observe(&rl, far, 1000), 0);
        rate_limit_verdict(&rl, 1000, &v);
        assert_int_equal(v.until, 1000 + RATE_LIMIT_MAX_RESET_SEC);

        /* The table is bounded: more names than slots reuse the last one. */
        for (int i = 0; i < 2 * RATE_LIMIT_MAX_WINDOWS; i++) {
                json_auto_t *j = json_pack("{s:s,s:s}", "status", "allowed", "rateLimitType", "w");
                char name[8];
                snprintf(name, sizeof(name), "w%d", i);
                json_object_set_new(j, "rateLimitType", json_string(name));
                assert_int_equal(rate_limit_observe(&rl, j, 1000), 0);
        }
        assert_int_equal(rl.n_windows, RATE_LIMIT_MAX_WINDOWS);
}

static void test_status_names(void **state) {
        for (int s = 0; s < _RATE_LIMIT_STATUS_MAX; s++)
                assert_int_equal(rate_limit_status_from_string(rate_limit_status_to_string(s)), s);
        assert_int_equal(rate_limit_status_from_string("Rejected"), _RATE_LIMIT_STATUS_INVALID);
        assert_int_equal(rate_limit_status_from_string(NULL), _RATE_LIMIT_STATUS_INVALID);
        assert_null(rate_limit_status_to_string(_RATE_LIMIT_STATUS_MAX));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nothing_seen),
                cmocka_unit_test(test_rejected_until_reset),
                cmocka_unit_test(test_warning_weight),
                cmocka_unit_test(test_weight_bounds),
                cmocka_unit_test(test_plain_429),
                cmocka_unit_test(test_rejection_keeps_reported_reset),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_status_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
