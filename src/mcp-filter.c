/* SPDX-License-Identifier: MIT */

/*
 * A request's registry MCP servers (mcp-registry.c) are the CLI's business: it calls their tools
 * and feeds the answers back to the model within one run. Its stdout still shows those calls —
 * the tool_use blocks of each intermediate upstream message, as stream events and as `assistant`
 * lines — and the translators would hand them to the client as tool calls it never offered and
 * cannot answer (the predecessor's defect 4). This filter sits between a run's events and its
 * translator and takes them out:
 *
 *   stream_event content_block_start {tool_use, name mcp__<server>__*}  -> dropped, index marked
 *   stream_event content_block_delta/stop at a marked index              -> dropped
 *   stream_event message_delta stop_reason "tool_use", every tool_use of
 *                that message hidden                                     -> stop_reason "end_turn"
 *   assistant    content with such blocks                                -> those blocks removed
 *                                                                           (dropped if none left)
 *
 * The translators renumber the blocks that remain (they already close gaps left by dropped
 * thinking blocks). `user` lines carrying the tool results are left alone: no translator shows
 * them. Everything else passes unchanged, and a run without registry servers has no filter.
 * The model's text around the calls stays: it is part of the answer.
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp-filter.h"
#include "util/macro.h"
#include "util/strv.h"

/* Upstream block indices of one message tracked; a message with more blocks is not plausible,
 * and a block beyond it is simply not hidden. */
#define MCP_FILTER_BLOCKS_MAX 1024

struct McpFilter {
        char **prefixes;                /* "mcp__<server>__" */
        bool hidden[MCP_FILTER_BLOCKS_MAX];     /* by upstream index, current message */
        unsigned n_hidden, n_shown_tools;       /* tool_use blocks of the current message */
};

/**
 * mcp_filter_new() - a filter for one run
 * @ret: the new filter
 * @servers: the request's registry server names (at least one)
 *
 * Return: 0; -ENOMEM.
 */
int mcp_filter_new(McpFilter **ret, char *const *servers) {
        McpFilter *f;
        int r = 0;

        assert(ret);
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        for (char *const *n = servers; r >= 0 && n && *n; n++) {
                char *p = NULL;

                if (asprintf(&p, "mcp__%s__", *n) < 0)
                        r = -ENOMEM;
                else
                        r = strv_consume(&f->prefixes, p);
        }
        if (r < 0) {
                mcp_filter_free(f);
                return r;
        }
        *ret = f;
        return 0;
}

/**
 * mcp_filter_free() - free a filter
 * @f: the filter (may be NULL)
 *
 * Return: NULL.
 */
McpFilter *mcp_filter_free(McpFilter *f) {
        if (f) {
                strv_free(f->prefixes);
                free(f);
        }
        return NULL;
}

static bool is_hidden_tool(const McpFilter *f, const json_t *block) {
        const char *name = json_string_value(json_object_get(block, "name"));

        if (!streq_ptr(json_string_value(json_object_get(block, "type")), "tool_use") || !name)
                return false;
        for (char **p = f->prefixes; p && *p; p++)
                if (strneq(name, *p, strlen(*p)))
                        return true;
        return false;
}

static int upstream_index(const json_t *event) {
        const json_t *i = json_object_get(event, "index");

        if (!json_is_integer(i) || json_integer_value(i) < 0 || json_integer_value(i) >= MCP_FILTER_BLOCKS_MAX)
                return -1;
        return (int) json_integer_value(i);
}

/* An event of the changed line @root: re-parsed, so the new event is like any other. */
static int replace(json_t *root, CliEvent *ret) {
        _cleanup_free_ char *text = json_dumps(root, JSON_COMPACT);
        int r;

        if (!text)
                return -ENOMEM;
        r = cli_event_parse(text, strlen(text), ret);
        if (r < 0)
                return r == -ENOMEM ? r : -EIO;
        return MCP_FILTER_REPLACED;
}

static int filter_stream(McpFilter *f, const CliEvent *ev, CliEvent *ret) {
        const json_t *event = ev->payload;
        const char *type = json_string_value(json_object_get(event, "type"));
        int i;

        if (streq_ptr(type, "message_start")) {
                memset(f->hidden, 0, sizeof(f->hidden));
                f->n_hidden = f->n_shown_tools = 0;
                return MCP_FILTER_PASS;
        }
        if (streq_ptr(type, "content_block_start")) {
                const json_t *block = json_object_get(event, "content_block");

                i = upstream_index(event);
                if (i < 0)
                        return MCP_FILTER_PASS;
                f->hidden[i] = is_hidden_tool(f, block);
                if (!f->hidden[i]) {
                        if (streq_ptr(json_string_value(json_object_get(block, "type")), "tool_use"))
                                f->n_shown_tools++;
                        return MCP_FILTER_PASS;
                }
                f->n_hidden++;
                return MCP_FILTER_DROP;
        }
        if (streq_ptr(type, "content_block_delta") || streq_ptr(type, "content_block_stop")) {
                i = upstream_index(event);
                return i >= 0 && f->hidden[i] ? MCP_FILTER_DROP : MCP_FILTER_PASS;
        }
        if (streq_ptr(type, "message_delta") && f->n_hidden > 0 && f->n_shown_tools == 0 &&
            streq_ptr(json_string_value(json_object_get(json_object_get(event, "delta"), "stop_reason")), "tool_use")) {
                /* The client sees no call to answer: from its side the message just ended. */
                json_auto_t *root = json_deep_copy(ev->root);
                json_t *delta = json_object_get(json_object_get(root, "event"), "delta");

                if (!root || !delta || json_object_set_new(delta, "stop_reason", json_string("end_turn")) < 0)
                        return -ENOMEM;
                return replace(root, ret);
        }
        return MCP_FILTER_PASS;
}

static int filter_assistant(McpFilter *f, const CliEvent *ev, CliEvent *ret) {
        const json_t *content = json_object_get(ev->payload, "content"), *block;
        json_auto_t *root = NULL;
        json_t *kept;
        size_t i;
        bool any = false;

        json_array_foreach(content, i, block)
                any = any || is_hidden_tool(f, block);
        if (!any)
                return MCP_FILTER_PASS;
        root = json_deep_copy(ev->root);
        kept = json_array();
        if (!root || !kept) {
                json_decref(kept);
                return -ENOMEM;
        }
        json_array_foreach(content, i, block)
                if (!is_hidden_tool(f, block) && json_array_append(kept, (json_t *) block) < 0) {
                        json_decref(kept);
                        return -ENOMEM;
                }
        if (json_array_size(kept) == 0) {
                json_decref(kept);
                return MCP_FILTER_DROP;
        }
        if (json_object_set_new(json_object_get(root, "message"), "content", kept) < 0)
                return -ENOMEM;
        return replace(root, ret);
}

/**
 * mcp_filter_event() - what of a run's event the translator may see
 * @f: the run's filter
 * @ev: the event
 * @ret: with MCP_FILTER_REPLACED, the event to give on instead (new; cli_event_done() it)
 *
 * Return: MCP_FILTER_PASS, MCP_FILTER_DROP or MCP_FILTER_REPLACED; -ENOMEM.
 */
int mcp_filter_event(McpFilter *f, const CliEvent *ev, CliEvent *ret) {
        assert(f);
        assert(ev);
        assert(ret);

        switch (ev->type) {
        case CLI_EVENT_STREAM:
                return filter_stream(f, ev, ret);
        case CLI_EVENT_ASSISTANT:
                return filter_assistant(f, ev, ret);
        default:
                return MCP_FILTER_PASS;
        }
}
