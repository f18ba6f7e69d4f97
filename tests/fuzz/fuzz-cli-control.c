/* SPDX-License-Identifier: MIT */

/*
 * The control lines on the CLI's stdout are as untrusted as the rest of it, and they reach a
 * table that outlives single lines. The input is split at '\n' like stdout; every line goes
 * through cli_event_parse() and, if it is a control line, cli_control_receive() against a table
 * holding a few pending host requests (host_1 .. host_4, so fuzzed answers can match them).
 * Each ask is answered with the refusal, and with an mcp_response echoing its message; each
 * answer line must itself parse back as a control_response for the same id. A matched answer
 * must hand back one of the cookies that were registered, once. An mcp_message also gets the
 * client tools' server's answer (api/client-tools.c): never for tools/call, else a JSON-RPC 2.0
 * reply with the request's id (0 for a notification); and stream/assistant lines have their
 * client tool names stripped, as the session does before translating them.
 */

#include <string.h>

#include "api/client-tools.h"
#include "cli/control.h"
#include "cli/stream.h"
#include "fuzz-check.h"
#include "fuzz.h"
#include "util/macro.h"

#define N_HOST_REQUESTS 4

/* The answer the host would write must be a control_response the CLI can match to @request_id. */
static void check_answer(json_t *line, const char *request_id) {
        _cleanup_free_ char *text = NULL;
        CliEvent ev = {};

        if (!line)
                return;
        text = json_dumps(line, JSON_COMPACT);
        json_decref(line);
        if (!text)
                return;
        if (cli_event_parse(text, strlen(text), &ev) < 0)
                return; /* only when a CLI_LINE_MAX-sized id made it too long */
        FUZZ_ASSERT(ev.type == CLI_EVENT_CONTROL_RESPONSE);
        FUZZ_ASSERT(streq_ptr(ev.request_id, request_id));
        cli_event_done(&ev);
}

/* The sdk server's answer to a fuzzed JSON-RPC message, checked and wrapped like the session does. */
static void check_mcp_answer(const json_t *tools, const CliControlIn *in) {
        const char *method = json_string_value(json_object_get(in->mcp_message, "method"));
        const json_t *id = json_object_get(in->mcp_message, "id");
        json_t *reply = NULL, *line = NULL;
        int r;

        r = client_tools_mcp_answer(tools, in->mcp_message, &reply);
        if (r < 0)
                return;
        /* tools/call, and only it, stays unanswered: the client runs the tool. */
        FUZZ_ASSERT((r == 0) == (streq_ptr(method, "tools/call") && id && !json_is_null(id)));
        if (r == 0)
                return;
        FUZZ_ASSERT(streq_ptr(json_string_value(json_object_get(reply, "jsonrpc")), "2.0"));
        if (method && id && !json_is_null(id))
                FUZZ_ASSERT(json_equal(json_object_get(reply, "id"), (json_t *) id));
        else
                FUZZ_ASSERT(json_integer_value(json_object_get(reply, "id")) == 0);
        FUZZ_ASSERT(!!json_object_get(reply, "result") != !!json_object_get(reply, "error"));
        if (cli_control_build_mcp_response(in->request_id, reply, &line) >= 0)
                check_answer(line, in->request_id);
}

/**
 * LLVMFuzzerTestOneInput() - one fuzz input
 * @data: the input bytes (not NUL-terminated)
 * @size: their length
 *
 * Treats @data as CLI stdout (lines split at '\n') and feeds its control lines to a table.
 *
 * Return: 0 (libFuzzer reserves other values).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(cli_control_freep) CliControl *c = NULL;
        const char *p = (const char *) data, *end = p + size;
        bool answered[N_HOST_REQUESTS] = {};
        int cookies[N_HOST_REQUESTS];
        json_auto_t *tools = json_array();
        json_auto_t *name = json_string("lookup"), *schema = json_pack("{s:s}", "type", "object");

        if (size > FUZZ_INPUT_MAX)
                return 0;
        if (cli_control_new(&c) < 0 || !tools || !name || !schema ||
            client_tools_add(tools, name, NULL, schema, "tools.0.name", "tools.0.input_schema", NULL) < 0)
                return 0;
        for (size_t i = 0; i < N_HOST_REQUESTS; i++) {
                json_t *req = NULL, *line = NULL;
                int r;

                switch (i) {
                case 0:
                        r = cli_control_build_initialize(&(CliControlInit) { .append_system_prompt = "a" }, &req);
                        break;
                case 1:
                        r = cli_control_build_set_effort("low", &req);
                        break;
                case 2:
                        r = cli_control_build_set_max_thinking_tokens(0, &req);
                        break;
                default:
                        r = cli_control_build_interrupt(&req);
                }
                if (r < 0 || cli_control_send(c, req, &cookies[i], &line) < 0)
                        return 0;
                json_decref(line);
        }

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = (size_t) ((nl ? nl : end) - p);
                CliEvent ev = {};
                CliControlIn in;

                if (cli_event_parse(p, len, &ev) >= 0 && (ev.type == CLI_EVENT_STREAM || ev.type == CLI_EVENT_ASSISTANT)) {
                        int k = client_tools_rename_payload((json_t *) ev.payload, ev.type == CLI_EVENT_STREAM);
                        FUZZ_ASSERT(k >= -ENOMEM);
                } else if (ev.root && cli_control_receive(c, &ev, &in) >= 0) {
                        switch (in.type) {
                        case CLI_CONTROL_IN_ASK: {
                                json_t *line = NULL;

                                if (cli_control_build_refusal(&in, &line) >= 0)
                                        check_answer(line, in.request_id);
                                line = NULL;
                                if (in.mcp_message &&
                                    cli_control_build_mcp_response(in.request_id, json_deep_copy(in.mcp_message),
                                                                   &line) >= 0)
                                        check_answer(line, in.request_id);
                                if (in.ask == CLI_ASK_MCP_MESSAGE)
                                        check_mcp_answer(tools, &in);
                                break;
                        }
                        case CLI_CONTROL_IN_RESPONSE: {
                                size_t i = (size_t) ((int *) in.cookie - cookies);

                                FUZZ_ASSERT(i < N_HOST_REQUESTS);
                                FUZZ_ASSERT(!answered[i]);
                                answered[i] = true;
                                FUZZ_ASSERT(in.success ? !in.error : !!in.error);
                                break;
                        }
                        case CLI_CONTROL_IN_STRAY_RESPONSE:
                                FUZZ_ASSERT(!in.cookie);
                                break;
                        default:
                                FUZZ_ASSERT(in.type == CLI_CONTROL_IN_CANCEL);
                                FUZZ_ASSERT(in.request_id);
                        }
                }
                cli_event_done(&ev);
                p = nl ? nl + 1 : end;
        }

        {
                size_t n = 0;

                for (size_t i = 0; i < N_HOST_REQUESTS; i++)
                        n += !answered[i];
                FUZZ_ASSERT(cli_control_n_pending(c) == n);
        }
        return 0;
}
