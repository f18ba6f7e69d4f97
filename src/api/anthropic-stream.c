/* SPDX-License-Identifier: MIT */

/*
 * CLI events -> Anthropic Messages SSE events, and the same run as one non-streaming message.
 *
 * With --include-partial-messages the CLI forwards every upstream SSE event verbatim as a
 * stream_event (cli/README §6). One CLI run may hold several upstream messages (tool loops,
 * max-tokens continuations), so to look like one API message this keeps the first message_start
 * (with our id and the client's model name), renumbers content blocks so indices run from 0
 * without gaps across messages and after dropped thinking blocks (seed defects 6, 7), swallows
 * the intermediate message_delta/message_stop, and writes one final message_delta from the
 * `result` line's summed usage. Without partial messages only `assistant` lines (one complete
 * block each) arrive; those are turned into the same event grammar.
 *
 * Errors never arrive as stream events: the caller classifies the run (api/outcome.c) and calls
 * anthropic_stream_fail(). This module decides nothing about success and never touches I/O.
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "api/structured-output.h"
#include "util/macro.h"

/* Client index of an upstream block that is not forwarded (thinking when not requested). */
#define BLOCK_DROPPED (-1)
#define BLOCK_UNSEEN (-2)

typedef struct Block {
        json_t *start;          /* owned: content_block as it started */
        char *text;             /* text, thinking or partial_json so far, by block type */
        size_t len, cap;
        char *signature;
        bool open;
} Block;

struct AnthropicStream {
        char *message_id;
        char *model;
        bool thinking;
        bool structured;        /* structured output: its value is the answer (structured-output.c) */
        bool structured_done;   /* ... and its text block was added */

        bool started;           /* message_start sent */
        bool ended;             /* finish() or fail() done: the client stream is closed */
        bool saw_stream_event;  /* partial messages are on: ignore `assistant` content */

        json_t *start_usage;    /* owned: usage of the first message_start */
        json_t *stop_reason;    /* owned: of the last upstream message_delta */
        json_t *stop_sequence;  /* owned */

        int *upstream_map;      /* upstream index of the current message -> client index */
        size_t n_upstream_map;

        Block *blocks;          /* by client index */
        size_t n_blocks;
};

static int block_append(Block *b, const char *s) {
        size_t n;

        if (!s)
                return 0;
        n = strlen(s);
        if (b->len + n + 1 > b->cap) {
                size_t cap = MAX(b->cap * 2, b->len + n + 1);
                char *p = realloc(b->text, MAX(cap, (size_t) 64));

                if (!p)
                        return -ENOMEM;
                b->text = p;
                b->cap = MAX(cap, (size_t) 64);
        }
        memcpy(b->text + b->len, s, n);
        b->len += n;
        b->text[b->len] = 0;
        return 0;
}

static const char *json_type_of(const json_t *o) {
        return json_string_value(json_object_get(o, "type"));
}

static bool block_type_is_thinking(const char *type) {
        return streq_ptr(type, "thinking") || streq_ptr(type, "redacted_thinking");
}

static int emit(json_t *out, const char *name, json_t *data) {
        json_t *ev;

        if (!data)
                return -ENOMEM;
        ev = json_pack("{s:s,s:o}", "event", name, "data", data);
        if (!ev)
                return -ENOMEM;
        return json_array_append_new(out, ev) < 0 ? -ENOMEM : 0;
}

/* The four usage counters clients read, from any usage object (missing ones as 0). */
static json_t *usage_new(const json_t *usage) {
        static const char *const keys[] = {
                "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
        };
        json_t *u = json_object();

        if (!u)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const json_t *v = json_object_get(usage, keys[i]);

                if (json_object_set_new(u, keys[i], json_integer(json_is_integer(v) ? json_integer_value(v) : 0)) <
                    0) {
                        json_decref(u);
                        return NULL;
                }
        }
        return u;
}

/**
 * anthropic_stream_new() - a translator for one run
 * @ret: the new translator
 * @req: the parsed request (client model name, whether thinking was asked for); not kept
 * @env: the environment (message id); not kept
 *
 * Return: 0, or -ENOMEM.
 */
