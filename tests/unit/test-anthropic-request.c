/* SPDX-License-Identifier: MIT */

/*
 * /v1/messages bodies -> ApiRequest, and on through the CLI argv and stdin lines: golden
 * fixtures (tests/data/requests/NAME.json -> tests/data/expected/request-NAME.json), then every
 * 400 path with its message and param.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "helpers.h"
#include "util/macro.h"
#include "util/strv.h"

#define SYSTEM_PROMPT_PATH "/run/claude-proxy/sp.txt"
#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define BASE "\"model\":\"sonnet\",\"max_tokens\":10,"

static ApiEnv env_base(void) {
        return (ApiEnv) {
                .message_id = "msg_test",
                .created = 1700000000,
                .default_model = "sonnet",
                .system_prompt_mode = SYSTEM_PROMPT_USER,
        };
}

static json_t *str_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

/* Everything the parse produced, plus what the CLI side makes of it, as one comparable object. */
static json_t *request_to_json(const ApiRequest *r) {
        _cleanup_strv_free_ char **argv = NULL;
        json_t *lines = NULL, *a, *j;

        assert_int_equal(cli_request_build_argv(&r->cli, "claude", SYSTEM_PROMPT_PATH, &argv), 0);
        assert_int_equal(cli_request_build_input(&r->cli, &lines), 0);
        a = json_array();
        for (char **i = argv; *i; i++)
                json_array_append_new(a, json_string(*i));

        j = json_pack("{s:s,s:b,s:o,s:o,s:{s:o,s:o,s:b,s:I,s:o,s:s,s:O},s:o,s:o}",
                      "kind", api_kind_to_string(r->kind),
                      "stream", r->stream,
                      "client_model", str_or_null(r->client_model),
                      "unsupported", str_or_null(r->unsupported),
                      "cli",
                      "model", str_or_null(r->cli.model),
                      "effort", str_or_null(r->cli.effort),
                      "thinking", r->cli.thinking,
                      "thinking_budget", (json_int_t) r->cli.thinking_budget,
                      "system_prompt", str_or_null(r->cli.system_prompt),
                      "system_prompt_mode", system_prompt_mode_to_string(r->cli.system_prompt_mode),
                      "messages", r->cli.messages,
                      "argv", a,
                      "input", lines);
        assert_non_null(j);
        return j;
}

typedef struct GoldenCase {
        const char *name;
        const char *default_model;
        const char *default_effort;
        const char *effort_header;
        bool enable_thinking;
        SystemPromptMode mode;
} GoldenCase;

static const GoldenCase golden_cases[] = {
        { "simple" },
        { "history-tools", .default_effort = "high" },
        { "system-blocks-append", .enable_thinking = true, .mode = SYSTEM_PROMPT_APPEND },
        { "thinking-effort-stream", .effort_header = "max" },
        { "media-slash", .default_model = "haiku" },
        { "adaptive-replace", .effort_header = "XHigh", .mode = SYSTEM_PROMPT_REPLACE },
};

static void test_golden(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(golden_cases); i++) {
                const GoldenCase *c = &golden_cases[i];
                _cleanup_free_ char *in = NULL, *out = NULL;
                ApiEnv env = env_base();
                ApiRequest req = {};
                ApiError err = API_ERROR_NULL;
                json_t *body, *expected, *actual;

                if (c->default_model)
                        env.default_model = c->default_model;
                env.default_effort = c->default_effort;
                env.effort_header = c->effort_header;
                env.enable_thinking = c->enable_thinking;
                env.system_prompt_mode = c->mode;

                assert_true(asprintf(&in, "requests/%s.json", c->name) > 0);
                assert_true(asprintf(&out, "expected/request-%s.json", c->name) > 0);
                body = fixture_json(in);
                expected = fixture_json(out);

                print_message("case %s\n", c->name);
                assert_int_equal(anthropic_request_parse(body, &env, &req, &err), 0);
                assert_int_equal(err.status, 0);
                actual = request_to_json(&req);
                if (!json_equal(actual, expected)) {
                        /* cmocka's message buffer truncates long dumps: print the whole actual side. */
                        _cleanup_free_ char *dump = json_dumps(actual, JSON_INDENT(2) | JSON_SORT_KEYS);
                        fprintf(stderr, "--- full actual %s\n%s\n--- end\n", c->name, dump);
                }
                assert_json_equal(actual, expected);

                json_decref(actual);
                json_decref(expected);
                json_decref(body);
                api_request_done(&req);
        }
}

