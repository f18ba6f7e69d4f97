/* SPDX-License-Identifier: MIT */

/*
 * The warm pool (see pool.h).
 *
 *   refill ─► spare slot? ─► run_start(--model M, run id) ─► mcp_status probe ─► idle
 *   idle ─┬─ probe answered ─────────────► ready
 *         ├─ pool_adopt() ───────────────► the request's (run and slot), refill
 *         ├─ pool_sacrifice/configure/stop ► killed (slot back at its reap)
 *         └─ died by itself ─────────────► counted, refill after a back-off
 *
 * Why model is the only key: cli/README "What can be applied to a warm process" — everything
 * else (system prompt, append text, effort, thinking) is applied late and gives the same upstream
 * request as the argv; a late *change* of model does not (it injects /model text). The
 * environment is per server, not per request.
 *
 * Refills back off (0.5 s doubling to 60 s) after a failed spawn or a pooled process that died
 * idle, so a broken CLI does not spin; the reason is in pool_figures() for /health. A process
 * that answered its probe resets the back-off.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "util/event-util.h"
#include "util/list.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/random-id.h"

#define POOL_BACKOFF_MIN_MS 500
#define POOL_BACKOFF_MAX_MS 60000
/*
 * After an adoption the refill waits until the adopted process has started answering
 * (pool_kick()), or this long: a CLI starting up takes seconds of CPU, and on a small machine a
 * refill spawned at once competes with the very request the pool was meant to speed up
 * (measured: bench/RESULTS.md).
 */
#define POOL_REFILL_AFTER_ADOPT_MS 5000

typedef struct PoolEntry PoolEntry;

struct PoolEntry {
        Pool *pool;
        PoolEntry *prev, *next;
        Run *run;
        CliControl *control;            /* holds the readiness probe */
        char id[32];                    /* the run id: logs, the scope's name */
        bool ready;                     /* the probe was answered */
        bool killing;                   /* we ended it: its exit is no failure */
};

struct Pool {
        Scheduler *sched;
        const RunContext *ctx;
        char *claude_path, *model;
        unsigned target;
        bool stopping;

        PoolEntry *head, *tail;         /* every pooled process not reaped yet, killed ones too */
        unsigned n_idle, n_ready;       /* not being killed; of those, ready */

        struct event *ev_refill;        /* now, after an adoption, or after the back-off */
        bool backing_off;               /* ev_refill is the back-off: pool_kick() leaves it alone */
        unsigned failures;              /* in a row */
        char problem[320];

        uint64_t hits, misses, cold_fallbacks, spawn_failures, sacrificed;
};

static const RunCallbacks pool_run_callbacks;


/* Not counted as idle any more: being killed or adopted. */
static void entry_leave_idle(Pool *p, PoolEntry *e) {
        if (e->killing)
                return;
        p->n_idle--;
        if (e->ready)
                p->n_ready--;
}

static PoolEntry *entry_free(PoolEntry *e) {
        if (!e)
                return NULL;
        e->run = run_free(e->run);
        e->control = cli_control_free(e->control);
        free(e);
        return NULL;
}

static void entry_kill(Pool *p, PoolEntry *e) {
        if (e->killing)
                return;
        entry_leave_idle(p, e);
        e->killing = true;
        run_kill(e->run, CLI_KILL_SHUTDOWN);
}

/* Refill as soon as the loop gets to it; a pending back-off is left alone. */
static void pool_schedule_refill(Pool *p) {
        if (!p->ev_refill || evtimer_pending(p->ev_refill, NULL))
                return;
        (void) event_add_ms(p->ev_refill, 0);
}