int anthropic_stream_new(AnthropicStream **ret, const ApiRequest *req, const ApiEnv *env) {
        AnthropicStream *s;

        assert(ret);
        assert(req);
        assert(env);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->message_id = strdup(env->message_id ?: "msg_unknown");
        s->model = strdup(req->client_model ?: req->cli.model ?: "unknown");
        s->thinking = req->cli.thinking;
        s->structured = req->cli.json_schema != NULL;
        if (!s->message_id || !s->model) {
                anthropic_stream_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

/**
 * anthropic_stream_free() - release a translator
 * @s: the translator, may be NULL
 *
 * Return: NULL.
 */
AnthropicStream *anthropic_stream_free(AnthropicStream *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_blocks; i++) {
                json_decref(s->blocks[i].start);
                free(s->blocks[i].text);
                free(s->blocks[i].signature);
        }
        free(s->blocks);
        free(s->upstream_map);
        json_decref(s->start_usage);
        json_decref(s->stop_reason);
        json_decref(s->stop_sequence);
        free(s->message_id);
        free(s->model);
        free(s);
        return NULL;
}

/**
 * anthropic_stream_started() - whether message_start went out
 * @s: the translator
 *
 * Return: true once the client has seen the start of a message.
 */
bool anthropic_stream_started(const AnthropicStream *s) {
        return s && s->started;
}

static int emit_message_start(AnthropicStream *s, const json_t *upstream_message, json_t *out) {
        json_t *usage;

        usage = usage_new(json_object_get(upstream_message, "usage"));
        if (!usage)
                return -ENOMEM;
        json_decref(s->start_usage);
        s->start_usage = usage;
        s->started = true;
        /* Built fresh: the upstream id and model name (the CLI's alias target) must not leak. */
        return emit(out, "message_start",
                    json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:[],s:n,s:n,s:O}}", "type", "message_start", "message", "id",
                              s->message_id, "type", "message", "role", "assistant", "model", s->model, "content",
                              "stop_reason", "stop_sequence", "usage", usage));
}

static int upstream_map_set(AnthropicStream *s, size_t index, int client_index) {
        if (index >= s->n_upstream_map) {
                size_t n = index + 1;
                int *m;

                /* An absurd index is a broken upstream, not a reason to allocate gigabytes. */
                if (index > 100000)
                        return -EBADMSG;
                m = realloc(s->upstream_map, n * sizeof(int));
                if (!m)
                        return -ENOMEM;
                for (size_t i = s->n_upstream_map; i < n; i++)
                        m[i] = BLOCK_UNSEEN;
                s->upstream_map = m;
                s->n_upstream_map = n;
        }
        s->upstream_map[index] = client_index;
        return 0;
}

static int upstream_map_get(const AnthropicStream *s, const json_t *event) {
        const json_t *index = json_object_get(event, "index");

        if (!json_is_integer(index) || json_integer_value(index) < 0 ||
            (size_t) json_integer_value(index) >= s->n_upstream_map)
                return BLOCK_UNSEEN;
        return s->upstream_map[json_integer_value(index)];
}

/* Open a client block for `content_block`, returning its client index. */
static int block_add(AnthropicStream *s, const json_t *content_block) {
        Block *b;

        b = realloc(s->blocks, (s->n_blocks + 1) * sizeof(Block));
        if (!b)
                return -ENOMEM;
        s->blocks = b;
        b = &s->blocks[s->n_blocks];
        *b = (Block) { .start = json_deep_copy(content_block), .open = true };
        if (!b->start)
                return -ENOMEM;
        return (int) s->n_blocks++;
}

static int emit_block_start(AnthropicStream *s, int index, json_t *out) {
        return emit(out, "content_block_start",
                    json_pack("{s:s,s:i,s:O}", "type", "content_block_start", "index", index, "content_block",
                              s->blocks[index].start));
}

static int emit_block_stop(AnthropicStream *s, int index, json_t *out) {
        s->blocks[index].open = false;
        return emit(out, "content_block_stop", json_pack("{s:s,s:i}", "type", "content_block_stop", "index", index));
}

