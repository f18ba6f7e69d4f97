/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * PURE: the OpenAI Chat Completions API <-> CLI requests and CLI events.
 *
 * The stream side does not read CLI events itself: each choice has an AnthropicStream (the one
 * interpretation of the CLI's output, block renumbering, thinking filter and all), and its
 * Messages events are re-told as chat.completion.chunks. So both surfaces agree on every run.
 */

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "cli/stream.h"
#include "util/macro.h"

/* Largest `n` parse() accepts at all; the session caps it further by MAX_CONCURRENT. */
#define OPENAI_N_MAX 128

/*
 * Validate a /v1/chat/completions body and turn it into an ApiRequest (n, include_usage set).
 * On a client error returns -EINVAL and fills reterr with a 400 naming the field.
 */
int openai_chat_request_parse(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr);

/* Anthropic stop_reason -> Chat Completions finish_reason. */
const char *openai_finish_reason(const char *stop_reason);
/* Anthropic usage -> {prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details}. */
json_t *openai_usage_new(const json_t *anthropic_usage);

/*
 * The chat translator for req->n choices. Frames ({"data":chunk}, {"done":true}, comments): the
 * first chunk of each choice carries role "assistant"; thinking (when on) as
 * delta.reasoning_content; each choice's finish() gives its one finish_reason chunk; after the
 * last, a usage chunk (include_usage) and [DONE]. fail() gives one error chunk and no [DONE].
 */
typedef struct OpenAIChatStream OpenAIChatStream;

int openai_chat_stream_new(OpenAIChatStream **ret, const ApiRequest *req, const ApiEnv *env);
OpenAIChatStream *openai_chat_stream_free(OpenAIChatStream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpenAIChatStream *, openai_chat_stream_free);
int openai_chat_stream_feed(OpenAIChatStream *s, unsigned index, const CliEvent *ev, json_t *out);
int openai_chat_stream_finish(OpenAIChatStream *s, unsigned index, const json_t *result, json_t *out);
int openai_chat_stream_fail(OpenAIChatStream *s, const ApiError *err, json_t *out);
bool openai_chat_stream_started(const OpenAIChatStream *s);
int openai_chat_stream_ping(OpenAIChatStream *s, json_t *out);
/* The chat.completion object: choices[i] from choice i's run and results[i]; usage summed. */
int openai_chat_stream_message(OpenAIChatStream *s, const json_t *const *results, unsigned n, json_t **ret);

/*
 * The Responses API (api/openai-responses.c). parse() re-states `input` as chat messages and
 * refuses previous_response_id (the proxy is stateless). The translator produces named events
 * ({"event": type, "data": {..., "type", "sequence_number"}}), one response per request (n = 1).
 */
int openai_responses_request_parse(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr);
/* The request fields a response object repeats (the real API's defaults for those left out); body NULL: defaults. */
int openai_responses_echo(const json_t *body, json_t **ret);

typedef struct OpenAIResponsesStream OpenAIResponsesStream;

int openai_responses_stream_new(OpenAIResponsesStream **ret, const ApiRequest *req, const ApiEnv *env);
OpenAIResponsesStream *openai_responses_stream_free(OpenAIResponsesStream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpenAIResponsesStream *, openai_responses_stream_free);
int openai_responses_stream_feed(OpenAIResponsesStream *s, unsigned index, const CliEvent *ev, json_t *out);
int openai_responses_stream_finish(OpenAIResponsesStream *s, unsigned index, const json_t *result, json_t *out);
int openai_responses_stream_fail(OpenAIResponsesStream *s, const ApiError *err, json_t *out);
bool openai_responses_stream_started(const OpenAIResponsesStream *s);
int openai_responses_stream_ping(OpenAIResponsesStream *s, json_t *out);
int openai_responses_stream_message(OpenAIResponsesStream *s, const json_t *const *results, unsigned n, json_t **ret);
