/* SPDX-License-Identifier: MIT */

/*
 * The Responses translators at their own level: `input` items -> the CLI's conversation
 * (function_call/function_call_output as tool_use/tool_result, instructions as system text),
 * the stateless refusals, and a recorded run -> the typed event sequence (created first,
 * sequence_number strictly increasing from 0, text deltas adding up to the done text and to the
 * completed response, response.failed on error).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/openai.h"
#include "helpers.h"
#include "util/macro.h"

static ApiEnv test_env(void) {
        return (ApiEnv) { .message_id = "resp_test", .created = 1700000000, .default_model = "sonnet" };
}

static int parse(const char *body, ApiRequest *req, ApiError *err) {
        json_auto_t *j = json_literal(body);
        ApiEnv env = test_env();

        *req = (ApiRequest) {};
        *err = API_ERROR_NULL;
        return openai_responses_request_parse(j, &env, req, err);
}

static void test_request_items(void **state) {
        ApiRequest req;
        ApiError err;

        assert_int_equal(
                parse("{\"model\":\"claude-sonnet-4\",\"instructions\":\"Be brief.\",\"store\":false,"
                      "\"reasoning\":{\"effort\":\"medium\",\"summary\":\"auto\"},\"tools\":[],"
                      "\"input\":[{\"role\":\"developer\",\"content\":\"DEV\"},"
                      "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"ls?\"},"
                      "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,iVBO\"}]},"
                      "{\"type\":\"reasoning\",\"summary\":[]},"
                      "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"exec\",\"arguments\":\"{\\\"cmd\\\":\\\"ls\\\"}\"},"
                      "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"a.txt\"}]}",
                      &req, &err),
                0);
        assert_int_equal(req.kind, API_RESPONSES);
        assert_string_equal(req.cli.system_prompt, "Be brief.\n\nDEV");
        assert_string_equal(req.cli.effort, "medium");
        assert_true(req.cli.thinking);
        /* reasoning.summary is served now: the thinking comes back as a reasoning item. */
        assert_string_equal(req.unsupported, "store");
        /* The response object will repeat these. */
        assert_string_equal(json_string_value(json_object_get(req.echo, "instructions")), "Be brief.");
        assert_true(json_is_false(json_object_get(req.echo, "store")));
        json_auto_t *reasoning = json_literal("{\"effort\":\"medium\",\"summary\":\"auto\"}");
        assert_json_equal(json_object_get(req.echo, "reasoning"), reasoning);
        json_auto_t *want = json_literal(
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"ls?\"},"
                "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBO\"}}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"mcp__cp__exec\","
                "\"input\":{\"cmd\":\"ls\"}}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":\"a.txt\"}]}]");
        assert_json_equal(req.cli.messages, want);
        api_request_done(&req);

        assert_int_equal(parse("{\"model\":\"m\",\"input\":\"hi\",\"stream\":true}", &req, &err), 0);
        assert_true(req.stream);
        assert_null(req.unsupported);
        api_request_done(&req);
}

static void test_request_errors(void **state) {
        static const struct {
                const char *body, *param, *needle;
        } cases[] = {
                { "{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":\"x\"}", "previous_response_id",
                  "send the earlier items" },
                { "{\"model\":\"m\"}", "input", "required" },
                { "{\"input\":\"x\"}", "model", "required" },
                { "{\"model\":\"m\",\"input\":[{\"type\":\"web_search_call\"}]}", "input.0", "unsupported item" },
                { "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\","
                  "\"file_id\":\"f\"}]}]}", "input.0.content.0", "Files API" },
                { "{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"effort\":\"lots\"}}", "reasoning.effort",
                  "invalid effort" },
                { "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\","
                  "\"content\":\"y\"}]}", "input", "prefilled" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ApiRequest req;
                ApiError err;

                assert_int_equal(parse(cases[i].body, &req, &err), -EINVAL);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.param, cases[i].param);
                if (!strstr(err.message, cases[i].needle))
                        fail_msg("case %zu: '%s' does not say '%s'", i, err.message, cases[i].needle);
        }
}