/*
 * The request holds its own references to the body's blocks (no copy: a copy doubled the memory
 * of a body of many small blocks), so the body can be freed before the CLI's input is built.
 * Under ASan a missing reference is a use-after-free here.
 */
static void test_outlives_body(void **state) {
        json_t *body = fixture_json("requests/history-tools.json");
        json_t *expected = json_deep_copy(json_object_get(body, "messages"));
        ApiEnv env = env_base();
        ApiRequest req = {};
        json_t *lines = NULL;
        _cleanup_free_ char *dump = NULL;

        assert_int_equal(anthropic_request_parse(body, &env, &req, NULL), 0);
        json_decref(body);
        assert_int_equal(cli_request_build_input(&req.cli, &lines), 0);
        dump = json_dumps(lines, JSON_COMPACT);
        assert_non_null(dump);
        assert_non_null(strstr(dump, "\"cache_control\":{\"type\":\"ephemeral\"}"));
        assert_non_null(strstr(dump, "\"input\":{\"key\":\"alpha\"}"));
        /* The last user turn is the two merged ones, the tool_use the second assistant block. */
        assert_json_equal(json_object_get(json_array_get(json_object_get(json_array_get(req.cli.messages, 1),
                                                                           "content"), 1), "input"),
                          json_object_get(json_array_get(json_object_get(json_array_get(expected, 1), "content"), 1),
                                          "input"));
        json_decref(lines);
        json_decref(expected);
        api_request_done(&req);
}

/* A body with "\u0000" in it: valid JSON, valid text, accepted and never cut short downstream. */
static void test_nul_in_text(void **state) {
        static const char body_text[] =
                "{" "\"model\":\"sonnet\",\"max_tokens\":10,"
                "\"system\":\"sys\\u0000tem\","
                "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"/cmd\\u0000tail\"},"
                "{\"type\":\"text\",\"text\":\"a\\u0000b\"}]}]}";
        json_error_t jerr;
        json_t *body = json_loads(body_text, JSON_ALLOW_NUL, &jerr);
        ApiEnv env = env_base();
        ApiRequest req = {};
        json_t *lines = NULL;
        const json_t *content, *t;

        assert_non_null(body);
        for (int mode = 0; mode < 2; mode++) {
                env.system_prompt_mode = mode == 0 ? SYSTEM_PROMPT_USER : SYSTEM_PROMPT_APPEND;
                assert_int_equal(anthropic_request_parse(body, &env, &req, NULL), 0);
                /* The system text by length, NUL and tail included. */
                assert_int_equal(req.cli.system_prompt_len, 7);
                assert_memory_equal(req.cli.system_prompt, "sys\0tem", 8);
                assert_int_equal(cli_request_build_input(&req.cli, &lines), 0);
                content = json_object_get(json_object_get(json_array_get(lines, 0), "message"), "content");
                if (mode == 0) {
                        t = json_object_get(json_array_get(content, 0), "text");
                        assert_int_equal(json_string_length(t), strlen("<instructions>\nsys") + 1 +
                                         strlen("tem\n</instructions>"));
                        assert_memory_equal(json_string_value(t), "<instructions>\nsys\0tem\n</instructions>",
                                            json_string_length(t));
                        /* Past the instructions block. */
                        t = json_object_get(json_array_get(content, 1), "text");
                } else
                        t = json_object_get(json_array_get(content, 0), "text");
                /* The slash escape keeps what follows the NUL. */
                assert_int_equal(json_string_length(t), 10);
                assert_memory_equal(json_string_value(t), " /cmd\0tail", 11);
                json_decref(lines);
                lines = NULL;
                api_request_done(&req);
        }
        json_decref(body);
}

