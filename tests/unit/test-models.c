/* SPDX-License-Identifier: MIT */

/* Client model names -> --model values, and the /v1/models body. */

#include <stdlib.h>
#include <string.h>

#include "api/models.h"
#include "helpers.h"
#include "util/macro.h"

static void test_resolve(void **state) {
        static const struct {
                const char *in;
                const char *dflt;
                const char *want;
        } t[] = {
                /* The seed's alias table: every name -> the CLI family alias. */
                { "claude-opus-4-6", "sonnet", "opus" },
                { "claude-opus-4", "sonnet", "opus" },
                { "opus", "sonnet", "opus" },
                { "claude-sonnet-4-6", "haiku", "sonnet" },
                { "claude-sonnet-4", "haiku", "sonnet" },
                { "sonnet", "haiku", "sonnet" },
                { "claude-haiku-4-5", "sonnet", "haiku" },
                { "claude-haiku-4", "sonnet", "haiku" },
                { "haiku", "sonnet", "haiku" },
                { "Claude-Opus-4-6", "sonnet", "opus" },
                { "SONNET", "haiku", "sonnet" },
                /* Router prefixes, alone and chained. */
                { "claude-code-cli/claude-haiku-4-5", "sonnet", "haiku" },
                { "openai/opus", "sonnet", "opus" },
                { "openai/claude-code-cli/sonnet", "haiku", "sonnet" },
                { "claude-code-cli/claude-sonnet-4-20250514", "haiku", "claude-sonnet-4-20250514" },
                /* Other claude ids pass through verbatim (so a client can pin a version). */
                { "claude-sonnet-4-5-20250929", "haiku", "claude-sonnet-4-5-20250929" },
                { "claude-3-5-haiku-20241022", "sonnet", "claude-3-5-haiku-20241022" },
                { "claude-opus-4-6[1m]", "sonnet", "claude-opus-4-6[1m]" },
                /* Anything else -> DEFAULT_MODEL. */
                { "gpt-4o", "sonnet", "sonnet" },
                { "openai/gpt-4o", "opus", "opus" },
                { "claude-", "haiku", "haiku" },
                { "claude-code-cli/", "haiku", "haiku" },
                { "", "opus", "opus" },
                { NULL, "opus", "opus" },
                { "gpt-4o", NULL, "sonnet" },
                { NULL, "", "sonnet" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *r = model_resolve(t[i].in, t[i].dflt);

                print_message("case %s\n", t[i].in ?: "(null)");
                assert_non_null(r);
                assert_string_equal(r, t[i].want);
        }
}

static void test_list(void **state) {
        json_t *list = NULL, *expected;
        size_t i;
        json_t *m;

        assert_int_equal(models_list_to_json(&list), 0);
        expected = json_literal(
                "{\"object\":\"list\",\"has_more\":false,"
                "\"first_id\":\"claude-opus-4-6\",\"last_id\":\"claude-haiku-4-5\",\"data\":["
                "{\"id\":\"claude-opus-4-6\",\"object\":\"model\",\"type\":\"model\","
                "\"display_name\":\"Claude Opus 4.6\",\"created\":1770249600,"
                "\"created_at\":\"2026-02-05T00:00:00Z\",\"owned_by\":\"anthropic\"},"
                "{\"id\":\"claude-sonnet-4-6\",\"object\":\"model\",\"type\":\"model\","
                "\"display_name\":\"Claude Sonnet 4.6\",\"created\":1771286400,"
                "\"created_at\":\"2026-02-17T00:00:00Z\",\"owned_by\":\"anthropic\"},"
                "{\"id\":\"claude-haiku-4-5\",\"object\":\"model\",\"type\":\"model\","
                "\"display_name\":\"Claude Haiku 4.5\",\"created\":1760486400,"
                "\"created_at\":\"2025-10-15T00:00:00Z\",\"owned_by\":\"anthropic\"}]}");
        assert_json_equal(list, expected);

        /* Every listed id must resolve to something other than the fallback. */
        json_array_foreach(json_object_get(list, "data"), i, m) {
                _cleanup_free_ char *r = model_resolve(json_string_value(json_object_get(m, "id")), "none");
                assert_string_not_equal(r, "none");
        }
        json_decref(expected);
        json_decref(list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
