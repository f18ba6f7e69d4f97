/* SPDX-License-Identifier: MIT */

/* POST /v1/messages/count_tokens, the pure half: parse, history lines, the usage answer, the subtraction. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/count-tokens.h"
#include "helpers.h"
#include "util/macro.h"

static const ApiEnv env = {
        .message_id = "",
        .default_model = "sonnet",
        .system_prompt_mode = SYSTEM_PROMPT_APPEND,
};

/* The "response" of the recorded answer @id in s5a (CLI 2.1.197 against the mock). */
static json_t *recorded_usage(const char *id) {
        json_t *lines = fixture_lines("transcripts/s5a_get_context_usage_session_cost.ndjson");
        json_t *found = NULL, *l;
        size_t i;

        json_array_foreach(lines, i, l) {
                json_t *j = json_literal(json_string_value(l));
                json_t *r = json_object_get(j, "response");

                if (!found && streq_ptr(json_string_value(json_object_get(r, "request_id")), id))
                        found = json_incref(json_object_get(r, "response"));
                json_decref(j);
        }
        json_decref(lines);
        assert_non_null(found);
        return found;
}

static void test_recorded_figures(void **state) {
        json_t *cu0 = recorded_usage("cu_0"), *cu1 = recorded_usage("cu_1");
        int64_t base = -1, total = -1, n = -1;

        /* An idle CLI, then the same after one ~1 KB history message: that message is 270. */
        assert_int_equal(count_tokens_usage_total(cu0, &base), 0);
        assert_int_equal(count_tokens_usage_total(cu1, &total), 0);
        assert_int_equal(base, 50);
        assert_int_equal(total, 320);
        assert_int_equal(count_tokens_derive(total, base, &n), 0);
        assert_int_equal(n, 270);
        json_decref(cu0);
        json_decref(cu1);
}

static void test_usage_bad(void **state) {
        static const char *const bad[] = {
                "{}", "{\"totalTokens\":null}", "{\"totalTokens\":\"50\"}", "{\"totalTokens\":-1}",
                "{\"totalTokens\":1.5}", "[]",
        };
        int64_t v = 7;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *j = json_literal(bad[i]);
                assert_int_equal(count_tokens_usage_total(j, &v), -EBADMSG);
                json_decref(j);
        }
        assert_int_equal(count_tokens_usage_total(NULL, &v), -EBADMSG);
        assert_int_equal(v, 7);
}

static void test_derive(void **state) {
        int64_t n = 7;

        /* Not counted (equal) or less than the baseline: no figure is made up. */
        assert_int_equal(count_tokens_derive(50, 50, &n), -ERANGE);
        assert_int_equal(count_tokens_derive(40, 50, &n), -ERANGE);
        assert_int_equal(n, 7);
        assert_int_equal(count_tokens_derive(51, 50, &n), 0);
        assert_int_equal(n, 1);

        json_t *j = NULL, *want = json_literal("{\"input_tokens\":270}");
        assert_int_equal(count_tokens_to_json(270, &j), 0);
        assert_json_equal(j, want);
        json_decref(j);
        json_decref(want);
}

static void test_parse_and_history(void **state) {
        json_t *body = json_literal(
                "{\"model\":\"claude-haiku-4-5\",\"system\":\"SYS-MARK\","
                "\"messages\":[{\"role\":\"user\",\"content\":\"one\"},{\"role\":\"assistant\",\"content\":\"two\"},"
                "{\"role\":\"user\",\"content\":\"three\"}],\"tools\":[]}");
        ApiRequest r = {};
        ApiError err = {};
        CliInput in = {};
        size_t users = 0;

        /* No max_tokens: count_tokens has none. */
        assert_int_equal(count_tokens_request_parse(body, &env, &r, &err), 0);
        assert_string_equal(r.cli.model, "haiku");
        /* The system text is part of the count, whatever SYSTEM_PROMPT_MODE says. */
        assert_int_equal(r.cli.system_prompt_mode, SYSTEM_PROMPT_USER);

        assert_int_equal(count_tokens_history_input(&r.cli, &in), 0);
        assert_true(in.n >= 3);
        for (size_t i = 0; i < in.n; i++) {
                json_t *l = json_literal(in.lines[i].text);

                if (streq_ptr(json_string_value(json_object_get(l, "type")), "user")) {
                        /* Every user line, the last too, is history: nothing asks the model. */
                        assert_true(json_is_false(json_object_get(l, "shouldQuery")));
                        assert_true(in.lines[i].awaits_result);
                        users++;
                }
                json_decref(l);
        }
        assert_int_equal(users, 2);
        assert_non_null(strstr(in.lines[0].text, "SYS-MARK"));
        cli_input_done(&in);
        api_request_done(&r);
        json_decref(body);
}

static void test_parse_refusals(void **state) {
        static const struct {
                const char *body;
                const char *param;
        } t[] = {
                /* As /v1/messages: a final assistant turn cannot be continued by the CLI. */
                { "{\"model\":\"sonnet\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                  "{\"role\":\"assistant\",\"content\":\"b\"}]}", "messages.1" },
                { "{\"model\":\"sonnet\",\"messages\":[]}", "messages" },
                { "{\"model\":\"sonnet\"}", "messages" },
                { "[]", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                json_t *body = json_literal(t[i].body);
                ApiRequest r = {};
                ApiError err = {};

                assert_true(count_tokens_request_parse(body, &env, &r, &err) < 0);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.type, "invalid_request_error");
                assert_string_equal(err.param, t[i].param);
                api_error_done(&err);
                api_request_done(&r);
                json_decref(body);
        }
}

/* Tools and a schema are accepted but not counted: the header names them; without, nothing. */
static void test_parse_uncounted(void **state) {
        static const struct {
                const char *extra;
                const char *unsupported;
        } t[] = {
                { "", NULL },
                { ",\"tools\":[{\"name\":\"lookup\",\"input_schema\":{\"type\":\"object\"}}]", "tools" },
                /* tool_choice none: the run would offer no tools either. */
                { ",\"tools\":[{\"name\":\"lookup\",\"input_schema\":{\"type\":\"object\"}}],"
                  "\"tool_choice\":{\"type\":\"none\"}", NULL },
                { ",\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\"}}}",
                  "output_config" },
                { ",\"top_k\":5,\"tools\":[{\"name\":\"a\",\"input_schema\":{\"type\":\"object\"}}],"
                  "\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\"}}}",
                  "top_k,tools,output_config" },
                { ",\"metadata\":{\"mcp_servers\":[\"reg\"]}", "metadata.mcp_servers" },
                { ",\"metadata\":{\"mcp_servers\":[]}", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *text = NULL;
                json_t *body;
                ApiRequest r = {};
                ApiError err = {};

                assert_true(asprintf(&text, "{\"model\":\"sonnet\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]%s}",
                                     t[i].extra) > 0);
                body = json_literal(text);
                assert_int_equal(count_tokens_request_parse(body, &env, &r, &err), 0);
                if (t[i].unsupported)
                        assert_string_equal(r.unsupported, t[i].unsupported);
                else
                        assert_null(r.unsupported);
                api_request_done(&r);
                json_decref(body);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_recorded_figures),
                cmocka_unit_test(test_usage_bad),
                cmocka_unit_test(test_derive),
                cmocka_unit_test(test_parse_and_history),
                cmocka_unit_test(test_parse_refusals),
                cmocka_unit_test(test_parse_uncounted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
