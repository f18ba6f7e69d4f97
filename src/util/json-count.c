/* SPDX-License-Identifier: MIT */

#include <stdbool.h>

#include "util/json-count.h"

size_t json_count_values(const char *buf, size_t len, size_t limit) {
        size_t n = 0;
        /* A scalar starts where a value may start: first, or after '[', ',' or ':'. Its later
         * characters (digits, letters of true/false/null) are not value starts. */
        bool value_may_start = true;

        for (size_t i = 0; i < len; i++) {
                char c = buf[i];

                switch (c) {
                case ' ': case '\t': case '\n': case '\r':
                        continue;
                case '"':
                        /* Skip the string; a backslash escapes the next character (\" and \\). */
                        for (i++; i < len && buf[i] != '"'; i++)
                                if (buf[i] == '\\')
                                        i++;
                        n++;
                        value_may_start = false;
                        break;
                case '{': case '[':
                        n++;
                        value_may_start = true;
                        break;
                case ',': case ':':
                        value_may_start = true;
                        break;
                case '}': case ']':
                        value_may_start = false;
                        break;
                default:
                        if (value_may_start)
                                n++;
                        value_may_start = false;
                        break;
                }
                if (n > limit)
                        return limit + 1;
        }
        return n;
}

size_t json_count_tree(const json_t *j) {
        size_t n = 1, i;
        const char *key;
        json_t *v;

        if (json_is_array(j))
                json_array_foreach(j, i, v)
                        n += json_count_tree(v);
        else if (json_is_object(j))
                json_object_foreach((json_t *) j, key, v)
                        n += 1 + json_count_tree(v);
        return n;
}
