/* SPDX-License-Identifier: MIT */

/*
 * The OpenAI Responses API: a /v1/responses body -> ApiRequest, and CLI events -> the typed
 * event sequence (response.created, .in_progress, .output_item.added, .content_part.added,
 * .output_text.delta/.done, .content_part.done, .output_item.done, .completed; .failed on
 * error), each with an increasing sequence_number, or the whole response object.
 *
 * The request side re-states `input` as Chat Completions messages (input_text -> text,
 * input_image -> image_url, input_file -> file, function_call -> an assistant tool call,
 * function_call_output -> a tool message, instructions -> a system message) and lets the chat
 * parser validate and translate them, so both OpenAI surfaces read content the same way. The
 * stream side re-tells one AnthropicStream, like the chat translator. The proxy keeps no
 * responses: previous_response_id is refused with a 400 that says to send the items.
 *
 * Thinking: `reasoning.effort` (any but "none") or `reasoning.summary` turns the CLI's thinking
 * on, and its thinking comes back as a `reasoning` output item whose summary holds the text
 * (streamed as response.reasoning_summary_part.added, .reasoning_summary_text.delta/.done,
 * .reasoning_summary_part.done), before the message, as the real API orders them. The response
 * object repeats the request fields the real API repeats (openai_responses_echo()).
 *
 * Function tools are re-stated as chat tools too (client tools, api/client-tools.c): a tool call
 * comes back as a function_call item with its arguments streamed. A namespace's functions are
 * offered flat and their calls come back with `namespace`; other tool types (web search, ...)
 * have no runner here: named in x-proxy-unsupported ("tools.web_search") and not offered
 * (api/responses-tools.c).
 */

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "api/openai.h"
#include "api/responses-tools.h"
#include "api/structured-output.h"
#include "util/macro.h"

static const char *const advisory_params[] = {
        "temperature", "top_p", "max_output_tokens",
        "store", "include", "metadata", "prompt_cache_key", "truncation", "user", "service_tier",
        "client_metadata", "safety_identifier", "top_logprobs", "max_tool_calls", "prompt",
};

static bool is_set(const json_t *v) {
        return v && !json_is_null(v);
}

/* One content part of an input message, as a chat part. */
static json_t *part_to_chat(const json_t *p, const char *at, ApiError *reterr, int *ret_error) {
        const char *type = json_string_value(json_object_get(p, "type"));

        if (streq_ptr(type, "input_text") || streq_ptr(type, "output_text") || streq_ptr(type, "text"))
                return json_pack("{s:s,s:O?}", "type", "text", "text", json_object_get(p, "text"));
        if (streq_ptr(type, "refusal"))
                return json_pack("{s:s,s:O?}", "type", "text", "text", json_object_get(p, "refusal"));
        if (streq_ptr(type, "input_image")) {
                const json_t *url = json_object_get(p, "image_url");

                if (!json_is_string(url)) {
                        *ret_error = api_error_request(reterr, at,
                                                   "%s: needs an \"image_url\" (file_id refers to the Files API, "
                                                   "which this proxy cannot reach)", at);
                        return NULL;
                }
                return json_pack("{s:s,s:{s:O}}", "type", "image_url", "image_url", "url", url);
        }
        if (streq_ptr(type, "input_file"))
                return json_pack("{s:s,s:{s:O?,s:O?}}", "type", "file", "file", "file_data",
                                 json_object_get(p, "file_data"), "filename", json_object_get(p, "filename"));
        *ret_error = api_error_request(reterr, at,
                                   "%s: unsupported content type '%s' (expected input_text, input_image or "
                                   "input_file)", at, type ?: "(none)");
        return NULL;
}

