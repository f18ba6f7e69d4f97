/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: the Anthropic Messages API <-> CLI requests and CLI events. */

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "api/outcome.h"
#include "cli/stream.h"
#include "util/macro.h"

/*
 * Validate a /v1/messages body and turn it into an ApiRequest. On a client error returns
 * -EINVAL (or -EBADMSG) and fills reterr with a 400 invalid_request_error naming the field.
 */
int anthropic_request_parse(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr);

/*
 * Stream translator: CLI events in, Anthropic SSE events out. Output events are appended to
 * `out` (a JSON array) as {"event": "<name>", "data": {...}}. The same object also builds the
 * non-streaming message, so both paths share one interpretation of the CLI's output.
 *
 * Grammar produced: one message_start; content_block_start/delta/stop with contiguous indices
 * from 0 (several upstream messages of one run are merged: only the first message_start is kept,
 * blocks renumbered, intermediate message_delta/message_stop dropped; thinking blocks dropped
 * unless thinking was requested); then on finish one message_delta (stop_reason, final usage from
 * the result line) and one message_stop. On failure: open blocks closed, then an `error` event.
 * A structured-output request (cli.json_schema) hides text, thinking and the StructuredOutput
 * call (structured-output.c) and ends with one text block holding result.structured_output.
 */
typedef struct AnthropicStream AnthropicStream;

int anthropic_stream_new(AnthropicStream **ret, const ApiRequest *req, const ApiEnv *env);
AnthropicStream *anthropic_stream_free(AnthropicStream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(AnthropicStream *, anthropic_stream_free);
int anthropic_stream_feed(AnthropicStream *s, const CliEvent *ev, json_t *out);
/* The run succeeded: `result` is the CLI's final result line. Emits message_delta + message_stop. */
int anthropic_stream_finish(AnthropicStream *s, const json_t *result, json_t *out);
/* The run failed after (or before) streaming began: close open blocks, then an error event. */
int anthropic_stream_fail(AnthropicStream *s, const ApiError *err, json_t *out);
/* True once message_start has been emitted (the client has seen the start of a message). */
bool anthropic_stream_started(const AnthropicStream *s);
/* A ping event for `out` (while the CLI is silent). */
int anthropic_stream_ping(AnthropicStream *s, json_t *out);
/* After finish: the complete non-streaming message object (new reference). */
int anthropic_stream_message(AnthropicStream *s, const json_t *result, json_t **ret_message);
