/* SPDX-License-Identifier: MIT */

/* Counting a body's JSON values before parsing it: the count matches what jansson would build. */

#include <string.h>

#include "helpers.h"
#include "util/json-count.h"
#include "util/macro.h"

#define COUNT(s) json_count_values((s), strlen(s), 1000)

static void test_scalars_and_containers(void **state) {
        assert_int_equal(COUNT(""), 0);
        assert_int_equal(COUNT("1"), 1);
        assert_int_equal(COUNT("  -12.5e+3 "), 1);
        assert_int_equal(COUNT("true"), 1);
        assert_int_equal(COUNT("[]"), 1);
        assert_int_equal(COUNT("{}"), 1);
        assert_int_equal(COUNT("[1,2,3]"), 4);
        assert_int_equal(COUNT("[true,false,null]"), 4);
        /* Keys count: jansson allocates a pair for each. */
        assert_int_equal(COUNT("{\"type\":\"text\",\"text\":\"a\"}"), 5);
        assert_int_equal(COUNT("{ \"a\" : [ 1 , { } ] , \"b\" : null }"), 7);
        assert_int_equal(COUNT("[[[[]]]]"), 4);
}

static void test_strings(void **state) {
        /* Structural characters and escaped quotes inside a string are part of it. */
        assert_int_equal(COUNT("\"[{,:}]\""), 1);
        assert_int_equal(COUNT("[\"a\\\"b\",\"c\\\\\",1]"), 4);
        assert_int_equal(COUNT("\"\\u0000\""), 1);
        /* An unterminated string ends the count; the parser reports it. */
        assert_int_equal(COUNT("[\"abc"), 2);
        assert_int_equal(COUNT("[\"abc\\"), 2);
}

static void test_limit(void **state) {
        char buf[4096] = "[";

        for (int i = 0; i < 1000; i++)
                strcat(buf, "1,");
        strcat(buf, "1]");
        assert_int_equal(json_count_values(buf, strlen(buf), 10000), 1002);
        assert_int_equal(json_count_values(buf, strlen(buf), 1002), 1002);
        assert_int_equal(json_count_values(buf, strlen(buf), 1001), 1002);
        assert_int_equal(json_count_values(buf, strlen(buf), 5), 6);
        assert_int_equal(json_count_values(buf, strlen(buf), 0), 1);
}

static void test_matches_jansson(void **state) {
        /* Every value jansson builds is counted once, whatever the nesting. */
        const char *docs[] = {
                "{\"model\":\"sonnet\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":"
                "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image\",\"source\":{\"type\":\"base64\","
                "\"media_type\":\"image/png\",\"data\":\"AAAA\"}}]}],\"stream\":true,\"temperature\":0.5}",
                "[1,[2,[3,[4]]],{\"x\":{\"y\":{\"z\":[]}}},\"s\",false]",
        };
        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                json_auto_t *j = json_loads(docs[i], 0, NULL);

                assert_non_null(j);
                assert_int_equal(COUNT(docs[i]), json_count_tree(j));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scalars_and_containers),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_limit),
                cmocka_unit_test(test_matches_jansson),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
