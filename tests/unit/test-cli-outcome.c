/* SPDX-License-Identifier: MIT */

/*
 * cli_outcome_feed()/cli_outcome_classify(): every recorded error transcript maps to the status,
 * type and headers the client should see (golden files tests/data/expected/outcome-*.json), plus
 * kill reasons, crashes and the result variants that have no recording.
 *
 * TEST_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing (review the diff!).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/outcome.h"
#include "helpers.h"
#include "util/macro.h"

static void feed_line(CliOutcome *o, const char *line) {
        CliEvent ev = {};

        assert_int_equal(cli_event_parse(line, strlen(line), &ev), 0);
        cli_outcome_feed(o, &ev);
        cli_event_done(&ev);
}

/* Feed the first `max_lines` lines (all when SIZE_MAX) of a recorded transcript. */
static void feed_transcript(CliOutcome *o, const char *name, size_t max_lines) {
        _cleanup_free_ char *rel = NULL;
        json_auto_t *lines = NULL;
        const json_t *line;
        size_t i;

        assert_true(asprintf(&rel, "transcripts/%s.ndjson", name) > 0);
        lines = fixture_lines(rel);
        json_array_foreach(lines, i, line) {
                if (i >= max_lines)
                        break;
                feed_line(o, json_string_value(line));
        }
}

static CliExit exit_from_meta(const char *name, char **ret_stderr) {
        _cleanup_free_ char *rel = NULL;
        json_auto_t *meta = NULL;
        CliExit e = { .exited = true };

        assert_true(asprintf(&rel, "transcripts/%s.meta.json", name) > 0);
        meta = fixture_json(rel);
        if (json_is_integer(json_object_get(meta, "signal"))) {
                e.exited = false;
                e.signal = (int) json_integer_value(json_object_get(meta, "signal"));
        } else
                e.code = (int) json_integer_value(json_object_get(meta, "exit_code"));
        *ret_stderr = strdup(json_string_value(json_object_get(meta, "stderr")) ?: "");
        return e;
}

static json_t *error_to_json(int r, const ApiError *e) {
        if (r == 0)
                return json_pack("{s:i}", "r", 0);
        return json_pack("{s:i,s:i,s:s?,s:s,s:s?,s:O?,s:I}", "r", r, "status", e->status, "type", e->type, "message",
                         e->message, "error_class", e->error_class, "headers", e->headers, "retry_at",
                         (json_int_t) e->retry_at);
}