/* `input` (string or items) -> chat messages appended to `msgs`. */
static int input_to_chat(const json_t *input, json_t *msgs, ApiError *reterr) {
        size_t i;
        const json_t *item;

        if (json_is_string(input))
                return json_array_append_new(msgs, json_pack("{s:s,s:O}", "role", "user", "content", input)) < 0
                               ? -ENOMEM
                               : 0;
        if (!json_is_array(input) || json_array_size(input) == 0)
                return api_error_request(reterr, "input", "input: required, a string or a non-empty array of items");

        json_array_foreach(input, i, item) {
                const char *type = json_string_value(json_object_get(item, "type"));
                char at[64];
                json_t *m = NULL;

                (void) snprintf(at, sizeof(at), "input.%zu", i);
                if (!json_is_object(item))
                        return api_error_request(reterr, at, "%s: must be an object", at);
                if (!type || streq(type, "message")) {
                        const json_t *content = json_object_get(item, "content");
                        const char *role = json_string_value(json_object_get(item, "role"));

                        if (json_is_array(content)) {
                                json_auto_t *parts = json_array();
                                size_t k;
                                const json_t *p;

                                if (!parts)
                                        return -ENOMEM;
                                json_array_foreach(content, k, p) {
                                        char pat[96];
                                        int r = -ENOMEM;
                                        json_t *cp;

                                        (void) snprintf(pat, sizeof(pat), "%s.content.%zu", at, k);
                                        cp = part_to_chat(p, pat, reterr, &r);
                                        if (!cp)
                                                return r;
                                        if (json_array_append_new(parts, cp) < 0)
                                                return -ENOMEM;
                                }
                                m = json_pack("{s:s?,s:O}", "role", role, "content", parts);
                        } else
                                m = json_pack("{s:s?,s:O?}", "role", role, "content", content);
                } else if (streq(type, "function_call")) {
                        const json_t *id = json_object_get(item, "call_id") ?: json_object_get(item, "id");
                        const json_t *name = json_object_get(item, "name"), *ns = json_object_get(item, "namespace");
                        json_auto_t *flat = NULL;

                        /* A namespace member's call: the model knew it by its flat name. */
                        if (json_is_string(ns) && json_is_string(name)) {
                                _cleanup_free_ char *f = NULL;

                                if (responses_tools_flat_name(json_string_value(ns), json_string_value(name), &f) < 0 ||
                                    !(flat = json_string(f)))
                                        return -ENOMEM;
                                name = flat;
                        }
                        m = json_pack("{s:s,s:n,s:[{s:O?,s:s,s:{s:O?,s:O?}}]}", "role", "assistant", "content",
                                      "tool_calls", "id", id, "type", "function", "function", "name", name,
                                      "arguments", json_object_get(item, "arguments"));
                } else if (streq(type, "function_call_output")) {
                        const json_t *out = json_object_get(item, "output");

                        m = json_pack("{s:s,s:O?,s:O?}", "role", "tool", "tool_call_id", json_object_get(item, "call_id"),
                                      "content", json_is_string(out) ? out : NULL);
                        if (m && !json_is_string(out)) {
                                _cleanup_free_ char *s = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                                if (json_object_set_new(m, "content", json_string(s ?: "")) < 0) {
                                        json_decref(m);
                                        return -ENOMEM;
                                }
                        }
                } else if (streq(type, "item_reference"))
                        /* What a client sends with store:true in place of the items the server kept
                         * (the Vercel AI SDK's default): nothing here to look up. */
                        return api_error_request(reterr, at,
                                             "%s: item_reference refers to an item the server stored, and this "
                                             "proxy stores nothing (store is always false): send the item itself "
                                             "(with the Vercel AI SDK: providerOptions.openai.store = false)", at);
                else if (streq(type, "reasoning"))
                        /* Earlier reasoning the client echoes back: the CLI cannot take it. */
                        continue;
                else
                        return api_error_request(reterr, at,
                                             "%s: unsupported item type '%s' (expected message, function_call or "
                                             "function_call_output)", at, type);
                if (!m || json_array_append_new(msgs, m) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* `tools`, `tool_choice` and `parallel_tool_calls` in chat terms, added to @chat; the tool types
 * left out are named in @unsupported, the client's field of each chat tool is in @paths
 * (api/responses-tools.h). */
static int tools_to_chat(const json_t *body, json_t *chat, json_t *paths, char **unsupported, ApiError *reterr) {
        const json_t *tools = json_object_get(body, "tools"), *choice = json_object_get(body, "tool_choice");
        json_auto_t *list = NULL;
        int r;

        if (is_set(tools)) {
                list = json_array();
                if (!list)
                        return -ENOMEM;
                r = responses_tools_to_chat(tools, list, paths, unsupported, reterr);
                if (r < 0)
                        return r;
                if (json_object_set(chat, "tools", list) < 0)
                        return -ENOMEM;
        }
        if (json_is_object(choice) && streq_ptr(json_string_value(json_object_get(choice, "type")), "function")) {
                const json_t *name = json_object_get(choice, "name"), *ns = json_object_get(choice, "namespace");
                _cleanup_free_ char *flat = NULL;

                if (json_is_string(ns) && json_is_string(name) &&
                    responses_tools_flat_name(json_string_value(ns), json_string_value(name), &flat) < 0)
                        return -ENOMEM;
                if (json_object_set_new(chat, "tool_choice",
                                        json_pack("{s:s,s:{s:o?}}", "type", "function", "function", "name",
                                                  flat ? json_string(flat) : json_incref((json_t *) name))) < 0)
                        return -ENOMEM;
        } else if (is_set(choice) && json_object_set(chat, "tool_choice", (json_t *) choice) < 0)
                return -ENOMEM;
        if (is_set(json_object_get(body, "parallel_tool_calls")) &&
            json_object_set(chat, "parallel_tool_calls", json_object_get(body, "parallel_tool_calls")) < 0)
                return -ENOMEM;
        return 0;
}

/* The chat parser names chat fields ("tools.0.function.name"); say which of ours it was. @paths:
 * the client's field of each chat tool (namespaces are flattened, so the indices differ). */
static void error_to_responses(ApiError *e, const json_t *paths) {
        char p[sizeof(e->param)], m[sizeof(e->message)];
        const char *fn, *tool;
        size_t n;

        if (!e)
                return;
        if (strneq(e->param, "reasoning_effort", 16)) {
                (void) snprintf(e->param, sizeof(e->param), "reasoning.effort");
                return;
        }
        if (strneq(e->param, "messages", 8)) {
                (void) snprintf(p, sizeof(p), "input%s", e->param + 8);
                (void) snprintf(e->param, sizeof(e->param), "%s", p);
                return;
        }
        fn = strstr(e->param, ".function.");
        if (!fn || !(strneq(e->param, "tools.", 6) || strneq(e->param, "tool_choice.", 12)))
                return;
        /* Responses tools are flat: "tools.0.name", "tool_choice.name". The message starts with the param. */
        n = strlen(e->param);
        tool = strneq(e->param, "tools.", 6)
                       ? json_string_value(json_array_get(paths, strtoul(e->param + 6, NULL, 10)))
                       : NULL;
        if (tool)
                (void) snprintf(p, sizeof(p), "%s%s", tool, fn + strlen(".function"));
        else
                (void) snprintf(p, sizeof(p), "%.*s%s", (int) (fn - e->param), e->param, fn + strlen(".function"));
        if (strneq(e->message, e->param, n)) {
                (void) snprintf(m, sizeof(m), "%s%s", p, e->message + n);
                (void) snprintf(e->message, sizeof(e->message), "%s", m);
        }
        (void) snprintf(e->param, sizeof(e->param), "%s", p);
}

/*
 * The request fields a response object repeats, with the real API's value when the request
 * leaves one out. `store` defaults to false: this proxy stores nothing, whatever was asked.
 */
static const char echo_defaults[] =
        "{\"background\":false,\"instructions\":null,\"max_output_tokens\":null,\"max_tool_calls\":null,"
        "\"parallel_tool_calls\":true,\"previous_response_id\":null,\"prompt_cache_key\":null,"
        "\"reasoning\":{\"effort\":null,\"summary\":null},\"safety_identifier\":null,\"service_tier\":\"default\","
        "\"store\":false,\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"},\"verbosity\":\"medium\"},"
        "\"tool_choice\":\"auto\",\"tools\":[],\"top_logprobs\":0,\"top_p\":1.0,\"truncation\":\"disabled\","
        "\"user\":null,\"metadata\":{}}";

/**
 * openai_responses_echo() - what the response object repeats of a request
 * @body: the request body (validated), or NULL for the defaults
 * @ret: new object: background, instructions, max_output_tokens, ..., metadata
 *
 * Each field is the request's when it set it (not null), else the real API's default.
 * `reasoning` and `text` are merged member by member over their defaults, as the real API fills
 * in what the request left out; previous_response_id is always null (refused when set).
 *
 * Return: 0; -ENOMEM.
 */
int openai_responses_echo(const json_t *body, json_t **ret) {
        json_auto_t *echo = json_loads(echo_defaults, 0, NULL);
        const char *key;
        json_t *v;

        if (!echo)
                return -ENOMEM;
        json_object_foreach(echo, key, v) {
                const json_t *b = json_object_get(body, key);

                if (!is_set(b) || streq(key, "previous_response_id"))
                        continue;
                if (json_is_object(v) && json_is_object(b) && (streq(key, "reasoning") || streq(key, "text"))) {
                        if (json_object_update(v, (json_t *) b) < 0)
                                return -ENOMEM;
                        continue;
                }
                if (json_object_set(echo, key, (json_t *) b) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(echo);
        return 0;
}

/**
 * openai_responses_request_parse() - validate a /v1/responses body and build the ApiRequest
 * @body: the parsed body
 * @env: defaults and request headers
 * @ret: filled on success (free with api_request_done())
 * @reterr: on a client error, a 400 naming the field
 *
 * Return: 0; -EINVAL for a client error (reterr filled); -ENOMEM.
 */
int openai_responses_request_parse(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr) {
        _cleanup_(api_request_done) ApiRequest req = {};
        json_auto_t *chat = NULL, *msgs = json_array(), *paths = json_array();
        _cleanup_free_ char *unsupported = NULL;
        const json_t *v, *reasoning;
        int r;

        if (!msgs || !paths)
                return -ENOMEM;
        if (!json_is_object(body))
                return api_error_request(reterr, NULL, "Request body must be a JSON object");
        if (is_set(json_object_get(body, "previous_response_id")))
                return api_error_request(reterr, "previous_response_id",
                                     "previous_response_id: this proxy keeps no responses (it is stateless); send "
                                     "the earlier items in `input` instead");
        if (is_set(json_object_get(body, "conversation")))
                return api_error_request(reterr, "conversation",
                                     "conversation: this proxy keeps no conversations; send the items in `input`");
        if (json_is_true(json_object_get(body, "background")))
                return api_error_request(reterr, "background", "background: not supported; leave it out or false");
        v = json_object_get(body, "instructions");
        if (is_set(v) && !json_is_string(v))
                return api_error_request(reterr, "instructions", "instructions: must be a string");
        if (json_is_string(v) && json_string_length(v) > 0 &&
            json_array_append_new(msgs, json_pack("{s:s,s:O}", "role", "system", "content", v)) < 0)
                return -ENOMEM;
        r = input_to_chat(json_object_get(body, "input"), msgs, reterr);
        if (r < 0)
                return r;
        reasoning = json_object_get(body, "reasoning");
        if (is_set(reasoning) && !json_is_object(reasoning))
                return api_error_request(reterr, "reasoning", "reasoning: must be an object");

        chat = json_pack("{s:O?,s:O,s:O?,s:O?}", "model", json_object_get(body, "model"), "messages", msgs, "stream",
                         json_object_get(body, "stream"), "reasoning_effort", json_object_get(reasoning, "effort"));
        if (!chat)
                return -ENOMEM;
        r = tools_to_chat(body, chat, paths, &unsupported, reterr);
        if (r < 0)
                return r;
        r = openai_chat_request_parse(chat, env, &req, reterr);
        if (r < 0) {
                error_to_responses(reterr, paths);
                return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(advisory_params); i++)
                if (is_set(json_object_get(body, advisory_params[i])) &&
                    responses_tools_add_name(&unsupported, advisory_params[i]) < 0)
                        return -ENOMEM;
        /* text.format is honoured (structured output) and echoed; the rest of `text` is not. */
        r = structured_output_from_responses(body, &req.cli.json_schema, reterr);
        if (r < 0)
                return r;
        if (is_set(json_object_get(json_object_get(body, "text"), "verbosity")) &&
            responses_tools_add_name(&unsupported, "text.verbosity") < 0)
                return -ENOMEM;
        v = json_object_get(reasoning, "summary");
        if (is_set(v) && !json_is_string(v))
                return api_error_request(reterr, "reasoning.summary", "reasoning.summary: must be a string");
        /* Asking for a summary of the reasoning is asking to see it: thinking on, unless the
         * effort said "none" (which turned it off). */
        if (json_is_string(v) && !streq(json_string_value(v), "none") &&
            !streq_ptr(json_string_value(json_object_get(reasoning, "effort")), "none"))
                req.cli.thinking = true;
        r = openai_responses_echo(body, &req.echo);
        if (r < 0)
                return r;
        free(req.unsupported);
        req.unsupported = TAKE_PTR(unsupported);
        req.kind = API_RESPONSES;
        *ret = req;
        req = (ApiRequest) {};
        return 0;
}

/* ---- the stream ------------------------------------------------------------------------------ */

typedef struct Item {
        char *id;
        char *text;             /* a function_call's arguments */
        size_t len;
        bool open;
        bool reasoning;         /* a reasoning item (the CLI's thinking), else a message */
        bool function_call;     /* a client tool call (tool_use), else a message */
        json_t *call;           /* function_call: {call_id, name} */
} Item;

struct OpenAIResponsesStream {
        char *id;
        char *model;
        int64_t created;
        bool started, ended;
        int64_t seq;
        AnthropicStream *a;
        Item *items;
        size_t n_items;
        int open_item;          /* index into items of the open message item, -1: none */
        json_t *usage;          /* owned: Anthropic usage of the final message_delta */
        char *stop_reason;
        json_t *echo;           /* owned: the request fields the response repeats */
};

int openai_responses_stream_new(OpenAIResponsesStream **ret, const ApiRequest *req, const ApiEnv *env) {
        OpenAIResponsesStream *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->open_item = -1;
        s->created = env->created;
        s->id = strdup(env->message_id ?: "resp_unknown");
        s->model = strdup(req->client_model ?: req->cli.model ?: "unknown");
        if (req->echo)
                s->echo = json_incref(req->echo);
        else if (openai_responses_echo(NULL, &s->echo) < 0)
                s->echo = NULL;
        if (!s->id || !s->model || !s->echo || anthropic_stream_new(&s->a, req, env) < 0) {
                openai_responses_stream_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

OpenAIResponsesStream *openai_responses_stream_free(OpenAIResponsesStream *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_items; i++) {
                free(s->items[i].id);
                free(s->items[i].text);
                json_decref(s->items[i].call);
        }
        free(s->items);
        anthropic_stream_free(s->a);
        json_decref(s->usage);
        json_decref(s->echo);
        free(s->stop_reason);
        free(s->id);
        free(s->model);
        free(s);
        return NULL;
}

bool openai_responses_stream_started(const OpenAIResponsesStream *s) {
        return s && s->started;
}

/* A named event whose data carries its type and the next sequence_number. */
static int emit(OpenAIResponsesStream *s, const char *type, json_t *data, json_t *out) {
        if (!data)
                return -ENOMEM;
        if (json_object_set_new(data, "type", json_string(type)) < 0 ||
            json_object_set_new(data, "sequence_number", json_integer(s->seq++)) < 0) {
                json_decref(data);
                return -ENOMEM;
        }
        return json_array_append_new(out, json_pack("{s:s,s:o}", "event", type, "data", data)) < 0 ? -ENOMEM : 0;
}

static json_t *item_json(const Item *it, bool done) {
        if (it->reasoning)
                return done ? json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "id", it->id, "type", "reasoning", "summary", "type",
                                        "summary_text", "text", it->text ?: "")
                            : json_pack("{s:s,s:s,s:[]}", "id", it->id, "type", "reasoning", "summary");
        if (it->function_call)
                return json_pack("{s:s,s:s,s:s,s:O,s:O,s:O*,s:s}", "id", it->id, "type", "function_call", "status",
                                 done ? "completed" : "in_progress", "call_id", json_object_get(it->call, "call_id"),
                                 "name", json_object_get(it->call, "name"), "namespace",
                                 json_object_get(it->call, "namespace"), "arguments", it->text ?: "");
        /* Added, a message is empty, as the real API sends it: its part follows in
         * response.content_part.added (the SDKs' accumulators append it there and refuse an item
         * that already holds it). */
        if (!done)
                return json_pack("{s:s,s:s,s:s,s:s,s:[]}", "id", it->id, "type", "message", "status", "in_progress",
                                 "role", "assistant", "content");
        return json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:[]}]}", "id", it->id, "type", "message", "status",
                         "completed", "role", "assistant", "content", "type", "output_text", "text", it->text ?: "",
                         "annotations");
}

