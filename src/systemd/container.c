/* SPDX-License-Identifier: MIT */

/*
 * Containment of CLI children behind one interface, chosen by SCOPE_MODE:
 *
 *   scope   a transient unit per request over sd-bus; the child stays gated until the scope's
 *           start job is removed ("done"), so no CLI code runs outside it.
 *   cgroup  a sub-cgroup of our delegated cgroup per request, made before the spawn
 *           (container_prepare()): the child writes itself into its cgroup.procs between clone
 *           and exec, so it needs no gate and can be started with vfork semantics (cli/spawn.c).
 *   pgroup  nothing but the child's process group (cli/spawn.c) plus PR_SET_CHILD_SUBREAPER, so
 *           re-parented orphans are reaped here instead of piling up as zombies.
 *   auto    scope if the manager lets us create one (probed at start), else cgroup if ours is
 *           delegated, else pgroup.
 *
 * A slot lives from placement until after the child's reap; freeing it kills whatever is still
 * inside (a setsid()ed grandchild) and removes the cgroup, retrying while the kernel empties it.
 * Slots freed while their scope job is still pending stay on the list as orphans and their
 * scope is killed as soon as it exists. This module decides nothing about requests: session.c
 * calls in, and learns the outcome through the ready callback.
 */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "systemd/bus.h"
#include "systemd/cgroup.h"
#include "systemd/container.h"
#include "systemd/scope.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/message-ids.h"

#define SCOPE_JOB_TIMEOUT_SEC 15
#define RMDIR_RETRY_MS 10
#define RMDIR_TRIES 200

struct ContainerSlot {
        Container *c;
        ContainerSlot *prev, *next;
        pid_t pid;
        char *request_id, *api, *model;
        char *name;                     /* scope unit, or cgroup dir (full path in .path) */
        char *path;                     /* cgroup mode */
        int procs_fd;                   /* cgroup mode, prepared: its cgroup.procs, until placed */
        container_ready_t ready_cb;
        void *userdata;
        sd_bus_slot *call;              /* StartTransientUnit in flight */
        struct event *ev_timer;         /* scope: job timeout; cgroup: rmdir retry */
        unsigned attempt;
        unsigned rmdir_tries;
        ScopeInfo info;                 /* for a retry under another name; strings borrowed from above */
        bool pending, placed, orphan;
};

struct Container {
        struct event_base *base;
        const Config *config;
        ScopeMode mode;
        Bus *bus;
        sd_bus_slot *job_match;
        char *own_unit;
        char *cgroup;                   /* our cgroup directory */
        struct event *ev_sigchld;
        int sigchld_fd;                 /* pgroup: signalfd for SIGCHLD (blocked in the loop's thread) */
        int children_fd;                /* pgroup: /proc/self/task/<pid>/children, re-read with pread */
        ContainerSlot *slots;
};

static void slot_unlink(ContainerSlot *s) {
        if (s->prev)
                s->prev->next = s->next;
        else if (s->c->slots == s)
                s->c->slots = s->next;
        if (s->next)
                s->next->prev = s->prev;
        s->prev = s->next = NULL;
}

static void slot_destroy(ContainerSlot *s) {
        slot_unlink(s);
        s->procs_fd = safe_close(s->procs_fd);
        sd_bus_slot_unref(s->call);
        if (s->ev_timer)
                event_free(s->ev_timer);
        free(s->request_id);
        free(s->api);
        free(s->model);
        free(s->name);
        free(s->path);
        free(s);
}

