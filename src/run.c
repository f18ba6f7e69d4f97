/* SPDX-License-Identifier: MIT */

/*
 * One CLI process from fork to reap (see run.h).
 *
 *   run_start ─► memfd ─► fork (gated) ─► place in scope ─► release gate ─► exec
 *             ─► memfd ─► make cgroup ─► clone (vfork; the child joins the cgroup) ─► exec
 *             ─► memfd ─► clone (vfork, pgroup) ─► exec
 *   stdin:  line queue; run_send_turns() sequences the history (cli/README §10), lines
 *           serialized by the owner (the request's tree may be long gone), passed by reference
 *   stdout: line splitter ─► history acks swallowed │ control lines ─► on_control
 *                                                   └ the rest      ─► on_event
 *   end:    pidfd readable ─► reap ─► drain stdout/stderr ─► on_exit (last)
 *
 * A gated child that dies while its scope is being created stays a zombie until the start job
 * is done (its pid must not be reused under a pending StartTransientUnit); the pidfd watch is
 * parked until then. run_start() either returns a run whose on_exit is certain, or leaves
 * nothing behind: a failure after the fork kills and reaps the child at once (a gated child
 * has not exec'd: that is instant), so no path trusts a reap that nothing would ever do.
 */

#include <event2/buffer.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/sse.h"                  /* json_append_to_evbuffer() only */
#include "run.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strv.h"

#define STDERR_TAIL_MAX 4096
/* After the final result a CLI exits on EOF; give it the kill grace and then some. */
#define LINGER_EXTRA_MS 5000
/* Read at most this much stdout per loop turn: a CLI flooding its stdout cannot hold the loop. */
#define STDOUT_READ_BUDGET (1u << 20)
#define STDOUT_READ_CHUNK 65536u

const RunContainerOps run_container_default = {
        .needs_gate = container_needs_gate,
        .prepare = container_prepare,
        .place = container_place,
        .unit = container_slot_unit,
        .kill = container_kill,
        .slot_free = container_slot_free,
};

/*
 * TEST ONLY (CLAUDE_PROXY_TEST_FAIL_PLACEMENT=1, see server.c): every child is gated and its
 * placement fails after the fork, the path a scope or cgroup failure takes, which the
 * integration tests cannot otherwise produce on demand.
 */
static bool gate_always(const Container *c) {
        return true;
}

static int place_fails(Container *c, const ScopeInfo *info, container_ready_t ready_cb, void *userdata,
                       ContainerSlot **ret) {
        return -EIO;
}

const RunContainerOps run_container_fail_for_tests = {
        .needs_gate = gate_always,
        .place = place_fails,
        .unit = container_slot_unit,
        .kill = container_kill,
        .slot_free = container_slot_free,
};

struct Run {
        const RunContext *ctx;
        const RunContainerOps *cops;
        const RunCallbacks *cb;
        void *userdata;
        char log_id[160];

        CliChild child;
        ContainerSlot *container;       /* the child's scope/cgroup, until after the reap */
        bool placing;                   /* gated child waits for its scope; do not reap it yet */
        char unit[200];
        int system_prompt_fd;
        int mcp_config_fd;              /* the registry servers' --mcp-config file */

        struct event *ev_stdout, *ev_stderr, *ev_stdin, *ev_pidfd, *ev_idle, *ev_kill;
        struct evbuffer *stdout_buf, *stdin_buf;
        size_t stdout_scanned;          /* bytes of stdout_buf known to hold no newline */
        size_t longest_line;            /* see run_longest_line() */
        bool reading_paused;
        char stderr_tail[STDERR_TAIL_MAX + 1];
        size_t stderr_len;

        CliInput turns;                 /* run_send_turns() lines; each text goes to stdin_buf */
        size_t turn_next;
        bool has_turns, awaiting_result, turns_done, stdin_closing;

        CliKillReason kill_reason;
        bool term_sent;
};