/* Record a delta into the assembled block (for the non-streaming message). */
static int block_apply_delta(Block *b, const json_t *delta) {
        const char *type = json_type_of(delta);

        if (streq_ptr(type, "text_delta"))
                return block_append(b, json_string_value(json_object_get(delta, "text")));
        if (streq_ptr(type, "thinking_delta"))
                return block_append(b, json_string_value(json_object_get(delta, "thinking")));
        if (streq_ptr(type, "input_json_delta"))
                return block_append(b, json_string_value(json_object_get(delta, "partial_json")));
        if (streq_ptr(type, "signature_delta")) {
                const char *sig = json_string_value(json_object_get(delta, "signature"));

                free(b->signature);
                b->signature = sig ? strdup(sig) : NULL;
                return sig && !b->signature ? -ENOMEM : 0;
        }
        return 0;
}

static int close_open_blocks(AnthropicStream *s, json_t *out);

static int feed_stream_event(AnthropicStream *s, const json_t *event, json_t *out) {
        const char *type = json_type_of(event);
        int index, r;

        s->saw_stream_event = true;

        if (streq_ptr(type, "message_start")) {
                /* Each upstream message numbers its blocks from 0 again. */
                for (size_t i = 0; i < s->n_upstream_map; i++)
                        s->upstream_map[i] = BLOCK_UNSEEN;
                if (s->started)
                        return 0;
                return emit_message_start(s, json_object_get(event, "message"), out);
        }

        if (!s->started)
                /* Blocks before any message_start: the upstream grammar is broken; drop them. */
                return 0;

        if (streq_ptr(type, "content_block_start")) {
                const json_t *block = json_object_get(event, "content_block");
                const json_t *upstream_index = json_object_get(event, "index");

                if (!json_is_integer(upstream_index) || json_integer_value(upstream_index) < 0 ||
                    !json_is_object(block))
                        return 0;
                /* Grow (and bound) the map before a block exists that it could fail to point at. */
                r = upstream_map_set(s, (size_t) json_integer_value(upstream_index), BLOCK_UNSEEN);
                if (r < 0)
                        return r;
                if ((!s->thinking && block_type_is_thinking(json_type_of(block))) ||
                    (s->structured && structured_output_hides_block(block)))
                        return upstream_map_set(s, (size_t) json_integer_value(upstream_index), BLOCK_DROPPED);
                /* The client's grammar allows one open block at a time: a start without the
                 * previous block's stop (upstream never does this, a fuzzer did) closes it. */
                r = close_open_blocks(s, out);
                if (r < 0)
                        return r;
                index = block_add(s, block);
                if (index < 0)
                        return index;
                r = upstream_map_set(s, (size_t) json_integer_value(upstream_index), index);
                if (r < 0)
                        return r;
                return emit_block_start(s, index, out);
        }

        if (streq_ptr(type, "content_block_delta")) {
                json_t *copy;

                index = upstream_map_get(s, event);
                if (index < 0 || !s->blocks[index].open)
                        return 0;
                r = block_apply_delta(&s->blocks[index], json_object_get(event, "delta"));
                if (r < 0)
                        return r;
                copy = json_deep_copy(event);
                if (!copy || json_object_set_new(copy, "index", json_integer(index)) < 0) {
                        json_decref(copy);
                        return -ENOMEM;
                }
                return emit(out, "content_block_delta", copy);
        }

        if (streq_ptr(type, "content_block_stop")) {
                index = upstream_map_get(s, event);
                if (index < 0 || !s->blocks[index].open)
                        return 0;
                return emit_block_stop(s, index, out);
        }

        if (streq_ptr(type, "message_delta")) {
                const json_t *delta = json_object_get(event, "delta");

                /* Held back: the client gets one message_delta, from finish(). */
                json_decref(s->stop_reason);
                json_decref(s->stop_sequence);
                s->stop_reason = json_deep_copy(json_object_get(delta, "stop_reason") ?: json_null());
                s->stop_sequence = json_deep_copy(json_object_get(delta, "stop_sequence") ?: json_null());
                return s->stop_reason && s->stop_sequence ? 0 : -ENOMEM;
        }

        /* message_stop (sent once by finish()), ping (we make our own), anything new: dropped. */
        return 0;
}

