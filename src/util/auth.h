/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: API key checks that leak neither the key nor its length through timing. */

#include <stdbool.h>
#include <stddef.h>

/* True when `given` (length n) equals one of `keys`. Every key is compared in full, always. */
bool auth_key_matches(char *const *keys, const char *given, size_t n);
/*
 * The key a request presented: the value of x-api-key, or of "Authorization: Bearer K".
 * Returns a pointer into the header value (borrowed) and its length in *ret_len, or NULL.
 */
const char *auth_key_from_headers(const char *x_api_key, const char *authorization, size_t *ret_len);
