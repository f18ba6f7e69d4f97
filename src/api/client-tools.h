/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * PURE: the client's tools (function calling) as the CLI sees them: one in-process ("sdk") MCP
 * server named "cp" declared per request, so the model sees `mcp__cp__<name>` (cli/README §16.1).
 * Validation before any spawn, the JSON-RPC answers of that server, the names both ways, the
 * history checks and tool_choice.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

#define CLIENT_TOOLS_SERVER "cp"
#define CLIENT_TOOLS_PREFIX "mcp__cp__"
/* The API's limit on a tool name is 64; the model sees the prefix in front of the client's name. */
#define CLIENT_TOOL_NAME_MAX 55

typedef enum ToolChoice {
        TOOL_CHOICE_AUTO,       /* also: no tool_choice */
        TOOL_CHOICE_ANY,        /* Anthropic "any", OpenAI "required" */
        TOOL_CHOICE_TOOL,       /* one named tool */
        TOOL_CHOICE_NONE,       /* the tools are not offered at all */
} ToolChoice;

/*
 * Validate one tool and append it to @tools as {name, description?, input_schema}. @at_name and
 * @at_schema are the client's field names for the 400. @schema NULL means "no parameters".
 * Return: 0; -EINVAL with @err (400) for a bad name, a duplicate or a schema that is not a JSON
 * Schema object; -ENOMEM.
 */
int client_tools_add(json_t *tools, const json_t *name, const json_t *description, const json_t *schema,
                     const char *at_name, const char *at_schema, ApiError *err);

/*
 * Apply @choice to @req: NONE drops the tools; ANY and TOOL (named @name, which must be one of
 * them) are approximated with system-prompt text, and @req->approximated says so. Takes @tools.
 */
int client_tools_attach(ApiRequest *req, json_t *tools, ToolChoice choice, const char *name,
                        const char *at_choice, ApiError *err);

/*
 * Client history -> CLI history, in place on @messages (Anthropic-shaped turns): every tool_use
 * name gets the prefix (the block is copied, not changed), every tool_result must answer a
 * tool_use of an earlier assistant turn, and every tool_use must have its tool_result in the user
 * turn right after it (as the API requires). Return: 0; -EINVAL with @err naming the field; -ENOMEM.
 */
int client_tools_history(json_t *messages, ApiError *err);

/*
 * An mcp_message JSON-RPC @message for server "cp" -> the reply in @ret (new reference):
 * initialize, notifications, tools/list (from @tools), ping; unknown methods get -32601.
 * Return: 1 with a reply; 0 for tools/call, which is left unanswered on purpose (the client
 * runs the tool); -ENOMEM.
 */
int client_tools_mcp_answer(const json_t *tools, const json_t *message, json_t **ret);

/*
 * A CLI stream_event or assistant payload: strip the prefix from client tool_use names, in place.
 * Return: the number of client tool_use blocks seen (content_block_start or assistant content).
 */
int client_tools_rename_payload(json_t *payload, bool stream_event);
/* The client's name of a model-side name, or NULL if it is not a client tool's. */
const char *client_tools_client_name(const char *model_name);

/* Parking (TOOL_PARK_MS): model, settings, tools and the first @n_messages turns, as one number. */
int client_tools_digest(const CliRequest *r, size_t n_messages, uint64_t *ret);
/* Fold the registry servers @servers (strv, NULL: none), selected later, into the digest @h. */
void client_tools_digest_servers(uint64_t *h, char *const *servers);
/*
 * A follow-up a parked run can take: its last user turn is only the tool_results of the assistant
 * turn before it. Return: 1 with the tool_use ids and id -> MCP tools/call result; 0; -ENOMEM.
 */
int client_tools_followup(const json_t *messages, json_t **ret_ids, json_t **ret_results);