/* Fields compared with C strings must not let "x\u0000junk" pass as "x". */
static void test_nul_in_enum_fields(void **state) {
        static const struct {
                const char *body;
                const char *param;
        } c[] = {
                { "{\"model\":\"sonnet\\u0000x\",\"max_tokens\":10," MSGS "}", "model" },
                { "{" BASE "\"messages\":[{\"role\":\"user\\u0000\",\"content\":\"a\"}]}", "messages.0.role" },
                { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\\u0000\",\"text\":\"a\"}]}]}",
                  "messages.0.content.0.type" },
                { "{" BASE "\"metadata\":{\"effort\":\"low\\u0000high\"}," MSGS "}", "metadata.effort" },
                { "{" BASE "\"thinking\":{\"type\":\"adaptive\\u0000\"}," MSGS "}", "thinking.type" },
                { "{" BASE "\"tool_choice\":{\"type\":\"auto\\u0000\"}," MSGS "}", "tool_choice.type" },
        };

        for (size_t i = 0; i < ELEMENTSOF(c); i++) {
                json_error_t jerr;
                json_t *body = json_loads(c[i].body, JSON_ALLOW_NUL, &jerr);
                ApiEnv env = env_base();
                ApiRequest req = {};
                ApiError err = API_ERROR_NULL;

                print_message("case %zu: %s\n", i, c[i].body);
                assert_non_null(body);
                assert_int_equal(anthropic_request_parse(body, &env, &req, &err), -EINVAL);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.param, c[i].param);
                json_decref(body);
                api_error_done(&err);
        }
}

typedef struct ErrorCase {
        const char *body;
        const char *message;    /* exact unless it ends in '*' (then a prefix) */
        const char *param;
        const char *effort_header;
        const char *default_effort;
} ErrorCase;

