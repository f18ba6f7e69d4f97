/* SPDX-License-Identifier: MIT */

/* Random identifiers: getrandom() with a clock fallback, mapped onto an alphabet. */

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/macro.h"
#include "util/random-id.h"

void random_id(char *buf, size_t size, const char *prefix, const char *alphabet, size_t n) {
        uint8_t raw[RANDOM_ID_MAX_CHARS];
        size_t k = strlen(alphabet), p = strlen(prefix), len = 0;

        if (size == 0)
                return;
        n = MIN(n, sizeof(raw));
        if (getrandom(raw, n, GRND_NONBLOCK) != (ssize_t) n) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t t = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
                for (size_t i = 0; i < n; i++)
                        raw[i] = (uint8_t) (t >> (i % 8 * 8)) ^ (uint8_t) (i * 131);
        }
        len = MIN(p, size - 1);
        memcpy(buf, prefix, len);
        for (size_t i = 0; i < n && len < size - 1; i++)
                buf[len++] = alphabet[raw[i] % k];
        buf[len] = 0;
}
