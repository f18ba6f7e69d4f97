/* SPDX-License-Identifier: MIT */

/* cli_event_parse(): every line type of cli/README §5, malformed lines, and every recorded transcript line. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/stream.h"
#include "helpers.h"
#include "util/macro.h"

static int parse_str(const char *line, CliEvent *ev) {
        return cli_event_parse(line, strlen(line), ev);
}

static void test_line_types(void **state) {
        static const struct {
                const char *line;
                CliEventType type;
                const char *payload_key;  /* the payload must be root[payload_key]; NULL: root */
                const char *subtype;
        } cases[] = {
                { "{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"m\"}", CLI_EVENT_SYSTEM_INIT, NULL, "init" },
                { "{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\"}", CLI_EVENT_SYSTEM_STATUS,
                  NULL, "status" },
                { "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":1}", CLI_EVENT_SYSTEM_API_RETRY, NULL,
                  "api_retry" },
                { "{\"type\":\"system\",\"subtype\":\"thinking_tokens\"}", CLI_EVENT_SYSTEM_OTHER, NULL,
                  "thinking_tokens" },
                { "{\"type\":\"system\"}", CLI_EVENT_SYSTEM_OTHER, NULL, NULL },
                { "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_stop\"}}", CLI_EVENT_STREAM, "event", NULL },
                { "{\"type\":\"assistant\",\"message\":{\"content\":[]}}", CLI_EVENT_ASSISTANT, "message", NULL },
                { "{\"type\":\"user\",\"message\":{\"role\":\"user\"}}", CLI_EVENT_USER, "message", NULL },
                { "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"allowed\"}}", CLI_EVENT_RATE_LIMIT,
                  "rate_limit_info", NULL },
                { "{\"type\":\"control_request\",\"request_id\":\"r1\",\"request\":{\"subtype\":\"mcp_message\"}}",
                  CLI_EVENT_CONTROL_REQUEST, "request", NULL },
                { "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"r2\"}}",
                  CLI_EVENT_CONTROL_RESPONSE, "response", NULL },
                { "{\"type\":\"control_cancel_request\",\"request_id\":\"r3\"}", CLI_EVENT_CONTROL_CANCEL_REQUEST,
                  NULL, NULL },
                { "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false}", CLI_EVENT_RESULT, NULL, "success" },
                { "{\"type\":\"brand_new_line\",\"x\":1}", CLI_EVENT_UNKNOWN, NULL, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CliEvent ev = {};

                assert_int_equal(parse_str(cases[i].line, &ev), 0);
                assert_int_equal(ev.type, cases[i].type);
                assert_non_null(ev.root);
                if (cases[i].payload_key)
                        assert_ptr_equal(ev.payload, json_object_get(ev.root, cases[i].payload_key));
                else
                        assert_ptr_equal(ev.payload, ev.root);
                if (cases[i].subtype)
                        assert_string_equal(ev.subtype, cases[i].subtype);
                else
                        assert_null(ev.subtype);
                cli_event_done(&ev);
                assert_null(ev.root);
        }
}

static void test_borrowed_fields(void **state) {
        CliEvent ev = {};

        assert_int_equal(parse_str("{\"type\":\"assistant\",\"error\":\"rate_limit\","
                                   "\"message\":{\"model\":\"<synthetic>\",\"content\":[]}}",
                                   &ev),
                         0);
        assert_string_equal(ev.error, "rate_limit");
        assert_null(ev.request_id);
        cli_event_done(&ev);

        assert_int_equal(parse_str("{\"type\":\"assistant\",\"message\":{\"content\":[]}}", &ev), 0);
        assert_null(ev.error);
        cli_event_done(&ev);

        assert_int_equal(parse_str("{\"type\":\"control_request\",\"request_id\":\"abc\",\"request\":{}}", &ev), 0);
        assert_string_equal(ev.request_id, "abc");
        cli_event_done(&ev);

        assert_int_equal(
                parse_str("{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"q9\"}}",
                          &ev),
                0);
        assert_string_equal(ev.request_id, "q9");
        cli_event_done(&ev);

        /* the CLI withdrawing its own request: the id is at top level, as in control_request */
        assert_int_equal(parse_str("{\"type\":\"control_cancel_request\",\"request_id\":\"c1\"}", &ev), 0);
        assert_string_equal(ev.request_id, "c1");
        cli_event_done(&ev);

        /* a second done is harmless */
        cli_event_done(&ev);
        cli_event_done(NULL);
}

