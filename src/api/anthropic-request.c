/* SPDX-License-Identifier: MIT */

/*
 * A /v1/messages request body -> ApiRequest (and so a CliRequest).
 *
 * Validation is done here, once, with the messages the predecessor's users know ("model is
 * required", ...) and a `param` naming the offending field, so the CLI never sees a request it
 * would fail on in a less readable way. Content blocks are kept verbatim (cache_control
 * included): the CLI forwards them upstream as they are. Consecutive turns of one role are
 * merged, since the CLI's history recipe needs strict alternation.
 *
 * Not done here: the slash-command escape and the system-prompt placement (cli/request.c, which
 * knows how the CLI reads its input), the client tools' rules (client-tools.c), the MCP registry
 * lookup (the names of metadata.mcp_servers are taken here, checked against the registry by the
 * session), the SSE side
 * (anthropic-stream.c).
 */

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/anthropic.h"
#include "api/client-tools.h"
#include "api/models.h"
#include "api/structured-output.h"
#include "mcp-registry.h"
#include "util/macro.h"

/* The CLI's --effort values (cli/README §3). */
static const char *const effort_levels[] = { "low", "medium", "high", "xhigh", "max" };

/* Parameters the CLI has no flag for (cli/README §3): accepted, named in x-proxy-unsupported. */
typedef enum UnsupportedKind {
        UNSUPPORTED_NUMBER,
        UNSUPPORTED_INTEGER,
        UNSUPPORTED_ARRAY,
} UnsupportedKind;

static const struct {
        const char *name;
        UnsupportedKind kind;
} unsupported_params[] = {
        { "temperature",    UNSUPPORTED_NUMBER },
        { "top_p",          UNSUPPORTED_NUMBER },
        { "top_k",          UNSUPPORTED_INTEGER },
        { "stop_sequences", UNSUPPORTED_ARRAY },
};

static const char *const image_media_types[] = { "image/jpeg", "image/png", "image/gif", "image/webp" };

static bool str_in(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(s, list[i]))
                        return true;
        return false;
}

/*
 * The text of a string without an embedded NUL, else NULL. Bodies may carry "\u0000" (valid JSON
 * and valid text, so it is accepted), but every field compared with a C string — types, roles,
 * model, effort, media types — must not let "text\u0000junk" pass as "text".
 */
