/* SPDX-License-Identifier: MIT */

/*
 * CLI events -> chat.completion.chunks, and the same runs as one chat.completion.
 *
 * Each choice's run goes through its own AnthropicStream, which already makes one clean message
 * out of a run (merged upstream messages, thinking dropped unless asked for, result-only text);
 * this file only re-tells that message's events in Chat Completions terms. So a text_delta is a
 * delta.content, a thinking_delta a delta.reasoning_content (the field reasoning-aware OpenAI
 * clients read), the message_delta's stop_reason the choice's one finish_reason. Choices are
 * interleaved as their runs produce; the usage chunk and [DONE] come once the last one finished.
 */

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "api/openai.h"
#include "util/macro.h"

typedef struct Choice {
        AnthropicStream *a;
        bool role_sent;
        bool finished;
        bool in_tool_call;      /* the open block is a tool_use: its input deltas are arguments */
        json_int_t n_tool_calls;
        json_t *usage;          /* owned: the Anthropic usage of the final message_delta */
} Choice;

struct OpenAIChatStream {
        char *id;
        char *model;
        int64_t created;
        bool include_usage;
        bool ended;
        unsigned n, n_finished;
        Choice *choices;
};

/**
 * openai_finish_reason() - Chat Completions' name for an Anthropic stop_reason
 * @stop_reason: may be NULL
 *
 * Return: a static string.
 */
const char *openai_finish_reason(const char *stop_reason) {
        if (streq_ptr(stop_reason, "max_tokens") || streq_ptr(stop_reason, "model_context_window_exceeded"))
                return "length";
        if (streq_ptr(stop_reason, "tool_use"))
                return "tool_calls";
        if (streq_ptr(stop_reason, "refusal"))
                return "content_filter";
        return "stop";
}

static json_int_t uget(const json_t *u, const char *key) {
        const json_t *v = json_object_get(u, key);

        return json_is_integer(v) ? json_integer_value(v) : 0;
}

/**
 * openai_usage_new() - OpenAI usage from an Anthropic usage object
 * @u: {input_tokens, output_tokens, cache_*_input_tokens}, may be NULL
 *
 * prompt_tokens counts everything the model read, cached or not, as OpenAI's does; the cached
 * part is prompt_tokens_details.cached_tokens.
 *
 * Return: new reference, NULL on OOM.
 */
json_t *openai_usage_new(const json_t *u) {
        json_int_t cached = uget(u, "cache_read_input_tokens");
        json_int_t prompt = uget(u, "input_tokens") + uget(u, "cache_creation_input_tokens") + cached;
        json_int_t completion = uget(u, "output_tokens");

        return json_pack("{s:I,s:I,s:I,s:{s:I},s:{s:I}}", "prompt_tokens", prompt, "completion_tokens", completion,
                         "total_tokens", prompt + completion, "prompt_tokens_details", "cached_tokens", cached,
                         "completion_tokens_details", "reasoning_tokens", (json_int_t) 0);
}

