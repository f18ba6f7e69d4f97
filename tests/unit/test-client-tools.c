/* SPDX-License-Identifier: MIT */

/*
 * api/client-tools.c: validation of the client's tools, tool_choice, the names both ways, the
 * history checks, and the sdk server's JSON-RPC answers (the shapes the CLI 2.1.197 accepted in
 * the recorded s1 and s2 runs: initialize with capabilities.tools, tools/list with inputSchema).
 */

#include <errno.h>
#include <string.h>

#include "api/anthropic.h"
#include "api/client-tools.h"
#include "api/openai.h"
#include "cli/control.h"
#include "helpers.h"
#include "util/macro.h"

static int add(json_t *tools, const char *name_json, const char *schema_json, ApiError *err) {
        json_auto_t *name = json_loads(name_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        json_auto_t *schema = schema_json ? json_loads(schema_json, JSON_DECODE_ANY, NULL) : NULL;

        assert_non_null(name);

        return client_tools_add(tools, name, NULL, schema, "tools.0.name", "tools.0.input_schema", err);
}

static void test_add_validates(void **state) {
        json_auto_t *tools = json_array();
        ApiError err = {};
        char long_name[64];

        assert_int_equal(add(tools, "\"lookup\"", "{\"type\":\"object\",\"properties\":{}}", &err), 0);
        assert_int_equal(add(tools, "\"no_schema-1\"", NULL, &err), 0);
        /* A schema without "type" is an object schema; MCP wants it said. */
        assert_int_equal(add(tools, "\"untyped\"", "{\"properties\":{\"a\":{}}}", &err), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(tools, 2), "input_schema"),
                                                              "type")),
                            "object");
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(tools, 1), "input_schema"),
                                                              "type")),
                            "object");

        memset(long_name, 'x', 55);
        long_name[55] = 0;
        char quoted[80];
        snprintf(quoted, sizeof(quoted), "\"%s\"", long_name);
        assert_int_equal(add(tools, quoted, NULL, &err), 0);       /* 55 fits: mcp__cp__ + 55 = 64 */
        snprintf(quoted, sizeof(quoted), "\"%sx\"", long_name);
        assert_int_equal(add(tools, quoted, NULL, &err), -EINVAL);
        assert_string_equal(err.param, "tools.0.name");

        static const char *const bad_names[] = { "\"\"", "\"a b\"", "\"a.b\"", "\"ü\"", "7", "\"a\\u0000b\"",
                                                 "\"lookup\"" /* twice */ };
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
                err = (ApiError) {};
                assert_int_equal(add(tools, bad_names[i], NULL, &err), -EINVAL);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.param, "tools.0.name");
        }
        static const char *const bad_schemas[] = { "[]", "\"x\"", "{\"type\":\"string\"}",
                                                   "{\"type\":\"object\",\"properties\":[]}",
                                                   "{\"type\":\"object\",\"required\":\"a\"}" };
        for (size_t i = 0; i < ELEMENTSOF(bad_schemas); i++) {
                err = (ApiError) {};
                assert_int_equal(add(tools, "\"fresh\"", bad_schemas[i], &err), -EINVAL);
                assert_string_equal(err.param, "tools.0.input_schema");
        }
}

static void test_mcp_answers(void **state) {
        json_auto_t *tools = json_array(), *reply = NULL;
        json_auto_t *desc = json_string("Look up a value by key.");
        json_auto_t *name = json_string("lookup");
        json_auto_t *schema = json_literal("{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\"}}}");
        ApiError err = {};

        assert_int_equal(client_tools_add(tools, name, desc, schema, "n", "s", &err), 0);

        json_auto_t *init = json_literal("{\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"},"
                                         "\"jsonrpc\":\"2.0\",\"id\":0}");
        assert_int_equal(client_tools_mcp_answer(tools, init, &reply), 1);
        json_auto_t *want_init = json_literal("{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"2025-11-25\","
                                              "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"cp\","
                                              "\"version\":\"1.0.0\"}}}");
        assert_json_equal(reply, want_init);
        json_decref(TAKE_PTR(reply));

        json_auto_t *note = json_literal("{\"method\":\"notifications/initialized\",\"jsonrpc\":\"2.0\"}");
        assert_int_equal(client_tools_mcp_answer(tools, note, &reply), 1);
        json_auto_t *want_note = json_literal("{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":0}");
        assert_json_equal(reply, want_note);
        json_decref(TAKE_PTR(reply));

        /* Asked twice (the CLI may connect twice): the same answer, no state. */
        for (int i = 0; i < 2; i++) {
                json_auto_t *list = json_literal("{\"method\":\"tools/list\",\"jsonrpc\":\"2.0\",\"id\":1}");
                assert_int_equal(client_tools_mcp_answer(tools, list, &reply), 1);
                json_auto_t *want = json_literal(
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"lookup\","
                        "\"description\":\"Look up a value by key.\",\"inputSchema\":{\"type\":\"object\","
                        "\"properties\":{\"key\":{\"type\":\"string\"}}},\"annotations\":{\"readOnlyHint\":true}}]}}");
                assert_json_equal(reply, want);
                json_decref(TAKE_PTR(reply));
        }

        json_auto_t *call = json_literal("{\"method\":\"tools/call\",\"params\":{\"name\":\"lookup\",\"arguments\":"
                                         "{\"key\":\"alpha\"}},\"jsonrpc\":\"2.0\",\"id\":2}");
        assert_int_equal(client_tools_mcp_answer(tools, call, &reply), 0);
        assert_null(reply);

        json_auto_t *other = json_literal("{\"method\":\"resources/list\",\"jsonrpc\":\"2.0\",\"id\":3}");
        assert_int_equal(client_tools_mcp_answer(tools, other, &reply), 1);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(reply, "error"), "code")), -32601);
}

