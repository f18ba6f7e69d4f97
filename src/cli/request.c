/* SPDX-License-Identifier: MIT */

/*
 * A CliRequest -> the CLI's argv and its stream-json stdin lines.
 *
 * The argv is fixed apart from model, effort, thinking and the system-prompt file: no tools, no
 * settings files, no MCP beyond what is passed explicitly, no session files (cli/README §3).
 * Nothing the client wrote travels in argv: the system prompt goes through a file the I/O side
 * writes, so argv stays small (E2BIG above 128 KiB) and out of `ps`.
 *
 * The stdin lines follow the history recipe of cli/README §10 and §16.6: earlier user turns with
 * "shouldQuery":false (the writer waits for each one's `result`), assistant turns with distinct
 * message ids so the CLI does not merge them, and the last user turn that starts the real run.
 * This module does not write anything or wait: see cli_input_line_awaits_result().
 */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/request.h"
#include "util/macro.h"
#include "util/strv.h"

/*
 * How SYSTEM_PROMPT_USER hands the client's system text to the model: a leading text block of
 * the first user turn, "<instructions>\n" SYSTEM "\n</instructions>". The CLI's own system
 * prompt stays in place (replacing it is what trips subscription accounts' third-party check).
 */
#define SYSTEM_PROMPT_OPEN "<instructions>\n"
#define SYSTEM_PROMPT_CLOSE "\n</instructions>"

static const char *const system_prompt_mode_table[_SYSTEM_PROMPT_MODE_MAX] = {
        [SYSTEM_PROMPT_USER] = "user",
        [SYSTEM_PROMPT_APPEND] = "append",
        [SYSTEM_PROMPT_REPLACE] = "replace",
};

/**
 * system_prompt_mode_to_string() - the SYSTEM_PROMPT_MODE spelling of a mode
 * @m: the mode
 *
 * Return: "user", "append" or "replace"; NULL for an invalid mode.
 */
const char *system_prompt_mode_to_string(SystemPromptMode m) {
        if (m < 0 || m >= _SYSTEM_PROMPT_MODE_MAX)
                return NULL;
        return system_prompt_mode_table[m];
}

/**
 * system_prompt_mode_from_string() - parse a SYSTEM_PROMPT_MODE value
 * @s: "user", "append" or "replace" (may be NULL)
 *
 * Return: the mode, or _SYSTEM_PROMPT_MODE_INVALID (-EINVAL).
 */
SystemPromptMode system_prompt_mode_from_string(const char *s) {
        if (!s)
                return _SYSTEM_PROMPT_MODE_INVALID;
        for (int i = 0; i < _SYSTEM_PROMPT_MODE_MAX; i++)
                if (streq(s, system_prompt_mode_table[i]))
                        return (SystemPromptMode) i;
        return _SYSTEM_PROMPT_MODE_INVALID;
}

/**
 * cli_request_done() - free what a CliRequest owns and reset it
 * @r: the request (may be NULL)
 */
void cli_request_done(CliRequest *r) {
        if (!r)
                return;
        free(r->model);
        free(r->effort);
        free(r->system_prompt);
        json_decref(r->messages);
        json_decref(r->json_schema);
        free(r->mcp_config);
        strv_free(r->mcp_servers);
        json_decref(r->tools);
        *r = (CliRequest) {};
}

/**
 * cli_request_build_argv() - the CLI's argv for one run
 * @r: the request
 * @claude_path: argv[0], the CLI binary; NULL means "claude" (looked up in PATH)
 * @system_prompt_path: the file holding the system prompt in APPEND/REPLACE mode, NULL when none
 * @ret_argv: new NULL-terminated vector
 *
 * Return: 0; -EINVAL without a model; -ENOMEM.
 */
