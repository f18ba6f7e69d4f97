/* SPDX-License-Identifier: MIT */

/*
 * Control-channel queries to a CLI process that serves no request (see cli-query.h).
 *
 *   start ─► pooled process adopted (its model) or cold spawn on a spare slot ─► request 0
 *   answer i ─► request i+1 (with the history written first when i+1 == turns_at) ─► ...
 *   last answer ─► done(0) ─► kill ─► reap: slot back, query freed
 *   error answer / exit / idle / deadline ─► done(error) ─► kill ─► reap
 *
 * A query never waits in the scheduler's queue: it is a side request (a listing, a count) that
 * takes a slot only when one is free right now, and says -EBUSY otherwise, so it can neither
 * delay nor be mistaken for an API request (the server's stop and deadline walk only those).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-query.h"
#include "cli/control.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/random-id.h"

struct CliQuery {
        CliQueryList *list;
        CliQuery *prev, *next;
        Scheduler *sched;
        Run *run;
        CliControl *control;
        json_t *requests, *answers;
        CliInput turns;
        size_t turns_at, next_step;
        cli_query_done_t done;
        void *userdata;
        struct event *ev_deadline;
        Pool *adopted_from;             /* the pool whose process this is, until it answered */
        bool finished;                  /* done was called (or cancelled): only the reap is left */
        char id[32];
};

static const RunCallbacks query_run_callbacks;

static void query_unlink(CliQuery *q) {
        if (q->prev)
                q->prev->next = q->next;
        else if (q->list)
                q->list->head = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->prev = q->next = NULL;
        q->list = NULL;
}

static CliQuery *query_free(CliQuery *q) {
        if (!q)
                return NULL;
        query_unlink(q);
        q->run = run_free(q->run);
        q->control = cli_control_free(q->control);
        if (q->ev_deadline)
                event_free(q->ev_deadline);
        json_decref(q->requests);
        json_decref(q->answers);
        cli_input_done(&q->turns);
        free(q);
        return NULL;
}

/* Report once, then end the process; the query goes at its reap. */
static void query_finish(CliQuery *q, int error, const char *why) {
        cli_query_done_t done = q->done;

        if (q->finished)
                return;
        q->finished = true;
        q->done = NULL;
        if (q->ev_deadline)
                (void) event_del(q->ev_deadline);
        if (done)
                done(error, error < 0 ? NULL : q->answers, why ?: "", q->userdata);
        if (q->run)
                run_kill(q->run, error == -ETIMEDOUT ? CLI_KILL_TIMEOUT : CLI_KILL_SHUTDOWN);
}

/* Append a serialized line to the history: the request that must follow it. */
static int turns_append(CliInput *in, const json_t *line) {
        char *text = json_dumps(line, JSON_COMPACT);
        CliInputLine *l;

        if (!text)
                return -ENOMEM;
        l = realloc(in->lines, (in->n + 1) * sizeof(*l));
        if (!l) {
                free(text);
                return -ENOMEM;
        }
        in->lines = l;
        in->lines[in->n++] = (CliInputLine) { .text = text, .len = strlen(text), .awaits_result = false };
        return 0;
}

/* Write request number q->next_step. */
static int query_step(CliQuery *q) {
        json_t *request = json_incref(json_array_get(q->requests, q->next_step));
        json_auto_t *line = NULL;
        int k;

        k = cli_control_send(q->control, request, q, &line);
        if (k < 0)
                return k;
        if (q->next_step == q->turns_at && q->turns.n > 0) {
                k = turns_append(&q->turns, line);
                return k < 0 ? k : run_send_turns(q->run, &q->turns);
        }
        return run_send_line(q->run, line);
}

/* ---- the run's events ----------------------------------------------------------------------- */

static void on_query_event(Run *run, const CliEvent *ev, void *userdata) {
        /* Nothing is asked of the model: the init/result lines of an empty turn are not ours. */
}

static void on_query_control(Run *run, const CliEvent *ev, void *userdata) {
        CliQuery *q = userdata;
        CliControlIn in = {};
        int k;

        if (q->finished || cli_control_receive(q->control, ev, &in) < 0)
                return;
        if (in.type == CLI_CONTROL_IN_ASK) {
                json_auto_t *line = NULL;

                /* Nothing of ours can ask (no MCP server, no tools): answer as a host without handlers. */
                if (cli_control_build_refusal(&in, &line) >= 0)
                        (void) run_send_line(run, line);
                return;
        }
        /* The pool's readiness probe (cookie NULL) may still be answered after an adoption. */
        if (in.type != CLI_CONTROL_IN_RESPONSE || in.cookie != q)
                return;
        if (!in.success) {
                query_finish(q, -EPROTO, in.error);
                return;
        }
        /* A pooled process that answers has started: the pool may refill now, not in seconds. */
        if (q->adopted_from) {
                pool_kick(q->adopted_from);
                q->adopted_from = NULL;
        }
        k = json_array_append_new(q->answers, in.response ? json_deep_copy(in.response) : json_object());
        if (k >= 0 && ++q->next_step < json_array_size(q->requests))
                k = query_step(q);
        if (k < 0)
                query_finish(q, k == -ENOMEM ? -ENOMEM : -ECHILD, "cannot write to the CLI");
        else if (q->next_step >= json_array_size(q->requests))
                query_finish(q, 0, NULL);
}

static void on_query_failed(Run *run, int error, void *userdata) {
        CliQuery *q = userdata;

        log_debug_errno(error, "%s: the CLI could not be contained: %m", q->id);
}

