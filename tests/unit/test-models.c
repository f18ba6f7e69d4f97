/* SPDX-License-Identifier: MIT */

/* Client model names -> --model values, and the /v1/models body. */

#include <errno.h>
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

/* The "response" of the recorded answer to `initialize` (warm_initialize_empty, CLI 2.1.197). */
static json_t *recorded_initialize(void) {
        json_t *lines = fixture_lines("transcripts/warm_initialize_empty.ndjson");
        json_t *found = NULL, *l;
        size_t i;

        json_array_foreach(lines, i, l) {
                json_t *j = json_literal(json_string_value(l));
                json_t *r = json_object_get(j, "response");

                if (!found && streq_ptr(json_string_value(json_object_get(j, "type")), "control_response") &&
                    json_object_get(json_object_get(r, "response"), "models"))
                        found = json_incref(json_object_get(r, "response"));
                json_decref(j);
        }
        json_decref(lines);
        assert_non_null(found);
        return found;
}

static void test_list_from_cli(void **state) {
        json_t *init = recorded_initialize(), *list = NULL;
        static const char *const want[] = {
                /* The CLI's models by resolved id; "default" is Opus 4.8 [1m] again: listed once. */
                "claude-opus-4-8[1m]", "claude-sonnet-5", "claude-sonnet-5[1m]", "claude-haiku-4-5-20251001",
                /* The proxy's aliases of the families the CLI offers. */
                "claude-opus-4-6", "claude-opus-4", "opus", "claude-sonnet-4-6", "claude-sonnet-4", "sonnet",
                "claude-haiku-4-5", "claude-haiku-4", "haiku",
        };
        json_t *data, *m;
        size_t i;

        assert_int_equal(models_list_from_cli(init, 1796284800, "2026-12-03T00:00:00Z", &list), 0);
        data = json_object_get(list, "data");
        assert_int_equal(json_array_size(data), ELEMENTSOF(want));
        json_array_foreach(data, i, m) {
                assert_string_equal(json_string_value(json_object_get(m, "id")), want[i]);
                assert_string_equal(json_string_value(json_object_get(m, "object")), "model");
                assert_string_equal(json_string_value(json_object_get(m, "type")), "model");
                assert_int_equal(json_integer_value(json_object_get(m, "created")), 1796284800);
                assert_string_equal(json_string_value(json_object_get(m, "created_at")), "2026-12-03T00:00:00Z");
                assert_string_equal(json_string_value(json_object_get(m, "owned_by")), "anthropic");
                /* Every listed id is one the proxy passes on as itself or as its family. */
                _cleanup_free_ char *r = model_resolve(json_string_value(json_object_get(m, "id")), "none");
                assert_string_not_equal(r, "none");
        }
        assert_string_equal(json_string_value(json_object_get(json_array_get(data, 1), "display_name")), "Sonnet");
        assert_string_equal(json_string_value(json_object_get(json_array_get(data, 9), "display_name")), "Sonnet");
        assert_string_equal(json_string_value(json_object_get(list, "first_id")), "claude-opus-4-8[1m]");
        assert_string_equal(json_string_value(json_object_get(list, "last_id")), "haiku");
        assert_true(json_is_false(json_object_get(list, "has_more")));
        json_decref(list);
        json_decref(init);
}

static void test_list_from_cli_bad(void **state) {
        static const char *const bad[] = {
                "{}", "{\"models\":{}}", "{\"models\":[]}", "{\"models\":[1,null,\"x\"]}",
                "{\"models\":[{\"value\":\"sonnet\"}]}", "{\"models\":[{\"resolvedModel\":\"\"}]}",
        };
        json_t *list = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *j = json_literal(bad[i]);
                assert_int_equal(models_list_from_cli(j, 0, "1970-01-01T00:00:00Z", &list), -EBADMSG);
                assert_null(list);
                json_decref(j);
        }
        assert_int_equal(models_list_from_cli(NULL, 0, "1970-01-01T00:00:00Z", &list), -EBADMSG);

        /* Only a "default" entry: kept, as nothing else names its model; no display name: the id. */
        json_t *j = json_literal("{\"models\":[{\"value\":\"default\",\"resolvedModel\":\"claude-x-1\"}]}");
        assert_int_equal(models_list_from_cli(j, 0, "1970-01-01T00:00:00Z", &list), 0);
        assert_int_equal(json_array_size(json_object_get(list, "data")), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(list, "data"), 0),
                                                              "display_name")), "claude-x-1");
        json_decref(list);
        json_decref(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_list),
                cmocka_unit_test(test_list_from_cli),
                cmocka_unit_test(test_list_from_cli_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
