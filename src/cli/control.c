/* SPDX-License-Identifier: MIT */

/*
 * The control channel of a stream-json CLI (cli/README §16): the host writes `control_request`
 * lines to stdin and the CLI answers each with a `control_response` carrying the same
 * request_id; the CLI writes its own `control_request` lines to stdout (MCP JSON-RPC for "sdk"
 * servers, tool permissions, ...) and the host answers those the same way. The CLI also writes
 * `control_cancel_request` when it no longer wants the answer to one of its own requests.
 *
 * This module builds the host's lines, keeps the table of host requests still waiting for their
 * answer (with a cookie the caller chooses), and classifies incoming control lines, which
 * cli_event_parse() has already turned into CLI_EVENT_CONTROL_* events. It writes nothing and
 * waits for nothing: a run (run.c) owns the pipe and decides what to do with each answer.
 */

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/control.h"
#include "util/macro.h"

/* A run sends a handful; anything near this is a bug in the caller, not a busy channel. */
#define CLI_CONTROL_PENDING_MAX 256u

/* "host_" + a 64-bit counter: never a UUID, so it cannot be confused with the CLI's own ids. */
#define CLI_CONTROL_ID_MAX 32

typedef struct CliControlPending {
        char id[CLI_CONTROL_ID_MAX];
        CliControlKind kind;
        void *cookie;
} CliControlPending;

struct CliControl {
        uint64_t next_id;
        CliControlPending *pending;
        size_t n_pending;
        size_t n_allocated;
};

static const char *const cli_control_kind_table[_CLI_CONTROL_KIND_MAX] = {
        [CLI_CONTROL_INITIALIZE] = "initialize",
        [CLI_CONTROL_SET_MODEL] = "set_model",
        [CLI_CONTROL_SET_MAX_THINKING_TOKENS] = "set_max_thinking_tokens",
        [CLI_CONTROL_APPLY_FLAG_SETTINGS] = "apply_flag_settings",
        [CLI_CONTROL_INTERRUPT] = "interrupt",
        [CLI_CONTROL_GET_CONTEXT_USAGE] = "get_context_usage",
        [CLI_CONTROL_MCP_SET_SERVERS] = "mcp_set_servers",
        [CLI_CONTROL_OTHER] = "other",
};

static const char *const cli_ask_kind_table[_CLI_ASK_KIND_MAX] = {
        [CLI_ASK_UNKNOWN] = "unknown",
        [CLI_ASK_CAN_USE_TOOL] = "can_use_tool",
        [CLI_ASK_MCP_MESSAGE] = "mcp_message",
        [CLI_ASK_HOOK_CALLBACK] = "hook_callback",
        [CLI_ASK_ELICITATION] = "elicitation",
        [CLI_ASK_REQUEST_USER_DIALOG] = "request_user_dialog",
        [CLI_ASK_OAUTH_TOKEN_REFRESH] = "oauth_token_refresh",
        [CLI_ASK_HOST_AUTH_TOKEN_REFRESH] = "host_auth_token_refresh",
};

/* The values --effort takes; the settings schema lists only four, but "max" works too (warm_effort_max). */
static const char *const cli_effort_levels[] = { "low", "medium", "high", "xhigh", "max" };

/**
 * cli_control_kind_to_string() - the subtype a host request kind is sent as
 * @k: the kind
 *
 * Return: a static string ("other" for CLI_CONTROL_OTHER), or NULL for an invalid kind.
 */
const char *cli_control_kind_to_string(CliControlKind k) {
        if (k < 0 || k >= _CLI_CONTROL_KIND_MAX)
                return NULL;
        return cli_control_kind_table[k];
}

/**
 * cli_control_kind_from_string() - the kind of a host request subtype
 * @s: a subtype (may be NULL)
 *
 * Return: the kind; CLI_CONTROL_OTHER for any other string; _CLI_CONTROL_KIND_INVALID for NULL.
 */
