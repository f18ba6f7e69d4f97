/* SPDX-License-Identifier: MIT */

/*
 * Parked runs (see park.h).
 *
 *   tool stop ─► park_put() ─► waiting (silent CLI, its tools/call unanswered)
 *        ├─ park_adopt(): follow-up matches ─► calls answered ─► run handed to the new request
 *        ├─ follow-up matches in part, TOOL_PARK_MS passed, slot needed, stopping
 *        │        ─► interrupt ─► its result ─► EOF ─► reap ─► slot freed
 *        │                     └─ no end in PARK_END_MS ─► kill
 *        └─ it exits by itself ─► reap ─► slot freed
 *
 * A parked run keeps the one scheduler slot its request had; an adopting request takes it over.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/client-tools.h"
#include "park.h"
#include "util/event-util.h"
#include "util/list.h"
#include "util/log.h"
#include "util/macro.h"

/* After the interrupt, how long the CLI has to print its result and exit. */
#define PARK_END_MS 10000

typedef struct ParkEntry ParkEntry;

struct ParkEntry {
        Park *park;
        ParkEntry *prev, *next;
        Run *run;
        CliControl *control;
        json_t *tools, *pending;
        uint64_t digest;
        struct event *ev_timer;
        bool ending;
        char log_id[160];
};

struct Park {
        Scheduler *sched;
        const RunContext *ctx;
        ParkEntry *head, *tail;         /* oldest first */
        unsigned n;
};

static void entry_unlink(Park *p, ParkEntry *e) {
        LIST_REMOVE(p->head, p->tail, e);
        p->n--;
}

/* Free an entry; its run too (killed and reaped if still there) unless it was handed on. */
static void entry_free(ParkEntry *e) {
        if (!e)
                return;
        if (e->ev_timer)
                event_free(e->ev_timer);
        e->run = run_free(e->run);
        e->control = cli_control_free(e->control);
        json_decref(e->tools);
        json_decref(e->pending);
        free(e);
}

/* End a parked run the way that stops the CLI without another model call: interrupt (§16.2). */
static void entry_end(ParkEntry *e, const char *why) {
        json_auto_t *req = NULL, *line = NULL;
        int r;

        if (e->ending)
                return;
        e->ending = true;
        log_debug("%s: parked CLI ended (%s)", e->log_id, why);
        r = cli_control_build_interrupt(&req);
        if (r >= 0)
                r = cli_control_send(e->control, TAKE_PTR(req), NULL, &line);
        if (r >= 0)
                r = run_send_line(e->run, line);
        if (r < 0)
                run_kill(e->run, CLI_KILL_PROTOCOL);
        (void) event_del(e->ev_timer);
        (void) event_add_ms(e->ev_timer, PARK_END_MS);
}

static void on_park_timer(evutil_socket_t fd, short what, void *userdata) {
        ParkEntry *e = userdata;

        if (!e->ending) {
                entry_end(e, "TOOL_PARK_MS passed");
                return;
        }
        run_kill(e->run, CLI_KILL_TIMEOUT);
}

static void on_parked_event(Run *run, const CliEvent *ev, void *userdata) {
        ParkEntry *e = userdata;

        /* A parked CLI prints nothing until its call is answered: a result means it is over. */
        if (ev->type == CLI_EVENT_RESULT) {
                e->ending = true;
                run_finish(run);
        }
}

static void on_parked_control(Run *run, const CliEvent *ev, void *userdata) {
        ParkEntry *e = userdata;
        json_auto_t *line = NULL;
        json_t *reply = NULL;
        CliControlIn in = {};
        int r;

        if (cli_control_receive(e->control, ev, &in) < 0 || in.type != CLI_CONTROL_IN_ASK)
                return;
        if (in.ask == CLI_ASK_MCP_MESSAGE && streq_ptr(in.server_name, CLIENT_TOOLS_SERVER)) {
                r = client_tools_mcp_answer(e->tools, in.mcp_message, &reply);
                if (r == 0)
                        return;
                if (r > 0)
                        r = cli_control_build_mcp_response(in.request_id, reply, &line);
        } else
                r = cli_control_build_refusal(&in, &line);
        if (r >= 0)
                (void) run_send_line(run, line);
}

static void on_parked_failed(Run *run, int error, void *userdata) {
}

/* Silence is what a parked CLI does: TOOL_PARK_MS bounds it, not IDLE_TIMEOUT_MS. */
static void on_parked_idle(Run *run, void *userdata) {
}

static void on_parked_exit(Run *run, const CliExit *exit, void *userdata) {
        ParkEntry *e = userdata;
        Park *p = e->park;

        entry_unlink(p, e);
        entry_free(e);
        /* Last: may start queued requests. */
        scheduler_release(p->sched, 1);
}

static const RunCallbacks park_run_callbacks = {
        .on_event = on_parked_event,
        .on_control = on_parked_control,
        .on_failed = on_parked_failed,
        .on_idle = on_parked_idle,
        .on_exit = on_parked_exit,
};

int park_new(Park **ret, Scheduler *sched, const RunContext *ctx) {
        Park *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->sched = sched;
        p->ctx = ctx;
        *ret = p;
        return 0;
}

Park *park_free(Park *p) {
        if (!p)
                return NULL;
        while (p->head) {
                ParkEntry *e = p->head;

                entry_unlink(p, e);
                entry_free(e);
        }
        free(p);
        return NULL;
}

