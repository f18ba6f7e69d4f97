/* SPDX-License-Identifier: MIT */

/* String vectors. Pure libc. */

#include <stdlib.h>
#include <string.h>

#include "util/strv.h"

size_t strv_length(char *const *l) {
        size_t n = 0;

        if (!l)
                return 0;
        while (l[n])
                n++;
        return n;
}

int strv_consume(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **nl;

        if (!s)
                return -ENOMEM;
        nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[n] = s;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        return strv_consume(l, strdup(s));
}

bool strv_contains(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

int strv_split_trim(const char *s, const char *sep, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p = s;

        /* An empty vector is still a vector: callers tell "none" from "not set" by NULL. */
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        while (p && *p) {
                size_t n = strcspn(p, sep);
                const char *b = p, *e = p + n;
                while (b < e && (*b == ' ' || *b == '\t'))
                        b++;
                while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if (e > b) {
                        int r = strv_consume(&l, strndup(b, (size_t) (e - b)));
                        if (r < 0)
                                return r;
                }
                p += n;
                if (*p)
                        p++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}