CliControlKind cli_control_kind_from_string(const char *s) {
        if (!s)
                return _CLI_CONTROL_KIND_INVALID;
        for (int i = 0; i < CLI_CONTROL_OTHER; i++)
                if (streq(s, cli_control_kind_table[i]))
                        return (CliControlKind) i;
        return CLI_CONTROL_OTHER;
}

/**
 * cli_ask_kind_to_string() - a stable name for the kind of a CLI request, for logs
 * @k: the kind
 *
 * Return: a static string, or NULL for an invalid kind.
 */
const char *cli_ask_kind_to_string(CliAskKind k) {
        if (k < 0 || k >= _CLI_ASK_KIND_MAX)
                return NULL;
        return cli_ask_kind_table[k];
}

static CliAskKind cli_ask_kind_from_string(const char *s) {
        if (!s)
                return CLI_ASK_UNKNOWN;
        for (int i = CLI_ASK_UNKNOWN + 1; i < _CLI_ASK_KIND_MAX; i++)
                if (streq(s, cli_ask_kind_table[i]))
                        return (CliAskKind) i;
        return CLI_ASK_UNKNOWN;
}

/**
 * cli_control_new() - an empty correlation table for one CLI process
 * @ret: the new table; free with cli_control_free()
 *
 * Return: 0; -ENOMEM.
 */
int cli_control_new(CliControl **ret) {
        CliControl *c;

        assert(ret);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->next_id = 1;
        *ret = c;
        return 0;
}

/**
 * cli_control_free() - free a table; the cookies of pending requests are the caller's
 * @c: the table (NULL is fine)
 *
 * Return: NULL.
 */
CliControl *cli_control_free(CliControl *c) {
        if (!c)
                return NULL;
        free(c->pending);
        free(c);
        return NULL;
}

/**
 * cli_control_n_pending() - how many host requests wait for their answer
 * @c: the table
 *
 * Return: the count.
 */
size_t cli_control_n_pending(const CliControl *c) {
        assert(c);
        return c->n_pending;
}

static CliControlPending *cli_control_find(CliControl *c, const char *id) {
        for (size_t i = 0; i < c->n_pending; i++)
                if (streq(c->pending[i].id, id))
                        return &c->pending[i];
        return NULL;
}

static void cli_control_remove(CliControl *c, CliControlPending *p) {
        size_t i = (size_t) (p - c->pending);

        /* Order does not matter; answers come in any order (get_context_usage is slow). */
        c->pending[i] = c->pending[--c->n_pending];
}

/**
 * cli_control_forget() - stop waiting for the answer to a host request
 * @c: the table
 * @request_id: the id cli_control_send() gave it
 *
 * A late answer then comes out of cli_control_receive() as CLI_CONTROL_IN_STRAY_RESPONSE.
 *
 * Return: the request's cookie, or NULL if it was not pending (or its cookie was NULL).
 */
void *cli_control_forget(CliControl *c, const char *request_id) {
        CliControlPending *p;
        void *cookie;

        assert(c);

        if (!request_id)
                return NULL;
        p = cli_control_find(c, request_id);
        if (!p)
                return NULL;
        cookie = p->cookie;
        cli_control_remove(c, p);
        return cookie;
}

