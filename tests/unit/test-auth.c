/* SPDX-License-Identifier: MIT */

/* API key check: which header carries the key, and the comparison against the configured keys. */

#include <string.h>

#include "helpers.h"
#include "util/auth.h"
#include "util/macro.h"

static bool matches(char *const *keys, const char *given) {
        return auth_key_matches(keys, given, given ? strlen(given) : 0);
}

static void test_match_single(void **state) {
        char *keys[] = { "sk-proxy-0123456789", NULL };

        assert_true(matches(keys, "sk-proxy-0123456789"));
        assert_false(matches(keys, "sk-proxy-0123456788"));     /* last byte differs */
        assert_false(matches(keys, "Sk-proxy-0123456789"));     /* first byte, case matters */
        assert_false(matches(keys, "sk-proxy-012345678"));      /* a prefix of the key */
        assert_false(matches(keys, "sk-proxy"));
        assert_false(matches(keys, "sk-proxy-01234567890"));    /* the key plus one byte */
        assert_false(matches(keys, "sk-proxy-0123456789 "));
        assert_false(matches(keys, ""));
        assert_false(matches(keys, "x"));
}

static void test_length_is_explicit(void **state) {
        char *keys[] = { "abc", NULL };

        /* The given length counts, not a NUL: "abc\0" (4 bytes) is not "abc"... */
        assert_false(auth_key_matches(keys, "abc\0", 4));
        /* ...and the first 3 bytes of a longer buffer are. */
        assert_true(auth_key_matches(keys, "abcdef", 3));
        assert_false(auth_key_matches(keys, "abcdef", 2));
        assert_false(auth_key_matches(keys, "abcdef", 0));
}

static void test_several_keys(void **state) {
        char *keys[] = { "first-key", "second", "third-key-is-longer", NULL };

        assert_true(matches(keys, "first-key"));
        assert_true(matches(keys, "second"));
        assert_true(matches(keys, "third-key-is-longer"));
        assert_false(matches(keys, "first-keysecond"));
        assert_false(matches(keys, "secon"));
        assert_false(matches(keys, "third-key"));
        assert_false(matches(keys, "fourth"));
        assert_false(matches(keys, ""));
}

static void test_no_keys_or_null(void **state) {
        char *keys[] = { "k", NULL };
        char *none[] = { NULL };

        assert_false(matches(NULL, "k"));
        assert_false(matches(none, "k"));
        assert_false(matches(none, ""));
        assert_false(auth_key_matches(keys, NULL, 0));
        assert_false(auth_key_matches(keys, NULL, 1));
        assert_false(auth_key_matches(NULL, NULL, 0));
}

static void test_long_keys(void **state) {
        char a[4097], b[4097];
        char *keys[] = { a, NULL };

        memset(a, 'k', sizeof(a) - 1);
        a[sizeof(a) - 1] = 0;
        memcpy(b, a, sizeof(b));
        assert_true(matches(keys, b));
        b[2048] = 'j';
        assert_false(matches(keys, b));
        b[2048] = 'k';
        b[4095] = 0;
        assert_false(matches(keys, b));
}

/* The key from the headers as a string ("" for NULL) so mismatches print readably. */
static const char *from_headers(const char *x_api_key, const char *authorization, char *buf, size_t size) {
        size_t n = 12345;
        const char *k = auth_key_from_headers(x_api_key, authorization, &n);

        if (!k)
                return NULL;
        assert_true(n < size);
        memcpy(buf, k, n);
        buf[n] = 0;
        return buf;
}

static void test_headers(void **state) {
        char buf[256];

        /* x-api-key wins over Authorization. */
        assert_string_equal(from_headers("xkey", "Bearer bkey", buf, sizeof(buf)), "xkey");
        assert_string_equal(from_headers("xkey", NULL, buf, sizeof(buf)), "xkey");
        assert_string_equal(from_headers("xkey", "Basic Zm9vOmJhcg==", buf, sizeof(buf)), "xkey");
        /* An empty x-api-key does not hide the Authorization header. */
        assert_string_equal(from_headers("", "Bearer bkey", buf, sizeof(buf)), "bkey");

        /* Bearer, any case, trimmed. */
        assert_string_equal(from_headers(NULL, "Bearer bkey", buf, sizeof(buf)), "bkey");
        assert_string_equal(from_headers(NULL, "bearer bkey", buf, sizeof(buf)), "bkey");
        assert_string_equal(from_headers(NULL, "BEARER bkey", buf, sizeof(buf)), "bkey");
        assert_string_equal(from_headers(NULL, "BeArEr bkey", buf, sizeof(buf)), "bkey");
        assert_string_equal(from_headers(NULL, "Bearer    bkey  ", buf, sizeof(buf)), "bkey");
        assert_string_equal(from_headers(NULL, "Bearer bkey\t", buf, sizeof(buf)), "bkey");
        assert_string_equal(from_headers(NULL, "Bearer sk-a b", buf, sizeof(buf)), "sk-a b");

        /* No key at all. */
        assert_null(from_headers(NULL, NULL, buf, sizeof(buf)));
        assert_null(from_headers("", NULL, buf, sizeof(buf)));
        assert_null(from_headers(NULL, "", buf, sizeof(buf)));
        assert_null(from_headers(NULL, "Bearer ", buf, sizeof(buf)));
        assert_null(from_headers(NULL, "Bearer     ", buf, sizeof(buf)));
        assert_null(from_headers(NULL, "Bearer", buf, sizeof(buf)));
        assert_null(from_headers(NULL, "Bearerbkey", buf, sizeof(buf)));
        assert_null(from_headers(NULL, "Basic Zm9vOmJhcg==", buf, sizeof(buf)));
        assert_null(from_headers(NULL, "bkey", buf, sizeof(buf)));
        assert_null(from_headers("", "Token bkey", buf, sizeof(buf)));
}

static void test_headers_borrowed(void **state) {
        const char *auth = "Bearer  the-key ";
        size_t n = 0;
        const char *k = auth_key_from_headers(NULL, auth, &n);

        /* A pointer into the header value, not a copy, with the trimmed length. */
        assert_ptr_equal(k, auth + 8);
        assert_int_equal(n, 7);

        /* And the two halves fit together. */
        char *keys[] = { "other", "the-key", NULL };
        assert_true(auth_key_matches(keys, k, n));
        assert_false(auth_key_matches(keys, k, n + 1));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_match_single),
                cmocka_unit_test(test_length_is_explicit),
                cmocka_unit_test(test_several_keys),
                cmocka_unit_test(test_no_keys_or_null),
                cmocka_unit_test(test_long_keys),
                cmocka_unit_test(test_headers),
                cmocka_unit_test(test_headers_borrowed),
        };
        return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
