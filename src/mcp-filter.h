/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: the CLI's calls of registry MCP tools, taken out of what the client sees. */

#include "cli/stream.h"

typedef struct McpFilter McpFilter;

typedef enum McpFilterVerdict {
        MCP_FILTER_PASS,        /* give the event on as it is */
        MCP_FILTER_DROP,        /* a registry tool call's part: nothing for the client */
        MCP_FILTER_REPLACED,    /* give *ret on instead (the caller frees it with cli_event_done()) */
} McpFilterVerdict;

/* Tool names beginning with mcp__<server>__ for each of @servers are hidden. */
int mcp_filter_new(McpFilter **ret, char *const *servers);
McpFilter *mcp_filter_free(McpFilter *f);
/* Return: a McpFilterVerdict (>= 0), or -ENOMEM. */
int mcp_filter_event(McpFilter *f, const CliEvent *ev, CliEvent *ret);