static void on_query_idle(Run *run, void *userdata) {
        query_finish(userdata, -ETIMEDOUT, "the CLI printed nothing for IDLE_TIMEOUT_MS");
}

static void on_query_exit(Run *run, const CliExit *exit, void *userdata) {
        CliQuery *q = userdata;
        Scheduler *sched = q->sched;

        query_finish(q, -ECHILD, run_stderr_tail(run));
        query_free(q);
        /* Last: may start queued requests. */
        scheduler_release(sched, 1);
}

static const RunCallbacks query_run_callbacks = {
        .on_event = on_query_event,
        .on_control = on_query_control,
        .on_failed = on_query_failed,
        .on_idle = on_query_idle,
        .on_exit = on_query_exit,
};

static void on_deadline(evutil_socket_t fd, short what, void *userdata) {
        query_finish(userdata, -ETIMEDOUT, "REQUEST_TIMEOUT_MS passed");
}

/* ---- API ------------------------------------------------------------------------------------ */

/**
 * cli_query_start() - ask a CLI process a list of control requests
 * @ret: the query (owned by @list until its process is reaped), for cli_query_cancel()
 * @list: where the query lives
 * @env: scheduler, pool, run context, CLI path
 * @model: the process's --model (a pooled one is used when it is the pool's)
 * @log_id: for the logs
 * @requests: array of request objects, taken (also on failure)
 * @turns: history lines written right before requests[@turns_at]; taken; NULL: none
 * @turns_at: see @turns
 * @done: called once with the answers or the error
 * @userdata: for @done
 *
 * On failure @done is never called (a process already started is ended and reaped later).
 *
 * Return: 0; -EBUSY when no slot is free now; -ENOENT without a CLI; -EINVAL for an empty
 * @requests; -ENOMEM; a spawn error.
 */
int cli_query_start(CliQuery **ret, CliQueryList *list, const CliQueryEnv *env, const char *model,
                    const char *log_id, json_t *requests, CliInput *turns, size_t turns_at, cli_query_done_t done,
                    void *userdata) {
        json_auto_t *reqs = requests;
        _cleanup_free_ CliQuery *q = NULL;
        RunStage stage = RUN_STAGE_SPAWN;
        int k;

        if (!json_is_array(reqs) || json_array_size(reqs) == 0 || turns_at >= json_array_size(reqs))
                return -EINVAL;
        if (!env->claude_path)
                return -ENOENT;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->sched = env->sched;
        q->done = done;
        q->userdata = userdata;
        q->turns_at = turns_at;
        snprintf(q->id, sizeof(q->id), "%s", log_id);
        q->answers = json_array();
        q->ev_deadline = evtimer_new(env->ctx->base, on_deadline, q);
        if (!q->answers || !q->ev_deadline) {
                json_decref(q->answers);
                if (q->ev_deadline)
                        event_free(q->ev_deadline);
                return -ENOMEM;
        }

        if (env->pool && pool_adopt(env->pool, model, log_id, &query_run_callbacks, q, &q->run, &q->control) > 0) {
                log_debug("%s: asks a pooled CLI", log_id);
                q->adopted_from = env->pool;
        } else {
                CliRequest cli = { .model = (char *) model, .thinking = true };
                RunSpawn sp = { .cli = &cli, .claude_path = env->claude_path, .log_id = log_id, .api = "query" };

                if (!scheduler_take_spare(env->sched)) {
                        json_decref(q->answers);
                        event_free(q->ev_deadline);
                        return -EBUSY;
                }
                /* A slot of a request from now on: released at the reap like any other. */
                scheduler_adopt_spare(env->sched);
                k = cli_control_new(&q->control);
                if (k >= 0)
                        k = run_start(&q->run, env->ctx, &sp, &query_run_callbacks, q, &stage);
                if (k < 0) {
                        q->control = cli_control_free(q->control);
                        json_decref(q->answers);
                        event_free(q->ev_deadline);
                        scheduler_release(env->sched, 1);
                        return k;
                }
        }
        /* From here the run exists: every failure goes through its reap. */
        q->requests = TAKE_PTR(reqs);
        if (turns) {
                q->turns = *turns;
                *turns = (CliInput) {};
        }
        q->list = list;
        q->next = list->head;
        if (list->head)
                list->head->prev = q;
        list->head = q;
        if (env->ctx->config->request_timeout_ms > 0)
                (void) event_add_ms(q->ev_deadline, env->ctx->config->request_timeout_ms);
        k = query_step(q);
        if (k < 0) {
                /* The caller hears it from the return value; the process goes at its reap. */
                q->done = NULL;
                query_finish(q, k, NULL);
                TAKE_PTR(q);
                return k;
        }
        *ret = TAKE_PTR(q);
        return 0;
}

void cli_query_cancel(CliQuery *q) {
        if (!q)
                return;
        q->done = NULL;
        query_finish(q, -ECANCELED, NULL);
}

void cli_query_list_stop(CliQueryList *list) {
        for (CliQuery *q = list->head; q; q = q->next)
                query_finish(q, -ECANCELED, "the proxy is stopping");
}

void cli_query_list_free(CliQueryList *list, Scheduler *sched) {
        while (list->head) {
                CliQuery *q = list->head;

                q->done = NULL;
                query_free(q);  /* SIGKILL and a synchronous reap */
                /* The proxy is going away: give the slot back without starting anything. */
                sched->children--;
        }
}