static void pool_failed(Pool *p, const char *fmt, ...) _printf_(2, 3);
static void pool_failed(Pool *p, const char *fmt, ...) {
        uint64_t ms = POOL_BACKOFF_MIN_MS;
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(p->problem, sizeof(p->problem), fmt, ap);
        va_end(ap);
        p->spawn_failures++;
        for (unsigned i = 0; i < p->failures && ms < POOL_BACKOFF_MAX_MS; i++)
                ms *= 2;
        ms = MIN(ms, (uint64_t) POOL_BACKOFF_MAX_MS);
        p->failures++;
        log_warning("warm pool: %s; next try in %.1f s", p->problem, (double) ms / 1000.0);
        p->backing_off = true;
        if (p->ev_refill) {
                (void) event_del(p->ev_refill);
                (void) event_add_ms(p->ev_refill, ms);
        }
}

/* ---- a pooled run's events ------------------------------------------------------------------ */

static void on_pooled_event(Run *run, const CliEvent *ev, void *userdata) {
        /* Nothing is expected before a user line; whatever it is, it belongs to no request. */
}

static void on_pooled_control(Run *run, const CliEvent *ev, void *userdata) {
        PoolEntry *e = userdata;
        Pool *p = e->pool;
        CliControlIn in = {};

        if (cli_control_receive(e->control, ev, &in) < 0)
                return;
        if (in.type != CLI_CONTROL_IN_RESPONSE || e->killing || e->ready)
                return;
        if (!in.success) {
                /* Started but unwilling: not a process to hand a request to. */
                entry_kill(p, e);
                pool_failed(p, "a pooled CLI refused the readiness probe: %s", in.error);
                return;
        }
        e->ready = true;
        p->n_ready++;
        p->failures = 0;
        p->problem[0] = 0;
        log_debug("warm pool: %s (pid %d) is ready", e->id, (int) run_pid(run));
}

static void on_pooled_failed(Run *run, int error, void *userdata) {
        PoolEntry *e = userdata;

        /* Its exit follows; counted there. */
        log_debug_errno(error, "warm pool: %s could not be contained: %m", e->id);
}

static void on_pooled_idle(Run *run, void *userdata) {
        /* Silent on purpose: an idle pooled process prints nothing until it gets a request. */
}

static void on_pooled_exit(Run *run, const CliExit *exit, void *userdata) {
        PoolEntry *e = userdata;
        Pool *p = e->pool;
        bool ours = e->killing;

        entry_leave_idle(p, e);
        e->killing = true;
        LIST_REMOVE(p->head, p->tail, e);
        if (!ours) {
                const char *tail = run_stderr_tail(run);
                char why[64];

                if (!exit)
                        snprintf(why, sizeof(why), "unknown status");
                else if (exit->exited)
                        snprintf(why, sizeof(why), "exit code %d", exit->code);
                else
                        snprintf(why, sizeof(why), "signal %d", exit->signal);
                pool_failed(p, "a pooled CLI (%s) ended while idle (%s)%s%.200s", e->id, why, tail ? ": " : "",
                            tail ?: "");
        }
        entry_free(e);
        /* Last: may start queued requests, or call us back for a refill (deferred). */
        scheduler_release_spare(p->sched);
        pool_schedule_refill(p);
}

static const RunCallbacks pool_run_callbacks = {
        .on_event = on_pooled_event,
        .on_control = on_pooled_control,
        .on_failed = on_pooled_failed,
        .on_idle = on_pooled_idle,
        .on_exit = on_pooled_exit,
};

/* ---- refill --------------------------------------------------------------------------------- */