static void test_transcripts(void **state) {
        static const struct {
                const char *name;
                int r;
                int status;
                const char *type;
                const char *error_class;
        } cases[] = {
                { "text", 0, 0, NULL, NULL },
                { "thinking", 0, 0, NULL, NULL },
                { "history", 0, 0, NULL, NULL },
                { "image", 0, 0, NULL, NULL },
                { "multi_message", 0, 0, NULL, NULL },
                /* allowed_warning is information, not a 429 (seed defect 2) */
                { "rate_limit_warning", 0, 0, NULL, NULL },
                /* a synthetic line with is_error false (slash command output) is still success */
                { "slash_raw", 0, 0, NULL, NULL },
                { "err_400", -EPROTO, 400, "invalid_request_error", "invalid_request" },
                { "err_prompt_too_long", -EPROTO, 400, "invalid_request_error", "invalid_request" },
                { "err_401", -EPROTO, 503, "api_error", "cli_auth" },
                { "err_not_logged_in", -EPROTO, 503, "api_error", "cli_auth" },
                { "err_403", -EPROTO, 403, "permission_error", "permission" },
                { "err_404_model", -EPROTO, 404, "not_found_error", "not_found" },
                { "err_413", -EPROTO, 413, "request_too_large", "too_large" },
                { "err_429", -EPROTO, 429, "rate_limit_error", "rate_limit" },
                { "err_429_oauth_rejected", -EPROTO, 429, "rate_limit_error", "rate_limit" },
                { "err_500", -EPROTO, 500, "api_error", "api" },
                { "err_529", -EPROTO, 529, "overloaded_error", "overloaded" },
                { "err_connection_refused", -EPROTO, 500, "api_error", "api" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *stderr_text = NULL, *golden = NULL;
                CliOutcome o = {};
                ApiError e = API_ERROR_NULL;
                CliExit x;
                json_auto_t *actual = NULL;
                int r;

                feed_transcript(&o, cases[i].name, SIZE_MAX);
                x = exit_from_meta(cases[i].name, &stderr_text);
                r = cli_outcome_classify(&o, &x, stderr_text, &e);
                if (r != cases[i].r)
                        fail_msg("%s: r=%d, expected %d", cases[i].name, r, cases[i].r);
                if (r < 0) {
                        assert_int_equal(e.status, cases[i].status);
                        assert_string_equal(e.type, cases[i].type);
                        assert_string_equal(e.error_class, cases[i].error_class);
                        assert_true(strlen(e.message) > 0);
                }
                actual = error_to_json(r, &e);
                assert_true(asprintf(&golden, "outcome-%s", cases[i].name) > 0);
                check_golden(golden, actual);
                api_error_done(&e);
                cli_outcome_done(&o);
        }
}

static void test_rate_limit_headers(void **state) {
        _cleanup_free_ char *stderr_text = NULL;
        CliOutcome o = {};
        ApiError e = API_ERROR_NULL;
        CliExit x;

        feed_transcript(&o, "err_429_oauth_rejected", SIZE_MAX);
        x = exit_from_meta("err_429_oauth_rejected", &stderr_text);
        assert_int_equal(cli_outcome_classify(&o, &x, stderr_text, &e), -EPROTO);
        assert_int_equal(e.status, 429);
        assert_int_equal(e.retry_at, 1795529999);
        assert_string_equal(json_string_value(json_object_get(e.headers, "anthropic-ratelimit-unified-status")),
                            "rejected");
        assert_string_equal(json_string_value(json_object_get(e.headers, "anthropic-ratelimit-unified-reset")),
                            "1795529999");
        assert_string_equal(
                json_string_value(json_object_get(e.headers, "anthropic-ratelimit-unified-representative-claim")),
                "five_hour");
        api_error_done(&e);
        cli_outcome_done(&o);

        /* A plain 429 with an API key: no unified headers, no retry time. */
        feed_transcript(&o, "err_429", SIZE_MAX);
        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 1 }, NULL, &e), -EPROTO);
        assert_int_equal(e.status, 429);
        assert_null(e.headers);
        assert_int_equal(e.retry_at, 0);
        api_error_done(&e);
        cli_outcome_done(&o);

        /* OAuth "rejected" without resetsAt (cli/README §13 plain 429): status header only. */
        feed_line(&o, "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"rejected\"}}");
        feed_line(&o, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":null,"
                      "\"result\":\"API Error: Server is temporarily limiting requests\"}");
        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 1 }, NULL, &e), -EPROTO);
        assert_int_equal(e.status, 429);
        assert_int_equal(e.retry_at, 0);
        assert_int_equal(json_object_size(e.headers), 1);
        api_error_done(&e);
        cli_outcome_done(&o);
}

static void test_auth_hint(void **state) {
        CliOutcome o = {};
        ApiError e = API_ERROR_NULL;

        feed_transcript(&o, "err_not_logged_in", SIZE_MAX);
        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 1 }, NULL, &e), -EPROTO);
        /* never 401: the proxy's own client did authenticate */
        assert_int_equal(e.status, 503);
        assert_non_null(strstr(e.message, "Not logged in"));
        /* 2.1.197 has no `claude login` (it is taken as a prompt): the fix must name real commands */
        assert_null(strstr(e.message, "claude login"));
        assert_non_null(strstr(e.message, "`claude auth login`"));
        assert_non_null(strstr(e.message, "`claude setup-token`"));
        /* retrying cannot help: the SDKs must not retry it for seconds */
        assert_string_equal(json_string_value(json_object_get(e.headers, "x-should-retry")), "false");
        api_error_done(&e);
        cli_outcome_done(&o);
}

/*
 * Upstream's "Third-party apps now draw from your extra usage" 400 (reported in 2026): its own
 * class for the journal and /metrics, still a 400, upstream's text intact for the client.
 */
static void test_extra_usage(void **state) {
        static const char *const texts[] = {
                "Third-party apps now draw from your extra usage, not your plan limits. Enable extra usage "
                "at claude.ai/settings/usage to continue.",
                "API Error: 400 {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
                "\"Third-party apps now draw from your extra usage, not your plan limits.\"}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                CliOutcome o = {};
                ApiError e = API_ERROR_NULL;
                json_auto_t *result = json_pack("{s:s,s:s,s:b,s:i,s:s}", "type", "result", "subtype", "success",
                                                "is_error", true, "api_error_status", 400, "result", texts[i]);
                _cleanup_free_ char *line = json_dumps(result, JSON_COMPACT);

                feed_line(&o, line);
                assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 1 }, NULL, &e), -EPROTO);
                assert_int_equal(e.status, 400);
                assert_string_equal(e.type, "invalid_request_error");
                assert_string_equal(e.error_class, "extra_usage");
                assert_string_equal(e.message, texts[i]);
                api_error_done(&e);
                cli_outcome_done(&o);
        }
}