static uint64_t config_ms(const Run *r, bool idle) {
        return idle ? r->ctx->config->idle_timeout_ms : r->ctx->config->kill_grace_ms;
}

/* ---- stdin ---------------------------------------------------------------------------------- */

static void stdin_close(Run *r) {
        event_freep(&r->ev_stdin);
        r->child.stdin_fd = safe_close(r->child.stdin_fd);
        r->stdin_closing = true;
}

static void stdin_flush(Run *r) {
        if (r->child.stdin_fd < 0)
                return;
        while (evbuffer_get_length(r->stdin_buf) > 0) {
                int n = evbuffer_write(r->stdin_buf, r->child.stdin_fd);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        /* EPIPE: the child is gone; its reap decides what happened. */
                        evbuffer_drain(r->stdin_buf, evbuffer_get_length(r->stdin_buf));
                        stdin_close(r);
                        return;
                }
        }
        if (evbuffer_get_length(r->stdin_buf) > 0)
                (void) event_add(r->ev_stdin, NULL);
        else if (r->stdin_closing)
                stdin_close(r);
}

static int stdin_queue(Run *r, const json_t *line) {
        if (r->child.stdin_fd < 0)
                return -EPIPE;
        if (json_append_to_evbuffer(r->stdin_buf, line) < 0 || evbuffer_add(r->stdin_buf, "\n", 1) < 0)
                return -ENOMEM;
        return 0;
}

static void line_text_free(const void *data, size_t len, void *extra) {
        free((void *) data);
}

/* Queue one serialized line by reference: the buffer owns the text from here and frees it once written. */
static int stdin_queue_text(Run *r, CliInputLine *l) {
        if (r->child.stdin_fd < 0)
                return -EPIPE;
        if (evbuffer_add_reference(r->stdin_buf, l->text, l->len, line_text_free, NULL) < 0)
                return -ENOMEM;
        l->text = NULL;
        if (evbuffer_add(r->stdin_buf, "\n", 1) < 0)
                return -ENOMEM;
        return 0;
}

/* Write the conversation up to the next line that must wait for its result. */
static void turns_write_more(Run *r) {
        size_t n = r->turns.n;

        while (!r->awaiting_result && r->turn_next < n) {
                CliInputLine *l = &r->turns.lines[r->turn_next++];
                if (stdin_queue_text(r, l) == -ENOMEM) {
                        log_oom();
                        run_kill(r, CLI_KILL_PROTOCOL);
                        return;
                }
                if (l->awaits_result)
                        r->awaiting_result = true;
        }
        if (r->turn_next >= n && !r->awaiting_result)
                r->turns_done = true;
        stdin_flush(r);
}

static void on_stdin_writable(evutil_socket_t fd, short what, void *userdata) {
        stdin_flush(userdata);
}

/**
 * run_send_line() - queue one stdin line
 * @r: the run
 * @line: a JSON object; a newline is added
 *
 * Return: 0, -EPIPE when stdin is closed already, -ENOMEM.
 */
int run_send_line(Run *r, const json_t *line) {
        int k = stdin_queue(r, line);

        if (k < 0)
                return k;
        stdin_flush(r);
        return 0;
}

/**
 * run_send_turns() - queue the conversation, sequenced
 * @r: the run
 * @turns: the serialized stdin lines (cli_request_serialize_input()); the run takes them and
 *         leaves @turns empty
 *
 * Return: 0, or -EBUSY when a conversation is queued already (@turns is left as it was).
 */
int run_send_turns(Run *r, CliInput *turns) {
        if (r->has_turns)
                return -EBUSY;
        r->turns = *turns;
        *turns = (CliInput) {};
        r->has_turns = true;
        r->turn_next = 0;
        r->turns_done = false;
        turns_write_more(r);
        return 0;
}

/**
 * run_finish() - the owner needs nothing more from this child
 * @r: the run
 *
 * EOF on stdin lets the CLI exit; the reap collects it. One that lingers past the grace (plus
 * some) is killed.
 */
