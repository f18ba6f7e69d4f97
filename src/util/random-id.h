/* SPDX-License-Identifier: MIT */
#pragma once

/* Random identifiers for requests and messages. */

#include <stddef.h>

#define RANDOM_ID_BASE62 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define RANDOM_ID_BASE36 "0123456789abcdefghijklmnopqrstuvwxyz"
#define RANDOM_ID_MAX_CHARS 64

/*
 * `prefix` followed by `n` (at most RANDOM_ID_MAX_CHARS) characters drawn from `alphabet`,
 * NUL-terminated and cut to `size`. Unique, not secret: if getrandom() cannot answer without
 * blocking (early boot), the clock fills in.
 */
void random_id(char *buf, size_t size, const char *prefix, const char *alphabet, size_t n);