/* Results no recording in tests/data has, shaped as in cli/README §7 and §13. */
static void test_result_variants(void **state) {
        static const struct {
                const char *synthetic_error;
                const char *result;
                int status;
                const char *type;
        } cases[] = {
                { "server_error",
                  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":null,"
                  "\"result\":\"API Error: Repeated 529 Overloaded errors. The API is at capacity\"}",
                  529, "overloaded_error" },
                { "server_error",
                  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":null,"
                  "\"result\":\"Request timed out\"}",
                  504, "timeout_error" },
                { "authentication_failed",
                  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":null,"
                  "\"result\":\"Not logged in · Please run /login\"}",
                  503, "api_error" },
                { "max_output_tokens",
                  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":null,"
                  "\"result\":\"API Error: Claude's response exceeded the 64000 output token maximum.\"}",
                  500, "api_error" },
                { "rate_limit",
                  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":null,"
                  "\"result\":\"\"}",
                  429, "rate_limit_error" },
                { NULL,
                  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":502,"
                  "\"result\":\"API Error: 502 Bad gateway\"}",
                  500, "api_error" },
                { NULL,
                  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":422,"
                  "\"result\":\"API Error: 422\"}",
                  400, "invalid_request_error" },
                /* error_* subtypes fail even though there is no api status (cli/README §7) */
                { NULL,
                  "{\"type\":\"result\",\"subtype\":\"error_max_turns\",\"is_error\":true,"
                  "\"errors\":[\"Reached maximum number of turns (1)\"]}",
                  500, "api_error" },
                { NULL,
                  "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"is_error\":false}", 500,
                  "api_error" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CliOutcome o = {};
                ApiError e = API_ERROR_NULL;
                _cleanup_free_ char *synthetic = NULL;

                if (cases[i].synthetic_error) {
                        assert_true(asprintf(&synthetic,
                                             "{\"type\":\"assistant\",\"error\":\"%s\",\"message\":{\"model\":"
                                             "\"<synthetic>\",\"content\":[{\"type\":\"text\",\"text\":\"synthetic "
                                             "text\"}]}}",
                                             cases[i].synthetic_error) > 0);
                        feed_line(&o, synthetic);
                }
                feed_line(&o, cases[i].result);
                assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 1 }, NULL, &e),
                                 -EPROTO);
                if (e.status != cases[i].status)
                        fail_msg("case %zu: status %d, expected %d", i, e.status, cases[i].status);
                assert_string_equal(e.type, cases[i].type);
                api_error_done(&e);
                cli_outcome_done(&o);
        }

        /* empty result text: the synthetic line's text is the message */
        {
                CliOutcome o = {};
                ApiError e = API_ERROR_NULL;

                feed_line(&o, "{\"type\":\"assistant\",\"error\":\"rate_limit\",\"message\":{\"model\":\"<synthetic>\","
                              "\"content\":[{\"type\":\"text\",\"text\":\"You've hit your limit\"}]}}");
                feed_line(&o, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"result\":\"\"}");
                assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true }, NULL, &e), -EPROTO);
                assert_string_equal(e.message, "You've hit your limit");
                api_error_done(&e);
                cli_outcome_done(&o);
        }
}

static void test_feed_facts(void **state) {
        CliOutcome o = {};

        feed_transcript(&o, "history", SIZE_MAX);
        /* three results (two shouldQuery:false turns): the final turn's is kept */
        assert_string_equal(json_string_value(json_object_get(o.result, "result")),
                            "Your name is Bob and you live in Paris.");
        assert_true(o.saw_message_start);
        assert_null(o.synthetic_error);
        cli_outcome_done(&o);

        feed_line(&o, "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":1}");
        feed_line(&o, "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":2}");
        feed_line(&o, "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"allowed\"}}");
        feed_line(&o, "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"allowed_warning\"}}");
        assert_int_equal(o.api_retries, 2);
        assert_false(o.saw_message_start);
        /* kept alive although the event that carried it is gone */
        assert_string_equal(json_string_value(json_object_get(o.rate_limit_info, "status")), "allowed_warning");
        cli_outcome_done(&o);
        assert_null(o.rate_limit_info);
        cli_outcome_done(&o);
}