static void feed_transcript(OpenAIResponsesStream *s, const char *name, json_t *out, json_t **ret_result) {
        _cleanup_free_ char *rel = NULL;
        json_auto_t *lines = NULL;

        assert_true(asprintf(&rel, "transcripts/%s.ndjson", name) > 0);
        lines = fixture_lines(rel);
        for (size_t i = 0; i < json_array_size(lines); i++) {
                const json_t *line = json_array_get(lines, i);
                CliEvent ev = {};

                assert_int_equal(cli_event_parse(json_string_value(line), json_string_length(line), &ev), 0);
                if (ev.type == CLI_EVENT_RESULT)
                        *ret_result = json_incref(ev.root);
                assert_int_equal(openai_responses_stream_feed(s, 0, &ev, out), 0);
                cli_event_done(&ev);
        }
}

/* Names in order, sequence numbers 0.., each event's data.type its name. */
static void check_sequence(const json_t *events, const char *first, const char *last) {
        size_t i;
        const json_t *e;

        json_array_foreach(events, i, e) {
                const json_t *d = json_object_get(e, "data");
                assert_string_equal(json_string_value(json_object_get(d, "type")),
                                    json_string_value(json_object_get(e, "event")));
                assert_int_equal(json_integer_value(json_object_get(d, "sequence_number")), (json_int_t) i);
        }
        assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "event")), first);
        assert_string_equal(json_string_value(json_object_get(json_array_get(events, json_array_size(events) - 1),
                                                              "event")), last);
}

static void test_stream_text(void **state) {
        ApiRequest req = { .kind = API_RESPONSES, .client_model = (char *) "my-model" };
        ApiEnv env = test_env();
        OpenAIResponsesStream *s = NULL;
        json_auto_t *events = json_array(), *r = NULL, *body = NULL;
        char text[4096] = "";
        size_t i;
        const json_t *e;

        assert_int_equal(openai_responses_stream_new(&s, &req, &env), 0);
        feed_transcript(s, "text", events, &r);
        assert_true(openai_responses_stream_started(s));
        assert_int_equal(openai_responses_stream_finish(s, 0, r, events), 0);
        check_sequence(events, "response.created", "response.completed");
        json_array_foreach(events, i, e)
                if (streq_ptr(json_string_value(json_object_get(e, "event")), "response.output_text.delta"))
                        strncat(text, json_string_value(json_object_get(json_object_get(e, "data"), "delta")),
                                sizeof(text) - strlen(text) - 1);
        assert_string_equal(text, "Hello! I am a scripted mock reply, streamed in several small chunks.");
        const json_t *done = json_object_get(json_array_get(events, json_array_size(events) - 1), "data");
        const json_t *resp = json_object_get(done, "response");
        assert_string_equal(json_string_value(json_object_get(resp, "status")), "completed");
        assert_string_equal(json_string_value(json_object_get(resp, "model")), "my-model");
        const json_t *part = json_array_get(json_object_get(json_array_get(json_object_get(resp, "output"), 0),
                                                            "content"), 0);
        assert_string_equal(json_string_value(json_object_get(part, "text")), text);
        assert_true(json_integer_value(json_object_get(json_object_get(resp, "usage"), "output_tokens")) > 0);
        const json_t *results[1] = { r };
        assert_int_equal(openai_responses_stream_message(s, results, 1, &body), 0);
        assert_json_equal(body, resp);
        openai_responses_stream_free(s);
}

