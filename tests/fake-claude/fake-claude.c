/* SPDX-License-Identifier: MIT */

/*
 * fake-claude: a deterministic stand-in for the Claude Code CLI in integration tests.
 *
 * It speaks the CLI's stream-json protocol on stdin/stdout but never invents output: every
 * line it prints is a line of a transcript recorded from the real CLI (tests/data/transcripts),
 * except the deliberate garbage and oversized lines of the fault modes. It does not interpret
 * flags, talk to any API or check the conversation it is given; it only logs what it saw
 * (argv, environment, stdin lines, the system-prompt files it was pointed at) so that tests
 * can assert what the proxy handed the CLI.
 *
 * Which transcript and which faults: a `[[fake:NAME key=value ...]]` directive in the final
 * user message, else the FAKE_CLAUDE_* environment, else "text" (or, after an initialize with a
 * jsonSchema, the recorded structured-output run).
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fake-control.h"
#include "fake-claude.h"
#include "util/macro.h"

#ifndef FAKE_CLAUDE_DEFAULT_DIR
#  error "FAKE_CLAUDE_DEFAULT_DIR must be set by the build"
#endif

#define FAKE_VERSION "2.1.197 (Claude Code)"
/*
 * A history acknowledgement checks whether the proxy already wrote the next line, which it must
 * not do before it has read the `result` (cli/README §10). It checks once the proxy (our parent)
 * has been seen asleep after writing the line we just read, so a proxy that writes ahead has had
 * its chance to, however slow the machine; this long at most, then the log says it was not seen.
 */
#define FAKE_IDLE_WAIT_MS 5000
/* A fault mode that "hangs forever" still ends eventually, so a broken proxy leaks nothing. */
#define FAKE_FOREVER_SEC 600

extern char **environ;

typedef enum GrandchildMode {
        GRANDCHILD_NONE,
        GRANDCHILD_GROUP,       /* one child sleeping in our process group */
        GRANDCHILD_SETSID,      /* that one plus a second that left the group with setsid() */
} GrandchildMode;

typedef struct Options {
        char *transcript;
        uint64_t delay_ms;
        int64_t crash_after;    /* -1: never */
        bool crash_exit;        /* crash_mode=exit: exit 3 instead of SIGKILL */
        int64_t hang_after;     /* -1: never */
        bool garbage;
        uint64_t huge_line;
        int exit_code;          /* -1: the transcript's */
        char *stderr_text;
        bool ignore_sigterm;
        GrandchildMode grandchild;
        bool no_eof_wait;
        uint64_t repeat_deltas; /* print each recorded content_block_delta line this many times */
        char *release;          /* with hang_after: wait for this file to exist, then go on */
        int64_t resets_in;      /* rate_limit_info.resetsAt becomes now + this (s); INT64_MIN: as recorded */
        char *others_hang;      /* claim key: the first process to claim it keeps its faults, the rest hang */
        bool ignore_interrupt;  /* client tools: a parked run never ends on interrupt (fake-tools.c) */
} Options;

static const char *const option_keys[] = {
        "delay", "crash_after", "crash_mode", "hang_after", "garbage", "huge_line",
        "exit_code", "stderr", "ignore_sigterm", "grandchild", "no_eof_wait", "release", "resets_in",
        "repeat_deltas", "others_hang", "ignore_interrupt",
};

typedef struct Transcript {
        json_t *lines;          /* array of raw line strings, as recorded */
        json_t *parsed;         /* array of parsed lines (null where a line is not JSON) */
        int exit_code;
        char *stderr_text;
} Transcript;

/* Everything the log file holds; rewritten whole after each change so a killed run keeps it. */
static json_t *log_root;
static char *log_path;

/*
 * The transcript of a run whose initialize carried a jsonSchema: the real CLI then offers its
 * StructuredOutput tool and reports the value in result.structured_output (cli/README §13).
 * Recorded by the CLI research with the schema {name: string, age: integer}; the value is
 * {"name":"Bob","age":42}.
 */
#define FAKE_STRUCTURED_TRANSCRIPT "s4b_warm_late_initialize_json_schema"
static bool structured;

static void options_done(Options *o) {
        free(o->transcript);
        free(o->stderr_text);
        free(o->release);
        free(o->others_hang);
}

static void transcript_done(Transcript *t) {
        json_decref(t->lines);
        json_decref(t->parsed);
        free(t->stderr_text);
}