static json_t *usage_json(const json_t *u) {
        json_t *o = openai_usage_new(u);
        json_t *r;

        if (!o)
                return NULL;
        r = json_pack("{s:O,s:{s:O},s:O,s:{s:i},s:O}", "input_tokens", json_object_get(o, "prompt_tokens"),
                      "input_tokens_details", "cached_tokens",
                      json_object_get(json_object_get(o, "prompt_tokens_details"), "cached_tokens"), "output_tokens",
                      json_object_get(o, "completion_tokens"), "output_tokens_details", "reasoning_tokens", 0,
                      "total_tokens", json_object_get(o, "total_tokens"));
        json_decref(o);
        return r;
}

/* The response object as it stands: status, output so far, usage once known. */
static json_t *response_json(OpenAIResponsesStream *s, const char *status, const ApiError *err) {
        json_auto_t *output = json_array();
        json_t *r;

        if (!output)
                return NULL;
        for (size_t i = 0; i < s->n_items; i++)
                if (!s->items[i].open && json_array_append_new(output, item_json(&s->items[i], true)) < 0)
                        return NULL;
        r = json_pack("{s:s,s:s,s:I,s:s,s:n,s:n,s:s,s:O}", "id", s->id, "object", "response", "created_at",
                      (json_int_t) s->created, "status", status, "error", "incomplete_details", "model", s->model,
                      "output", output);
        if (r && json_object_update(r, s->echo) < 0) {
                json_decref(r);
                return NULL;
        }
        if (!r)
                return NULL;
        if (json_object_set_new(r, "usage", s->usage ? usage_json(s->usage) : json_null()) < 0)
                goto fail;
        if (streq(status, "incomplete") &&
            json_object_set_new(r, "incomplete_details", json_pack("{s:s}", "reason", "max_output_tokens")) < 0)
                goto fail;
        if (err && json_object_set_new(r, "error", json_pack("{s:s,s:s}", "code", err->type ?: "api_error",
                                                             "message", err->message)) < 0)
                goto fail;
        return r;
fail:
        json_decref(r);
        return NULL;
}