/* No partial messages: each assistant line carries one complete block; replay it as events. */
static int feed_assistant(AnthropicStream *s, const CliEvent *ev, json_t *out) {
        const json_t *message = ev->payload, *content = json_object_get(message, "content"), *block;
        size_t i;
        int r;

        /* With partial messages assistant lines duplicate the stream events. */
        if (s->saw_stream_event)
                return 0;
        /* Synthetic error messages are the outcome's business, not content. */
        if (ev->error || streq_ptr(json_string_value(json_object_get(message, "model")), "<synthetic>"))
                return 0;

        if (!s->started) {
                r = emit_message_start(s, message, out);
                if (r < 0)
                        return r;
        }

        json_array_foreach(content, i, block) {
                const char *type = json_type_of(block);
                json_auto_t *start = NULL, *delta = NULL;
                int index;

                if (!json_is_object(block) || (!s->thinking && block_type_is_thinking(type)) ||
                    (s->structured && structured_output_hides_block(block)))
                        continue;

                /* Start with an empty body and deliver it as one delta, as the API streams it. */
                start = json_deep_copy(block);
                if (!start)
                        return -ENOMEM;
                if (streq_ptr(type, "text")) {
                        delta = json_pack("{s:s,s:s}", "type", "text_delta", "text",
                                          json_string_value(json_object_get(block, "text")) ?: "");
                        r = json_object_set_new(start, "text", json_string(""));
                } else if (streq_ptr(type, "thinking")) {
                        delta = json_pack("{s:s,s:s}", "type", "thinking_delta", "thinking",
                                          json_string_value(json_object_get(block, "thinking")) ?: "");
                        r = json_object_set_new(start, "thinking", json_string(""));
                        if (r >= 0)
                                r = json_object_set_new(start, "signature", json_string(""));
                } else if (streq_ptr(type, "tool_use") || streq_ptr(type, "server_tool_use")) {
                        const json_t *input = json_object_get(block, "input");
                        _cleanup_free_ char *args = input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY)
                                                          : strdup("{}");

                        if (!args)
                                return -ENOMEM;
                        delta = json_pack("{s:s,s:s}", "type", "input_json_delta", "partial_json", args);
                        r = json_object_set_new(start, "input", json_object());
                } else
                        r = 0;
                if (r < 0)
                        return -ENOMEM;

                index = block_add(s, start);
                if (index < 0)
                        return index;
                r = emit_block_start(s, index, out);
                if (r < 0)
                        return r;

                if (delta) {
                        json_t *d;

                        r = block_apply_delta(&s->blocks[index], delta);
                        if (r < 0)
                                return r;
                        d = json_pack("{s:s,s:i,s:O}", "type", "content_block_delta", "index", index, "delta", delta);
                        r = emit(out, "content_block_delta", d);
                        if (r < 0)
                                return r;
                        if (streq_ptr(type, "thinking") && json_is_string(json_object_get(block, "signature"))) {
                                json_auto_t *sig = json_pack("{s:s,s:O}", "type", "signature_delta", "signature",
                                                             json_object_get(block, "signature"));

                                if (!sig)
                                        return -ENOMEM;
                                r = block_apply_delta(&s->blocks[index], sig);
                                if (r < 0)
                                        return r;
                                r = emit(out, "content_block_delta",
                                         json_pack("{s:s,s:i,s:O}", "type", "content_block_delta", "index", index,
                                                   "delta", sig));
                                if (r < 0)
                                        return r;
                        }
                }
                r = emit_block_stop(s, index, out);
                if (r < 0)
                        return r;
        }

        /* The message's own stop_reason is null on these lines (the block arrives before it ends). */
        return 0;
}

/**
 * anthropic_stream_feed() - translate one CLI event
 * @s: the translator
 * @ev: the event; nothing of it is kept borrowed
 * @out: JSON array the resulting {event, data} objects are appended to (possibly none)
 *
 * Events other than stream_event and assistant lines carry nothing for the client and are
 * ignored, as is everything after finish() or fail().
 *
 * Return: 0, -EBADMSG for a block index no upstream could mean, or -ENOMEM.
 */
int anthropic_stream_feed(AnthropicStream *s, const CliEvent *ev, json_t *out) {
        assert(s);
        assert(ev);
        assert(json_is_array(out));

        if (s->ended)
                return 0;
        switch (ev->type) {
        case CLI_EVENT_STREAM:
                return feed_stream_event(s, ev->payload, out);
        case CLI_EVENT_ASSISTANT:
                return feed_assistant(s, ev, out);
        default:
                return 0;
        }
}

