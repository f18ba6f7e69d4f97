/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: client model names -> the CLI's --model value, and the public model list. */

#include <jansson.h>
#include <stdint.h>

/*
 * Resolve a client model name: prefixes "claude-code-cli/" and "openai/" stripped, the alias
 * table applied (claude-opus-4-6/claude-opus-4/opus -> opus, ...), other "claude-*" ids passed
 * through, anything else (or NULL/empty) -> default_model. Returns a new string or NULL on OOM.
 */
char *model_resolve(const char *client_model, const char *default_model);

/*
 * The /v1/models body, readable by both SDKs: {"object":"list","data":[{id, object:"model",
 * type:"model", display_name, created, created_at, owned_by}], has_more, first_id, last_id}.
 */
int models_list_to_json(json_t **ret);

/*
 * The same body from the CLI's own list: the "response" of its answer to `initialize`
 * (models[{value, resolvedModel, displayName}]). -EBADMSG when it lists no usable model.
 */
int models_list_from_cli(const json_t *initialize_response, int64_t created, const char *created_at, json_t **ret);
