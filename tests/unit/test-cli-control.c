/* SPDX-License-Identifier: MIT */

/*
 * cli/control.c: host request lines, the correlation table, classification of the CLI's control
 * lines, and the host's answers. Wherever a real line exists it comes from a recorded run of the
 * CLI 2.1.197 (tests/data/transcripts/s* and warm_*): the CLI's stdout lines are fed through
 * cli_event_parse() exactly as a run would, and the host lines the CLI accepted in those runs
 * (`stdin_written` in the .meta.json) are what the builders must produce.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/control.h"
#include "cli/stream.h"
#include "helpers.h"
#include "util/macro.h"

static void cli_event_donep(CliEvent *ev) {
        cli_event_done(ev);
}
#define _cleanup_event_ _cleanup_(cli_event_donep)

static void parse_json(const json_t *line, CliEvent *ret) {
        _cleanup_free_ char *text = json_dumps(line, JSON_COMPACT);

        assert_non_null(text);
        assert_int_equal(cli_event_parse(text, strlen(text), ret), 0);
}

static void parse_str(const char *text, CliEvent *ret) {
        assert_int_equal(cli_event_parse(text, strlen(text), ret), 0);
}

/* Every stdout line of a transcript, parsed. */
static json_t *transcript_lines(const char *name) {
        _cleanup_free_ char *rel = NULL;
        json_t *raw, *out = json_array();
        const json_t *l;
        size_t i;

        assert_true(asprintf(&rel, "transcripts/%s.ndjson", name) > 0);
        raw = fixture_lines(rel);
        json_array_foreach(raw, i, l)
                assert_int_equal(json_array_append_new(out, json_literal(json_string_value(l))), 0);
        json_decref(raw);
        return out;
}

/* The CLI's control_request line whose mcp_message has this JSON-RPC method (the first one). */
static json_t *transcript_mcp_request(const char *name, const char *method) {
        json_auto_t *lines = transcript_lines(name);
        const json_t *l;
        size_t i;

        json_array_foreach(lines, i, l) {
                const json_t *req = json_object_get(l, "request");
                const char *m = json_string_value(json_object_get(json_object_get(req, "message"), "method"));

                if (streq_ptr(json_string_value(json_object_get(l, "type")), "control_request") && streq_ptr(m, method))
                        return json_incref((json_t *) l);
        }
        fail_msg("%s: no mcp_message %s", name, method);
        return NULL;
}

/* The CLI's control_response line to the host request with this id. */
static json_t *transcript_response(const char *name, const char *request_id) {
        json_auto_t *lines = transcript_lines(name);
        const json_t *l;
        size_t i;

        json_array_foreach(lines, i, l) {
                const json_t *resp = json_object_get(l, "response");

                if (streq_ptr(json_string_value(json_object_get(l, "type")), "control_response") &&
                    streq_ptr(json_string_value(json_object_get(resp, "request_id")), request_id))
                        return json_incref((json_t *) l);
        }
        fail_msg("%s: no control_response %s", name, request_id);
        return NULL;
}

/* A line the host wrote in a recorded run: the first whose text contains @needle. */
static json_t *transcript_host_line(const char *name, const char *needle) {
        _cleanup_free_ char *rel = NULL;
        json_auto_t *meta = NULL;
        const json_t *s, *written;
        size_t i;

        assert_true(asprintf(&rel, "transcripts/%s.meta.json", name) > 0);
        meta = fixture_json(rel);
        written = json_object_get(meta, "stdin_written") ?: json_object_get(meta, "stdin");
        json_array_foreach(written, i, s) {
                const char *line = json_string_value(json_object_get(s, "line"));

                if (line && strstr(line, needle))
                        return json_literal(line);
        }
        fail_msg("%s: no host line with %s", name, needle);
        return NULL;
}

/* A recorded response line, re-addressed to one of our ids (the recorded host used its own). */
static json_t *readdress(const json_t *line, const char *request_id) {
        json_t *copy = json_deep_copy(line);

        assert_int_equal(json_object_set_new(json_object_get(copy, "response"), "request_id",
                                             json_string(request_id)), 0);
        return copy;
}

static void test_kind_names(void **state) {
        for (CliControlKind k = 0; k < _CLI_CONTROL_KIND_MAX; k++) {
                const char *s = cli_control_kind_to_string(k);

                assert_non_null(s);
                assert_int_equal(cli_control_kind_from_string(s), k);
        }
        assert_null(cli_control_kind_to_string(_CLI_CONTROL_KIND_MAX));
        assert_int_equal(cli_control_kind_from_string("mcp_status"), CLI_CONTROL_OTHER);
        assert_int_equal(cli_control_kind_from_string(NULL), _CLI_CONTROL_KIND_INVALID);
        for (CliAskKind k = 0; k < _CLI_ASK_KIND_MAX; k++)
                assert_non_null(cli_ask_kind_to_string(k));
        assert_null(cli_ask_kind_to_string(_CLI_ASK_KIND_MAX));
}

