/* SPDX-License-Identifier: MIT */

/*
 * The background `claude auth status`. The child gets its own process group (cli_spawn), stdin
 * closed, stdout collected up to a small cap, stderr drained and dropped (a full pipe must not
 * stall it). It ends when its pidfd says so; the rest of stdout is read then and parsed.
 *
 * Deadline: the real command takes about a second; 20 s covers a loaded host, and a CLI that
 * hangs is reported as a failed check rather than left running.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/auth-check.h"
#include "cli/spawn.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strv.h"

#define AUTH_CHECK_DEADLINE_MS 20000
#define AUTH_CHECK_OUTPUT_MAX 4096

struct AuthCheck {
        struct event_base *base;
        AuthCheckDone done;
        void *userdata;

        CliChild child;
        bool running;
        bool again;             /* asked for while running: run once more with these */
        char *again_path, **again_envp, *again_cwd;

        struct event *ev_stdout, *ev_stderr, *ev_pidfd, *ev_deadline;
        char out[AUTH_CHECK_OUTPUT_MAX];
        size_t out_len;
        bool timed_out;
};

static char **strv_copy_(char *const *v) {
        char **c = calloc(1, sizeof(char *));

        for (size_t i = 0; c && v && v[i]; i++)
                if (strv_extend(&c, v[i]) < 0) {
                        strv_free(c);
                        return NULL;
                }
        return c;
}

static void forget_again(AuthCheck *a) {
        a->again = false;
        free(a->again_path);
        free(a->again_cwd);
        a->again_path = a->again_cwd = NULL;
        strv_free(a->again_envp);
        a->again_envp = NULL;
}

/* Close the child's pipes and events; kills and reaps it if it is still running. */
static void child_drop(AuthCheck *a) {
        event_freep(&a->ev_stdout);
        event_freep(&a->ev_stderr);
        event_freep(&a->ev_pidfd);
        event_freep(&a->ev_deadline);
        cli_child_done(&a->child);
        a->child = CLI_CHILD_NULL;
        a->running = false;
}

static void read_stdout(AuthCheck *a) {
        while (a->child.stdout_fd >= 0) {
                char sink[512];
                bool full = a->out_len >= sizeof(a->out) - 1;
                ssize_t k = full ? read(a->child.stdout_fd, sink, sizeof(sink))
                                 : read(a->child.stdout_fd, a->out + a->out_len, sizeof(a->out) - 1 - a->out_len);
                if (k <= 0)
                        return;
                if (!full)
                        a->out_len += (size_t) k;
        }
}

static void on_stdout(evutil_socket_t fd, short what, void *userdata) {
        read_stdout(userdata);
}

static void on_stderr(evutil_socket_t fd, short what, void *userdata) {
        char sink[512];

        while (read(fd, sink, sizeof(sink)) > 0)
                ;
}

static void finish(AuthCheck *a, const CliExit *exit) {
        CliAuthStatus st;

        if (a->timed_out) {
                st = (CliAuthStatus) { .state = CLI_AUTH_CHECK_FAILED };
                log_warning("`claude auth status` did not answer within %d s", AUTH_CHECK_DEADLINE_MS / 1000);
        } else if (cli_auth_status_parse(a->out, a->out_len, &st) < 0)
                log_warning("`claude auth status` printed no login state (%s %d)",
                            exit && exit->exited ? "exit status" : "signal",
                            exit ? (exit->exited ? exit->code : exit->signal) : 0);
        child_drop(a);
        a->done(&st, a->userdata);
}

static int start_now(AuthCheck *a, const char *claude_path, char *const *envp, const char *cwd);

static void maybe_again(AuthCheck *a) {
        if (!a->again || a->running)
                return;
        _cleanup_free_ char *path = TAKE_PTR(a->again_path), *cwd = TAKE_PTR(a->again_cwd);
        char **envp = TAKE_PTR(a->again_envp);
        a->again = false;
        int r = start_now(a, path, envp, cwd);
        strv_free(envp);
        if (r < 0)
                log_warning_errno(r, "Cannot run `claude auth status` again: %m");
}

static void on_exit_(evutil_socket_t fd, short what, void *userdata) {
        AuthCheck *a = userdata;
        CliExit exit = {};
        int k = cli_child_try_reap(&a->child, &exit);

        if (k == 0)
                return;
        read_stdout(a);
        finish(a, k > 0 ? &exit : NULL);
        maybe_again(a);
}

static void on_deadline(evutil_socket_t fd, short what, void *userdata) {
        AuthCheck *a = userdata;

        a->timed_out = true;
        finish(a, NULL);        /* child_drop() kills and reaps it */
        maybe_again(a);
}

static int start_now(AuthCheck *a, const char *claude_path, char *const *envp, const char *cwd) {
        char *argv[] = { (char *) claude_path, (char *) "auth", (char *) "status", NULL };
        CliSpawnOptions o = { .argv = argv, .envp = envp, .cwd = cwd, .pass_fd = -1 };
        int r;

        a->child = CLI_CHILD_NULL;
        r = cli_spawn(&o, &a->child);
        if (r < 0) {
                a->child = CLI_CHILD_NULL;
                return r;
        }
        a->running = true;
        a->timed_out = false;
        a->out_len = 0;
        a->child.stdin_fd = safe_close(a->child.stdin_fd);
        a->ev_stdout = event_new(a->base, a->child.stdout_fd, EV_READ | EV_PERSIST, on_stdout, a);
        a->ev_stderr = event_new(a->base, a->child.stderr_fd, EV_READ | EV_PERSIST, on_stderr, a);
        a->ev_pidfd = event_new(a->base, a->child.pidfd, EV_READ | EV_PERSIST, on_exit_, a);
        a->ev_deadline = evtimer_new(a->base, on_deadline, a);
        if (!a->ev_stdout || !a->ev_stderr || !a->ev_pidfd || !a->ev_deadline ||
            event_add(a->ev_stdout, NULL) < 0 || event_add(a->ev_stderr, NULL) < 0 ||
            event_add(a->ev_pidfd, NULL) < 0 || event_add_ms(a->ev_deadline, AUTH_CHECK_DEADLINE_MS) < 0) {
                child_drop(a);
                return -ENOMEM;
        }
        return 0;
}

int auth_check_start(AuthCheck *a, const char *claude_path, char *const *envp, const char *cwd) {
        if (!a->running)
                return start_now(a, claude_path, envp, cwd);
        forget_again(a);
        a->again_path = strdup(claude_path);
        a->again_cwd = cwd ? strdup(cwd) : NULL;
        a->again_envp = strv_copy_(envp);
        if (!a->again_path || (cwd && !a->again_cwd) || !a->again_envp) {
                forget_again(a);
                return -ENOMEM;
        }
        a->again = true;
        return 0;
}

int auth_check_new(AuthCheck **ret, struct event_base *base, AuthCheckDone done, void *userdata) {
        AuthCheck *a = calloc(1, sizeof(*a));

        if (!a)
                return -ENOMEM;
        a->base = base;
        a->done = done;
        a->userdata = userdata;
        a->child = CLI_CHILD_NULL;
        *ret = a;
        return 0;
}

AuthCheck *auth_check_free(AuthCheck *a) {
        if (!a)
                return NULL;
        child_drop(a);
        forget_again(a);
        free(a);
        return NULL;
}
