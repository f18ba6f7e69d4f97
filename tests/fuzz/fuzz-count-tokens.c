/* SPDX-License-Identifier: MIT */

/*
 * POST /v1/messages/count_tokens and the two CLI answers the side queries read. The same bytes
 * are tried as all three, since each is one JSON object:
 * - a count_tokens body (attacker-controlled): count_tokens_request_parse(), and on success the
 *   history lines, every user line of which must be history (shouldQuery:false, awaiting its
 *   result): a count must never ask the model;
 * - a get_context_usage answer (the CLI's stdout): count_tokens_usage_total(), and the
 *   subtraction, which must never give a figure that is not positive;
 * - an initialize answer: models_list_from_cli(), which gives a list of non-empty string ids
 *   with first_id/last_id, or -EBADMSG.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/count-tokens.h"
#include "api/models.h"
#include "fuzz-check.h"
#include "fuzz.h"
#include "util/macro.h"

static void as_body(const json_t *body) {
        ApiEnv env = { .message_id = "", .created = 1700000000, .default_model = "sonnet",
                       .system_prompt_mode = SYSTEM_PROMPT_REPLACE };
        ApiRequest req = {};
        ApiError err = API_ERROR_NULL;
        CliInput in = {};

        if (count_tokens_request_parse(body, &env, &req, &err) < 0) {
                if (err.status)
                        fuzz_check_api_error(API_ANTHROPIC, &err);
                api_error_done(&err);
                api_request_done(&req);
                return;
        }
        FUZZ_CHECK(req.cli.system_prompt_mode == SYSTEM_PROMPT_USER, "the system text would not be counted");
        if (count_tokens_history_input(&req.cli, &in) >= 0) {
                FUZZ_CHECK(in.n > 0, "no lines to count");
                for (size_t i = 0; i < in.n; i++) {
                        json_auto_t *l = json_loadb(in.lines[i].text, in.lines[i].len, JSON_ALLOW_NUL, NULL);

                        FUZZ_CHECK(l, "line %zu does not parse back", i);
                        if (streq_ptr(json_string_value(json_object_get(l, "type")), "user"))
                                FUZZ_CHECK(json_is_false(json_object_get(l, "shouldQuery")) && in.lines[i].awaits_result,
                                           "user line %zu would ask the model", i);
                }
        }
        cli_input_done(&in);
        api_request_done(&req);
}

static void as_answers(const json_t *answer) {
        json_auto_t *list = NULL;
        int64_t total = -1, n = -1;
        const json_t *m;
        size_t i;
        int r;

        if (count_tokens_usage_total(answer, &total) >= 0) {
                FUZZ_CHECK(total >= 0, "negative total %lld", (long long) total);
                for (int64_t base = 0; base <= 2; base++)
                        if (count_tokens_derive(total, base, &n) >= 0)
                                FUZZ_CHECK(n > 0 && n == total - base, "derived %lld from %lld - %lld", (long long) n,
                                           (long long) total, (long long) base);
        }
        r = models_list_from_cli(answer, 1700000000, "2023-11-14T22:13:20Z", &list);
        FUZZ_CHECK(r >= 0 || r == -EBADMSG || r == -ENOMEM, "models_list_from_cli: %d", r);
        if (r < 0)
                return;
        FUZZ_CHECK(json_array_size(json_object_get(list, "data")) > 0, "an empty list was accepted");
        json_array_foreach(json_object_get(list, "data"), i, m)
                FUZZ_CHECK(fuzz_is_nonempty_string(json_object_get(m, "id")), "model %zu without an id", i);
        FUZZ_CHECK(fuzz_is_nonempty_string(json_object_get(list, "first_id")) &&
                   fuzz_is_nonempty_string(json_object_get(list, "last_id")), "no first_id/last_id");
}

/**
 * LLVMFuzzerTestOneInput() - one fuzz input
 * @data: the input bytes (not NUL-terminated)
 * @size: their length
 *
 * Return: 0 (libFuzzer reserves other values).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_auto_t *j = NULL;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        j = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
        if (!j)
                return 0;
        as_body(j);
        as_answers(j);
        return 0;
}
