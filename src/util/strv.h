/* SPDX-License-Identifier: MIT */
#pragma once

/* NULL-terminated string vectors (argv, envp, key lists). */

#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

size_t strv_length(char *const *l);
/* Append a copy of `s`; *l may be NULL. Return 0 or -ENOMEM. */
int strv_extend(char ***l, const char *s);
/* Append `s` and take ownership of it (freed on failure). */
int strv_consume(char ***l, char *s);
bool strv_contains(char *const *l, const char *s);
/* Split on any of `sep`, trim spaces and tabs, drop empty items. New vector in *ret. */
int strv_split_trim(const char *s, const char *sep, char ***ret);
