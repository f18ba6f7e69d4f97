/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* A portable environment variable name: a letter or '_', then letters, digits and '_' (POSIX's
 * portable set; CHILD_ENV and a registry server's `env` take nothing else). */
static inline bool env_name_is_valid(const char *s) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
                return false;
        for (s++; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      *s == '_'))
                        return false;
        return true;
}