static const ErrorCase error_cases[] = {
        { "[]", "Request body must be a JSON object", "" },
        { "{\"max_tokens\":10," MSGS "}", "model is required", "model" },
        { "{\"model\":\"\",\"max_tokens\":10," MSGS "}", "model is required", "model" },
        { "{\"model\":7,\"max_tokens\":10," MSGS "}", "model is required", "model" },
        { "{\"model\":\"sonnet\",\"max_tokens\":10}", "messages is required and must be a non-empty array",
          "messages" },
        { "{\"model\":\"sonnet\",\"max_tokens\":10,\"messages\":[]}",
          "messages is required and must be a non-empty array", "messages" },
        { "{\"model\":\"sonnet\",\"max_tokens\":10,\"messages\":{}}",
          "messages is required and must be a non-empty array", "messages" },
        { "{\"model\":\"sonnet\"," MSGS "}", "max_tokens is required and must be a number", "max_tokens" },
        { "{\"model\":\"sonnet\",\"max_tokens\":\"10\"," MSGS "}", "max_tokens is required and must be a number",
          "max_tokens" },
        { "{\"model\":\"sonnet\",\"max_tokens\":0," MSGS "}", "max_tokens: must be a positive integer",
          "max_tokens" },
        { "{\"model\":\"sonnet\",\"max_tokens\":1.5," MSGS "}", "max_tokens: must be a positive integer",
          "max_tokens" },
        { "{" BASE "\"stream\":\"yes\"," MSGS "}", "stream: must be a boolean", "stream" },
        { "{" BASE "\"temperature\":\"hot\"," MSGS "}", "temperature: must be a number", "temperature" },
        { "{" BASE "\"top_p\":true," MSGS "}", "top_p: must be a number", "top_p" },
        { "{" BASE "\"top_k\":1.5," MSGS "}", "top_k: must be an integer", "top_k" },
        { "{" BASE "\"stop_sequences\":\"END\"," MSGS "}", "stop_sequences: must be an array of strings",
          "stop_sequences" },
        { "{" BASE "\"system\":5," MSGS "}", "system: must be a string or an array of text blocks", "system" },
        { "{" BASE "\"system\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image\"}]," MSGS "}",
          "system.1: must be a text block with a string \"text\"", "system.1" },
        { "{" BASE "\"messages\":[7]}", "messages.0: must be an object with role and content", "messages.0" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"bot\",\"content\":\"b\"}]}",
          "messages.1.role: must be \"user\", \"assistant\" or \"system\"", "messages.1.role" },
        { "{" BASE "\"messages\":[{\"content\":\"b\"}]}", "messages.0.role: must be \"user\", \"assistant\" or \"system\"",
          "messages.0.role" },
        /* Mid-conversation system messages: text only. */
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"system\",\"content\":5}]}",
          "messages.1.content: a system message must be a string or a non-empty array of text blocks",
          "messages.1.content" },
        { "{" BASE "\"messages\":[{\"role\":\"system\",\"content\":\"\"}]}", "messages.0.content: must not be empty",
          "messages.0.content" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"system\",\"content\":"
          "[{\"type\":\"image\",\"source\":{}}]}]}",
          "messages.1.content.0: a system message holds only text blocks with a string \"text\"",
          "messages.1.content.0" },
        { "{" BASE "\"messages\":[{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"}]}",
          "messages.0.role: the first message must be a user turn", "messages.0.role" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}",
          "messages.1: the final message is an assistant turn (prefill); the Claude Code CLI cannot continue a "
          "prefilled assistant turn, so the conversation must end with a user message", "messages.1" },
        /* Merging first: two trailing assistant turns are one prefill, reported at the last index. */
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},"
          "{\"role\":\"assistant\",\"content\":\"c\"}]}", "messages.2: the final message is an assistant turn*",
          "messages.2" },
        { "{" BASE "\"messages\":[{\"role\":\"user\"}]}",
          "messages.0.content: must be a string or an array of content blocks", "messages.0.content" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", "messages.0.content: must not be empty",
          "messages.0.content" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[]}]}", "messages.0.content: must not be empty",
          "messages.0.content" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[\"hi\"]}]}",
          "messages.0.content.0: a content block must be an object", "messages.0.content.0" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}",
          "messages.0.content.0.type: required", "messages.0.content.0.type" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
          "messages.0.content.0.text: a text block requires a string \"text\"", "messages.0.content.0.text" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"audio\"}]}]}",
          "messages.0.content.0.type: unsupported content block type 'audio'*", "messages.0.content.0.type" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
          "{\"type\":\"image\"}]}]}", "messages.0.content.1.source: image block requires a \"source\" object",
          "messages.0.content.1.source" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{}}]}]}",
          "messages.0.content.0.source.type: required (\"base64\" or \"url\")", "messages.0.content.0.source.type" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
          "{\"type\":\"file\",\"file_id\":\"f\"}}]}]}",
          "messages.0.content.0.source.type: unsupported image source type 'file' (expected base64 or url)",
          "messages.0.content.0.source.type" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
          "{\"type\":\"base64\",\"data\":\"AA==\"}}]}]}",
          "messages.0.content.0.source.media_type: required for a base64 source",
          "messages.0.content.0.source.media_type" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
          "{\"type\":\"base64\",\"media_type\":\"image/tiff\",\"data\":\"AA==\"}}]}]}",
          "messages.0.content.0.source.media_type: unsupported image type 'image/tiff'*",
          "messages.0.content.0.source.media_type" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
          "{\"type\":\"base64\",\"media_type\":\"image/png\"}}]}]}",
          "messages.0.content.0.source.data: a base64 source requires a string \"data\"",
          "messages.0.content.0.source.data" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
          "{\"type\":\"url\"}}]}]}", "messages.0.content.0.source.url: a url source requires a string \"url\"",
          "messages.0.content.0.source.url" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":"
          "{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"AA==\"}}]}]}",
          "messages.0.content.0.source.media_type: unsupported document type 'image/png' (expected "
          "application/pdf)", "messages.0.content.0.source.media_type" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":"
          "{\"type\":\"text\",\"media_type\":\"text/html\",\"data\":\"x\"}}]}]}",
          "messages.0.content.0.source.media_type: unsupported document type 'text/html' (expected text/plain)",
          "messages.0.content.0.source.media_type" },
        { "{" BASE "\"thinking\":true," MSGS "}", "thinking: must be an object", "thinking" },
        { "{" BASE "\"thinking\":{\"type\":\"enabled\"}," MSGS "}",
          "thinking.budget_tokens: required for thinking type \"enabled\" and must be a positive integer",
          "thinking.budget_tokens" },
        { "{" BASE "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":-5}," MSGS "}",
          "thinking.budget_tokens: required*", "thinking.budget_tokens" },
        { "{" BASE "\"thinking\":{\"type\":\"on\"}," MSGS "}",
          "thinking.type: must be \"enabled\", \"adaptive\" or \"disabled\"", "thinking.type" },
        { "{" BASE "\"metadata\":[]," MSGS "}", "metadata: must be an object", "metadata" },
        { "{" BASE "\"metadata\":{\"effort\":3}," MSGS "}", "metadata.effort: must be a string", "metadata.effort" },
        { "{" BASE "\"metadata\":{\"effort\":\"extreme\"}," MSGS "}",
          "metadata.effort: invalid effort level 'extreme' (expected low, medium, high, xhigh or max)",
          "metadata.effort" },
        { "{" BASE "\"output_config\":{\"effort\":\"turbo\"}," MSGS "}",
          "output_config.effort: invalid effort level 'turbo'*", "output_config.effort" },
        { "{" BASE MSGS "}", "x-effort: invalid effort level 'bogus'*", "x-effort", .effort_header = "bogus" },
        /* Wrong types the parse used to let through (issue "Robustness" §5). */
        { "{" BASE "\"tools\":\"x\"," MSGS "}", "tools: must be an array of tool definitions", "tools" },
        { "{" BASE "\"tools\":5," MSGS "}", "tools: must be an array of tool definitions", "tools" },
        { "{" BASE "\"tools\":{}," MSGS "}", "tools: must be an array of tool definitions", "tools" },
        { "{" BASE "\"tools\":[1]," MSGS "}", "tools.0: a tool definition must be an object", "tools.0" },
        { "{" BASE "\"tools\":[{\"input_schema\":{}}]," MSGS "}", "tools.0.name: required, a non-empty string",
          "tools.0.name" },
        { "{" BASE "\"tools\":[{\"name\":\"t\",\"input_schema\":{}},{\"name\":\"u\"}]," MSGS "}",
          "tools.1.input_schema: required, an object (a JSON schema)", "tools.1.input_schema" },
        { "{" BASE "\"tools\":[{\"name\":\"t\",\"input_schema\":{},\"description\":7}]," MSGS "}",
          "tools.0.description: must be a string", "tools.0.description" },
        { "{" BASE "\"tools\":[{\"name\":\"s\",\"type\":\"web_search_20250305\",\"input_schema\":[]}]," MSGS "}",
          "tools.0.input_schema: must be an object (a JSON schema)", "tools.0.input_schema" },
        { "{" BASE "\"tool_choice\":\"auto\"," MSGS "}", "tool_choice: must be an object", "tool_choice" },
        { "{" BASE "\"tool_choice\":{\"type\":\"sometimes\"}," MSGS "}",
          "tool_choice.type: must be \"auto\", \"any\", \"tool\" or \"none\"", "tool_choice.type" },
        { "{" BASE "\"tool_choice\":{\"type\":\"tool\"}," MSGS "}",
          "tool_choice.name: required for tool_choice type \"tool\"", "tool_choice.name" },
        { "{" BASE "\"tool_choice\":{\"type\":\"auto\",\"disable_parallel_tool_use\":1}," MSGS "}",
          "tool_choice.disable_parallel_tool_use: must be a boolean", "tool_choice.disable_parallel_tool_use" },
        { "{" BASE "\"metadata\":{\"user_id\":5}," MSGS "}", "metadata.user_id: must be a string",
          "metadata.user_id" },
        { "{" BASE "\"stop_sequences\":[1]," MSGS "}", "stop_sequences: must be an array of strings",
          "stop_sequences" },
        { "{" BASE "\"temperature\":1.5," MSGS "}", "temperature: must be between 0 and 1", "temperature" },
        { "{" BASE "\"top_p\":-0.1," MSGS "}", "top_p: must be between 0 and 1", "top_p" },
        { "{" BASE "\"top_k\":-1," MSGS "}", "top_k: must not be negative", "top_k" },
        { "{" BASE "\"output_config\":5," MSGS "}", "output_config: must be an object", "output_config" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\",\"name\":\"n\","
          "\"input\":{}}]}]}", "messages.0.content.0.id: a tool_use block requires a string \"id\"",
          "messages.0.content.0.id" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\",\"id\":\"i\","
          "\"name\":\"n\",\"input\":\"{}\"}]}]}",
          "messages.0.content.0.input: a tool_use block requires an object \"input\"", "messages.0.content.0.input" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}",
          "messages.0.content.0.tool_use_id: a tool_result block requires a string \"tool_use_id\"",
          "messages.0.content.0.tool_use_id" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"i\","
          "\"content\":5}]}]}", "messages.0.content.0.content: must be a string or an array of content blocks",
          "messages.0.content.0.content" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"i\","
          "\"content\":[7]}]}]}", "messages.0.content.0.content.0: must be a content block with a string \"type\"",
          "messages.0.content.0.content.0" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"i\","
          "\"is_error\":\"yes\"}]}]}", "messages.0.content.0.is_error: must be a boolean",
          "messages.0.content.0.is_error" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\"}]}]}",
          "messages.0.content.0.signature: a thinking block requires a string \"signature\"",
          "messages.0.content.0.signature" },
        { "{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"redacted_thinking\"}]}]}",
          "messages.0.content.0.data: a redacted_thinking block requires a string \"data\"",
          "messages.0.content.0.data" },
        { "{" BASE MSGS "}", "effort: invalid effort level 'none'*", "effort", .default_effort = "none" },
};