/* The request object of a host line, sent through a fresh table. */
static json_t *sent_request(json_t *request) {
        _cleanup_(cli_control_freep) CliControl *c = NULL;
        json_auto_t *line = NULL;

        assert_int_equal(cli_control_new(&c), 0);
        assert_int_equal(cli_control_send(c, request, NULL, &line), 0);
        return json_incref(json_object_get(line, "request"));
}

static void test_build_initialize(void **state) {
        char *servers[] = { (char *) "cp", NULL };
        json_auto_t *schema = json_literal("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}}}");
        json_auto_t *req = NULL, *expected = NULL, *recorded = NULL, *got = NULL;

        /* Nothing set: the bare request (warm_initialize_empty: changes nothing upstream). */
        assert_int_equal(cli_control_build_initialize(&(CliControlInit) {}, &req), 0);
        expected = json_literal("{\"subtype\":\"initialize\"}");
        assert_json_equal(req, expected);
        json_decref(req);
        json_decref(expected);

        assert_int_equal(cli_control_build_initialize(&(CliControlInit) {
                                 .system_prompt = "S", .append_system_prompt = "A",
                                 .json_schema = schema, .sdk_mcp_servers = servers }, &req), 0);
        expected = json_literal("{\"subtype\":\"initialize\",\"systemPrompt\":[\"S\"],\"appendSystemPrompt\":\"A\","
                                "\"jsonSchema\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}}},"
                                "\"sdkMcpServers\":[\"cp\"]}");
        assert_json_equal(req, expected);
        /* a copy: the caller's schema stays the caller's */
        assert_ptr_not_equal(json_object_get(req, "jsonSchema"), schema);
        json_decref(req);

        /* What the host wrote in s4a, and the CLI applied (late system prompt, append, sdk server). */
        recorded = transcript_host_line("s4a_warm_late_initialize_sdk_server", "\"initialize\"");
        assert_int_equal(cli_control_build_initialize(&(CliControlInit) {
                                 .system_prompt = "LATE SYSTEM PROMPT (array form).",
                                 .append_system_prompt = "LATE APPENDED TEXT.",
                                 .sdk_mcp_servers = servers }, &req), 0);
        got = sent_request(TAKE_PTR(req));
        assert_json_equal(got, json_object_get(recorded, "request"));
}

static void check_request(json_t *req, const char *expected_text) {
        json_auto_t *expected = json_literal(expected_text);

        assert_non_null(req);
        assert_json_equal(req, expected);
        json_decref(req);
}

static void test_build_settings(void **state) {
        json_t *req = NULL;

        assert_int_equal(cli_control_build_set_model("claude-sonnet-4-6", &req), 0);
        check_request(req, "{\"subtype\":\"set_model\",\"model\":\"claude-sonnet-4-6\"}");
        assert_int_equal(cli_control_build_set_model(NULL, &req), 0);
        check_request(req, "{\"subtype\":\"set_model\"}");

        assert_int_equal(cli_control_build_set_max_thinking_tokens(0, &req), 0);
        check_request(req, "{\"subtype\":\"set_max_thinking_tokens\",\"max_thinking_tokens\":0}");
        assert_int_equal(cli_control_build_set_max_thinking_tokens(4096, &req), 0);
        check_request(req, "{\"subtype\":\"set_max_thinking_tokens\",\"max_thinking_tokens\":4096}");
        assert_int_equal(cli_control_build_set_max_thinking_tokens(-1, &req), 0);
        check_request(req, "{\"subtype\":\"set_max_thinking_tokens\",\"max_thinking_tokens\":null}");

        assert_int_equal(cli_control_build_set_effort("low", &req), 0);
        check_request(req, "{\"subtype\":\"apply_flag_settings\",\"settings\":{\"effortLevel\":\"low\"}}");
        assert_int_equal(cli_control_build_set_effort("max", &req), 0);
        check_request(req, "{\"subtype\":\"apply_flag_settings\",\"settings\":{\"effortLevel\":\"max\"}}");
        assert_int_equal(cli_control_build_set_effort(NULL, &req), 0);
        check_request(req, "{\"subtype\":\"apply_flag_settings\",\"settings\":{\"effortLevel\":null}}");
        req = NULL;
        assert_int_equal(cli_control_build_set_effort("bogus", &req), -EINVAL);
        assert_int_equal(cli_control_build_set_effort("", &req), -EINVAL);
        assert_null(req);

        /* stolen even when refused (ASan would see a leak otherwise) */
        assert_int_equal(cli_control_build_apply_flag_settings(json_string("x"), &req), -EINVAL);
        assert_int_equal(cli_control_build_apply_flag_settings(json_pack("{s:b}", "fastMode", 0), &req), 0);
        check_request(req, "{\"subtype\":\"apply_flag_settings\",\"settings\":{\"fastMode\":false}}");

        assert_int_equal(cli_control_build_generic("mcp_status", &req), 0);
        check_request(req, "{\"subtype\":\"mcp_status\"}");
        assert_int_equal(cli_control_build_generic("", &req), -EINVAL);
}