static void test_malformed(void **state) {
        static const char *const bad[] = {
                "",
                "not json",
                "[1,2]",
                "\"a string\"",
                "42",
                "{}",
                "{\"type\":7}",
                "{\"type\":null}",
                "{\"type\":\"stream_event\"}",
                "{\"type\":\"stream_event\",\"event\":\"message_start\"}",
                "{\"type\":\"assistant\"}",
                "{\"type\":\"user\",\"message\":null}",
                "{\"type\":\"rate_limit_event\"}",
                "{\"type\":\"control_request\",\"request_id\":\"x\"}",
                "{\"type\":\"control_response\"}",
                "{\"type\":\"result\"",
                "{\"type\":\"result\"} trailing",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                CliEvent ev = { .type = CLI_EVENT_RESULT };

                assert_int_equal(parse_str(bad[i], &ev), -EBADMSG);
                /* a failed parse leaves nothing to release */
                assert_null(ev.root);
        }
}

static void test_length(void **state) {
        const char *line = "{\"type\":\"result\",\"is_error\":false} and the rest is not part of the line";
        size_t json_len = strlen("{\"type\":\"result\",\"is_error\":false}");
        _cleanup_free_ char *huge = NULL;
        CliEvent ev = {};

        /* the length, not a NUL, delimits the line */
        assert_int_equal(cli_event_parse(line, json_len, &ev), 0);
        assert_int_equal(ev.type, CLI_EVENT_RESULT);
        cli_event_done(&ev);

        huge = malloc(CLI_LINE_MAX + 1);
        assert_non_null(huge);
        memset(huge, ' ', CLI_LINE_MAX + 1);
        memcpy(huge, "{\"type\":\"result\"}", strlen("{\"type\":\"result\"}"));
        assert_int_equal(cli_event_parse(huge, CLI_LINE_MAX + 1, &ev), -E2BIG);
        assert_null(ev.root);
        /* exactly at the cap is still accepted (trailing whitespace is valid JSON) */
        assert_int_equal(cli_event_parse(huge, CLI_LINE_MAX, &ev), 0);
        cli_event_done(&ev);
}

static void test_type_names(void **state) {
        assert_string_equal(cli_event_type_to_string(CLI_EVENT_STREAM), "stream_event");
        assert_string_equal(cli_event_type_to_string(CLI_EVENT_SYSTEM_API_RETRY), "system/api_retry");
        assert_string_equal(cli_event_type_to_string(CLI_EVENT_RESULT), "result");
        for (CliEventType t = 0; t < _CLI_EVENT_TYPE_MAX; t++)
                assert_non_null(cli_event_type_to_string(t));
        assert_null(cli_event_type_to_string(_CLI_EVENT_TYPE_MAX));
        assert_null(cli_event_type_to_string((CliEventType) -1));
}

/* Every line the real CLI printed in the recorded runs is understood, and each run ends in a result. */
static void test_transcripts(void **state) {
        static const char *const names[] = {
                "text", "thinking", "history", "image", "multi_message", "rate_limit_warning", "slash_raw",
                "err_400", "err_prompt_too_long", "err_401", "err_403", "err_404_model", "err_413", "err_429",
                "err_429_oauth_rejected", "err_500", "err_529", "err_not_logged_in", "err_connection_refused",
        };

        for (size_t n = 0; n < ELEMENTSOF(names); n++) {
                _cleanup_free_ char *rel = NULL;
                json_auto_t *lines = NULL;
                const json_t *line;
                CliEventType last = CLI_EVENT_UNKNOWN;
                unsigned streams = 0;
                size_t i;

                assert_true(asprintf(&rel, "transcripts/%s.ndjson", names[n]) > 0);
                lines = fixture_lines(rel);
                assert_true(json_array_size(lines) > 0);
                json_array_foreach(lines, i, line) {
                        CliEvent ev = {};
                        int r = cli_event_parse(json_string_value(line), json_string_length(line), &ev);

                        if (r < 0)
                                fail_msg("%s line %zu: %d", names[n], i + 1, r);
                        if (ev.type == CLI_EVENT_UNKNOWN)
                                fail_msg("%s line %zu: unknown type", names[n], i + 1);
                        if (ev.type == CLI_EVENT_STREAM) {
                                assert_non_null(json_object_get(ev.payload, "type"));
                                streams++;
                        }
                        last = ev.type;
                        cli_event_done(&ev);
                }
                assert_int_equal(last, CLI_EVENT_RESULT);
                /* partial messages are on in every recorded success run that talked to the model */
                if (streq(names[n], "text"))
                        assert_true(streams >= 5);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_line_types),
                cmocka_unit_test(test_borrowed_fields),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_length),
                cmocka_unit_test(test_type_names),
                cmocka_unit_test(test_transcripts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