static int close_open_blocks(AnthropicStream *s, json_t *out) {
        for (size_t i = 0; i < s->n_blocks; i++)
                if (s->blocks[i].open) {
                        int r = emit_block_stop(s, (int) i, out);

                        if (r < 0)
                                return r;
                }
        return 0;
}

static int emit_text_block(AnthropicStream *s, const char *text, json_t *out) {
        json_auto_t *start = json_pack("{s:s,s:s}", "type", "text", "text", "");
        int index, r;

        if (!start)
                return -ENOMEM;
        index = block_add(s, start);
        if (index < 0)
                return index;
        r = emit_block_start(s, index, out);
        if (r < 0)
                return r;
        r = block_append(&s->blocks[index], text);
        if (r < 0)
                return r;
        r = emit(out, "content_block_delta",
                 json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_delta", "index", index, "delta", "type",
                           "text_delta", "text", text));
        if (r < 0)
                return r;
        return emit_block_stop(s, index, out);
}

/* stop_reason for the client: the last upstream message's, else the result's, else end_turn. */
static json_t *stop_reason_new(const AnthropicStream *s, const json_t *result) {
        const json_t *r = json_object_get(result, "stop_reason");

        /* The run ended at the StructuredOutput call ("tool_use"), but the client got a text answer. */
        if (s->structured_done)
                return json_string("end_turn");
        if (json_is_string(s->stop_reason))
                return json_incref(s->stop_reason);
        if (json_is_string(r))
                return json_deep_copy(r);
        return json_string("end_turn");
}

static json_t *stop_sequence_new(const AnthropicStream *s) {
        if (json_is_string(s->stop_sequence))
                return json_incref(s->stop_sequence);
        return json_null();
}

/* Final usage: the result's sum over all upstream calls; the first message_start's if it has none. */
static json_t *final_usage_new(const AnthropicStream *s, const json_t *result) {
        const json_t *usage = json_object_get(result, "usage");

        return usage_new(json_is_object(usage) ? usage : s->start_usage);
}

/**
 * anthropic_stream_finish() - the run succeeded: end the message
 * @s: the translator
 * @result: the CLI's final result line (borrowed)
 * @out: where message_delta and message_stop are appended
 *
 * A run that produced no content at all still gets a message_start first, so the client
 * always sees a complete message.
 *
 * Return: 0, or -ENOMEM.
 */
int anthropic_stream_finish(AnthropicStream *s, const json_t *result, json_t *out) {
        int r;

        assert(s);
        assert(json_is_array(out));

        if (s->ended)
                return 0;
        if (!s->started) {
                r = emit_message_start(s, /* upstream_message= */ NULL, out);
                if (r < 0)
                        return r;
        }
        r = close_open_blocks(s, out);
        if (r < 0)
                return r;
        if (s->structured) {
                _cleanup_free_ char *value = NULL;

                /* No value (a run that ended at a client tool call): no text either, the prose is not the answer. */
                if (structured_output_text(result, &value, /* reterr= */ NULL) >= 0) {
                        r = emit_text_block(s, value, out);
                        if (r < 0)
                                return r;
                        s->structured_done = true;
                }
        } else if (s->n_blocks == 0) {
                /* Slash-command output and the like only come as the result text. */
                const char *text = json_string_value(json_object_get(result, "result"));

                if (text && *text) {
                        r = emit_text_block(s, text, out);
                        if (r < 0)
                                return r;
                }
        }
        s->ended = true;
        r = emit(out, "message_delta",
                 json_pack("{s:s,s:{s:o,s:o},s:o}", "type", "message_delta", "delta", "stop_reason",
                           stop_reason_new(s, result), "stop_sequence", stop_sequence_new(s), "usage",
                           final_usage_new(s, result)));
        if (r < 0)
                return r;
        return emit(out, "message_stop", json_pack("{s:s}", "type", "message_stop"));
}

/**
 * anthropic_stream_fail() - the run failed: tell the client in-band
 * @s: the translator
 * @err: the classified error
 * @out: where the closing content_block_stop (if a block was open) and the error event go
 *
 * Before message_start only the error event is produced; the caller should prefer answering
 * with the error's HTTP status in that case.
 *
 * Return: 0, or -ENOMEM.
 */
