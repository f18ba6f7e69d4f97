/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: the operator's MCP server registry (PROXY_MCP_CONFIG) and a request's pick from it. */

#include <jansson.h>
#include <stddef.h>

#include "api/api.h"

/* The longest registry server name: the model sees mcp__<name>__<tool>, at most 64 characters. */
#define MCP_SERVER_NAME_MAX 48
/* The name of the proxy's own in-process server for client tools: no registry server may take it. */
#define MCP_SERVER_NAME_RESERVED "cp"
/* The registry file is small; anything bigger is a mistake (the wrong file named). */
#define MCP_REGISTRY_FILE_MAX (1u << 20)

typedef struct McpRegistry McpRegistry;

int mcp_registry_parse(const char *text, size_t len, McpRegistry **ret, char *reterr, size_t errlen);
int mcp_registry_load_file(const char *path, McpRegistry **ret, char *reterr, size_t errlen);
McpRegistry *mcp_registry_free(McpRegistry *r);
size_t mcp_registry_size(const McpRegistry *r);

/* Names a request activates: metadata.mcp_servers (array) and the x-mcp-servers header (comma list). */
int mcp_names_from_json(const json_t *v, const char *param, char ***names, ApiError *reterr);
int mcp_names_from_header(const char *value, char ***names);

/*
 * The registry's entries for @names as the text of a --mcp-config file ({"mcpServers":{...}}, only
 * those servers), and the names in order without duplicates. No names: 0, both NULL. With both
 * NULL only checks @names.
 */
/*
 * For a pooled process (spawned without MCP servers): the control requests that give it the
 * servers of a --mcp-config text and allow their tools, in order. Send them before any
 * initialize that declares sdkMcpServers: mcp_set_servers replaces the servers declared so far.
 */
int mcp_registry_build_late_config(const char *mcp_config, char *const *servers, json_t **ret_requests);

int mcp_registry_select(const McpRegistry *r, char *const *names, const char *param, char **ret_config,
                        char ***ret_servers, ApiError *reterr);