static void test_echo(void **state) {
        json_auto_t *defaults = NULL, *echo = NULL, *body = NULL, *want = NULL;

        assert_int_equal(openai_responses_echo(NULL, &defaults), 0);
        want = json_literal(
                "{\"background\":false,\"instructions\":null,\"max_output_tokens\":null,\"max_tool_calls\":null,"
                "\"parallel_tool_calls\":true,\"previous_response_id\":null,\"prompt_cache_key\":null,"
                "\"reasoning\":{\"effort\":null,\"summary\":null},\"safety_identifier\":null,"
                "\"service_tier\":\"default\",\"store\":false,\"temperature\":1.0,"
                "\"text\":{\"format\":{\"type\":\"text\"},\"verbosity\":\"medium\"},\"tool_choice\":\"auto\","
                "\"tools\":[],\"top_logprobs\":0,\"top_p\":1.0,\"truncation\":\"disabled\",\"user\":null,"
                "\"metadata\":{}}");
        assert_json_equal(defaults, want);

        /* Set fields win, nulls do not; reasoning and text merge over their defaults; a
         * previous_response_id is never repeated (the parser refuses it anyway). */
        body = json_literal(
                "{\"instructions\":\"I\",\"temperature\":0.2,\"top_p\":null,\"metadata\":{\"k\":\"v\"},"
                "\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],\"reasoning\":{\"effort\":\"low\"},"
                "\"text\":{\"format\":{\"type\":\"json_object\"}},\"store\":true,\"max_output_tokens\":99,"
                "\"previous_response_id\":\"resp_x\",\"input\":\"not echoed\",\"include\":[\"x\"]}");
        assert_int_equal(openai_responses_echo(body, &echo), 0);
        assert_string_equal(json_string_value(json_object_get(echo, "instructions")), "I");
        assert_true(json_real_value(json_object_get(echo, "temperature")) == 0.2);
        assert_true(json_real_value(json_object_get(echo, "top_p")) == 1.0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(echo, "metadata"), "k")), "v");
        assert_int_equal(json_array_size(json_object_get(echo, "tools")), 1);
        assert_string_equal(json_string_value(json_object_get(json_object_get(echo, "reasoning"), "effort")), "low");
        assert_true(json_is_null(json_object_get(json_object_get(echo, "reasoning"), "summary")));
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(echo, "text"), "format"),
                                                              "type")), "json_object");
        assert_string_equal(json_string_value(json_object_get(json_object_get(echo, "text"), "verbosity")), "medium");
        assert_true(json_is_true(json_object_get(echo, "store")));
        assert_int_equal(json_integer_value(json_object_get(echo, "max_output_tokens")), 99);
        assert_true(json_is_null(json_object_get(echo, "previous_response_id")));
        assert_null(json_object_get(echo, "input"));
        assert_null(json_object_get(echo, "include"));
}

static void test_reasoning_request(void **state) {
        ApiRequest req;
        ApiError err;

        /* A summary alone asks to see the reasoning. */
        assert_int_equal(parse("{\"model\":\"m\",\"input\":\"hi\",\"reasoning\":{\"summary\":\"auto\"}}", &req, &err), 0);
        assert_true(req.cli.thinking);
        assert_null(req.unsupported);
        api_request_done(&req);
        /* effort "none" turns it off, summary or not. */
        assert_int_equal(parse("{\"model\":\"m\",\"input\":\"hi\",\"reasoning\":{\"effort\":\"none\",\"summary\":\"auto\"}}",
                               &req, &err), 0);
        assert_false(req.cli.thinking);
        api_request_done(&req);
        assert_int_equal(parse("{\"model\":\"m\",\"input\":\"hi\"}", &req, &err), 0);
        assert_false(req.cli.thinking);
        api_request_done(&req);
        assert_int_equal(parse("{\"model\":\"m\",\"input\":\"hi\",\"reasoning\":{\"summary\":3}}", &req, &err), -EINVAL);
        assert_string_equal(err.param, "reasoning.summary");
}

/* The events of the recorded `thinking` run, thinking shown or not. */
static void stream_thinking(bool thinking, json_t *events, json_t **ret_response) {
        ApiRequest req = { .kind = API_RESPONSES, .client_model = (char *) "m", .cli = { .thinking = thinking } };
        ApiEnv env = test_env();
        OpenAIResponsesStream *s = NULL;
        json_auto_t *r = NULL;

        assert_int_equal(openai_responses_stream_new(&s, &req, &env), 0);
        feed_transcript(s, "thinking", events, &r);
        assert_int_equal(openai_responses_stream_finish(s, 0, r, events), 0);
        check_sequence(events, "response.created", "response.completed");
        *ret_response = json_incref(json_object_get(json_object_get(json_array_get(events, json_array_size(events) - 1),
                                                                    "data"), "response"));
        openai_responses_stream_free(s);
}

