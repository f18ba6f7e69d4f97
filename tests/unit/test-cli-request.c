/* SPDX-License-Identifier: MIT */

/* CliRequest -> argv for every flag combination, and the stream-json stdin lines. */

#include <stdlib.h>
#include <string.h>

#include "cli/request.h"
#include "helpers.h"
#include "util/macro.h"
#include "util/strv.h"

#define BASE_ARGV                                                                                       \
        "\"-p\",\"--output-format\",\"stream-json\",\"--verbose\",\"--include-partial-messages\","     \
        "\"--input-format\",\"stream-json\",\"--tools\",\"\",\"--setting-sources\",\"\","              \
        "\"--strict-mcp-config\",\"--no-session-persistence\",\"--allowedTools\",\"mcp__cp\""

static json_t *strv_to_json(char **l) {
        json_t *a = json_array();

        for (char **i = l; i && *i; i++)
                json_array_append_new(a, json_string(*i));
        return a;
}

static void test_mode_strings(void **state) {
        assert_string_equal(system_prompt_mode_to_string(SYSTEM_PROMPT_USER), "user");
        assert_string_equal(system_prompt_mode_to_string(SYSTEM_PROMPT_APPEND), "append");
        assert_string_equal(system_prompt_mode_to_string(SYSTEM_PROMPT_REPLACE), "replace");
        assert_null(system_prompt_mode_to_string(_SYSTEM_PROMPT_MODE_MAX));
        assert_null(system_prompt_mode_to_string(_SYSTEM_PROMPT_MODE_INVALID));
        assert_int_equal(system_prompt_mode_from_string("user"), SYSTEM_PROMPT_USER);
        assert_int_equal(system_prompt_mode_from_string("append"), SYSTEM_PROMPT_APPEND);
        assert_int_equal(system_prompt_mode_from_string("replace"), SYSTEM_PROMPT_REPLACE);
        assert_int_equal(system_prompt_mode_from_string("APPEND"), -EINVAL);
        assert_int_equal(system_prompt_mode_from_string(""), -EINVAL);
        assert_int_equal(system_prompt_mode_from_string(NULL), -EINVAL);
}