int cli_request_build_argv(const CliRequest *r, const char *claude_path, const char *system_prompt_path,
                           char ***ret_argv) {
        static const char *const base[] = {
                "-p",
                "--output-format", "stream-json",
                "--verbose",                    /* required by stream-json with -p */
                "--include-partial-messages",
                "--input-format", "stream-json",
                "--tools", "",
                "--setting-sources", "",        /* no CLAUDE.md, no user settings or hooks */
                "--strict-mcp-config",
                "--no-session-persistence",
                /* The client's tools, served per request by the "sdk" server "cp" (api/client-tools.c);
                 * harmless without it, and a pooled process must have it before it knows the request. */
                "--allowedTools", "mcp__cp",
        };
        _cleanup_strv_free_ char **argv = NULL;
        int k;

        assert(r);
        assert(ret_argv);

        if (!r->model || !*r->model)
                return -EINVAL;

        k = strv_extend(&argv, claude_path ?: "claude");
        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(base); i++)
                k = strv_extend(&argv, base[i]);
        if (k >= 0)
                k = strv_extend(&argv, "--model");
        if (k >= 0)
                k = strv_extend(&argv, r->model);
        if (k >= 0 && r->effort) {
                k = strv_extend(&argv, "--effort");
                if (k >= 0)
                        k = strv_extend(&argv, r->effort);
        }
        if (k >= 0 && !r->thinking)
                /* The CLI thinks by default on every current model; off must be said. */
                k = strv_extend(&argv, "--thinking");
        if (k >= 0 && !r->thinking)
                k = strv_extend(&argv, "disabled");
        if (k >= 0 && r->thinking && r->thinking_budget > 0) {
                char *n = NULL;

                /* Only budget-thinking models use it; adaptive ones ignore it (cli/README §8). */
                k = strv_extend(&argv, "--max-thinking-tokens");
                if (k >= 0 && asprintf(&n, "%lld", (long long) r->thinking_budget) < 0)
                        k = -ENOMEM;
                if (k >= 0)
                        k = strv_consume(&argv, n);
        }
        if (k >= 0 && system_prompt_path &&
            (r->system_prompt_mode == SYSTEM_PROMPT_APPEND || r->system_prompt_mode == SYSTEM_PROMPT_REPLACE)) {
                k = strv_extend(&argv, r->system_prompt_mode == SYSTEM_PROMPT_APPEND
                                               ? "--append-system-prompt-file"
                                               : "--system-prompt-file");
                if (k >= 0)
                        k = strv_extend(&argv, system_prompt_path);
        }
        if (k < 0)
                return k;

        *ret_argv = TAKE_PTR(argv);
        return 0;
}

/**
 * cli_request_extend_mcp_argv() - the registry servers' flags for one run
 * @r: the request
 * @mcp_config_path: where the I/O side put @r->mcp_config (a file the CLI can open); NULL: none
 * @argv: the argv of cli_request_build_argv(), extended in place
 *
 * `--mcp-config PATH` and one `--allowedTools mcp__NAME` per server: the CLI runs the servers and
 * calls their tools without asking (cli/README §9; a tool not allowed is refused to the model).
 * --strict-mcp-config stays in the base argv, so nothing but these servers is loaded. The file,
 * not its text, goes into argv: it holds the servers' env, which must stay out of `ps`.
 *
 * Return: 0 (nothing added without servers or path); -ENOMEM.
 */
int cli_request_extend_mcp_argv(const CliRequest *r, const char *mcp_config_path, char ***argv) {
        int k = 0;

        assert(r);
        assert(argv);

        if (!r->mcp_config || !mcp_config_path || strv_length(r->mcp_servers) == 0)
                return 0;
        k = strv_extend(argv, "--mcp-config");
        if (k >= 0)
                k = strv_extend(argv, mcp_config_path);
        for (char **n = r->mcp_servers; k >= 0 && *n; n++) {
                _cleanup_free_ char *tool = NULL;

                k = strv_extend(argv, "--allowedTools");
                if (k >= 0 && asprintf(&tool, "mcp__%s", *n) < 0)
                        k = -ENOMEM;
                if (k >= 0)
                        k = strv_consume(argv, TAKE_PTR(tool));
        }
        return k < 0 ? k : 0;
}

/*
 * The CLI runs a user text that begins with "/" as a slash command and never sends it upstream
 * (cli/README §10, l3..l8); a leading space is passed through as ordinary text (l9). Measured with
 * the recorder (tests/data/transcripts/slash_raw, slash_escaped): the CLI looks at the *last*
 * content block, and history (shouldQuery:false) lines are parsed too. So every text block of
 * every user turn that starts with "/" gets one space in front — the simplest rule that covers
 * whichever block the CLI inspects. Returns a new content array sharing every other block.
 */