static int item_open(OpenAIResponsesStream *s, bool reasoning, json_t *out) {
        Item *items = realloc(s->items, (s->n_items + 1) * sizeof(Item));
        Item *it;
        int r;

        if (!items)
                return -ENOMEM;
        s->items = items;
        it = &s->items[s->n_items];
        *it = (Item) { .open = true, .reasoning = reasoning };
        if (asprintf(&it->id, "%s_%s_%zu", reasoning ? "rs" : "msg", s->id + (strneq(s->id, "resp_", 5) ? 5 : 0),
                     s->n_items) < 0) {
                it->id = NULL;
                return -ENOMEM;
        }
        s->open_item = (int) s->n_items++;
        r = emit(s, "response.output_item.added",
                 json_pack("{s:I,s:o}", "output_index", (json_int_t) s->open_item, "item", item_json(it, false)), out);
        if (r < 0)
                return r;
        if (reasoning)
                return emit(s, "response.reasoning_summary_part.added",
                            json_pack("{s:s,s:I,s:i,s:{s:s,s:s}}", "item_id", it->id, "output_index",
                                      (json_int_t) s->open_item, "summary_index", 0, "part", "type", "summary_text",
                                      "text", ""),
                            out);
        return emit(s, "response.content_part.added",
                    json_pack("{s:s,s:I,s:i,s:{s:s,s:s,s:[]}}", "item_id", it->id, "output_index",
                              (json_int_t) s->open_item, "content_index", 0, "part", "type", "output_text", "text", "",
                              "annotations"),
                    out);
}

