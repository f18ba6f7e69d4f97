/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: a conversation for the CLI -> its argv and its stream-json stdin lines. */

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum SystemPromptMode {
        SYSTEM_PROMPT_USER,     /* client system text goes into the first user turn (default) */
        SYSTEM_PROMPT_APPEND,   /* --append-system-prompt-file */
        SYSTEM_PROMPT_REPLACE,  /* --system-prompt-file */
        _SYSTEM_PROMPT_MODE_MAX,
        _SYSTEM_PROMPT_MODE_INVALID = -EINVAL,
} SystemPromptMode;

const char *system_prompt_mode_to_string(SystemPromptMode m);
SystemPromptMode system_prompt_mode_from_string(const char *s);

/*
 * The conversation as the CLI will get it. `messages` is an owned JSON array of
 * {"role":"user"|"assistant","content":[Anthropic content blocks]} with at least one element,
 * alternating roles merged already, the last one a user turn.
 */
typedef struct CliRequest {
        char *model;            /* --model value (alias resolved) */
        char *effort;           /* --effort value, NULL: none */
        bool thinking;          /* false: --thinking disabled */
        int64_t thinking_budget;/* > 0: --max-thinking-tokens N */
        char *system_prompt;    /* client system text, NULL: none */
        size_t system_prompt_len;/* its length, as it may hold a NUL ("\u0000"); 0: strlen() */
        SystemPromptMode system_prompt_mode;
        json_t *messages;
        json_t *json_schema;    /* owned: structured output's schema (initialize{jsonSchema}), NULL: none */
        char *mcp_config;       /* registry servers for --mcp-config: {"mcpServers":{...}}, NULL: none */
        char **mcp_servers;     /* their names, each allowed with --allowedTools mcp__<name>, strv */
        json_t *tools;          /* the client's tools (api/client-tools.c), served by the "sdk" MCP
                                 * server "cp"; NULL or empty: none offered */
} CliRequest;

void cli_request_done(CliRequest *r);

/*
 * argv for one run, NULL-terminated, owned. `system_prompt_path` is where the I/O side put the
 * system prompt for APPEND/REPLACE modes (ignored otherwise; NULL when there is none).
 */
int cli_request_build_argv(const CliRequest *r, const char *claude_path, const char *system_prompt_path,
                           char ***ret_argv);

/* Append --mcp-config @mcp_config_path and --allowedTools mcp__<name> for r->mcp_servers. */
int cli_request_extend_mcp_argv(const CliRequest *r, const char *mcp_config_path, char ***argv);

/*
 * The stdin lines, in order, as a new JSON array of line objects. A `user` line with
 * "shouldQuery":false must be followed by waiting for one `result` line before the next line is
 * written (cli/README §10); the writer checks cli_input_line_awaits_result(). After the last line
 * the writer keeps stdin open until the run's final `result` (room for the control channel) and
 * then closes it.
 */
int cli_request_build_input(const CliRequest *r, json_t **ret_lines);
bool cli_input_line_awaits_result(const json_t *line);

/* One stdin line, serialized (no newline), and whether a `result` must come before the next. */
typedef struct CliInputLine {
        char *text;
        size_t len;
        bool awaits_result;
} CliInputLine;

/*
 * The conversation's stdin lines as text: what a request keeps once its body's tree is gone (a
 * tree of many small blocks is hundreds of bytes a block; its text is the block itself).
 */
typedef struct CliInput {
        CliInputLine *lines;
        size_t n;
} CliInput;

/* Serialize cli_request_build_input()'s lines; each line's tree is dropped once it is text. */
int cli_input_serialize(json_t *lines, CliInput *ret);
/* cli_request_build_input() and cli_input_serialize() in one. */
int cli_request_serialize_input(const CliRequest *r, CliInput *ret);
void cli_input_done(CliInput *in);
int cli_input_copy(const CliInput *in, CliInput *ret);