static void test_errors(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
                const ErrorCase *c = &error_cases[i];
                ApiEnv env = env_base();
                ApiRequest req = { .stream = true };
                ApiError err = API_ERROR_NULL;
                json_t *body = json_literal(c->body);
                size_t n = strlen(c->message);

                env.effort_header = c->effort_header;
                env.default_effort = c->default_effort;
                print_message("case %zu: %s\n", i, c->body);
                assert_int_equal(anthropic_request_parse(body, &env, &req, &err), -EINVAL);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.type, "invalid_request_error");
                if (c->message[n - 1] == '*')
                        assert_true(strneq(err.message, c->message, n - 1));
                else
                        assert_string_equal(err.message, c->message);
                assert_string_equal(err.param, c->param);
                /* Untouched on failure. */
                assert_true(req.stream);
                assert_null(req.cli.messages);
                json_decref(body);
                api_error_done(&err);
        }
}

/* A NULL reterr still fails cleanly (fuzzers and callers that only want the errno). */
static void test_error_without_reterr(void **state) {
        ApiEnv env = env_base();
        ApiRequest req = {};
        json_t *body = json_literal("{\"model\":\"sonnet\"}");

        assert_int_equal(anthropic_request_parse(body, &env, &req, NULL), -EINVAL);
        json_decref(body);
}

