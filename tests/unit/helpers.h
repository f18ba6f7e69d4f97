/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared unit-test helpers: fixtures under $TEST_DATA_DIR and JSON comparison that prints both sides. */

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

/* Absolute path of a fixture (relative to tests/data). New string. */
char *fixture_path(const char *relpath);
/* Whole fixture file as a NUL-terminated string; fails the test if missing. */
char *fixture_read(const char *relpath, size_t *ret_len);
/* Parse a JSON fixture; fails the test on error. */
json_t *fixture_json(const char *relpath);
/* Every line of an NDJSON fixture as a JSON array of strings (raw lines, without newline). */
json_t *fixture_lines(const char *relpath);

/* Fails the test (printing both sides indented and key-sorted) unless json_equal(a, b). */
#define assert_json_equal(a, b) _assert_json_equal((a), (b), __FILE__, __LINE__)
void _assert_json_equal(const json_t *a, const json_t *b, const char *file, int line);
/* Parse a JSON literal; fails the test on error. */
json_t *json_literal(const char *text);

/*
 * Compare `actual` with tests/data/expected/NAME.json. With TEST_UPDATE_GOLDEN set, write it
 * there instead (then read the diff critically before committing it).
 */
void check_golden(const char *name, const json_t *actual);

/*
 * Under valgrind (3.19, Debian 12) the vfork path is not what the daemon runs: CLONE_VM|
 * CLONE_VFORK is emulated as a plain fork, so the child's report through shared memory never
 * arrives. The one test of that report skip()s there, visibly; it runs in the normal and
 * sanitizer builds. (Detected by pidfd_open(), which this valgrind does not implement either;
 * the daemon does not use it.)
 */
bool spawn_emulated_by_valgrind(void);
