/* SPDX-License-Identifier: MIT */
#pragma once

/* Clocks: one definition for every module that measures or stamps time. */

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in microseconds: durations, deadlines, idle clocks. */
static inline uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* Wall-clock seconds, for the API's "created" stamps. */
static inline int64_t now_unix(void) {
        return (int64_t) time(NULL);
}