static void sigterm_exit(int sig) {
        /* The real CLI exits 143 on SIGTERM without printing anything more (cli/README §13). */
        _exit(128 + SIGTERM);
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;

        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

static bool parse_bool(const char *s) {
        return streq(s, "1") || streq(s, "true") || streq(s, "yes");
}

static bool name_is_safe(const char *name) {
        if (!name[0] || strlen(name) > 128)
                return false;
        for (const char *p = name; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-')
                        return false;
        return true;
}

static int options_set(Options *o, const char *key, const char *value) {
        uint64_t u;

        if (streq(key, "delay")) {
                if (parse_u64(value, &u) < 0)
                        return -EINVAL;
                o->delay_ms = u;
        } else if (streq(key, "crash_after") || streq(key, "hang_after")) {
                if (parse_u64(value, &u) < 0 || u > INT64_MAX)
                        return -EINVAL;
                *(streq(key, "crash_after") ? &o->crash_after : &o->hang_after) = (int64_t) u;
        } else if (streq(key, "crash_mode")) {
                o->crash_exit = streq(value, "exit");
        } else if (streq(key, "garbage")) {
                o->garbage = parse_bool(value);
        } else if (streq(key, "huge_line")) {
                if (parse_u64(value, &u) < 0 || u > (uint64_t) 1 << 30)
                        return -EINVAL;
                o->huge_line = u;
        } else if (streq(key, "exit_code")) {
                if (parse_u64(value, &u) < 0 || u > 255)
                        return -EINVAL;
                o->exit_code = (int) u;
        } else if (streq(key, "stderr")) {
                char *s = strdup(value);
                if (!s)
                        return -ENOMEM;
                free(o->stderr_text);
                o->stderr_text = s;
        } else if (streq(key, "ignore_sigterm")) {
                o->ignore_sigterm = parse_bool(value);
        } else if (streq(key, "grandchild")) {
                o->grandchild = streq(value, "setsid") ? GRANDCHILD_SETSID :
                                parse_bool(value) ? GRANDCHILD_GROUP : GRANDCHILD_NONE;
        } else if (streq(key, "ignore_interrupt")) {
                o->ignore_interrupt = parse_bool(value);
        } else if (streq(key, "no_eof_wait")) {
                o->no_eof_wait = parse_bool(value);
        } else if (streq(key, "repeat_deltas")) {
                if (parse_u64(value, &u) < 0 || u > 10000000)
                        return -EINVAL;
                o->repeat_deltas = u;
        } else if (streq(key, "release")) {
                char *s = strdup(value);
                if (!s)
                        return -ENOMEM;
                free(o->release);
                o->release = s;
        } else if (streq(key, "resets_in")) {
                char *end;
                errno = 0;
                long long v = strtoll(value, &end, 10);
                if (errno != 0 || end == value || *end != '\0' || v <= INT64_MIN)
                        return -EINVAL;
                o->resets_in = v;
        } else if (streq(key, "others_hang")) {
                char *s;

                if (!name_is_safe(value))
                        return -EINVAL;
                s = strdup(value);
                if (!s)
                        return -ENOMEM;
                free(o->others_hang);
                o->others_hang = s;
        } else
                return -ENOENT;
        return 0;
}

static int options_set_transcript(Options *o, const char *name) {
        char *s;

        if (!name_is_safe(name))
                return -EINVAL;
        s = strdup(name);
        if (!s)
                return -ENOMEM;
        free(o->transcript);
        o->transcript = s;
        return 0;
}

static int options_load_env(Options *o) {
        const char *v;
        int r;

        v = getenv("FAKE_CLAUDE_TRANSCRIPT");
        if (v && v[0]) {
                r = options_set_transcript(o, v);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(option_keys); i++) {
                char name[64] = "FAKE_CLAUDE_";
                size_t n = strlen(name);

                for (const char *k = option_keys[i]; *k && n < sizeof(name) - 1; k++)
                        name[n++] = (char) toupper((unsigned char) *k);
                name[n] = '\0';

                v = getenv(name);
                if (!v)
                        continue;
                r = options_set(o, option_keys[i], v);
                if (r < 0) {
                        fprintf(stderr, "fake-claude: bad %s='%s'\n", name, v);
                        return r;
                }
        }
        return 0;
}

/*
 * Parse "[[fake:NAME key=value key="quoted value" ...]]" out of `text`. NAME may be empty
 * ("[[fake: delay=10]]") to keep the transcript chosen by the environment.
 */
static int options_load_directive(Options *o, const char *text) {
        const char *p, *end;
        int r;

        p = strstr(text, "[[fake:");
        if (!p)
                return 0;
        p += strlen("[[fake:");
        end = strstr(p, "]]");
        if (!end)
                return -EINVAL;

        _cleanup_free_ char *body = strndup(p, (size_t) (end - p));
        if (!body)
                return -ENOMEM;

        char *s = body;
        bool first = true;
        for (;;) {
                while (*s == ' ' || *s == '\t' || *s == '\n')
                        s++;
                if (!*s)
                        break;

                char *tok = s, *eq = NULL, *value;
                while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '=')
                        s++;
                if (*s == '=') {
                        eq = s;
                        *eq = '\0';
                        s++;
                        if (*s == '"') {
                                value = ++s;
                                while (*s && *s != '"')
                                        s++;
                                if (*s != '"')
                                        return -EINVAL;
                        } else {
                                value = s;
                                while (*s && *s != ' ' && *s != '\t' && *s != '\n')
                                        s++;
                        }
                } else
                        value = NULL;
                bool more = *s != '\0';
                *s = '\0';

                if (!eq) {
                        /* Only the first bare word is a transcript name. */
                        if (!first)
                                return -EINVAL;
                        r = options_set_transcript(o, tok);
                } else
                        r = options_set(o, tok, value);
                if (r < 0) {
                        fprintf(stderr, "fake-claude: bad directive item '%s'\n", tok);
                        return r;
                }
                first = false;
                if (!more)
                        break;
                s++;
        }
        return 0;
}

static char *path_join(const char *dir, const char *name, const char *suffix) {
        char *p;

        if (asprintf(&p, "%s/%s%s", dir, name, suffix) < 0)
                return NULL;
        return p;
}

static const char *transcript_dir(void) {
        const char *d = getenv("FAKE_CLAUDE_DIR");

        return d && d[0] ? d : FAKE_CLAUDE_DEFAULT_DIR;
}

static int transcript_load(Transcript *t, const char *name) {
        _cleanup_free_ char *path = NULL, *meta_path = NULL, *line = NULL;
        size_t cap = 0;
        ssize_t n;
        FILE *f;

        *t = (Transcript) { .exit_code = 0 };

        path = path_join(transcript_dir(), name, ".ndjson");
        meta_path = path_join(transcript_dir(), name, ".meta.json");
        if (!path || !meta_path)
                return -ENOMEM;

        f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "fake-claude: cannot open transcript '%s': %m\n", path);
                return -errno;
        }

        t->lines = json_array();
        t->parsed = json_array();
        if (!t->lines || !t->parsed) {
                fclose(f);
                return -ENOMEM;
        }

        while ((n = getline(&line, &cap, f)) >= 0) {
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (n == 0)
                        continue;
                json_t *parsed = json_loadb(line, (size_t) n, 0, NULL);
                if (json_array_append_new(t->lines, json_stringn(line, (size_t) n)) < 0 ||
                    json_array_append_new(t->parsed, parsed ?: json_null()) < 0) {
                        fclose(f);
                        return -ENOMEM;
                }
        }
        fclose(f);

        /* The meta file is optional: without it the run exits 0 with nothing on stderr. */
        json_auto_t *meta = json_load_file(meta_path, 0, NULL);
        if (meta) {
                const json_t *code = json_object_get(meta, "exit_code");
                const json_t *err = json_object_get(meta, "stderr");

                if (json_is_integer(code))
                        t->exit_code = (int) json_integer_value(code);
                if (json_is_string(err) && json_string_length(err) > 0) {
                        t->stderr_text = strdup(json_string_value(err));
                        if (!t->stderr_text)
                                return -ENOMEM;
                }
        }
        return 0;
}