static void test_rename_payload(void **state) {
        json_auto_t *start = json_literal("{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
                                          "\"tool_use\",\"id\":\"t\",\"name\":\"mcp__cp__lookup\",\"input\":{}}}");
        json_auto_t *text = json_literal("{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
                                         "\"text\",\"text\":\"\"}}");
        json_auto_t *other = json_literal("{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
                                          "\"tool_use\",\"id\":\"t\",\"name\":\"StructuredOutput\",\"input\":{}}}");
        json_auto_t *msg = json_literal("{\"content\":[{\"type\":\"tool_use\",\"name\":\"mcp__cp__a\"},"
                                        "{\"type\":\"tool_use\",\"name\":\"mcp__cp__b\"},{\"type\":\"text\"}]}");

        assert_int_equal(client_tools_rename_payload(start, true), 1);
        assert_string_equal(json_string_value(json_object_get(json_object_get(start, "content_block"), "name")),
                            "lookup");
        assert_int_equal(client_tools_rename_payload(text, true), 0);
        assert_int_equal(client_tools_rename_payload(other, true), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(other, "content_block"), "name")),
                            "StructuredOutput");
        assert_int_equal(client_tools_rename_payload(msg, false), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(msg, "content"), 1),
                                                              "name")),
                            "b");
        assert_null(client_tools_client_name("Bash"));
        assert_string_equal(client_tools_client_name("mcp__cp__x"), "x");
}

static int parse(const char *body, ApiRequest *req, ApiError *err) {
        json_auto_t *j = json_literal(body);
        ApiEnv env = { .message_id = "msg_test", .default_model = "sonnet", .system_prompt_mode = SYSTEM_PROMPT_USER };

        *req = (ApiRequest) {};
        *err = (ApiError) {};
        return anthropic_request_parse(j, &env, req, err);
}

#define TOOLS "\"tools\":[{\"name\":\"lookup\",\"input_schema\":{\"type\":\"object\"}}]"

