/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One CLI process, knowing no HTTP: spawn (gate, container slot, system prompt memfd), the
 * stdout line splitter, the stderr tail, the stdin line queue with the history sequencing, the
 * idle and kill timers, the reap. Its owner (a session today; the warm pool later) hears about
 * it through callbacks and can hand it to another owner with run_set_owner().
 */

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cli/request.h"
#include "cli/spawn.h"
#include "cli/stream.h"
#include "config.h"
#include "systemd/container.h"

typedef struct Run Run;

/*
 * How a run is contained. run_container_default wraps systemd/container.c; tests pass a stub
 * (a placement that fails, or stays pending until the test says so).
 */
typedef struct RunContainerOps {
        bool (*needs_gate)(const Container *c);
        /* Optional (NULL: nothing to prepare): before the spawn, see container_prepare(). */
        int (*prepare)(Container *c, const ScopeInfo *info, ContainerSlot **ret, int *ret_join_fd);
        int (*place)(Container *c, const ScopeInfo *info, container_ready_t ready_cb, void *userdata,
                     ContainerSlot **ret);
        const char *(*unit)(const ContainerSlot *s);
        void (*kill)(ContainerSlot *s, int sig);
        ContainerSlot *(*slot_free)(ContainerSlot *s);
} RunContainerOps;

extern const RunContainerOps run_container_default;
/* TEST ONLY: gate every child and fail its placement with -EIO (CLAUDE_PROXY_TEST_FAIL_PLACEMENT). */
extern const RunContainerOps run_container_fail_for_tests;

/* What every run of the process shares; owned by the server and updated on reload. */
typedef struct RunContext {
        struct event_base *base;
        const Config *config;           /* IDLE_TIMEOUT_MS, KILL_GRACE_MS: read at each use */
        Container *container;
        const RunContainerOps *container_ops;   /* NULL: run_container_default */
        char *const *envp;
        const char *cwd;
} RunContext;

typedef struct RunCallbacks {
        /* A stdout line after the history was acknowledged (the live turn). */
        void (*on_event)(Run *run, const CliEvent *ev, void *userdata);
        /* A control_request/control_response line, at any time. NULL: given to on_event instead. */
        void (*on_control)(Run *run, const CliEvent *ev, void *userdata);
        /* The child could not be contained after all: it is being killed, on_exit follows. */
        void (*on_failed)(Run *run, int error, void *userdata);
        /* No stdout for IDLE_TIMEOUT_MS. The run does nothing by itself. */
        void (*on_idle)(Run *run, void *userdata);
        /*
         * The child was reaped (exit is NULL if waitid failed) after everything it printed was
         * delivered. Called last from the run's own handler: the owner may free the run here.
         */
        void (*on_exit)(Run *run, const CliExit *exit, void *userdata);
} RunCallbacks;

typedef enum RunStage {
        RUN_STAGE_SPAWN,                /* argv, memfd, fork */
        RUN_STAGE_CONTAIN,              /* container_place() */
} RunStage;

typedef struct RunSpawn {
        const CliRequest *cli;          /* model, effort, system prompt -> argv and fd 3 */
        const char *claude_path;
        const char *log_id;             /* the request id: logs, the scope's description */
        const char *api;                /* for the scope's description */
} RunSpawn;

/*
 * Start one CLI child. On success the run exists until its owner frees it, and on_exit follows
 * once. On failure (negative errno, *ret_stage says where) nothing is left: a child that was
 * already forked is killed and reaped before this returns, its container slot freed.
 */
int run_start(Run **ret, const RunContext *ctx, const RunSpawn *spawn, const RunCallbacks *cb, void *userdata,
              RunStage *ret_stage);
/* Kill (SIGKILL) and reap synchronously if still running; close everything. NULL-safe. */
Run *run_free(Run *r);
/* Hand the run to another owner; its IDLE_TIMEOUT_MS clock starts over. */
void run_set_owner(Run *r, const RunCallbacks *cb, void *userdata);

/* Queue one stdin line (a JSON object, newline added). */
int run_send_line(Run *r, const json_t *line);
/*
 * Queue the conversation's serialized lines (takes them, leaves *turns empty): each history line
 * that awaits a result holds back the rest until that result came (cli/README §10); stdout until
 * the last one is acknowledged is swallowed; from then on events go to on_event.
 */
int run_send_turns(Run *r, CliInput *turns);
/* The owner needs nothing more: close stdin once flushed; a CLI still there after the grace is killed. */
void run_finish(Run *r);
/* SIGTERM to the process group and the container now, SIGKILL after KILL_GRACE_MS. First reason wins. */
void run_kill(Run *r, CliKillReason reason);
/* Stop reading stdout (a slow client); the pipe fills and the CLI waits. */
void run_pause_reading(Run *r);
void run_resume_reading(Run *r);

pid_t run_pid(const Run *r);
/* The scope or cgroup name, "" in pgroup mode. */
const char *run_unit(const Run *r);
/* The bounded tail of stderr, NULL if it printed nothing. */
const char *run_stderr_tail(const Run *r);
CliKillReason run_kill_reason(const Run *r);
bool run_reaped(const Run *r);
/* The longest stdout line seen so far in bytes, an overlong one that ended the run included:
 * its owner may want to give a large line's memory back to the kernel after the run. */
size_t run_longest_line(const Run *r);