static void test_argv(void **state) {
        static const struct {
                const char *claude_path;
                const char *model;
                const char *effort;
                bool thinking;
                int64_t budget;
                SystemPromptMode mode;
                const char *sp_path;
                const char *want;       /* JSON array */
        } t[] = {
                { "/usr/bin/claude", "sonnet", NULL, false, 0, SYSTEM_PROMPT_USER, NULL,
                  "[\"/usr/bin/claude\"," BASE_ARGV ",\"--model\",\"sonnet\",\"--thinking\",\"disabled\"]" },
                { NULL, "opus", "max", true, 0, SYSTEM_PROMPT_USER, NULL,
                  "[\"claude\"," BASE_ARGV ",\"--model\",\"opus\",\"--effort\",\"max\"]" },
                { "claude", "haiku", "low", true, 31999, SYSTEM_PROMPT_USER, NULL,
                  "[\"claude\"," BASE_ARGV ",\"--model\",\"haiku\",\"--effort\",\"low\","
                  "\"--max-thinking-tokens\",\"31999\"]" },
                /* A budget without thinking is meaningless: thinking off wins. */
                { "claude", "haiku", NULL, false, 4096, SYSTEM_PROMPT_USER, NULL,
                  "[\"claude\"," BASE_ARGV ",\"--model\",\"haiku\",\"--thinking\",\"disabled\"]" },
                { "claude", "sonnet", NULL, true, 0, SYSTEM_PROMPT_APPEND, "/tmp/sp",
                  "[\"claude\"," BASE_ARGV ",\"--model\",\"sonnet\",\"--append-system-prompt-file\",\"/tmp/sp\"]" },
                { "claude", "sonnet", "high", false, 0, SYSTEM_PROMPT_REPLACE, "/tmp/sp",
                  "[\"claude\"," BASE_ARGV ",\"--model\",\"sonnet\",\"--effort\",\"high\",\"--thinking\","
                  "\"disabled\",\"--system-prompt-file\",\"/tmp/sp\"]" },
                /* No file written (no system text): no flag. */
                { "claude", "sonnet", NULL, true, 0, SYSTEM_PROMPT_APPEND, NULL,
                  "[\"claude\"," BASE_ARGV ",\"--model\",\"sonnet\"]" },
                { "claude", "sonnet", NULL, true, 0, SYSTEM_PROMPT_REPLACE, NULL,
                  "[\"claude\"," BASE_ARGV ",\"--model\",\"sonnet\"]" },
                /* USER mode puts the text into stdin; a path is ignored. */
                { "claude", "sonnet", NULL, true, 0, SYSTEM_PROMPT_USER, "/tmp/sp",
                  "[\"claude\"," BASE_ARGV ",\"--model\",\"sonnet\"]" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                CliRequest r = {
                        .model = (char *) t[i].model,
                        .effort = (char *) t[i].effort,
                        .thinking = t[i].thinking,
                        .thinking_budget = t[i].budget,
                        .system_prompt = (char *) "SECRET system text",
                        .system_prompt_mode = t[i].mode,
                };
                _cleanup_strv_free_ char **argv = NULL;
                json_t *got, *want;

                print_message("case %zu\n", i);
                assert_int_equal(cli_request_build_argv(&r, t[i].claude_path, t[i].sp_path, &argv), 0);
                got = strv_to_json(argv);
                want = json_literal(t[i].want);
                assert_json_equal(got, want);
                /* The system text itself never reaches argv. */
                assert_false(strv_contains(argv, "SECRET system text"));
                json_decref(got);
                json_decref(want);
        }
}

static void test_argv_needs_model(void **state) {
        CliRequest r = { .thinking = true };
        char **argv = NULL;

        assert_int_equal(cli_request_build_argv(&r, "claude", NULL, &argv), -EINVAL);
        r.model = (char *) "";
        assert_int_equal(cli_request_build_argv(&r, "claude", NULL, &argv), -EINVAL);
        assert_null(argv);
}

static json_t *build_input(const char *messages, const char *system, SystemPromptMode mode, int want_r) {
        CliRequest r = {
                .model = (char *) "sonnet",
                .system_prompt = (char *) system,
                .system_prompt_mode = mode,
                .messages = json_literal(messages),
        };
        json_t *before = json_deep_copy(r.messages), *lines = NULL;

        assert_int_equal(cli_request_build_input(&r, &lines), want_r);
        /* Building shares blocks with the request but must never modify it. */
        assert_json_equal(r.messages, before);
        json_decref(before);
        json_decref(r.messages);
        return lines;
}

static void test_input_single(void **state) {
        json_t *lines = build_input("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]", NULL,
                                    SYSTEM_PROMPT_USER, 0);
        json_t *want = json_literal("[{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
                                    "[{\"type\":\"text\",\"text\":\"hi\"}]},\"parent_tool_use_id\":null,"
                                    "\"session_id\":\"\"}]");

        assert_json_equal(lines, want);
        assert_false(cli_input_line_awaits_result(json_array_get(lines, 0)));
        json_decref(lines);
        json_decref(want);
}

/* The §10/§16.6 recipe, and the exact SYSTEM_PROMPT_USER wrapper in the first user turn only. */
static void test_input_history_user_mode(void **state) {
        json_t *lines = build_input(
                "[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t0\",\"content\":\"x\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a1\"}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"u2\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"},"
                "{\"type\":\"text\",\"text\":\"a2\"}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"u3\"}]}]",
                "Be brief.\nReally.", SYSTEM_PROMPT_USER, 0);
        json_t *want = json_literal(
                "[{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":["
                "{\"type\":\"text\",\"text\":\"<instructions>\\nBe brief.\\nReally.\\n</instructions>\"},"
                "{\"type\":\"tool_result\",\"tool_use_id\":\"t0\",\"content\":\"x\"}]},"
                "\"parent_tool_use_id\":null,\"session_id\":\"\",\"shouldQuery\":false},"
                "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_hist_1\",\"type\":\"message\",\"role\":\"assistant\","
                "\"content\":[{\"type\":\"text\",\"text\":\"a1\"}]},\"parent_tool_use_id\":null,\"session_id\":\"\"},"
                "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"u2\"}]},"
                "\"parent_tool_use_id\":null,\"session_id\":\"\",\"shouldQuery\":false},"
                "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_hist_2\",\"type\":\"message\",\"role\":\"assistant\","
                "\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"},"
                "{\"type\":\"text\",\"text\":\"a2\"}]},\"parent_tool_use_id\":null,\"session_id\":\"\"},"
                "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"u3\"}]},"
                "\"parent_tool_use_id\":null,\"session_id\":\"\"}]");
        static const bool awaits[] = { true, false, true, false, false };

        assert_json_equal(lines, want);
        for (size_t i = 0; i < ELEMENTSOF(awaits); i++)
                assert_int_equal(cli_input_line_awaits_result(json_array_get(lines, i)), awaits[i]);
        json_decref(lines);
        json_decref(want);
}

/* APPEND/REPLACE send the text through a file: stdin carries none of it; an empty text is none. */
static void test_input_system_other_modes(void **state) {
        static const struct {
                SystemPromptMode mode;
                const char *system;
        } t[] = {
                { SYSTEM_PROMPT_APPEND, "Be brief." },
                { SYSTEM_PROMPT_REPLACE, "Be brief." },
                { SYSTEM_PROMPT_USER, "" },
                { SYSTEM_PROMPT_USER, NULL },
        };
        json_t *want = json_literal("[{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
                                    "[{\"type\":\"text\",\"text\":\"hi\"}]},\"parent_tool_use_id\":null,"
                                    "\"session_id\":\"\"}]");

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                json_t *lines = build_input("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]",
                                            t[i].system, t[i].mode, 0);
                assert_json_equal(lines, want);
                json_decref(lines);
        }
        json_decref(want);
}

