/* SPDX-License-Identifier: MIT */

/*
 * fake-claude's in-process ("sdk") MCP server conversation, following the recorded
 * s2b_park_then_interrupt transcript (CLI 2.1.197, shared cli/README §16.1, §16.2):
 *
 *   - the CLI's mcp_message control_requests (initialize, notifications/initialized, tools/list)
 *     are printed as recorded and each waits for the host's control_response with its id; the
 *     answers go to the log ("mcp_responses") so tests can check the tools the proxy listed;
 *   - tools/call is printed and left pending, and the rest of that message streams on;
 *   - after the message_stop the fake waits, as the CLI does, for the host's `interrupt` or its
 *     answer to the call (parking; the transcript must be one that goes on with the answer,
 *     s2a_park_tools_call_15s, and the answer is logged as "tool_answer"); stdin EOF instead is
 *     logged ("eof_while_parked": the real CLI would call the model again) and ends the fake
 *     with exit 1; an interrupt in an answered transcript has nothing recorded to print, so the
 *     fake hangs until it is killed;
 *   - the recorded answer to the interrupt gets the host's request id (ignore_interrupt=1: none
 *     comes, the fake hangs, as a stuck CLI would).
 *
 * Without an initialize that declared the server "cp" the real CLI never connects it: the fake
 * says so on stderr and exits 1.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-claude.h"
#include "util/macro.h"

static const char *line_type(const json_t *parsed) {
        return json_string_value(json_object_get(parsed, "type"));
}

static const json_t *mcp_message(const json_t *parsed) {
        const json_t *req = json_object_get(parsed, "request");

        if (!streq_ptr(line_type(parsed), "control_request") ||
            !streq_ptr(json_string_value(json_object_get(req, "subtype")), "mcp_message"))
                return NULL;
        return json_object_get(req, "message");
}

bool fake_tools_transcript(const json_t *parsed_lines) {
        size_t i;
        const json_t *p;

        json_array_foreach(parsed_lines, i, p)
                if (mcp_message(p))
                        return true;
        return false;
}

/*
 * Read stdin until a control_response with @request_id (to *ret_line), or, with @ret_id, a
 * control_request interrupt (its id to *ret_id). Other control requests are answered as usual.
 * Return: 1 the response, 2 the interrupt, 0 EOF, negative errno.
 */
static int wait_stdin(const char *request_id, char **ret_id, json_t **ret_line) {
        static char *line;
        static size_t cap;
        ssize_t n;

        while ((n = getline(&line, &cap, stdin)) >= 0) {
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (n == 0)
                        continue;
                json_auto_t *parsed = json_loadb(line, (size_t) n, JSON_ALLOW_NUL, NULL);
                const char *type = line_type(parsed);
                log_stdin_line(line, (size_t) n, parsed);

                if (request_id && streq_ptr(type, "control_response")) {
                        const json_t *resp = json_object_get(parsed, "response");
                        if (streq_ptr(json_string_value(json_object_get(resp, "request_id")), request_id)) {
                                *ret_line = json_incref(parsed);
                                return 1;
                        }
                        continue;
                }
                if (streq_ptr(type, "control_request")) {
                        const json_t *req = json_object_get(parsed, "request");
                        if (ret_id && streq_ptr(json_string_value(json_object_get(req, "subtype")), "interrupt")) {
                                *ret_id = strdup(json_string_value(json_object_get(parsed, "request_id")) ?: "");
                                return *ret_id ? 2 : -ENOMEM;
                        }
                        if (answer_control_request(parsed) < 0)
                                return -EIO;
                }
        }
        return 0;
}

/* Does the rest of the transcript continue with the call answered (s2a) rather than interrupted (s2b)? */
static bool transcript_answered(const json_t *parsed, size_t from, size_t last) {
        for (size_t i = from; i < last; i++) {
                const json_t *p = json_array_get(parsed, i);
                const json_t *m = mcp_message(p);

                if (m && streq_ptr(json_string_value(json_object_get(m, "method")), "notifications/cancelled"))
                        return false;
                if (streq_ptr(line_type(p), "result"))
                        return !json_is_true(json_object_get(p, "is_error"));
        }
        return false;
}

