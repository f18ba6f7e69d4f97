/* SPDX-License-Identifier: MIT */

/*
 * The registry tools' calls kept from the client: a real CLI run that called mcp__reg__lookup
 * (tests/data/transcripts/registry_tool.ndjson) through the filter and the Messages translator.
 */

#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "cli/stream.h"
#include "helpers.h"
#include "mcp-filter.h"
#include "util/macro.h"

/* Every line of the transcript through a filter for @servers; the passed events' lines in *ret. */
static json_t *filtered(char **servers, json_t **ret_message) {
        json_auto_t *lines = fixture_lines("transcripts/registry_tool.ndjson");
        json_t *passed = json_array(), *events = json_array(), *line, *result = NULL;
        ApiRequest req = { .kind = API_ANTHROPIC, .client_model = (char *) "claude-sonnet-4-5" };
        ApiEnv env = { .message_id = "msg_test" };
        AnthropicStream *s = NULL;
        McpFilter *f = NULL;
        size_t i;

        assert_int_equal(mcp_filter_new(&f, servers), 0);
        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        json_array_foreach(lines, i, line) {
                CliEvent ev = {}, swapped = {};
                int v;

                assert_int_equal(cli_event_parse(json_string_value(line), json_string_length(line), &ev), 0);
                v = mcp_filter_event(f, &ev, &swapped);
                assert_true(v >= 0);
                if (v != MCP_FILTER_DROP) {
                        const CliEvent *e = v == MCP_FILTER_REPLACED ? &swapped : &ev;

                        json_array_append(passed, e->root);
                        assert_int_equal(anthropic_stream_feed(s, e, events), 0);
                }
                if (ev.type == CLI_EVENT_RESULT)
                        result = json_incref(ev.root);
                cli_event_done(&swapped);
                cli_event_done(&ev);
        }
        assert_non_null(result);
        assert_int_equal(anthropic_stream_finish(s, result, events), 0);
        assert_int_equal(anthropic_stream_message(s, result, ret_message), 0);
        anthropic_stream_free(s);
        mcp_filter_free(f);
        json_decref(result);
        json_decref(events);
        return passed;
}

static bool has_tool_use(const json_t *roots) {
        _cleanup_free_ char *text = json_dumps(roots, JSON_COMPACT);

        return strstr(text, "\"tool_use\",\"id\"") || strstr(text, "\"type\":\"tool_use\"") ||
               strstr(text, "input_json_delta");
}

static void test_registry_calls_hidden(void **state) {
        char *servers[] = { (char *) "other", (char *) "reg", NULL };
        json_auto_t *message = NULL, *passed = filtered(servers, &message);
        json_auto_t *want = json_literal("[{\"type\":\"text\",\"text\":\"Let me look.\"},"
                                         "{\"type\":\"text\",\"text\":\"The tool said: value-of-alpha:s3cr3t-XYZ\"}]");
        const json_t *root;
        size_t i;
        int deltas = 0;

        assert_false(has_tool_use(passed));
        assert_json_equal(json_object_get(message, "content"), want);
        assert_string_equal(json_string_value(json_object_get(message, "stop_reason")), "end_turn");
        /* The first message's stop "tool_use" became "end_turn": the client has no call to answer. */
        json_array_foreach(passed, i, root) {
                const json_t *ev = json_object_get(root, "event");

                if (streq_ptr(json_string_value(json_object_get(ev, "type")), "message_delta")) {
                        assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "delta"),
                                                                              "stop_reason")), "end_turn");
                        deltas++;
                }
        }
        assert_int_equal(deltas, 2);
}

/* Another server's name (or a prefix of it) hides nothing: the call is shown as it came. */
static void test_other_servers_pass(void **state) {
        char *servers[] = { (char *) "re", (char *) "regx", NULL };
        json_auto_t *message = NULL, *passed = filtered(servers, &message);

        assert_true(has_tool_use(passed));
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(message, "content"), 1),
                                                              "name")), "mcp__reg__lookup");
}

/* An assistant line with the call and other blocks keeps the others; the call alone is dropped. */
static void test_assistant_lines(void **state) {
        char *servers[] = { (char *) "reg", NULL };
        static const char mixed[] =
                "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"role\":\"assistant\",\"content\":["
                "{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"mcp__reg__x\",\"input\":{}},"
                "{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"mcp__cp__y\",\"input\":{}}]}}";
        static const char alone[] =
                "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"role\":\"assistant\",\"content\":["
                "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"mcp__reg__x\",\"input\":{}}]}}";
        CliEvent ev = {}, out = {};
        McpFilter *f = NULL;

        assert_int_equal(mcp_filter_new(&f, servers), 0);
        assert_int_equal(cli_event_parse(mixed, strlen(mixed), &ev), 0);
        assert_int_equal(mcp_filter_event(f, &ev, &out), MCP_FILTER_REPLACED);
        assert_int_equal(out.type, CLI_EVENT_ASSISTANT);
        json_auto_t *want = json_literal("[{\"type\":\"text\",\"text\":\"a\"},"
                                         "{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"mcp__cp__y\",\"input\":{}}]");
        assert_json_equal(json_object_get(out.payload, "content"), want);
        cli_event_done(&out);
        cli_event_done(&ev);

        assert_int_equal(cli_event_parse(alone, strlen(alone), &ev), 0);
        assert_int_equal(mcp_filter_event(f, &ev, &out), MCP_FILTER_DROP);
        assert_null(out.root);
        cli_event_done(&ev);

        /* A client tool shown in the same message keeps its stop_reason tool_use. */
        static const char *const msg[] = {
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":0,"
                "\"content_block\":{\"type\":\"tool_use\",\"name\":\"mcp__reg__x\"}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":1,"
                "\"content_block\":{\"type\":\"tool_use\",\"name\":\"mcp__cp__y\"}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":99999,\"delta\":{}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"}}}",
        };
        static const int verdict[] = { MCP_FILTER_PASS, MCP_FILTER_DROP, MCP_FILTER_PASS, MCP_FILTER_PASS,
                                       MCP_FILTER_PASS };
        for (size_t i = 0; i < ELEMENTSOF(msg); i++) {
                assert_int_equal(cli_event_parse(msg[i], strlen(msg[i]), &ev), 0);
                assert_int_equal(mcp_filter_event(f, &ev, &out), verdict[i]);
                cli_event_done(&ev);
        }
        mcp_filter_free(f);
        assert_null(mcp_filter_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_registry_calls_hidden),
                cmocka_unit_test(test_other_servers_pass),
                cmocka_unit_test(test_assistant_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
