/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Ask the CLI something over its control channel without a model call: one CLI process (a warm
 * pooled one when the model matches, else a cold spawn on a free slot) gets a list of control
 * requests, answered one after the other, optionally with a history conversation written before
 * one of them; then it is ended. Used for the model list (`initialize`) and for token counts
 * (`get_context_usage`). No HTTP here: the caller gets the answers and replies itself.
 */

#include <jansson.h>

#include "cli/request.h"
#include "pool.h"
#include "run.h"
#include "scheduler.h"

typedef struct CliQuery CliQuery;

/* Every query still running (its process not reaped yet), so the owner can end them all. */
typedef struct CliQueryList {
        CliQuery *head;
} CliQueryList;

/* Where queries get their process and slot; owned by the server. */
typedef struct CliQueryEnv {
        Scheduler *sched;
        Pool *pool;                     /* may be NULL */
        const RunContext *ctx;
        const char *claude_path;
} CliQueryEnv;

/*
 * The end of a query, called once unless cancelled. @error: 0 and @answers (an array of the
 * "response" objects, one per request, borrowed) on success; else -EBUSY (no slot free),
 * -ETIMEDOUT, -EPROTO (the CLI answered with an error, @why says it), -ECHILD (the CLI ended
 * first, @why is its stderr tail or ""), -ENOMEM.
 */
typedef void (*cli_query_done_t)(int error, const json_t *answers, const char *why, void *userdata);

/*
 * Start a query. @requests: array of control request objects (cli_control_build_*()), taken.
 * @turns: history lines (every user line "shouldQuery":false) written right before
 * requests[@turns_at] once the answers before it came; taken (left empty); NULL: none.
 * On failure nothing is left and @done is not called.
 */
int cli_query_start(CliQuery **ret, CliQueryList *list, const CliQueryEnv *env, const char *model,
                    const char *log_id, json_t *requests, CliInput *turns, size_t turns_at, cli_query_done_t done,
                    void *userdata);
/* The caller is no longer interested: @done is never called; the process is ended. NULL-safe. */
void cli_query_cancel(CliQuery *q);
/* Proxy exit: every query's process is killed and reaped now, its slot given back. */
void cli_query_list_free(CliQueryList *list, Scheduler *sched);
/* Graceful stop: every query fails now with -ECANCELED (its @done is called), processes end. */
void cli_query_list_stop(CliQueryList *list);