static void test_kill_reasons(void **state) {
        static const struct {
                CliKillReason reason;
                int r;
                int status;
                const char *type;
                const char *error_class;
        } cases[] = {
                { CLI_KILL_TIMEOUT, -ETIMEDOUT, 504, "timeout_error", "timeout" },
                { CLI_KILL_IDLE, -ETIMEDOUT, 504, "timeout_error", "timeout" },
                { CLI_KILL_SHUTDOWN, -ESHUTDOWN, 503, "api_error", "shutdown" },
                { CLI_KILL_PROTOCOL, -EBADMSG, 500, "api_error", "protocol" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CliOutcome o = {};
                ApiError e = API_ERROR_NULL;
                CliExit x = { .exited = false, .signal = 9, .kill_reason = cases[i].reason };

                /* killed mid-stream: no result line */
                feed_transcript(&o, "text", 6);
                assert_null(o.result);
                assert_int_equal(cli_outcome_classify(&o, &x, NULL, &e), cases[i].r);
                assert_int_equal(e.status, cases[i].status);
                assert_string_equal(e.type, cases[i].type);
                assert_string_equal(e.error_class, cases[i].error_class);
                api_error_done(&e);
                cli_outcome_done(&o);
        }

        /* a client disconnect wins even over a finished run: nobody is left to answer */
        {
                CliOutcome o = {};
                ApiError e = API_ERROR_NULL;

                feed_transcript(&o, "text", SIZE_MAX);
                assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .kill_reason = CLI_KILL_DISCONNECT }, NULL, &e),
                                 -ECONNABORTED);
                api_error_done(&e);
                cli_outcome_done(&o);
        }

        /* the CLI's result beats the kill that came after it (e.g. killed while exiting) */
        {
                CliOutcome o = {};
                ApiError e = API_ERROR_NULL;

                feed_transcript(&o, "text", SIZE_MAX);
                assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .signal = 9, .kill_reason = CLI_KILL_TIMEOUT },
                                                      NULL, &e),
                                 0);
                feed_transcript(&o, "err_529", SIZE_MAX);
                assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .signal = 9, .kill_reason = CLI_KILL_IDLE }, NULL,
                                                      &e),
                                 -EPROTO);
                assert_int_equal(e.status, 529);
                api_error_done(&e);
                cli_outcome_done(&o);
        }
}

static void test_crash(void **state) {
        CliOutcome o = {};
        ApiError e = API_ERROR_NULL;

        /* SIGTERM to the CLI: exit 143, no result (cli/README §13) */
        feed_transcript(&o, "text", 8);
        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 143 }, "", &e), -ENOEXEC);
        assert_int_equal(e.status, 500);
        assert_string_equal(e.type, "api_error");
        assert_string_equal(e.error_class, "crash");
        assert_string_equal(e.message, "the Claude CLI exited unexpectedly (status 143)");
        cli_outcome_done(&o);

        /* usage error: the last stderr line says why */
        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 1 },
                                              "warning: something\nerror: unknown option '--bogus'\n\n", &e),
                         -ENOEXEC);
        assert_string_equal(e.message, "the Claude CLI exited unexpectedly (status 1): error: unknown option '--bogus'");

        /* exit 0 without a result is no success either */
        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 0 }, NULL, &e), -ENOEXEC);

        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = false, .signal = 11 }, NULL, &e), -ENOEXEC);
        assert_string_equal(e.message, "the Claude CLI exited unexpectedly (signal 11)");

        /* a synthetic error line but the process died before its result: still mapped from the CLI's words */
        feed_line(&o, "{\"type\":\"assistant\",\"error\":\"rate_limit\",\"message\":{\"model\":\"<synthetic>\","
                      "\"content\":[{\"type\":\"text\",\"text\":\"API Error: Request rejected (429)\"}]}}");
        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 1 }, NULL, &e), -EPROTO);
        assert_int_equal(e.status, 429);
        api_error_done(&e);
        cli_outcome_done(&o);

        /* a NULL reterr is allowed */
        assert_int_equal(cli_outcome_classify(&o, &(CliExit) { .exited = true, .code = 1 }, NULL, NULL), -ENOEXEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_transcripts),
                cmocka_unit_test(test_rate_limit_headers),
                cmocka_unit_test(test_auth_hint),
                cmocka_unit_test(test_extra_usage),
                cmocka_unit_test(test_result_variants),
                cmocka_unit_test(test_feed_facts),
                cmocka_unit_test(test_kill_reasons),
                cmocka_unit_test(test_crash),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
