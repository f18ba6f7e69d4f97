/* SPDX-License-Identifier: MIT */

/*
 * POST /v1/messages/count_tokens, the pure half (see count-tokens.h; the process half is
 * src/count-tokens.c).
 *
 * Measured with CLI 2.1.197 (tests/data/transcripts/s5a_get_context_usage_session_cost): an
 * idle process reports totalTokens 50 (its system prompt 28, "Messages" 22 of overhead); after a
 * shouldQuery:false user line of ~1 KB, 320; the difference, 270, is that message. The CLI gets
 * each figure from the upstream count_tokens endpoint, so it is upstream's count of the text
 * the CLI would send, not an estimate of the proxy's.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "api/count-tokens.h"
#include "util/macro.h"

/* Append @name to the comma-separated list *@list (x-proxy-unsupported). */
static int unsupported_add(char **list, const char *name) {
        char *n;

        if (asprintf(&n, "%s%s%s", *list ?: "", *list ? "," : "", name) < 0)
                return -ENOMEM;
        free(*list);
        *list = n;
        return 0;
}

/**
 * count_tokens_request_parse() - validate a count_tokens body
 * @body: the parsed JSON body
 * @env: the request's environment
 * @ret: the conversation (ret->cli) and the accepted-without-effect names
 * @reterr: the 400 on a client error
 *
 * The body is a Messages body without max_tokens (it has none) and without streaming: the
 * Messages parser sees a copy with max_tokens 1 and stream false, so every other rule (roles,
 * blocks, images, the final-assistant refusal) is the same as for /v1/messages.
 *
 * Return: 0; -EINVAL / -EBADMSG with @reterr set; -ENOMEM.
 */
int count_tokens_request_parse(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr) {
        json_auto_t *copy = NULL;
        ApiEnv e = *env;
        int k;

        if (!json_is_object(body))
                return api_error_request(reterr, "", "The request body must be a JSON object");
        copy = json_copy((json_t *) body);
        if (!copy || json_object_set_new(copy, "max_tokens", json_integer(1)) < 0 ||
            json_object_set_new(copy, "stream", json_false()) < 0)
                return -ENOMEM;
        e.system_prompt_mode = SYSTEM_PROMPT_USER;
        k = anthropic_request_parse(copy, &e, ret, reterr);
        if (k < 0)
                return k;
        /* The count's CLI runs without the request's tools server and schema, and the CLI counts
         * MCP tools as 0 anyway until loaded (s5a: mcpTools tokens 0, isLoaded false): their
         * definitions are not in the figure, which x-proxy-unsupported says. */
        if (json_array_size(ret->cli.tools) > 0 && (k = unsupported_add(&ret->unsupported, "tools")) < 0)
                return k;
        if (ret->cli.json_schema && (k = unsupported_add(&ret->unsupported, "output_config")) < 0)
                return k;
        /* Registry servers are not started for a count: their tools are not in it either. */
        if (ret->mcp_servers && ret->mcp_servers[0] &&
            (k = unsupported_add(&ret->unsupported, "metadata.mcp_servers")) < 0)
                return k;
        return 0;
}

/**
 * count_tokens_history_input() - the conversation as history only
 * @r: the parsed conversation
 * @ret: its serialized stdin lines
 *
 * The last user line is the one that would ask the model: it gets "shouldQuery":false like the
 * others, so the CLI adds it to the conversation, acknowledges it with a `result` and asks
 * nothing (cli/README §10).
 *
 * Return: 0; -ENOMEM.
 */
int count_tokens_history_input(const CliRequest *r, CliInput *ret) {
        json_auto_t *lines = NULL;
        size_t i;
        json_t *l;
        int k;

        k = cli_request_build_input(r, &lines);
        if (k < 0)
                return k;
        json_array_foreach(lines, i, l)
                if (streq_ptr(json_string_value(json_object_get(l, "type")), "user") &&
                    json_object_set_new(l, "shouldQuery", json_false()) < 0)
                        return -ENOMEM;
        return cli_input_serialize(lines, ret);
}

/**
 * count_tokens_usage_total() - the total of a get_context_usage answer
 * @usage: the answer's "response" object ({categories, totalTokens, maxTokens, ...})
 * @ret: totalTokens
 *
 * Return: 0; -EBADMSG without a non-negative integer totalTokens.
 */
int count_tokens_usage_total(const json_t *usage, int64_t *ret) {
        const json_t *t = json_object_get(usage, "totalTokens");

        if (!json_is_integer(t) || json_integer_value(t) < 0)
                return -EBADMSG;
        *ret = (int64_t) json_integer_value(t);
        return 0;
}

/**
 * count_tokens_derive() - the request's share of a total
 * @total: totalTokens with the conversation written
 * @baseline: totalTokens of a process of the same model with no conversation
 * @ret: the difference
 *
 * Return: 0; -ERANGE when the difference is not positive (never made up into a figure).
 */
int count_tokens_derive(int64_t total, int64_t baseline, int64_t *ret) {
        if (total <= baseline)
                return -ERANGE;
        *ret = total - baseline;
        return 0;
}

int count_tokens_to_json(int64_t tokens, json_t **ret) {
        json_t *j = json_pack("{s:I}", "input_tokens", (json_int_t) tokens);

        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}
