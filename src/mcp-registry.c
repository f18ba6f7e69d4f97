/* SPDX-License-Identifier: MIT */

/*
 * The MCP server registry: an operator-owned file (PROXY_MCP_CONFIG) of stdio MCP servers,
 *
 *   {"mcpServers":{"NAME":{"command":"...","args":["..."],"env":{"K":"V"}}}}
 *
 * and a request's pick from it by name (Anthropic metadata.mcp_servers, or the x-mcp-servers
 * header on any route). The CLI runs the picked servers and calls their tools itself: they are
 * handed to it as a --mcp-config file holding only those servers (mcp_registry_select()), so a
 * server's `env` — typically its credentials — reaches the CLI through a private file and from
 * there only that server's process, never an argv, an environment or a log of ours.
 *
 * The file is checked strictly, once, when it is loaded (start-up, reload): a typo in it should
 * stop the start rather than surface as a CLI failure in some later request. Only stdio servers:
 * the format predecessors' users know. Messages never quote an `env` value.
 *
 * This module reads the file and nothing else: no logging, no spawning, no HTTP.
 */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp-registry.h"
#include "util/env-name.h"
#include "util/macro.h"
#include "util/strv.h"

struct McpRegistry {
        /* name -> {"command","args"?,"env"?}, checked and holding only those keys */
        json_t *servers;
};

static void set_error(char *reterr, size_t errlen, const char *fmt, ...) _printf_(3, 4);
static void set_error(char *reterr, size_t errlen, const char *fmt, ...) {
        va_list ap;

        if (!reterr || errlen == 0)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(reterr, errlen, fmt, ap);
        va_end(ap);
}

/* A string without an embedded NUL: each becomes an argv word or an environment entry. */
static const char *clean_string(const json_t *v) {
        const char *s = json_string_value(v);

        return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* Letters, digits, '-' and '_': what the model's tool names (mcp__NAME__tool) allow. */
static bool valid_server_name(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > MCP_SERVER_NAME_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      *s == '-' || *s == '_'))
                        return false;
        return true;
}