/* The exact lines of the recorded runs: interrupt (s2b), get_context_usage (s5a), the warm_* settings. */
static void test_build_matches_recorded(void **state) {
        static const struct {
                const char *transcript, *needle;
        } cases[] = {
                { "s2b_park_then_interrupt", "\"interrupt\"" },
                { "s5a_get_context_usage_session_cost", "\"get_context_usage\"" },
                { "warm_effort", "apply_flag_settings" },
                { "warm_effort_max", "apply_flag_settings" },
                { "warm_thinking_off", "set_max_thinking_tokens" },
                { "warm_keyed_model_thinking_budget", "set_max_thinking_tokens" },
                { "warm_set_model_id", "set_model" },
                { "warm_system_replace", "initialize" },
                { "warm_system_append", "initialize" },
        };
        /* The text both warm_system_* runs set (tests/record/record.mjs SYSTEM_FILE_TEXT). */
        const char *text = "SYSTEM PROMPT FROM THE REQUEST.\nSecond line.";

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_auto_t *recorded = transcript_host_line(cases[i].transcript, cases[i].needle);
                const json_t *want = json_object_get(recorded, "request");
                const char *subtype = json_string_value(json_object_get(want, "subtype"));
                json_t *req = NULL;
                json_auto_t *got = NULL;

                if (streq(subtype, "interrupt"))
                        assert_int_equal(cli_control_build_interrupt(&req), 0);
                else if (streq(subtype, "get_context_usage"))
                        assert_int_equal(cli_control_build_get_context_usage(&req), 0);
                else if (streq(subtype, "apply_flag_settings"))
                        assert_int_equal(cli_control_build_set_effort(json_string_value(json_object_get(
                                                 json_object_get(want, "settings"), "effortLevel")), &req), 0);
                else if (streq(subtype, "set_max_thinking_tokens"))
                        assert_int_equal(cli_control_build_set_max_thinking_tokens(
                                                 json_integer_value(json_object_get(want, "max_thinking_tokens")), &req), 0);
                else if (streq(subtype, "set_model"))
                        assert_int_equal(cli_control_build_set_model(
                                                 json_string_value(json_object_get(want, "model")), &req), 0);
                else if (json_object_get(want, "systemPrompt"))
                        assert_int_equal(cli_control_build_initialize(&(CliControlInit) { .system_prompt = text }, &req), 0);
                else
                        assert_int_equal(cli_control_build_initialize(&(CliControlInit) { .append_system_prompt = text },
                                                                      &req), 0);
                got = sent_request(req);
                assert_json_equal(got, want);
        }
}

