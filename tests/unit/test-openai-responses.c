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

#include "api/client-tools.h"
#include "api/openai.h"
#include "api/responses-tools.h"
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
                /* a namespace member's bad schema, named where the client wrote it */
                { "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"web_search\"},{\"type\":\"function\","
                  "\"name\":\"f\"},{\"type\":\"namespace\",\"name\":\"ns\",\"tools\":[{\"type\":\"function\","
                  "\"name\":\"g\"},{\"type\":\"function\",\"name\":\"h\",\"parameters\":{\"type\":\"array\"}}]}]}",
                  "tools.2.tools.1.parameters", "tools.2.tools.1.parameters: the schema" },
                { "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"x\"},{\"type\":\"item_reference\","
                  "\"id\":\"fc_1\"}]}", "input.1", "send the item itself" },
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

/* What the Codex CLI sends (0.171): functions, a namespace of functions, a hosted tool. */
#define CODEX_TOOLS                                                                                               \
        "[{\"type\":\"function\",\"name\":\"exec_command\",\"strict\":false,\"parameters\":{\"type\":\"object\","   \
        "\"properties\":{\"cmd\":{\"type\":\"string\"}},\"required\":[\"cmd\"]}},"                                  \
        "{\"type\":\"namespace\",\"name\":\"multi_agent_v1\",\"description\":\"Sub-agents.\",\"tools\":["          \
        "{\"type\":\"function\",\"name\":\"close_agent\",\"description\":\"Close one.\",\"parameters\":"           \
        "{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"}}}},"                                \
        "{\"type\":\"custom\",\"name\":\"freeform\"}]},"                                                            \
        "{\"type\":\"web_search\",\"external_web_access\":false},{\"type\":\"web_search\"}]"

static void test_tools_flatten(void **state) {
        json_auto_t *tools = json_literal(CODEX_TOOLS), *chat = json_array(), *bad = NULL;
        _cleanup_free_ char *unsupported = NULL, *flat = NULL;
        const char *ns = NULL, *name = NULL;
        ApiError err = API_ERROR_NULL;

        json_auto_t *paths = json_array();
        assert_int_equal(responses_tools_to_chat(tools, chat, paths, &unsupported, &err), 0);
        json_auto_t *want_paths = json_literal("[\"tools.0\",\"tools.1.tools.0\"]");
        assert_json_equal(paths, want_paths);
        json_auto_t *want = json_literal(
                "[{\"type\":\"function\",\"function\":{\"name\":\"exec_command\",\"parameters\":{\"type\":\"object\","
                "\"properties\":{\"cmd\":{\"type\":\"string\"}},\"required\":[\"cmd\"]}}},"
                "{\"type\":\"function\",\"function\":{\"name\":\"multi_agent_v1__close_agent\",\"description\":"
                "\"Close one.\",\"parameters\":{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"}}}}}]");
        assert_json_equal(chat, want);
        /* Left out, each type named once. */
        assert_string_equal(unsupported, "tools.custom,tools.web_search");

        assert_true(responses_tools_split(tools, "multi_agent_v1__close_agent", &ns, &name));
        assert_string_equal(ns, "multi_agent_v1");
        assert_string_equal(name, "close_agent");
        assert_false(responses_tools_split(tools, "exec_command", &ns, &name));
        assert_false(responses_tools_split(tools, "multi_agent_v1__freeform", &ns, &name));
        assert_false(responses_tools_split(tools, "multi_agent_v1__", &ns, &name));
        assert_false(responses_tools_split(NULL, "multi_agent_v1__close_agent", &ns, &name));
        assert_int_equal(responses_tools_flat_name("crm", "lookup", &flat), 0);
        assert_string_equal(flat, "crm__lookup");

        bad = json_literal("[{\"type\":\"namespace\",\"tools\":[]}]");
        assert_int_equal(responses_tools_to_chat(bad, chat, NULL, &unsupported, &err), -EINVAL);
        assert_string_equal(err.param, "tools.0");
        json_decref(bad);
        bad = json_literal("[{\"type\":\"namespace\",\"name\":\"n\",\"tools\":{}}]");
        assert_int_equal(responses_tools_to_chat(bad, chat, NULL, &unsupported, &err), -EINVAL);
        api_error_done(&err);
}

/* A Codex request: the namespace's functions reach the CLI flat, a namespaced call in the
 * history is the flat name, and the hosted tool is named in x-proxy-unsupported. */