/* A client tool call (Anthropic tool_use) as a function_call item; its arguments stream as deltas. */
static int item_open_call(OpenAIResponsesStream *s, const json_t *block, json_t *out) {
        Item *items = realloc(s->items, (s->n_items + 1) * sizeof(Item));
        const char *ns, *member;
        Item *it;

        if (!items)
                return -ENOMEM;
        s->items = items;
        it = &s->items[s->n_items];
        *it = (Item) { .open = true, .function_call = true };
        it->call = json_pack("{s:O,s:O}", "call_id", json_object_get(block, "id") ?: json_null(), "name",
                             json_object_get(block, "name") ?: json_null());
        /* A namespace member goes back under its own name, with its namespace. */
        if (it->call && responses_tools_split(json_object_get(s->echo, "tools"),
                                              json_string_value(json_object_get(block, "name")), &ns, &member) &&
            (json_object_set_new(it->call, "name", json_string(member)) < 0 ||
             json_object_set_new(it->call, "namespace", json_string(ns)) < 0)) {
                json_decref(it->call);
                it->call = NULL;
        }
        if (!it->call || asprintf(&it->id, "fc_%s_%zu", s->id + (strneq(s->id, "resp_", 5) ? 5 : 0), s->n_items) < 0) {
                json_decref(it->call);
                *it = (Item) {};
                return -ENOMEM;
        }
        s->open_item = (int) s->n_items++;
        return emit(s, "response.output_item.added",
                    json_pack("{s:I,s:o}", "output_index", (json_int_t) s->open_item, "item", item_json(it, false)),
                    out);
}