static int cli_control_request_new(const char *subtype, json_t **ret) {
        json_t *r = json_pack("{s:s}", "subtype", subtype);

        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

/**
 * cli_control_build_initialize() - the SDK's `initialize` request, used for late configuration
 * @init: what to set; NULL fields are left out
 * @ret_request: new request object for cli_control_send()
 *
 * The system prompt goes as a one-element array (the schema's form). Measured (warm_system_*):
 * systemPrompt and appendSystemPrompt reach upstream exactly like --system-prompt-file and
 * --append-system-prompt-file, identity block included. sdkMcpServers names servers the host
 * answers `mcp_message` for; the CLI starts their handshake right after the answer (§16.4).
 * Send it at most once per process, before the first user line.
 *
 * Return: 0; -ENOMEM.
 */
int cli_control_build_initialize(const CliControlInit *init, json_t **ret_request) {
        json_auto_t *r = NULL;
        int k;

        assert(init);
        assert(ret_request);

        k = cli_control_request_new("initialize", &r);
        if (k < 0)
                return k;
        /* By length: a prompt may hold a NUL, which "s" and json_string() would cut it at. */
        if (init->system_prompt &&
            json_object_set_new(r, "systemPrompt",
                                json_pack("[s%]", init->system_prompt,
                                          init->system_prompt_len ?: strlen(init->system_prompt))) < 0)
                return -ENOMEM;
        if (init->append_system_prompt &&
            json_object_set_new(r, "appendSystemPrompt",
                                json_stringn(init->append_system_prompt,
                                             init->append_system_prompt_len ?: strlen(init->append_system_prompt))) < 0)
                return -ENOMEM;
        if (init->json_schema &&
            json_object_set_new(r, "jsonSchema", json_deep_copy(init->json_schema)) < 0)
                return -ENOMEM;
        if (init->sdk_mcp_servers) {
                json_t *names = json_array();

                if (json_object_set_new(r, "sdkMcpServers", names) < 0)
                        return -ENOMEM;
                for (char *const *n = init->sdk_mcp_servers; *n; n++)
                        if (json_array_append_new(names, json_string(*n)) < 0)
                                return -ENOMEM;
        }
        *ret_request = TAKE_PTR(r);
        return 0;
}

/**
 * cli_control_build_set_model() - switch the model for the next turns
 * @model: an alias or id; NULL: back to the CLI's default
 * @ret_request: new request object for cli_control_send()
 *
 * Beware (warm_set_model_*): a *change* of model runs the /model command, whose caveat, command
 * and "Set model to M" output become text blocks of the next upstream user message, and stdout
 * gets a `user` line for it. Setting the model the process already has adds nothing
 * (warm_keyed_model_same_set_model). So a pool is keyed by model rather than switched.
 *
 * Return: 0; -ENOMEM.
 */
int cli_control_build_set_model(const char *model, json_t **ret_request) {
        json_auto_t *r = NULL;
        int k;

        assert(ret_request);

        k = cli_control_request_new("set_model", &r);
        if (k < 0)
                return k;
        if (model && json_object_set_new(r, "model", json_string(model)) < 0)
                return -ENOMEM;
        *ret_request = TAKE_PTR(r);
        return 0;
}

/**
 * cli_control_build_set_max_thinking_tokens() - the thinking budget for the next turns
 * @max_thinking_tokens: 0 turns thinking off on every model (= --thinking disabled); N > 0 is
 *      the budget of a budget-thinking model (= --max-thinking-tokens N; adaptive models ignore
 *      it); negative sends null, which clears an earlier value
 * @ret_request: new request object for cli_control_send()
 *
 * Return: 0; -ENOMEM.
 */
int cli_control_build_set_max_thinking_tokens(int64_t max_thinking_tokens, json_t **ret_request) {
        json_auto_t *r = NULL;
        int k;

        assert(ret_request);

        k = cli_control_request_new("set_max_thinking_tokens", &r);
        if (k < 0)
                return k;
        if (json_object_set_new(r, "max_thinking_tokens",
                                max_thinking_tokens >= 0 ? json_integer(max_thinking_tokens) : json_null()) < 0)
                return -ENOMEM;
        *ret_request = TAKE_PTR(r);
        return 0;
}

/**
 * cli_control_build_apply_flag_settings() - merge settings into the CLI's flag-settings layer
 * @settings: an object, stolen (also on failure); a null value clears that setting
 * @ret_request: new request object for cli_control_send()
 *
 * This is how the CLI's own remote client changes effort (there is no set_effort request).
 * Note that {"model": M} here runs the same /model command as set_model.
 *
 * Return: 0; -EINVAL if @settings is not an object; -ENOMEM.
 */
int cli_control_build_apply_flag_settings(json_t *settings, json_t **ret_request) {
        json_auto_t *s = settings, *r = NULL;
        int k;

        assert(ret_request);

        if (!json_is_object(s))
                return -EINVAL;
        k = cli_control_request_new("apply_flag_settings", &r);
        if (k < 0)
                return k;
        if (json_object_set_new(r, "settings", TAKE_PTR(s)) < 0)
                return -ENOMEM;
        *ret_request = TAKE_PTR(r);
        return 0;
}

/**
 * cli_control_build_set_effort() - the effort for the next turns (= --effort)
 * @effort: low, medium, high, xhigh or max; NULL clears it (the model's default, "high")
 * @ret_request: new request object for cli_control_send()
 *
 * Measured (warm_effort, warm_effort_max): `output_config.effort` upstream as with --effort.
 *
 * Return: 0; -EINVAL for another value; -ENOMEM.
 */
int cli_control_build_set_effort(const char *effort, json_t **ret_request) {
        json_t *settings;
        bool known = !effort;

        assert(ret_request);

        for (size_t i = 0; !known && i < ELEMENTSOF(cli_effort_levels); i++)
                known = streq(effort, cli_effort_levels[i]);
        if (!known)
                return -EINVAL;
        settings = json_pack("{s:o}", "effortLevel", effort ? json_string(effort) : json_null());
        if (!settings)
                return -ENOMEM;
        return cli_control_build_apply_flag_settings(settings, ret_request);
}

/**
 * cli_control_build_generic() - a request with nothing but its subtype
 * @subtype: e.g. "interrupt", "get_context_usage", "mcp_status"
 * @ret_request: new request object; add fields before cli_control_send()
 *
 * Return: 0; -EINVAL for an empty subtype; -ENOMEM.
 */
int cli_control_build_generic(const char *subtype, json_t **ret_request) {
        assert(subtype);
        assert(ret_request);

        if (!*subtype)
                return -EINVAL;
        return cli_control_request_new(subtype, ret_request);
}

/**
 * cli_control_build_interrupt() - end the running turn
 * @ret_request: new request object for cli_control_send()
 *
 * The way to stop a run parked in a tools/call (§16.2): the CLI cancels the call, answers, prints
 * a `result` error_during_execution / aborted_tools and waits for more input. On an idle process
 * it just answers success (warm_misc_requests).
 *
 * Return: 0; -ENOMEM.
 */
int cli_control_build_interrupt(json_t **ret_request) {
        return cli_control_build_generic("interrupt", ret_request);
}

/**
 * cli_control_build_get_context_usage() - ask for the context window breakdown (§16.5)
 * @ret_request: new request object for cli_control_send()
 *
 * The CLI computes it with several upstream count_tokens calls (warm_misc_requests: 9).
 *
 * Return: 0; -ENOMEM.
 */
int cli_control_build_get_context_usage(json_t **ret_request) {
        return cli_control_build_generic("get_context_usage", ret_request);
}

/**
 * cli_control_send() - give a host request an id, register it, and wrap it into a stdin line
 * @c: the table
 * @request: a request object from a cli_control_build_*() function, stolen (also on failure)
 * @cookie: handed back with the answer (cli_control_receive()) or by cli_control_forget()
 * @ret_line: new `{"type":"control_request","request_id":...,"request":...}` object to write
 *
 * Return: 0; -EINVAL if @request is not an object with a string subtype; -EBUSY with
 * CLI_CONTROL_PENDING_MAX requests already pending; -ENOMEM.
 */
int cli_control_send(CliControl *c, json_t *request, void *cookie, json_t **ret_line) {
        json_auto_t *r = request, *line = NULL;
        const char *subtype;
        CliControlPending *p;

        assert(c);
        assert(ret_line);

        subtype = json_string_value(json_object_get(r, "subtype"));
        if (!json_is_object(r) || !subtype)
                return -EINVAL;
        if (c->n_pending >= CLI_CONTROL_PENDING_MAX)
                return -EBUSY;
        if (c->n_pending == c->n_allocated) {
                size_t n = MAX(c->n_allocated * 2, (size_t) 4);
                CliControlPending *a = reallocarray(c->pending, n, sizeof(*a));

                if (!a)
                        return -ENOMEM;
                c->pending = a;
                c->n_allocated = n;
        }

        p = &c->pending[c->n_pending];
        *p = (CliControlPending) {
                .kind = cli_control_kind_from_string(subtype),
                .cookie = cookie,
        };
        (void) snprintf(p->id, sizeof(p->id), "host_%" PRIu64, c->next_id);

        line = json_pack("{s:s,s:s,s:O}", "type", "control_request", "request_id", p->id, "request", r);
        if (!line)
                return -ENOMEM;
        c->next_id++;
        c->n_pending++;
        *ret_line = TAKE_PTR(line);
        return 0;
}

static int cli_control_append(json_t *requests, int k, json_t *request) {
        if (k < 0)
                return k;
        if (json_array_append_new(requests, request) < 0)
                return -ENOMEM;
        return 0;
}

/*
 * What goes into the one initialize a process takes: the structured-output schema and the client
 * tools' "sdk" server (both kinds of process: cli/README §16.4, declared per request, never at
 * spawn) and, for a pooled one, the system prompt that a cold one has in its argv. Kept apart
 * from the other late settings because the CLI takes a single initialize per process.
 */
static void cli_control_init_for(const CliRequest *r, bool pooled, CliControlInit *init) {
        static char *const tool_servers[] = { (char *) "cp", NULL };

        *init = (CliControlInit) {};
        if (pooled && r->system_prompt && r->system_prompt_mode == SYSTEM_PROMPT_APPEND) {
                init->append_system_prompt = r->system_prompt;
                init->append_system_prompt_len = r->system_prompt_len;
        } else if (pooled && r->system_prompt && r->system_prompt_mode == SYSTEM_PROMPT_REPLACE) {
                init->system_prompt = r->system_prompt;
                init->system_prompt_len = r->system_prompt_len;
        }
        init->json_schema = r->json_schema;
        if (json_array_size(r->tools) > 0)
                init->sdk_mcp_servers = tool_servers;
}

static bool cli_control_init_empty(const CliControlInit *init) {
        return !init->system_prompt && !init->append_system_prompt && !init->json_schema && !init->sdk_mcp_servers;
}

static int cli_control_append_init(json_t *requests, const CliControlInit *init) {
        json_t *req = NULL;
        int k;

        if (cli_control_init_empty(init))
                return 0;
        k = cli_control_build_initialize(init, &req);
        return cli_control_append(requests, k, req);
}

/* A new array holding the one initialize a pooled process needs for @r (none when it needs none). */
static int cli_control_build_pooled_init(const CliRequest *r, json_t **ret_requests) {
        json_auto_t *requests = json_array();
        CliControlInit init;
        int k;

        if (!requests)
                return -ENOMEM;
        cli_control_init_for(r, /* pooled= */ true, &init);
        k = cli_control_append_init(requests, &init);
        if (k < 0)
                return k;
        *ret_requests = TAKE_PTR(requests);
        return 0;
}

/**
 * cli_control_build_cold_initialize() - the initialize a cold run sends before its conversation
 * @r: the request
 * @ret_request: new request object, or NULL when @r needs none
 *
 * A cold process has its settings in argv, except what only the control channel can declare:
 * the client tools' "sdk" server and the structured-output schema. The CLI takes ONE initialize
 * per process, so anything else a cold run must send in an initialize belongs in this one.
 *
 * Return: 0 or -ENOMEM.
 */
int cli_control_build_cold_initialize(const CliRequest *r, json_t **ret_request) {
        CliControlInit init;

        *ret_request = NULL;
        cli_control_init_for(r, /* pooled= */ false, &init);
        if (cli_control_init_empty(&init))
                return 0;
        return cli_control_build_initialize(&init, ret_request);
}

/**
 * cli_control_build_late_config() - the control requests equal to a request's per-request argv
 * @r: the request, as for cli_request_build_argv()
 * @ret_requests: new array of request objects (possibly empty), in the order to send them
 *
 * The mirror of cli_request_build_argv() for a pooled process (table in control.h): the system
 * prompt in APPEND/REPLACE mode → initialize; effort → apply_flag_settings; thinking off →
 * set_max_thinking_tokens 0; a budget → set_max_thinking_tokens N. The model is not among them:
 * a pooled process must already have it (a late change leaves the /model record upstream).
 * Recorded as warm_keyed_model_pipelined: sent back to back with the user line, the upstream
 * request equals the one of the full argv. The same initialize also carries what no argv has
 * (cli_control_build_cold_initialize()): a process takes one initialize.
 *
 * Return: 0; -EINVAL for an effort the CLI does not take; -ENOMEM.
 */
int cli_control_build_late_config(const CliRequest *r, json_t **ret_requests) {
        json_auto_t *requests = NULL;
        json_t *req = NULL;
        int k;

        assert(r);
        assert(ret_requests);

        k = cli_control_build_pooled_init(r, &requests);
        if (k < 0)
                return k;
        if (r->effort) {
                k = cli_control_build_set_effort(r->effort, &req);
                k = cli_control_append(requests, k, TAKE_PTR(req));
                if (k < 0)
                        return k;
        }
        if (!r->thinking || r->thinking_budget > 0) {
                k = cli_control_build_set_max_thinking_tokens(r->thinking ? r->thinking_budget : 0, &req);
                k = cli_control_append(requests, k, TAKE_PTR(req));
                if (k < 0)
                        return k;
        }

        *ret_requests = TAKE_PTR(requests);
        return 0;
}

/* A CLI request: known subtypes with the fields they need, everything else CLI_ASK_UNKNOWN. */
static void cli_control_classify_ask(const json_t *request, CliControlIn *in) {
        in->ask_request = request;
        in->ask_subtype = json_string_value(json_object_get(request, "subtype"));
        in->ask = cli_ask_kind_from_string(in->ask_subtype);

        switch (in->ask) {
        case CLI_ASK_MCP_MESSAGE: {
                const json_t *id;

                in->server_name = json_string_value(json_object_get(request, "server_name"));
                in->mcp_message = json_object_get(request, "message");
                if (!in->server_name || !json_is_object(in->mcp_message)) {
                        /* Without both there is nothing to route: answer it like an unknown ask. */
                        in->ask = CLI_ASK_UNKNOWN;
                        in->server_name = NULL;
                        in->mcp_message = NULL;
                        break;
                }
                /*
                 * The TypeScript SDK answers a JSON-RPC request (method and a non-null id) with
                 * the server's reply, and anything else (notifications, replies to the server's
                 * own requests) with an empty result at id 0. Same split here.
                 */
                id = json_object_get(in->mcp_message, "id");
                in->mcp_notification = !json_is_string(json_object_get(in->mcp_message, "method")) ||
                                       !id || json_is_null(id);
                break;
        }
        case CLI_ASK_CAN_USE_TOOL:
                in->tool_name = json_string_value(json_object_get(request, "tool_name"));
                if (!in->tool_name)
                        in->ask = CLI_ASK_UNKNOWN;
                break;
        default:
                break;
        }
}

/**
 * cli_control_receive() - classify a control line from the CLI
 * @c: the table; a matched answer leaves it
 * @ev: a CLI_EVENT_CONTROL_REQUEST, _CONTROL_RESPONSE or _CONTROL_CANCEL_REQUEST event
 * @ret: filled on success; its pointers borrow from @ev
 *
 * A request with a subtype this module does not know, or a known one lacking what it needs, is
 * CLI_ASK_UNKNOWN: the CLI waits for an answer to every request, so the caller answers it
 * (cli_control_build_refusal()). An answer whose id is not pending is
 * CLI_CONTROL_IN_STRAY_RESPONSE, never an error: it may be the late answer to a forgotten one.
 *
 * Return: 0; -EINVAL if @ev is not a control event; -EBADMSG for a line without a request_id,
 * or an answer whose subtype is neither "success" nor "error".
 */
int cli_control_receive(CliControl *c, const CliEvent *ev, CliControlIn *ret) {
        CliControlIn in = {};

        assert(c);
        assert(ev);
        assert(ret);

        if (ev->type != CLI_EVENT_CONTROL_REQUEST && ev->type != CLI_EVENT_CONTROL_RESPONSE &&
            ev->type != CLI_EVENT_CONTROL_CANCEL_REQUEST)
                return -EINVAL;
        /* Nothing can be matched or answered without it. */
        if (!ev->request_id)
                return -EBADMSG;
        in.request_id = ev->request_id;

        switch (ev->type) {
        case CLI_EVENT_CONTROL_REQUEST:
                in.type = CLI_CONTROL_IN_ASK;
                cli_control_classify_ask(ev->payload, &in);
                break;

        case CLI_EVENT_CONTROL_RESPONSE: {
                const char *subtype = json_string_value(json_object_get(ev->payload, "subtype"));
                CliControlPending *p;

                if (streq_ptr(subtype, "success")) {
                        in.success = true;
                        in.response = json_object_get(ev->payload, "response");
                } else if (streq_ptr(subtype, "error"))
                        in.error = json_string_value(json_object_get(ev->payload, "error")) ?: "";
                else
                        return -EBADMSG;

                p = cli_control_find(c, in.request_id);
                if (p) {
                        in.type = CLI_CONTROL_IN_RESPONSE;
                        in.kind = p->kind;
                        in.cookie = p->cookie;
                        cli_control_remove(c, p);
                } else
                        in.type = CLI_CONTROL_IN_STRAY_RESPONSE;
                break;
        }

        default:
                assert(ev->type == CLI_EVENT_CONTROL_CANCEL_REQUEST);
                in.type = CLI_CONTROL_IN_CANCEL;
        }

        *ret = in;
        return 0;
}

/**
 * cli_control_build_success() - the host's answer to a CLI request
 * @request_id: the CLI's id
 * @response: the answer object, stolen (also on failure); NULL sends {}
 * @ret_line: new `{"type":"control_response","response":{"subtype":"success",...}}` object
 *
 * Return: 0; -EINVAL if @response is not an object; -ENOMEM.
 */
int cli_control_build_success(const char *request_id, json_t *response, json_t **ret_line) {
        json_auto_t *r = response ?: json_object();
        json_t *line;

        assert(request_id);
        assert(ret_line);

        if (!r)
                return -ENOMEM;
        if (!json_is_object(r))
                return -EINVAL;
        line = json_pack("{s:s,s:{s:s,s:s,s:O}}", "type", "control_response",
                         "response", "subtype", "success", "request_id", request_id, "response", r);
        if (!line)
                return -ENOMEM;
        *ret_line = line;
        return 0;
}

/**
 * cli_control_build_error() - the host's refusal of a CLI request
 * @request_id: the CLI's id
 * @message: why; the CLI puts it into the error it raises (e.g. the tool_result text)
 * @ret_line: new `{"type":"control_response","response":{"subtype":"error",...}}` object
 *
 * Return: 0; -ENOMEM.
 */
int cli_control_build_error(const char *request_id, const char *message, json_t **ret_line) {
        json_t *line;

        assert(request_id);
        assert(message);
        assert(ret_line);

        line = json_pack("{s:s,s:{s:s,s:s,s:s}}", "type", "control_response",
                         "response", "subtype", "error", "request_id", request_id, "error", message);
        if (!line)
                return -ENOMEM;
        *ret_line = line;
        return 0;
}

/**
 * cli_control_build_mcp_response() - the answer to an `mcp_message` request
 * @request_id: the CLI's id
 * @jsonrpc: the JSON-RPC reply ({"jsonrpc":"2.0","id":...,"result"|"error":...}), stolen (also
 *      on failure)
 * @ret_line: new control_response line with `response.mcp_response` = @jsonrpc
 *
 * Return: 0; -EINVAL if @jsonrpc is not an object; -ENOMEM.
 */
int cli_control_build_mcp_response(const char *request_id, json_t *jsonrpc, json_t **ret_line) {
        json_auto_t *j = jsonrpc;
        json_t *response;

        if (!json_is_object(j))
                return -EINVAL;
        response = json_pack("{s:O}", "mcp_response", j);
        if (!response)
                return -ENOMEM;
        return cli_control_build_success(request_id, response, ret_line);
}

/**
 * cli_control_build_refusal() - the answer of a host that does not handle this kind of request
 * @in: a CLI_CONTROL_IN_ASK
 * @ret_line: new control_response line
 *
 * What the TypeScript SDK answers without a handler, so the CLI reacts the way it was written
 * for: an MCP notification gets an empty result; a can_use_tool a deny (the tool_result tells
 * the model it may not); an elicitation "decline"; a user dialog "cancelled" (an error would
 * leave that dialog parked); everything else an error naming the subtype.
 *
 * Return: 0; -EINVAL if @in is not an ask; -ENOMEM.
 */
int cli_control_build_refusal(const CliControlIn *in, json_t **ret_line) {
        _cleanup_free_ char *message = NULL;
        json_t *answer;

        assert(in);
        assert(ret_line);

        if (in->type != CLI_CONTROL_IN_ASK || !in->request_id)
                return -EINVAL;

        switch (in->ask) {
        case CLI_ASK_MCP_MESSAGE:
                if (in->mcp_notification) {
                        answer = json_pack("{s:s,s:{},s:i}", "jsonrpc", "2.0", "result", "id", 0);
                        if (!answer)
                                return -ENOMEM;
                        return cli_control_build_mcp_response(in->request_id, answer, ret_line);
                }
                if (asprintf(&message, "SDK MCP server not found: %s", in->server_name) < 0)
                        return -ENOMEM;
                return cli_control_build_error(in->request_id, message, ret_line);

        case CLI_ASK_CAN_USE_TOOL: {
                const json_t *tool_use_id = json_object_get(in->ask_request, "tool_use_id");

                answer = json_pack("{s:s,s:s}", "behavior", "deny",
                                   "message", "The host does not grant permission to use this tool.");
                if (!answer)
                        return -ENOMEM;
                if (json_is_string(tool_use_id) &&
                    json_object_set_new(answer, "toolUseID", json_string(json_string_value(tool_use_id))) < 0) {
                        json_decref(answer);
                        return -ENOMEM;
                }
                return cli_control_build_success(in->request_id, answer, ret_line);
        }

        case CLI_ASK_ELICITATION:
                answer = json_pack("{s:s}", "action", "decline");
                if (!answer)
                        return -ENOMEM;
                return cli_control_build_success(in->request_id, answer, ret_line);

        case CLI_ASK_REQUEST_USER_DIALOG:
                answer = json_pack("{s:s}", "behavior", "cancelled");
                if (!answer)
                        return -ENOMEM;
                return cli_control_build_success(in->request_id, answer, ret_line);

        default:
                if (asprintf(&message, "Unsupported control request subtype: %s",
                             in->ask_subtype ?: "(none)") < 0)
                        return -ENOMEM;
                return cli_control_build_error(in->request_id, message, ret_line);
        }
}