/* Anthropic usage objects added up (the n choices' runs). */
static int usage_add(json_t *sum, const json_t *u) {
        static const char *const keys[] = {
                "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (json_object_set_new(sum, keys[i], json_integer(uget(sum, keys[i]) + uget(u, keys[i]))) < 0)
                        return -ENOMEM;
        return 0;
}

int openai_chat_stream_new(OpenAIChatStream **ret, const ApiRequest *req, const ApiEnv *env) {
        OpenAIChatStream *s;

        assert(ret);
        assert(req);
        assert(env);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->n = req->n > 0 ? req->n : 1;
        s->created = env->created;
        s->include_usage = req->include_usage;
        s->id = strdup(env->message_id ?: "chatcmpl-unknown");
        s->model = strdup(req->client_model ?: req->cli.model ?: "unknown");
        s->choices = calloc(s->n, sizeof(Choice));
        if (!s->id || !s->model || !s->choices) {
                openai_chat_stream_free(s);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < s->n; i++)
                if (anthropic_stream_new(&s->choices[i].a, req, env) < 0) {
                        openai_chat_stream_free(s);
                        return -ENOMEM;
                }
        *ret = s;
        return 0;
}

OpenAIChatStream *openai_chat_stream_free(OpenAIChatStream *s) {
        if (!s)
                return NULL;
        for (unsigned i = 0; s->choices && i < s->n; i++) {
                anthropic_stream_free(s->choices[i].a);
                json_decref(s->choices[i].usage);
        }
        free(s->choices);
        free(s->id);
        free(s->model);
        free(s);
        return NULL;
}

bool openai_chat_stream_started(const OpenAIChatStream *s) {
        for (unsigned i = 0; s && i < s->n; i++)
                if (s->choices[i].role_sent)
                        return true;
        return false;
}

/* A chunk around `choices` (stolen), framed for the data-only stream. */
static int emit_chunk(OpenAIChatStream *s, json_t *choices, json_t *usage, json_t *out) {
        json_t *chunk;

        if (!choices)
                return -ENOMEM;
        chunk = json_pack("{s:s,s:s,s:I,s:s,s:o}", "id", s->id, "object", "chat.completion.chunk", "created",
                          (json_int_t) s->created, "model", s->model, "choices", choices);
        if (!chunk)
                return -ENOMEM;
        /* With include_usage every chunk carries the key, null until the usage chunk. */
        if (s->include_usage && json_object_set_new(chunk, "usage", usage ?: json_null()) < 0) {
                json_decref(chunk);
                return -ENOMEM;
        }
        if (!s->include_usage)
                json_decref(usage);
        return json_array_append_new(out, json_pack("{s:o}", "data", chunk)) < 0 ? -ENOMEM : 0;
}

static int emit_delta(OpenAIChatStream *s, unsigned index, json_t *delta, const char *finish_reason, json_t *out) {
        if (!delta)
                return -ENOMEM;
        return emit_chunk(s,
                          json_pack("[{s:I,s:o,s:n,s:s?}]", "index", (json_int_t) index, "delta", delta, "logprobs",
                                    "finish_reason", finish_reason),
                          NULL, out);
}

/* finish_reason is null, not absent, on content chunks. */
static int emit_content_delta(OpenAIChatStream *s, unsigned index, json_t *delta, json_t *out) {
        json_t *choices;

        if (!delta)
                return -ENOMEM;
        choices = json_pack("[{s:I,s:o,s:n,s:n}]", "index", (json_int_t) index, "delta", delta, "logprobs",
                            "finish_reason");
        return emit_chunk(s, choices, NULL, out);
}

/* One Anthropic event of choice `index` -> chunks. */
static int retell(OpenAIChatStream *s, unsigned index, const json_t *event, json_t *out) {
        Choice *c = &s->choices[index];
        const char *name = json_string_value(json_object_get(event, "event"));
        const json_t *data = json_object_get(event, "data");

        if (streq_ptr(name, "message_start")) {
                if (c->role_sent)
                        return 0;
                c->role_sent = true;
                return emit_content_delta(s, index,
                                          json_pack("{s:s,s:s,s:n}", "role", "assistant", "content", "", "refusal"),
                                          out);
        }
        if (streq_ptr(name, "content_block_start")) {
                const json_t *block = json_object_get(data, "content_block");

                c->in_tool_call = streq_ptr(json_string_value(json_object_get(block, "type")), "tool_use");
                if (!c->in_tool_call)
                        return 0;
                /* The call's id and name first, its arguments as they stream (OpenAI's order). */
                return emit_content_delta(
                        s, index,
                        json_pack("{s:[{s:I,s:O,s:s,s:{s:O,s:s}}]}", "tool_calls", "index", c->n_tool_calls++, "id",
                                  json_object_get(block, "id"), "type", "function", "function", "name",
                                  json_object_get(block, "name"), "arguments", ""),
                        out);
        }
        if (streq_ptr(name, "content_block_stop")) {
                c->in_tool_call = false;
                return 0;
        }
        if (streq_ptr(name, "content_block_delta")) {
                const json_t *delta = json_object_get(data, "delta");
                const char *type = json_string_value(json_object_get(delta, "type"));
                const char *text;

                if (streq_ptr(type, "input_json_delta") && c->in_tool_call) {
                        text = json_string_value(json_object_get(delta, "partial_json"));
                        return text && *text ? emit_content_delta(
                                                       s, index,
                                                       json_pack("{s:[{s:I,s:{s:s}}]}", "tool_calls", "index",
                                                                 c->n_tool_calls - 1, "function", "arguments", text),
                                                       out)
                                             : 0;
                }

                if (streq_ptr(type, "text_delta")) {
                        text = json_string_value(json_object_get(delta, "text"));
                        return text && *text ? emit_content_delta(s, index, json_pack("{s:s}", "content", text), out)
                                             : 0;
                }
                if (streq_ptr(type, "thinking_delta")) {
                        text = json_string_value(json_object_get(delta, "thinking"));
                        return text && *text ? emit_content_delta(
                                                       s, index, json_pack("{s:s}", "reasoning_content", text), out)
                                             : 0;
                }
                return 0;
        }
        if (streq_ptr(name, "message_delta")) {
                const json_t *stop = json_object_get(json_object_get(data, "delta"), "stop_reason");

                json_decref(c->usage);
                c->usage = json_deep_copy(json_object_get(data, "usage"));
                if (!c->usage)
                        c->usage = json_object();
                return emit_delta(s, index, json_object(), openai_finish_reason(json_string_value(stop)), out);
        }
        /* message_stop, ping: nothing a chunk says. */
        return 0;
}

static int retell_all(OpenAIChatStream *s, unsigned index, const json_t *events, json_t *out) {
        size_t i;
        const json_t *e;

        json_array_foreach(events, i, e) {
                int r = retell(s, index, e, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

int openai_chat_stream_feed(OpenAIChatStream *s, unsigned index, const CliEvent *ev, json_t *out) {
        json_auto_t *events = json_array();
        int r;

        assert(s);
        if (s->ended || index >= s->n || s->choices[index].finished)
                return 0;
        if (!events)
                return -ENOMEM;
        r = anthropic_stream_feed(s->choices[index].a, ev, events);
        if (r < 0)
                return r;
        return retell_all(s, index, events, out);
}

int openai_chat_stream_finish(OpenAIChatStream *s, unsigned index, const json_t *result, json_t *out) {
        json_auto_t *events = json_array();
        int r;

        assert(s);
        if (s->ended || index >= s->n || s->choices[index].finished)
                return 0;
        if (!events)
                return -ENOMEM;
        r = anthropic_stream_finish(s->choices[index].a, result, events);
        if (r < 0)
                return r;
        r = retell_all(s, index, events, out);
        if (r < 0)
                return r;
        s->choices[index].finished = true;
        if (++s->n_finished < s->n)
                return 0;

        s->ended = true;
        if (s->include_usage) {
                json_auto_t *sum = json_object();

                if (!sum)
                        return -ENOMEM;
                for (unsigned i = 0; i < s->n; i++)
                        if (usage_add(sum, s->choices[i].usage) < 0)
                                return -ENOMEM;
                r = emit_chunk(s, json_array(), openai_usage_new(sum), out);
                if (r < 0)
                        return r;
        }
        return json_array_append_new(out, json_pack("{s:b}", "done", 1)) < 0 ? -ENOMEM : 0;
}

/* OpenAI's own streams end a failure with one {"error": ...} data line and no [DONE]. */
int openai_chat_stream_fail(OpenAIChatStream *s, const ApiError *err, json_t *out) {
        json_t *body = NULL;
        int r;

        assert(s);
        assert(err);
        if (s->ended)
                return 0;
        s->ended = true;
        r = api_error_to_json(API_OPENAI, err, &body);
        if (r < 0)
                return r;
        return json_array_append_new(out, json_pack("{s:o}", "data", body)) < 0 ? -ENOMEM : 0;
}

/* Chat streams have no ping event: a comment, which every SSE reader skips. */
int openai_chat_stream_ping(OpenAIChatStream *s, json_t *out) {
        return json_array_append_new(out, json_pack("{s:s}", "comment", "ping")) < 0 ? -ENOMEM : 0;
}

/* One choice of the non-streaming reply, from its run's assembled Anthropic message. */
static json_t *choice_new(unsigned index, const json_t *message) {
        json_auto_t *tool_calls = json_array(), *msg = NULL;
        _cleanup_free_ char *text = NULL, *reasoning = NULL;
        const json_t *content = json_object_get(message, "content"), *b;
        size_t i;

        if (!tool_calls)
                return NULL;
        json_array_foreach(content, i, b) {
                const char *type = json_string_value(json_object_get(b, "type"));
                char **dst = streq_ptr(type, "text") ? &text : streq_ptr(type, "thinking") ? &reasoning : NULL;

                if (dst) {
                        const char *t = json_string_value(json_object_get(b, streq(type, "text") ? "text" : "thinking"));
                        size_t old = *dst ? strlen(*dst) : 0, n = t ? strlen(t) : 0;
                        char *p = realloc(*dst, old + n + 1);

                        if (!p)
                                return NULL;
                        memcpy(p + old, t ?: "", n + 1);
                        *dst = p;
                } else if (streq_ptr(type, "tool_use")) {
                        _cleanup_free_ char *args = json_dumps(json_object_get(b, "input") ?: json_object(),
                                                               JSON_COMPACT | JSON_ENCODE_ANY);

                        if (!args || json_array_append_new(tool_calls, json_pack("{s:O?,s:s,s:{s:O?,s:s}}", "id",
                                                                                   json_object_get(b, "id"), "type",
                                                                                   "function", "function", "name",
                                                                                   json_object_get(b, "name"),
                                                                                   "arguments", args)) < 0)
                                return NULL;
                }
        }
        msg = json_pack("{s:s,s:s?,s:n}", "role", "assistant", "content", text, "refusal");
        if (!msg)
                return NULL;
        if (!text && json_object_set_new(msg, "content", json_null()) < 0)
                return NULL;
        if (reasoning && json_object_set_new(msg, "reasoning_content", json_string(reasoning)) < 0)
                return NULL;
        if (json_array_size(tool_calls) > 0 && json_object_set(msg, "tool_calls", tool_calls) < 0)
                return NULL;
        return json_pack("{s:I,s:O,s:n,s:s}", "index", (json_int_t) index, "message", msg, "logprobs",
                         "finish_reason",
                         openai_finish_reason(json_string_value(json_object_get(message, "stop_reason"))));
}

int openai_chat_stream_message(OpenAIChatStream *s, const json_t *const *results, unsigned n, json_t **ret) {
        json_auto_t *choices = json_array(), *sum = json_object(), *body = NULL;

        assert(s);
        assert(ret);
        if (!choices || !sum)
                return -ENOMEM;
        for (unsigned i = 0; i < s->n; i++) {
                json_auto_t *message = NULL;
                const json_t *result = i < n ? results[i] : NULL;
                int r = anthropic_stream_message(s->choices[i].a, result, &message);

                if (r < 0)
                        return r;
                if (json_array_append_new(choices, choice_new(i, message)) < 0 ||
                    usage_add(sum, json_object_get(message, "usage")) < 0)
                        return -ENOMEM;
        }
        body = json_pack("{s:s,s:s,s:I,s:s,s:O,s:o,s:n}", "id", s->id, "object", "chat.completion", "created",
                         (json_int_t) s->created, "model", s->model, "choices", choices, "usage",
                         openai_usage_new(sum), "system_fingerprint");
        if (!body)
                return -ENOMEM;
        *ret = TAKE_PTR(body);
        return 0;
}