static int item_append(Item *it, const char *t) {
        size_t n = strlen(t);
        char *p = realloc(it->text, it->len + n + 1);

        if (!p)
                return -ENOMEM;
        memcpy(p + it->len, t, n + 1);
        it->text = p;
        it->len += n;
        return 0;
}

static int item_close(OpenAIResponsesStream *s, json_t *out) {
        Item *it;
        json_int_t idx;
        int r;

        if (s->open_item < 0)
                return 0;
        idx = s->open_item;
        it = &s->items[idx];
        s->open_item = -1;
        if (it->reasoning) {
                r = emit(s, "response.reasoning_summary_text.done",
                         json_pack("{s:s,s:I,s:i,s:s}", "item_id", it->id, "output_index", idx, "summary_index", 0,
                                   "text", it->text ?: ""),
                         out);
                if (r >= 0)
                        r = emit(s, "response.reasoning_summary_part.done",
                                 json_pack("{s:s,s:I,s:i,s:{s:s,s:s}}", "item_id", it->id, "output_index", idx,
                                           "summary_index", 0, "part", "type", "summary_text", "text", it->text ?: ""),
                                 out);
                it->open = false;
                if (r >= 0)
                        r = emit(s, "response.output_item.done",
                                 json_pack("{s:I,s:o}", "output_index", idx, "item", item_json(it, true)), out);
                return r;
        }
        if (it->function_call) {
                r = emit(s, "response.function_call_arguments.done",
                         json_pack("{s:s,s:I,s:O,s:s}", "item_id", it->id, "output_index", idx, "name",
                                   json_object_get(it->call, "name"), "arguments", it->text ?: ""),
                         out);
                it->open = false;
                if (r >= 0)
                        r = emit(s, "response.output_item.done",
                                 json_pack("{s:I,s:o}", "output_index", idx, "item", item_json(it, true)), out);
                return r;
        }
        r = emit(s, "response.output_text.done",
                 json_pack("{s:s,s:I,s:i,s:s,s:[]}", "item_id", it->id, "output_index", idx, "content_index", 0, "text",
                           it->text ?: "", "logprobs"),
                 out);
        if (r >= 0)
                r = emit(s, "response.content_part.done",
                         json_pack("{s:s,s:I,s:i,s:{s:s,s:s,s:[]}}", "item_id", it->id, "output_index", idx,
                                   "content_index", 0, "part", "type", "output_text", "text", it->text ?: "",
                                   "annotations"),
                         out);
        it->open = false;
        if (r >= 0)
                r = emit(s, "response.output_item.done", json_pack("{s:I,s:o}", "output_index", idx, "item",
                                                                   item_json(it, true)),
                         out);
        return r;
}