void run_finish(Run *r) {
        if (evbuffer_get_length(r->stdin_buf) == 0)
                stdin_close(r);
        else
                r->stdin_closing = true;
        if (r->ev_kill && !r->child.reaped && !r->term_sent)
                (void) event_add_ms(r->ev_kill, config_ms(r, false) + LINGER_EXTRA_MS);
}

/* ---- stdout --------------------------------------------------------------------------------- */

static void dispatch(Run *r, const CliEvent *ev) {
        if ((ev->type == CLI_EVENT_CONTROL_REQUEST || ev->type == CLI_EVENT_CONTROL_RESPONSE) && r->cb->on_control) {
                r->cb->on_control(r, ev, r->userdata);
                return;
        }
        if (r->has_turns && !r->turns_done) {
                /* History phase: only the acknowledgements of shouldQuery:false lines come here. */
                if (ev->type == CLI_EVENT_RESULT && r->awaiting_result) {
                        r->awaiting_result = false;
                        turns_write_more(r);
                }
                return;
        }
        if (r->cb->on_event)
                r->cb->on_event(r, ev, r->userdata);
}

static void process_lines(Run *r, bool at_eof) {
        for (;;) {
                size_t len = 0;
                size_t avail = evbuffer_get_length(r->stdout_buf);
                struct evbuffer_ptr start, p;
                size_t n;

                /* Search only what is new: a long line arrives in pipe-sized pieces, and searching
                 * it from its start each time was quadratic. */
                if (evbuffer_ptr_set(r->stdout_buf, &start, MIN(r->stdout_scanned, avail), EVBUFFER_PTR_SET) < 0)
                        p.pos = -1;
                else
                        p = evbuffer_search_eol(r->stdout_buf, &start, &len, EVBUFFER_EOL_LF);
                if (p.pos < 0) {
                        r->stdout_scanned = avail;
                        if (avail > CLI_LINE_MAX) {
                                log_warning("%s: the CLI printed a line over %u bytes, ending the run", r->log_id,
                                            CLI_LINE_MAX);
                                evbuffer_drain(r->stdout_buf, avail);
                                r->stdout_scanned = 0;
                                r->longest_line = MAX(r->longest_line, avail);
                                run_kill(r, CLI_KILL_PROTOCOL);
                                return;
                        }
                        if (!at_eof || avail == 0)
                                return;
                        n = avail;      /* a last line without newline */
                } else
                        n = (size_t) p.pos;
                r->stdout_scanned = 0;
                r->longest_line = MAX(r->longest_line, n);

                if (n > CLI_LINE_MAX) {
                        evbuffer_drain(r->stdout_buf, n + len);
                        run_kill(r, CLI_KILL_PROTOCOL);
                        return;
                }
                const char *line = (const char *) evbuffer_pullup(r->stdout_buf, (ev_ssize_t) n);
                CliEvent ev = {};
                int k = cli_event_parse(line ?: "", n, &ev);
                evbuffer_drain(r->stdout_buf, n + (p.pos < 0 ? 0 : len));
                if (k < 0)
                        log_debug_errno(k, "%s: ignoring an unreadable CLI line: %m", r->log_id);
                else {
                        dispatch(r, &ev);
                        cli_event_done(&ev);
                }
                if (r->kill_reason == CLI_KILL_PROTOCOL)
                        return;
        }
}

/*
 * Read what is there, up to @budget bytes (the event fires again for the rest). Return true at EOF.
 *
 * read() into one static chunk, then copied onto the buffer: evbuffer_read() asks FIONREAD
 * first, one more system call per wakeup, and reserving 64 KiB at the buffer's end cost a large
 * malloc (and a malloc_consolidate) per wakeup, more than copying the few KiB a read brings.
 * A short read means the pipe is empty for now, so @until_empty false stops there instead of
 * paying for an EAGAIN (level-triggered: the event fires again when more comes); the drain
 * after the reap passes true and reads to EOF.
 */
