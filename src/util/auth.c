/* SPDX-License-Identifier: MIT */

/*
 * Constant-time API key comparison. Both sides are hashed to a fixed-length digest first, so the
 * compare loop runs the same number of steps whatever the key lengths; the digest is a keyed
 * FNV-style mix, not a cryptographic hash, but it only has to hide timing, not resist forgery:
 * equality of the digests is then confirmed by a full-length constant-time compare.
 */

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/auth.h"

#define DIGEST_WORDS 8

static void digest(const char *s, size_t n, uint64_t out[DIGEST_WORDS]) {
        for (size_t w = 0; w < DIGEST_WORDS; w++) {
                uint64_t h = 0xcbf29ce484222325ULL ^ (0x9e3779b97f4a7c15ULL * (w + 1));
                for (size_t i = 0; i < n; i++) {
                        h ^= (unsigned char) s[i];
                        h *= 0x100000001b3ULL;
                        h ^= h >> 29;
                }
                h ^= n;
                out[w] = h;
        }
}

/* Compare the presented key against a configured one, looping over the presented length only (the
 * client knows it anyway): nothing about the configured key's length shows in the timing. */
static int ct_equal(const char *given, size_t n, const char *key, size_t kn) {
        unsigned diff = (unsigned) ((n ^ kn) | ((n ^ kn) >> 32));

        for (size_t i = 0; i < n; i++) {
                unsigned char y = i < kn ? (unsigned char) key[i] : 0;
                diff |= (unsigned) ((unsigned char) given[i] ^ y);
        }
        return diff == 0;
}

bool auth_key_matches(char *const *keys, const char *given, size_t n) {
        uint64_t dg[DIGEST_WORDS];
        int found = 0;

        if (!given || n == 0)
                return false;
        digest(given, n, dg);
        for (; keys && *keys; keys++) {
                uint64_t dk[DIGEST_WORDS], diff = 0;
                size_t kn = strlen(*keys);

                digest(*keys, kn, dk);
                for (size_t w = 0; w < DIGEST_WORDS; w++)
                        diff |= dg[w] ^ dk[w];
                /* No early exit: every configured key costs the same whether it matches or not. */
                found |= (diff == 0) & ct_equal(given, n, *keys, kn);
        }
        return found != 0;
}

const char *auth_key_from_headers(const char *x_api_key, const char *authorization, size_t *ret_len) {
        if (x_api_key && *x_api_key) {
                size_t n = strlen(x_api_key);
                while (*x_api_key == ' ' || *x_api_key == '\t')
                        x_api_key++, n--;
                while (n > 0 && (x_api_key[n - 1] == ' ' || x_api_key[n - 1] == '\t'))
                        n--;
                if (n == 0)
                        return NULL;
                *ret_len = n;
                return x_api_key;
        }
        if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
                const char *k = authorization + 7;
                while (*k == ' ' || *k == '\t')
                        k++;
                size_t n = strlen(k);
                while (n > 0 && (k[n - 1] == ' ' || k[n - 1] == '\t'))
                        n--;
                if (n == 0)
                        return NULL;
                *ret_len = n;
                return k;
        }
        return NULL;
}
