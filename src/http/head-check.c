/* SPDX-License-Identifier: MIT */

/*
 * What a request head must satisfy before any handler sees it. libevent parses leniently: it
 * takes any bytes in names and values (a NUL cuts a value short, see http/nul-guard.c), frames a
 * body by the first Content-Length it finds, and treats any Transfer-Encoding other than exactly
 * "chunked" as absent. Each of these lets a request mean one thing to us and another to a proxy in
 * front of us, so they are refused here, with the reason (RFC 9110 §5.5, RFC 9112 §6).
 */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/head-check.h"

/* RFC 9110 §5.6.2 tchar. */
static bool is_token(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
                        return false;
        }
        return true;
}

/* Field values: visible characters, obs-text, space and tab; no other control character. */
static bool is_field_value(const char *s) {
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return false;
        }
        return true;
}

/* Printable, truncated copy of a client-supplied string for an error message. */
static void quote(char *out, size_t size, const char *s) {
        size_t i = 0;

        for (; *s && i + 1 < size && i < 64; s++)
                out[i++] = ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f) ? '?' : *s;
        out[i] = 0;
}

int head_check(int major, int minor, const HeadField *fields, size_t n, char *msg, size_t msg_size) {
        const char *te = NULL, *cl = NULL;
        char q[80];

        if (major != 1 || (minor != 0 && minor != 1)) {
                snprintf(msg, msg_size, "HTTP/%d.%d is not supported; use HTTP/1.1", major, minor);
                return 505;
        }
        if (n > HEAD_MAX_FIELDS) {
                snprintf(msg, msg_size, "Too many header fields (%zu, at most %d)", n, HEAD_MAX_FIELDS);
                return 431;
        }
        for (size_t i = 0; i < n; i++) {
                const char *name = fields[i].name, *value = fields[i].value;

                if (!is_token(name)) {
                        quote(q, sizeof(q), name);
                        snprintf(msg, msg_size, "Invalid header field name '%s'", q);
                        return 400;
                }
                if (!is_field_value(value)) {
                        snprintf(msg, msg_size, "Header field '%s' contains a control character", name);
                        return 400;
                }
                if (strcasecmp(name, "transfer-encoding") == 0) {
                        if (te) {
                                snprintf(msg, msg_size, "Transfer-Encoding is given more than once");
                                return 400;
                        }
                        te = value;
                } else if (strcasecmp(name, "content-length") == 0) {
                        /* Two, even equal, are how smuggling starts; no client needs it. */
                        if (cl) {
                                snprintf(msg, msg_size, "Content-Length is given more than once");
                                return 400;
                        }
                        cl = value;
                } else if (strcasecmp(name, "content-encoding") == 0 && strcasecmp(value, "identity") != 0) {
                        quote(q, sizeof(q), value);
                        snprintf(msg, msg_size, "Content-Encoding '%s' is not supported; send the body uncompressed",
                                 q);
                        return 415;
                }
        }
        /* libevent decodes exactly "chunked" and ignores anything else, so "gzip, chunked" would be
         * read as a body without framing. */
        if (te && strcasecmp(te, "chunked") != 0) {
                quote(q, sizeof(q), te);
                snprintf(msg, msg_size, "Transfer-Encoding '%s' is not supported; only 'chunked' is", q);
                return 400;
        }
        if (te && cl) {
                snprintf(msg, msg_size, "Content-Length and Transfer-Encoding must not both be given");
                return 400;
        }
        if (te && major == 1 && minor == 0) {
                snprintf(msg, msg_size, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
                return 400;
        }
        return 0;
}
