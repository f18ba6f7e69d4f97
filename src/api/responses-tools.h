/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * PURE: the Responses API's tool list as chat tools. A `function` passes as it is; a `namespace`
 * (a named group of functions, as the Codex CLI sends its sub-agent tools) is offered flat, each
 * member as `<namespace>__<name>`, and its calls go back as function_call items carrying the
 * member's own `name` and the `namespace`; hosted tools (web_search, file_search, ...) and custom
 * (free-form) tools have no runner here: left out and named "tools.<type>" in
 * x-proxy-unsupported, never a failure.
 */

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"

#define RESPONSES_NAMESPACE_SEP "__"

/*
 * Responses @tools (NULL, null or an array) -> chat tools {type:"function", function:{name,
 * description, parameters}} appended to @chat_tools, and to @paths (NULL: not wanted) the
 * client's field of each ("tools.4.tools.0"), for errors about them; the types left out are
 * added, once each, to the comma-separated @unsupported ("tools.web_search"). Return: 0; -EINVAL
 * with @err (400) for a tools value or namespace that is not the right shape; -ENOMEM.
 */
int responses_tools_to_chat(const json_t *tools, json_t *chat_tools, json_t *paths, char **unsupported,
                            ApiError *err);

/* The flat name the model sees for member @name of namespace @ns (@ns NULL: @name). Return: 0; -ENOMEM. */
int responses_tools_flat_name(const char *ns, const char *name, char **ret);

/*
 * The client's own name for a flat @name among @tools: a namespace member's namespace and name
 * (pointers into @tools), or false when @name is no namespace member's (a plain function).
 */
bool responses_tools_split(const json_t *tools, const char *name, const char **ret_ns, const char **ret_name);

/* Append @name to the comma-separated @list unless it is already there. Return: 0; -ENOMEM. */
int responses_tools_add_name(char **list, const char *name);