static void test_slash_escape(void **state) {
        static const struct {
                const char *content;
                const char *want;
        } t[] = {
                { "[{\"type\":\"text\",\"text\":\"/compact now\"}]", "[{\"type\":\"text\",\"text\":\" /compact now\"}]" },
                { "[{\"type\":\"text\",\"text\":\"/\"}]", "[{\"type\":\"text\",\"text\":\" /\"}]" },
                /* Paths too: a leading space is harmless to the model and cheaper than guessing. */
                { "[{\"type\":\"text\",\"text\":\"/tmp/x.txt: what is it\"}]",
                  "[{\"type\":\"text\",\"text\":\" /tmp/x.txt: what is it\"}]" },
                /* Every text block (the CLI inspects the last one); other block fields (cache_control) are kept. */
                { "[{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"u\"}},"
                  "{\"type\":\"text\",\"text\":\"/foo\",\"cache_control\":{\"type\":\"ephemeral\"}},"
                  "{\"type\":\"text\",\"text\":\"/bar\"}]",
                  "[{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"u\"}},"
                  "{\"type\":\"text\",\"text\":\" /foo\",\"cache_control\":{\"type\":\"ephemeral\"}},"
                  "{\"type\":\"text\",\"text\":\" /bar\"}]" },
                /* The case the CLI really runs as a command: a "/word" text as the last block. */
                { "[{\"type\":\"text\",\"text\":\"hello\"},{\"type\":\"text\",\"text\":\"/bar\"}]",
                  "[{\"type\":\"text\",\"text\":\"hello\"},{\"type\":\"text\",\"text\":\" /bar\"}]" },
                { "[{\"type\":\"text\",\"text\":\" /already\"}]", "[{\"type\":\"text\",\"text\":\" /already\"}]" },
                { "[{\"type\":\"text\",\"text\":\"a/b\"}]", "[{\"type\":\"text\",\"text\":\"a/b\"}]" },
                { "[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":\"/x\"}]",
                  "[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":\"/x\"}]" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *msgs = NULL;
                json_t *lines, *want = json_literal(t[i].want);

                print_message("case %zu\n", i);
                /* Escaped in a history turn and in the final turn alike. */
                assert_true(asprintf(&msgs, "[{\"role\":\"user\",\"content\":%s},{\"role\":\"assistant\",\"content\":"
                                     "[{\"type\":\"text\",\"text\":\"/ok\"}]},{\"role\":\"user\",\"content\":%s}]",
                                     t[i].content, t[i].content) > 0);
                lines = build_input(msgs, NULL, SYSTEM_PROMPT_USER, 0);
                assert_json_equal(json_object_get(json_object_get(json_array_get(lines, 0), "message"), "content"), want);
                assert_json_equal(json_object_get(json_object_get(json_array_get(lines, 2), "message"), "content"), want);
                /* Assistant text is history, never parsed as a command. */
                assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(
                                            json_object_get(json_array_get(lines, 1), "message"), "content"), 0),
                                                                      "text")), "/ok");
                json_decref(lines);
                json_decref(want);
        }
}

