/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * PURE: one vtable per API surface, so session.c drives any of them the same way.
 *
 * What differs between surfaces lives here and nowhere else: the id prefix, how the stream is
 * framed (named SSE events, or OpenAI's bare `data:` lines ending in `data: [DONE]`), the error
 * envelope (by `kind`, see api_error_to_json()), and how n parallel choices are told apart
 * (`feed`/`finish` carry the choice index; a surface without choices only ever sees index 0).
 *
 * The translator's output is a JSON array of frames the I/O side writes without looking inside:
 *   {"event": NAME, "data": {...}}   named event (API_FRAMING_SSE_NAMED)
 *   {"data": {...}}                  unnamed event (API_FRAMING_SSE_DATA)
 *   {"done": true}                   the literal `data: [DONE]` (API_FRAMING_SSE_DATA)
 *   {"comment": TEXT}                a comment line, either framing (keep-alive)
 */

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "cli/stream.h"

typedef enum ApiFraming {
        API_FRAMING_SSE_NAMED,          /* Anthropic Messages, OpenAI Responses */
        API_FRAMING_SSE_DATA,           /* OpenAI Chat Completions */
} ApiFraming;

typedef struct ApiOps {
        ApiKind kind;                   /* logs, metrics, and the error envelope */
        const char *id_prefix;          /* "msg_", "chatcmpl-", "resp_" */
        ApiFraming framing;
        /* Validate a body. On a client error: -EINVAL and reterr (400, param) in this surface's words. */
        int (*parse)(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr);
        /* One translator for the whole request, all of its req->n choices. */
        int (*stream_new)(void **ret, const ApiRequest *req, const ApiEnv *env);
        void (*stream_free)(void *s);
        /* A CLI event of choice `index`'s run. Frames for a streaming client go to `out`. */
        int (*feed)(void *s, unsigned index, const CliEvent *ev, json_t *out);
        /* Choice `index` succeeded with this result line. After the last choice's, the frames that
         * end the stream follow in the same `out`. */
        int (*finish)(void *s, unsigned index, const json_t *result, json_t *out);
        /* The request failed: the frames that end the stream with the error in-band. */
        int (*fail)(void *s, const ApiError *err, json_t *out);
        /* True once the client may see frames (the message/response/first chunk has started). */
        bool (*started)(const void *s);
        /* A keep-alive frame. */
        int (*ping)(void *s, json_t *out);
        /* The non-streaming body, after every choice finished: results[i] is choice i's result. */
        int (*message)(void *s, const json_t *const *results, unsigned n, json_t **ret);
} ApiOps;

extern const ApiOps api_ops_anthropic;
extern const ApiOps api_ops_openai_chat;
extern const ApiOps api_ops_openai_responses;