/**
 * park_put() - keep a run waiting on its client tool calls
 * @p: the park
 * @run: the run (stays alive; its owner becomes the park)
 * @control: its correlation table, taken
 * @tools: the tools its server lists, taken
 * @pending: toolUseId -> {request_id, id} of its unanswered tools/call, taken
 * @digest: client_tools_digest() of the conversation it answered
 * @park_ms: TOOL_PARK_MS
 * @log_id: for logs
 *
 * Return: 0; -ENOMEM (nothing taken).
 */
int park_put(Park *p, Run *run, CliControl *control, json_t *tools, json_t *pending, uint64_t digest, uint64_t park_ms,
             const char *log_id) {
        ParkEntry *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->ev_timer = evtimer_new(p->ctx->base, on_park_timer, e);
        if (!e->ev_timer) {
                free(e);
                return -ENOMEM;
        }
        e->park = p;
        e->run = run;
        e->control = control;
        e->tools = tools;
        e->pending = pending;
        e->digest = digest;
        snprintf(e->log_id, sizeof(e->log_id), "%s", log_id);
        LIST_APPEND(p->head, p->tail, e);
        p->n++;
        run_set_owner(run, &park_run_callbacks, e);
        (void) event_add_ms(e->ev_timer, park_ms);
        log_debug("%s: CLI parked on %zu tool call(s) for %" PRIu64 " ms", log_id, json_object_size(pending), park_ms);
        return 0;
}

/* Every pending call answered by one of @ids, and every id pending. */
static bool same_calls(const json_t *pending, const json_t *ids) {
        size_t i;
        const json_t *id;

        if (json_array_size(ids) != json_object_size(pending))
                return false;
        json_array_foreach(ids, i, id)
                if (!json_object_get(pending, json_string_value(id)))
                        return false;
        return true;
}

static bool any_call(const json_t *pending, const json_t *ids) {
        size_t i;
        const json_t *id;

        json_array_foreach(ids, i, id)
                if (json_object_get(pending, json_string_value(id)))
                        return true;
        return false;
}

/* Answer each pending tools/call with its result: the CLI goes on with the same run. */
static int answer_calls(ParkEntry *e, const json_t *results) {
        const char *tool_use_id;
        json_t *call;

        json_object_foreach(e->pending, tool_use_id, call) {
                json_auto_t *line = NULL;
                json_t *reply;
                int r;

                reply = json_pack("{s:s,s:O,s:O}", "jsonrpc", "2.0", "id", json_object_get(call, "id"), "result",
                                  json_object_get(results, tool_use_id));
                if (!reply)
                        return -ENOMEM;
                r = cli_control_build_mcp_response(json_string_value(json_object_get(call, "request_id")), reply,
                                                   &line);
                if (r >= 0)
                        r = run_send_line(e->run, line);
                if (r < 0)
                        return r;
        }
        return 0;
}

/**
 * park_adopt() - hand a parked run to the request that answers its calls
 * @p: the park
 * @digest: client_tools_digest() of the follow-up's conversation minus its last two turns
 * @ids: the tool_use ids of the follow-up's last assistant turn
 * @results: tool_use id -> MCP tools/call result, from its last user turn
 * @cb: the new owner's callbacks
 * @userdata: for them
 * @ret_run: the run, now the caller's (with its slot)
 * @ret_control: its correlation table, now the caller's
 *
 * Return: 1 adopted; 0 nothing matches (a parked run that matches in part is ended).
 */
int park_adopt(Park *p, uint64_t digest, const json_t *ids, const json_t *results, const RunCallbacks *cb,
               void *userdata, Run **ret_run, CliControl **ret_control) {
        ParkEntry *e, *next;

        if (!p)
                return 0;
        for (e = p->head; e; e = next) {
                next = e->next;
                if (e->ending)
                        continue;
                if (e->digest == digest && same_calls(e->pending, ids)) {
                        if (answer_calls(e, results) < 0) {
                                entry_end(e, "its calls could not be answered");
                                continue;
                        }
                        log_debug("%s: parked CLI adopted, its tool calls answered", e->log_id);
                        entry_unlink(p, e);
                        run_set_owner(e->run, cb, userdata);
                        *ret_run = TAKE_PTR(e->run);
                        *ret_control = TAKE_PTR(e->control);
                        entry_free(e);
                        return 1;
                }
                if (e->digest == digest || any_call(e->pending, ids))
                        entry_end(e, "a follow-up did not match it");
        }
        return 0;
}

bool park_sacrifice(Park *p) {
        for (ParkEntry *e = p ? p->head : NULL; e; e = e->next)
                if (!e->ending) {
                        entry_end(e, "its slot is needed");
                        return true;
                }
        return false;
}

void park_stop(Park *p) {
        for (ParkEntry *e = p ? p->head : NULL; e; e = e->next)
                entry_end(e, "the proxy is stopping");
}

unsigned park_size(const Park *p) {
        return p ? p->n : 0;
}

unsigned park_waiting(const Park *p) {
        unsigned n = 0;

        /* An ending entry is on its way out (interrupt sent): no follow-up can adopt it. */
        for (const ParkEntry *e = p ? p->head : NULL; e; e = e->next)
                n += !e->ending;
        return n;
}
