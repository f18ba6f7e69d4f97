/* SPDX-License-Identifier: MIT */

/*
 * A /v1/chat/completions body -> ApiRequest (and so a CliRequest), in the same CliRequest terms
 * the Messages side produces: system/developer text becomes the system prompt (placed by
 * SYSTEM_PROMPT_MODE like Anthropic's `system`), user parts become text/image/document blocks,
 * assistant tool_calls become tool_use blocks and `tool` messages tool_result blocks, which the
 * CLI's history recipe forwards as they are (cli/README §16.6). Consecutive turns of one role are
 * merged, since the CLI needs strict alternation.
 *
 * Parameters the CLI has no way to honour are accepted and named in x-proxy-unsupported; only
 * `logprobs: true` is refused, since a client asking for them would read absent ones as a bug.
 * Function tools are the client's tools (api/client-tools.c): `tools`, `tool_choice` and
 * `parallel_tool_calls` are honoured or, where the CLI cannot, approximated and said so.
 */

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/client-tools.h"
#include "api/models.h"
#include "api/openai.h"
#include "api/structured-output.h"
#include "util/macro.h"

/* Accepted without effect (the CLI has no flag for them), named in x-proxy-unsupported. */
static const char *const advisory_params[] = {
        "temperature", "top_p", "frequency_penalty", "presence_penalty", "seed", "user", "stop",
        "max_tokens", "max_completion_tokens", "logprobs", "top_logprobs", "logit_bias",
        "functions", "function_call", "metadata", "store",
        "service_tier", "prediction", "modalities", "audio", "web_search_options", "verbosity",
        "prompt_cache_key", "safety_identifier",
};

static const char *const image_media_types[] = { "image/jpeg", "image/png", "image/gif", "image/webp" };

static bool is_set(const json_t *v) {
        return v && !json_is_null(v);
}

/* Append `text` to *buf, separated from what is there by a blank line. */
static int append_paragraph(char **buf, const char *text) {
        size_t old = *buf ? strlen(*buf) : 0, n = strlen(text);
        char *p;

        if (n == 0)
                return 0;
        p = realloc(*buf, old + (old ? 2 : 0) + n + 1);
        if (!p)
                return -ENOMEM;
        if (old) {
                memcpy(p + old, "\n\n", 2);
                old += 2;
        }
        memcpy(p + old, text, n + 1);
        *buf = p;
        return 0;
}

/* A text part's text: {"type":"text"|"input_text","text":...}. NULL if it is not one. */
static const char *text_part(const json_t *part) {
        const char *type = json_string_value(json_object_get(part, "type"));

        if (!streq_ptr(type, "text") && !streq_ptr(type, "input_text") && !streq_ptr(type, "output_text"))
                return NULL;
        return json_string_value(json_object_get(part, "text"));
}

