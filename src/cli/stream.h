/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: one NDJSON line of the CLI's stdout -> a typed event. */

#include <jansson.h>
#include <stddef.h>

/*
 * Longest stdout line accepted; longer ones fail the run. The largest lines a real CLI prints are
 * the `result` (it repeats the whole answer) and an `assistant` line holding one whole block:
 * at most the 128k output tokens of the largest model, ~0.5 MB of text and a few MB even if
 * every character were JSON-escaped. Inputs are not echoed (no --replay-user-messages) and
 * images never come back. The bound is what one line may cost: the buffer, its pulled-up copy
 * and its parsed tree; at 32 MB a few such lines raised RSS by hundreds of MB.
 */
#define CLI_LINE_MAX (8u * 1024u * 1024u)

typedef enum CliEventType {
        CLI_EVENT_UNKNOWN,              /* a type this version does not know: ignore */
        CLI_EVENT_SYSTEM_INIT,
        CLI_EVENT_SYSTEM_STATUS,
        CLI_EVENT_SYSTEM_API_RETRY,
        CLI_EVENT_SYSTEM_OTHER,         /* thinking_tokens, model_fallback, ... */
        CLI_EVENT_STREAM,               /* stream_event: payload = the upstream SSE event */
        CLI_EVENT_ASSISTANT,            /* payload = message; error = top-level "error" or NULL */
        CLI_EVENT_USER,                 /* payload = message */
        CLI_EVENT_RATE_LIMIT,           /* payload = rate_limit_info */
        CLI_EVENT_CONTROL_REQUEST,      /* payload = request; request_id set */
        CLI_EVENT_CONTROL_RESPONSE,     /* payload = response; request_id from inside it */
        CLI_EVENT_CONTROL_CANCEL_REQUEST,/* the CLI withdraws its request request_id; payload = line */
        CLI_EVENT_RESULT,               /* payload = the whole result object */
        _CLI_EVENT_TYPE_MAX,
} CliEventType;

typedef struct CliEvent {
        CliEventType type;
        json_t *root;                   /* owned: the parsed line */
        const json_t *payload;          /* borrowed from root, never NULL after a successful parse */
        const char *subtype;            /* borrowed, NULL if absent */
        const char *error;              /* borrowed: assistant top-level "error", NULL if absent */
        const char *request_id;         /* borrowed: CONTROL_* events' request id, NULL if absent */
} CliEvent;

/*
 * Return: 0 on success; -EBADMSG for a line that is not a JSON object or lacks a string "type";
 * -E2BIG for a line longer than CLI_LINE_MAX; -ENOMEM.
 */
int cli_event_parse(const char *line, size_t len, CliEvent *ret);
void cli_event_done(CliEvent *ev);
const char *cli_event_type_to_string(CliEventType t);