static bool stdout_read(Run *r, size_t budget, bool until_empty) {
        /* One buffer for every run: runs live on the one event loop thread (offload threads
         * never touch them), and a read is copied out before the next one. Not _Thread_local,
         * which would give every offload thread 64 KiB it never uses. */
        static char chunk[STDOUT_READ_CHUNK];

        for (size_t got = 0; got < budget;) {
                ssize_t n = read(r->child.stdout_fd, chunk, sizeof(chunk));

                if (n > 0) {
                        if (evbuffer_add(r->stdout_buf, chunk, (size_t) n) < 0)
                                return true;    /* out of memory: as good as EOF, the reap decides */
                        got += (size_t) n;
                        if (evbuffer_get_length(r->stdout_buf) > (size_t) CLI_LINE_MAX + STDOUT_READ_CHUNK)
                                break;
                        if ((size_t) n < sizeof(chunk) && !until_empty)
                                break;
                        continue;
                }
                if (n == 0)
                        return true;
                return !(errno == EAGAIN || errno == EINTR);
        }
        return false;
}

static void on_stdout(evutil_socket_t fd, short what, void *userdata) {
        Run *r = userdata;
        bool eof = stdout_read(r, STDOUT_READ_BUDGET, false);

        if (r->ev_idle && config_ms(r, true) > 0)
                (void) event_add_ms(r->ev_idle, config_ms(r, true));
        process_lines(r, eof);
        if (eof)
                event_freep(&r->ev_stdout);
}

void run_pause_reading(Run *r) {
        r->reading_paused = true;
        if (r->ev_stdout)
                (void) event_del(r->ev_stdout);
}

void run_resume_reading(Run *r) {
        r->reading_paused = false;
        if (r->ev_stdout)
                (void) event_add(r->ev_stdout, NULL);
}

static void on_stderr(evutil_socket_t fd, short what, void *userdata) {
        Run *r = userdata;
        char buf[4096];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0) {
                        if (n == 0 || !(errno == EAGAIN || errno == EINTR))
                                event_freep(&r->ev_stderr);
                        return;
                }
                /* Keep the tail: the last lines say why a CLI gave up. */
                if ((size_t) n >= STDERR_TAIL_MAX) {
                        memcpy(r->stderr_tail, buf + n - STDERR_TAIL_MAX, STDERR_TAIL_MAX);
                        r->stderr_len = STDERR_TAIL_MAX;
                } else {
                        size_t keep = MIN(r->stderr_len, STDERR_TAIL_MAX - (size_t) n);
                        memmove(r->stderr_tail, r->stderr_tail + r->stderr_len - keep, keep);
                        memcpy(r->stderr_tail + keep, buf, (size_t) n);
                        r->stderr_len = keep + (size_t) n;
                }
                r->stderr_tail[r->stderr_len] = 0;
        }
}

/* ---- timers, the end ------------------------------------------------------------------------ */

static void on_idle(evutil_socket_t fd, short what, void *userdata) {
        Run *r = userdata;

        if (r->cb->on_idle)
                r->cb->on_idle(r, r->userdata);
}

static void on_kill_timer(evutil_socket_t fd, short what, void *userdata) {
        Run *r = userdata;

        if (!r->term_sent) {
                /* The run is over but the CLI lingers (or never saw EOF): end it. */
                run_kill(r, r->kill_reason ?: CLI_KILL_PROTOCOL);
                return;
        }
        log_notice("%s: CLI pid %d ignored SIGTERM for %" PRIu64 " ms, sending SIGKILL", r->log_id,
                   (int) r->child.pid, config_ms(r, false));
        (void) cli_child_signal(&r->child, SIGKILL);
        r->cops->kill(r->container, SIGKILL);
}

/**
 * run_kill() - end the child's whole process group: SIGTERM now, SIGKILL after the grace
 * @r: the run
 * @reason: why; kept (the first reason wins) for the outcome and the log
 */
