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

/* ---- parking (TOOL_PARK_MS): a follow-up answers the parked run's pending calls ---------------- */

static void fnv_add(uint64_t *h, const void *data, size_t n) {
        const unsigned char *p = data;

        for (size_t i = 0; i < n; i++) {
                *h ^= p[i];
                *h *= UINT64_C(0x100000001b3);
        }
        /* A separator, so "ab"+"c" and "a"+"bc" differ. */
        *h ^= 0xff;
        *h *= UINT64_C(0x100000001b3);
}

static int fnv_add_json(uint64_t *h, const json_t *v) {
        _cleanup_free_ char *text = NULL;

        if (!v) {
                fnv_add(h, "", 0);
                return 0;
        }
        text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (!text)
                return -ENOMEM;
        fnv_add(h, text, strlen(text));
        return 0;
}

static void strip_cache_control(json_t *blocks) {
        json_t *b;
        size_t i;

        json_array_foreach(blocks, i, b) {
                (void) json_object_del(b, "cache_control");
                /* a tool_result's own blocks */
                if (json_is_array(json_object_get(b, "content")))
                        strip_cache_control(json_object_get(b, "content"));
        }
}

/*
 * One turn, without its cache_control marks: a client moves them along the conversation from
 * one request to the next (Claude Code puts one on the newest block), and they are hints for
 * upstream's cache, not content.
 */
static int fnv_add_turn(uint64_t *h, const json_t *turn) {
        json_auto_t *copy = NULL;

        if (!json_is_array(json_object_get(turn, "content")))
                return fnv_add_json(h, turn);
        copy = json_deep_copy(turn);
        if (!copy)
                return -ENOMEM;
        strip_cache_control(json_object_get(copy, "content"));
        return fnv_add_json(h, copy);
}

/**
 * client_tools_digest() - what a parked run and its follow-up must agree on
 * @r: the request (messages still there, history names prefixed)
 * @n_messages: how many of its leading messages count
 * @ret: the digest
 *
 * Model, effort, thinking, system text and mode, the tools, the structured-output schema, and
 * the first @n_messages turns (their cache_control marks left out): a run parked with a
 * request's whole conversation matches a follow-up whose conversation minus its last two turns
 * (the answer and the results) is the same.
 *
 * Return: 0 or -ENOMEM.
 */
int client_tools_digest(const CliRequest *r, size_t n_messages, uint64_t *ret) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        char num[64];

        fnv_add(&h, r->model ?: "", strlen(r->model ?: ""));
        fnv_add(&h, r->effort ?: "", strlen(r->effort ?: ""));
        (void) snprintf(num, sizeof(num), "%d/%lld/%d", r->thinking, (long long) r->thinking_budget,
                        (int) r->system_prompt_mode);
        fnv_add(&h, num, strlen(num));
        if (r->system_prompt)
                fnv_add(&h, r->system_prompt, r->system_prompt_len ?: strlen(r->system_prompt));
        else
                fnv_add(&h, "", 0);
        if (fnv_add_json(&h, r->tools) < 0)
                return -ENOMEM;
        /* The parked process keeps the schema it was started with (and its registry servers,
         * client_tools_digest_servers()): a follow-up asking for another must not continue it. */
        if (fnv_add_json(&h, r->json_schema) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n_messages && i < json_array_size(r->messages); i++)
                if (fnv_add_turn(&h, json_array_get(r->messages, i)) < 0)
                        return -ENOMEM;
        *ret = h;
        return 0;
}

/*
 * The registry servers are selected on the loop, after the digests were made from the parse (a
 * reload may change the registry meanwhile): they are folded in then, the same way on both
 * sides, so that a follow-up naming other servers does not continue a parked process.
 */
void client_tools_digest_servers(uint64_t *h, char *const *servers) {
        for (char *const *n = servers; n && *n; n++)
                fnv_add(h, *n, strlen(*n) + 1);        /* the NUL separates the names */
        fnv_add(h, "/", 1);
}

/* A tool_result block -> the MCP tools/call result the CLI makes it back into (§16.1). */
static json_t *mcp_result_new(const json_t *tool_result) {
        const json_t *content = json_object_get(tool_result, "content"), *b;
        json_auto_t *blocks = json_array();
        size_t i;

        if (!blocks)
                return NULL;
        if (json_is_string(content)) {
                if (json_array_append_new(blocks, json_pack("{s:s,s:O}", "type", "text", "text", content)) < 0)
                        return NULL;
        } else
                json_array_foreach(content, i, b) {
                        const char *type = json_string_value(json_object_get(b, "type"));
                        const json_t *src = json_object_get(b, "source");
                        json_t *o = NULL;

                        if (streq_ptr(type, "text"))
                                o = json_pack("{s:s,s:s}", "type", "text", "text",
                                              json_string_value(json_object_get(b, "text")) ?: "");
                        else if (streq_ptr(type, "image") &&
                                 streq_ptr(json_string_value(json_object_get(src, "type")), "base64"))
                                o = json_pack("{s:s,s:O,s:O}", "type", "image", "data", json_object_get(src, "data"),
                                              "mimeType", json_object_get(src, "media_type"));
                        else
                                return NULL;    /* nothing MCP can carry: no parking for this one */
                        if (!o || json_array_append_new(blocks, o) < 0)
                                return NULL;
                }
        return json_pack("{s:O,s:b}", "content", blocks, "isError", json_is_true(json_object_get(tool_result, "is_error")));
}

/**
 * client_tools_followup() - is this request the answer to a tool call, and nothing more?
 * @messages: the request's turns (Anthropic-shaped)
 * @ret_ids: the ids of the previous assistant turn's tool_use blocks, in order (new reference)
 * @ret_results: tool_use id -> the MCP tools/call result of its tool_result (new reference)
 *
 * A follow-up a parked run can take: at least three turns, the last user turn nothing but a
 * tool_result for each tool_use of the assistant turn before it, each of a shape MCP carries.
 *
 * Return: 1 and both; 0 when it is not such a follow-up; -ENOMEM.
 */
int client_tools_followup(const json_t *messages, json_t **ret_ids, json_t **ret_results) {
        size_t n = json_array_size(messages), i;
        const json_t *asst, *last, *b;
        json_auto_t *ids = json_array(), *results = json_object();

        *ret_ids = *ret_results = NULL;
        if (!ids || !results)
                return -ENOMEM;
        if (n < 3)
                return 0;
        asst = json_object_get(json_array_get(messages, n - 2), "content");
        last = json_object_get(json_array_get(messages, n - 1), "content");
        json_array_foreach(asst, i, b)
                if (streq_ptr(json_string_value(json_object_get(b, "type")), "tool_use") &&
                    json_is_string(json_object_get(b, "id")) &&
                    json_array_append(ids, json_object_get(b, "id")) < 0)
                        return -ENOMEM;
        if (json_array_size(ids) == 0 || json_array_size(last) != json_array_size(ids))
                return 0;
        json_array_foreach(last, i, b) {
                const char *id = json_string_value(json_object_get(b, "tool_use_id"));
                json_t *r;

                if (!streq_ptr(json_string_value(json_object_get(b, "type")), "tool_result") || !id ||
                    json_object_get(results, id))
                        return 0;
                r = mcp_result_new(b);
                if (!r)
                        return 0;
                if (json_object_set_new(results, id, r) < 0)
                        return -ENOMEM;
        }
        json_array_foreach(ids, i, b)
                if (!json_object_get(results, json_string_value(b)))
                        return 0;
        *ret_ids = TAKE_PTR(ids);
        *ret_results = TAKE_PTR(results);
        return 1;
}
