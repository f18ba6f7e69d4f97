/* SPDX-License-Identifier: MIT */

/*
 * One line of the CLI's `--output-format stream-json --verbose` stdout -> a typed CliEvent
 * (cli/README §5). This module only classifies and points at the interesting part of the line;
 * it does not interpret content (api/ does) nor decide success (api/outcome.c does). Splitting
 * stdout into lines and enforcing the length cap while reading is the I/O side's job; the cap is
 * checked here again so no caller can hand the parser an unbounded line.
 */

#include <assert.h>
#include <errno.h>

#include "cli/stream.h"
#include "util/macro.h"

static const char *const cli_event_type_table[_CLI_EVENT_TYPE_MAX] = {
        [CLI_EVENT_UNKNOWN] = "unknown",
        [CLI_EVENT_SYSTEM_INIT] = "system/init",
        [CLI_EVENT_SYSTEM_STATUS] = "system/status",
        [CLI_EVENT_SYSTEM_API_RETRY] = "system/api_retry",
        [CLI_EVENT_SYSTEM_OTHER] = "system/other",
        [CLI_EVENT_STREAM] = "stream_event",
        [CLI_EVENT_ASSISTANT] = "assistant",
        [CLI_EVENT_USER] = "user",
        [CLI_EVENT_RATE_LIMIT] = "rate_limit_event",
        [CLI_EVENT_CONTROL_REQUEST] = "control_request",
        [CLI_EVENT_CONTROL_RESPONSE] = "control_response",
        [CLI_EVENT_CONTROL_CANCEL_REQUEST] = "control_cancel_request",
        [CLI_EVENT_RESULT] = "result",
};

/**
 * cli_event_type_to_string() - a stable name for logs
 * @t: the event type
 *
 * Return: a static string, or NULL for an out-of-range value.
 */
const char *cli_event_type_to_string(CliEventType t) {
        if (t < 0 || t >= _CLI_EVENT_TYPE_MAX)
                return NULL;
        return cli_event_type_table[t];
}

/* Line types whose interesting part lives under one key; the rest use the whole line. */
static const struct {
        const char *type;
        CliEventType event;
        const char *payload_key;
} cli_line_types[] = {
        { "stream_event", CLI_EVENT_STREAM, "event" },
        { "assistant", CLI_EVENT_ASSISTANT, "message" },
        { "user", CLI_EVENT_USER, "message" },
        { "rate_limit_event", CLI_EVENT_RATE_LIMIT, "rate_limit_info" },
        { "control_request", CLI_EVENT_CONTROL_REQUEST, "request" },
        { "control_response", CLI_EVENT_CONTROL_RESPONSE, "response" },
        { "control_cancel_request", CLI_EVENT_CONTROL_CANCEL_REQUEST, NULL },
        { "result", CLI_EVENT_RESULT, NULL },
};

static CliEventType cli_system_subtype(const char *subtype) {
        if (streq_ptr(subtype, "init"))
                return CLI_EVENT_SYSTEM_INIT;
        if (streq_ptr(subtype, "status"))
                return CLI_EVENT_SYSTEM_STATUS;
        if (streq_ptr(subtype, "api_retry"))
                return CLI_EVENT_SYSTEM_API_RETRY;
        /* thinking_tokens, model_fallback, model_refusal_no_fallback and whatever comes next */
        return CLI_EVENT_SYSTEM_OTHER;
}

/**
 * cli_event_parse() - parse one stdout line of the CLI
 * @line: the line, without its newline; need not be NUL-terminated
 * @len: its length in bytes
 * @ret: filled on success; release with cli_event_done()
 *
 * A line type this version does not know becomes CLI_EVENT_UNKNOWN with the whole line as
 * payload, so a newer CLI adding lines does not fail runs.
 *
 * Return: 0; -E2BIG for a line longer than CLI_LINE_MAX; -EBADMSG for a line that is not a JSON
 * object, has no string "type", or lacks the object its type requires; -ENOMEM.
 */
int cli_event_parse(const char *line, size_t len, CliEvent *ret) {
        json_auto_t *root = NULL;
        const json_t *type_json, *payload;
        const char *type, *subtype, *request_id = NULL, *error = NULL;
        CliEventType event = CLI_EVENT_UNKNOWN;
        json_error_t err;

        assert(line || len == 0);
        assert(ret);

        if (len > CLI_LINE_MAX)
                return -E2BIG;

        root = json_loadb(line, len, 0, &err);
        if (!root)
                /* jansson reports allocation failure as a parse error; treat both as bad input */
                return -EBADMSG;
        if (!json_is_object(root))
                return -EBADMSG;

        type_json = json_object_get(root, "type");
        if (!json_is_string(type_json))
                return -EBADMSG;
        type = json_string_value(type_json);
        subtype = json_string_value(json_object_get(root, "subtype"));
        payload = root;

        if (streq(type, "system"))
                event = cli_system_subtype(subtype);
        else
                for (size_t i = 0; i < ELEMENTSOF(cli_line_types); i++) {
                        if (!streq(type, cli_line_types[i].type))
                                continue;
                        event = cli_line_types[i].event;
                        if (cli_line_types[i].payload_key) {
                                payload = json_object_get(root, cli_line_types[i].payload_key);
                                if (!json_is_object(payload))
                                        return -EBADMSG;
                        }
                        break;
                }

        switch (event) {
        case CLI_EVENT_ASSISTANT:
                /* Set on synthetic error messages only ("rate_limit", "authentication_failed", ...). */
                error = json_string_value(json_object_get(root, "error"));
                break;
        case CLI_EVENT_CONTROL_REQUEST:
        case CLI_EVENT_CONTROL_CANCEL_REQUEST:
                request_id = json_string_value(json_object_get(root, "request_id"));
                break;
        case CLI_EVENT_CONTROL_RESPONSE:
                /* The answer carries the id inside `response`, not at top level. */
                request_id = json_string_value(json_object_get(payload, "request_id"));
                break;
        default:
                break;
        }

        *ret = (CliEvent) {
                .type = event,
                .payload = payload,
                .subtype = subtype,
                .error = error,
                .request_id = request_id,
        };
        ret->root = TAKE_PTR(root);
        return 0;
}

/**
 * cli_event_done() - release what cli_event_parse() filled in
 * @ev: the event (NULL is fine); left zeroed so a second call is harmless
 */
void cli_event_done(CliEvent *ev) {
        if (!ev)
                return;
        json_decref(ev->root);
        *ev = (CliEvent) {};
}
