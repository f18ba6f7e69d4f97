/* SPDX-License-Identifier: MIT */

/*
 * Client tools over the CLI's in-process MCP server (cli/README §16.1, §16.7).
 *
 * The request's tools become the tools/list answer of an "sdk" server named "cp" that the session
 * declares per request (initialize{sdkMcpServers}); the CLI offers them upstream as
 * `mcp__cp__<name>`. The session answers the handshake and tools/list itself and never answers
 * tools/call: the model's tool_use goes back to the client, which runs it and sends the result
 * in its next request, where it becomes real tool_use/tool_result history (§16.6).
 *
 * Everything a tool definition could get wrong is refused here with a 400 naming the field, so
 * no CLI is started for a request upstream would refuse after a cold start.
 */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client-tools.h"
#include "util/macro.h"

/* MCP's tools/list answer: "readOnlyHint" lets the CLI issue parallel calls together (§16.3). */
#define MCP_PROTOCOL_VERSION "2025-11-25"

static bool name_is_valid(const char *s, size_t n) {
        if (n == 0 || n > CLIENT_TOOL_NAME_MAX || strlen(s) != n)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-'))
                        return false;
        }
        return true;
}

/**
 * client_tools_add() - validate one client tool and add it to the request's list
 * @tools: JSON array of tools added so far
 * @name: the tool's name as the client sent it (any JSON value)
 * @description: its description, NULL or null for none
 * @schema: its parameters' JSON Schema, NULL or null for "no parameters"
 * @at_name: the client's field for the name ("tools.0.name", "tools.0.function.name")
 * @at_schema: the client's field for the schema
 * @err: filled on a client error
 *
 * Return: 0; -EINVAL (@err a 400 naming the field); -ENOMEM.
 */
int client_tools_add(json_t *tools, const json_t *name, const json_t *description, const json_t *schema,
                     const char *at_name, const char *at_schema, ApiError *err) {
        json_auto_t *tool = NULL;
        const char *n = json_string_value(name);
        const json_t *type, *t;
        size_t i;

        assert(tools);

        if (!n || !name_is_valid(n, json_string_length(name)))
                return api_error_request(err, at_name,
                                         "%s: a tool name must be 1 to %d characters of a-z, A-Z, 0-9, '_' and '-' "
                                         "(the model sees it as \"" CLIENT_TOOLS_PREFIX "<name>\", at most 64)",
                                         at_name, CLIENT_TOOL_NAME_MAX);
        json_array_foreach(tools, i, t)
                if (streq_ptr(json_string_value(json_object_get(t, "name")), n))
                        return api_error_request(err, at_name, "%s: tool name '%s' is used twice", at_name, n);
        if (description && !json_is_null(description) && !json_is_string(description))
                return api_error_request(err, at_name, "%s: the tool's description must be a string", at_name);

        if (schema && !json_is_null(schema)) {
                if (!json_is_object(schema))
                        return api_error_request(err, at_schema, "%s: must be a JSON Schema object", at_schema);
                type = json_object_get(schema, "type");
                /* MCP requires an object schema for tool input; so does upstream. */
                if (type && !streq_ptr(json_string_value(type), "object"))
                        return api_error_request(err, at_schema, "%s: the schema's \"type\" must be \"object\"",
                                                 at_schema);
                t = json_object_get(schema, "properties");
                if (t && !json_is_object(t))
                        return api_error_request(err, at_schema, "%s: the schema's \"properties\" must be an object",
                                                 at_schema);
                t = json_object_get(schema, "required");
                if (t && !json_is_array(t))
                        return api_error_request(err, at_schema, "%s: the schema's \"required\" must be an array",
                                                 at_schema);
                tool = json_pack("{s:s,s:O}", "name", n, "input_schema", schema);
                /* A schema without "type" is still an object schema to the client; MCP needs it said. */
                if (tool && !type) {
                        json_t *copy = json_copy((json_t *) schema);
                        if (!copy || json_object_set_new(copy, "type", json_string("object")) < 0 ||
                            json_object_set_new(tool, "input_schema", copy) < 0)
                                return -ENOMEM;
                }
        } else
                tool = json_pack("{s:s,s:{s:s,s:{}}}", "name", n, "input_schema", "type", "object", "properties");
        if (!tool)
                return -ENOMEM;
        if (json_is_string(description) && json_object_set(tool, "description", (json_t *) description) < 0)
                return -ENOMEM;
        return json_array_append(tools, tool) < 0 ? -ENOMEM : 0;
}

static int append_system_text(CliRequest *cli, const char *text) {
        size_t old = cli->system_prompt ? (cli->system_prompt_len ?: strlen(cli->system_prompt)) : 0;
        size_t n = strlen(text);
        char *p = realloc(cli->system_prompt, old + (old ? 2 : 0) + n + 1);

        if (!p)
                return -ENOMEM;
        if (old) {
                memcpy(p + old, "\n\n", 2);
                old += 2;
        }
        memcpy(p + old, text, n + 1);
        cli->system_prompt = p;
        cli->system_prompt_len = old + n;
        return 0;
}

