/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Parking (TOOL_PARK_MS): a run whose model called client tools is not interrupted but kept
 * waiting on its pending tools/call (the CLI waits silently, shared cli/README §16.2). A follow-up
 * request whose conversation matches (client_tools_digest()) and whose last turn carries exactly
 * the results of those calls adopts the run, with its slot: the calls are answered with the
 * results and the same run streams its next message to the new request — one process for both
 * turns, no replay, no second start. A follow-up that matches only in part, the deadline, a
 * slot needed by a request, or the proxy stopping ends a parked run: `interrupt`, then its tree.
 */

#include <stdbool.h>
#include <stdint.h>

#include "cli/control.h"
#include "run.h"
#include "scheduler.h"

typedef struct Park Park;

int park_new(Park **ret, Scheduler *sched, const RunContext *ctx);
/* Kill (SIGKILL, synchronous reap) every parked run. NULL-safe. */
Park *park_free(Park *p);

/*
 * Park @run, which holds one scheduler slot: from now on the park owns it, @control, its slot and
 * @pending (toolUseId -> {request_id, id} of the unanswered tools/call), and answers its asks with
 * @tools. @digest is client_tools_digest() of the whole conversation the run answered.
 * @park_ms bounds the wait. Return 0, or negative errno (nothing taken).
 */
int park_put(Park *p, Run *run, CliControl *control, json_t *tools, json_t *pending, uint64_t digest, uint64_t park_ms,
             const char *log_id);

/*
 * A follow-up (client_tools_followup(): @ids and @results) of a conversation with @digest.
 * Return 1 with *ret_run (owned through @cb from now on, with its slot) and *ret_control, its
 * calls answered; 0 when nothing matches. Parked runs that match in part are ended.
 */
int park_adopt(Park *p, uint64_t digest, const json_t *ids, const json_t *results, const RunCallbacks *cb,
               void *userdata, Run **ret_run, CliControl **ret_control);

/* A request needs a slot and none is free: end the oldest parked run. */
bool park_sacrifice(Park *p);
/* The proxy is stopping: end every parked run. */
void park_stop(Park *p);
unsigned park_size(const Park *p);
/* Parked runs still waiting for their follow-up (those ending not counted): /health, /metrics. */
unsigned park_waiting(const Park *p);