/* Start one pooled process on a spare slot the caller took. */
static int pool_spawn_one(Pool *p) {
        _cleanup_free_ PoolEntry *e = calloc(1, sizeof(*e));
        json_auto_t *line = NULL;
        json_t *probe = NULL;
        RunStage stage = RUN_STAGE_SPAWN;
        int k;

        if (!e)
                return -ENOMEM;
        e->pool = p;
        random_id(e->id, sizeof(e->id), "run_", RANDOM_ID_BASE36, 16);
        k = cli_control_new(&e->control);
        if (k < 0)
                return k;
        k = cli_control_build_generic("mcp_status", &probe);
        if (k >= 0)
                k = cli_control_send(e->control, probe, NULL, &line);
        if (k < 0) {
                e->control = cli_control_free(e->control);
                return k;
        }

        /* The argv of a request that has nothing but the model (cli_control_build_late_config()). */
        CliRequest cli = { .model = p->model, .thinking = true };
        RunSpawn sp = { .cli = &cli, .claude_path = p->claude_path, .log_id = e->id, .api = "pool" };
        k = run_start(&e->run, p->ctx, &sp, &pool_run_callbacks, e, &stage);
        if (k < 0) {
                e->control = cli_control_free(e->control);
                return k;
        }
        /* Its answer says the CLI has started: until then it answers nothing (cli/README). */
        k = run_send_line(e->run, line);
        if (k < 0) {
                entry_free(TAKE_PTR(e));
                return k;
        }
        LIST_APPEND(p->head, p->tail, e);
        p->n_idle++;
        log_debug("warm pool: started %s (pid %d, model %s)", e->id, (int) run_pid(e->run), p->model);
        TAKE_PTR(e);
        return 0;
}

static void pool_refill(Pool *p) {
        if (p->stopping || !p->claude_path || !p->model)
                return;
        while (p->n_idle < p->target) {
                int k;

                if (!scheduler_take_spare(p->sched))
                        return;         /* room comes back with a release: the room callback */
                k = pool_spawn_one(p);
                if (k < 0) {
                        pool_failed(p, "cannot start a pooled CLI: %s", strerror(-k));
                        scheduler_release_spare(p->sched);
                        return;
                }
        }
}

static void on_refill(evutil_socket_t fd, short what, void *userdata) {
        Pool *p = userdata;

        p->backing_off = false;
        pool_refill(p);
}

static void on_room(void *userdata) {
        Pool *p = userdata;

        if (p->n_idle < p->target && !p->stopping)
                pool_schedule_refill(p);
}

/* ---- API ------------------------------------------------------------------------------------ */

int pool_new(Pool **ret, Scheduler *sched, const RunContext *ctx) {
        Pool *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->sched = sched;
        p->ctx = ctx;
        p->ev_refill = evtimer_new(ctx->base, on_refill, p);
        if (!p->ev_refill) {
                free(p);
                return -ENOMEM;
        }
        scheduler_set_room_cb(sched, on_room, p);
        *ret = p;
        return 0;
}

Pool *pool_free(Pool *p) {
        if (!p)
                return NULL;
        scheduler_set_room_cb(p->sched, NULL, NULL);
        while (p->head) {
                PoolEntry *e = p->head;

                LIST_REMOVE(p->head, p->tail, e);
                entry_free(e);  /* SIGKILL and a synchronous reap */
                /* The proxy is going away: give the slot back without starting anything. */
                p->sched->spare--;
                p->sched->children--;
        }
        event_free(p->ev_refill);
        free(p->claude_path);
        free(p->model);
        free(p);
        return NULL;
}

/**
 * pool_configure() - what the pool keeps started, from now on
 * @p: the pool
 * @claude_path: the CLI; NULL: none (the pool stays empty, /health says why already)
 * @model: the resolved DEFAULT_MODEL, the pool's key
 * @target: WARM_POOL
 *
 * Idle processes are replaced: they were started with the old configuration. The back-off
 * starts over.
 *
 * Return: 0, -ENOMEM.
 */
int pool_configure(Pool *p, const char *claude_path, const char *model, unsigned target) {
        char *path = NULL, *m = NULL;

        if ((claude_path && !(path = strdup(claude_path))) || (model && !(m = strdup(model)))) {
                free(path);
                return -ENOMEM;
        }
        free(p->claude_path);
        free(p->model);
        p->claude_path = path;
        p->model = m;
        p->target = target;
        p->failures = 0;
        p->problem[0] = 0;
        for (PoolEntry *e = p->head; e; e = e->next)
                entry_kill(p, e);
        (void) event_del(p->ev_refill);
        p->backing_off = false;
        pool_schedule_refill(p);
        return 0;
}