void run_kill(Run *r, CliKillReason reason) {
        if (r->kill_reason == CLI_KILL_NONE)
                r->kill_reason = reason;
        if (r->child.reaped || r->term_sent)
                return;
        r->term_sent = true;
        /* A gated child has not exec'd yet: closing the gate makes it exit by itself. */
        r->child.gate_fd = safe_close(r->child.gate_fd);
        (void) cli_child_signal(&r->child, SIGTERM);
        /* The scope/cgroup also holds what left the process group (setsid). */
        r->cops->kill(r->container, SIGTERM);
        if (r->ev_kill)
                (void) event_add_ms(r->ev_kill, config_ms(r, false));
}

static void on_child_exit(evutil_socket_t fd, short what, void *userdata) {
        Run *r = userdata;
        CliExit e = {};
        int k;

        /* Parked until the scope's start job is done (see the top). */
        if (r->placing) {
                event_del(r->ev_pidfd);
                return;
        }
        k = cli_child_try_reap(&r->child, &e);
        if (k == 0)
                return;
        /* Reaped: a setsid()ed grandchild may still hold the scope/cgroup; this ends it. */
        if (k > 0)
                r->container = r->cops->slot_free(r->container);
        if (k < 0)
                log_warning_errno(k, "%s: waitid failed: %m", r->log_id);
        event_freep(&r->ev_pidfd);

        /* Whatever the CLI printed before it died is in the pipes: take it before deciding. */
        if (r->ev_stdout) {
                /* All of it: no event follows the reap. */
                (void) stdout_read(r, SIZE_MAX, true);
                process_lines(r, true);
                event_freep(&r->ev_stdout);
        }
        if (r->ev_stderr)
                on_stderr(r->child.stderr_fd, EV_READ, r);
        event_freep(&r->ev_kill);
        event_freep(&r->ev_idle);
        if (k > 0) {
                e.kill_reason = r->kill_reason;
                log_full_errno(e.exited && e.code == 0 ? LOG_DEBUG : LOG_INFO, 0, "%s: CLI pid %d ended (%s %d)",
                               r->log_id, (int) r->child.pid, e.exited ? "exit" : "signal",
                               e.exited ? e.code : e.signal);
        }
        /* Last: the owner may free the run. */
        r->cb->on_exit(r, k > 0 ? &e : NULL, r->userdata);
}

/* The scope's start job finished (or failed): let the child exec, or end it. */
static void on_placed(ContainerSlot *slot, int k, void *userdata) {
        Run *r = userdata;

        r->placing = false;
        if (k < 0) {
                if (r->cb->on_failed)
                        r->cb->on_failed(r, k, r->userdata);
                run_kill(r, CLI_KILL_PROTOCOL);
        } else if (!r->term_sent)
                (void) cli_child_release(&r->child);
        /* on_child_exit may have parked the pidfd while we waited. */
        if (r->ev_pidfd)
                (void) event_add(r->ev_pidfd, NULL);
}

/* ---- start, free ---------------------------------------------------------------------------- */

/* A memfd holding the system prompt (fd 3) or the MCP config (next): nothing large or secret goes
 * into argv, and nothing touches the disk. Kept above fd 2, which cli_spawn() requires of the
 * second one. */
