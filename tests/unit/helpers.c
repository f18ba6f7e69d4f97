/* SPDX-License-Identifier: MIT */

/* Fixture loading and JSON assertions for the cmocka suites. No I/O beyond reading fixture files. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"
#include "util/macro.h"

char *fixture_path(const char *relpath) {
        const char *dir = getenv("TEST_DATA_DIR");
        char *p = NULL;

        if (!dir)
                dir = "tests/data";
        if (asprintf(&p, "%s/%s", dir, relpath) < 0)
                fail_msg("out of memory");
        return p;
}

char *fixture_read(const char *relpath, size_t *ret_len) {
        _cleanup_free_ char *p = fixture_path(relpath);
        FILE *f = fopen(p, "re");
        char *buf = NULL;
        size_t n = 0;

        if (!f)
                fail_msg("cannot open fixture %s: %m", p);
        if (fseek(f, 0, SEEK_END) < 0)
                fail_msg("cannot seek %s", p);
        long sz = ftell(f);
        rewind(f);
        buf = malloc((size_t) sz + 1);
        if (!buf)
                fail_msg("out of memory");
        n = fread(buf, 1, (size_t) sz, f);
        fclose(f);
        buf[n] = 0;
        if (ret_len)
                *ret_len = n;
        return buf;
}

json_t *fixture_json(const char *relpath) {
        _cleanup_free_ char *text = fixture_read(relpath, NULL);
        json_error_t err;
        json_t *j = json_loads(text, 0, &err);

        if (!j)
                fail_msg("fixture %s: %s (line %d)", relpath, err.text, err.line);
        return j;
}

json_t *fixture_lines(const char *relpath) {
        size_t len;
        _cleanup_free_ char *text = fixture_read(relpath, &len);
        json_t *a = json_array();
        const char *p = text, *end = text + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                if (n > 0)
                        json_array_append_new(a, json_stringn(p, n));
                p += n + 1;
        }
        return a;
}

void _assert_json_equal(const json_t *a, const json_t *b, const char *file, int line) {
        if (a && b && json_equal(a, b))
                return;
        char *sa = a ? json_dumps(a, JSON_INDENT(2) | JSON_SORT_KEYS) : strdup("(null)");
        char *sb = b ? json_dumps(b, JSON_INDENT(2) | JSON_SORT_KEYS) : strdup("(null)");
        print_error("%s:%d: JSON differs\n--- actual\n%s\n--- expected\n%s\n", file, line, sa, sb);
        free(sa);
        free(sb);
        _fail(file, line);
}

json_t *json_literal(const char *text) {
        json_error_t err;
        json_t *j = json_loads(text, 0, &err);

        if (!j)
                fail_msg("bad JSON literal: %s: %s", err.text, text);
        return j;
}

void check_golden(const char *name, const json_t *actual) {
        _cleanup_free_ char *rel = NULL;

        assert_true(asprintf(&rel, "expected/%s.json", name) > 0);
        if (getenv("TEST_UPDATE_GOLDEN")) {
                _cleanup_free_ char *path = fixture_path(rel);

                assert_int_equal(json_dump_file(actual, path, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
                return;
        }
        json_t *expected = fixture_json(rel);
        assert_json_equal(actual, expected);
        json_decref(expected);
}

bool spawn_emulated_by_valgrind(void) {
        int fd = (int) syscall(SYS_pidfd_open, getpid(), 0);

        if (fd >= 0) {
                close(fd);
                return false;
        }
        return errno == ENOSYS;
}