static int start(OpenAIResponsesStream *s, json_t *out) {
        int r;

        if (s->started)
                return 0;
        s->started = true;
        r = emit(s, "response.created", json_pack("{s:o}", "response", response_json(s, "in_progress", NULL)), out);
        if (r < 0)
                return r;
        return emit(s, "response.in_progress", json_pack("{s:o}", "response", response_json(s, "in_progress", NULL)),
                    out);
}

/* What a content_block_delta of @type carries in @field; NULL for another type or no text. */
static const char *delta_text(const json_t *data, const char *type, const char *field) {
        const json_t *d = json_object_get(data, "delta");
        const char *t = json_string_value(json_object_get(d, field));

        return streq_ptr(json_string_value(json_object_get(d, "type")), type) && t && *t ? t : NULL;
}

static int retell(OpenAIResponsesStream *s, const json_t *ev, json_t *out) {
        const char *name = json_string_value(json_object_get(ev, "event"));
        const json_t *data = json_object_get(ev, "data");
        int r;

        if (streq_ptr(name, "message_start"))
                return start(s, out);
        if (streq_ptr(name, "content_block_start")) {
                const json_t *block = json_object_get(data, "content_block");
                const char *type = json_string_value(json_object_get(block, "type"));

                if (streq_ptr(type, "tool_use"))
                        return item_open_call(s, block, out);
                /* A thinking block reaches us only when thinking was asked for (AnthropicStream). */
                if (streq_ptr(type, "thinking"))
                        return item_open(s, true, out);
                return streq_ptr(type, "text") ? item_open(s, false, out) : 0;
        }
        if (streq_ptr(name, "content_block_delta") && s->open_item >= 0 && s->items[s->open_item].reasoning) {
                /* signature_delta: nothing of it is shown on this surface. */
                const char *t = delta_text(data, "thinking_delta", "thinking");

                r = t ? item_append(&s->items[s->open_item], t) : 0;
                if (!t || r < 0)
                        return r;
                return emit(s, "response.reasoning_summary_text.delta",
                            json_pack("{s:s,s:i,s:i,s:s}", "item_id", s->items[s->open_item].id, "output_index",
                                      s->open_item, "summary_index", 0, "delta", t),
                            out);
        }
        if (streq_ptr(name, "content_block_delta") && s->open_item >= 0 && s->items[s->open_item].function_call) {
                const char *t = delta_text(data, "input_json_delta", "partial_json");

                r = t ? item_append(&s->items[s->open_item], t) : 0;
                if (!t || r < 0)
                        return r;
                return emit(s, "response.function_call_arguments.delta",
                            json_pack("{s:s,s:i,s:s}", "item_id", s->items[s->open_item].id, "output_index",
                                      s->open_item, "delta", t),
                            out);
        }
        if (streq_ptr(name, "content_block_delta") && s->open_item >= 0) {
                const char *t = delta_text(data, "text_delta", "text");

                r = t ? item_append(&s->items[s->open_item], t) : 0;
                if (!t || r < 0)
                        return r;
                return emit(s, "response.output_text.delta",
                            json_pack("{s:s,s:i,s:i,s:s,s:[]}", "item_id", s->items[s->open_item].id, "output_index",
                                      s->open_item, "content_index", 0, "delta", t, "logprobs"),
                            out);
        }
        if (streq_ptr(name, "content_block_stop"))
                return item_close(s, out);
        if (streq_ptr(name, "message_delta")) {
                const char *stop = json_string_value(json_object_get(json_object_get(data, "delta"), "stop_reason"));

                json_decref(s->usage);
                s->usage = json_deep_copy(json_object_get(data, "usage"));
                free(s->stop_reason);
                s->stop_reason = stop ? strdup(stop) : NULL;
                return 0;
        }
        return 0;
}

