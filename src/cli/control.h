/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: the CLI's two-way control channel: request ids, host requests, the CLI's requests, answers. */

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/request.h"
#include "cli/stream.h"
#include "util/macro.h"

/*
 * What can be applied to a warm process, measured with CLI 2.1.197
 * -----------------------------------------------------------------
 * Spawned with the base argv of cli/request.c minus every per-request flag, idle 1.5 s, then
 * configured over stdin before its first user line (tests/data/transcripts/warm_*). "= cold":
 * the upstream request is identical to that of a process spawned with the flag (cold_*), apart
 * from session id, date and temp paths (tests/integration/test-warm-transcripts.mjs checks it).
 *
 *  argv today (request.c)         late, over the control channel                    upstream
 *  --model M                      set_model {model} or apply_flag_settings {model}   model right, but
 *                                 a *change* runs /model: caveat + command + "Set model to M"
 *                                 become text blocks of the first user message      NOT = cold
 *                                 set_model to the model the process already has    = cold
 *  --effort E (low..max)          apply_flag_settings {effortLevel: E}              = cold (max too)
 *  --thinking disabled            set_max_thinking_tokens {max_thinking_tokens: 0}  = cold
 *                                 (apply_flag_settings alwaysThinkingEnabled:false: no effect)
 *  --max-thinking-tokens N        set_max_thinking_tokens {max_thinking_tokens: N}  = cold
 *  --system-prompt-file F         initialize {systemPrompt: [text]}                 = cold
 *  --append-system-prompt-file F  initialize {appendSystemPrompt: text}             = cold
 *  all at once, pipelined         initialize, apply_flag_settings, set_max_thinking_tokens and
 *                                 the user line written back to back, no waiting    = cold
 *
 * A process answers nothing before it has started (seconds under load): a pool probes readiness
 * with a harmless request at spawn (mcp_status; warm_keyed_model_probe = cold).
 *
 * So a warm pool is keyed by model (spawn with --model M; everything else is applied late), and a
 * request whose model has no idle process is spawned cold. Environment (CLAUDE_CODE_*) is
 * per-server, not per-request, so it needs no key. One conversation per process (history
 * persists, §16.2), then discard: nothing of one request can reach another. More: src/cli/README.md.
 */

/* The requests the host sends to the CLI. */
typedef enum CliControlKind {
        CLI_CONTROL_INITIALIZE,
        CLI_CONTROL_SET_MODEL,
        CLI_CONTROL_SET_MAX_THINKING_TOKENS,
        CLI_CONTROL_APPLY_FLAG_SETTINGS,
        CLI_CONTROL_INTERRUPT,
        CLI_CONTROL_GET_CONTEXT_USAGE,
        CLI_CONTROL_MCP_SET_SERVERS,
        CLI_CONTROL_OTHER,              /* any other subtype, built with cli_control_build_generic() */
        _CLI_CONTROL_KIND_MAX,
        _CLI_CONTROL_KIND_INVALID = -EINVAL,
} CliControlKind;

/* The requests the CLI sends to the host (cli/README §16; the SDK's processControlRequest). */
typedef enum CliAskKind {
        CLI_ASK_UNKNOWN,                /* a subtype this version does not know: answer with an error */
        CLI_ASK_CAN_USE_TOOL,
        CLI_ASK_MCP_MESSAGE,            /* JSON-RPC for an "sdk" MCP server */
        CLI_ASK_HOOK_CALLBACK,
        CLI_ASK_ELICITATION,
        CLI_ASK_REQUEST_USER_DIALOG,
        CLI_ASK_OAUTH_TOKEN_REFRESH,
        CLI_ASK_HOST_AUTH_TOKEN_REFRESH,
        _CLI_ASK_KIND_MAX,
} CliAskKind;

const char *cli_control_kind_to_string(CliControlKind k);
CliControlKind cli_control_kind_from_string(const char *s);
const char *cli_ask_kind_to_string(CliAskKind k);

/* What one incoming control line is. */
typedef enum CliControlInType {
        CLI_CONTROL_IN_ASK,             /* the CLI asks the host: answer it by request_id */
        CLI_CONTROL_IN_RESPONSE,        /* the answer to a pending host request */
        CLI_CONTROL_IN_STRAY_RESPONSE,  /* an answer whose id is not pending: log and drop */
        CLI_CONTROL_IN_CANCEL,          /* the CLI withdraws one of its own asks */
        _CLI_CONTROL_IN_TYPE_MAX,
} CliControlInType;

