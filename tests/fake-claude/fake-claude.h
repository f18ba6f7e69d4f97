/* SPDX-License-Identifier: MIT */
#pragma once

/* What fake-claude.c shares with fake-tools.c. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

int print_line(const char *s, size_t n);
void log_set(const char *key, json_t *value);
void log_stdin_line(const char *line, size_t n, const json_t *parsed);
int answer_control_request(const json_t *req);
/* Hang (for FAKE_FOREVER_SEC at most, so a broken proxy leaks nothing for long). */
void sleep_forever(void);

/* The host declared the "sdk" MCP server "cp" in an initialize (sdkMcpServers). */
extern bool fake_sdk_cp;

/* Does this transcript hold the CLI's own control requests (an sdk MCP server's conversation)? */
bool fake_tools_transcript(const json_t *parsed_lines);
/* Replay [first, last) of such a transcript, talking to the host over stdin (fake-tools.c). */
int fake_tools_replay(const json_t *lines, const json_t *parsed, size_t first, size_t last, bool ignore_interrupt);