static int retell_all(OpenAIResponsesStream *s, const json_t *events, json_t *out) {
        size_t i;
        const json_t *e;

        json_array_foreach(events, i, e) {
                int r = retell(s, e, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

int openai_responses_stream_feed(OpenAIResponsesStream *s, unsigned index, const CliEvent *ev, json_t *out) {
        json_auto_t *events = json_array();
        int r;

        if (s->ended)
                return 0;
        if (!events)
                return -ENOMEM;
        r = anthropic_stream_feed(s->a, ev, events);
        if (r < 0)
                return r;
        return retell_all(s, events, out);
}

static const char *final_status(const OpenAIResponsesStream *s) {
        return streq_ptr(s->stop_reason, "max_tokens") ? "incomplete" : "completed";
}

int openai_responses_stream_finish(OpenAIResponsesStream *s, unsigned index, const json_t *result, json_t *out) {
        json_auto_t *events = json_array();
        const char *status;
        int r;

        if (s->ended)
                return 0;
        if (!events)
                return -ENOMEM;
        r = anthropic_stream_finish(s->a, result, events);
        if (r < 0)
                return r;
        r = retell_all(s, events, out);
        if (r < 0)
                return r;
        r = item_close(s, out);
        if (r < 0)
                return r;
        s->ended = true;
        status = final_status(s);
        return emit(s, streq(status, "completed") ? "response.completed" : "response.incomplete",
                    json_pack("{s:o}", "response", response_json(s, status, NULL)), out);
}

int openai_responses_stream_fail(OpenAIResponsesStream *s, const ApiError *err, json_t *out) {
        int r;

        if (s->ended)
                return 0;
        s->ended = true;
        r = start(s, out);
        if (r < 0)
                return r;
        return emit(s, "response.failed", json_pack("{s:o}", "response", response_json(s, "failed", err)), out);
}

int openai_responses_stream_ping(OpenAIResponsesStream *s, json_t *out) {
        return json_array_append_new(out, json_pack("{s:s}", "comment", "ping")) < 0 ? -ENOMEM : 0;
}

int openai_responses_stream_message(OpenAIResponsesStream *s, const json_t *const *results, unsigned n, json_t **ret) {
        json_auto_t *scratch = json_array();
        json_t *r;

        if (!scratch)
                return -ENOMEM;
        /* The non-streaming path never called finish(): run it into a scratch list. */
        if (!s->ended) {
                int k = openai_responses_stream_finish(s, 0, n > 0 ? results[0] : NULL, scratch);
                if (k < 0)
                        return k;
        }
        r = response_json(s, final_status(s), NULL);
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}