/*
 * One classified control line. Every pointer is borrowed from the CliEvent it came from and lives
 * as long as that event.
 */
typedef struct CliControlIn {
        CliControlInType type;
        const char *request_id;

        /* CLI_CONTROL_IN_ASK */
        CliAskKind ask;
        const char *ask_subtype;        /* verbatim, also for CLI_ASK_UNKNOWN */
        const json_t *ask_request;      /* the whole "request" object */
        const char *server_name;        /* mcp_message only */
        const json_t *mcp_message;      /* mcp_message only: the JSON-RPC message */
        bool mcp_notification;          /* mcp_message without an id: answer with an empty result */
        const char *tool_name;          /* can_use_tool only */

        /* CLI_CONTROL_IN_RESPONSE and CLI_CONTROL_IN_STRAY_RESPONSE */
        bool success;
        const json_t *response;         /* success: the "response" object, NULL if absent */
        const char *error;              /* error: the message ("" if the CLI sent none) */
        CliControlKind kind;            /* RESPONSE only: what the host had asked */
        void *cookie;                   /* RESPONSE only: what the caller registered with it */
} CliControlIn;

/* The correlation table: host requests waiting for their control_response. */
typedef struct CliControl CliControl;

int cli_control_new(CliControl **ret);
CliControl *cli_control_free(CliControl *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(CliControl *, cli_control_free);

/* Pending host requests. */
size_t cli_control_n_pending(const CliControl *c);
/* Forget a pending request (its run gave up waiting). Return its cookie, or NULL if not pending. */
void *cli_control_forget(CliControl *c, const char *request_id);

/*
 * Host requests. Each builder makes the "request" object; cli_control_send() gives it an id,
 * registers it with the caller's cookie and wraps it into the line to write.
 */
typedef struct CliControlInit {
        const char *system_prompt;      /* replaces the CLI's prompt (--system-prompt-file); NULL: keep */
        const char *append_system_prompt;/* appended (--append-system-prompt-file); NULL: none */
        size_t system_prompt_len;       /* their lengths, as they may hold a NUL ("\u0000"); 0: strlen() */
        size_t append_system_prompt_len;
        const json_t *json_schema;      /* --json-schema; NULL: none */
        char *const *sdk_mcp_servers;   /* NULL-terminated names of "sdk" MCP servers; NULL: none */
} CliControlInit;

int cli_control_build_initialize(const CliControlInit *init, json_t **ret_request);
int cli_control_build_set_model(const char *model, json_t **ret_request);
int cli_control_build_set_max_thinking_tokens(int64_t max_thinking_tokens, json_t **ret_request);
int cli_control_build_set_effort(const char *effort, json_t **ret_request);
int cli_control_build_apply_flag_settings(json_t *settings, json_t **ret_request);
int cli_control_build_interrupt(json_t **ret_request);
int cli_control_build_get_context_usage(json_t **ret_request);
int cli_control_build_generic(const char *subtype, json_t **ret_request);

int cli_control_send(CliControl *c, json_t *request, void *cookie, json_t **ret_line);

/*
 * The requests that give a process spawned with only `--model r->model` (cli_request_build_argv()
 * of a CliRequest with nothing but model and thinking=true) what the full argv of @r would give
 * it: a new JSON array of request objects, in order, to send before the first user line.
 */
int cli_control_build_late_config(const CliRequest *r, json_t **ret_requests);
/* The one initialize a process spawned with the full argv of @r still needs (the client tools'
 * "sdk" server "cp", the structured-output schema), to send before the first user line; *ret
 * NULL if none is needed. */
int cli_control_build_cold_initialize(const CliRequest *r, json_t **ret_request);

/* Incoming: a CLI_EVENT_CONTROL_* event from cli_event_parse() -> what it is. */
int cli_control_receive(CliControl *c, const CliEvent *ev, CliControlIn *ret);

/* The host's answers to the CLI's asks. */
int cli_control_build_success(const char *request_id, json_t *response, json_t **ret_line);
int cli_control_build_error(const char *request_id, const char *message, json_t **ret_line);
int cli_control_build_mcp_response(const char *request_id, json_t *jsonrpc, json_t **ret_line);
int cli_control_build_refusal(const CliControlIn *in, json_t **ret_line);