static void log_scope_failed(const ContainerSlot *s, int r, const char *why) {
        char f1[200], f2[300];
        char *fields[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_SCOPE_FAILED, f1, f2, NULL };

        snprintf(f1, sizeof(f1), "CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
        snprintf(f2, sizeof(f2), "CLAUDE_PROXY_UNIT=%s", s->name ?: "");
        log_full_errno_fields(LOG_ERR, r, fields, "%s: cannot contain the CLI child in %s: %s", s->request_id,
                              s->name ?: "its container", why);
}

/* ---- scope ---------------------------------------------------------------------------------- */

static void scope_done(ContainerSlot *s, int r, const char *why) {
        container_ready_t cb = s->ready_cb;

        s->pending = false;
        s->call = sd_bus_slot_unref(s->call);
        if (s->ev_timer)
                event_del(s->ev_timer);
        if (s->orphan) {
                /* Nobody waits any more: make sure nothing of it keeps running. */
                if (r >= 0 && bus_get(s->c->bus))
                        (void) scope_end_async(bus_get(s->c->bus), s->name);
                bus_kick(s->c->bus);
                slot_destroy(s);
                return;
        }
        if (r < 0)
                log_scope_failed(s, r, why);
        else
                s->placed = true;
        if (cb)
                cb(s, r, s->userdata);
}

static int scope_send(ContainerSlot *s);

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ContainerSlot *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        s->call = sd_bus_slot_unref(s->call);
        if (!e)
                return 0;       /* job queued; JobRemoved decides */
        if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.UnitExists") && s->attempt < 3 && !s->orphan) {
                /* A client reused its x-request-id while the earlier scope still exists. */
                s->attempt++;
                int r = scope_send(s);
                if (r >= 0)
                        return 0;
        }
        scope_done(s, -sd_bus_error_get_errno(e) ?: -EIO, e->message ?: e->name);
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Container *c = userdata;
        const char *job, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
                return 0;
        for (ContainerSlot *s = c->slots; s; s = s->next)
                if (s->pending && streq_ptr(s->name, unit)) {
                        if (streq(result, "done"))
                                scope_done(s, 0, NULL);
                        else {
                                char why[96];
                                snprintf(why, sizeof(why), "start job %s", result);
                                scope_done(s, -EIO, why);
                        }
                        break;
                }
        return 0;
}

static void on_job_timeout(evutil_socket_t fd, short what, void *userdata) {
        ContainerSlot *s = userdata;

        if (s->pending)
                scope_done(s, -ETIMEDOUT, "no JobRemoved from the service manager");
}

static int scope_send(ContainerSlot *s) {
        sd_bus *bus = bus_get(s->c->bus);
        ScopeProperty *p = NULL;
        size_t n = 0;
        int r;

        if (!bus)
                return -ENOTCONN;
        free(s->name);
        s->name = NULL;
        r = scope_unit_name(s->request_id, s->attempt, &s->name);
        if (r < 0)
                return r;
        r = scope_properties_from_config(s->c->config, &s->info, &p, &n);
        if (r < 0)
                return r;
        r = scope_start_async(bus, s->name, p, n, on_start_reply, s, &s->call);
        scope_properties_free(p, n);
        if (r < 0)
                return r;
        bus_kick(s->c->bus);
        return 0;
}

/* ---- cgroup --------------------------------------------------------------------------------- */

static int cgroup_make(ContainerSlot *s) {
        CgroupLimit limits[3];
        size_t n = cgroup_limits_from_config(s->c->config, limits);
        int r = -EEXIST;

        for (s->attempt = 0; s->attempt < 4 && r == -EEXIST; s->attempt++) {
                free(s->name);
                s->name = NULL;
                r = cgroup_dir_name(s->request_id, s->attempt, &s->name);
                if (r < 0)
                        return r;
                r = cgroup_create(s->c->cgroup, s->name, limits, n, &s->path);
        }
        return r;
}

/* Before the spawn: the cgroup, and its cgroup.procs open for the child to join. */
static int cgroup_prepare(ContainerSlot *s) {
        int r = cgroup_make(s);

        if (r < 0)
                return r;
        r = cgroup_open_procs(s->path);
        if (r < 0) {
                (void) cgroup_remove(s->path);
                free(s->path);
                s->path = NULL;
                return r;
        }
        s->procs_fd = r;
        return 1;
}

