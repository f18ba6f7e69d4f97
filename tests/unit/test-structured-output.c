/* SPDX-License-Identifier: MIT */

/*
 * Structured output: the schema read out of each surface's field (and the 400s for bad ones),
 * the initialize that carries it to the CLI (cold and pooled, against the recorded host line of
 * s4b_warm_late_initialize_json_schema), the blocks hidden from the client, and the recorded run
 * translated: one text block holding the value, stop_reason end_turn, a client tool_use passing.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "api/structured-output.h"
#include "cli/control.h"
#include "cli/stream.h"
#include "helpers.h"
#include "util/macro.h"

#define RECORDED "transcripts/s4b_warm_late_initialize_json_schema"
#define SCHEMA "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"age\":{\"type\":\"integer\"}}," \
               "\"required\":[\"name\",\"age\"]}"

typedef int (*extract_fn)(const json_t *body, json_t **ret_schema, ApiError *reterr);

typedef struct ExtractCase {
        extract_fn fn;
        const char *body;
        const char *expected;   /* the schema, "null" for none; NULL when a 400 is expected */
        const char *param;      /* the 400's param */
} ExtractCase;

static void test_extract(void **state) {
        static const ExtractCase cases[] = {
                /* Anthropic */
                { structured_output_from_anthropic, "{}", "null", NULL },
                { structured_output_from_anthropic, "{\"output_config\":{\"effort\":\"low\"}}", "null", NULL },
                { structured_output_from_anthropic,
                  "{\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":" SCHEMA "}}}", SCHEMA, NULL },
                { structured_output_from_anthropic,
                  "{\"output_format\":{\"type\":\"json_schema\",\"schema\":" SCHEMA "}}", SCHEMA, NULL },
                /* output_config.format wins */
                { structured_output_from_anthropic,
                  "{\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\"}}},"
                  "\"output_format\":{\"type\":\"json_schema\",\"schema\":" SCHEMA "}}", "{\"type\":\"object\"}", NULL },
                /* a schema without "type" is the client's business */
                { structured_output_from_anthropic,
                  "{\"output_format\":{\"type\":\"json_schema\",\"schema\":{\"anyOf\":[]}}}", "{\"anyOf\":[]}", NULL },
                { structured_output_from_anthropic, "{\"output_config\":{\"format\":null}}", "null", NULL },
                { structured_output_from_anthropic, "{\"output_config\":{\"format\":\"json\"}}", NULL,
                  "output_config.format" },
                { structured_output_from_anthropic, "{\"output_config\":{\"format\":{\"type\":\"text\"}}}", NULL,
                  "output_config.format.type" },
                { structured_output_from_anthropic,
                  "{\"output_config\":{\"format\":{\"type\":\"json_schema\\u0000x\",\"schema\":{}}}}", NULL,
                  "output_config.format.type" },
                { structured_output_from_anthropic, "{\"output_config\":{\"format\":{\"type\":\"json_schema\"}}}",
                  NULL, "output_config.format.schema" },
                { structured_output_from_anthropic,
                  "{\"output_format\":{\"type\":\"json_schema\",\"schema\":[1]}}", NULL, "output_format.schema" },
                { structured_output_from_anthropic,
                  "{\"output_format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"string\"}}}", NULL,
                  "output_format.schema" },
                /* Chat Completions */
                { structured_output_from_chat, "{}", "null", NULL },
                { structured_output_from_chat, "{\"response_format\":{\"type\":\"text\"}}", "null", NULL },
                { structured_output_from_chat, "{\"response_format\":{\"type\":\"json_object\"}}",
                  "{\"type\":\"object\"}", NULL },
                { structured_output_from_chat,
                  "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"p\",\"strict\":true,"
                  "\"schema\":" SCHEMA "}}}", SCHEMA, NULL },
                { structured_output_from_chat, "{\"response_format\":\"json\"}", NULL, "response_format" },
                { structured_output_from_chat, "{\"response_format\":{\"type\":\"json_schema\"}}", NULL,
                  "response_format.json_schema" },
                { structured_output_from_chat,
                  "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"p\"}}}", NULL,
                  "response_format.json_schema.schema" },
                { structured_output_from_chat, "{\"response_format\":{\"type\":\"yaml\"}}", NULL,
                  "response_format.type" },
                /* Responses */
                { structured_output_from_responses, "{}", "null", NULL },
                { structured_output_from_responses, "{\"text\":{\"verbosity\":\"low\"}}", "null", NULL },
                { structured_output_from_responses, "{\"text\":{\"format\":{\"type\":\"text\"}}}", "null", NULL },
                { structured_output_from_responses, "{\"text\":{\"format\":{\"type\":\"json_object\"}}}",
                  "{\"type\":\"object\"}", NULL },
                { structured_output_from_responses,
                  "{\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"p\",\"schema\":" SCHEMA "}}}", SCHEMA,
                  NULL },
                { structured_output_from_responses, "{\"text\":\"json\"}", NULL, "text" },
                { structured_output_from_responses, "{\"text\":{\"format\":[]}}", NULL, "text.format" },
                { structured_output_from_responses, "{\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"p\"}}}",
                  NULL, "text.format.schema" },
                { structured_output_from_responses, "{\"text\":{\"format\":{\"type\":\"csv\"}}}", NULL,
                  "text.format.type" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                /* As the session parses bodies: "\u0000" allowed. */
                json_auto_t *body = json_loads(cases[i].body, JSON_ALLOW_NUL, NULL), *got = NULL;
                ApiError err = {};
                int r;

                assert_non_null(body);
                r = cases[i].fn(body, &got, &err);

                if (cases[i].expected) {
                        json_auto_t *expected = streq(cases[i].expected, "null") ? json_null()
                                                                                 : json_literal(cases[i].expected);

                        if (r < 0)
                                fail_msg("case %zu (%s): %s", i, cases[i].body, err.message);
                        assert_json_equal(got ?: json_null(), expected);
                } else {
                        if (r != -EINVAL)
                                fail_msg("case %zu (%s): accepted", i, cases[i].body);
                        assert_null(got);
                        assert_int_equal(err.status, 400);
                        assert_string_equal(err.type, "invalid_request_error");
                        assert_string_equal(err.param, cases[i].param);
                        assert_non_null(strstr(err.message, cases[i].param));
                }
                api_error_done(&err);
        }
}

