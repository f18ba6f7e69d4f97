/* SPDX-License-Identifier: MIT */

/*
 * The Responses API's tool list in chat terms (api/responses-tools.h). Namespaces are flattened
 * because the CLI offers one flat list of MCP tools; the separator "__" is what MCP names already
 * use between server and tool, and the client's tool list (echoed on the response) tells on the
 * way back whether a name is a namespace member, so a plain function whose name holds "__" stays
 * itself.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/responses-tools.h"
#include "util/macro.h"

int responses_tools_add_name(char **list, const char *name) {
        size_t len = *list ? strlen(*list) : 0, n = strlen(name);
        char *p;

        for (const char *s = *list; s && *s;) {
                const char *e = strchrnul(s, ',');
                if ((size_t) (e - s) == n && strneq(s, name, n))
                        return 0;
                s = *e ? e + 1 : e;
        }
        p = realloc(*list, len + (len ? 1 : 0) + n + 1);
        if (!p)
                return -ENOMEM;
        if (len)
                p[len++] = ',';
        memcpy(p + len, name, n + 1);
        *list = p;
        return 0;
}

int responses_tools_flat_name(const char *ns, const char *name, char **ret) {
        char *s;

        if (ns ? asprintf(&s, "%s" RESPONSES_NAMESPACE_SEP "%s", ns, name ?: "") < 0 : !(s = strdup(name ?: "")))
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int skip(const json_t *t, char **unsupported) {
        char name[96];

        (void) snprintf(name, sizeof(name), "tools.%s", json_string_value(json_object_get(t, "type")) ?: "(untyped)");
        return responses_tools_add_name(unsupported, name);
}

/* One function (top level or a namespace member, the client's field @at) as a chat tool; @name
 * is the flat name. */
static int add_function(json_t *chat_tools, json_t *paths, const json_t *t, const json_t *name, const char *at) {
        if (json_array_append_new(chat_tools, json_pack("{s:s,s:{s:O?,s:O*,s:O*}}", "type", "function", "function",
                                                        "name", name, "description", json_object_get(t, "description"),
                                                        "parameters", json_object_get(t, "parameters"))) < 0)
                return -ENOMEM;
        return paths && json_array_append_new(paths, json_string(at)) < 0 ? -ENOMEM : 0;
}

static bool is_function(const json_t *t) {
        return streq_ptr(json_string_value(json_object_get(t, "type")), "function");
}

static int add_namespace(json_t *chat_tools, json_t *paths, const json_t *ns, const char *at, char **unsupported,
                         ApiError *err) {
        const json_t *name = json_object_get(ns, "name"), *members = json_object_get(ns, "tools"), *m;
        size_t i;
        int r;

        if (!json_is_string(name) || json_string_length(name) == 0)
                return api_error_request(err, at, "%s: a namespace needs a \"name\"", at);
        if (!json_is_array(members))
                return api_error_request(err, at, "%s: a namespace needs \"tools\", an array of functions", at);
        json_array_foreach(members, i, m) {
                _cleanup_free_ char *flat = NULL;
                json_auto_t *flat_json = NULL;
                char mat[64];

                (void) snprintf(mat, sizeof(mat), "%s.tools.%zu", at, i);
                if (!is_function(m)) {
                        r = skip(m, unsupported);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* A member without a string name is left for the chat parser to refuse, by name. */
                if (!json_is_string(json_object_get(m, "name"))) {
                        r = add_function(chat_tools, paths, m, json_object_get(m, "name"), mat);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = responses_tools_flat_name(json_string_value(name),
                                              json_string_value(json_object_get(m, "name")), &flat);
                if (r < 0)
                        return r;
                flat_json = json_string(flat);
                if (!flat_json)
                        return -ENOMEM;
                r = add_function(chat_tools, paths, m, flat_json, mat);
                if (r < 0)
                        return r;
        }
        return 0;
}

int responses_tools_to_chat(const json_t *tools, json_t *chat_tools, json_t *paths, char **unsupported,
                            ApiError *err) {
        const json_t *t;
        size_t i;
        int r;

        if (!tools || json_is_null(tools))
                return 0;
        if (!json_is_array(tools))
                return api_error_request(err, "tools", "tools: must be an array of tool definitions");
        json_array_foreach(tools, i, t) {
                const char *type = json_string_value(json_object_get(t, "type"));
                char at[32];

                (void) snprintf(at, sizeof(at), "tools.%zu", i);
                if (streq_ptr(type, "function"))
                        r = add_function(chat_tools, paths, t, json_object_get(t, "name"), at);
                else if (streq_ptr(type, "namespace"))
                        r = add_namespace(chat_tools, paths, t, at, unsupported, err);
                else
                        r = skip(t, unsupported);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool responses_tools_split(const json_t *tools, const char *name, const char **ret_ns, const char **ret_name) {
        const json_t *t, *m;
        size_t i, k;

        if (!name)
                return false;
        json_array_foreach(tools, i, t) {
                const char *ns = json_string_value(json_object_get(t, "name"));
                size_t n;

                if (!streq_ptr(json_string_value(json_object_get(t, "type")), "namespace") || !ns)
                        continue;
                n = strlen(ns);
                if (!strneq(name, ns, n) || !strneq(name + n, RESPONSES_NAMESPACE_SEP, strlen(RESPONSES_NAMESPACE_SEP)))
                        continue;
                json_array_foreach(json_object_get(t, "tools"), k, m) {
                        const char *member = json_string_value(json_object_get(m, "name"));

                        if (is_function(m) && streq_ptr(member, name + n + strlen(RESPONSES_NAMESPACE_SEP))) {
                                *ret_ns = ns;
                                *ret_name = member;
                                return true;
                        }
                }
        }
        return false;
}