/* One server's entry -> its checked copy in *ret. */
static int parse_server(const char *name, const json_t *v, json_t **ret, char *reterr, size_t errlen) {
        json_auto_t *out = json_object();
        const json_t *command, *args, *env, *type, *e;
        const char *key;
        size_t i;

        if (!out)
                return -ENOMEM;
        if (!json_is_object(v)) {
                set_error(reterr, errlen, "mcpServers.%s: must be an object", name);
                return -EINVAL;
        }
        json_object_foreach((json_t *) v, key, e)
                if (!streq(key, "command") && !streq(key, "args") && !streq(key, "env") && !streq(key, "type")) {
                        set_error(reterr, errlen,
                                  "mcpServers.%s: unknown key '%.64s' (a server has command, args and env)", name,
                                  key);
                        return -EINVAL;
                }

        /* The CLI's own spelling of a stdio server may carry "type":"stdio"; others are not for us. */
        type = json_object_get(v, "type");
        if (type && !(json_is_string(type) && streq(json_string_value(type), "stdio"))) {
                set_error(reterr, errlen, "mcpServers.%s.type: only \"stdio\" servers are supported", name);
                return -EINVAL;
        }
        if (type && json_object_set(out, "type", (json_t *) type) < 0)
                return -ENOMEM;

        command = json_object_get(v, "command");
        if (!clean_string(command) || json_string_length(command) == 0) {
                set_error(reterr, errlen, "mcpServers.%s.command: must be a non-empty string", name);
                return -EINVAL;
        }
        if (json_object_set(out, "command", (json_t *) command) < 0)
                return -ENOMEM;

        args = json_object_get(v, "args");
        if (args) {
                if (!json_is_array(args)) {
                        set_error(reterr, errlen, "mcpServers.%s.args: must be an array of strings", name);
                        return -EINVAL;
                }
                json_array_foreach(args, i, e)
                        if (!clean_string(e)) {
                                set_error(reterr, errlen, "mcpServers.%s.args[%zu]: must be a string", name, i);
                                return -EINVAL;
                        }
                if (json_object_set(out, "args", (json_t *) args) < 0)
                        return -ENOMEM;
        }

        env = json_object_get(v, "env");
        if (env) {
                if (!json_is_object(env)) {
                        set_error(reterr, errlen, "mcpServers.%s.env: must be an object of strings", name);
                        return -EINVAL;
                }
                json_object_foreach((json_t *) env, key, e) {
                        if (!env_name_is_valid(key)) {
                                set_error(reterr, errlen, "mcpServers.%s.env: invalid variable name '%.64s'", name,
                                          key);
                                return -EINVAL;
                        }
                        /* The value is never quoted: it is usually a secret. */
                        if (!clean_string(e)) {
                                set_error(reterr, errlen, "mcpServers.%s.env.%s: must be a string", name, key);
                                return -EINVAL;
                        }
                }
                if (json_object_set(out, "env", (json_t *) env) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/**
 * mcp_registry_parse() - check a registry file's text and build the registry
 * @text: the file's contents
 * @len: its length
 * @ret: the new registry
 * @reterr: buffer for a message naming the offending part (may be NULL); values are not quoted
 * @errlen: its size
 *
 * Return: 0; -EINVAL (-EBADMSG for JSON that does not parse) with a message; -ENOMEM.
 */
int mcp_registry_parse(const char *text, size_t len, McpRegistry **ret, char *reterr, size_t errlen) {
        json_auto_t *root = NULL, *servers = json_object();
        const json_t *list, *v;
        json_error_t jerr;
        const char *key;

        assert(text || len == 0);
        assert(ret);

        if (!servers)
                return -ENOMEM;
        root = json_loadb(text ?: "", len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                /* jansson quotes the token it stopped at ("... near 'VALUE'"), which may be a
                 * secret of some env: the line and column say where, without it. */
                char *near = strstr(jerr.text, " near ");
                if (near)
                        *near = '\0';
                set_error(reterr, errlen, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                          jerr.column);
                return -EBADMSG;
        }
        if (!json_is_object(root)) {
                set_error(reterr, errlen, "must be a JSON object {\"mcpServers\":{...}}");
                return -EINVAL;
        }
        json_object_foreach(root, key, v)
                if (!streq(key, "mcpServers")) {
                        set_error(reterr, errlen, "unknown key '%.64s' (expected only \"mcpServers\")", key);
                        return -EINVAL;
                }
        list = json_object_get(root, "mcpServers");
        if (!json_is_object(list)) {
                set_error(reterr, errlen, "\"mcpServers\" is required and must be an object");
                return -EINVAL;
        }
        json_object_foreach((json_t *) list, key, v) {
                json_t *server = NULL;
                int r;

                /* Keys may hold a NUL ("a\u0000b"): jansson's key is then shorter than the text. */
                if (!valid_server_name(key)) {
                        set_error(reterr, errlen,
                                  "mcpServers: invalid server name '%.64s' (1 to %d letters, digits, '-' or '_')",
                                  key, MCP_SERVER_NAME_MAX);
                        return -EINVAL;
                }
                if (streq(key, MCP_SERVER_NAME_RESERVED)) {
                        set_error(reterr, errlen,
                                  "mcpServers: the name '%s' is reserved for the proxy's own tool server", key);
                        return -EINVAL;
                }
                r = parse_server(key, v, &server, reterr, errlen);
                if (r < 0)
                        return r;
                if (json_object_set_new(servers, key, server) < 0)
                        return -ENOMEM;
        }

        McpRegistry *reg = calloc(1, sizeof(*reg));
        if (!reg)
                return -ENOMEM;
        reg->servers = TAKE_PTR(servers);
        *ret = reg;
        return 0;
}

/**
 * mcp_registry_load_file() - read and check the registry file
 * @path: PROXY_MCP_CONFIG
 * @ret: the new registry
 * @reterr: buffer for a message that names the file (may be NULL)
 * @errlen: its size
 *
 * Return: 0; -errno when the file cannot be read; -EFBIG past MCP_REGISTRY_FILE_MAX; what
 * mcp_registry_parse() returns.
 */
int mcp_registry_load_file(const char *path, McpRegistry **ret, char *reterr, size_t errlen) {
        _cleanup_free_ char *buf = malloc(MCP_REGISTRY_FILE_MAX + 1);
        char why[400] = "";
        size_t n;
        FILE *f;
        int r;

        assert(path);
        if (!buf)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                set_error(reterr, errlen, "PROXY_MCP_CONFIG: cannot read %s: %s", path, strerror(-r));
                return r;
        }
        n = fread(buf, 1, MCP_REGISTRY_FILE_MAX + 1, f);
        r = ferror(f) ? -EIO : 0;
        fclose(f);
        if (r < 0) {
                set_error(reterr, errlen, "PROXY_MCP_CONFIG: cannot read %s: %s", path, strerror(-r));
                return r;
        }
        if (n > MCP_REGISTRY_FILE_MAX) {
                set_error(reterr, errlen, "PROXY_MCP_CONFIG: %s is larger than %u bytes", path,
                          MCP_REGISTRY_FILE_MAX);
                return -EFBIG;
        }
        r = mcp_registry_parse(buf, n, ret, why, sizeof(why));
        if (r < 0)
                set_error(reterr, errlen, "PROXY_MCP_CONFIG: %s: %s", path, why);
        return r;
}

/**
 * mcp_registry_free() - free a registry
 * @r: the registry (may be NULL)
 *
 * Return: NULL.
 */
McpRegistry *mcp_registry_free(McpRegistry *r) {
        if (r) {
                json_decref(r->servers);
                free(r);
        }
        return NULL;
}

/**
 * mcp_registry_size() - how many servers the registry holds
 * @r: the registry (may be NULL: none)
 *
 * Return: the count.
 */
size_t mcp_registry_size(const McpRegistry *r) {
        return r ? json_object_size(r->servers) : 0;
}

/**
 * mcp_registry_build_late_config() - a pooled process's requests for the registry servers
 * @mcp_config: the text mcp_registry_select() made ({"mcpServers":{...}})
 * @servers: their names
 * @ret_requests: new array: mcp_set_servers {servers}, apply_flag_settings {permissions.allow}
 *
 * What --mcp-config and --allowedTools mcp__NAME do at spawn, measured with the real CLI 2.1.197
 * on a pre-started process: mcp_set_servers with stdio servers starts them (its answer comes once
 * they are connected; a user line written right after it waits for them), and
 * apply_flag_settings {"permissions":{"allow":[...]}} allows their tools without taking away
 * tools an argv --allowedTools allowed. mcp_set_servers *replaces* the process's dynamic servers:
 * after an initialize that declared sdkMcpServers ["cp"] it answered "removed":["cp"], before it
 * both stayed. Hence the order rule in the header. The servers' env travels in the request, over
 * the CLI's stdin: never argv or environment.
 *
 * Return: 0; -EINVAL for a text that is not such an object; -ENOMEM.
 */
int mcp_registry_build_late_config(const char *mcp_config, char *const *servers, json_t **ret_requests) {
        json_auto_t *root = NULL, *requests = json_array(), *allow = json_array(), *list = NULL;
        const json_t *picked;
        const char *name;
        json_t *server;

        assert(mcp_config);
        assert(ret_requests);

        root = json_loads(mcp_config, JSON_REJECT_DUPLICATES, NULL);
        picked = json_object_get(root, "mcpServers");
        if (!json_is_object(picked))
                return -EINVAL;
        list = json_deep_copy(picked);
        if (!requests || !allow || !list)
                return -ENOMEM;
        /* The spelling that was measured: "type" said. */
        json_object_foreach(list, name, server)
                if (!json_object_get(server, "type") && json_object_set_new(server, "type", json_string("stdio")) < 0)
                        return -ENOMEM;
        for (char *const *n = servers; n && *n; n++) {
                char *tool = NULL;

                if (asprintf(&tool, "mcp__%s", *n) < 0)
                        return -ENOMEM;
                if (json_array_append_new(allow, json_string(tool)) < 0) {
                        free(tool);
                        return -ENOMEM;
                }
                free(tool);
        }
        if (json_array_append_new(requests, json_pack("{s:s,s:O}", "subtype", "mcp_set_servers", "servers", list)) < 0 ||
            json_array_append_new(requests, json_pack("{s:s,s:{s:{s:O}}}", "subtype", "apply_flag_settings", "settings",
                                                      "permissions", "allow", allow)) < 0)
                return -ENOMEM;
        *ret_requests = TAKE_PTR(requests);
        return 0;
}

/* Append @name unless it is there already: asking for a server twice runs it once. */
static int names_add(char ***names, const char *name) {
        if (strv_contains(*names, name))
                return 0;
        return strv_extend(names, name);
}

/**
 * mcp_names_from_json() - the server names of metadata.mcp_servers
 * @v: the value (NULL or null: none)
 * @param: its name for the error ("metadata.mcp_servers")
 * @names: strv the names are appended to (duplicates dropped)
 * @reterr: a 400 when @v is not an array of non-empty strings
 *
 * Whether the names exist is mcp_registry_select()'s business: the registry may change (reload)
 * between the parse and the run.
 *
 * Return: 0; -EINVAL (reterr filled); -ENOMEM.
 */
int mcp_names_from_json(const json_t *v, const char *param, char ***names, ApiError *reterr) {
        const json_t *e;
        size_t i;
        int r;

        assert(names);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_array(v))
                return api_error_request(reterr, param, "%s: must be an array of MCP server names", param);
        json_array_foreach(v, i, e) {
                const char *s = clean_string(e);

                if (!s || !*s)
                        return api_error_request(reterr, param, "%s[%zu]: must be a non-empty string", param, i);
                r = names_add(names, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/**
 * mcp_names_from_header() - the server names of an x-mcp-servers header
 * @value: the header's value, "a, b" (NULL: none)
 * @names: strv the names are appended to (empty items and duplicates dropped)
 *
 * Return: 0; -ENOMEM.
 */
int mcp_names_from_header(const char *value, char ***names) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        assert(names);
        if (!value)
                return 0;
        r = strv_split_trim(value, ",", &l);
        if (r < 0)
                return r;
        for (char **n = l; n && *n; n++) {
                r = names_add(names, *n);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "a, b, c" of the registry's names, cut short with "..." past the error message's room. */
static void list_names(const McpRegistry *r, char *buf, size_t size) {
        const char *key;
        const json_t *v;
        size_t len = 0;

        buf[0] = '\0';
        json_object_foreach(r->servers, key, v) {
                int k = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", key);

                if (k < 0 || (size_t) k >= size - len) {
                        if (size >= 4)
                                memcpy(buf + size - 4, "...", 4);
                        return;
                }
                len += (size_t) k;
        }
}

/**
 * mcp_registry_select() - the --mcp-config text for the servers a request named
 * @r: the registry; NULL when PROXY_MCP_CONFIG is not set
 * @names: the names asked for (NULL or empty: none)
 * @param: where they came from, for the error ("metadata.mcp_servers", "x-mcp-servers")
 * @ret_config: the new text {"mcpServers":{NAME:{...}}} holding only @names, NULL when none;
 *              NULL: only check the names
 * @ret_servers: the new strv of @names in order, NULL when none; NULL with @ret_config
 * @reterr: a 400 for a name the registry does not hold, or any name without a registry
 *
 * Return: 0; -EINVAL (reterr filled); -ENOMEM.
 */
int mcp_registry_select(const McpRegistry *r, char *const *names, const char *param, char **ret_config,
                        char ***ret_servers, ApiError *reterr) {
        _cleanup_strv_free_ char **servers = NULL;
        json_auto_t *picked = NULL, *root = NULL;
        char *text;
        int k;

        assert(!ret_config == !ret_servers);

        if (ret_config)
                *ret_config = NULL;
        if (ret_servers)
                *ret_servers = NULL;
        if (strv_length(names) == 0)
                return 0;
        if (!r)
                return api_error_request(reterr, param,
                                         "MCP server registry is not configured. Set PROXY_MCP_CONFIG to enable it.");
        picked = json_object();
        if (!picked)
                return -ENOMEM;
        for (char *const *n = names; *n; n++) {
                json_t *server = json_object_get(r->servers, *n);
                char avail[512];

                /* A name no registry could hold is not quoted back: it may be any bytes (a
                 * header's), which an error body must not carry. */
                if (!valid_server_name(*n))
                        return api_error_request(reterr, param,
                                                 "%s: invalid MCP server name (1 to %d letters, digits, '-' or '_')",
                                                 param, MCP_SERVER_NAME_MAX);
                if (!server) {
                        list_names(r, avail, sizeof(avail));
                        return api_error_request(reterr, param, "Unknown MCP server: \"%.64s\". Available: %s", *n,
                                                 avail[0] ? avail : "(none)");
                }
                if (json_object_set(picked, *n, server) < 0)
                        return -ENOMEM;
                k = names_add(&servers, *n);
                if (k < 0)
                        return k;
        }
        if (!ret_config)
                return 0;
        root = json_pack("{sO}", "mcpServers", picked);
        if (!root)
                return -ENOMEM;
        text = json_dumps(root, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        *ret_config = text;
        *ret_servers = TAKE_PTR(servers);
        return 0;
}
