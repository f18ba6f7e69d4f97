/* SPDX-License-Identifier: MIT */

/*
 * The MCP registry file (PROXY_MCP_CONFIG) and what a request picks from it. The file is the
 * operator's, but a parser that crashes on it is a daemon that never starts or dies on reload.
 * Each input is read three ways: as the file; its lines as x-mcp-servers header values picked
 * from a fixed registry; and each line as a CLI stdout line through the registry tool filter.
 * Invariants: a refusal says why; a pick is JSON holding exactly the picked servers, and a
 * failed pick is a 400 envelope; the filter never lets a registry tool_use block through.
 */

#include <stdlib.h>
#include <string.h>

#include "cli/stream.h"
#include "fuzz-check.h"
#include "fuzz.h"
#include "mcp-filter.h"
#include "mcp-registry.h"
#include "util/macro.h"
#include "util/strv.h"

static const char fixed[] = "{\"mcpServers\":{\"reg\":{\"command\":\"node\",\"env\":{\"K\":\"v\"}},"
                            "\"web-2\":{\"command\":\"w\",\"args\":[\"-x\"]}}}";

static void pick(const McpRegistry *reg, const char *header) {
        _cleanup_strv_free_ char **names = NULL, **servers = NULL;
        _cleanup_free_ char *config = NULL;
        ApiError err = {};
        int r;

        FUZZ_CHECK(mcp_names_from_header(header, &names) >= 0, "header split failed");
        r = mcp_registry_select(reg, names, "x-mcp-servers", &config, &servers, &err);
        if (r < 0) {
                fuzz_check_api_error(API_OPENAI, &err);
                FUZZ_CHECK(err.status == 400, "status %d", err.status);
                api_error_done(&err);
                return;
        }
        if (!names) {
                FUZZ_CHECK(!config && !servers, "a pick without names");
                return;
        }
        json_auto_t *j = json_loads(config, 0, NULL);
        FUZZ_CHECK(j && json_object_size(json_object_get(j, "mcpServers")) == strv_length(servers),
                   "config does not hold exactly the picked servers");
        for (char **n = servers; *n; n++)
                FUZZ_CHECK(json_object_get(json_object_get(j, "mcpServers"), *n), "'%s' missing", *n);
}

static void filter_line(McpFilter *f, const char *line, size_t len) {
        CliEvent ev = {}, out = {};
        int v;

        if (cli_event_parse(line, len, &ev) < 0)
                return;
        v = mcp_filter_event(f, &ev, &out);
        FUZZ_CHECK(v >= 0 || v == -ENOMEM, "filter failed: %d", v);
        if (v == MCP_FILTER_REPLACED) {
                FUZZ_CHECK(out.type == ev.type, "the replacement changed the line's type");
                if (out.type == CLI_EVENT_ASSISTANT) {
                        _cleanup_free_ char *t = json_dumps(json_object_get(out.payload, "content"), JSON_COMPACT);
                        const json_t *b;
                        size_t i;

                        json_array_foreach(json_object_get(out.payload, "content"), i, b)
                                FUZZ_CHECK(!(streq_ptr(json_string_value(json_object_get(b, "type")), "tool_use") &&
                                             strneq(json_string_value(json_object_get(b, "name")) ?: "", "mcp__reg__", 10)),
                                           "a registry call passed: %s", t);
                }
        }
        cli_event_done(&out);
        cli_event_done(&ev);
}

/**
 * LLVMFuzzerTestOneInput() - one fuzz input
 * @data: the input bytes (not NUL-terminated)
 * @size: their length
 *
 * Return: 0 (libFuzzer reserves other values).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        char err[512] = "", *servers[] = { (char *) "reg", NULL };
        McpRegistry *reg = NULL, *fixed_reg = NULL;
        McpFilter *f = NULL;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        r = mcp_registry_parse((const char *) data, size, &reg, err, sizeof(err));
        if (r < 0)
                FUZZ_CHECK(err[0] && !reg, "mcp_registry_parse() refused without saying why");
        else
                FUZZ_CHECK(reg, "no registry");

        text = strndup((const char *) data, size);
        if (!text || mcp_registry_parse(fixed, strlen(fixed), &fixed_reg, NULL, 0) < 0 ||
            mcp_filter_new(&f, servers) < 0)
                abort();
        for (char *line = text, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                pick(fixed_reg, line);
                pick(reg, line);
                pick(NULL, line);
                filter_line(f, line, strlen(line));
        }
        mcp_filter_free(f);
        mcp_registry_free(fixed_reg);
        mcp_registry_free(reg);
        return 0;
}
