/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Logging: native journal entries when stderr is the journal (JOURNAL_STREAM), otherwise
 * "<N>message KEY=value ..." lines on stderr, which journald also understands.
 */

#include <errno.h>
#include <stdbool.h>
#include <syslog.h>

typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_CONSOLE,
} LogTarget;

void log_setup(LogTarget target, int max_level);
void log_set_max_level(int level);
int log_get_max_level(void);
bool log_to_journal(void);

/*
 * Emit one record. `fields` is a NULL-terminated list of "KEY=value" strings (may be NULL) added
 * as journal fields, or appended as " key=value" on the console. Returns -abs(error) when error
 * is non-zero, else 0, so callers can `return log_error_errno(r, ...)`.
 */
int log_internal(int level, int error, const char *file, int line, const char *func, char *const *fields,
                 const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#define log_full_errno_fields(level, error, fields, ...)                                          \
        ({                                                                                        \
                int _l = (level), _e = (error);                                                   \
                (_l <= log_get_max_level())                                                       \
                        ? log_internal(_l, _e, __FILE__, __LINE__, __func__, (fields), __VA_ARGS__) \
                        : (_e != 0 ? -abs(_e) : 0);                                               \
        })
#define log_full_errno(level, error, ...) log_full_errno_fields(level, error, NULL, __VA_ARGS__)

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