/* With USER mode the wrapper leads, and the client's own first text is still escaped. */
static void test_slash_escape_with_system(void **state) {
        json_t *lines = build_input("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"/foo\"}]}]",
                                    "/sys", SYSTEM_PROMPT_USER, 0);
        json_t *want = json_literal("[{\"type\":\"text\",\"text\":\"<instructions>\\n/sys\\n</instructions>\"},"
                                    "{\"type\":\"text\",\"text\":\" /foo\"}]");

        assert_json_equal(json_object_get(json_object_get(json_array_get(lines, 0), "message"), "content"), want);
        json_decref(lines);
        json_decref(want);
}

static void test_input_invalid(void **state) {
        static const char *const t[] = {
                "[]",
                ("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]},"
                 "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"b\"}]}]"),
                "[{\"role\":\"system\",\"content\":[]},{\"role\":\"user\",\"content\":[]}]",
                "[{\"role\":\"user\",\"content\":\"not an array\"}]",
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_null(build_input(t[i], NULL, SYSTEM_PROMPT_USER, -EINVAL));
}

static void test_awaits_result(void **state) {
        static const struct {
                const char *line;
                bool want;
        } t[] = {
                { "{\"type\":\"user\",\"shouldQuery\":false}", true },
                { "{\"type\":\"user\",\"shouldQuery\":true}", false },
                { "{\"type\":\"user\"}", false },
                { "{\"type\":\"user\",\"shouldQuery\":0}", false },
                { "{\"type\":\"assistant\",\"shouldQuery\":false}", false },
                { "{\"type\":\"control_request\"}", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                json_t *l = json_literal(t[i].line);
                assert_int_equal(cli_input_line_awaits_result(l), t[i].want);
                json_decref(l);
        }
        assert_false(cli_input_line_awaits_result(NULL));
}

static void test_done(void **state) {
        CliRequest r = {
                .model = strdup("sonnet"),
                .effort = strdup("low"),
                .system_prompt = strdup("x"),
                .thinking = true,
                .messages = json_array(),
        };

        cli_request_done(&r);
        assert_null(r.model);
        assert_null(r.effort);
        assert_null(r.system_prompt);
        assert_null(r.messages);
        assert_false(r.thinking);
        cli_request_done(&r);
        cli_request_done(NULL);
}

/* The lines as text, compact, a NUL escaped; each line's tree dropped once it is text. */
static void test_serialize_input(void **state) {
        CliInput in = {};
        CliRequest r = {
                .messages = json_loads("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]},"
                                         "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"b\"}]},"
                                         "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"c\\u0000d\"}]}]",
                                       JSON_ALLOW_NUL, NULL),
        };
        json_t *lines;

        assert_non_null(r.messages);
        assert_int_equal(cli_request_serialize_input(&r, &in), 0);
        assert_int_equal(in.n, 3);
        assert_true(in.lines[0].awaits_result);         /* a history user line */
        assert_false(in.lines[1].awaits_result);
        assert_false(in.lines[2].awaits_result);
        for (size_t i = 0; i < in.n; i++) {
                assert_int_equal(in.lines[i].len, strlen(in.lines[i].text));
                assert_null(strchr(in.lines[i].text, '\n'));
        }
        assert_non_null(strstr(in.lines[2].text, "\"text\":\"c\\u0000d\""));
        cli_input_done(&in);
        assert_null(in.lines);
        assert_int_equal(in.n, 0);

        assert_int_equal(cli_request_build_input(&r, &lines), 0);
        assert_int_equal(cli_input_serialize(lines, &in), 0);
        assert_true(json_is_null(json_array_get(lines, 0)) && json_is_null(json_array_get(lines, 2)));
        cli_input_done(&in);
        json_decref(lines);

        lines = json_literal("[{\"type\":\"user\"}, 3]");
        assert_int_equal(cli_input_serialize(lines, &in), -EINVAL);
        assert_null(in.lines);
        json_decref(lines);
        json_decref(r.messages);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mode_strings),
                cmocka_unit_test(test_argv),
                cmocka_unit_test(test_argv_needs_model),
                cmocka_unit_test(test_input_single),
                cmocka_unit_test(test_input_history_user_mode),
                cmocka_unit_test(test_input_system_other_modes),
                cmocka_unit_test(test_slash_escape),
                cmocka_unit_test(test_slash_escape_with_system),
                cmocka_unit_test(test_input_invalid),
                cmocka_unit_test(test_awaits_result),
                cmocka_unit_test(test_done),
                cmocka_unit_test(test_serialize_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
