/* SPDX-License-Identifier: MIT */
#pragma once

/* I/O: start one CLI child in its own process group, with pipes, a pidfd and, if asked, a start gate. */

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>

/* Why the proxy ended a child (the first reason wins); the outcome and the log say it. */
typedef enum CliKillReason {
        CLI_KILL_NONE,
        CLI_KILL_TIMEOUT,       /* REQUEST_TIMEOUT_MS */
        CLI_KILL_IDLE,          /* IDLE_TIMEOUT_MS without output */
        CLI_KILL_DISCONNECT,    /* the client went away */
        CLI_KILL_SHUTDOWN,      /* the proxy is stopping */
        CLI_KILL_PROTOCOL,      /* the CLI printed something we cannot use (huge line) */
        _CLI_KILL_REASON_MAX,
} CliKillReason;

/* How a reaped child ended. */
typedef struct CliExit {
        bool exited;            /* true: code is valid; false: killed by signal */
        int code;
        int signal;
        CliKillReason kill_reason;
} CliExit;

typedef struct CliSpawnOptions {
        char *const *argv;
        char *const *envp;
        const char *cwd;
        int pass_fd;            /* becomes fd 3 in the child (system prompt memfd), -1: none */
        /* The MCP registry config memfd: the next fd after pass_fd (3 or 4). Only > 2 is passed, so
         * an initializer that leaves it out (0) passes nothing; the caller keeps it above 2. */
        int pass_fd2;
        bool gated;             /* the child waits for cli_child_release() before exec (fork) */
        bool join_cgroup;       /* the child writes "0" into cgroup_procs_fd before exec */
        int cgroup_procs_fd;    /* an open cgroup.procs of the request's cgroup (join_cgroup only) */
} CliSpawnOptions;

typedef struct CliChild {
        pid_t pid;              /* also the process group id */
        int pidfd;
        int stdin_fd;           /* parent ends, O_NONBLOCK|O_CLOEXEC */
        int stdout_fd;
        int stderr_fd;
        int gate_fd;            /* write end of the start gate, -EBADF when released/ungated */
        bool reaped;
        bool join_failed;       /* set on a cli_spawn() failure: the child could not join its cgroup */
} CliChild;

#define CLI_CHILD_NULL                                                                              \
        ((CliChild) { .pid = 0, .pidfd = -EBADF, .stdin_fd = -EBADF, .stdout_fd = -EBADF,          \
                      .stderr_fd = -EBADF, .gate_fd = -EBADF })

int cli_spawn(const CliSpawnOptions *o, CliChild *ret);
int cli_child_release(CliChild *c);
int cli_child_signal(CliChild *c, int sig);
/* Non-blocking reap through the pidfd. Return 1 and fill *ret when it has exited, 0 if not yet. */
int cli_child_try_reap(CliChild *c, CliExit *ret);
/* Close every fd; kills (SIGKILL) and reaps synchronously if still running. */
void cli_child_done(CliChild *c);