static int text_memfd(const char *name, const char *text, size_t n) {
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC);
        size_t off = 0;

        if (fd < 0)
                return negative_errno();
        if (fd <= 2) {
                int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (high < 0)
                        return negative_errno();
                safe_close(fd);
                fd = high;
        }
        while (off < n) {
                ssize_t k = write(fd, text + off, n - off);
                if (k < 0)
                        return negative_errno();
                off += (size_t) k;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

static int run_spawn(Run *r, const RunSpawn *sp, RunStage *stage) {
        _cleanup_strv_free_ char **argv = NULL;
        const char *prompt_path = NULL, *mcp_path = NULL;
        struct event_base *base = r->ctx->base;
        int k;

        *stage = RUN_STAGE_SPAWN;
        if (sp->cli->system_prompt && sp->cli->system_prompt_mode != SYSTEM_PROMPT_USER) {
                /* By length: the text may hold a NUL ("\u0000"). */
                k = text_memfd("claude-proxy-system-prompt", sp->cli->system_prompt,
                               sp->cli->system_prompt_len ?: strlen(sp->cli->system_prompt));
                if (k < 0)
                        return k;
                r->system_prompt_fd = k;
                prompt_path = "/dev/fd/3";
        }
        if (sp->cli->mcp_config) {
                /* Holds the servers' env (their secrets): only the CLI opens it, by this path. */
                k = text_memfd("claude-proxy-mcp-config", sp->cli->mcp_config, strlen(sp->cli->mcp_config));
                if (k < 0)
                        return k;
                r->mcp_config_fd = k;
                mcp_path = prompt_path ? "/dev/fd/4" : "/dev/fd/3";
        }
        k = cli_request_build_argv(sp->cli, sp->claude_path, prompt_path, &argv);
        if (k < 0)
                return k;
        k = cli_request_extend_mcp_argv(sp->cli, mcp_path, &argv);
        if (k < 0)
                return k;

        ScopeInfo info = { .request_id = r->log_id, .api = sp->api, .model = sp->cli->model };
        int join_fd = -EBADF;
        if (r->cops->prepare) {
                /* cgroup mode: the cgroup exists before the child, which joins it itself. */
                *stage = RUN_STAGE_CONTAIN;
                k = r->cops->prepare(r->ctx->container, &info, &r->container, &join_fd);
                if (k < 0)
                        return k;
                *stage = RUN_STAGE_SPAWN;
        }

        CliSpawnOptions o = {
                .argv = argv,
                .envp = r->ctx->envp,
                .cwd = r->ctx->cwd,
                .pass_fd = r->system_prompt_fd,
                .pass_fd2 = r->mcp_config_fd,
                /* Scope mode holds the child before exec until systemd has put it inside. */
                .gated = r->cops->needs_gate(r->ctx->container),
                .join_cgroup = join_fd >= 0,
                .cgroup_procs_fd = join_fd,
        };
        k = cli_spawn(&o, &r->child);
        if (k < 0) {
                if (r->child.join_failed) {
                        *stage = RUN_STAGE_CONTAIN;
                        log_error_errno(k, "%s: the CLI child cannot join its cgroup %s: %m", r->log_id,
                                        r->cops->unit(r->container) ?: "");
                }
                return k;
        }
        r->system_prompt_fd = safe_close(r->system_prompt_fd);
        r->mcp_config_fd = safe_close(r->mcp_config_fd);

        *stage = RUN_STAGE_CONTAIN;
        info.pid = r->child.pid;
        k = r->cops->place(r->ctx->container, &info, on_placed, r, &r->container);
        if (k < 0)
                return k;
        snprintf(r->unit, sizeof(r->unit), "%s", r->cops->unit(r->container) ?: "");
        r->placing = k == 0;

        *stage = RUN_STAGE_SPAWN;
        r->ev_stdout = event_new(base, r->child.stdout_fd, EV_READ | EV_PERSIST, on_stdout, r);
        r->ev_stderr = event_new(base, r->child.stderr_fd, EV_READ | EV_PERSIST, on_stderr, r);
        r->ev_stdin = event_new(base, r->child.stdin_fd, EV_WRITE, on_stdin_writable, r);
        r->ev_pidfd = event_new(base, r->child.pidfd, EV_READ | EV_PERSIST, on_child_exit, r);
        r->ev_kill = evtimer_new(base, on_kill_timer, r);
        r->ev_idle = evtimer_new(base, on_idle, r);
        r->stdout_buf = evbuffer_new();
        r->stdin_buf = evbuffer_new();
        if (!r->ev_stdout || !r->ev_stderr || !r->ev_stdin || !r->ev_pidfd || !r->ev_kill || !r->ev_idle ||
            !r->stdout_buf || !r->stdin_buf)
                return -ENOMEM;
        /* Only now, with every event in place, may the child exec. */
        if (k > 0)
                (void) cli_child_release(&r->child);
        (void) event_add(r->ev_stdout, NULL);
        (void) event_add(r->ev_stderr, NULL);
        (void) event_add(r->ev_pidfd, NULL);
        if (config_ms(r, true) > 0)
                (void) event_add_ms(r->ev_idle, config_ms(r, true));
        log_debug("%s: started CLI pid %d", r->log_id, (int) r->child.pid);
        return 0;
}

/**
 * run_start() - start one CLI child
 * @ret: the run
 * @ctx: the shared context, borrowed for the run's life
 * @sp: what to run
 * @cb: the owner's callbacks, borrowed
 * @userdata: for @cb
 * @ret_stage: where a failure happened (may be NULL)
 *
 * Return: 0, or a negative errno with nothing left running.
 */
int run_start(Run **ret, const RunContext *ctx, const RunSpawn *sp, const RunCallbacks *cb, void *userdata,
              RunStage *ret_stage) {
        RunStage stage = RUN_STAGE_SPAWN;
        Run *r = calloc(1, sizeof(*r));
        int k;

        if (!r)
                return -ENOMEM;
        r->ctx = ctx;
        r->cops = ctx->container_ops ?: &run_container_default;
        r->cb = cb;
        r->userdata = userdata;
        r->child = CLI_CHILD_NULL;
        r->system_prompt_fd = -EBADF;
        r->mcp_config_fd = -EBADF;
        snprintf(r->log_id, sizeof(r->log_id), "%s", sp->log_id ?: "run");

        k = run_spawn(r, sp, &stage);
        if (ret_stage)
                *ret_stage = stage;
        if (k < 0) {
                /* Nothing may wait for a reap that no event would ever do: end it all here. */
                run_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

/*
 * The new owner's idle clock starts now: an idle pooled process was silent on purpose, and its
 * timer may have fired (and been ignored) long before the hand-over.
 */
void run_set_owner(Run *r, const RunCallbacks *cb, void *userdata) {
        r->cb = cb;
        r->userdata = userdata;
        if (r->ev_idle && !r->child.reaped && config_ms(r, true) > 0)
                (void) event_add_ms(r->ev_idle, config_ms(r, true));
}

Run *run_free(Run *r) {
        if (!r)
                return NULL;
        event_freep(&r->ev_stdout);
        event_freep(&r->ev_stderr);
        event_freep(&r->ev_stdin);
        event_freep(&r->ev_pidfd);
        event_freep(&r->ev_idle);
        event_freep(&r->ev_kill);
        /* Pending placement: the slot outlives us as an orphan and goes when its job is done. */
        r->container = r->cops->slot_free(r->container);
        /* Still running: SIGKILL to the group and a synchronous reap. */
        cli_child_done(&r->child);
        if (r->stdout_buf)
                evbuffer_free(r->stdout_buf);
        if (r->stdin_buf)
                evbuffer_free(r->stdin_buf);
        r->system_prompt_fd = safe_close(r->system_prompt_fd);
        r->mcp_config_fd = safe_close(r->mcp_config_fd);
        cli_input_done(&r->turns);
        free(r);
        return NULL;
}

pid_t run_pid(const Run *r) {
        return r ? r->child.pid : 0;
}

const char *run_unit(const Run *r) {
        return r ? r->unit : "";
}

const char *run_stderr_tail(const Run *r) {
        return r && r->stderr_len > 0 ? r->stderr_tail : NULL;
}

CliKillReason run_kill_reason(const Run *r) {
        return r ? r->kill_reason : CLI_KILL_NONE;
}

bool run_reaped(const Run *r) {
        return r && r->child.reaped;
}

size_t run_longest_line(const Run *r) {
        return r ? r->longest_line : 0;
}