/* system/developer content: a string or text parts, joined with blank lines. */
static int parse_system_content(const json_t *content, const char *at, char **system, ApiError *reterr) {
        size_t i;
        const json_t *part;
        char param[128];

        if (json_is_string(content))
                return append_paragraph(system, json_string_value(content));
        if (!json_is_array(content))
                return api_error_request(reterr, at, "%s: must be a string or an array of text parts", at);
        json_array_foreach(content, i, part) {
                const char *text = text_part(part);
                int r;

                (void) snprintf(param, sizeof(param), "%s.%zu", at, i);
                if (!text)
                        return api_error_request(reterr, param, "%s: must be a text part with a string \"text\"", param);
                r = append_paragraph(system, text);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * "data:image/png;base64,AAAA" -> media type and data. Return 1 when it is a base64 data URL,
 * 0 when it is no data URL at all, -EINVAL when it is a malformed one.
 */
static int split_data_url(const char *url, char *media_type, size_t size, const char **ret_data) {
        const char *semi, *comma;

        if (strncasecmp(url, "data:", 5) != 0)
                return 0;
        comma = strchr(url, ',');
        semi = strchr(url, ';');
        if (!comma || !semi || semi > comma || strncmp(semi, ";base64,", 8) != 0)
                return -EINVAL;
        if ((size_t) (semi - (url + 5)) >= size)
                return -EINVAL;
        memcpy(media_type, url + 5, (size_t) (semi - (url + 5)));
        media_type[semi - (url + 5)] = 0;
        *ret_data = comma + 1;
        return 1;
}

static bool str_in(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(s, list[i]) == 0)
                        return true;
        return false;
}

static json_t *image_block(const char *url, const char *param, ApiError *reterr, int *ret_error) {
        char media_type[64];
        const char *data;
        int r;

        r = split_data_url(url, media_type, sizeof(media_type), &data);
        if (r < 0) {
                *ret_error = api_error_request(reterr, param, "%s: a data URL must look like data:image/png;base64,...",
                                           param);
                return NULL;
        }
        if (r > 0) {
                if (!str_in(media_type, image_media_types, ELEMENTSOF(image_media_types))) {
                        *ret_error = api_error_request(reterr, param,
                                                   "%s: unsupported image type '%s' (expected image/jpeg, "
                                                   "image/png, image/gif or image/webp)", param, media_type);
                        return NULL;
                }
                for (char *c = media_type; *c; c++)
                        *c = (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
                return json_pack("{s:s,s:{s:s,s:s,s:s}}", "type", "image", "source", "type", "base64", "media_type",
                                 media_type, "data", data);
        }
        if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0) {
                *ret_error = api_error_request(reterr, param, "%s: must be an http(s) URL or a base64 data URL", param);
                return NULL;
        }
        return json_pack("{s:s,s:{s:s,s:s}}", "type", "image", "source", "type", "url", "url", url);
}

static json_t *file_block(const json_t *file, const char *param, ApiError *reterr, int *ret_error) {
        const char *file_data = json_string_value(json_object_get(file, "file_data"));
        char media_type[64], at[200];
        const char *data;
        int r;

        if (!json_is_object(file)) {
                *ret_error = api_error_request(reterr, param, "%s: a file part requires a \"file\" object", param);
                return NULL;
        }
        (void) snprintf(at, sizeof(at), "%s.file_data", param);
        if (!file_data) {
                *ret_error = api_error_request(reterr, at,
                                           "%s: required; file_id refers to the Files API, which this proxy "
                                           "cannot reach: send the file as a base64 data URL", at);
                return NULL;
        }
        r = split_data_url(file_data, media_type, sizeof(media_type), &data);
        if (r == 0) {
                /* The SDKs' examples also send bare base64; PDF is the only type accepted anyway. */
                data = file_data;
                snprintf(media_type, sizeof(media_type), "application/pdf");
        } else if (r < 0 || strcasecmp(media_type, "application/pdf") != 0) {
                *ret_error = api_error_request(reterr, at, "%s: must be a PDF, as data:application/pdf;base64,...", at);
                return NULL;
        }
        return json_pack("{s:s,s:{s:s,s:s,s:s}}", "type", "document", "source", "type", "base64", "media_type",
                         "application/pdf", "data", data);
}

/* A user message's content -> an owned array of Anthropic blocks. */
static int parse_user_content(const json_t *content, const char *at, json_t **ret, ApiError *reterr) {
        json_auto_t *out = json_array();
        size_t i;
        const json_t *part;
        char param[128];

        if (!out)
                return -ENOMEM;
        if (json_is_string(content)) {
                if (json_string_length(content) == 0)
                        return api_error_request(reterr, at, "%s: must not be empty", at);
                if (json_array_append_new(out, json_pack("{s:s,s:s%}", "type", "text", "text",
                                                         json_string_value(content), json_string_length(content))) < 0)
                        return -ENOMEM;
                *ret = TAKE_PTR(out);
                return 0;
        }
        if (!json_is_array(content) || json_array_size(content) == 0)
                return api_error_request(reterr, at, "%s: must be a string or a non-empty array of content parts", at);

        json_array_foreach(content, i, part) {
                const char *type = json_string_value(json_object_get(part, "type"));
                const char *text = text_part(part);
                json_t *block = NULL;
                int r = -ENOMEM;

                (void) snprintf(param, sizeof(param), "%s.%zu", at, i);
                if (text)
                        block = json_pack("{s:s,s:s}", "type", "text", "text", text);
                else if (streq_ptr(type, "text") || streq_ptr(type, "input_text"))
                        return api_error_request(reterr, param, "%s.text: must be a string", param);
                else if (streq_ptr(type, "image_url")) {
                        const json_t *iu = json_object_get(part, "image_url");
                        const char *url = json_is_string(iu) ? json_string_value(iu)
                                                             : json_string_value(json_object_get(iu, "url"));
                        char p2[160];

                        (void) snprintf(p2, sizeof(p2), "%s.image_url.url", param);
                        if (!url)
                                return api_error_request(reterr, p2, "%s: required", p2);
                        block = image_block(url, p2, reterr, &r);
                        if (!block)
                                return r;
                } else if (streq_ptr(type, "file")) {
                        char p2[160];

                        (void) snprintf(p2, sizeof(p2), "%s.file", param);
                        block = file_block(json_object_get(part, "file"), p2, reterr, &r);
                        if (!block)
                                return r;
                } else
                        return api_error_request(reterr, param,
                                             "%s: unsupported content part type '%s' (expected text, image_url or "
                                             "file)", param, type ?: "(none)");
                if (!block || json_array_append_new(out, block) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* An assistant message: text (string or text/refusal parts) and tool_calls -> blocks. */
static int parse_assistant(const json_t *msg, const char *at, json_t **ret, ApiError *reterr) {
        const json_t *content = json_object_get(msg, "content"), *calls = json_object_get(msg, "tool_calls"), *v;
        json_auto_t *out = json_array();
        char param[160];
        size_t i;

        if (!out)
                return -ENOMEM;
        (void) snprintf(param, sizeof(param), "%s.content", at);
        if (json_is_string(content)) {
                if (json_string_length(content) > 0 &&
                    json_array_append_new(out, json_pack("{s:s,s:s}", "type", "text", "text",
                                                         json_string_value(content))) < 0)
                        return -ENOMEM;
        } else if (json_is_array(content)) {
                json_array_foreach(content, i, v) {
                        const char *text = text_part(v) ?: json_string_value(json_object_get(v, "refusal"));

                        if (!text)
                                return api_error_request(reterr, param, "%s.%zu: must be a text or refusal part", param, i);
                        if (*text && json_array_append_new(out, json_pack("{s:s,s:s}", "type", "text", "text", text)) < 0)
                                return -ENOMEM;
                }
        } else if (is_set(content))
                return api_error_request(reterr, param, "%s: must be a string, an array of parts or null", param);

        (void) snprintf(param, sizeof(param), "%s.tool_calls", at);
        if (is_set(calls) && !json_is_array(calls))
                return api_error_request(reterr, param, "%s: must be an array", param);
        json_array_foreach(calls, i, v) {
                const json_t *fn = json_object_get(v, "function");
                const char *id = json_string_value(json_object_get(v, "id"));
                const char *name = json_string_value(json_object_get(fn, "name"));
                const char *args = json_string_value(json_object_get(fn, "arguments"));
                json_t *input = NULL;
                json_error_t jerr;

                if (!id || !name)
                        return api_error_request(reterr, param, "%s.%zu: needs an \"id\" and a function \"name\"", param, i);
                if (args && *args) {
                        input = json_loads(args, JSON_REJECT_DUPLICATES, &jerr);
                        if (!json_is_object(input)) {
                                json_decref(input);
                                return api_error_request(reterr, param,
                                                     "%s.%zu.function.arguments: must be a JSON object", param, i);
                        }
                } else
                        input = json_object();
                if (json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id, "name",
                                                         name, "input", input)) < 0)
                        return -ENOMEM;
        }
        if (json_array_size(out) == 0)
                return api_error_request(reterr, at, "%s: an assistant message needs content or tool_calls", at);
        *ret = TAKE_PTR(out);
        return 0;
}

/* A tool message -> a tool_result block of the next user turn. */
static int parse_tool(const json_t *msg, const char *at, json_t **ret, ApiError *reterr) {
        const char *id = json_string_value(json_object_get(msg, "tool_call_id"));
        const json_t *content = json_object_get(msg, "content");
        _cleanup_free_ char *text = NULL;
        char param[160];
        int r;

        (void) snprintf(param, sizeof(param), "%s.tool_call_id", at);
        if (!id)
                return api_error_request(reterr, param, "%s: required", param);
        (void) snprintf(param, sizeof(param), "%s.content", at);
        r = parse_system_content(content, param, &text, reterr);
        if (r < 0)
                return r;
        *ret = json_pack("[{s:s,s:s,s:s}]", "type", "tool_result", "tool_use_id", id, "content", text ?: "");
        return *ret ? 0 : -ENOMEM;
}

static int parse_messages(const json_t *messages, char **system, json_t **ret, ApiError *reterr) {
        json_auto_t *out = json_array();
        const char *last_role = NULL;
        size_t n;
        const json_t *msg;

        if (!out)
                return -ENOMEM;
        json_array_foreach(messages, n, msg) {
                json_auto_t *content = NULL;
                const char *role, *turn;
                char at[64], param[96];
                int r;

                (void) snprintf(at, sizeof(at), "messages.%zu", n);
                (void) snprintf(param, sizeof(param), "%s.role", at);
                if (!json_is_object(msg))
                        return api_error_request(reterr, at, "%s: must be an object with a role", at);
                role = json_string_value(json_object_get(msg, "role"));
                if (streq_ptr(role, "system") || streq_ptr(role, "developer")) {
                        (void) snprintf(param, sizeof(param), "%s.content", at);
                        r = parse_system_content(json_object_get(msg, "content"), param, system, reterr);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (streq_ptr(role, "user")) {
                        (void) snprintf(param, sizeof(param), "%s.content", at);
                        r = parse_user_content(json_object_get(msg, "content"), param, &content, reterr);
                        turn = "user";
                } else if (streq_ptr(role, "assistant")) {
                        r = parse_assistant(msg, at, &content, reterr);
                        turn = "assistant";
                } else if (streq_ptr(role, "tool")) {
                        r = parse_tool(msg, at, &content, reterr);
                        turn = "user";
                } else
                        return api_error_request(reterr, param,
                                             "%s: must be \"system\", \"developer\", \"user\", \"assistant\" or "
                                             "\"tool\"", param);
                if (r < 0)
                        return r;
                if (!last_role && streq(turn, "assistant"))
                        return api_error_request(reterr, param,
                                             "%s: the conversation must start with a user message (after any "
                                             "system messages)", param);
                if (streq_ptr(last_role, turn)) {
                        json_t *prev = json_object_get(json_array_get(out, json_array_size(out) - 1), "content");
                        if (json_array_extend(prev, content) < 0)
                                return -ENOMEM;
                } else if (json_array_append_new(out, json_pack("{s:s,s:O}", "role", turn, "content", content)) < 0)
                        return -ENOMEM;
                last_role = turn;
        }
        if (!last_role)
                return api_error_request(reterr, "messages", "messages: needs at least one user message");
        if (streq(last_role, "assistant"))
                return api_error_request(reterr, "messages",
                                     "messages: the final message is an assistant turn; the Claude Code CLI cannot "
                                     "continue a prefilled assistant turn, so the conversation must end with a user "
                                     "or tool message");
        *ret = TAKE_PTR(out);
        return 0;
}

/*
 * reasoning_effort -> the CLI's --effort, and thinking: asking for reasoning is asking to see
 * it, so any effort but "none" turns thinking on (adaptive). Else x-effort, DEFAULT_EFFORT and
 * ENABLE_THINKING, as for Messages.
 */
static int parse_effort(const json_t *body, const ApiEnv *env, CliRequest *cli, ApiError *reterr) {
        static const struct {
                const char *name, *cli;
        } table[] = {
                { "minimal", "low" }, { "low", "low" },     { "medium", "medium" },
                { "high", "high" },   { "xhigh", "xhigh" }, { "max", "max" },
        };
        const json_t *v = json_object_get(body, "reasoning_effort");
        const char *value = NULL, *param = "reasoning_effort";

        cli->thinking = env->enable_thinking;
        if (is_set(v)) {
                value = json_string_value(v);
                if (!value)
                        return api_error_request(reterr, param, "%s: must be a string", param);
                if (strcasecmp(value, "none") == 0) {
                        cli->thinking = false;
                        value = NULL;
                } else
                        cli->thinking = true;
        }
        if (!value && !is_set(v) && env->effort_header && *env->effort_header) {
                value = env->effort_header;
                param = "x-effort";
        }
        if (!value && env->default_effort && *env->default_effort) {
                value = env->default_effort;
                param = "effort";
        }
        if (!value)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcasecmp(value, table[i].name) == 0) {
                        cli->effort = strdup(table[i].cli);
                        return cli->effort ? 0 : -ENOMEM;
                }
        return api_error_request(reterr, param,
                             "%s: invalid effort '%s' (expected none, minimal, low, medium, high, xhigh or max)", param,
                             value);
}

static int parse_advisory(const json_t *body, char **ret, ApiError *reterr) {
        _cleanup_free_ char *list = NULL;
        size_t len = 0;

        if (json_is_true(json_object_get(body, "logprobs")))
                return api_error_request(reterr, "logprobs",
                                     "logprobs: the Claude Code CLI does not expose token log probabilities; send "
                                     "logprobs false or leave it out");
        for (size_t i = 0; i < ELEMENTSOF(advisory_params); i++) {
                const char *name = advisory_params[i];
                size_t n = strlen(name);
                char *p;

                if (!is_set(json_object_get(body, name)))
                        continue;
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

/* `tools` ({type:"function", function:{name, description, parameters}}), `tool_choice`
 * ("none", "auto", "required", {type:"function", function:{name}}) and `parallel_tool_calls`. */
static int parse_tools(const json_t *body, ApiRequest *req, ApiError *reterr) {
        const json_t *tools = json_object_get(body, "tools"), *choice = json_object_get(body, "tool_choice");
        const json_t *parallel = json_object_get(body, "parallel_tool_calls"), *tool;
        json_auto_t *list = json_array();
        ToolChoice mode = TOOL_CHOICE_AUTO;
        const char *name = NULL;
        char param[96], at_name[96], at_schema[96];
        size_t i;
        int k;

        if (!list)
                return -ENOMEM;
        if (is_set(tools) && !json_is_array(tools))
                return api_error_request(reterr, "tools", "tools: must be an array of tool definitions");
        json_array_foreach(tools, i, tool) {
                const json_t *fn = json_object_get(tool, "function");

                (void) snprintf(param, sizeof(param), "tools.%zu.type", i);
                if (!streq_ptr(json_string_value(json_object_get(tool, "type")), "function"))
                        return api_error_request(reterr, param, "%s: must be \"function\"", param);
                (void) snprintf(param, sizeof(param), "tools.%zu.function", i);
                if (!json_is_object(fn))
                        return api_error_request(reterr, param, "%s: required, an object", param);
                (void) snprintf(at_name, sizeof(at_name), "tools.%zu.function.name", i);
                (void) snprintf(at_schema, sizeof(at_schema), "tools.%zu.function.parameters", i);
                k = client_tools_add(list, json_object_get(fn, "name"), json_object_get(fn, "description"),
                                     json_object_get(fn, "parameters"), at_name, at_schema, reterr);
                if (k < 0)
                        return k;
        }
        if (is_set(parallel) && !json_is_boolean(parallel))
                return api_error_request(reterr, "parallel_tool_calls", "parallel_tool_calls: must be a boolean");
        if (json_is_string(choice)) {
                const char *c = json_string_value(choice);

                if (streq(c, "none"))
                        mode = TOOL_CHOICE_NONE;
                else if (streq(c, "required"))
                        mode = TOOL_CHOICE_ANY;
                else if (!streq(c, "auto"))
                        return api_error_request(reterr, "tool_choice",
                                                 "tool_choice: must be \"none\", \"auto\", \"required\" or a named "
                                                 "function");
        } else if (json_is_object(choice)) {
                name = json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
                if (!streq_ptr(json_string_value(json_object_get(choice, "type")), "function") || !name)
                        return api_error_request(reterr, "tool_choice",
                                                 "tool_choice: a named choice is {\"type\":\"function\",\"function\":"
                                                 "{\"name\":...}}");
                mode = TOOL_CHOICE_TOOL;
        } else if (is_set(choice))
                return api_error_request(reterr, "tool_choice", "tool_choice: must be a string or an object");
        /* The CLI issues every call of a message: one at a time cannot be enforced. */
        if (json_is_false(parallel) && json_array_size(list) > 0 && mode != TOOL_CHOICE_NONE)
                req->approximated = "tool_choice";
        return client_tools_attach(req, TAKE_PTR(list), mode, name, "tool_choice.function.name", reterr);
}

/**
 * openai_chat_request_parse() - validate a /v1/chat/completions body and build the ApiRequest
 * @body: the parsed request body
 * @env: defaults and request headers
 * @ret: filled on success (free with api_request_done()); untouched on failure
 * @reterr: on a client error, a 400 invalid_request_error with message and param
 *
 * Return: 0; -EINVAL for a client error (reterr filled); -ENOMEM.
 */
int openai_chat_request_parse(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr) {
        _cleanup_(api_request_done) ApiRequest req = { .kind = API_OPENAI, .n = 1 };
        const json_t *model, *messages, *stream, *opts, *n;
        int k;

        assert(env);
        assert(ret);

        if (!json_is_object(body))
                return api_error_request(reterr, NULL, "Request body must be a JSON object");
        model = json_object_get(body, "model");
        if (!json_is_string(model) || json_string_length(model) == 0)
                return api_error_request(reterr, "model", "model: required, a string");
        messages = json_object_get(body, "messages");
        if (!json_is_array(messages) || json_array_size(messages) == 0)
                return api_error_request(reterr, "messages", "messages: required, a non-empty array");

        stream = json_object_get(body, "stream");
        if (is_set(stream) && !json_is_boolean(stream))
                return api_error_request(reterr, "stream", "stream: must be a boolean");
        req.stream = json_is_true(stream);
        opts = json_object_get(body, "stream_options");
        if (is_set(opts) && !json_is_object(opts))
                return api_error_request(reterr, "stream_options", "stream_options: must be an object");
        if (is_set(opts) && !req.stream)
                return api_error_request(reterr, "stream_options",
                                     "stream_options: only allowed when stream is true");
        req.include_usage = json_is_true(json_object_get(opts, "include_usage"));

        n = json_object_get(body, "n");
        if (is_set(n)) {
                if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > OPENAI_N_MAX)
                        return api_error_request(reterr, "n", "n: must be an integer from 1 to %d", OPENAI_N_MAX);
                req.n = (unsigned) json_integer_value(n);
        }

        k = parse_advisory(body, &req.unsupported, reterr);
        if (k < 0)
                return k;
        k = parse_messages(messages, &req.cli.system_prompt, &req.cli.messages, reterr);
        if (k < 0)
                return k;
        k = parse_effort(body, env, &req.cli, reterr);
        if (k < 0)
                return k;
        k = structured_output_from_chat(body, &req.cli.json_schema, reterr);
        if (k < 0)
                return k;
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