int anthropic_stream_fail(AnthropicStream *s, const ApiError *err, json_t *out) {
        json_t *body = NULL;
        int r;

        assert(s);
        assert(err);
        assert(json_is_array(out));

        if (s->ended)
                return 0;
        if (s->started) {
                r = close_open_blocks(s, out);
                if (r < 0)
                        return r;
        }
        s->ended = true;
        r = api_error_to_json(API_ANTHROPIC, err, &body);
        if (r < 0)
                return r;
        return emit(out, "error", body);
}

/**
 * anthropic_stream_ping() - a keep-alive event
 * @s: the translator
 * @out: where the ping event is appended
 *
 * Return: 0, or -ENOMEM.
 */
int anthropic_stream_ping(AnthropicStream *s, json_t *out) {
        assert(s);
        assert(json_is_array(out));

        return emit(out, "ping", json_pack("{s:s}", "type", "ping"));
}

static json_t *block_assemble(const Block *b) {
        const char *type = json_type_of(b->start);
        json_auto_t *block = json_deep_copy(b->start);
        int r = 0;

        if (!block)
                return NULL;
        if (streq_ptr(type, "text"))
                r = json_object_set_new(block, "text", json_string(b->text ?: ""));
        else if (streq_ptr(type, "thinking")) {
                r = json_object_set_new(block, "thinking", json_string(b->text ?: ""));
                if (r >= 0 && b->signature)
                        r = json_object_set_new(block, "signature", json_string(b->signature));
        } else if ((streq_ptr(type, "tool_use") || streq_ptr(type, "server_tool_use")) && b->len > 0) {
                json_error_t err;
                json_t *input = json_loadb(b->text, b->len, 0, &err);

                /* Only a truncated stream leaves broken arguments; the start's input ({}) stays then. */
                if (json_is_object(input))
                        r = json_object_set_new(block, "input", input);
                else
                        json_decref(input);
        }
        if (r < 0)
                return NULL;
        return TAKE_PTR(block);
}

/**
 * anthropic_stream_message() - the whole run as one non-streaming Messages API response
 * @s: the translator, fed with every event of the run
 * @result: the CLI's final result line (borrowed)
 * @ret_message: new reference to the message object
 *
 * Content comes from the same blocks the stream carried (stream events or assistant lines);
 * when the CLI produced neither but a result text, that text becomes the one text block.
 *
 * Return: 0, or -ENOMEM.
 */
int anthropic_stream_message(AnthropicStream *s, const json_t *result, json_t **ret_message) {
        json_auto_t *content = json_array(), *message = NULL;
        const char *text = json_string_value(json_object_get(result, "result"));

        assert(s);
        assert(ret_message);

        if (!content)
                return -ENOMEM;
        /* The non-streaming path never called finish(): the structured value's block is added here. */
        if (s->structured && !s->structured_done) {
                _cleanup_free_ char *value = NULL;
                json_auto_t *start = NULL;
                int index;

                if (structured_output_text(result, &value, /* reterr= */ NULL) >= 0) {
                        start = json_pack("{s:s,s:s}", "type", "text", "text", "");
                        if (!start)
                                return -ENOMEM;
                        index = block_add(s, start);
                        if (index < 0)
                                return index;
                        s->blocks[index].open = false;
                        if (block_append(&s->blocks[index], value) < 0)
                                return -ENOMEM;
                        s->structured_done = true;
                }
        }
        for (size_t i = 0; i < s->n_blocks; i++)
                if (json_array_append_new(content, block_assemble(&s->blocks[i])) < 0)
                        return -ENOMEM;
        /* Normally finish() already turned a lone result text into a block. */
        if (!s->structured && s->n_blocks == 0 && text && *text &&
            json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text", text)) < 0)
                return -ENOMEM;

        message = json_pack("{s:s,s:s,s:s,s:s,s:O,s:o,s:o,s:o}", "id", s->message_id, "type", "message", "role",
                            "assistant", "model", s->model, "content", content, "stop_reason",
                            stop_reason_new(s, result), "stop_sequence", stop_sequence_new(s), "usage",
                            final_usage_new(s, result));
        if (!message)
                return -ENOMEM;
        *ret_message = TAKE_PTR(message);
        return 0;
}