static void test_history_and_choice(void **state) {
        ApiRequest req;
        ApiError err;

        /* History names get the prefix; the body's own block is not changed. */
        json_auto_t *body = json_literal(
                "{\"model\":\"m\",\"max_tokens\":9," TOOLS ",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"lookup\","
                "\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
                "\"is_error\":true,\"content\":[{\"type\":\"text\",\"text\":\"no\"}]}]}]}");
        ApiEnv env = { .message_id = "msg_test", .default_model = "sonnet", .enable_thinking = true };
        assert_int_equal(anthropic_request_parse(body, &env, &req, &err), 0);
        const json_t *use = json_array_get(json_object_get(json_array_get(req.cli.messages, 1), "content"), 0);
        assert_string_equal(json_string_value(json_object_get(use, "name")), "mcp__cp__lookup");
        const json_t *orig = json_array_get(
                json_object_get(json_array_get(json_object_get(body, "messages"), 1), "content"), 0);
        assert_string_equal(json_string_value(json_object_get(orig, "name")), "lookup");
        const json_t *res = json_array_get(json_object_get(json_array_get(req.cli.messages, 2), "content"), 0);
        assert_true(json_is_true(json_object_get(res, "is_error")));
        assert_int_equal(json_array_size(req.cli.tools), 1);
        assert_null(req.approximated);
        /* The warm pool's late config and a cold run's initialize both declare the server. */
        json_auto_t *late = NULL, *init = NULL;
        assert_int_equal(cli_control_build_late_config(&req.cli, &late), 0);
        json_auto_t *want = json_literal("[{\"subtype\":\"initialize\",\"sdkMcpServers\":[\"cp\"]}]");
        assert_json_equal(late, want);
        assert_int_equal(cli_control_build_cold_initialize(&req.cli, &init), 0);
        assert_json_equal(init, json_array_get(want, 0));
        api_request_done(&req);

        /* The CLI takes one initialize per process: an appended system prompt shares it. */
        json_auto_t *body2 = json_literal("{\"model\":\"m\",\"max_tokens\":9," TOOLS ",\"system\":\"S\","
                                          "\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
        env.system_prompt_mode = SYSTEM_PROMPT_APPEND;
        assert_int_equal(anthropic_request_parse(body2, &env, &req, &err), 0);
        json_auto_t *late2 = NULL;
        assert_int_equal(cli_control_build_late_config(&req.cli, &late2), 0);
        json_auto_t *want2 = json_literal("[{\"subtype\":\"initialize\",\"appendSystemPrompt\":\"S\","
                                          "\"sdkMcpServers\":[\"cp\"]}]");
        assert_json_equal(late2, want2);
        api_request_done(&req);

        /* A result for a call nobody made. */
        assert_int_equal(parse("{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":["
                               "{\"type\":\"tool_result\",\"tool_use_id\":\"nope\",\"content\":\"x\"}]}]}",
                               &req, &err),
                         -EINVAL);
        assert_string_equal(err.param, "messages.0.content.0.tool_use_id");

        /* A call left without its result in the next user turn. */
        assert_int_equal(parse("{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
                               "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"a\","
                               "\"input\":{}},{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"b\",\"input\":{}}]},"
                               "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\"}]}]}",
                               &req, &err),
                         -EINVAL);
        assert_string_equal(err.param, "messages.2");
        assert_non_null(strstr(err.message, "'t2'"));

        /* none: nothing offered, nothing declared. */
        assert_int_equal(parse("{\"model\":\"m\",\"max_tokens\":9," TOOLS ",\"tool_choice\":{\"type\":\"none\"},"
                               "\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}", &req, &err),
                         0);
        assert_null(req.cli.tools);
        json_auto_t *none_init = NULL;
        assert_int_equal(cli_control_build_cold_initialize(&req.cli, &none_init), 0);
        assert_null(none_init);
        api_request_done(&req);

        /* tool: approximated in the system text, after the client's own. */
        assert_int_equal(parse("{\"model\":\"m\",\"max_tokens\":9," TOOLS ",\"system\":\"S\",\"tool_choice\":"
                               "{\"type\":\"tool\",\"name\":\"lookup\"},\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}",
                               &req, &err),
                         0);
        assert_string_equal(req.approximated, "tool_choice");
        assert_string_equal(req.cli.system_prompt,
                            "S\n\nYou must answer this turn by calling the tool \"mcp__cp__lookup\".");
        api_request_done(&req);

        assert_int_equal(parse("{\"model\":\"m\",\"max_tokens\":9," TOOLS ",\"tool_choice\":{\"type\":\"tool\","
                               "\"name\":\"other\"},\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}", &req, &err),
                         -EINVAL);
        assert_string_equal(err.param, "tool_choice.name");
}

/*
 * The recorded s2b run up to the message_stop of the tool call, names renamed as the session does,
 * through @feed; then the session's synthetic result (stop_reason tool_use) through @finish.
 */
static void feed_tool_call(void *t, int (*feed)(void *, unsigned, const CliEvent *, json_t *),
                           int (*finish)(void *, unsigned, const json_t *, json_t *), json_t *out) {
        json_auto_t *lines = fixture_lines("transcripts/s2b_park_then_interrupt.ndjson");
        json_auto_t *result = json_literal("{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
                                           "\"stop_reason\":\"tool_use\",\"result\":\"\"}");
        bool stopped = false;

        for (size_t i = 0; i < json_array_size(lines) && !stopped; i++) {
                const json_t *line = json_array_get(lines, i);
                CliEvent ev = {};

                assert_int_equal(cli_event_parse(json_string_value(line), json_string_length(line), &ev), 0);
                if (ev.type == CLI_EVENT_STREAM || ev.type == CLI_EVENT_ASSISTANT)
                        assert_true(client_tools_rename_payload((json_t *) ev.payload, ev.type == CLI_EVENT_STREAM) >= 0);
                stopped = ev.type == CLI_EVENT_STREAM &&
                          streq_ptr(json_string_value(json_object_get(ev.payload, "type")), "message_stop");
                assert_int_equal(feed(t, 0, &ev, out), 0);
                cli_event_done(&ev);
        }
        assert_true(stopped);
        assert_int_equal(finish(t, 0, result, out), 0);
}

/* Typed wrappers: calling through a cast function pointer type is undefined. */
static int chat_feed(void *t, unsigned i, const CliEvent *ev, json_t *out) {
        return openai_chat_stream_feed(t, i, ev, out);
}
static int chat_finish(void *t, unsigned i, const json_t *result, json_t *out) {
        return openai_chat_stream_finish(t, i, result, out);
}
static int responses_feed(void *t, unsigned i, const CliEvent *ev, json_t *out) {
        return openai_responses_stream_feed(t, i, ev, out);
}
static int responses_finish(void *t, unsigned i, const json_t *result, json_t *out) {
        return openai_responses_stream_finish(t, i, result, out);
}

static void test_chat_stream_tool_calls(void **state) {
        ApiRequest req = { .kind = API_OPENAI, .n = 1, .stream = true, .client_model = (char *) "m" };
        ApiEnv env = { .message_id = "chatcmpl-test", .created = 1 };
        OpenAIChatStream *s = NULL;
        json_auto_t *out = json_array();
        _cleanup_free_ char *args = NULL;
        const char *finish = NULL, *id = NULL, *name = NULL;
        size_t i, n = 0;
        const json_t *f;

        assert_int_equal(openai_chat_stream_new(&s, &req, &env), 0);
        feed_tool_call(s, chat_feed, chat_finish, out);
        args = strdup("");
        json_array_foreach(out, i, f) {
                const json_t *ch = json_array_get(json_object_get(json_object_get(f, "data"), "choices"), 0);
                const json_t *tc = json_array_get(json_object_get(json_object_get(ch, "delta"), "tool_calls"), 0);
                const char *a = json_string_value(json_object_get(json_object_get(tc, "function"), "arguments"));

                finish = json_string_value(json_object_get(ch, "finish_reason")) ?: finish;
                if (!tc)
                        continue;
                assert_int_equal(json_integer_value(json_object_get(tc, "index")), 0);
                id = json_string_value(json_object_get(tc, "id")) ?: id;
                name = json_string_value(json_object_get(json_object_get(tc, "function"), "name")) ?: name;
                if (a && *a) {
                        char *p = NULL;
                        assert_true(asprintf(&p, "%s%s", args, a) > 0);
                        free(args);
                        args = p;
                        n++;
                }
        }
        assert_string_equal(id, "toolu_mock_lookup_1");
        assert_string_equal(name, "lookup");
        assert_string_equal(args, "{\"key\": \"alpha\"}");
        assert_int_equal(n, 3);
        assert_string_equal(finish, "tool_calls");
        openai_chat_stream_free(s);
}

static void test_responses_stream_function_call(void **state) {
        ApiRequest req = { .kind = API_RESPONSES, .stream = true, .client_model = (char *) "m" };
        ApiEnv env = { .message_id = "resp_test", .created = 1 };
        OpenAIResponsesStream *s = NULL;
        json_auto_t *out = json_array();
        _cleanup_free_ char *types = NULL;
        size_t i, len = 0;
        const json_t *e, *done = NULL, *completed = NULL;
        FILE *f = open_memstream(&types, &len);

        assert_non_null(f);
        assert_int_equal(openai_responses_stream_new(&s, &req, &env), 0);
        feed_tool_call(s, responses_feed, responses_finish, out);
        json_array_foreach(out, i, e) {
                const char *name = json_string_value(json_object_get(e, "event"));
                const json_t *d = json_object_get(e, "data");

                if (strstr(name, "function_call") || streq(name, "response.output_item.added"))
                        fprintf(f, "%s;", name);
                if (streq(name, "response.function_call_arguments.done"))
                        done = d;
                if (streq(name, "response.completed"))
                        completed = json_object_get(d, "response");
        }
        fclose(f);
        assert_string_equal(types, "response.output_item.added;response.output_item.added;"
                                   "response.function_call_arguments.delta;response.function_call_arguments.delta;"
                                   "response.function_call_arguments.delta;response.function_call_arguments.done;");
        assert_string_equal(json_string_value(json_object_get(done, "arguments")), "{\"key\": \"alpha\"}");
        const json_t *call = json_array_get(json_object_get(completed, "output"), 1);
        json_auto_t *want = json_literal("{\"id\":\"fc_test_1\",\"type\":\"function_call\",\"status\":\"completed\","
                                         "\"call_id\":\"toolu_mock_lookup_1\",\"name\":\"lookup\","
                                         "\"arguments\":\"{\\\"key\\\": \\\"alpha\\\"}\"}");
        assert_json_equal(call, want);
        openai_responses_stream_free(s);
}

static void test_followup_and_digest(void **state) {
        json_auto_t *follow = json_literal(
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"t\"},{\"type\":\"tool_use\","
                "\"id\":\"a\",\"name\":\"mcp__cp__x\",\"input\":{}},{\"type\":\"tool_use\",\"id\":\"b\","
                "\"name\":\"mcp__cp__y\",\"input\":{}}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"b\",\"content\":\"B\"},"
                "{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"is_error\":true,\"content\":[{\"type\":\"text\","
                "\"text\":\"A\"},{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
                "\"data\":\"iVBO\"}}]}]}]");
        json_auto_t *ids = NULL, *results = NULL;

        assert_int_equal(client_tools_followup(follow, &ids, &results), 1);
        json_auto_t *want_ids = json_literal("[\"a\",\"b\"]");
        assert_json_equal(ids, want_ids);
        json_auto_t *want = json_literal(
                "{\"b\":{\"content\":[{\"type\":\"text\",\"text\":\"B\"}],\"isError\":false},"
                "\"a\":{\"content\":[{\"type\":\"text\",\"text\":\"A\"},{\"type\":\"image\",\"data\":\"iVBO\","
                "\"mimeType\":\"image/png\"}],\"isError\":true}}");
        assert_json_equal(results, want);
        json_decref(TAKE_PTR(ids));
        json_decref(TAKE_PTR(results));

        /* Text next to the results, or a result missing: not a follow-up a parked run can take. */
        json_t *last = json_object_get(json_array_get(follow, 2), "content");
        json_array_append_new(last, json_pack("{s:s,s:s}", "type", "text", "text", "more"));
        assert_int_equal(client_tools_followup(follow, &ids, &results), 0);
        json_array_remove(last, 2);
        json_array_remove(last, 0);
        assert_int_equal(client_tools_followup(follow, &ids, &results), 0);
        assert_null(ids);

        /* The digest of a conversation equals that of its follow-up minus the last two turns. */
        CliRequest a = { .model = (char *) "sonnet", .thinking = true, .messages = json_array() };
        CliRequest b = a;
        uint64_t da, db, dc;

        json_array_append(a.messages, json_array_get(follow, 0));
        b.messages = follow;
        assert_int_equal(client_tools_digest(&a, 1, &da), 0);
        assert_int_equal(client_tools_digest(&b, 1, &db), 0);
        assert_true(da == db);
        /* Claude Code moves its cache_control mark to the newest block: not a different turn. */
        json_t *q = json_array_get(json_object_get(json_array_get(a.messages, 0), "content"), 0);
        json_object_set_new(q, "cache_control", json_pack("{s:s}", "type", "ephemeral"));
        assert_int_equal(client_tools_digest(&a, 1, &dc), 0);
        assert_true(da == dc);
        json_object_set_new(q, "text", json_string("other"));
        assert_int_equal(client_tools_digest(&a, 1, &dc), 0);
        assert_true(da != dc);
        json_object_set_new(q, "text", json_string("q"));
        json_object_del(q, "cache_control");
        b.model = (char *) "opus";
        assert_int_equal(client_tools_digest(&b, 1, &dc), 0);
        assert_true(da != dc);

        /* A run parked with a schema or registry servers is not another request's follow-up. */
        char *reg[] = { (char *) "reg", NULL }, *reg2[] = { (char *) "re", (char *) "g", NULL };
        b.model = a.model;
        b.json_schema = json_pack("{s:s}", "type", "object");
        assert_int_equal(client_tools_digest(&b, 1, &dc), 0);
        assert_true(da != dc);
        json_decref(b.json_schema);
        b.json_schema = NULL;
        /* The registry servers, folded in later: none, one, the same one, split differently. */
        uint64_t none = da, one = da, same = da, split = da;
        client_tools_digest_servers(&none, NULL);
        client_tools_digest_servers(&one, reg);
        client_tools_digest_servers(&same, reg);
        client_tools_digest_servers(&split, reg2);
        assert_true(none != one);
        assert_true(one == same);
        assert_true(one != split);
        json_decref(a.messages);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_validates),
                cmocka_unit_test(test_mcp_answers),
                cmocka_unit_test(test_rename_payload),
                cmocka_unit_test(test_history_and_choice),
                cmocka_unit_test(test_chat_stream_tool_calls),
                cmocka_unit_test(test_responses_stream_function_call),
                cmocka_unit_test(test_followup_and_digest),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
