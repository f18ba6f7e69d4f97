/* SPDX-License-Identifier: MIT */

/* Request head checks: version, field syntax, and the framing headers libevent reads leniently. */

#include <string.h>

#include "helpers.h"
#include "http/head-check.h"
#include "util/macro.h"

static int check(int major, int minor, const HeadField *f, size_t n) {
        char msg[256] = "";
        int r = head_check(major, minor, f, n, msg, sizeof(msg));

        if (r != 0)
                assert_true(strlen(msg) > 0);
        return r;
}

#define CHECK(major, minor, ...)                                                \
        ({                                                                      \
                const HeadField _f[] = { __VA_ARGS__ };                         \
                check(major, minor, _f, ELEMENTSOF(_f));                        \
        })

static void test_ordinary(void **state) {
        assert_int_equal(CHECK(1, 1, { "Host", "x" }, { "x-api-key", "k1" }, { "Content-Length", "12" },
                               { "User-Agent", "curl/8 (obs-text \xc3\xa9)" }, { "Accept", "a\tb" }),
                         0);
        assert_int_equal(CHECK(1, 1, { "Transfer-Encoding", "Chunked" }), 0);
        assert_int_equal(CHECK(1, 0, { "Host", "x" }), 0);
        assert_int_equal(CHECK(1, 1, { "Content-Encoding", "identity" }), 0);
        assert_int_equal(check(1, 1, NULL, 0), 0);
}

static void test_version(void **state) {
        assert_int_equal(check(2, 0, NULL, 0), 505);
        assert_int_equal(check(0, 9, NULL, 0), 505);
        assert_int_equal(check(1, 2, NULL, 0), 505);
}

static void test_control_characters(void **state) {
        /* What a NUL becomes on the way in (http/nul-guard.c): never a usable key. */
        assert_int_equal(CHECK(1, 1, { "x-api-key", "k1\x01x" }), 400);
        assert_int_equal(CHECK(1, 1, { "x-api-key", "k1\x7f" }), 400);
        assert_int_equal(CHECK(1, 1, { "x-api-key", "\x1b[31m" }), 400);
        assert_int_equal(CHECK(1, 1, { "x-api\x01key", "k1" }), 400);
}

static void test_names(void **state) {
        assert_int_equal(CHECK(1, 1, { "x-api-key ", "k1" }), 400);     /* space before the colon */
        assert_int_equal(CHECK(1, 1, { "", "k1" }), 400);
        assert_int_equal(CHECK(1, 1, { "a b", "c" }), 400);
        assert_int_equal(CHECK(1, 1, { "a(b)", "c" }), 400);
        assert_int_equal(CHECK(1, 1, { "caf\xc3\xa9", "c" }), 400);
}

static void test_framing(void **state) {
        assert_int_equal(CHECK(1, 1, { "Transfer-Encoding", "gzip, chunked" }), 400);
        assert_int_equal(CHECK(1, 1, { "Transfer-Encoding", "gzip" }), 400);
        assert_int_equal(CHECK(1, 1, { "Transfer-Encoding", "chunked, chunked" }), 400);
        assert_int_equal(CHECK(1, 1, { "Transfer-Encoding", "chunked" }, { "transfer-encoding", "chunked" }), 400);
        assert_int_equal(CHECK(1, 1, { "Transfer-Encoding", "chunked" }, { "Content-Length", "5" }), 400);
        assert_int_equal(CHECK(1, 1, { "Content-Length", "5" }, { "Content-Length", "5" }), 400);
        assert_int_equal(CHECK(1, 1, { "Content-Length", "5" }, { "content-length", "6" }), 400);
        assert_int_equal(CHECK(1, 0, { "Transfer-Encoding", "chunked" }), 400);
        assert_int_equal(CHECK(1, 1, { "Content-Encoding", "gzip" }), 415);
        assert_int_equal(CHECK(1, 1, { "content-encoding", "br" }), 415);
}

static void test_count(void **state) {
        HeadField f[HEAD_MAX_FIELDS + 1];

        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                f[i] = (HeadField) { "X-Pad", "v" };
        assert_int_equal(check(1, 1, f, HEAD_MAX_FIELDS), 0);
        assert_int_equal(check(1, 1, f, HEAD_MAX_FIELDS + 1), 431);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ordinary),
                cmocka_unit_test(test_version),
                cmocka_unit_test(test_control_characters),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_framing),
                cmocka_unit_test(test_count),
        };
        return cmocka_run_group_tests_name("head-check", tests, NULL, NULL);
}