/**
 * client_tools_attach() - give the request its tools, honouring tool_choice
 * @req: the parsed request
 * @tools: the validated tools (client_tools_add()), taken; may be NULL or empty
 * @choice: the client's tool_choice
 * @name: with TOOL_CHOICE_TOOL, the tool's name
 * @at_choice: the client's field for the choice, for the 400 of an unknown name
 * @err: filled on a client error
 *
 * The CLI has no way to force a tool call: "any" and a named tool are asked for in the system
 * prompt, and the response says it was approximated (x-proxy-approximated).
 *
 * Return: 0; -EINVAL (@err) for a named tool that is not among @tools; -ENOMEM.
 */
int client_tools_attach(ApiRequest *req, json_t *tools, ToolChoice choice, const char *name, const char *at_choice,
                        ApiError *err) {
        json_auto_t *owned = tools;
        char text[256];
        bool found = false;
        size_t i;
        json_t *t;

        if (json_array_size(owned) == 0 || choice == TOOL_CHOICE_NONE)
                return 0;
        if (choice == TOOL_CHOICE_TOOL) {
                json_array_foreach(owned, i, t)
                        found = found || streq_ptr(json_string_value(json_object_get(t, "name")), name);
                if (!found)
                        return api_error_request(err, at_choice, "%s: no tool named '%s' in tools", at_choice, name);
                (void) snprintf(text, sizeof(text),
                                "You must answer this turn by calling the tool \"" CLIENT_TOOLS_PREFIX "%s\".", name);
        } else if (choice == TOOL_CHOICE_ANY)
                (void) snprintf(text, sizeof(text), "You must answer this turn by calling one of your tools.");
        if (choice == TOOL_CHOICE_TOOL || choice == TOOL_CHOICE_ANY) {
                if (append_system_text(&req->cli, text) < 0)
                        return -ENOMEM;
                req->approximated = "tool_choice";
        }
        req->cli.tools = TAKE_PTR(owned);
        return 0;
}

static bool has_prefix(const char *s) {
        return s && strncmp(s, CLIENT_TOOLS_PREFIX, strlen(CLIENT_TOOLS_PREFIX)) == 0;
}

const char *client_tools_client_name(const char *model_name) {
        return has_prefix(model_name) ? model_name + strlen(CLIENT_TOOLS_PREFIX) : NULL;
}

static bool id_seen(const json_t *ids, const char *id) {
        return json_object_get(ids, id) != NULL;
}

/**
 * client_tools_history() - the client's tool blocks as the CLI's history needs them
 * @messages: Anthropic-shaped turns (CliRequest.messages); tool_use blocks are replaced by
 *            copies with the prefixed name
 * @err: filled on a client error
 *
 * Return: 0; -EINVAL (@err names messages.N.content.M.tool_use_id) for a tool_result whose
 * tool_use_id no earlier tool_use has, or (@err names messages.N) for a user turn that leaves a
 * call of the assistant turn before it unanswered; -ENOMEM.
 */
int client_tools_history(json_t *messages, ApiError *err) {
        json_auto_t *ids = json_object(), *pending = json_object();
        size_t n, m;
        json_t *msg, *block;

        if (!ids || !pending)
                return -ENOMEM;
        json_array_foreach(messages, n, msg) {
                json_t *content = json_object_get(msg, "content");
                bool assistant = streq_ptr(json_string_value(json_object_get(msg, "role")), "assistant");
                char param[96];

                json_array_foreach(content, m, block) {
                        const char *type = json_string_value(json_object_get(block, "type"));

                        if (assistant && streq_ptr(type, "tool_use")) {
                                const char *name = json_string_value(json_object_get(block, "name"));
                                const char *id = json_string_value(json_object_get(block, "id"));
                                _cleanup_free_ char *prefixed = NULL;
                                json_t *copy;

                                if (id && (json_object_set_new(ids, id, json_true()) < 0 ||
                                           json_object_set_new(pending, id, json_true()) < 0))
                                        return -ENOMEM;
                                if (!name || asprintf(&prefixed, CLIENT_TOOLS_PREFIX "%s", name) < 0)
                                        return name ? -ENOMEM : 0;
                                copy = json_copy(block);
                                if (!copy || json_object_set_new(copy, "name", json_string(prefixed)) < 0 ||
                                    json_array_set_new(content, m, copy) < 0) {
                                        json_decref(copy);
                                        return -ENOMEM;
                                }
                        } else if (!assistant && streq_ptr(type, "tool_result")) {
                                const char *id = json_string_value(json_object_get(block, "tool_use_id"));

                                if (id && id_seen(ids, id)) {
                                        (void) json_object_del(pending, id);
                                        continue;
                                }
                                (void) snprintf(param, sizeof(param), "messages.%zu.content.%zu.tool_use_id", n, m);
                                return api_error_request(err, param,
                                                         "%s: no earlier tool_use has the id '%s': a tool result must "
                                                         "answer a tool call of a previous assistant turn",
                                                         param, id ?: "");
                        }
                }
                /* As the API requires: every call is answered in the user turn right after it. */
                if (!assistant && json_object_size(pending) > 0) {
                        const char *id = json_object_iter_key(json_object_iter(pending));

                        (void) snprintf(param, sizeof(param), "messages.%zu", n);
                        return api_error_request(err, param,
                                                 "%s: the tool_use '%s' of the previous assistant turn has no "
                                                 "tool_result here; every tool call needs its result in the next "
                                                 "user message", param, id);
                }
        }
        return 0;
}

