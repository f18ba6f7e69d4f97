/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * How many JSON values a text would make, counted without building them: jansson spends ~110
 * bytes and several allocations on every value (a 10 MB body of tiny blocks is a 200 MB tree
 * built in seconds), so a body is measured before it is parsed and refused past a bound.
 */

#include <jansson.h>
#include <stddef.h>

/*
 * The number of values in @buf: every object, array, string (object keys included) and scalar.
 * Counting stops once it passes @limit (the result is then @limit + 1), so the cost is bounded
 * by the bytes up to that point. Only the lexical shape is looked at: for text that is not JSON
 * the count means nothing, and the parser that follows says what is wrong.
 */
size_t json_count_values(const char *buf, size_t len, size_t limit);

/* The same measure of a tree already built: what json_count_values() must agree with for any
 * text jansson accepts (the unit tests and the request fuzzers check that). */
size_t json_count_tree(const json_t *j);