static void test_send_ids_and_matching(void **state) {
        _cleanup_(cli_control_freep) CliControl *c = NULL;
        json_auto_t *l1 = NULL, *l2 = NULL, *l3 = NULL, *expected = NULL;
        json_auto_t *real_init = NULL, *real_ok = NULL, *real_err = NULL;
        int cookie1, cookie2, cookie3;
        json_t *req = NULL;

        assert_int_equal(cli_control_new(&c), 0);
        assert_int_equal(cli_control_build_initialize(&(CliControlInit) { .append_system_prompt = "A" }, &req), 0);
        assert_int_equal(cli_control_send(c, req, &cookie1, &l1), 0);
        assert_int_equal(cli_control_build_set_effort("low", &req), 0);
        assert_int_equal(cli_control_send(c, req, &cookie2, &l2), 0);
        assert_int_equal(cli_control_build_generic("mcp_reconnect", &req), 0);
        assert_int_equal(cli_control_send(c, req, &cookie3, &l3), 0);
        assert_int_equal(cli_control_n_pending(c), 3);

        expected = json_literal("{\"type\":\"control_request\",\"request_id\":\"host_1\","
                                "\"request\":{\"subtype\":\"initialize\",\"appendSystemPrompt\":\"A\"}}");
        assert_json_equal(l1, expected);
        assert_string_equal(json_string_value(json_object_get(l2, "request_id")), "host_2");
        assert_string_equal(json_string_value(json_object_get(l3, "request_id")), "host_3");

        /* Real answers, re-addressed: initialize (s4a), a bare success (warm_effort), an error (s4d). */
        real_init = transcript_response("s4a_warm_late_initialize_sdk_server", "init_1");
        real_ok = transcript_response("warm_effort", "effort_1");
        real_err = transcript_response("s4d_warm_sdk_server_replace_tools", "rc_1");

        /* Out of order: the error for host_3 first. */
        {
                json_auto_t *line = readdress(real_err, "host_3");
                _cleanup_event_ CliEvent ev = {};
                CliControlIn in;

                parse_json(line, &ev);
                assert_int_equal(ev.type, CLI_EVENT_CONTROL_RESPONSE);
                assert_int_equal(cli_control_receive(c, &ev, &in), 0);
                assert_int_equal(in.type, CLI_CONTROL_IN_RESPONSE);
                assert_false(in.success);
                assert_string_equal(in.error, "SDK servers should be handled in print.ts");
                assert_null(in.response);
                assert_int_equal(in.kind, CLI_CONTROL_OTHER);
                assert_ptr_equal(in.cookie, &cookie3);
                assert_int_equal(cli_control_n_pending(c), 2);
        }
        {
                json_auto_t *line = readdress(real_init, "host_1");
                _cleanup_event_ CliEvent ev = {};
                CliControlIn in;

                parse_json(line, &ev);
                assert_int_equal(cli_control_receive(c, &ev, &in), 0);
                assert_int_equal(in.type, CLI_CONTROL_IN_RESPONSE);
                assert_true(in.success);
                assert_int_equal(in.kind, CLI_CONTROL_INITIALIZE);
                assert_ptr_equal(in.cookie, &cookie1);
                /* the initialize answer lists models, commands, account... */
                assert_true(json_is_array(json_object_get(in.response, "models")));
                assert_string_equal(in.request_id, "host_1");
        }
        /* The same answer again is stray, not a second match. */
        {
                json_auto_t *line = readdress(real_init, "host_1");
                _cleanup_event_ CliEvent ev = {};
                CliControlIn in;

                parse_json(line, &ev);
                assert_int_equal(cli_control_receive(c, &ev, &in), 0);
                assert_int_equal(in.type, CLI_CONTROL_IN_STRAY_RESPONSE);
                assert_null(in.cookie);
        }
        /* Forgotten, then answered: stray too. */
        assert_ptr_equal(cli_control_forget(c, "host_2"), &cookie2);
        assert_null(cli_control_forget(c, "host_2"));
        assert_null(cli_control_forget(c, NULL));
        assert_int_equal(cli_control_n_pending(c), 0);
        {
                json_auto_t *line = readdress(real_ok, "host_2");
                _cleanup_event_ CliEvent ev = {};
                CliControlIn in;

                parse_json(line, &ev);
                assert_int_equal(cli_control_receive(c, &ev, &in), 0);
                assert_int_equal(in.type, CLI_CONTROL_IN_STRAY_RESPONSE);
                assert_true(in.success);
                assert_null(in.response);
        }
}

/* Every control line the CLI printed in every recorded run is understood; none matches a fresh table. */
static void test_transcripts(void **state) {
        static const char *const names[] = {
                "s1a_sdk_mcp_no_initialize", "s1e_sdk_mcp_jsonrpc_error", "s2b_park_then_interrupt",
                "s4a_warm_late_initialize_sdk_server", "s4d_warm_sdk_server_replace_tools",
                "s5a_get_context_usage_session_cost", "warm_misc_requests", "warm_all_pipelined",
                "warm_keyed_model_pipelined",
        };
        unsigned asks = 0, responses = 0;

        for (size_t n = 0; n < ELEMENTSOF(names); n++) {
                _cleanup_(cli_control_freep) CliControl *c = NULL;
                json_auto_t *lines = transcript_lines(names[n]);
                const json_t *l;
                size_t i;

                assert_int_equal(cli_control_new(&c), 0);
                json_array_foreach(lines, i, l) {
                        _cleanup_event_ CliEvent ev = {};
                        CliControlIn in;
                        int r;

                        parse_json(l, &ev);
                        r = cli_control_receive(c, &ev, &in);
                        if (ev.type != CLI_EVENT_CONTROL_REQUEST && ev.type != CLI_EVENT_CONTROL_RESPONSE) {
                                assert_int_equal(r, -EINVAL);
                                continue;
                        }
                        if (r < 0)
                                fail_msg("%s line %zu: %d", names[n], i + 1, r);
                        if (in.type == CLI_CONTROL_IN_ASK) {
                                /* the CLI only ever asked about its sdk server in these runs */
                                assert_int_equal(in.ask, CLI_ASK_MCP_MESSAGE);
                                assert_string_equal(in.server_name, "cp");
                                asks++;
                        } else {
                                assert_int_equal(in.type, CLI_CONTROL_IN_STRAY_RESPONSE);
                                responses++;
                        }
                }
        }
        assert_true(asks >= 20);
        assert_true(responses >= 10);
}

