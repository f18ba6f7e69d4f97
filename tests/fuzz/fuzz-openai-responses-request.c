/* SPDX-License-Identifier: MIT */

/*
 * A /v1/responses body is attacker-controlled like a /v1/messages one. The body goes through
 * json_loadb() with session.c's flags, openai_responses_request_parse() (which re-states the
 * items as chat messages), and on success through argv, the stdin lines and the Responses
 * translator's constructor; on failure through the OpenAI error envelope.
 */

#include <stdlib.h>

#include "api/openai.h"
#include "fuzz-check.h"
#include "fuzz.h"
#include "util/macro.h"

static void run(const json_t *body, SystemPromptMode mode, bool thinking) {
        ApiEnv env = {
                .message_id = "resp_fuzz",
                .created = 1700000000,
                .default_model = "sonnet",
                .default_effort = thinking ? "high" : NULL,
                .effort_header = thinking ? "low" : NULL,
                .enable_thinking = thinking,
                .system_prompt_mode = mode,
        };
        ApiRequest req = {};
        ApiError err = API_ERROR_NULL;

        if (openai_responses_request_parse(body, &env, &req, &err) >= 0) {
                _cleanup_(openai_responses_stream_freep) OpenAIResponsesStream *s = NULL;

                fuzz_check_cli_request(&req.cli);
                FUZZ_CHECK(openai_responses_stream_new(&s, &req, &env) >= 0 && s, "no stream translator");
        } else
                fuzz_check_api_error(API_RESPONSES, &err);
        api_request_done(&req);
        api_error_done(&err);
}

/**
 * LLVMFuzzerTestOneInput() - one fuzz input
 * @data: the input bytes (not NUL-terminated)
 * @size: their length
 *
 * Return: 0 (libFuzzer reserves other values).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_auto_t *body = NULL;
        json_error_t jerr;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!body)
                return 0;
        run(body, SYSTEM_PROMPT_USER, false);
        run(body, SYSTEM_PROMPT_APPEND, true);
        run(body, SYSTEM_PROMPT_REPLACE, false);
        return 0;
}
