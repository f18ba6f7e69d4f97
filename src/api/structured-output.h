/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: structured output (a JSON schema the answer must follow) in the three API surfaces. */

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"

/*
 * The schema a request asks for, as a new JSON object in *ret_schema (NULL when it asks for
 * none). Anthropic: `output_config.format` or the older `output_format`
 * ({"type":"json_schema","schema":{...}}). Chat Completions: `response_format` json_schema
 * (`.json_schema.schema`) or json_object ({"type":"object"}); "text" is none. Responses:
 * `text.format`, the same types with the schema at `.schema`. A malformed one: -EINVAL and a
 * 400 naming the field.
 */
int structured_output_from_anthropic(const json_t *body, json_t **ret_schema, ApiError *reterr);
int structured_output_from_chat(const json_t *body, json_t **ret_schema, ApiError *reterr);
int structured_output_from_responses(const json_t *body, json_t **ret_schema, ApiError *reterr);

/* The name of the tool the CLI adds for a JSON schema (cli/README §13). */
#define STRUCTURED_OUTPUT_TOOL "StructuredOutput"

/*
 * Whether a content block of a structured run stays hidden from the client: text and thinking
 * (the model's prose around the value) and the StructuredOutput tool call. Anything else (a
 * client tool's tool_use, server tools) passes.
 */
bool structured_output_hides_block(const json_t *content_block);

/*
 * The value of a finished structured run as the client's one text answer: the result line's
 * `structured_output`, serialized. A run that ended without one (the model never called the
 * tool: the CLI then reports success with plain text, §13): -ENODATA and a 502 api_error.
 */
int structured_output_text(const json_t *result, char **ret_text, ApiError *reterr);