static int reply_result(const json_t *id, json_t *result, json_t **ret) {
        json_t *r = json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ?: json_null(), "result", result);

        if (!r)
                return -ENOMEM;
        *ret = r;
        return 1;
}

/**
 * client_tools_mcp_answer() - the sdk server's answer to one JSON-RPC message from the CLI
 * @tools: the request's tools (client_tools_add()), NULL for none
 * @message: the JSON-RPC message of an mcp_message control_request
 * @ret: the reply, when there is one
 *
 * Stateless: the CLI may connect twice and repeats initialize and tools/list (§16.1).
 * Notifications get an empty result at id 0, as the TypeScript SDK answers them.
 *
 * Return: 1 and @ret; 0 for tools/call (not answered: the client runs the tool); -ENOMEM.
 */
int client_tools_mcp_answer(const json_t *tools, const json_t *message, json_t **ret) {
        const char *method = json_string_value(json_object_get(message, "method"));
        const json_t *id = json_object_get(message, "id");
        const json_t *t;
        json_t *list;
        size_t i;

        assert(ret);

        if (!method || !id || json_is_null(id)) {
                *ret = json_pack("{s:s,s:{},s:i}", "jsonrpc", "2.0", "result", "id", 0);
                return *ret ? 1 : -ENOMEM;
        }
        if (streq(method, "tools/call"))
                return 0;
        if (streq(method, "initialize"))
                return reply_result(id,
                                    json_pack("{s:s,s:{s:{}},s:{s:s,s:s}}", "protocolVersion", MCP_PROTOCOL_VERSION,
                                              "capabilities", "tools", "serverInfo", "name", CLIENT_TOOLS_SERVER,
                                              "version", "1.0.0"),
                                    ret);
        if (streq(method, "ping"))
                return reply_result(id, json_object(), ret);
        if (streq(method, "tools/list")) {
                list = json_array();
                if (!list)
                        return -ENOMEM;
                json_array_foreach(tools, i, t) {
                        json_t *e = json_pack("{s:O,s:O,s:{s:b}}", "name", json_object_get(t, "name"), "inputSchema",
                                              json_object_get(t, "input_schema"), "annotations", "readOnlyHint", 1);

                        if (!e || (json_object_get(t, "description") &&
                                   json_object_set(e, "description", json_object_get(t, "description")) < 0) ||
                            json_array_append_new(list, e) < 0) {
                                json_decref(list);
                                return -ENOMEM;
                        }
                }
                return reply_result(id, json_pack("{s:o}", "tools", list), ret);
        }
        *ret = json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id, "error", "code", -32601, "message",
                         "Method not found");
        return *ret ? 1 : -ENOMEM;
}

static int strip_block(json_t *block) {
        const char *name = json_string_value(json_object_get(block, "name"));
        const char *client = client_tools_client_name(name);

        if (!streq_ptr(json_string_value(json_object_get(block, "type")), "tool_use") || !client)
                return 0;
        /* json_string() copies before the old value is released. */
        return json_object_set_new(block, "name", json_string(client)) < 0 ? -ENOMEM : 1;
}

/**
 * client_tools_rename_payload() - model-side names back to the client's
 * @payload: a stream_event's event (@stream_event) or an assistant line's message
 * @stream_event: which of the two
 *
 * Return: the client tool_use blocks in it (names stripped), or -ENOMEM.
 */
int client_tools_rename_payload(json_t *payload, bool stream_event) {
        json_t *block;
        size_t i;
        int n = 0, k;

        if (stream_event) {
                if (!streq_ptr(json_string_value(json_object_get(payload, "type")), "content_block_start"))
                        return 0;
                return strip_block(json_object_get(payload, "content_block"));
        }
        json_array_foreach(json_object_get(payload, "content"), i, block) {
                k = strip_block(block);
                if (k < 0)
                        return k;
                n += k;
        }
        return n;
}