void pool_stop(Pool *p) {
        p->stopping = true;
        (void) event_del(p->ev_refill);
        for (PoolEntry *e = p->head; e; e = e->next)
                entry_kill(p, e);
}

/**
 * pool_adopt() - hand a pooled process to a request
 * @p: the pool
 * @model: the request's resolved model
 * @log_id: the request id, for the log
 * @cb: the new owner's callbacks
 * @userdata: for @cb
 * @ret: the run, the caller's from now on (with its slot)
 * @ret_control: its correlation table (the probe may still be pending), the caller's
 *
 * Only for the pool's model (a late change of model is not the same request upstream), and only
 * when nobody waits for a slot (FIFO). A ready process is preferred; one still starting is
 * still ahead of a cold spawn, and stdin keeps the order: config, then the conversation.
 *
 * Return: 1 adopted; 0 none (counted as a miss or a cold fallback).
 */
int pool_adopt(Pool *p, const char *model, const char *log_id, const RunCallbacks *cb, void *userdata, Run **ret,
               CliControl **ret_control) {
        PoolEntry *pick = NULL;

        if (p->target == 0 || !p->model)
                return 0;
        if (!streq_ptr(model, p->model)) {
                p->cold_fallbacks++;
                return 0;
        }
        if (p->sched->queue.n == 0)
                for (PoolEntry *e = p->head; e; e = e->next) {
                        if (e->killing)
                                continue;
                        if (e->ready) {
                                pick = e;
                                break;
                        }
                        if (!pick)
                                pick = e;
                }
        if (!pick) {
                p->misses++;
                return 0;
        }

        log_debug("%s: adopts the pooled CLI %s (pid %d, %s)", log_id, pick->id, (int) run_pid(pick->run),
                  pick->ready ? "ready" : "starting");
        entry_leave_idle(p, pick);
        LIST_REMOVE(p->head, p->tail, pick);
        run_set_owner(pick->run, cb, userdata);
        *ret = TAKE_PTR(pick->run);
        *ret_control = TAKE_PTR(pick->control);
        entry_free(pick);
        scheduler_adopt_spare(p->sched);
        p->hits++;
        if (!evtimer_pending(p->ev_refill, NULL))
                (void) event_add_ms(p->ev_refill, POOL_REFILL_AFTER_ADOPT_MS);
        return 1;
}

/**
 * pool_kick() - an adopted process is answering (or gone): refill now
 * @p: the pool
 *
 * A pending back-off is kept.
 */
void pool_kick(Pool *p) {
        if (!p || p->backing_off || p->stopping)
                return;
        (void) event_del(p->ev_refill);
        (void) event_add_ms(p->ev_refill, 0);
}

bool pool_sacrifice(Pool *p) {
        PoolEntry *pick = NULL;

        /* One still starting costs the least to lose. */
        for (PoolEntry *e = p->head; e; e = e->next) {
                if (e->killing)
                        continue;
                if (!pick || (pick->ready && !e->ready))
                        pick = e;
        }
        if (!pick)
                return false;
        log_debug("warm pool: ending the idle %s to free a slot", pick->id);
        entry_kill(p, pick);
        p->sacrificed++;
        return true;
}

void pool_figures(const Pool *p, PoolFigures *ret) {
        *ret = (PoolFigures) {
                .target = p->target,
                .size = p->n_idle,
                .ready = p->n_ready,
                .hits = p->hits,
                .misses = p->misses,
                .cold_fallbacks = p->cold_fallbacks,
                .spawn_failures = p->spawn_failures,
                .sacrificed = p->sacrificed,
                .model = p->target > 0 ? p->model : NULL,
                .problem = p->problem[0] ? p->problem : NULL,
        };
}