static void test_thinking_and_effort_precedence(void **state) {
        static const struct {
                const char *thinking;   /* JSON or NULL */
                bool enable_thinking;
                bool want;
                int64_t budget;
        } t[] = {
                { NULL, false, false, 0 },
                { NULL, true, true, 0 },
                { "null", true, true, 0 },
                { "{\"type\":\"disabled\"}", true, false, 0 },
                { "{\"type\":\"adaptive\"}", false, true, 0 },
                { "{\"type\":\"enabled\",\"budget_tokens\":2048}", false, true, 2048 },
        };
        static const struct {
                const char *body_effort;  /* metadata.effort */
                const char *output_effort;/* output_config.effort */
                const char *header;
                const char *dflt;
                const char *want;
        } e[] = {
                { NULL, NULL, NULL, NULL, NULL },
                { NULL, NULL, NULL, "high", "high" },
                { NULL, NULL, "", "high", "high" },
                { NULL, NULL, "low", "high", "low" },
                { "medium", NULL, "low", "high", "medium" },
                { "MAX", NULL, "low", "high", "max" },
                { "medium", "xhigh", "low", "high", "xhigh" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *text = NULL;
                ApiEnv env = env_base();
                ApiRequest req = {};
                json_t *body;

                assert_true(asprintf(&text, "{" BASE MSGS "%s%s}", t[i].thinking ? ",\"thinking\":" : "",
                                     t[i].thinking ?: "") > 0);
                body = json_literal(text);
                env.enable_thinking = t[i].enable_thinking;
                assert_int_equal(anthropic_request_parse(body, &env, &req, NULL), 0);
                assert_int_equal(req.cli.thinking, t[i].want);
                assert_int_equal(req.cli.thinking_budget, t[i].budget);
                json_decref(body);
                api_request_done(&req);
        }

        for (size_t i = 0; i < ELEMENTSOF(e); i++) {
                ApiEnv env = env_base();
                ApiRequest req = {};
                json_t *body = json_literal("{" BASE MSGS "}");

                if (e[i].body_effort)
                        json_object_set_new(body, "metadata", json_pack("{s:s}", "effort", e[i].body_effort));
                if (e[i].output_effort)
                        json_object_set_new(body, "output_config", json_pack("{s:s}", "effort", e[i].output_effort));
                env.effort_header = e[i].header;
                env.default_effort = e[i].dflt;
                assert_int_equal(anthropic_request_parse(body, &env, &req, NULL), 0);
                if (e[i].want)
                        assert_string_equal(req.cli.effort, e[i].want);
                else
                        assert_null(req.cli.effort);
                json_decref(body);
                api_request_done(&req);
        }
}

/*
 * Mid-conversation system messages become <system-reminder> text in the user turn at that point,
 * merged with the adjacent user turns. Claude Code ends its first request with one ([user,
 * system], a_text_stream_json upstream); here it also sits between turns and holds text blocks.
 */
static void test_mid_conversation_system(void **state) {
        json_auto_t *body = json_literal(
                "{\"model\":\"sonnet\",\"max_tokens\":10,\"messages\":["
                "{\"role\":\"user\",\"content\":\"hi\"},"
                "{\"role\":\"system\",\"content\":\"S1\"},"
                "{\"role\":\"assistant\",\"content\":\"ok\"},"
                "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"S2\",\"cache_control\":{\"type\":\"ephemeral\"}},"
                "{\"type\":\"text\",\"text\":\"S3\"}]},"
                "{\"role\":\"user\",\"content\":\"go\"},"
                "{\"role\":\"system\",\"content\":\"S4\"}]}");
        json_auto_t *expected = json_literal(
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
                "{\"type\":\"text\",\"text\":\"<system-reminder>\\nS1\\n</system-reminder>\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"<system-reminder>\\nS2\\n</system-reminder>\"},"
                "{\"type\":\"text\",\"text\":\"<system-reminder>\\nS3\\n</system-reminder>\"},"
                "{\"type\":\"text\",\"text\":\"go\"},"
                "{\"type\":\"text\",\"text\":\"<system-reminder>\\nS4\\n</system-reminder>\"}]}]");
        ApiEnv env = env_base();
        ApiRequest req = {};
        ApiError err = API_ERROR_NULL;

        assert_int_equal(anthropic_request_parse(body, &env, &req, &err), 0);
        assert_json_equal(req.cli.messages, expected);
        /* Not the request's system prompt: that is the top-level field's alone. */
        assert_null(req.cli.system_prompt);
        api_request_done(&req);
}

/* input_text (the Responses spelling) is read as text everywhere, and handed on as "text" (the
 * history's tool name as the model saw it, client-tools.c). */
static void test_input_text(void **state) {
        json_t *body = json_literal(
                "{" BASE "\"system\":[{\"type\":\"input_text\",\"text\":\"SYS-A\"},{\"type\":\"text\",\"text\":\"SYS-B\"}],"
                "\"messages\":["
                "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hello\","
                "\"cache_control\":{\"type\":\"ephemeral\"}}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"exec\",\"input\":{}}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":["
                "{\"type\":\"input_text\",\"text\":\"out\"},{\"type\":\"text\",\"text\":\"more\"}]},"
                "{\"type\":\"input_text\",\"text\":\"next\"}]}]}");
        json_t *before = json_deep_copy(body);
        json_t *want = json_literal(
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hello\","
                "\"cache_control\":{\"type\":\"ephemeral\"}}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"mcp__cp__exec\",\"input\":{}}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":["
                "{\"type\":\"text\",\"text\":\"out\"},{\"type\":\"text\",\"text\":\"more\"}]},"
                "{\"type\":\"text\",\"text\":\"next\"}]}]");
        ApiEnv env = env_base();
        ApiRequest req = {};
        ApiError err = API_ERROR_NULL;

        assert_int_equal(anthropic_request_parse(body, &env, &req, &err), 0);
        assert_json_equal(req.cli.messages, want);
        assert_string_equal(req.cli.system_prompt, "SYS-A\n\nSYS-B");
        /* The body itself is not changed (its blocks are shared elsewhere). */
        assert_json_equal(body, before);
        api_request_done(&req);
        json_decref(body);
        json_decref(before);
        json_decref(want);

        /* Still a text block: it needs its text. */
        body = json_literal("{" BASE "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\"}]}]}");
        assert_int_equal(anthropic_request_parse(body, &env, &req, &err), -EINVAL);
        assert_string_equal(err.param, "messages.0.content.0.text");
        api_error_done(&err);
        json_decref(body);
}

/* metadata.mcp_servers: the names only (the registry is the session's business), checked in shape. */
static void test_mcp_servers(void **state) {
        json_t *body = json_literal("{" BASE MSGS ",\"metadata\":{\"user_id\":\"u\",\"mcp_servers\":[\"a\",\"b\",\"a\"]}}");
        ApiEnv env = env_base();
        ApiRequest req = {};
        ApiError err = API_ERROR_NULL;

        assert_int_equal(anthropic_request_parse(body, &env, &req, &err), 0);
        assert_int_equal(strv_length(req.mcp_servers), 2);
        assert_string_equal(req.mcp_servers[1], "b");
        assert_null(req.cli.mcp_config);
        api_request_done(&req);
        json_decref(body);

        body = json_literal("{" BASE MSGS ",\"metadata\":{\"mcp_servers\":\"a\"}}");
        assert_int_equal(anthropic_request_parse(body, &env, &req, &err), -EINVAL);
        assert_string_equal(err.param, "metadata.mcp_servers");
        api_error_done(&err);
        json_decref(body);
}

static void test_stream_and_unsupported(void **state) {
        ApiEnv env = env_base();
        ApiRequest req = {};
        json_t *body = json_literal("{" BASE MSGS ",\"stream\":null,\"temperature\":null,\"stop_sequences\":[],"
                                    "\"top_k\":5,\"top_p\":1}");

        assert_int_equal(anthropic_request_parse(body, &env, &req, NULL), 0);
        assert_false(req.stream);
        /* null means "not sent"; the order is the list's, not the body's. */
        assert_string_equal(req.unsupported, "top_p,top_k,stop_sequences");
        assert_string_equal(req.client_model, "sonnet");
        json_decref(body);
        api_request_done(&req);

        body = json_literal("{" BASE MSGS "}");
        assert_int_equal(anthropic_request_parse(body, &env, &req, NULL), 0);
        assert_null(req.unsupported);
        assert_null(req.cli.system_prompt);
        json_decref(body);
        api_request_done(&req);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden),
                cmocka_unit_test(test_outlives_body),
                cmocka_unit_test(test_nul_in_text),
                cmocka_unit_test(test_nul_in_enum_fields),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_error_without_reterr),
                cmocka_unit_test(test_thinking_and_effort_precedence),
                cmocka_unit_test(test_stream_and_unsupported),
                cmocka_unit_test(test_mid_conversation_system),
                cmocka_unit_test(test_input_text),
                cmocka_unit_test(test_mcp_servers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
