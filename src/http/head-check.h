/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Judging a request's head (version and header fields) before routing: the checks libevent does
 * not make. Pure: the caller lists the fields; nothing here knows evhttp.
 */

#include <stddef.h>

/* More fields than any API client sends; evhttp keeps them in a list and looks up linearly. */
#define HEAD_MAX_FIELDS 100

typedef struct HeadField {
        const char *name;
        const char *value;
} HeadField;

/*
 * Check HTTP version `major`.`minor` and `n` fields. Returns 0 when the head is acceptable, else
 * the HTTP status to answer (400, 415, 431, 505) with a client-facing reason in `msg`.
 */
int head_check(int major, int minor, const HeadField *fields, size_t n, char *msg, size_t msg_size);