static const char *json_clean_string(const json_t *v) {
        const char *s = json_string_value(v);

        return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static const char *member_clean_string(const json_t *o, const char *key) {
        return json_clean_string(json_object_get(o, key));
}

static bool is_absent(const json_t *v) {
        return !v || json_is_null(v);
}

/*
 * "input_text" is the OpenAI Responses spelling of a text block; clients that speak both APIs
 * (OpenClaw's providers, the predecessor's users) send it here too. It is read as "text" wherever
 * a text block is accepted, and rewritten before the CLI forwards the block upstream, where only
 * "text" is valid.
 */
static bool is_text_type(const char *type) {
        return streq_ptr(type, "text") || streq_ptr(type, "input_text");
}

/* A copy of an input_text block spelled "text" (cache_control and the rest kept). */
static json_t *text_block_from_input_text(const json_t *block) {
        json_t *copy = json_copy((json_t *) block);

        if (copy && json_object_set_new(copy, "type", json_string("text")) < 0) {
                json_decref(copy);
                return NULL;
        }
        return copy;
}

/*
 * The block as the CLI must see it: an input_text block, or a tool_result whose content holds
 * one, rewritten; any other block shared as it is (a new reference either way).
 */
static json_t *block_normalized(const json_t *block) {
        const char *type = member_clean_string(block, "type");
        const json_t *content = json_object_get(block, "content"), *b;
        json_t *copy, *blocks;
        bool rewrite = false;
        size_t i;

        if (streq_ptr(type, "input_text"))
                return text_block_from_input_text(block);
        if (!streq_ptr(type, "tool_result") || !json_is_array(content))
                return json_incref((json_t *) block);
        json_array_foreach(content, i, b)
                rewrite = rewrite || streq_ptr(member_clean_string(b, "type"), "input_text");
        if (!rewrite)
                return json_incref((json_t *) block);
        copy = json_copy((json_t *) block);
        blocks = json_array();
        if (!copy || !blocks)
                goto oom;
        json_array_foreach(content, i, b)
                if (json_array_append_new(blocks, streq_ptr(member_clean_string(b, "type"), "input_text")
                                                          ? text_block_from_input_text(b)
                                                          : json_incref((json_t *) b)) < 0)
                        goto oom;
        if (json_object_set_new(copy, "content", blocks) < 0) {
                blocks = NULL;
                goto oom;
        }
        return copy;
oom:
        json_decref(blocks);
        json_decref(copy);
        return NULL;
}

/* `system`: a string, or text blocks joined with a blank line (how the API itself reads them). */
static int parse_system(const json_t *v, char **ret, size_t *ret_len, ApiError *reterr) {
        _cleanup_free_ char *joined = NULL;
        size_t len = 0, i;
        const json_t *block;

        *ret = NULL;
        *ret_len = 0;
        if (is_absent(v))
                return 0;
        if (json_is_string(v)) {
                size_t n = json_string_length(v);

                if (n == 0)
                        return 0;
                /* By length: the text may hold a NUL, which strdup() would cut at. */
                *ret = malloc(n + 1);
                if (!*ret)
                        return -ENOMEM;
                memcpy(*ret, json_string_value(v), n + 1);
                *ret_len = n;
                return 0;
        }
        if (!json_is_array(v))
                return api_error_request(reterr, "system", "system: must be a string or an array of text blocks");

        json_array_foreach(v, i, block) {
                const char *text = json_string_value(json_object_get(block, "text"));
                char param[128];
                size_t n;
                char *p;

                (void) snprintf(param, sizeof(param), "system.%zu", i);
                if (!is_text_type(member_clean_string(block, "type")) || !text)
                        return api_error_request(reterr, param, "%s: must be a text block with a string \"text\"",
                                             param);
                n = json_string_length(json_object_get(block, "text"));
                if (n == 0)
                        continue;
                p = realloc(joined, len + (len ? 2 : 0) + n + 1);
                if (!p)
                        return -ENOMEM;
                joined = p;
                if (len) {
                        memcpy(joined + len, "\n\n", 2);
                        len += 2;
                }
                memcpy(joined + len, text, n);
                len += n;
                joined[len] = 0;
        }
        *ret = TAKE_PTR(joined);
        *ret_len = len;
        return 0;
}

/* image/document `source`: shapes the CLI passes upstream (cli/README §10, c5). */
static int check_source(const json_t *block, const char *btype, const char *at, ApiError *reterr) {
        const json_t *source = json_object_get(block, "source");
        const char *stype, *media_type;
        char param[128];
        bool image = streq(btype, "image");

        (void) snprintf(param, sizeof(param), "%s.source", at);
        if (!json_is_object(source))
                return api_error_request(reterr, param, "%s: %s block requires a \"source\" object", param, btype);

        stype = member_clean_string(source, "type");
        media_type = member_clean_string(source, "media_type");
        (void) snprintf(param, sizeof(param), "%s.source.type", at);
        if (!stype)
                return api_error_request(reterr, param, "%s: required (\"base64\" or \"url\")", param);

        if (streq(stype, "url")) {
                (void) snprintf(param, sizeof(param), "%s.source.url", at);
                if (!json_is_string(json_object_get(source, "url")) ||
                    json_string_length(json_object_get(source, "url")) == 0)
                        return api_error_request(reterr, param, "%s: a url source requires a string \"url\"", param);
                return 0;
        }

        if (streq(stype, "base64") || (!image && streq(stype, "text"))) {
                (void) snprintf(param, sizeof(param), "%s.source.media_type", at);
                if (!media_type)
                        return api_error_request(reterr, param, "%s: required for a %s source", param, stype);
                if (image && !str_in(media_type, image_media_types, ELEMENTSOF(image_media_types)))
                        return api_error_request(reterr, param,
                                             "%s: unsupported image type '%s' (expected image/jpeg, image/png, "
                                             "image/gif or image/webp)", param, media_type);
                if (!image && streq(stype, "base64") && !streq(media_type, "application/pdf"))
                        return api_error_request(reterr, param,
                                             "%s: unsupported document type '%s' (expected application/pdf)",
                                             param, media_type);
                if (!image && streq(stype, "text") && !streq(media_type, "text/plain"))
                        return api_error_request(reterr, param,
                                             "%s: unsupported document type '%s' (expected text/plain)",
                                             param, media_type);
                (void) snprintf(param, sizeof(param), "%s.source.data", at);
                if (!json_is_string(json_object_get(source, "data")))
                        return api_error_request(reterr, param, "%s: a %s source requires a string \"data\"",
                                             param, stype);
                return 0;
        }

        /* "file" sources name the Files API, which the CLI cannot reach. */
        return api_error_request(reterr, param, "%s: unsupported %s source type '%s' (expected %s)", param, btype,
                             stype, image ? "base64 or url" : "base64, text or url");
}

/*
 * The fields a history block must have for the CLI to forward it (cli/README §16.6): upstream
 * would refuse it otherwise, in a less readable way and after a cold start.
 */
static int check_history_block(const json_t *block, const char *type, const char *at, ApiError *reterr) {
        static const struct {
                const char *type, *field;
                json_type want;         /* JSON_STRING: a non-empty string */
        } required[] = {
                { "tool_use",          "id",          JSON_STRING },
                { "tool_use",          "name",        JSON_STRING },
                { "tool_use",          "input",       JSON_OBJECT },
                { "tool_result",       "tool_use_id", JSON_STRING },
                { "thinking",          "thinking",    JSON_STRING },
                { "thinking",          "signature",   JSON_STRING },
                { "redacted_thinking", "data",        JSON_STRING },
        };
        char param[128];

        for (size_t i = 0; i < ELEMENTSOF(required); i++) {
                const json_t *v;
                bool ok;

                if (!streq(type, required[i].type))
                        continue;
                v = json_object_get(block, required[i].field);
                if (required[i].want == JSON_STRING)
                        /* thinking text may be empty (redacted upstream), ids and names not. */
                        ok = json_is_string(v) && (json_string_length(v) > 0 || streq(required[i].field, "thinking"));
                else
                        ok = json_is_object(v);
                if (!ok) {
                        (void) snprintf(param, sizeof(param), "%s.%s", at, required[i].field);
                        return api_error_request(reterr, param, "%s: a %s block requires %s \"%s\"", param, type,
                                             required[i].want == JSON_STRING ? "a string" : "an object",
                                             required[i].field);
                }
        }
        if (streq(type, "tool_result")) {
                const json_t *content = json_object_get(block, "content");

                (void) snprintf(param, sizeof(param), "%s.content", at);
                if (!is_absent(content) && !json_is_string(content) && !json_is_array(content))
                        return api_error_request(reterr, param, "%s: must be a string or an array of content blocks",
                                             param);
                if (json_is_array(content)) {
                        size_t i;
                        const json_t *b;

                        json_array_foreach(content, i, b)
                                if (!json_is_object(b) || !member_clean_string(b, "type")) {
                                        (void) snprintf(param, sizeof(param), "%s.content.%zu", at, i);
                                        return api_error_request(reterr, param,
                                                             "%s: must be a content block with a string \"type\"",
                                                             param);
                                }
                }
                (void) snprintf(param, sizeof(param), "%s.is_error", at);
                if (!is_absent(json_object_get(block, "is_error")) && !json_is_boolean(json_object_get(block, "is_error")))
                        return api_error_request(reterr, param, "%s: must be a boolean", param);
        }
        return 0;
}

static int check_block(const json_t *block, size_t n, size_t m, ApiError *reterr) {
        /* History blocks the CLI forwards as they are (cli/README §16.6). */
        static const char *const passthrough[] = {
                "tool_use", "tool_result", "thinking", "redacted_thinking",
        };
        const char *type;
        char at[64], param[128];

        /* The common case first, without formatting a param nobody reads (a body may hold
         * hundreds of thousands of blocks). */
        if (json_is_object(block) && streq_ptr(member_clean_string(block, "type"), "text") &&
            json_is_string(json_object_get(block, "text")))
                return 0;

        (void) snprintf(at, sizeof(at), "messages.%zu.content.%zu", n, m);
        if (!json_is_object(block))
                return api_error_request(reterr, at, "%s: a content block must be an object", at);
        type = member_clean_string(block, "type");
        (void) snprintf(param, sizeof(param), "%s.type", at);
        if (!type)
                return api_error_request(reterr, param, "%s: required", param);

        if (is_text_type(type)) {
                (void) snprintf(param, sizeof(param), "%s.text", at);
                if (!json_is_string(json_object_get(block, "text")))
                        return api_error_request(reterr, param, "%s: a text block requires a string \"text\"", param);
                return 0;
        }
        if (streq(type, "image") || streq(type, "document"))
                return check_source(block, type, at, reterr);
        if (str_in(type, passthrough, ELEMENTSOF(passthrough)))
                return check_history_block(block, type, at, reterr);
        return api_error_request(reterr, param,
                             "%s: unsupported content block type '%s' (expected text, image, document, tool_use, "
                             "tool_result or thinking)", param, type);
}

/* One message's content as an owned array of blocks; a string becomes one text block. */
static int parse_content(const json_t *content, size_t n, json_t **ret, ApiError *reterr) {
        json_auto_t *out = NULL;
        char param[128];
        size_t m;
        const json_t *block;

        (void) snprintf(param, sizeof(param), "messages.%zu.content", n);
        if (json_is_string(content)) {
                if (json_string_length(content) == 0)
                        return api_error_request(reterr, param, "%s: must not be empty", param);
                out = json_pack("[{s:s,s:s%}]", "type", "text", "text", json_string_value(content),
                                json_string_length(content));
                if (!out)
                        return -ENOMEM;
                *ret = TAKE_PTR(out);
                return 0;
        }
        if (!json_is_array(content))
                return api_error_request(reterr, param, "%s: must be a string or an array of content blocks", param);
        if (json_array_size(content) == 0)
                return api_error_request(reterr, param, "%s: must not be empty", param);

        out = json_array();
        if (!out)
                return -ENOMEM;
        json_array_foreach(content, m, block) {
                int k = check_block(block, n, m, reterr);
                if (k < 0)
                        return k;
                /*
                 * Shared, not copied: nothing downstream changes a block (the slash escape copies
                 * the one it rewrites), and the reference keeps it alive after the body is freed.
                 * A deep copy doubled the memory and time of a body of many small blocks. Only an
                 * input_text block (or a tool_result holding one) is copied, to be renamed.
                 */
                if (json_array_append_new(out, block_normalized(block)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* One text as a `<system-reminder>` block: how the CLI itself marks system text inside a user turn. */
static json_t *system_reminder_new(const char *text, size_t len) {
        static const char head[] = "<system-reminder>\n", tail[] = "\n</system-reminder>";
        _cleanup_free_ char *buf = malloc(sizeof(head) - 1 + len + sizeof(tail));

        if (!buf)
                return NULL;
        /* By length: the text may hold a NUL ("\u0000"). */
        memcpy(buf, head, sizeof(head) - 1);
        memcpy(buf + sizeof(head) - 1, text, len);
        memcpy(buf + sizeof(head) - 1 + len, tail, sizeof(tail));
        return json_pack("{s:s,s:s%}", "type", "text", "text", buf, sizeof(head) - 1 + len + sizeof(tail) - 1);
}

/*
 * A mid-conversation `role:"system"` message (beta mid-conversation-system-2026-04-07; Claude Code
 * sends one listing its agents and skills): system text at that point of the conversation. The
 * CLI's input has no such role, so it becomes `<system-reminder>` text of a user turn, which the
 * caller merges with the adjacent user turn. Content: a string or text blocks, each its own
 * reminder.
 */
static int parse_system_message(const json_t *content, size_t n, json_t **ret, ApiError *reterr) {
        json_auto_t *out = json_array();
        char param[128];
        size_t m;
        const json_t *block;

        if (!out)
                return -ENOMEM;
        (void) snprintf(param, sizeof(param), "messages.%zu.content", n);
        if (json_is_string(content)) {
                if (json_string_length(content) == 0)
                        return api_error_request(reterr, param, "%s: must not be empty", param);
                if (json_array_append_new(out, system_reminder_new(json_string_value(content),
                                                                   json_string_length(content))) < 0)
                        return -ENOMEM;
                *ret = TAKE_PTR(out);
                return 0;
        }
        if (!json_is_array(content) || json_array_size(content) == 0)
                return api_error_request(reterr, param,
                                         "%s: a system message must be a string or a non-empty array of text blocks",
                                         param);
        json_array_foreach(content, m, block) {
                const json_t *text = json_object_get(block, "text");

                (void) snprintf(param, sizeof(param), "messages.%zu.content.%zu", n, m);
                if (!streq_ptr(member_clean_string(block, "type"), "text") || !json_is_string(text))
                        return api_error_request(reterr, param,
                                                 "%s: a system message holds only text blocks with a string \"text\"",
                                                 param);
                if (json_array_append_new(out, system_reminder_new(json_string_value(text),
                                                                   json_string_length(text))) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int parse_messages(const json_t *messages, json_t **ret, ApiError *reterr) {
        json_auto_t *out = json_array();
        size_t n, count = json_array_size(messages);
        const json_t *msg;
        const char *last_role = NULL;

        if (!out)
                return -ENOMEM;
        json_array_foreach(messages, n, msg) {
                json_auto_t *content = NULL;
                const char *role;
                char param[128];
                int k;

                (void) snprintf(param, sizeof(param), "messages.%zu", n);
                if (!json_is_object(msg))
                        return api_error_request(reterr, param, "%s: must be an object with role and content", param);
                role = member_clean_string(msg, "role");
                (void) snprintf(param, sizeof(param), "messages.%zu.role", n);
                if (!streq_ptr(role, "user") && !streq_ptr(role, "assistant") && !streq_ptr(role, "system"))
                        return api_error_request(reterr, param, "%s: must be \"user\", \"assistant\" or \"system\"",
                                                 param);
                if (n == 0 && streq(role, "assistant"))
                        return api_error_request(reterr, param, "%s: the first message must be a user turn", param);

                if (streq(role, "system")) {
                        k = parse_system_message(json_object_get(msg, "content"), n, &content, reterr);
                        role = "user";
                } else
                        k = parse_content(json_object_get(msg, "content"), n, &content, reterr);
                if (k < 0)
                        return k;

                if (streq_ptr(last_role, role)) {
                        json_t *prev = json_object_get(json_array_get(out, json_array_size(out) - 1), "content");
                        if (json_array_extend(prev, content) < 0)
                                return -ENOMEM;
                } else if (json_array_append_new(out, json_pack("{s:s,s:O}", "role", role, "content", content)) < 0)
                        return -ENOMEM;
                last_role = role;
        }

        if (streq_ptr(last_role, "assistant")) {
                char param[128];

                (void) snprintf(param, sizeof(param), "messages.%zu", count - 1);
                return api_error_request(reterr, param,
                                     "%s: the final message is an assistant turn (prefill); the Claude Code CLI "
                                     "cannot continue a prefilled assistant turn, so the conversation must end "
                                     "with a user message", param);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/*
 * `tools` and `tool_choice`. Custom tools (no "type", or "custom") are the client's own: they are
 * offered to the model through the "cp" server (api/client-tools.c). Server tools (web search,
 * ...) have no runner here: validated, not offered.
 */
static int parse_tools(const json_t *body, ApiRequest *req, ApiError *reterr) {
        static const char *const choices[] = { "auto", "any", "tool", "none" };
        const json_t *tools = json_object_get(body, "tools");
        const json_t *choice = json_object_get(body, "tool_choice");
        json_auto_t *list = json_array();
        const json_t *tool;
        ToolChoice mode = TOOL_CHOICE_AUTO;
        const char *type;
        char param[128], at_schema[128];
        size_t i;
        int k;

        if (!list)
                return -ENOMEM;
        if (!is_absent(tools) && !json_is_array(tools))
                return api_error_request(reterr, "tools", "tools: must be an array of tool definitions");
        json_array_foreach(tools, i, tool) {
                const json_t *v;
                bool custom;

                (void) snprintf(param, sizeof(param), "tools.%zu", i);
                if (!json_is_object(tool))
                        return api_error_request(reterr, param, "%s: a tool definition must be an object", param);
                (void) snprintf(param, sizeof(param), "tools.%zu.name", i);
                v = json_object_get(tool, "name");
                if (!member_clean_string(tool, "name") || json_string_length(v) == 0)
                        return api_error_request(reterr, param, "%s: required, a non-empty string", param);
                (void) snprintf(param, sizeof(param), "tools.%zu.type", i);
                v = json_object_get(tool, "type");
                if (!is_absent(v) && !json_is_string(v))
                        return api_error_request(reterr, param, "%s: must be a string", param);
                (void) snprintf(param, sizeof(param), "tools.%zu.description", i);
                v = json_object_get(tool, "description");
                if (!is_absent(v) && !json_is_string(v))
                        return api_error_request(reterr, param, "%s: must be a string", param);
                /* Custom tools (no "type", or "custom") need a schema; server tools have none. */
                (void) snprintf(param, sizeof(param), "tools.%zu.input_schema", i);
                v = json_object_get(tool, "input_schema");
                custom = is_absent(json_object_get(tool, "type")) ||
                         streq_ptr(member_clean_string(tool, "type"), "custom");
                if (custom && !json_is_object(v))
                        return api_error_request(reterr, param, "%s: required, an object (a JSON schema)", param);
                if (!is_absent(v) && !json_is_object(v))
                        return api_error_request(reterr, param, "%s: must be an object (a JSON schema)", param);
                if (!custom)
                        continue;
                (void) snprintf(param, sizeof(param), "tools.%zu.name", i);
                (void) snprintf(at_schema, sizeof(at_schema), "tools.%zu.input_schema", i);
                k = client_tools_add(list, json_object_get(tool, "name"), json_object_get(tool, "description"), v,
                                     param, at_schema, reterr);
                if (k < 0)
                        return k;
        }

        if (!is_absent(choice)) {
                if (!json_is_object(choice))
                        return api_error_request(reterr, "tool_choice", "tool_choice: must be an object");
                type = member_clean_string(choice, "type");
                if (!type || !str_in(type, choices, ELEMENTSOF(choices)))
                        return api_error_request(reterr, "tool_choice.type",
                                                 "tool_choice.type: must be \"auto\", \"any\", \"tool\" or \"none\"");
                if (streq(type, "tool") && (!member_clean_string(choice, "name") ||
                                            json_string_length(json_object_get(choice, "name")) == 0))
                        return api_error_request(reterr, "tool_choice.name",
                                                 "tool_choice.name: required for tool_choice type \"tool\"");
                if (!is_absent(json_object_get(choice, "disable_parallel_tool_use")) &&
                    !json_is_boolean(json_object_get(choice, "disable_parallel_tool_use")))
                        return api_error_request(reterr, "tool_choice.disable_parallel_tool_use",
                                                 "tool_choice.disable_parallel_tool_use: must be a boolean");
                mode = streq(type, "any") ? TOOL_CHOICE_ANY : streq(type, "tool") ? TOOL_CHOICE_TOOL :
                       streq(type, "none") ? TOOL_CHOICE_NONE : TOOL_CHOICE_AUTO;
                /* The CLI issues every tool_use of a message; one at a time cannot be enforced. */
                if (json_is_true(json_object_get(choice, "disable_parallel_tool_use")) && json_array_size(list) > 0)
                        req->approximated = "tool_choice";
        }
        return client_tools_attach(req, TAKE_PTR(list), mode, member_clean_string(choice, "name"), "tool_choice.name",
                                   reterr);
}

static int parse_thinking(const json_t *v, const ApiEnv *env, CliRequest *cli, ApiError *reterr) {
        const char *type;

        if (!v || json_is_null(v)) {
                cli->thinking = env->enable_thinking;
                cli->thinking_budget = 0;
                return 0;
        }
        if (!json_is_object(v))
                return api_error_request(reterr, "thinking", "thinking: must be an object");
        type = member_clean_string(v, "type");
        if (streq_ptr(type, "enabled")) {
                const json_t *budget = json_object_get(v, "budget_tokens");

                if (!json_is_integer(budget) || json_integer_value(budget) <= 0)
                        return api_error_request(reterr, "thinking.budget_tokens",
                                             "thinking.budget_tokens: required for thinking type \"enabled\" and "
                                             "must be a positive integer");
                cli->thinking = true;
                cli->thinking_budget = json_integer_value(budget);
                return 0;
        }
        if (streq_ptr(type, "adaptive")) {
                cli->thinking = true;
                cli->thinking_budget = 0;
                return 0;
        }
        if (streq_ptr(type, "disabled")) {
                cli->thinking = false;
                cli->thinking_budget = 0;
                return 0;
        }
        return api_error_request(reterr, "thinking.type",
                             "thinking.type: must be \"enabled\", \"adaptive\" or \"disabled\"");
}

/* First one set wins: the body (output_config.effort, then metadata.effort), x-effort, DEFAULT_EFFORT. */
static int parse_effort(const json_t *body, const ApiEnv *env, char **ret, ApiError *reterr) {
        const json_t *metadata = json_object_get(body, "metadata");
        const json_t *output_config = json_object_get(body, "output_config");
        const char *value = NULL, *param = NULL;
        const json_t *v;

        if (metadata && !json_is_null(metadata) && !json_is_object(metadata))
                return api_error_request(reterr, "metadata", "metadata: must be an object");
        if (output_config && !json_is_null(output_config) && !json_is_object(output_config))
                return api_error_request(reterr, "output_config", "output_config: must be an object");
        v = json_object_get(metadata, "user_id");
        if (!is_absent(v) && !json_is_string(v))
                return api_error_request(reterr, "metadata.user_id", "metadata.user_id: must be a string");

        v = json_object_get(output_config, "effort");
        if (v && !json_is_null(v)) {
                param = "output_config.effort";
                value = json_clean_string(v);
                if (!value)
                        return api_error_request(reterr, param, "%s: must be a string", param);
        }
        v = json_object_get(metadata, "effort");
        if (!value && v && !json_is_null(v)) {
                param = "metadata.effort";
                value = json_clean_string(v);
                if (!value)
                        return api_error_request(reterr, param, "%s: must be a string", param);
        }
        if (!value && env->effort_header && *env->effort_header) {
                param = "x-effort";
                value = env->effort_header;
        }
        if (!value && env->default_effort && *env->default_effort) {
                param = "effort";
                value = env->default_effort;
        }
        if (!value) {
                *ret = NULL;
                return 0;
        }

        for (size_t i = 0; i < ELEMENTSOF(effort_levels); i++)
                if (strcasecmp(value, effort_levels[i]) == 0) {
                        *ret = strdup(effort_levels[i]);
                        return *ret ? 0 : -ENOMEM;
                }
        return api_error_request(reterr, param,
                             "%s: invalid effort level '%s' (expected low, medium, high, xhigh or max)", param, value);
}

static int parse_unsupported(const json_t *body, char **ret, ApiError *reterr) {
        _cleanup_free_ char *list = NULL;
        size_t len = 0;

        for (size_t i = 0; i < ELEMENTSOF(unsupported_params); i++) {
                const char *name = unsupported_params[i].name;
                const json_t *v = json_object_get(body, name);
                size_t n = strlen(name);
                bool ok;
                char *p;

                if (!v || json_is_null(v))
                        continue;
                switch (unsupported_params[i].kind) {
                case UNSUPPORTED_NUMBER:
                        ok = json_is_number(v);
                        break;
                case UNSUPPORTED_INTEGER:
                        ok = json_is_integer(v);
                        break;
                case UNSUPPORTED_ARRAY: {
                        size_t j;
                        const json_t *e;

                        ok = json_is_array(v);
                        json_array_foreach(v, j, e)
                                ok = ok && json_is_string(e);
                        break;
                }
                default:
                        ok = false;
                }
                if (!ok)
                        return api_error_request(reterr, name, "%s: must be %s", name,
                                             unsupported_params[i].kind == UNSUPPORTED_NUMBER ? "a number" :
                                             unsupported_params[i].kind == UNSUPPORTED_INTEGER ? "an integer" :
                                             "an array of strings");
                /* The API's own ranges: out of them it answers 400, so the proxy does too. */
                if ((streq(name, "temperature") || streq(name, "top_p")) &&
                    (json_number_value(v) < 0 || json_number_value(v) > 1))
                        return api_error_request(reterr, name, "%s: must be between 0 and 1", name);
                if (streq(name, "top_k") && json_integer_value(v) < 0)
                        return api_error_request(reterr, name, "%s: must not be negative", name);

                p = realloc(list, len + (len ? 1 : 0) + n + 1);
                if (!p)
                        return -ENOMEM;
                list = p;
                if (len)
                        list[len++] = ',';
                memcpy(list + len, name, n + 1);
                len += n;
        }
        *ret = TAKE_PTR(list);
        return 0;
}

/**
 * anthropic_request_parse() - validate a /v1/messages body and build the ApiRequest
 * @body: the parsed request body
 * @env: defaults and request headers (DEFAULT_MODEL, DEFAULT_EFFORT, x-effort, ENABLE_THINKING,
 *       SYSTEM_PROMPT_MODE)
 * @ret: filled on success; the caller frees it with api_request_done(). Untouched on failure.
 * @reterr: on a client error, a 400 invalid_request_error with message and param
 *
 * Return: 0; -EINVAL for a client error (reterr filled); -ENOMEM.
 */
int anthropic_request_parse(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr) {
        _cleanup_(api_request_done) ApiRequest req = { .kind = API_ANTHROPIC };
        const json_t *model, *max_tokens, *stream;
        int k;

        assert(env);
        assert(ret);

        if (!json_is_object(body))
                return api_error_request(reterr, NULL, "Request body must be a JSON object");

        model = json_object_get(body, "model");
        if (!json_is_string(model) || json_string_length(model) == 0)
                return api_error_request(reterr, "model", "model is required");
        /* It becomes an argv word: a NUL would cut it short. */
        if (!json_clean_string(model))
                return api_error_request(reterr, "model", "model: must not contain a NUL character");

        if (!json_is_array(json_object_get(body, "messages")) || json_array_size(json_object_get(body, "messages")) == 0)
                return api_error_request(reterr, "messages", "messages is required and must be a non-empty array");

        max_tokens = json_object_get(body, "max_tokens");
        if (!json_is_number(max_tokens))
                return api_error_request(reterr, "max_tokens", "max_tokens is required and must be a number");
        if (!json_is_integer(max_tokens) || json_integer_value(max_tokens) <= 0)
                return api_error_request(reterr, "max_tokens", "max_tokens: must be a positive integer");

        stream = json_object_get(body, "stream");
        if (stream && !json_is_null(stream) && !json_is_boolean(stream))
                return api_error_request(reterr, "stream", "stream: must be a boolean");
        req.stream = json_is_true(stream);

        k = parse_unsupported(body, &req.unsupported, reterr);
        if (k < 0)
                return k;
        k = parse_system(json_object_get(body, "system"), &req.cli.system_prompt, &req.cli.system_prompt_len,
                         reterr);
        if (k < 0)
                return k;
        k = parse_messages(json_object_get(body, "messages"), &req.cli.messages, reterr);
        if (k < 0)
                return k;
        k = parse_thinking(json_object_get(body, "thinking"), env, &req.cli, reterr);
        if (k < 0)
                return k;
        k = parse_effort(body, env, &req.cli.effort, reterr);
        if (k < 0)
                return k;
        k = structured_output_from_anthropic(body, &req.cli.json_schema, reterr);
        if (k < 0)
                return k;
        /* Only the names: which exist is the registry's say at run time (it may be reloaded). */
        k = mcp_names_from_json(json_object_get(json_object_get(body, "metadata"), "mcp_servers"),
                                "metadata.mcp_servers", &req.mcp_servers, reterr);
        if (k < 0)
                return k;
        /* After the system text, which tool_choice may add to. */
        k = parse_tools(body, &req, reterr);
        if (k < 0)
                return k;
        k = client_tools_history(req.cli.messages, reterr);
        if (k < 0)
                return k;

        req.client_model = strdup(json_string_value(model));
        req.cli.model = model_resolve(json_string_value(model), env->default_model);
        if (!req.client_model || !req.cli.model)
                return -ENOMEM;
        req.cli.system_prompt_mode = env->system_prompt_mode;

        *ret = req;
        req = (ApiRequest) {};
        return 0;
}