static void test_request_namespace(void **state) {
        ApiRequest req;
        ApiError err;
        const json_t *t;
        size_t i;
        bool seen = false;

        assert_int_equal(
                parse("{\"model\":\"m\",\"tools\":" CODEX_TOOLS ",\"tool_choice\":{\"type\":\"function\",\"name\":"
                      "\"close_agent\",\"namespace\":\"multi_agent_v1\"},\"input\":["
                      "{\"role\":\"user\",\"content\":\"close it\"},"
                      "{\"type\":\"function_call\",\"call_id\":\"call_9\",\"namespace\":\"multi_agent_v1\",\"name\":"
                      "\"close_agent\",\"arguments\":\"{\\\"target\\\":\\\"a1\\\"}\"},"
                      "{\"type\":\"function_call_output\",\"call_id\":\"call_9\",\"output\":\"closed\"}]}",
                      &req, &err),
                0);
        assert_string_equal(req.unsupported, "tools.custom,tools.web_search");
        assert_int_equal(json_array_size(req.cli.tools), 2);
        json_array_foreach(req.cli.tools, i, t)
                seen = seen || streq_ptr(json_string_value(json_object_get(t, "name")), "multi_agent_v1__close_agent");
        assert_true(seen);
        assert_non_null(strstr(req.cli.system_prompt, "mcp__cp__multi_agent_v1__close_agent"));
        const json_t *use = json_array_get(json_object_get(json_array_get(req.cli.messages, 1), "content"), 0);
        assert_string_equal(json_string_value(json_object_get(use, "name")), "mcp__cp__multi_agent_v1__close_agent");
        api_request_done(&req);
}

/*
 * The recorded client-tool run (s2b: the model calls mcp__cp__lookup), its tool renamed into a
 * namespace member as the model would call it (mcp__cp__crm__lookup): the function_call item
 * goes back with the member's name and its namespace, streamed and in the response object.
 */
static void test_stream_namespace_call(void **state) {
        json_auto_t *echo = json_literal(
                "{\"tools\":[{\"type\":\"namespace\",\"name\":\"crm\",\"description\":\"CRM\",\"tools\":[{\"type\":"
                "\"function\",\"name\":\"lookup\"}]}]}");
        ApiRequest req = { .kind = API_RESPONSES, .client_model = (char *) "m", .echo = echo };
        ApiEnv env = test_env();
        OpenAIResponsesStream *s = NULL;
        json_auto_t *lines = fixture_lines("transcripts/s2b_park_then_interrupt.ndjson"), *events = json_array(),
                    *body = NULL;
        const json_t *e, *item = NULL, *args_done = NULL;
        size_t i;
        int calls = 0;

        assert_int_equal(openai_responses_stream_new(&s, &req, &env), 0);
        for (i = 0; i < json_array_size(lines); i++) {
                const char *l = json_string_value(json_array_get(lines, i));
                _cleanup_free_ char *line = NULL;
                const char *at = strstr(l, "\"mcp__cp__lookup\"");
                CliEvent ev = {};

                if (at)
                        assert_true(asprintf(&line, "%.*s\"mcp__cp__crm__lookup\"%s", (int) (at - l), l,
                                             at + strlen("\"mcp__cp__lookup\"")) > 0);
                else
                        line = strdup(l);
                assert_int_equal(cli_event_parse(line, strlen(line), &ev), 0);
                /* What the session does before feeding: the client's names. */
                if (ev.type == CLI_EVENT_STREAM || ev.type == CLI_EVENT_ASSISTANT)
                        calls += client_tools_rename_payload((json_t *) ev.payload, ev.type == CLI_EVENT_STREAM);
                if (ev.type != CLI_EVENT_RESULT)
                        assert_int_equal(openai_responses_stream_feed(s, 0, &ev, events), 0);
                cli_event_done(&ev);
        }
        assert_true(calls > 0);
        json_array_foreach(events, i, e) {
                const char *name = json_string_value(json_object_get(e, "event"));
                const json_t *d = json_object_get(e, "data");

                if (streq_ptr(name, "response.output_item.done") &&
                    streq_ptr(json_string_value(json_object_get(json_object_get(d, "item"), "type")), "function_call"))
                        item = json_object_get(d, "item");
                if (streq_ptr(name, "response.function_call_arguments.done"))
                        args_done = d;
        }
        assert_non_null(item);
        assert_string_equal(json_string_value(json_object_get(item, "name")), "lookup");
        assert_string_equal(json_string_value(json_object_get(item, "namespace")), "crm");
        assert_non_null(args_done);
        assert_string_equal(json_string_value(json_object_get(args_done, "name")), "lookup");
        assert_int_equal(openai_responses_stream_message(s, NULL, 0, &body), 0);
        json_array_foreach(json_object_get(body, "output"), i, e)
                if (streq_ptr(json_string_value(json_object_get(e, "type")), "function_call")) {
                        assert_string_equal(json_string_value(json_object_get(e, "name")), "lookup");
                        assert_string_equal(json_string_value(json_object_get(e, "namespace")), "crm");
                }
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
                cmocka_unit_test(test_tools_flatten),
                cmocka_unit_test(test_request_namespace),
                cmocka_unit_test(test_stream_namespace_call),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