static bool line_is_result(const json_t *parsed) {
        return json_is_object(parsed) && streq_ptr(json_string_value(json_object_get(parsed, "type")), "result");
}

/*
 * [first, last) of the final turn: everything after the last `result` line that is not the
 * transcript's final result. A one-turn transcript replays whole; a history transcript drops
 * its shouldQuery:false acknowledgements, which the history handler prints per input line.
 */
static void transcript_last_turn(const Transcript *t, size_t *ret_first, size_t *ret_last) {
        size_t n = json_array_size(t->parsed), last_result = n, first = 0;

        for (size_t i = n; i > 0; i--)
                if (line_is_result(json_array_get(t->parsed, i - 1))) {
                        last_result = i - 1;
                        break;
                }
        for (size_t i = last_result; i > 0; i--)
                if (line_is_result(json_array_get(t->parsed, i - 1))) {
                        first = i;
                        break;
                }
        *ret_first = first;
        *ret_last = n;
}

/* [first, last) of the first turn: the init and result lines of one shouldQuery:false input. */
static void transcript_first_turn(const Transcript *t, size_t *ret_first, size_t *ret_last) {
        size_t n = json_array_size(t->parsed);

        *ret_first = 0;
        *ret_last = n;
        for (size_t i = 0; i < n; i++)
                if (line_is_result(json_array_get(t->parsed, i))) {
                        *ret_last = i + 1;
                        return;
                }
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/*
 * The line and its newline in one writev(), as the real CLI (node) writes a whole line at once:
 * two writes would wake the reader twice per line, and the proxy's cost per request as well as
 * bench/spawn-floor's would be measured against a CLI that does not exist.
 */
int print_line(const char *s, size_t n) {
        struct iovec iov[2] = { { .iov_base = (void *) s, .iov_len = n }, { .iov_base = (void *) "\n", .iov_len = 1 } };
        ssize_t k;

        do
                k = writev(STDOUT_FILENO, iov, 2);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        if ((size_t) k > n)
                return 0;
        /* A short write (a full pipe with O_NONBLOCK, a huge line): the rest the slow way. */
        int r = write_all(STDOUT_FILENO, s + k, n - (size_t) k);
        return r < 0 ? r : write_all(STDOUT_FILENO, "\n", 1);
}

/* `times` copies of a line, written in large chunks: a flood of single-line writes would make
 * the fake, not the proxy, the bottleneck. */
static int print_line_repeated(const char *s, size_t n, uint64_t times) {
        size_t per = MAX((size_t) 1, (size_t) (256 * 1024) / (n + 1));
        _cleanup_free_ char *buf = malloc(per * (n + 1));

        if (!buf)
                return -ENOMEM;
        for (size_t k = 0; k < per; k++) {
                memcpy(buf + k * (n + 1), s, n);
                buf[k * (n + 1) + n] = '\n';
        }
        while (times > 0) {
                size_t now = (size_t) MIN((uint64_t) per, times);
                int r = write_all(STDOUT_FILENO, buf, now * (n + 1));
                if (r < 0)
                        return r;
                times -= now;
        }
        return 0;
}

static void sleep_ms(uint64_t ms) {
        struct timespec ts = { .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void log_flush(void) {
        _cleanup_free_ char *tmp = NULL;

        if (!log_path)
                return;
        if (asprintf(&tmp, "%s.tmp", log_path) < 0)
                return;
        /* Write-then-rename, so a test polling the file never reads half of it. */
        if (json_dump_file(log_root, tmp, JSON_INDENT(1)) < 0 || rename(tmp, log_path) < 0)
                fprintf(stderr, "fake-claude: cannot write log '%s': %m\n", log_path);
}

void log_set(const char *key, json_t *value) {
        if (value)
                (void) json_object_set_new(log_root, key, value);
        log_flush();
}

/*
 * What the CLI would read from the paths of @flag_a/@flag_b (--system-prompt-file and
 * --append-system-prompt-file, or --mcp-config; the proxy passes memfds as /dev/fd/3 and 4):
 * [{flag, path, text}] with text null when unreadable.
 */
static json_t *flag_files_read(int argc, char **argv, const char *flag_a, const char *flag_b) {
        json_t *arr = json_array();

        for (int i = 1; arr && i + 1 < argc; i++) {
                if (!streq(argv[i], flag_a) && !streq(argv[i], flag_b))
                        continue;

                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                FILE *f = fopen(argv[i + 1], "re");
                FILE *m = f ? open_memstream(&buf, &len) : NULL;
                char chunk[65536];
                size_t k;

                while (m && (k = fread(chunk, 1, sizeof(chunk), f)) > 0)
                        (void) fwrite(chunk, 1, k, m);
                if (m)
                        (void) fclose(m);
                if (f)
                        (void) fclose(f);
                (void) json_array_append_new(arr, json_pack("{s:s,s:s,s:o?}", "flag", argv[i], "path", argv[i + 1],
                                                            "text", m ? json_stringn(buf ?: "", len) : NULL));
        }
        return arr;
}

/*
 * What the proxy left us at exec, taken before we open anything: the fds we hold and the signal
 * masks of /proc/self/status (SigBlk, SigIgn are inherited across execve(); a proxy that leaks
 * either shows here). Filled by inherited_snapshot(), logged by log_init().
 */
static json_t *inherited;

static void inherited_snapshot(void) {
        json_t *fds = json_array();
        char line[256];
        FILE *f;
        DIR *d;

        inherited = json_object();
        if (!inherited || !fds) {
                json_decref(fds);
                return;
        }
        d = opendir("/proc/self/fd");
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
                                (void) json_array_append_new(fds, json_integer(atoi(de->d_name)));
                closedir(d);
        }
        (void) json_object_set_new(inherited, "fds", fds);
        f = fopen("/proc/self/status", "re");
        if (f) {
                while (fgets(line, sizeof(line), f))
                        if (strneq(line, "SigBlk:", 7) || strneq(line, "SigIgn:", 7)) {
                                line[6] = 0;
                                line[strcspn(line + 7, "\n") + 7] = 0;
                                (void) json_object_set_new(inherited, line, json_string(line + 7 + strspn(line + 7, " \t")));
                        }
                fclose(f);
        }
}

static int log_init(int argc, char **argv) {
        const char *dir = getenv("FAKE_CLAUDE_LOG_DIR");
        char cwd[PATH_MAX];

        log_root = json_object();
        if (!log_root)
                return -ENOMEM;

        json_t *a = json_array(), *env = json_object();
        if (!a || !env) {
                json_decref(a);
                json_decref(env);
                return -ENOMEM;
        }
        for (int i = 0; i < argc; i++)
                (void) json_array_append_new(a, json_string(argv[i]));
        for (char **e = environ; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                if (!eq)
                        continue;
                _cleanup_free_ char *k = strndup(*e, (size_t) (eq - *e));
                if (k)
                        (void) json_object_set_new(env, k, json_string(eq + 1));
        }

        (void) json_object_set_new(log_root, "system_prompt_files",
                                   flag_files_read(argc, argv, "--system-prompt-file", "--append-system-prompt-file"));
        (void) json_object_set_new(log_root, "mcp_config_files", flag_files_read(argc, argv, "--mcp-config", "--mcp-config"));
        (void) json_object_set_new(log_root, "pid", json_integer(getpid()));
        (void) json_object_set_new(log_root, "ppid", json_integer(getppid()));
        (void) json_object_set_new(log_root, "pgid", json_integer(getpgrp()));
        (void) json_object_set_new(log_root, "sid", json_integer(getsid(0)));
        (void) json_object_set_new(log_root, "cwd", json_string(getcwd(cwd, sizeof(cwd)) ? cwd : ""));
        (void) json_object_set_new(log_root, "argv", a);
        (void) json_object_set_new(log_root, "env", env);
        (void) json_object_set_new(log_root, "stdin", json_array());
        (void) json_object_set_new(log_root, "grandchildren", json_array());
        (void) json_object_set_new(log_root, "history_acks", json_array());
        (void) json_object_set_new(log_root, "state", json_string("started"));
        if (inherited)
                (void) json_object_set_new(log_root, "inherited", json_incref(inherited));

        if (dir && dir[0]) {
                if (asprintf(&log_path, "%s/%d.json", dir, (int) getpid()) < 0)
                        return -ENOMEM;
                log_flush();
        }
        return 0;
}

void log_stdin_line(const char *line, size_t n, const json_t *parsed) {
        json_t *arr = json_object_get(log_root, "stdin");

        if (!log_path)
                return;         /* nobody reads it: no copy of a 10 MB line (bench/large-body.mjs) */
        (void) json_array_append_new(arr, parsed ? json_deep_copy(parsed) : json_stringn(line, n));
        log_flush();
}

/* Collect the text of a user message: a string, or the text blocks of a content array. */
static char *user_text(const json_t *line) {
        const json_t *content = json_object_get(json_object_get(line, "message"), "content");
        size_t i;
        const json_t *b;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        if (json_is_string(content))
                return strdup(json_string_value(content));

        f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        json_array_foreach(content, i, b) {
                const char *t = json_string_value(json_object_get(b, "text"));
                if (t && streq_ptr(json_string_value(json_object_get(b, "type")), "text"))
                        fprintf(f, "%s\n", t);
        }
        fclose(f);
        return buf;
}

void sleep_forever(void) {
        time_t until = time(NULL) + FAKE_FOREVER_SEC;

        while (time(NULL) < until)
                sleep(1);
        _exit(0);
}

static pid_t spawn_grandchild(bool leave_group) {
        pid_t pid = fork();

        if (pid != 0)
                return pid;

        if (leave_group) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                (void) setsid();
                /* Out of the group it must not hold the proxy's pipes open either. */
                if (null >= 0) {
                        (void) dup2(null, STDIN_FILENO);
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
        }
        /* The in-group one keeps our stdio, like a tool subprocess of the real CLI would. */
        sleep_forever();
        _exit(0);
}

static void spawn_grandchildren(GrandchildMode mode) {
        json_t *arr = json_object_get(log_root, "grandchildren");

        if (mode == GRANDCHILD_NONE)
                return;

        pid_t pid = spawn_grandchild(false);
        if (pid > 0)
                (void) json_array_append_new(arr, json_pack("{s:i,s:b}", "pid", (int) pid, "setsid", false));
        if (mode == GRANDCHILD_SETSID) {
                pid = spawn_grandchild(true);
                if (pid > 0)
                        (void) json_array_append_new(arr, json_pack("{s:i,s:b}", "pid", (int) pid,
                                                                    "setsid", true));
        }
        log_flush();
}

static int print_huge_line(uint64_t size) {
        static const char head[] = "{\"type\":\"system\",\"subtype\":\"fake_padding\",\"data\":\"";
        static const char tail[] = "\"}";
        _cleanup_free_ char *buf = NULL;
        size_t n = MAX((size_t) size, sizeof(head) + sizeof(tail));

        buf = malloc(n);
        if (!buf)
                return -ENOMEM;
        memset(buf, 'x', n);
        memcpy(buf, head, sizeof(head) - 1);
        memcpy(buf + n - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
        return print_line(buf, n);
}

/* A stream_event carrying a content_block_delta: what repeat_deltas multiplies (a client-visible
 * flood made only of recorded lines, for back-pressure tests). */
static bool line_is_delta(const json_t *parsed) {
        const json_t *ev = json_object_get(parsed, "event");

        return json_is_object(parsed) &&
               streq_ptr(json_string_value(json_object_get(parsed, "type")), "stream_event") &&
               streq_ptr(json_string_value(json_object_get(ev, "type")), "content_block_delta");
}

/* Poll for `path` to exist (a test releasing a held request), for FAKE_FOREVER_SEC at most. */
static void wait_for_file(const char *path) {
        time_t until = time(NULL) + FAKE_FOREVER_SEC;

        while (access(path, F_OK) < 0 && time(NULL) < until)
                sleep_ms(20);
}

/*
 * Print line `i` of `t`. With resets_in, a rate_limit_event's resetsAt becomes now + resets_in
 * (a recorded reset time soon lies in the past, which makes retry-after a constant 0); the
 * line is otherwise the recorded one, re-serialised in its own key order.
 */
static int print_transcript_line(const Transcript *t, size_t i, const Options *o) {
        const json_t *s = json_array_get(t->lines, i), *parsed = json_array_get(t->parsed, i);
        const json_t *info = json_object_get(parsed, "rate_limit_info");

        if (o->resets_in != INT64_MIN && json_is_integer(json_object_get(info, "resetsAt")) &&
            streq_ptr(json_string_value(json_object_get(parsed, "type")), "rate_limit_event")) {
                json_auto_t *copy = json_deep_copy(parsed);
                _cleanup_free_ char *text = NULL;

                if (!copy || json_object_set_new(json_object_get(copy, "rate_limit_info"), "resetsAt",
                                                 json_integer((json_int_t) time(NULL) + o->resets_in)) < 0)
                        return -ENOMEM;
                text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
                if (!text)
                        return -ENOMEM;
                return print_line(text, strlen(text));
        }
        return print_line(json_string_value(s), json_string_length(s));
}

/* Replay [first, last) of `t` with the fault options applied. */
static int replay(const Transcript *t, size_t first, size_t last, const Options *o) {
        static const char *const garbage[] = {
                "this is not JSON",
                "{\"type\":\"assistant\",\"message\":",
                "\x1b[31mWarning:\x1b[0m something on stdout",
        };
        int64_t printed = 0;
        bool released = false;
        int r;

        if (o->huge_line > 0) {
                r = print_huge_line(o->huge_line);
                if (r < 0)
                        return r;
        }

        for (size_t i = first; i < last; i++) {
                if (o->crash_after >= 0 && printed >= o->crash_after) {
                        if (o->crash_exit)
                                _exit(3);
                        (void) raise(SIGKILL);
                }
                if (o->hang_after >= 0 && printed >= o->hang_after && !released) {
                        if (!o->release)
                                sleep_forever();
                        wait_for_file(o->release);
                        released = true;
                }
                /* The recorder's answers to its own host requests: ours were answered as they came. */
                if (streq_ptr(json_string_value(json_object_get(json_array_get(t->parsed, i), "type")),
                              "control_response"))
                        continue;
                if (o->delay_ms > 0 && i > first)
                        sleep_ms(o->delay_ms);

                if (o->repeat_deltas > 1 && line_is_delta(json_array_get(t->parsed, i))) {
                        const json_t *s = json_array_get(t->lines, i);
                        r = print_line_repeated(json_string_value(s), json_string_length(s), o->repeat_deltas);
                } else
                        r = print_transcript_line(t, i, o);
                if (r < 0)
                        return r;
                printed++;

                if (o->garbage) {
                        const char *g = garbage[i % ELEMENTSOF(garbage)];
                        r = print_line(g, strlen(g));
                        if (r < 0)
                                return r;
                }
        }
        if (o->crash_after >= 0 && printed >= o->crash_after) {
                if (o->crash_exit)
                        _exit(3);
                (void) raise(SIGKILL);
        }
        if (o->hang_after >= 0 && printed >= o->hang_after && !released) {
                if (!o->release)
                        sleep_forever();
                wait_for_file(o->release);
        }
        return 0;
}

/* Is more stdin already waiting (in stdio's buffer or the pipe)? */
static bool stdin_pending(void) {
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };

        /* glibc keeps read-ahead in the FILE; a line already buffered was written early too. */
        if (stdin->_IO_read_ptr < stdin->_IO_read_end)
                return true;
        return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/* Our parent's scheduler state ('R', 'S', ...) from /proc, or 0. */
static char parent_state(void) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t cap = 0;
        char state = 0;
        FILE *f;

        if (asprintf(&path, "/proc/%d/stat", (int) getppid()) < 0)
                return 0;
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (getline(&buf, &cap, f) > 0) {
                const char *p = strrchr(buf, ')');
                if (p && p[1] == ' ')
                        state = p[2];
        }
        fclose(f);
        return state;
}

/*
 * Has the proxy gone back to sleep since it wrote the line we just read? Seen asleep twice, a
 * millisecond apart, is taken as idle in its event loop: a write-ahead would have happened
 * before that. Not seen within FAKE_IDLE_WAIT_MS (a busy machine): false, and the log says so.
 */
static bool wait_parent_idle(void) {
        int asleep = 0;

        for (int waited = 0; waited < FAKE_IDLE_WAIT_MS; waited++) {
                if (stdin_pending())
                        return true;    /* written early: no need to wait for more */
                asleep = parent_state() == 'S' ? asleep + 1 : 0;
                if (asleep >= 2)
                        return true;
                sleep_ms(1);
        }
        return false;
}

static int history_ack(Transcript *history) {
        json_t *acks = json_object_get(log_root, "history_acks");
        size_t first, last;
        int r;

        bool idle_seen = wait_parent_idle();
        (void) json_array_append_new(acks, json_pack("{s:b,s:b}", "next_line_written_early", stdin_pending(),
                                                     "proxy_idle_seen", idle_seen));
        log_flush();

        if (!history->lines) {
                r = transcript_load(history, "history");
                if (r < 0)
                        return r;
        }
        transcript_first_turn(history, &first, &last);
        for (size_t i = first; i < last; i++) {
                const json_t *s = json_array_get(history->lines, i);
                r = print_line(json_string_value(s), json_string_length(s));
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * The real CLI answers every host control request (initialize, set_model, apply_flag_settings,
 * set_max_thinking_tokens, mcp_status, get_context_usage, ...) with a success line (recorded in
 * tests/data/transcripts/warm_* and s5a_*); a warm-pool proxy waits for the mcp_status one. The
 * bodies come from fake-control.c.
 */
bool fake_sdk_cp;
static unsigned n_initialize;

int answer_control_request(const json_t *req) {
        const char *id = json_string_value(json_object_get(req, "request_id"));
        const char *subtype = json_string_value(json_object_get(json_object_get(req, "request"), "subtype"));
        json_auto_t *line = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        if (streq_ptr(subtype, "initialize")) {
                const json_t *servers = json_object_get(json_object_get(req, "request"), "sdkMcpServers"), *n;
                size_t i;

                /* The CLI takes one initialize per process: a second one is a proxy bug to see. */
                log_set("initialize_count", json_integer(++n_initialize));
                json_array_foreach(servers, i, n)
                        if (streq_ptr(json_string_value(n), "cp"))
                                fake_sdk_cp = true;
        }

        if (!id)
                return 0;
        if (streq_ptr(subtype, "initialize")) {
                const json_t *schema = json_object_get(json_object_get(req, "request"), "jsonSchema");

                if (schema) {
                        structured = true;
                        log_set("json_schema", json_deep_copy(schema));
                }
        }
        r = fake_control_answer(transcript_dir(), id, subtype, &line);
        if (r < 0)
                return r;
        if (!line)
                return 0;       /* deliberately unanswered */
        text = json_dumps(line, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        return print_line(text, strlen(text));
}

static void apply_sigterm(const Options *o) {
        struct sigaction sa = { .sa_handler = o->ignore_sigterm ? SIG_IGN : sigterm_exit };
        sigset_t set;

        (void) sigaction(SIGTERM, &sa, NULL);
        /* A proxy that spawns us with SIGTERM blocked would hide a missing sigdefault. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        (void) sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * `claude auth status` (cli/README §17): the JSON the real 2.1.197 prints, exit 0 either way.
 * FAKE_CLAUDE_AUTH picks the answer: unset or "logged-in", "logged-out", "garbage" (not JSON),
 * "hang" (never answers); "@PATH" reads the word from PATH at each call, so a test can log the
 * fake in or out while the proxy runs.
 */
static int auth_status(void) {
        const char *mode = getenv("FAKE_CLAUDE_AUTH");
        char word[64] = "";

        if (mode && mode[0] == '@') {
                FILE *f = fopen(mode + 1, "re");
                if (f) {
                        size_t n = fread(word, 1, sizeof(word) - 1, f);
                        fclose(f);
                        word[n] = 0;
                        word[strcspn(word, " \r\n")] = 0;
                }
                mode = word;
        }
        if (!mode || !*mode || streq(mode, "logged-in"))
                printf("{\n  \"loggedIn\": true,\n  \"authMethod\": \"oauth_token\",\n  \"apiProvider\": \"firstParty\"\n}\n");
        else if (streq(mode, "logged-out"))
                printf("{\n  \"loggedIn\": false,\n  \"authMethod\": \"none\",\n  \"apiProvider\": \"firstParty\"\n}\n");
        else if (streq(mode, "hang"))
                for (;;)
                        pause();
        else
                printf("Not logged in · Please run /login\n");
        return 0;
}

static int run(int argc, char **argv) {
        _cleanup_(options_done) Options o = { .crash_after = -1, .hang_after = -1, .exit_code = -1,
                                              .resets_in = INT64_MIN };
        _cleanup_(transcript_done) Transcript history = {}, t = {};
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool replayed = false;
        int r;

        if (argc >= 3 && streq(argv[1], "auth") && streq(argv[2], "status"))
                return auth_status();

        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "--version") || streq(argv[i], "-v")) {
                        printf("%s\n", FAKE_VERSION);
                        return 0;
                }

        inherited_snapshot();
        r = options_load_env(&o);
        if (r < 0)
                return 2;
        apply_sigterm(&o);

        r = log_init(argc, argv);
        if (r < 0)
                return 2;

        while ((n = getline(&line, &cap, stdin)) >= 0) {
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (n == 0)
                        continue;

                /* The real CLI reads stdin with JSON.parse, which takes "\u0000" like any escape. */
                json_auto_t *parsed = json_loadb(line, (size_t) n, JSON_ALLOW_NUL, NULL);
                log_stdin_line(line, (size_t) n, parsed);
                if (replayed || !json_is_object(parsed))
                        continue;

                const char *type = json_string_value(json_object_get(parsed, "type"));
                if (streq_ptr(type, "control_request")) {
                        if (answer_control_request(parsed) < 0)
                                return 1;
                        continue;
                }
                if (!streq_ptr(type, "user")) {
                        /* assistant lines join the history silently */
                        fake_control_note_history(line, (size_t) n);
                        continue;
                }

                if (json_is_false(json_object_get(parsed, "shouldQuery"))) {
                        fake_control_note_history(line, (size_t) n);
                        r = history_ack(&history);
                        if (r < 0)
                                return 1;
                        continue;
                }

                /* The final user turn: pick the transcript and faults, then replay. */
                _cleanup_free_ char *text = user_text(parsed);
                if (text && options_load_directive(&o, text) < 0)
                        return 2;
                if (!o.transcript && options_set_transcript(&o, structured ? FAKE_STRUCTURED_TRANSCRIPT : "text") < 0)
                        return 2;
                /* Several children of one request (OpenAI n > 1) get the same directive: this
                 * lets one of them fail while its siblings hang until they are killed. */
                if (o.others_hang && getenv("FAKE_CLAUDE_LOG_DIR")) {
                        _cleanup_free_ char *claim = path_join(getenv("FAKE_CLAUDE_LOG_DIR"), "claim-", o.others_hang);
                        int fd = claim ? open(claim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;

                        if (fd >= 0)
                                close(fd);
                        else {
                                o.crash_after = -1;
                                o.hang_after = 0;
                        }
                        log_set("claimed", json_boolean(fd >= 0));
                }
                apply_sigterm(&o);

                r = transcript_load(&t, o.transcript);
                if (r < 0)
                        return 1;
                log_set("transcript", json_string(o.transcript));
                spawn_grandchildren(o.grandchild);
                log_set("state", json_string("replaying"));

                if (t.stderr_text)
                        (void) write_all(STDERR_FILENO, t.stderr_text, strlen(t.stderr_text));
                if (o.stderr_text) {
                        (void) write_all(STDERR_FILENO, o.stderr_text, strlen(o.stderr_text));
                        (void) write_all(STDERR_FILENO, "\n", 1);
                }

                size_t first, last;
                transcript_last_turn(&t, &first, &last);
                if (fake_tools_transcript(t.parsed))
                        r = fake_tools_replay(t.lines, t.parsed, first, last, o.ignore_interrupt);
                else
                        r = replay(&t, first, last, &o);
                if (r < 0)
                        return 1;
                replayed = true;
                log_set("state", json_string("replayed"));
                if (o.no_eof_wait)
                        break;
        }

        if (!replayed) {
                fprintf(stderr, "fake-claude: stdin ended without a user turn to answer\n");
                return 1;
        }
        log_set("state", json_string("exited"));
        return o.exit_code >= 0 ? o.exit_code : t.exit_code;
}

int main(int argc, char **argv) {
        int r = run(argc, argv);

        json_decref(log_root);
        free(log_path);
        return r;
}
