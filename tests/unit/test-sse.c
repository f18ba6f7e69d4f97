/* SPDX-License-Identifier: MIT */

/* SSE framing into evbuffers (no event loop needed). */

#include <event2/buffer.h>
#include <string.h>

#include "helpers.h"
#include "http/sse.h"
#include "util/macro.h"

static char *drain(struct evbuffer *b) {
        size_t n = evbuffer_get_length(b);
        char *s = malloc(n + 1);

        assert_non_null(s);
        evbuffer_remove(b, s, n);
        s[n] = 0;
        return s;
}

static void test_named_events(void **state) {
        struct evbuffer *b = evbuffer_new();
        json_t *ev = json_literal("[{\"event\":\"message_start\",\"data\":{\"type\":\"message_start\",\"t\":\"a\\nb\"}},"
                                  "{\"event\":\"ping\",\"data\":{\"type\":\"ping\"}}]");
        _cleanup_free_ char *s = NULL;

        assert_int_equal(sse_append_events(b, ev), 0);
        s = drain(b);
        /* Compact JSON escapes the newline, so one data: line per frame is enough. */
        assert_string_equal(s, "event: message_start\ndata: {\"type\":\"message_start\",\"t\":\"a\\nb\"}\n\n"
                               "event: ping\ndata: {\"type\":\"ping\"}\n\n");
        json_decref(ev);
        evbuffer_free(b);
}

static void test_malformed_events(void **state) {
        struct evbuffer *b = evbuffer_new();
        json_t *no_name = json_literal("[{\"data\":{}}]"), *no_data = json_literal("[{\"event\":\"x\"}]");

        assert_int_equal(sse_append_events(b, no_name), -EINVAL);
        assert_int_equal(sse_append_events(b, no_data), -EINVAL);
        json_decref(no_name);
        json_decref(no_data);
        evbuffer_free(b);
}

static void test_data_done_comment(void **state) {
        struct evbuffer *b = evbuffer_new();
        json_t *d = json_literal("{\"id\":\"chatcmpl-1\"}");
        _cleanup_free_ char *s = NULL;

        assert_int_equal(sse_append_data(b, d), 0);
        assert_int_equal(sse_append_comment(b, "ping"), 0);
        assert_int_equal(sse_append_comment(b, "two\nlines"), -EINVAL);
        assert_int_equal(sse_append_done(b), 0);
        s = drain(b);
        assert_string_equal(s, "data: {\"id\":\"chatcmpl-1\"}\n\n: ping\n\ndata: [DONE]\n\n");
        json_decref(d);
        evbuffer_free(b);
}

static void test_json_append(void **state) {
        struct evbuffer *b = evbuffer_new();
        json_t *j = json_literal("{\"a\":[1,2,{\"b\":null}],\"u\":\"\\u00e9\"}");
        _cleanup_free_ char *s = NULL;

        assert_int_equal(json_append_to_evbuffer(b, j), 0);
        s = drain(b);
        assert_string_equal(s, "{\"a\":[1,2,{\"b\":null}],\"u\":\"\xc3\xa9\"}");
        json_decref(j);
        evbuffer_free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_named_events),
                cmocka_unit_test(test_malformed_events),
                cmocka_unit_test(test_data_done_comment),
                cmocka_unit_test(test_json_append),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