static void test_stream_thinking(void **state) {
        json_auto_t *events = json_array(), *plain = json_array(), *resp = NULL, *plain_resp = NULL;
        char summary[8192] = "";
        const char *seen[16];
        size_t n_seen = 0, i;
        const json_t *e;

        stream_thinking(true, events, &resp);
        json_array_foreach(events, i, e) {
                const char *name = json_string_value(json_object_get(e, "event"));
                const json_t *d = json_object_get(e, "data");

                if (strstr(name, "reasoning") && (n_seen == 0 || !streq(seen[n_seen - 1], name)) && n_seen < 16)
                        seen[n_seen++] = name;
                if (streq(name, "response.reasoning_summary_text.delta")) {
                        assert_string_equal(json_string_value(json_object_get(d, "item_id")),
                                            json_string_value(json_object_get(
                                                    json_array_get(json_object_get(resp, "output"), 0), "id")));
                        assert_int_equal(json_integer_value(json_object_get(d, "output_index")), 0);
                        strncat(summary, json_string_value(json_object_get(d, "delta")), sizeof(summary) - strlen(summary) - 1);
                }
        }
        /* The real API's order for one summary part. */
        assert_int_equal(n_seen, 4);
        assert_string_equal(seen[0], "response.reasoning_summary_part.added");
        assert_string_equal(seen[1], "response.reasoning_summary_text.delta");
        assert_string_equal(seen[2], "response.reasoning_summary_text.done");
        assert_string_equal(seen[3], "response.reasoning_summary_part.done");
        assert_true(strlen(summary) > 0);

        /* The reasoning item comes first, its summary the streamed text; then the message. */
        const json_t *out = json_object_get(resp, "output");
        assert_int_equal(json_array_size(out), 2);
        const json_t *rs = json_array_get(out, 0);
        assert_string_equal(json_string_value(json_object_get(rs, "type")), "reasoning");
        assert_true(strneq(json_string_value(json_object_get(rs, "id")), "rs_", 3));
        const json_t *part = json_array_get(json_object_get(rs, "summary"), 0);
        assert_string_equal(json_string_value(json_object_get(part, "type")), "summary_text");
        assert_string_equal(json_string_value(json_object_get(part, "text")), summary);
        assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "type")), "message");

        /* Thinking not asked for: no reasoning item at all. */
        stream_thinking(false, plain, &plain_resp);
        json_array_foreach(plain, i, e)
                assert_null(strstr(json_string_value(json_object_get(e, "event")), "reasoning"));
        assert_int_equal(json_array_size(json_object_get(plain_resp, "output")), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(plain_resp, "output"), 0),
                                                              "type")), "message");
}

static void test_stream_fail(void **state) {
        ApiRequest req = { .kind = API_RESPONSES };
        ApiEnv env = test_env();
        OpenAIResponsesStream *s = NULL;
        json_auto_t *events = json_array(), *r = NULL;
        ApiError err = { .status = 500, .type = "api_error" };

        snprintf(err.message, sizeof(err.message), "the CLI died");
        assert_int_equal(openai_responses_stream_new(&s, &req, &env), 0);
        feed_transcript(s, "text", events, &r);
        assert_int_equal(openai_responses_stream_fail(s, &err, events), 0);
        check_sequence(events, "response.created", "response.failed");
        const json_t *resp = json_object_get(json_object_get(json_array_get(events, json_array_size(events) - 1),
                                                             "data"), "response");
        assert_string_equal(json_string_value(json_object_get(resp, "status")), "failed");
        assert_string_equal(json_string_value(json_object_get(json_object_get(resp, "error"), "message")),
                            "the CLI died");
        openai_responses_stream_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_items),
                cmocka_unit_test(test_request_errors),
                cmocka_unit_test(test_stream_text),
                cmocka_unit_test(test_stream_fail),
                cmocka_unit_test(test_echo),
                cmocka_unit_test(test_reasoning_request),
                cmocka_unit_test(test_stream_thinking),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
