/* SPDX-License-Identifier: MIT */

/*
 * The log backend. Under systemd with stderr connected to the journal, records go out through
 * sd_journal_sendv() with their fields; everywhere else (a terminal, tests,
 * systemd-socket-activate) as one "<N>" prefixed line on stderr. sd_journal_send() silently drops
 * records when no journald runs, so the choice is made from JOURNAL_STREAM, never from its
 * return value.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "util/log.h"
#include "util/macro.h"

static int max_level = LOG_INFO;
static bool use_journal = false;

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(LogTarget target, int level) {
        max_level = level;
        use_journal = target == LOG_TARGET_JOURNAL || (target == LOG_TARGET_AUTO && stderr_is_journal());
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

bool log_to_journal(void) {
        return use_journal;
}

static void log_console(int level, const char *msg, char *const *fields) {
        char buf[4096];
        size_t n = 0;
        int k;

        k = snprintf(buf, sizeof(buf), "<%d>%s", level, msg);
        n = k > 0 ? MIN((size_t) k, sizeof(buf) - 1) : 0;
        for (char *const *f = fields; f && *f && n < sizeof(buf) - 1; f++) {
                /* KEY=value -> key=value: the console form is for people. */
                const char *eq = strchr(*f, '='), *name = *f;
                if (!eq || strneq(name, "MESSAGE_ID=", 11))
                        continue;
                if (strneq(name, "CLAUDE_PROXY_", 13))
                        name += 13;
                buf[n++] = ' ';
                for (const char *c = name; c < eq && n < sizeof(buf) - 1; c++)
                        buf[n++] = (char) (*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
                k = snprintf(buf + n, sizeof(buf) - n, "%s", eq);
                n += k > 0 ? MIN((size_t) k, sizeof(buf) - 1 - n) : 0;
        }
        buf[n++] = '\n';
        (void) !write(STDERR_FILENO, buf, n);
}

int log_internal(int level, int error, const char *file, int line, const char *func, char *const *fields,
                 const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int saved = errno;

        /* Let %m print the error we were handed. */
        if (error != 0)
                errno = abs(error);
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        errno = saved;

        if (!use_journal) {
                log_console(level, msg, fields);
                return error != 0 ? -abs(error) : 0;
        }

        struct iovec iov[64];
        char *owned[8] = {};
        size_t n = 0, o = 0;

#define IOV_PRINTF(...)                                                          \
        do {                                                                     \
                if (o < ELEMENTSOF(owned) && asprintf(&owned[o], __VA_ARGS__) >= 0) { \
                        iov[n++] = (struct iovec) { owned[o], strlen(owned[o]) }; \
                        o++;                                                     \
                }                                                                \
        } while (0)

        IOV_PRINTF("MESSAGE=%s", msg);
        IOV_PRINTF("PRIORITY=%d", level);
        IOV_PRINTF("CODE_FILE=%s", file);
        IOV_PRINTF("CODE_LINE=%d", line);
        IOV_PRINTF("CODE_FUNC=%s", func);
        if (error != 0)
                IOV_PRINTF("ERRNO=%d", abs(error));
        iov[n++] = (struct iovec) { (char *) "SYSLOG_IDENTIFIER=claude-proxy", strlen("SYSLOG_IDENTIFIER=claude-proxy") };
        for (char *const *f = fields; f && *f && n < ELEMENTSOF(iov); f++)
                iov[n++] = (struct iovec) { *f, strlen(*f) };
#undef IOV_PRINTF

        (void) sd_journal_sendv(iov, (int) n);
        for (size_t i = 0; i < o; i++)
                free(owned[i]);
        return error != 0 ? -abs(error) : 0;
}