static int cli_user_content_escape_slash(const json_t *content, json_t **ret) {
        json_auto_t *out = json_array();
        size_t i;
        json_t *block;

        if (!out)
                return -ENOMEM;
        json_array_foreach(content, i, block) {
                const json_t *type = json_object_get(block, "type");
                const char *text = json_string_value(json_object_get(block, "text"));

                if (streq_ptr(json_string_value(type), "text") && text && text[0] == '/') {
                        /* By length: the text may hold a NUL that "%s" would cut it at. */
                        size_t n = json_string_length(json_object_get(block, "text"));
                        _cleanup_free_ char *escaped = malloc(n + 2);
                        json_auto_t *copy = json_copy(block);

                        if (!copy || !escaped)
                                return -ENOMEM;
                        escaped[0] = ' ';
                        memcpy(escaped + 1, text, n + 1);
                        if (json_object_set_new(copy, "text", json_stringn(escaped, n + 1)) < 0)
                                return -ENOMEM;
                        if (json_array_append_new(out, TAKE_PTR(copy)) < 0)
                                return -ENOMEM;
                        continue;
                }
                if (json_array_append(out, block) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int cli_user_line(const json_t *content, const char *system_prompt, size_t system_prompt_len, bool last,
                         json_t **ret) {
        json_auto_t *c = NULL;
        json_t *line;
        int k;

        k = cli_user_content_escape_slash(content, &c);
        if (k < 0)
                return k;
        if (system_prompt) {
                size_t n = strlen(SYSTEM_PROMPT_OPEN) + system_prompt_len + strlen(SYSTEM_PROMPT_CLOSE);
                _cleanup_free_ char *text = malloc(n + 1);

                if (!text)
                        return -ENOMEM;
                /* By length, not "%s": the text may hold a NUL. */
                memcpy(mempcpy(mempcpy(text, SYSTEM_PROMPT_OPEN, strlen(SYSTEM_PROMPT_OPEN)), system_prompt,
                               system_prompt_len),
                       SYSTEM_PROMPT_CLOSE, strlen(SYSTEM_PROMPT_CLOSE) + 1);
                if (json_array_insert_new(c, 0, json_pack("{s:s,s:s%}", "type", "text", "text", text, n)) < 0)
                        return -ENOMEM;
        }
        line = json_pack("{s:s,s:{s:s,s:O},s:n,s:s}",
                         "type", "user",
                         "message", "role", "user", "content", c,
                         "parent_tool_use_id",
                         "session_id", "");
        if (!line)
                return -ENOMEM;
        if (!last && json_object_set_new(line, "shouldQuery", json_false()) < 0) {
                json_decref(line);
                return -ENOMEM;
        }
        *ret = line;
        return 0;
}

static int cli_assistant_line(const json_t *content, unsigned n, json_t **ret) {
        char id[32];
        json_t *line;

        /* Without distinct ids the CLI reunites all assistant turns into one message (§16.6). */
        (void) snprintf(id, sizeof(id), "msg_hist_%u", n);
        line = json_pack("{s:s,s:{s:s,s:s,s:s,s:O},s:n,s:s}",
                         "type", "assistant",
                         "message", "id", id, "type", "message", "role", "assistant", "content", content,
                         "parent_tool_use_id",
                         "session_id", "");
        if (!line)
                return -ENOMEM;
        *ret = line;
        return 0;
}

/**
 * cli_request_build_input() - the stream-json stdin lines for a conversation
 * @r: the request; r->messages alternates roles and ends with a user turn
 * @ret_lines: new JSON array of line objects, in writing order
 *
 * In SYSTEM_PROMPT_USER mode the system text becomes the leading text block of the first user
 * turn, wrapped as "<instructions>\n...\n</instructions>". Content blocks are shared with
 * r->messages except a slash-escaped text block, which is a copy.
 *
 * Return: 0; -EINVAL if there are no messages, a role is neither user nor assistant, a content is
 * not an array, or the last turn is not a user turn; -ENOMEM.
 */
int cli_request_build_input(const CliRequest *r, json_t **ret_lines) {
        json_auto_t *lines = json_array();
        const char *system_prompt = NULL;
        size_t system_prompt_len = 0;
        unsigned n_assistant = 0;
        size_t n, i;
        json_t *m;

        assert(r);
        assert(ret_lines);

        if (!lines)
                return -ENOMEM;
        n = json_array_size(r->messages);
        if (n == 0)
                return -EINVAL;
        if (!streq_ptr(json_string_value(json_object_get(json_array_get(r->messages, n - 1), "role")), "user"))
                return -EINVAL;
        if (r->system_prompt_mode == SYSTEM_PROMPT_USER && r->system_prompt) {
                /* A length of 0 with text set means "up to its NUL" (requests built by hand). */
                system_prompt_len = r->system_prompt_len ?: strlen(r->system_prompt);
                if (system_prompt_len > 0)
                        system_prompt = r->system_prompt;
        }

        json_array_foreach(r->messages, i, m) {
                const char *role = json_string_value(json_object_get(m, "role"));
                const json_t *content = json_object_get(m, "content");
                json_t *line = NULL;
                int k;

                if (!json_is_array(content))
                        return -EINVAL;
                if (streq_ptr(role, "user")) {
                        k = cli_user_line(content, system_prompt, system_prompt_len, i == n - 1, &line);
                        system_prompt = NULL;
                } else if (streq_ptr(role, "assistant"))
                        k = cli_assistant_line(content, ++n_assistant, &line);
                else
                        return -EINVAL;
                if (k < 0)
                        return k;
                if (json_array_append_new(lines, line) < 0)
                        return -ENOMEM;
        }

        *ret_lines = TAKE_PTR(lines);
        return 0;
}

/**
 * cli_input_line_awaits_result() - must the writer wait for a `result` after this line?
 * @line: a line from cli_request_build_input()
 *
 * A history user line ("shouldQuery":false) still produces a `result`; writing the next line
 * before it arrives merges the two user turns or misorders the history (cli/README §10).
 *
 * Return: true for a user line with "shouldQuery":false.
 */
bool cli_input_line_awaits_result(const json_t *line) {
        return streq_ptr(json_string_value(json_object_get(line, "type")), "user") &&
               json_is_false(json_object_get(line, "shouldQuery"));
}

void cli_input_done(CliInput *in) {
        if (!in)
                return;
        for (size_t i = 0; i < in->n; i++)
                free(in->lines[i].text);
        free(in->lines);
        *in = (CliInput) {};
}

/**
 * cli_input_copy() - a second, independent copy of @in (n choices each send the conversation)
 * Return: 0, or -ENOMEM (@ret then empty).
 */
int cli_input_copy(const CliInput *in, CliInput *ret) {
        CliInput out = {};

        *ret = (CliInput) {};
        if (in->n == 0)
                return 0;
        out.lines = calloc(in->n, sizeof(*out.lines));
        if (!out.lines)
                return -ENOMEM;
        for (; out.n < in->n; out.n++) {
                const CliInputLine *l = &in->lines[out.n];
                char *t = malloc(l->len + 1);
                if (!t) {
                        cli_input_done(&out);
                        return -ENOMEM;
                }
                memcpy(t, l->text, l->len);
                t[l->len] = 0;
                out.lines[out.n] = (CliInputLine) { .text = t, .len = l->len, .awaits_result = l->awaits_result };
        }
        *ret = out;
        return 0;
}

/**
 * cli_input_serialize() - the stdin lines as text
 * @lines: a JSON array from cli_request_build_input(); its elements are replaced by null as
 *         they are serialized, so the tree and the text need not coexist whole
 * @ret: the lines, for cli_input_done()
 *
 * Compact JSON, as jansson writes it: U+0000 is escaped, so no text holds a NUL before its end.
 *
 * Return: 0; -EINVAL for an element that is not an object; -ENOMEM.
 */
int cli_input_serialize(json_t *lines, CliInput *ret) {
        _cleanup_(cli_input_done) CliInput in = {};
        size_t n = json_array_size(lines);

        assert(ret);

        if (n > 0) {
                in.lines = calloc(n, sizeof(CliInputLine));
                if (!in.lines)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *line = json_array_get(lines, i);
                CliInputLine *l = &in.lines[in.n];

                if (!json_is_object(line))
                        return -EINVAL;
                l->text = json_dumps(line, JSON_COMPACT);
                if (!l->text)
                        return -ENOMEM;
                l->len = strlen(l->text);
                l->awaits_result = cli_input_line_awaits_result(line);
                in.n++;
                (void) json_array_set_new(lines, i, json_null());
        }
        *ret = in;
        in = (CliInput) {};
        return 0;
}

/**
 * cli_request_serialize_input() - the stdin lines of a request, as text
 * @r: the request
 * @ret: the lines, for cli_input_done()
 *
 * Return: as cli_request_build_input(); -ENOMEM.
 */
int cli_request_serialize_input(const CliRequest *r, CliInput *ret) {
        json_auto_t *lines = NULL;
        int k;

        k = cli_request_build_input(r, &lines);
        if (k < 0)
                return k;
        return cli_input_serialize(lines, ret);
}