static void check_ask_answer(const char *transcript, const char *method, bool notification) {
        json_auto_t *line = transcript_mcp_request(transcript, method);
        _cleanup_event_ CliEvent ev = {};
        _cleanup_(cli_control_freep) CliControl *c = NULL;
        json_auto_t *answer = NULL, *recorded = NULL;
        CliControlIn in;

        assert_int_equal(cli_control_new(&c), 0);
        parse_json(line, &ev);
        assert_int_equal(cli_control_receive(c, &ev, &in), 0);
        assert_int_equal(in.type, CLI_CONTROL_IN_ASK);
        assert_int_equal(in.ask, CLI_ASK_MCP_MESSAGE);
        assert_string_equal(in.ask_subtype, "mcp_message");
        assert_string_equal(json_string_value(json_object_get(in.mcp_message, "method")), method);
        assert_int_equal(in.mcp_notification, notification);
        assert_string_equal(in.request_id, json_string_value(json_object_get(line, "request_id")));

        /* The answer the recorded host gave (and the CLI took) is what the builder produces. */
        recorded = transcript_host_line(transcript, in.request_id);
        if (notification)
                assert_int_equal(cli_control_build_refusal(&in, &answer), 0);
        else
                assert_int_equal(cli_control_build_mcp_response(in.request_id, json_deep_copy(json_object_get(
                                         json_object_get(json_object_get(recorded, "response"), "response"),
                                         "mcp_response")), &answer), 0);
        assert_json_equal(answer, recorded);
}

static void test_mcp_asks(void **state) {
        check_ask_answer("s1a_sdk_mcp_no_initialize", "initialize", false);
        check_ask_answer("s1a_sdk_mcp_no_initialize", "notifications/initialized", true);
        check_ask_answer("s1a_sdk_mcp_no_initialize", "tools/list", false);
        check_ask_answer("s1a_sdk_mcp_no_initialize", "tools/call", false);
        /* a JSON-RPC error reply goes back the same way (s1e) */
        check_ask_answer("s1e_sdk_mcp_jsonrpc_error", "tools/call", false);
        /* the cancel notification the CLI sends on interrupt while parked (s2b) */
        check_ask_answer("s2b_park_then_interrupt", "notifications/cancelled", true);
}

/* Asks the recorded runs did not contain, in the shapes of the CLI's schema (cli/README §16). */
static void test_refusals(void **state) {
        static const struct {
                const char *line;
                CliAskKind ask;
                const char *answer;
        } cases[] = {
                { "{\"type\":\"control_request\",\"request_id\":\"r1\",\"request\":{\"subtype\":\"can_use_tool\","
                  "\"tool_name\":\"mcp__cp__lookup\",\"input\":{\"key\":\"a\"},\"tool_use_id\":\"toolu_1\"}}",
                  CLI_ASK_CAN_USE_TOOL,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"r1\","
                  "\"response\":{\"behavior\":\"deny\",\"message\":\"The host does not grant permission to use this tool.\","
                  "\"toolUseID\":\"toolu_1\"}}}" },
                { "{\"type\":\"control_request\",\"request_id\":\"r2\",\"request\":{\"subtype\":\"elicitation\","
                  "\"mcp_server_name\":\"cp\",\"message\":\"?\"}}",
                  CLI_ASK_ELICITATION,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"r2\","
                  "\"response\":{\"action\":\"decline\"}}}" },
                { "{\"type\":\"control_request\",\"request_id\":\"r3\",\"request\":{\"subtype\":\"request_user_dialog\","
                  "\"dialog_kind\":\"x\",\"payload\":{}}}",
                  CLI_ASK_REQUEST_USER_DIALOG,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"r3\","
                  "\"response\":{\"behavior\":\"cancelled\"}}}" },
                { "{\"type\":\"control_request\",\"request_id\":\"r4\",\"request\":{\"subtype\":\"hook_callback\","
                  "\"callback_id\":\"h\",\"input\":{}}}",
                  CLI_ASK_HOOK_CALLBACK,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":\"r4\","
                  "\"error\":\"Unsupported control request subtype: hook_callback\"}}" },
                { "{\"type\":\"control_request\",\"request_id\":\"r5\",\"request\":{\"subtype\":\"brand_new\"}}",
                  CLI_ASK_UNKNOWN,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":\"r5\","
                  "\"error\":\"Unsupported control request subtype: brand_new\"}}" },
                { "{\"type\":\"control_request\",\"request_id\":\"r6\",\"request\":{}}",
                  CLI_ASK_UNKNOWN,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":\"r6\","
                  "\"error\":\"Unsupported control request subtype: (none)\"}}" },
                /* known subtypes without what they need are answered like unknown ones */
                { "{\"type\":\"control_request\",\"request_id\":\"r7\",\"request\":{\"subtype\":\"mcp_message\","
                  "\"message\":{\"method\":\"tools/list\",\"id\":1}}}",
                  CLI_ASK_UNKNOWN,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":\"r7\","
                  "\"error\":\"Unsupported control request subtype: mcp_message\"}}" },
                { "{\"type\":\"control_request\",\"request_id\":\"r8\",\"request\":{\"subtype\":\"can_use_tool\"}}",
                  CLI_ASK_UNKNOWN,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":\"r8\","
                  "\"error\":\"Unsupported control request subtype: can_use_tool\"}}" },
                /* an MCP request for a server the host does not serve: the SDK's words */
                { "{\"type\":\"control_request\",\"request_id\":\"r9\",\"request\":{\"subtype\":\"mcp_message\","
                  "\"server_name\":\"other\",\"message\":{\"jsonrpc\":\"2.0\",\"method\":\"tools/list\",\"id\":1}}}",
                  CLI_ASK_MCP_MESSAGE,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":\"r9\","
                  "\"error\":\"SDK MCP server not found: other\"}}" },
                /* a null id is a notification, as for the SDK */
                { "{\"type\":\"control_request\",\"request_id\":\"r10\",\"request\":{\"subtype\":\"mcp_message\","
                  "\"server_name\":\"cp\",\"message\":{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":null}}}",
                  CLI_ASK_MCP_MESSAGE,
                  "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"r10\","
                  "\"response\":{\"mcp_response\":{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":0}}}}" },
        };
        _cleanup_(cli_control_freep) CliControl *c = NULL;

        assert_int_equal(cli_control_new(&c), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_event_ CliEvent ev = {};
                json_auto_t *answer = NULL, *expected = json_literal(cases[i].answer);
                CliControlIn in;

                parse_str(cases[i].line, &ev);
                assert_int_equal(cli_control_receive(c, &ev, &in), 0);
                assert_int_equal(in.type, CLI_CONTROL_IN_ASK);
                assert_int_equal(in.ask, cases[i].ask);
                assert_int_equal(cli_control_build_refusal(&in, &answer), 0);
                assert_json_equal(answer, expected);
        }
}

