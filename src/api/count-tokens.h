/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * PURE: POST /v1/messages/count_tokens. The proxy holds no API credential, so the CLI counts:
 * the request's conversation is written to a CLI as history ("shouldQuery":false: no model
 * call) and `get_context_usage` asked (cli/README §16.5). Its totalTokens include the CLI's own
 * system prompt and tools; that baseline, measured on the same model with no conversation, is
 * subtracted, so the figure is the request's own.
 */

#include <jansson.h>
#include <stdint.h>

#include "api/api.h"

/*
 * A count_tokens body (the Messages fields without max_tokens or stream) -> the conversation
 * to count, parsed by the Messages rules (same 400s; a final assistant turn is refused as for
 * /v1/messages). The client's system text is counted as part of the conversation whatever
 * SYSTEM_PROMPT_MODE says, so that the baseline stays the CLI's own prompt.
 */
int count_tokens_request_parse(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr);

/* The conversation's stdin lines with every user line, the last too, as history: nothing is asked. */
int count_tokens_history_input(const CliRequest *r, CliInput *ret);

/* The totalTokens of a get_context_usage answer. -EBADMSG when it has none (or a negative one). */
int count_tokens_usage_total(const json_t *usage, int64_t *ret);

/*
 * The request's tokens: @total (with the conversation) minus @baseline (without). -ERANGE when
 * that is not positive: a conversation holds at least one message, so the CLI did not count it.
 */
int count_tokens_derive(int64_t total, int64_t baseline, int64_t *ret);

/* {"input_tokens": N} */
int count_tokens_to_json(int64_t tokens, json_t **ret);