static void test_hides_block(void **state) {
        static const struct {
                const char *block;
                bool hidden;
        } cases[] = {
                { "{\"type\":\"text\",\"text\":\"Here you go\"}", true },
                { "{\"type\":\"thinking\",\"thinking\":\"\"}", true },
                { "{\"type\":\"redacted_thinking\",\"data\":\"x\"}", true },
                { "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"StructuredOutput\",\"input\":{}}", true },
                /* a client tool's call must reach the client */
                { "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"lookup\",\"input\":{}}", false },
                { "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"mcp__cp__StructuredOutput\",\"input\":{}}", false },
                { "{\"type\":\"server_tool_use\",\"id\":\"t\",\"name\":\"web_search\",\"input\":{}}", false },
                { "{\"type\":\"web_search_tool_result\"}", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_auto_t *b = json_literal(cases[i].block);

                if (structured_output_hides_block(b) != cases[i].hidden)
                        fail_msg("%s: hidden should be %d", cases[i].block, cases[i].hidden);
        }
}

static json_t *recorded_result(void) {
        json_auto_t *lines = fixture_lines(RECORDED ".ndjson");
        const json_t *last = json_array_get(lines, json_array_size(lines) - 1);

        return json_literal(json_string_value(last));
}

static void test_text(void **state) {
        json_auto_t *result = recorded_result();
        json_auto_t *prose = json_literal("{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
                                          "\"result\":\"I refuse to use tools.\"}");
        _cleanup_free_ char *text = NULL, *none = NULL;
        ApiError err = {};

        assert_int_equal(structured_output_text(result, &text, &err), 0);
        /* The same JSON text the CLI put into result.result. */
        assert_string_equal(text, "{\"name\":\"Bob\",\"age\":42}");
        assert_string_equal(text, json_string_value(json_object_get(result, "result")));

        /* f3_json_schema_never_called: success, prose, no structured_output. */
        assert_int_equal(structured_output_text(prose, &none, &err), -ENODATA);
        assert_null(none);
        assert_int_equal(err.status, 502);
        assert_string_equal(err.type, "api_error");
        assert_string_equal(err.error_class, "structured_output");
        assert_int_equal(structured_output_text(NULL, &none, NULL), -ENODATA);
        api_error_done(&err);
}

/* The initialize the recorded host wrote, which the CLI answered with its StructuredOutput tool. */
static json_t *recorded_initialize(void) {
        json_auto_t *meta = fixture_json(RECORDED ".meta.json");
        const json_t *w = json_object_get(meta, "stdin_written");
        size_t i;
        const json_t *e;

        json_array_foreach(w, i, e) {
                json_auto_t *line = json_literal(json_string_value(json_object_get(e, "line")));
                const json_t *req = json_object_get(line, "request");

                if (streq_ptr(json_string_value(json_object_get(req, "subtype")), "initialize"))
                        return json_incref((json_t *) req);
        }
        fail_msg("no initialize in the recorded host lines");
        return NULL;
}

static void test_initialize(void **state) {
        json_auto_t *recorded = recorded_initialize(), *schema = json_literal(SCHEMA);
        json_auto_t *cold = NULL, *pooled = NULL, *plain = NULL, *both = NULL;
        CliRequest r = { .model = (char *) "sonnet", .thinking = true, .json_schema = schema };

        assert_json_equal(json_object_get(recorded, "jsonSchema"), schema);

        /* Cold: one initialize with nothing but the schema (the argv has the rest). */
        assert_int_equal(cli_control_build_cold_initialize(&r, &cold), 0);
        assert_non_null(cold);
        assert_string_equal(json_string_value(json_object_get(cold, "subtype")), "initialize");
        assert_json_equal(json_object_get(cold, "jsonSchema"), schema);
        assert_int_equal(json_object_size(cold), 2);

        /* Pooled: the same initialize, in its late config. */
        assert_int_equal(cli_control_build_late_config(&r, &pooled), 0);
        assert_int_equal(json_array_size(pooled), 1);
        assert_json_equal(json_array_get(pooled, 0), cold);

        /* Nothing to send without a schema (a cold run writes no control line then). */
        r.json_schema = NULL;
        assert_int_equal(cli_control_build_cold_initialize(&r, &plain), 0);
        assert_null(plain);

        /* A process takes one initialize: system prompt and schema share it, as recorded in s4b. */
        r = (CliRequest) { .model = (char *) "sonnet", .thinking = false, .json_schema = schema,
                           .system_prompt = (char *) "LATE SYSTEM PROMPT (string form).",
                           .system_prompt_mode = SYSTEM_PROMPT_REPLACE };
        assert_int_equal(cli_control_build_late_config(&r, &both), 0);
        assert_int_equal(json_array_size(both), 2);
        {
                json_auto_t *expected = json_deep_copy(recorded);

                /* The recorder sent the prompt as a string; the proxy uses the schema's array form. */
                assert_int_equal(json_object_set_new(expected, "systemPrompt",
                                                     json_pack("[s]", "LATE SYSTEM PROMPT (string form).")), 0);
                assert_json_equal(json_array_get(both, 0), expected);
        }
        assert_string_equal(json_string_value(json_object_get(json_array_get(both, 1), "subtype")),
                            "set_max_thinking_tokens");
}

typedef struct Translated {
        json_t *events;
        json_t *message;
} Translated;

/* Feed lines (raw strings) into a structured translator; finish with the last (result) line. */
static void translate(const json_t *lines, bool stream, Translated *ret) {
        json_auto_t *schema = json_literal(SCHEMA), *result = NULL;
        ApiRequest req = { .kind = API_ANTHROPIC, .stream = stream, .client_model = (char *) "claude-x",
                           .cli = { .model = (char *) "sonnet", .thinking = true, .json_schema = schema } };
        ApiEnv env = { .message_id = "msg_test" };
        AnthropicStream *s = NULL;
        size_t i;
        const json_t *l;

        *ret = (Translated) { .events = json_array() };
        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        json_array_foreach(lines, i, l) {
                CliEvent ev = {};

                assert_int_equal(cli_event_parse(json_string_value(l), json_string_length(l), &ev), 0);
                if (ev.type == CLI_EVENT_RESULT)
                        result = json_incref((json_t *) ev.payload);
                else
                        assert_int_equal(anthropic_stream_feed(s, &ev, ret->events), 0);
                cli_event_done(&ev);
        }
        assert_non_null(result);
        if (stream)
                assert_int_equal(anthropic_stream_finish(s, result, ret->events), 0);
        assert_int_equal(anthropic_stream_message(s, result, &ret->message), 0);
        anthropic_stream_free(s);
}

static void translated_done(Translated *t) {
        json_decref(t->events);
        json_decref(t->message);
}

static void test_recorded_run(void **state) {
        json_auto_t *lines = fixture_lines(RECORDED ".ndjson");
        json_auto_t *expected = json_literal("[{\"type\":\"text\",\"text\":\"{\\\"name\\\":\\\"Bob\\\",\\\"age\\\":42}\"}]");

        for (int stream = 0; stream <= 1; stream++) {
                _cleanup_(translated_done) Translated t = {};
                size_t i;
                const json_t *e;
                unsigned starts = 0;

                translate(lines, stream, &t);
                assert_json_equal(json_object_get(t.message, "content"), expected);
                assert_string_equal(json_string_value(json_object_get(t.message, "stop_reason")), "end_turn");
                json_array_foreach(t.events, i, e) {
                        const json_t *d = json_object_get(e, "data");

                        if (streq_ptr(json_string_value(json_object_get(e, "event")), "content_block_start")) {
                                starts++;
                                assert_string_equal(json_string_value(json_object_get(
                                                            json_object_get(d, "content_block"), "type")), "text");
                        }
                        if (streq_ptr(json_string_value(json_object_get(e, "event")), "message_delta"))
                                assert_string_equal(json_string_value(json_object_get(
                                                            json_object_get(d, "delta"), "stop_reason")), "end_turn");
                }
                /* Streaming: the value's one text block; non-streaming: no events but message_start. */
                assert_int_equal(starts, stream ? 1 : 0);
        }
}

/*
 * Prose and thinking before the call, and a client tool's call beside it (the tools work puts
 * them there): the prose and thinking go, the client's tool_use stays, the value comes last.
 */
static void test_mixed_blocks(void **state) {
        static const char *const events[] = {
                "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":3}}}",
                "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}",
                "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hm\"}}",
                "{\"type\":\"content_block_stop\",\"index\":0}",
                "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
                "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Sure!\"}}",
                "{\"type\":\"content_block_stop\",\"index\":1}",
                "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_c\","
                "\"name\":\"lookup\",\"input\":{}}}",
                "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
                "\"partial_json\":\"{\\\"q\\\":1}\"}}",
                "{\"type\":\"content_block_stop\",\"index\":2}",
                "{\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_s\","
                "\"name\":\"StructuredOutput\",\"input\":{}}}",
                "{\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\","
                "\"partial_json\":\"{\\\"name\\\":\\\"Bob\\\",\\\"age\\\":42}\"}}",
                "{\"type\":\"content_block_stop\",\"index\":3}",
        };
        json_auto_t *lines = json_array(), *recorded = recorded_result();
        _cleanup_free_ char *result_text = json_dumps(recorded, JSON_COMPACT);
        _cleanup_(translated_done) Translated t = {};
        json_auto_t *expected = json_literal(
                "[{\"type\":\"tool_use\",\"id\":\"toolu_c\",\"name\":\"lookup\",\"input\":{\"q\":1}},"
                "{\"type\":\"text\",\"text\":\"{\\\"name\\\":\\\"Bob\\\",\\\"age\\\":42}\"}]");

        for (size_t i = 0; i < ELEMENTSOF(events); i++) {
                _cleanup_free_ char *line = NULL;

                assert_true(asprintf(&line, "{\"type\":\"stream_event\",\"event\":%s}", events[i]) > 0);
                assert_int_equal(json_array_append_new(lines, json_string(line)), 0);
        }
        assert_int_equal(json_array_append_new(lines, json_string(result_text)), 0);

        translate(lines, /* stream= */ true, &t);
        assert_json_equal(json_object_get(t.message, "content"), expected);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_extract),
                cmocka_unit_test(test_hides_block),
                cmocka_unit_test(test_text),
                cmocka_unit_test(test_initialize),
                cmocka_unit_test(test_recorded_run),
                cmocka_unit_test(test_mixed_blocks),
        };

        return cmocka_run_group_tests_name("structured output", tests, NULL, NULL);
}
