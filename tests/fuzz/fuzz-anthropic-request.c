/* SPDX-License-Identifier: MIT */

/*
 * A /v1/messages body is attacker-controlled (with auth off, by anyone who can reach the port).
 * The body goes through json_loadb() with the flags session.c uses, anthropic_request_parse(), and
 * on success through everything that turns the request into a CLI run: argv, the stdin lines and
 * the stream translator's constructor. The parse runs under both system-prompt modes that change
 * the argv, and with thinking enabled, so those branches are reachable from one input.
 *
 * Invariants (fuzz-check.h): the value count session.c makes before parsing equals the tree's; a
 * refused body is an HTTP error with a type and message; an accepted one gives an argv that runs
 * the configured CLI, stdin lines that serialise and end with the one line that queries, a stream
 * translator, an initialize exactly when it has client tools or a structured-output schema (an
 * object), and for a follow-up a result for every call (parking, client-tools.c).
 */

#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "api/client-tools.h"
#include "cli/control.h"
#include "fuzz-check.h"
#include "fuzz.h"
#include "util/json-count.h"
#include "util/macro.h"

static void run(const json_t *body, SystemPromptMode mode, bool thinking) {
        ApiEnv env = {
                .message_id = "msg_fuzz",
                .created = 1700000000,
                .default_model = "sonnet",
                .default_effort = thinking ? "high" : NULL,
                .effort_header = thinking ? "low" : NULL,
                .enable_thinking = thinking,
                .system_prompt_mode = mode,
        };
        ApiRequest req = {};
        ApiError err = API_ERROR_NULL;

        if (anthropic_request_parse(body, &env, &req, &err) >= 0) {
                _cleanup_(anthropic_stream_freep) AnthropicStream *s = NULL;

                fuzz_check_cli_request(&req.cli);
                FUZZ_CHECK(anthropic_stream_new(&s, &req, &env) >= 0 && s, "no stream translator");

                /* Client tools and structured output: the one initialize, and what parking reads
                 * of a follow-up. */
                json_auto_t *init = NULL, *late = NULL, *ids = NULL, *results = NULL;
                uint64_t d1, d2;
                int k;

                FUZZ_CHECK(cli_control_build_cold_initialize(&req.cli, &init) >= 0 &&
                           cli_control_build_late_config(&req.cli, &late) >= 0, "no control config");
                FUZZ_CHECK(!init == (json_array_size(req.cli.tools) == 0 && !req.cli.json_schema),
                           "an initialize without tools or schema, or none with them");
                FUZZ_CHECK(!req.cli.json_schema || json_is_object(req.cli.json_schema), "a schema that is not an object");
                FUZZ_CHECK(client_tools_digest(&req.cli, json_array_size(req.cli.messages), &d1) >= 0, "no digest");
                k = client_tools_followup(req.cli.messages, &ids, &results);
                FUZZ_CHECK(k >= 0, "follow-up check failed");
                if (k > 0) {
                        FUZZ_CHECK(json_array_size(ids) > 0 && json_object_size(results) == json_array_size(ids),
                                   "a follow-up without a result per call");
                        FUZZ_CHECK(client_tools_digest(&req.cli, json_array_size(req.cli.messages) - 2, &d2) >= 0,
                                   "no prefix digest");
                }
        } else
                fuzz_check_api_error(API_ANTHROPIC, &err);
        api_request_done(&req);
        api_error_done(&err);
}

/**
 * LLVMFuzzerTestOneInput() - one fuzz input
 * @data: the input bytes (not NUL-terminated)
 * @size: their length
 *
 * Treats @data as a /v1/messages body and, if it parses, builds the CLI run from it.
 *
 * Return: 0 (libFuzzer reserves other values).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_auto_t *body = NULL;
        json_error_t jerr;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (!body)
                return 0;
        /* session.c refuses a body on this count before parsing it: it must be exact. */
        FUZZ_CHECK(json_count_values((const char *) data, size, SIZE_MAX - 1) == json_count_tree(body),
                   "json_count_values() says %zu, jansson built %zu", json_count_values((const char *) data, size, SIZE_MAX - 1),
                   json_count_tree(body));
        run(body, SYSTEM_PROMPT_USER, false);
        run(body, SYSTEM_PROMPT_APPEND, true);
        run(body, SYSTEM_PROMPT_REPLACE, false);
        return 0;
}