/* After a spawn without container_prepare() (a caller that gated the child): move it in. */
static int cgroup_place(ContainerSlot *s) {
        int r = cgroup_make(s);

        if (r < 0)
                return r;
        r = cgroup_attach(s->path, s->pid);
        if (r < 0) {
                (void) cgroup_remove(s->path);
                return r;
        }
        s->placed = true;
        return 1;
}

static void on_rmdir_retry(evutil_socket_t fd, short what, void *userdata) {
        ContainerSlot *s = userdata;
        int r = cgroup_remove(s->path);

        if (r == -EBUSY && ++s->rmdir_tries < RMDIR_TRIES) {
                /* cgroup.kill is asynchronous: the kernel empties the cgroup a moment later. */
                if (s->rmdir_tries % 20 == 0)
                        (void) cgroup_signal(s->path, SIGKILL);
                struct timeval tv = { .tv_usec = RMDIR_RETRY_MS * 1000 };
                (void) event_add(s->ev_timer, &tv);
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Cannot remove %s: %m", s->path);
        slot_destroy(s);
}

/* ---- pgroup: orphans ------------------------------------------------------------------------ */

static bool is_slot_pid(Container *c, pid_t pid) {
        for (ContainerSlot *s = c->slots; s; s = s->next)
                if (s->pid == pid)
                        return true;
        return false;
}

/*
 * Reap children of ours that no session owns: grandchildren re-parented to us as subreaper.
 * waitid(P_ALL) would also collect a session's child before its pidfd handler sees it, so only
 * pids listed in /proc/self/task/<pid>/children and not in a slot are waited for, one by one.
 */
static void on_sigchld(evutil_socket_t fd, short what, void *userdata) {
        Container *c = userdata;
        struct signalfd_siginfo si_buf[16];
        char buf[8192];

        /* Whatever is queued; SIGCHLD coalesces anyway, and a rest would make the fd readable again. */
        (void) read(c->sigchld_fd, si_buf, sizeof(si_buf));
        /* Every CLI's exit lands here too: one pread() of the kept-open file (a seq_file reads
         * afresh from offset 0) rather than an open/fstat/read/close per request. */
        ssize_t n = pread(c->children_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return;
        buf[n] = 0;
        for (char *p = buf, *e; *p; p = e) {
                long pid = strtol(p, &e, 10);
                if (e == p)
                        break;
                siginfo_t si = {};
                if (pid > 0 && !is_slot_pid(c, (pid_t) pid) &&
                    waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid > 0)
                        log_debug("reaped orphaned CLI descendant %ld", pid);
        }
}

/* ---- set-up --------------------------------------------------------------------------------- */

static int setup_scope(Container *c) {
        int r;

        if (sd_booted() <= 0)
                return -ENOMEDIUM;
        r = bus_open(&c->bus, c->base);
        if (r < 0)
                return r;
        r = scope_probe(bus_get(c->bus), c->config);
        if (r >= 0)
                r = scope_match_job_removed(bus_get(c->bus), on_job_removed, c, &c->job_match);
        if (r < 0) {
                c->bus = bus_free(c->bus);
                return r;
        }
        return 0;
}

static int setup_cgroup(Container *c, bool explicit) {
        int r = cgroup_self(&c->cgroup);

        if (r < 0)
                return r;
        if (!explicit && !cgroup_is_delegated(c->cgroup))
                r = -EPERM;
        else
                r = cgroup_setup(c->cgroup);
        if (r < 0) {
                free(c->cgroup);
                c->cgroup = NULL;
        }
        return r;
}

static int setup_pgroup(Container *c) {
        char path[64];

        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return negative_errno();
        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
        c->children_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (c->children_fd < 0)
                return negative_errno();
        /*
         * A signalfd rather than evsignal_new(): libevent's handler writes a byte to its self-pipe
         * and the loop reads it back (twice, the second time for EAGAIN), four system calls and a
         * signal frame for every CLI's exit; here it is one read in the wakeup that the pidfd
         * causes anyway. SIGCHLD stays blocked in this thread from here on (offload threads block
         * every signal; a CLI child gets an empty mask before exec, cli/spawn.c).
         */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        c->sigchld_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (c->sigchld_fd < 0)
                return negative_errno();
        c->ev_sigchld = event_new(c->base, c->sigchld_fd, EV_READ | EV_PERSIST, on_sigchld, c);
        if (!c->ev_sigchld)
                return -ENOMEM;
        (void) event_add(c->ev_sigchld, NULL);
        return 0;
}

/**
 * container_new() - pick and prepare the containment mode
 * @ret: the container
 * @base: the event loop
 * @config: SCOPE_* keys; borrowed until container_set_config() or container_free()
 *
 * An explicit mode that cannot work fails start-up; auto falls through to the next mode.
 *
 * Return: 0, or a negative errno.
 */
int container_new(Container **ret, struct event_base *base, const Config *config) {
        Container *c = calloc(1, sizeof(*c));
        ScopeMode want = config->scope_mode;
        int r;

        if (!c)
                return -ENOMEM;
        c->base = base;
        c->config = config;
        c->children_fd = -EBADF;
        c->sigchld_fd = -EBADF;
        (void) scope_own_unit(&c->own_unit);

        if (want == SCOPE_MODE_SCOPE || want == SCOPE_MODE_AUTO) {
                r = setup_scope(c);
                if (r >= 0)
                        c->mode = SCOPE_MODE_SCOPE;
                else if (want == SCOPE_MODE_SCOPE) {
                        container_free(c);
                        return log_error_errno(r, "SCOPE_MODE=scope, but transient scopes cannot be created: %m");
                } else
                        log_debug_errno(r, "No transient scopes: %m");
        }
        if (c->mode == SCOPE_MODE_AUTO && (want == SCOPE_MODE_CGROUP || want == SCOPE_MODE_AUTO)) {
                r = setup_cgroup(c, want == SCOPE_MODE_CGROUP);
                if (r >= 0)
                        c->mode = SCOPE_MODE_CGROUP;
                else if (want == SCOPE_MODE_CGROUP) {
                        container_free(c);
                        return log_error_errno(r, "SCOPE_MODE=cgroup, but our cgroup cannot be used: %m");
                } else
                        log_debug_errno(r, "No delegated cgroup: %m");
        }
        if (c->mode == SCOPE_MODE_AUTO) {
                r = setup_pgroup(c);
                if (r < 0) {
                        container_free(c);
                        return log_error_errno(r, "Cannot become a child subreaper: %m");
                }
                c->mode = SCOPE_MODE_PGROUP;
        }
        log_info("containing CLI children with %s%s%s%s (SCOPE_MODE=%s)",
                 c->mode == SCOPE_MODE_SCOPE ? "transient scopes" :
                 c->mode == SCOPE_MODE_CGROUP ? "delegated sub-cgroups" : "process groups",
                 c->mode == SCOPE_MODE_SCOPE ? (bus_is_user(c->bus) ? " on the user bus" : " on the system bus") : "",
                 c->own_unit ? ", bound to " : "", c->own_unit ?: "", scope_mode_to_string(want));
        *ret = c;
        return 0;
}

/**
 * container_free() - tear down; pending scopes are killed, cgroups removed as far as possible
 * @c: the container, may be NULL
 *
 * Return: NULL.
 */
Container *container_free(Container *c) {
        if (!c)
                return NULL;
        while (c->slots) {
                ContainerSlot *s = c->slots;
                if (s->placed && s->name && bus_get(c->bus))
                        (void) scope_end_async(bus_get(c->bus), s->name);
                if (s->path) {
                        (void) cgroup_signal(s->path, SIGKILL);
                        for (int i = 0; i < 50 && cgroup_remove(s->path) == -EBUSY; i++)
                                (void) usleep(2000);
                }
                slot_destroy(s);
        }
        sd_bus_slot_unref(c->job_match);
        bus_free(c->bus);
        if (c->ev_sigchld)
                event_free(c->ev_sigchld);
        safe_close(c->children_fd);
        safe_close(c->sigchld_fd);
        free(c->own_unit);
        free(c->cgroup);
        free(c);
        return NULL;
}

/**
 * container_set_config() - use a reloaded configuration for future placements
 */
void container_set_config(Container *c, const Config *config) {
        if (c->config->scope_mode != config->scope_mode)
                log_notice("SCOPE_MODE changes take effect at the next start, ignoring");
        c->config = config;
}

/**
 * container_mode() - the mode in use (never SCOPE_MODE_AUTO)
 */
ScopeMode container_mode(const Container *c) {
        return c ? c->mode : SCOPE_MODE_PGROUP;
}

/**
 * container_needs_gate() - must the child wait before exec until container_place() is done?
 */
bool container_needs_gate(const Container *c) {
        return c && c->mode == SCOPE_MODE_SCOPE;
}

/**
 * container_cleanup_leftovers() - kill what a crashed earlier instance left running
 *
 * Return: the number of units or cgroups handled, or a negative errno.
 */
int container_cleanup_leftovers(Container *c) {
        if (c->mode == SCOPE_MODE_SCOPE)
                return scope_kill_leftovers(bus_get(c->bus), c->own_unit);
        if (c->mode == SCOPE_MODE_CGROUP)
                return cgroup_remove_leftovers(c->cgroup);
        return 0;
}

static ContainerSlot *slot_new(Container *c, const ScopeInfo *info) {
        ContainerSlot *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->c = c;
        s->pid = info->pid;
        s->procs_fd = -EBADF;
        s->request_id = strdup(info->request_id);
        if (!s->request_id) {
                free(s);
                return NULL;
        }
        s->next = c->slots;
        if (c->slots)
                c->slots->prev = s;
        c->slots = s;
        return s;
}

/**
 * container_prepare() - before the spawn: make what the child can join by itself
 * @c: the container
 * @info: request id (copied); the pid is not known yet
 * @ret: the slot, to hand to container_place() after the spawn (or to container_slot_free())
 * @ret_join_fd: the cgroup.procs fd the child writes "0" into before exec; owned by the slot
 *
 * Only the cgroup mode has something to prepare: a transient scope needs the pid (and a gated
 * child), a process group needs nothing.
 *
 * Return: 1 prepared, 0 nothing to prepare (*ret NULL), or a negative errno (logged).
 */
int container_prepare(Container *c, const ScopeInfo *info, ContainerSlot **ret, int *ret_join_fd) {
        ContainerSlot *s;
        int r;

        *ret = NULL;
        *ret_join_fd = -EBADF;
        if (!c || c->mode != SCOPE_MODE_CGROUP)
                return 0;
        s = slot_new(c, info);
        if (!s)
                return log_oom();
        r = cgroup_prepare(s);
        if (r < 0) {
                log_scope_failed(s, r, strerror(-r));
                slot_destroy(s);
                return r;
        }
        *ret = s;
        *ret_join_fd = s->procs_fd;
        return 1;
}

/**
 * container_place() - put a gated child into its container
 * @c: the container
 * @info: request id, API, model, pid (strings copied)
 * @ready_cb: called once from the loop when placement is pending (return 0)
 * @userdata: for @ready_cb
 * @ret: the slot; if it holds one from container_prepare(), that one is completed
 *
 * Return: 1 placed, 0 pending, or a negative errno (logged with MESSAGE_ID_SCOPE_FAILED).
 */
int container_place(Container *c, const ScopeInfo *info, container_ready_t ready_cb, void *userdata,
                    ContainerSlot **ret) {
        ContainerSlot *s = *ret;
        int r;

        if (s) {
                /* Prepared: the child joined the cgroup itself before it exec'd. */
                s->pid = info->pid;
                s->placed = true;
                s->procs_fd = safe_close(s->procs_fd);
                return 1;
        }
        s = slot_new(c, info);
        if (!s)
                return log_oom();
        s->ready_cb = ready_cb;
        s->userdata = userdata;

        switch (c->mode) {
        case SCOPE_MODE_SCOPE:
                /* Copies: a retry after UnitExists runs when the caller's strings may be gone. */
                s->api = strdup(info->api ?: "?");
                s->model = info->model ? strdup(info->model) : NULL;
                s->info = (ScopeInfo) { .request_id = s->request_id, .api = s->api, .model = s->model,
                                        .own_unit = c->own_unit, .pid = info->pid };
                r = s->api && (s->model || !info->model) ? scope_send(s) : -ENOMEM;
                if (r >= 0) {
                        s->pending = true;
                        s->ev_timer = evtimer_new(c->base, on_job_timeout, s);
                        if (s->ev_timer) {
                                struct timeval tv = { .tv_sec = SCOPE_JOB_TIMEOUT_SEC };
                                (void) event_add(s->ev_timer, &tv);
                        }
                }
                break;
        case SCOPE_MODE_CGROUP:
                r = cgroup_place(s);
                break;
        default:
                r = 1;
        }
        if (r < 0) {
                log_scope_failed(s, r, strerror(-r));
                slot_destroy(s);
                return r;
        }
        *ret = s;
        return r;
}

/**
 * container_slot_unit() - the scope's unit name or the cgroup's directory name
 * @s: the slot, may be NULL
 */
const char *container_slot_unit(const ContainerSlot *s) {
        return s && s->c->mode != SCOPE_MODE_PGROUP ? s->name : NULL;
}

/**
 * container_kill() - signal everything in the container (the process group is cli/spawn.c's job)
 * @s: the slot, may be NULL
 * @sig: the signal
 */
void container_kill(ContainerSlot *s, int sig) {
        if (!s || !s->placed)
                return;
        if (s->c->mode == SCOPE_MODE_SCOPE && bus_get(s->c->bus)) {
                (void) scope_kill_async(bus_get(s->c->bus), s->name, sig);
                bus_kick(s->c->bus);
        } else if (s->c->mode == SCOPE_MODE_CGROUP && s->path)
                (void) cgroup_signal(s->path, sig);
}

/**
 * container_slot_free() - the child was reaped: end the rest of its tree and drop the container
 * @s: the slot, may be NULL
 *
 * Return: NULL.
 */
ContainerSlot *container_slot_free(ContainerSlot *s) {
        if (!s)
                return NULL;
        s->ready_cb = NULL;
        s->userdata = NULL;
        if (s->pending) {
                s->orphan = true;
                return NULL;
        }
        s->pid = 0;     /* reaped: the orphan reaper may collect that pid number again */
        if (s->c->mode == SCOPE_MODE_CGROUP && s->path) {
                (void) cgroup_signal(s->path, SIGKILL);
                if (cgroup_remove(s->path) == -EBUSY) {
                        s->ev_timer = evtimer_new(s->c->base, on_rmdir_retry, s);
                        if (s->ev_timer) {
                                struct timeval tv = { .tv_usec = RMDIR_RETRY_MS * 1000 };
                                (void) event_add(s->ev_timer, &tv);
                                return NULL;
                        }
                }
        } else if (s->c->mode == SCOPE_MODE_SCOPE && s->placed && bus_get(s->c->bus)) {
                /* A setsid()ed grandchild may keep the scope alive, and a scope whose child died
                 * before it was placed never empties: kill and stop it (CollectMode unloads it). */
                (void) scope_end_async(bus_get(s->c->bus), s->name);
                bus_kick(s->c->bus);
        }
        slot_destroy(s);
        return NULL;
}