int fake_tools_replay(const json_t *lines, const json_t *parsed, size_t first, size_t last, bool ignore_interrupt) {
        _cleanup_free_ char *interrupt_id = NULL, *call_id = NULL;
        json_t *responses = json_array();
        bool pending = false;
        int r;

        if (!fake_sdk_cp) {
                fprintf(stderr, "fake-claude: the transcript needs the sdk MCP server \"cp\", which no initialize "
                                "declared (sdkMcpServers)\n");
                json_decref(responses);
                return -ENOENT;
        }
        log_set("mcp_responses", responses);

        for (size_t i = first; i < last; i++) {
                const json_t *p = json_array_get(parsed, i), *s = json_array_get(lines, i);
                const json_t *msg = mcp_message(p);
                const char *method = json_string_value(json_object_get(msg, "method"));
                const json_t *event = json_object_get(p, "event");

                if (streq_ptr(line_type(p), "control_response") && interrupt_id) {
                        /* The recorded answer to the host's interrupt, with the host's id. */
                        json_auto_t *copy = json_deep_copy(p);
                        _cleanup_free_ char *text = NULL;

                        if (!copy || json_object_set_new(json_object_get(copy, "response"), "request_id",
                                                         json_string(interrupt_id)) < 0)
                                return -ENOMEM;
                        text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
                        r = text ? print_line(text, strlen(text)) : -ENOMEM;
                } else
                        r = print_line(json_string_value(s), json_string_length(s));
                if (r < 0)
                        return r;

                if (msg && streq_ptr(method, "tools/call")) {
                        pending = true;
                        free(call_id);
                        call_id = strdup(json_string_value(json_object_get(p, "request_id")) ?: "");
                        if (!call_id)
                                return -ENOMEM;
                }
                else if (msg) {
                        json_t *answer = NULL;
                        r = wait_stdin(json_string_value(json_object_get(p, "request_id")), NULL, &answer);
                        if (r <= 0) {
                                fprintf(stderr, "fake-claude: no answer to mcp_message %s\n", method ?: "?");
                                return r < 0 ? r : -EPIPE;
                        }
                        (void) json_array_append_new(
                                responses,
                                json_incref(json_object_get(json_object_get(json_object_get(answer, "response"),
                                                                            "response"),
                                                            "mcp_response")) ?: json_null());
                        json_decref(answer);
                        log_set("mcp_responses", json_incref(responses));
                } else if (pending && streq_ptr(json_string_value(json_object_get(event, "type")), "message_stop")) {
                        json_t *answer = NULL;

                        pending = false;
                        log_set("state", json_string("parked"));
                        r = wait_stdin(call_id, &interrupt_id, &answer);
                        if (r < 0)
                                return r;
                        if (r == 0) {
                                log_set("eof_while_parked", json_true());
                                fprintf(stderr, "fake-claude: stdin closed while a tools/call was pending\n");
                                return -EPIPE;
                        }
                        if (r == 1) {
                                /* The host answered the call (parking): the recorded run goes on (s2a). */
                                log_set("tool_answer", json_incref(json_object_get(
                                                               json_object_get(json_object_get(answer, "response"),
                                                                               "response"),
                                                               "mcp_response")));
                                json_decref(answer);
                                log_set("state", json_string("replaying"));
                                if (interrupt_id || !transcript_answered(parsed, i + 1, last)) {
                                        fprintf(stderr, "fake-claude: the transcript has no answered path\n");
                                        return -ENOENT;
                                }
                                continue;
                        }
                        log_set("interrupted", json_true());
                        if (transcript_answered(parsed, i + 1, last)) {
                                /* The recording went on with an answer: nothing recorded to print. */
                                log_set("state", json_string("interrupted_unrecorded"));
                                sleep_forever();
                        }
                        if (ignore_interrupt) {
                                /* A CLI stuck after the interrupt: the proxy must end it itself. */
                                log_set("state", json_string("ignoring_interrupt"));
                                sleep_forever();
                        }
                }
        }
        return 0;
}