static void test_cancel(void **state) {
        _cleanup_(cli_control_freep) CliControl *c = NULL;
        _cleanup_event_ CliEvent ev = {};
        json_auto_t *answer = NULL;
        CliControlIn in;

        assert_int_equal(cli_control_new(&c), 0);
        /* The shape the CLI's StructuredIO writes when it aborts one of its own requests. */
        parse_str("{\"type\":\"control_cancel_request\",\"request_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}", &ev);
        assert_int_equal(ev.type, CLI_EVENT_CONTROL_CANCEL_REQUEST);
        assert_int_equal(cli_control_receive(c, &ev, &in), 0);
        assert_int_equal(in.type, CLI_CONTROL_IN_CANCEL);
        assert_string_equal(in.request_id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
        /* nothing to answer */
        assert_int_equal(cli_control_build_refusal(&in, &answer), -EINVAL);
        assert_null(answer);
}

static void test_receive_errors(void **state) {
        static const struct {
                const char *line;
                int r;
        } cases[] = {
                { "{\"type\":\"result\",\"subtype\":\"success\"}", -EINVAL },
                { "{\"type\":\"user\",\"message\":{}}", -EINVAL },
                { "{\"type\":\"control_request\",\"request\":{\"subtype\":\"mcp_message\"}}", -EBADMSG },
                { "{\"type\":\"control_request\",\"request_id\":7,\"request\":{}}", -EBADMSG },
                { "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\"}}", -EBADMSG },
                { "{\"type\":\"control_response\",\"response\":{\"subtype\":\"maybe\",\"request_id\":\"host_1\"}}", -EBADMSG },
                { "{\"type\":\"control_response\",\"response\":{\"request_id\":\"host_1\"}}", -EBADMSG },
                { "{\"type\":\"control_cancel_request\"}", -EBADMSG },
        };
        _cleanup_(cli_control_freep) CliControl *c = NULL;
        json_auto_t *line = NULL;

        assert_int_equal(cli_control_new(&c), 0);
        /* A pending host_1, so a malformed answer naming it must not consume it. */
        assert_int_equal(cli_control_send(c, json_pack("{s:s}", "subtype", "interrupt"), NULL, &line), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_event_ CliEvent ev = {};
                CliControlIn in = { .type = CLI_CONTROL_IN_CANCEL };

                parse_str(cases[i].line, &ev);
                assert_int_equal(cli_control_receive(c, &ev, &in), cases[i].r);
        }
        assert_int_equal(cli_control_n_pending(c), 1);

        /* An error answer without a message still matches, with an empty message. */
        {
                _cleanup_event_ CliEvent ev = {};
                CliControlIn in;

                parse_str("{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":\"host_1\"}}", &ev);
                assert_int_equal(cli_control_receive(c, &ev, &in), 0);
                assert_int_equal(in.type, CLI_CONTROL_IN_RESPONSE);
                assert_int_equal(in.kind, CLI_CONTROL_INTERRUPT);
                assert_string_equal(in.error, "");
        }
}

static void test_send_errors(void **state) {
        _cleanup_(cli_control_freep) CliControl *c = NULL;
        json_t *line = NULL;
        unsigned n = 0;

        assert_int_equal(cli_control_new(&c), 0);
        /* refused requests are consumed all the same */
        assert_int_equal(cli_control_send(c, json_string("interrupt"), NULL, &line), -EINVAL);
        assert_int_equal(cli_control_send(c, json_pack("{s:i}", "subtype", 1), NULL, &line), -EINVAL);
        assert_null(line);
        assert_int_equal(cli_control_n_pending(c), 0);

        /* A caller that never reads answers hits the cap instead of growing without bound. */
        for (;;) {
                json_t *req = NULL;
                int r;

                assert_int_equal(cli_control_build_interrupt(&req), 0);
                r = cli_control_send(c, req, NULL, &line);
                if (r < 0) {
                        assert_int_equal(r, -EBUSY);
                        break;
                }
                json_decref(line);
                line = NULL;
                n++;
                assert_true(n <= 100000);
        }
        assert_int_equal(cli_control_n_pending(c), n);
        assert_true(n >= 16);
        /* Forgetting one makes room again. */
        assert_non_null(c);
        (void) cli_control_forget(c, "host_1");
        {
                json_t *req = NULL;
                json_auto_t *l = NULL;

                assert_int_equal(cli_control_build_interrupt(&req), 0);
                assert_int_equal(cli_control_send(c, req, NULL, &l), 0);
                /* ids never repeat, even after a slot is reused */
                assert_int_not_equal(strcmp(json_string_value(json_object_get(l, "request_id")), "host_1"), 0);
        }
}

static void test_answers(void **state) {
        json_auto_t *a = NULL, *b = NULL, *e = NULL;
        json_t *line = NULL;

        assert_int_equal(cli_control_build_success("x", NULL, &a), 0);
        e = json_literal("{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"x\","
                         "\"response\":{}}}");
        assert_json_equal(a, e);
        json_decref(e);

        assert_int_equal(cli_control_build_error("y", "no", &b), 0);
        e = json_literal("{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":\"y\","
                         "\"error\":\"no\"}}");
        assert_json_equal(b, e);

        /* non-objects are refused and consumed */
        assert_int_equal(cli_control_build_success("x", json_integer(1), &line), -EINVAL);
        assert_int_equal(cli_control_build_mcp_response("x", json_array(), &line), -EINVAL);
        assert_null(line);
}

/* The late configuration of a pooled process mirrors the per-request argv of cli_request_build_argv(). */
static void test_late_config(void **state) {
        static const struct {
                CliRequest r;
                const char *argv_extra;     /* what the full argv adds after "--model M", space-separated */
                const char *expected;
        } cases[] = {
                { { .model = (char *) "sonnet", .thinking = true }, "", "[]" },
                { { .model = (char *) "sonnet", .thinking = false }, "--thinking disabled",
                  "[{\"subtype\":\"set_max_thinking_tokens\",\"max_thinking_tokens\":0}]" },
                { { .model = (char *) "haiku", .thinking = true, .thinking_budget = 4096 },
                  "--max-thinking-tokens 4096",
                  "[{\"subtype\":\"set_max_thinking_tokens\",\"max_thinking_tokens\":4096}]" },
                /* thinking off wins over a budget, as in the argv */
                { { .model = (char *) "haiku", .thinking = false, .thinking_budget = 4096 }, "--thinking disabled",
                  "[{\"subtype\":\"set_max_thinking_tokens\",\"max_thinking_tokens\":0}]" },
                { { .model = (char *) "opus", .thinking = true, .effort = (char *) "max" }, "--effort max",
                  "[{\"subtype\":\"apply_flag_settings\",\"settings\":{\"effortLevel\":\"max\"}}]" },
                { { .model = (char *) "opus", .thinking = true, .system_prompt = (char *) "S",
                    .system_prompt_mode = SYSTEM_PROMPT_REPLACE }, "--system-prompt-file /dev/fd/3",
                  "[{\"subtype\":\"initialize\",\"systemPrompt\":[\"S\"]}]" },
                { { .model = (char *) "opus", .thinking = true, .system_prompt = (char *) "S",
                    .system_prompt_mode = SYSTEM_PROMPT_APPEND }, "--append-system-prompt-file /dev/fd/3",
                  "[{\"subtype\":\"initialize\",\"appendSystemPrompt\":\"S\"}]" },
                /* USER mode puts the text into the first user turn: nothing to configure */
                { { .model = (char *) "opus", .thinking = true, .system_prompt = (char *) "S",
                    .system_prompt_mode = SYSTEM_PROMPT_USER }, "", "[]" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **full = NULL, **pooled = NULL;
                json_auto_t *got = NULL, *expected = json_literal(cases[i].expected);
                CliRequest pool = { .model = cases[i].r.model, .thinking = true };
                _cleanup_free_ char *extra = NULL;
                size_t n_pooled = 0;

                assert_int_equal(cli_control_build_late_config(&cases[i].r, &got), 0);
                assert_json_equal(got, expected);

                /* The pooled argv is the full one without exactly these flags. */
                assert_int_equal(cli_request_build_argv(&cases[i].r, "claude", "/dev/fd/3", &full), 0);
                assert_int_equal(cli_request_build_argv(&pool, "claude", NULL, &pooled), 0);
                while (pooled[n_pooled]) {
                        assert_non_null(full[n_pooled]);
                        assert_string_equal(full[n_pooled], pooled[n_pooled]);
                        n_pooled++;
                }
                for (char **a = full + n_pooled; *a; a++) {
                        char *joined = NULL;

                        assert_true(asprintf(&joined, "%s%s%s", extra ?: "", extra ? " " : "", *a) > 0);
                        free(extra);
                        extra = joined;
                }
                assert_string_equal(extra ?: "", cases[i].argv_extra);
        }
}

/* What the recorded warm_keyed_model_pipelined run sent, and the CLI turned into the cold_all request. */
static void test_late_config_recorded(void **state) {
        CliRequest r = { .model = (char *) "claude-sonnet-4-6", .effort = (char *) "low", .thinking = false,
                         .system_prompt = (char *) "SYSTEM PROMPT FROM THE REQUEST.\nSecond line.",
                         .system_prompt_mode = SYSTEM_PROMPT_APPEND };
        static const char *const needles[] = { "initialize", "apply_flag_settings", "set_max_thinking_tokens" };
        json_auto_t *got = NULL;

        assert_int_equal(cli_control_build_late_config(&r, &got), 0);
        assert_int_equal(json_array_size(got), ELEMENTSOF(needles));
        for (size_t i = 0; i < ELEMENTSOF(needles); i++) {
                json_auto_t *recorded = transcript_host_line("warm_keyed_model_pipelined", needles[i]);

                assert_json_equal(json_array_get(got, i), json_object_get(recorded, "request"));
        }
        r.effort = (char *) "extreme";
        json_decref(TAKE_PTR(got));
        assert_int_equal(cli_control_build_late_config(&r, &got), -EINVAL);
        assert_null(got);
}

/* A system prompt with a NUL ("\u0000" in the body) goes late as a whole, as it does on fd 3. */
static void test_late_config_nul(void **state) {
        static const char text[] = "before\0after";
        CliRequest r = { .model = (char *) "sonnet", .thinking = true, .system_prompt = (char *) text,
                         .system_prompt_len = sizeof(text) - 1, .system_prompt_mode = SYSTEM_PROMPT_REPLACE };
        json_auto_t *got = NULL;
        const json_t *v;

        assert_int_equal(cli_control_build_late_config(&r, &got), 0);
        v = json_array_get(json_object_get(json_array_get(got, 0), "systemPrompt"), 0);
        assert_int_equal(json_string_length(v), sizeof(text) - 1);
        assert_memory_equal(json_string_value(v), text, sizeof(text) - 1);

        r.system_prompt_mode = SYSTEM_PROMPT_APPEND;
        json_decref(TAKE_PTR(got));
        assert_int_equal(cli_control_build_late_config(&r, &got), 0);
        v = json_object_get(json_array_get(got, 0), "appendSystemPrompt");
        assert_int_equal(json_string_length(v), sizeof(text) - 1);
        assert_memory_equal(json_string_value(v), text, sizeof(text) - 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kind_names),
                cmocka_unit_test(test_build_initialize),
                cmocka_unit_test(test_build_settings),
                cmocka_unit_test(test_build_matches_recorded),
                cmocka_unit_test(test_send_ids_and_matching),
                cmocka_unit_test(test_transcripts),
                cmocka_unit_test(test_mcp_asks),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_receive_errors),
                cmocka_unit_test(test_send_errors),
                cmocka_unit_test(test_answers),
                cmocka_unit_test(test_late_config),
                cmocka_unit_test(test_late_config_recorded),
                cmocka_unit_test(test_late_config_nul),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
