/* SPDX-License-Identifier: MIT */

/*
 * A session carries one API request from its parsed body to its last byte and its child's reap.
 *
 *   parse ─┬─ client error ─────────────────────────────────► error reply
 *          └─ slot free? ── yes ─► spawn ─► write stdin lines ─► read NDJSON ─► translate ─► reply
 *                         └─ no ─► queue (full: 529) ─► spawn when a slot frees
 *
 * The parse (session_handle() ─► session_parsed()) turns the body into the request and the
 * CLI's stdin lines as text, and drops both trees; a body of 1 MiB or more is parsed on a
 * worker thread (util/offload.c) so the loop keeps serving meanwhile.
 *
 * The CLI child is a Run (run.c): its stdin sequencing, stdout lines, timers and reap live
 * there; this file only hears its events. A request for n choices (OpenAI `n`) holds n slots and
 * n runs, one Choice each: the reply ends when every choice succeeded, and the first failing
 * choice fails the request and kills its siblings. Streaming replies hold back their HTTP headers until
 * the first message_start (or the first keep-alive), so a failure before any content still gets
 * a real HTTP status the SDKs turn into the right exception; after that, failures become an SSE
 * `error` event. Every end — result, crash, timeout, idle, client gone, shutdown — goes through
 * run_kill() and the run's reap (on_run_exit), so no child, pipe or timer outlives its session.
 * Keep-alive pings are re-armed at every write, so no silence on the wire exceeds
 * PING_INTERVAL_MS (plus the loop's latency).
 *
 * Client tools (api/client-tools.c): the CLI's mcp_message asks for the server "cp" are answered
 * here, except tools/call; the model's message that calls client tools ends the reply at its
 * message_stop, then the run is interrupted (bounded), or handed to the park (TOOL_PARK_MS, park.c),
 * which a follow-up carrying the results can adopt instead of starting a CLI.
 *
 * What this does not do: translate (api/), decide what an outcome means (api/outcome.c), frame
 * SSE (http/sse.c), run the child (run.c), or count slots (scheduler.c).
 */

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>

#include "api/client-tools.h"
#include "api/outcome.h"
#include "api/structured-output.h"
#include "cli/control.h"
#include "cli/request.h"
#include "cli/stream.h"
#include "http/balancer.h"
#include "http/reply.h"
#include "http/sse.h"
#include "mcp-filter.h"
#include "mcp-registry.h"
#include "park.h"
#include "pool.h"
#include "run.h"
#include "session.h"
#include "util/event-util.h"
#include "util/json-count.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/message-ids.h"
#include "util/offload.h"
#include "util/random-id.h"
#include "util/strv.h"

#define CLIENT_BACKLOG_MAX (4u << 20)
/* A body or CLI line this big makes a request "large": its memory is handed back to the kernel
 * once it is no longer needed (glibc keeps freed heap otherwise; see session_trim()). */
#define SESSION_LARGE_BYTES (1u << 20)
/* Large bodies parsed off the loop at once; more wait their turn on the loop itself, which bounds
 * the memory parsing may take (a body's tree is ~20x its size) without refusing anything. */
#define PARSE_OFFLOAD_MAX 2u

/* One of the request's n CLI runs (OpenAI `n`; always one for Messages). */
typedef struct Choice {
        Session *session;
        unsigned index;
        Run *run;                       /* NULL before the start or if it failed */
        bool exited, concluded;
        McpFilter *mcp_filter;          /* registry servers: their tool calls kept from the client */
        unsigned client_tool_uses;      /* tool_use blocks for the client's tools in this message */
        bool tool_stopped;              /* answered at a client tool call; interrupted, to be reaped */
        json_t *tool_usage;             /* this message's usage, for the answer that ends at its tool_use */
        json_t *pending_calls;          /* toolUseId -> {request_id, id}: tools/call left unanswered */
        CliOutcome outcome;
        CliExit exit;
} Choice;

typedef enum SessionState {
        SESSION_NEW,
        SESSION_QUEUED,
        SESSION_RUNNING,
} SessionState;

struct Session {
        Server *server;
        SchedTicket ticket;             /* in flight, queued for a slot */
        SessionState state;

        struct evhttp_request *req;     /* NULL once replied or the client left */
        struct evhttp_connection *evcon;
        struct event *ev_conn_closed;
        bool client_gone, replied;

        char request_id[REQUEST_ID_MAX + 1];
        char message_id[48];
        const ApiOps *ops;
        ApiRequest api;
        ApiEnv env;
        void *translator;

        Choice *choices;                /* n_choices of them, one CLI run each */
        unsigned n_choices, n_ok;       /* n_ok: choices that succeeded */
        unsigned slots_held;            /* scheduler slots not given back yet */
        pid_t pid;                      /* for the access log: the first run's */
        CliControl *control;            /* host requests of its runs (late or spawn config), NULL: none */
        bool warm;                      /* choice 0's run came from the warm pool (n == 1 only) */
        bool warm_answered;             /* ... and printed something: pool_kick() done */
        bool parked_adopt;              /* choice 0's run is a parked one this request answers (park.c) */
        /* Parking (TOOL_PARK_MS), from the parse: the whole conversation's digest (to park under),
         * and for a follow-up the digest without its last two turns, its call ids and results. */
        bool park_enabled;              /* TOOL_PARK_MS > 0 when the request came (the parse may be off the loop) */
        uint64_t digest_all, digest_prefix;
        json_t *followup_ids, *followup_results;
        char unit[200];                 /* the scope or cgroup name, for the access log */
        struct event *ev_deadline, *ev_ping, *ev_backpressure;

        bool stream_started;            /* HTTP headers of the SSE reply sent */

        uint64_t start_usec, ttfb_usec, last_write_usec;
        int http_status;
        const char *error_class;
        bool large;                     /* see SESSION_LARGE_BYTES */

        CliInput input;                 /* serialized at parse time: the request's tree is gone by then */

        /* A large body is parsed on a worker (session_parse_offloaded()); what it reads is its own. */
        struct evbuffer *body;
        char *effort_header, *default_model, *default_effort;
        int parse_r;
        ApiError parse_err;
        unsigned max_body_values;       /* MAX_BODY_VALUES, copied: a reload may change it meanwhile */
        bool parsing;
};

static void session_maybe_free(Session *s);
static void session_kill(Session *s, CliKillReason reason);
static void session_finish_error(Session *s, int r, ApiError *err);

struct evhttp_request *session_request(Session *s) {
        return s->req;
}

/* ---- helpers -------------------------------------------------------------------------------- */

/*
 * Give freed heap back to the kernel. glibc returns only the top of the heap by itself; a large
 * request leaves hundreds of MB of free chunks below live ones (a body of 370,000 blocks is
 * ~200 MB of small JSON nodes), which stay in RSS until malloc_trim() releases their pages.
 * Only after large requests: it walks the whole heap.
 */
static void session_trim(void) {
        (void) malloc_trim(0);
}

static bool runs_alive(const Session *s) {
        for (unsigned i = 0; i < s->n_choices; i++)
                if (s->choices[i].run && !s->choices[i].exited)
                        return true;
        return false;
}

static void release_slots(Session *s, unsigned n) {
        n = MIN(n, s->slots_held);
        if (n == 0)
                return;
        s->slots_held -= n;
        scheduler_release(&s->server->scheduler, n);
}

/* Headers every reply of this session carries. */
static void add_common_headers(Session *s) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(s->req);

        evhttp_add_header(h, "request-id", s->request_id);
        if (s->api.approximated)
                evhttp_add_header(h, "x-proxy-approximated", s->api.approximated);
        if (s->api.unsupported)
                evhttp_add_header(h, "x-proxy-unsupported", s->api.unsupported);
}

/* The reply is finished (or impossible): forget the connection, libevent owns it again. */
static void session_release_request(Session *s) {
        event_freep(&s->ev_conn_closed);
        if (s->evcon)
                evhttp_connection_set_closecb(s->evcon, NULL, NULL);
        s->evcon = NULL;
        s->req = NULL;
        s->replied = true;
}

/* Bytes went out: the TTFB clock, and the keep-alive clock starts over from this write. */
static void note_first_byte(Session *s) {
        if (s->ttfb_usec == 0)
                s->ttfb_usec = now_usec() - s->start_usec;
        s->last_write_usec = now_usec();
        if (s->ev_ping && s->server->config->ping_interval_ms > 0)
                (void) event_add_ms(s->ev_ping, s->server->config->ping_interval_ms);
}

/* Bytes written to the client that it has not read yet. */
static size_t client_backlog(Session *s) {
        struct bufferevent *bev = s->evcon ? evhttp_connection_get_bufferevent(s->evcon) : NULL;

        return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* A slow reader: stop reading the CLI until the client catches up. The pipe then fills and the
 * CLI waits, instead of the proxy buffering without bound. */
static void check_backlog(Session *s) {
        if (!runs_alive(s) || !s->ev_backpressure || evtimer_pending(s->ev_backpressure, NULL))
                return;
        if (client_backlog(s) <= CLIENT_BACKLOG_MAX)
                return;
        for (unsigned i = 0; i < s->n_choices; i++)
                if (s->choices[i].run && !s->choices[i].exited)
                        run_pause_reading(s->choices[i].run);
        (void) event_add_ms(s->ev_backpressure, 20);
}

static void on_backpressure(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;

        if (client_backlog(s) > CLIENT_BACKLOG_MAX / 2) {
                (void) event_add_ms(s->ev_backpressure, 20);
                return;
        }
        for (unsigned i = 0; i < s->n_choices; i++)
                if (s->choices[i].run && !s->choices[i].exited)
                        run_resume_reading(s->choices[i].run);
}

static void reply_error(Session *s, const ApiError *err) {
        if (!s->req)
                return;
        s->http_status = err->status;
        note_first_byte(s);
        add_common_headers(s);
        http_reply_error(s->req, s->ops->kind, err, now_unix());
        session_release_request(s);
}

/* Commit to a 200 event stream: from here on failures can only be told as SSE error events. */
static void stream_begin(Session *s) {
        if (s->stream_started)
                return;
        add_common_headers(s);
        http_stream_start(s->req);
        s->stream_started = true;
        s->http_status = 200;
}

static void stream_send(Session *s, const json_t *events) {
        struct evbuffer *buf;

        if (!s->req || json_array_size(events) == 0)
                return;
        stream_begin(s);
        buf = evbuffer_new();
        if (!buf || sse_append_frames(buf, s->ops->framing, events) < 0) {
                log_oom();
        } else
                evhttp_send_reply_chunk(s->req, buf);
        if (buf)
                evbuffer_free(buf);
        note_first_byte(s);
        check_backlog(s);
}

static void stream_end(Session *s) {
        if (!s->req)
                return;
        evhttp_send_reply_end(s->req);
        session_release_request(s);
}

/* ---- finishing ------------------------------------------------------------------------------ */

/* Choice c succeeded. The reply ends when every choice has. */
static void choice_finish_ok(Choice *c, const json_t *result) {
        Session *s = c->session;
        json_auto_t *out = json_array();
        int r;

        if (!s->req || !out)
                return;
        s->n_ok++;
        if (s->api.stream) {
                r = s->ops->finish(s->translator, c->index, result, out);
                if (r < 0) {
                        ApiError e = {};
                        api_error_set(&e, r, 500, "api_error", "failed to translate the CLI's answer");
                        session_finish_error(s, r, &e);
                        return;
                }
                stream_send(s, out);
                if (s->n_ok == s->n_choices)
                        stream_end(s);
        } else {
                json_auto_t *msg = NULL;
                const json_t *results[s->n_choices];

                if (s->n_ok < s->n_choices)
                        return;
                for (unsigned i = 0; i < s->n_choices; i++)
                        results[i] = s->choices[i].outcome.result;
                r = s->ops->message(s->translator, results, s->n_choices, &msg);
                if (r < 0) {
                        ApiError e = {};
                        api_error_set(&e, r, 500, "api_error", "failed to translate the CLI's answer");
                        session_finish_error(s, r, &e);
                        return;
                }
                s->http_status = 200;
                note_first_byte(s);
                add_common_headers(s);
                http_reply_json(s->req, 200, msg);
                session_release_request(s);
        }
}

static void session_finish_error(Session *s, int r, ApiError *err) {
        s->error_class = err->error_class ?: "api";
        /* The CLI's credential was refused or is missing: /health should say so soon. */
        if (streq(s->error_class, "cli_auth"))
                server_recheck_cli_auth(s->server);
        if (r == -ECONNABORTED || !s->req)
                return;
        if (s->api.stream && s->stream_started) {
                json_auto_t *out = json_array();
                if (out && s->ops->fail(s->translator, err, out) >= 0)
                        stream_send(s, out);
                s->http_status = s->http_status ?: 200;
                stream_end(s);
                return;
        }
        reply_error(s, err);
}

static void session_kill(Session *s, CliKillReason reason);

#define TOOL_STOP_MS 10000
/* The reply is done: interrupted runs still going get TOOL_STOP_MS, then the deadline kills them. */
static void session_bound_tool_stops(Session *s) {
        if (!s->replied || !s->ev_deadline)
                return;
        for (unsigned i = 0; i < s->n_choices; i++)
                if (s->choices[i].tool_stopped && s->choices[i].run && !s->choices[i].exited) {
                        (void) event_del(s->ev_deadline);
                        (void) event_add_ms(s->ev_deadline, TOOL_STOP_MS);
                        return;
                }
}

/* Choice c's run is over (result or exit): what it came to decides the choice, and a failed
 * choice fails the whole request, its siblings killed. */
static void choice_conclude(Choice *c) {
        Session *s = c->session;
        ApiError err = {};
        CliExit exit = c->exit;
        int r;

        if (c->concluded)
                return;
        c->concluded = true;
        if (s->replied)
                return;
        exit.kill_reason = run_kill_reason(c->run);
        r = cli_outcome_classify(&c->outcome, &exit, run_stderr_tail(c->run), &err);
        /* A structured run that ended without its value answered in prose: not what was asked.
         * One that stopped at a client tool call has its value still to come, in a later turn. */
        if (r >= 0 && s->api.cli.json_schema && !c->tool_stopped) {
                _cleanup_free_ char *value = NULL;

                r = structured_output_text(c->outcome.result, &value, &err);
        }
        if (r >= 0)
                choice_finish_ok(c, c->outcome.result);
        else {
                char f1[160], *fields[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_CHILD_FAILED, f1, NULL };

                snprintf(f1, sizeof(f1), "CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
                /* The id marks a CLI that died without a result; API errors it reported are not. */
                log_full_errno_fields(LOG_NOTICE, 0, r == -ENOEXEC ? fields : NULL, "%s: CLI run failed: %s (%s)",
                                      s->request_id, err.message, err.error_class ?: "api");
                if (exit.kill_reason != CLI_KILL_DISCONNECT)
                        snprintf(s->server->last_error, sizeof(s->server->last_error), "%s: %.100s",
                                 err.error_class ?: "api", err.message);
                session_finish_error(s, r, &err);
                /* The request has failed: the other choices' runs have nothing left to do. */
                session_kill(s, CLI_KILL_PROTOCOL);
        }
        api_error_done(&err);
        session_bound_tool_stops(s);
}

/* ---- the run's events ---------------------------------------------------------------------- */

static void session_kill(Session *s, CliKillReason reason) {
        for (unsigned i = 0; i < s->n_choices; i++)
                if (s->choices[i].run && !s->choices[i].exited)
                        run_kill(s->choices[i].run, reason);
}

/* The client's tools: model-side names back to the client's, and note this message's usage. */
static void choice_note_tools(Choice *c, const CliEvent *ev) {
        json_t *payload = (json_t *) ev->payload;
        const char *type = json_string_value(json_object_get(payload, "type"));
        int k;

        if (json_array_size(c->session->api.cli.tools) == 0 ||
            (ev->type != CLI_EVENT_STREAM && ev->type != CLI_EVENT_ASSISTANT))
                return;
        k = client_tools_rename_payload(payload, ev->type == CLI_EVENT_STREAM);
        if (k < 0) {
                log_oom();
                return;
        }
        if (ev->type != CLI_EVENT_STREAM)
                return;
        c->client_tool_uses += (unsigned) k;
        if (streq_ptr(type, "message_start")) {
                c->client_tool_uses = 0;
                json_decref(c->tool_usage);
                c->tool_usage = json_deep_copy(json_object_get(json_object_get(payload, "message"), "usage"));
        } else if (streq_ptr(type, "message_delta") && json_is_object(c->tool_usage) &&
                   json_is_object(json_object_get(payload, "usage")))
                (void) json_object_update(c->tool_usage, json_object_get(payload, "usage"));
}

/*
 * The model's message that calls client tools has ended (message_stop): that is the client's
 * answer (stop_reason tool_use). The CLI waits on its unanswered tools/call; `interrupt` ends the
 * run (its result says aborted_tools, cli/README §16.2), and only then is stdin closed: EOF while
 * a call is pending makes the CLI call the model again. Bounded: a CLI that does not finish in
 * TOOL_STOP_MS once the reply is done is killed (session_bound_tool_stops()).
 */
/*
 * Answered: hand the run, its control table and its slot to the park, where it waits on its
 * tools/call for a follow-up with the results. Only a single choice whose every client tool_use
 * has its tools/call pending (the CLI writes each at the block's end, §16.1), and whose client
 * got the whole answer. Return: true if parked (the session may be freed by then).
 */
static bool choice_park(Choice *c) {
        Session *s = c->session;
        Server *server = s->server;
        uint64_t park_ms = server->config->tool_park_ms;
        json_t *tools;

        if (park_ms == 0 || !server->park || server->stopping || s->n_choices != 1 || !s->replied ||
            s->client_gone || s->http_status != 200 || json_object_size(c->pending_calls) != c->client_tool_uses)
                return false;
        tools = json_incref(s->api.cli.tools);
        if (park_put(server->park, c->run, s->control, tools, c->pending_calls, s->digest_all, park_ms,
                     s->request_id) < 0) {
                json_decref(tools);
                return false;
        }
        /* The run, its control table and its slot are the park's now. */
        c->run = NULL;
        c->pending_calls = NULL;
        c->exited = true;
        s->control = NULL;
        s->slots_held--;
        session_maybe_free(s);
        return true;
}

static void choice_tool_stop(Choice *c) {
        Session *s = c->session;
        json_auto_t *interrupt = NULL, *line = NULL;
        json_t *result;
        int r;

        result = json_pack("{s:s,s:s,s:b,s:s,s:s}", "type", "result", "subtype", "success", "is_error", 0,
                           "stop_reason", "tool_use", "result", "");
        if (!result || (json_is_object(c->tool_usage) && json_object_set(result, "usage", c->tool_usage) < 0)) {
                json_decref(result);
                log_oom();
                run_kill(c->run, CLI_KILL_PROTOCOL);
                return;
        }
        json_decref(c->outcome.result);
        c->outcome.result = result;
        c->exit = (CliExit) { .exited = true, .code = 0 };
        c->tool_stopped = true;
        choice_conclude(c);
        /* TOOL_PARK_MS: the run waits for the results instead (park.c); the session may be gone. */
        if (choice_park(c))
                return;
        r = cli_control_build_interrupt(&interrupt);
        if (r >= 0)
                r = cli_control_send(s->control, TAKE_PTR(interrupt), NULL, &line);
        if (r >= 0)
                r = run_send_line(c->run, line);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot interrupt the CLI after its tool call: %m", s->request_id);
                run_kill(c->run, CLI_KILL_PROTOCOL);
        }
        session_bound_tool_stops(s);
}

/* A line of the live turn (the history's acknowledgements stay in run.c). */
static void on_run_event(Run *run, const CliEvent *ev, void *userdata) {
        Choice *c = userdata;
        Session *s = c->session;

        if (c->concluded && ev->type != CLI_EVENT_RESULT)
                return;         /* after a tool stop: the interrupted rest is nobody's */
        choice_note_tools(c, ev);

        /* The adopted process has its answer coming: the pool may refill now without slowing
         * down its start (system lines come before the upstream call, so they do not count). */
        if (s->warm && !s->warm_answered &&
            (ev->type == CLI_EVENT_STREAM || ev->type == CLI_EVENT_ASSISTANT || ev->type == CLI_EVENT_RESULT)) {
                s->warm_answered = true;
                pool_kick(s->server->pool);
        }

        cli_outcome_feed(&c->outcome, ev);
        if (s->translator && !s->replied) {
                json_auto_t *out = json_array();
                CliEvent swapped = {};
                /* A registry tool call is the CLI's: the client never sees it (mcp-filter.c). */
                int v = c->mcp_filter ? mcp_filter_event(c->mcp_filter, ev, &swapped) : MCP_FILTER_PASS;
                int r = !out ? -ENOMEM : v < 0 ? v : v == MCP_FILTER_DROP ? 0 :
                        s->ops->feed(s->translator, c->index, v == MCP_FILTER_REPLACED ? &swapped : ev, out);
                cli_event_done(&swapped);
                if (r < 0)
                        log_debug_errno(r, "%s: translator refused a %s line: %m", s->request_id,
                                        cli_event_type_to_string(ev->type));
                else if (s->api.stream && !s->replied) {
                        /* Hold headers back until the message has really started (see the top). */
                        if (s->stream_started || s->ops->started(s->translator))
                                stream_send(s, out);
                }
        }

        if (ev->type == CLI_EVENT_STREAM && c->client_tool_uses > 0 && !c->concluded &&
            streq_ptr(json_string_value(json_object_get(ev->payload, "type")), "message_stop")) {
                choice_tool_stop(c);
                return;
        }
        if (ev->type == CLI_EVENT_RESULT) {
                /* The final turn is over: EOF lets the CLI exit; the reap collects it. */
                run_finish(c->run);
                c->exit = (CliExit) { .exited = true, .code = 0 };
                choice_conclude(c);
        }
}

/*
 * The CLI asks the host: the client tools' server "cp" gets its JSON-RPC answers (never for
 * tools/call: the client runs the tool); anything else gets the SDK's refusal, so nothing waits.
 */
static void session_answer_ask(Choice *c, Run *run, const CliControlIn *in) {
        Session *s = c->session;
        json_auto_t *line = NULL;
        json_t *reply = NULL;
        int r;

        if (in->ask == CLI_ASK_MCP_MESSAGE && streq_ptr(in->server_name, CLIENT_TOOLS_SERVER)) {
                r = client_tools_mcp_answer(s->api.cli.tools, in->mcp_message, &reply);
                if (r == 0) {
                        /* tools/call: kept to be answered if the run is parked and adopted. */
                        const char *use = json_string_value(json_object_get(
                                json_object_get(json_object_get(in->mcp_message, "params"), "_meta"),
                                "claudecode/toolUseId"));

                        if (use && !c->pending_calls)
                                c->pending_calls = json_object();
                        if (use && c->pending_calls)
                                (void) json_object_set_new(c->pending_calls, use,
                                                           json_pack("{s:s,s:O}", "request_id", in->request_id, "id",
                                                                     json_object_get(in->mcp_message, "id")));
                        return;
                }
                if (r > 0)
                        r = cli_control_build_mcp_response(in->request_id, reply, &line);
        } else
                r = cli_control_build_refusal(in, &line);
        if (r >= 0)
                r = run_send_line(run, line);
        if (r < 0 && r != -EPIPE)
                log_warning_errno(r, "%s: cannot answer the CLI's %s: %m", s->request_id, in->ask_subtype ?: "request");
}

/*
 * A run's control lines: the CLI's asks (session_answer_ask()), and the answers to an adopted
 * pooled run's readiness probe and to the request's late configuration. A setting the CLI refused
 * must not be silently dropped (the request would run with the CLI's default instead of what it
 * asked for): the request fails.
 */
static void on_run_control(Run *run, const CliEvent *ev, void *userdata) {
        Session *s = ((Choice *) userdata)->session;
        CliControlIn in = {};

        if (!s->control || cli_control_receive(s->control, ev, &in) < 0) {
                on_run_event(run, ev, userdata);
                return;
        }
        if (in.type == CLI_CONTROL_IN_ASK) {
                session_answer_ask(userdata, run, &in);
                return;
        }
        if (!(in.type == CLI_CONTROL_IN_RESPONSE || in.type == CLI_CONTROL_IN_STRAY_RESPONSE)) {
                on_run_event(run, ev, userdata);
                return;
        }
        if (in.type == CLI_CONTROL_IN_RESPONSE && !in.success && in.kind != CLI_CONTROL_OTHER) {
                ApiError err = {};

                log_warning("%s: the CLI refused %s: %s", s->request_id, cli_control_kind_to_string(in.kind),
                            in.error);
                api_error_set(&err, -EINVAL, 500, "api_error", "The Claude CLI refused the request's settings (%s): %s",
                              cli_control_kind_to_string(in.kind), in.error);
                err.error_class = "cli_config";
                session_finish_error(s, -EINVAL, &err);
                session_kill(s, CLI_KILL_PROTOCOL);
        }
}

/* The scope's start job failed after the child was forked: the run is killing it. */
static void on_run_failed(Run *run, int r, void *userdata) {
        Choice *c = userdata;
        Session *s = c->session;
        ApiError err = {};

        api_error_set(&err, r, 500, "api_error", "Could not contain the Claude CLI in its scope");
        err.error_class = "scope";
        s->error_class = "scope";
        reply_error(s, &err);
        session_kill(s, CLI_KILL_PROTOCOL);
}

static void fail_with_timeout(Session *s, CliKillReason reason);

static void on_run_idle(Run *run, void *userdata) {
        Session *s = ((Choice *) userdata)->session;

        if (s->replied)
                return;
        log_notice("%s: the CLI was silent too long", s->request_id);
        fail_with_timeout(s, CLI_KILL_IDLE);
}

/* The child was reaped, everything it printed handled: decide, give the slot back, maybe free. */
static void on_run_exit(Run *run, const CliExit *exit, void *userdata) {
        Choice *c = userdata;
        Session *s = c->session;

        if (s->warm && !s->warm_answered) {
                s->warm_answered = true;
                pool_kick(s->server->pool);
        }

        c->exited = true;
        /* The real status, for a run that ended without a result. */
        if (exit && !c->concluded)
                c->exit = *exit;
        choice_conclude(c);
        release_slots(s, 1);
        session_maybe_free(s);
}

/* Every run of a session, cold, adopted from the pool or from a park: the CLI's asks answered and
 * the answers to the host's control requests checked (on_run_control). */
static const RunCallbacks session_run_callbacks = {
        .on_event = on_run_event,
        .on_control = on_run_control,
        .on_failed = on_run_failed,
        .on_idle = on_run_idle,
        .on_exit = on_run_exit,
};

/* ---- timers --------------------------------------------------------------------------------- */

static void fail_with_timeout(Session *s, CliKillReason reason) {
        ApiError err = {};

        if (!s->replied) {
                api_error_set(&err, -ETIMEDOUT, 504, "timeout_error",
                              reason == CLI_KILL_IDLE
                                      ? "The Claude CLI produced no output for %" PRIu64 " ms; the request was ended"
                                      : "The request took longer than %" PRIu64 " ms; the request was ended",
                              reason == CLI_KILL_IDLE ? s->server->config->idle_timeout_ms
                                                      : s->server->config->request_timeout_ms);
                err.error_class = "timeout";
                session_finish_error(s, -ETIMEDOUT, &err);
        }
        session_kill(s, reason);
}

static void on_deadline(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;

        log_notice("%s: request timeout", s->request_id);
        fail_with_timeout(s, CLI_KILL_TIMEOUT);
        session_maybe_free(s);
}

/* PING_INTERVAL_MS passed since the last write (every write re-arms this timer). */
static void on_ping(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;

        if (!s->req || s->replied)
                return;
        if (s->ops->started(s->translator)) {
                json_auto_t *out = json_array();
                if (out && s->ops->ping(s->translator, out) >= 0)
                        stream_send(s, out);
                else if (s->server->config->ping_interval_ms > 0)
                        (void) event_add_ms(s->ev_ping, s->server->config->ping_interval_ms);
                return;
        }
        /* No message yet: a comment keeps the connection warm without breaking the SDK's event order. */
        struct evbuffer *buf = evbuffer_new();
        if (!buf) {
                if (s->server->config->ping_interval_ms > 0)
                        (void) event_add_ms(s->ev_ping, s->server->config->ping_interval_ms);
                return;
        }
        stream_begin(s);
        (void) sse_append_comment(buf, "ping");
        evhttp_send_reply_chunk(s->req, buf);
        evbuffer_free(buf);
        note_first_byte(s);
}

/* ---- the client ----------------------------------------------------------------------------- */

static void client_gone(Session *s) {
        if (s->client_gone)
                return;
        s->client_gone = true;
        log_info("%s: client disconnected", s->request_id);
        if (!s->error_class)
                s->error_class = "disconnect";
        /* nginx's "client closed request": the access log tells it from a reply we sent. */
        if (s->http_status == 0)
                s->http_status = 499;
        if (s->state == SESSION_QUEUED)
                scheduler_leave(&s->server->scheduler, &s->ticket);
        session_kill(s, CLI_KILL_DISCONNECT);
}

/* libevent noticed the connection died (write error, EOF while reading): the request is detached. */
static void on_connection_close(struct evhttp_connection *evcon, void *userdata) {
        Session *s = userdata;
        struct evhttp_request *req = s->req;

        s->evcon = NULL;
        session_release_request(s);
        /* A request libevent detached from its connection is ours to free. */
        if (req)
                evhttp_request_free(req);
        client_gone(s);
        session_maybe_free(s);
}

/* Our own watch on the socket: libevent does not read while we hold a request, so it would only
 * see a vanished client at the next write. EPOLLRDHUP tells us at once. */
static void on_socket_closed(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;
        struct evhttp_connection *evcon = s->evcon;

        session_release_request(s);
        /* Freeing the connection frees the request still queued on it. */
        if (evcon)
                evhttp_connection_free(evcon);
        client_gone(s);
        session_maybe_free(s);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void access_log(Session *s) {
        char f[16][240];
        char *fields[17];
        size_t n = 0;
        uint64_t dur = now_usec() - s->start_usec;

#define FIELD(...) (snprintf(f[n], sizeof(f[n]), __VA_ARGS__), fields[n] = f[n], n++)
        FIELD("MESSAGE_ID=%s", MESSAGE_ID_REQUEST_DONE);
        FIELD("CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
        FIELD("CLAUDE_PROXY_API=%s", api_kind_to_string(s->ops->kind));
        FIELD("CLAUDE_PROXY_MODEL=%s", s->api.client_model ?: "");
        FIELD("CLAUDE_PROXY_STREAM=%d", s->api.stream ? 1 : 0);
        FIELD("CLAUDE_PROXY_HTTP_STATUS=%d", s->http_status);
        FIELD("CLAUDE_PROXY_DURATION_USEC=%" PRIu64, dur);
        FIELD("CLAUDE_PROXY_TTFB_USEC=%" PRIu64, s->ttfb_usec);
        FIELD("CLAUDE_PROXY_CHILD_PID=%d", (int) s->pid);
        /* Tokens of all choices' runs. */
        json_int_t in = 0, out = 0;
        bool any_result = false;
        const json_t *rl = NULL;
        for (unsigned i = 0; i < s->n_choices; i++) {
                const json_t *u = json_object_get(s->choices[i].outcome.result, "usage");
                any_result = any_result || s->choices[i].outcome.result;
                in += json_integer_value(json_object_get(u, "input_tokens"));
                out += json_integer_value(json_object_get(u, "output_tokens"));
                rl = rl ?: s->choices[i].outcome.rate_limit_info;
        }
        if (any_result) {
                FIELD("CLAUDE_PROXY_INPUT_TOKENS=%" JSON_INTEGER_FORMAT, in);
                FIELD("CLAUDE_PROXY_OUTPUT_TOKENS=%" JSON_INTEGER_FORMAT, out);
        }
        if (s->error_class)
                FIELD("CLAUDE_PROXY_ERROR_CLASS=%s", s->error_class);
        if (s->unit[0])
                FIELD("CLAUDE_PROXY_UNIT=%s", s->unit);
        if (s->pid > 0)
                FIELD("CLAUDE_PROXY_WARM=%d", s->warm ? 1 : 0);
#undef FIELD
        fields[n] = NULL;
        log_full_errno_fields(LOG_INFO, 0, fields, "%s %s %d %.1fms", s->request_id,
                              api_kind_to_string(s->ops->kind), s->http_status, (double) dur / 1000.0);

        metrics_observe_request(&s->server->metrics,
                                &(MetricsRequest) {
                                        .api = api_kind_to_string(s->ops->kind),
                                        .http_status = s->http_status,
                                        .duration_usec = dur,
                                        .ttfb_usec = s->ttfb_usec,
                                        .input_tokens = in > 0 ? (uint64_t) in : 0,
                                        .output_tokens = out > 0 ? (uint64_t) out : 0,
                                        .error_class = s->error_class,
                                });
        metrics_observe_rate_limit(&s->server->metrics, rl);
        balancer_observe(s->server, rl, streq_ptr(s->error_class, "rate_limit"));
        if (s->http_status == 429) {
                char g[4][160], *gf[5] = { g[0], g[1], g[2], g[3], NULL };

                snprintf(g[0], sizeof(g[0]), "MESSAGE_ID=%s", MESSAGE_ID_RATE_LIMITED);
                snprintf(g[1], sizeof(g[1]), "CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
                snprintf(g[2], sizeof(g[2]), "CLAUDE_PROXY_RATE_LIMIT_STATUS=%s",
                         json_string_value(json_object_get(rl, "status")) ?: "unknown");
                snprintf(g[3], sizeof(g[3]), "CLAUDE_PROXY_RATE_LIMIT_RESETS_AT=%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(rl, "resetsAt")));
                log_full_errno_fields(LOG_WARNING, 0, gf, "%s: rate limited by the Claude API", s->request_id);
        }
}

static Session *session_free(Session *s) {
        if (!s)
                return NULL;
        scheduler_leave(&s->server->scheduler, &s->ticket);
        if (s->state != SESSION_NEW)
                access_log(s);
        event_freep(&s->ev_conn_closed);
        if (s->evcon)
                evhttp_connection_set_closecb(s->evcon, NULL, NULL);
        event_freep(&s->ev_deadline);
        event_freep(&s->ev_ping);
        event_freep(&s->ev_backpressure);
        /* A large CLI line (its buffer, copy and tree) is freed by now too. */
        for (unsigned i = 0; i < s->n_choices; i++)
                if (run_longest_line(s->choices[i].run) >= SESSION_LARGE_BYTES)
                        s->large = true;
        /* Only after its on_exit, but for the process' end: a run still alive is killed here. */
        for (unsigned i = 0; i < s->n_choices; i++) {
                s->choices[i].run = run_free(s->choices[i].run);
                s->choices[i].mcp_filter = mcp_filter_free(s->choices[i].mcp_filter);
                cli_outcome_done(&s->choices[i].outcome);
                json_decref(s->choices[i].tool_usage);
                json_decref(s->choices[i].pending_calls);
        }
        free(s->choices);
        s->control = cli_control_free(s->control);
        json_decref(s->followup_ids);
        json_decref(s->followup_results);
        release_slots(s, s->slots_held);
        if (s->translator)
                s->ops->stream_free(s->translator);
        api_request_done(&s->api);
        cli_input_done(&s->input);
        if (s->body)
                evbuffer_free(s->body);
        free(s->effort_header);
        free(s->default_model);
        free(s->default_effort);
        api_error_done(&s->parse_err);
        bool trim = s->large;
        free(s);
        if (trim)
                session_trim();
        return NULL;
}

static void session_maybe_free(Session *s) {
        if (!(s->replied || s->client_gone))
                return;
        if (s->parsing)
                return;         /* the worker still uses it; the parse's end frees it */
        if (runs_alive(s))
                return;
        Server *server = s->server;
        session_free(s);
        server_maybe_exit(server);
}

/*
 * An adopted pooled process has the request's model but nothing else of it: the rest of what the
 * argv would have said goes over the control channel, ahead of the conversation on the same
 * stdin, so the CLI applies it before it reads the user line (cli/README: pipelined = cold).
 */
static int session_send_config(Session *s, Run *run, json_t *requests) {
        json_t *req;
        size_t i;
        int r;

        json_array_foreach(requests, i, req) {
                json_auto_t *line = NULL;

                r = cli_control_send(s->control, json_incref(req), NULL, &line);
                if (r < 0)
                        return r;
                r = run_send_line(run, line);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int session_send_late_config(Session *s, Run *run) {
        json_auto_t *requests = NULL;
        int r;

        /* The registry servers first: their mcp_set_servers would drop sdk servers an initialize
         * declared before it (mcp-registry.c). */
        if (s->api.cli.mcp_config) {
                json_auto_t *more = NULL;

                r = mcp_registry_build_late_config(s->api.cli.mcp_config, s->api.cli.mcp_servers, &requests);
                if (r >= 0)
                        r = cli_control_build_late_config(&s->api.cli, &more);
                if (r >= 0 && json_array_extend(requests, more) < 0)
                        r = -ENOMEM;
        } else
                r = cli_control_build_late_config(&s->api.cli, &requests);
        if (r < 0)
                return r;
        return session_send_config(s, run, requests);
}

/* A cold run has everything but the client tools' server and the structured-output schema in
 * argv: those are declared the way a pooled run declares them, in the one initialize, before
 * the conversation. */
static int session_send_cold_initialize(Session *s, Run *run) {
        json_auto_t *init = NULL, *line = NULL;
        int r;

        r = cli_control_build_cold_initialize(&s->api.cli, &init);
        if (r < 0 || !init)
                return r;
        r = cli_control_send(s->control, TAKE_PTR(init), NULL, &line);
        if (r < 0)
                return r;
        return run_send_line(run, line);
}

/* Start the runs, one per choice (choice 0's may be adopted from the pool, already running);
 * timers first, so nothing can fail once a child exists. */
static int session_spawn(Session *s, RunStage *stage) {
        Server *server = s->server;
        const Config *c = server->config;
        int r;

        *stage = RUN_STAGE_SPAWN;
        s->ev_backpressure = evtimer_new(server->base, on_backpressure, s);
        if (!s->ev_backpressure)
                return -ENOMEM;
        if (s->api.stream && c->ping_interval_ms > 0) {
                s->ev_ping = evtimer_new(server->base, on_ping, s);
                if (!s->ev_ping)
                        return -ENOMEM;
        }

        RunSpawn sp = {
                .cli = &s->api.cli,
                .claude_path = server->claude_path,
                .log_id = s->request_id,
                .api = api_kind_to_string(s->ops->kind),
        };
        if (s->ev_ping)
                (void) event_add_ms(s->ev_ping, c->ping_interval_ms);
        /* The CLI's asks (the client tools' server, §16.1) are answered for cold runs too. */
        if (!s->control) {
                r = cli_control_new(&s->control);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < s->n_choices; i++) {
                Choice *ch = &s->choices[i];
                CliInput turns;

                if (!(i == 0 && (s->warm || s->parked_adopt))) {
                        r = run_start(&ch->run, &server->run_ctx, &sp, &session_run_callbacks, ch, stage);
                        if (r < 0)
                                return r;
                }
                if (i == 0) {
                        s->pid = run_pid(ch->run);
                        snprintf(s->unit, sizeof(s->unit), "%s", run_unit(ch->run));
                }
                /* The late config goes before the conversation, on the same stdin. */
                if (i == 0 && s->warm) {
                        r = session_send_late_config(s, ch->run);
                        if (r < 0)
                                return r;
                } else if (!(i == 0 && s->parked_adopt)) {
                        r = session_send_cold_initialize(s, ch->run);
                        if (r < 0)
                                return r;
                }
                /* An adopted parked run has the conversation; its calls were just answered. */
                if (i == 0 && s->parked_adopt) {
                        cli_input_done(&s->input);
                        continue;
                }
                /* The last choice takes the session's lines; the others get copies. */
                if (i + 1 < s->n_choices) {
                        r = cli_input_copy(&s->input, &turns);
                        if (r < 0)
                                return r;
                } else {
                        turns = s->input;
                        s->input = (CliInput) {};
                }
                r = run_send_turns(ch->run, &turns);
                cli_input_done(&turns);
                if (r < 0)
                        return r;
        }
        return 0;
}

/**
 * session_start() - run the session's CLI child now
 * @s: a session whose slot the scheduler just granted
 */
static void session_start(Session *s) {
        Server *server = s->server;
        ApiError err = {};
        RunStage stage;
        int r;

        s->state = SESSION_RUNNING;
        s->slots_held = s->n_choices;

        r = session_spawn(s, &stage);
        if (r < 0) {
                log_full_errno(LOG_ERR, r, "%s: cannot start the Claude CLI '%s': %m", s->request_id,
                               server->claude_path);
                if (stage == RUN_STAGE_CONTAIN) {
                        api_error_set(&err, r, 500, "api_error", "Could not contain the Claude CLI: %s", strerror(-r));
                        err.error_class = "scope";
                } else {
                        api_error_set(&err, r, 500, "api_error", "Could not start the Claude CLI: %s", strerror(-r));
                        err.error_class = "spawn";
                }
                reply_error(s, &err);
                s->error_class = err.error_class;
                api_error_done(&err);
                /* The slots of runs that never started go back now; each started run gives its
                 * own back at its on_exit, which also frees the session. */
                unsigned started = 0;
                for (unsigned i = 0; i < s->n_choices; i++)
                        if (s->choices[i].run)
                                started++;
                release_slots(s, s->n_choices - started);
                if (started > 0) {
                        session_kill(s, CLI_KILL_PROTOCOL);
                        return;
                }
                session_maybe_free(s);
        }
}

static void on_slot_granted(SchedTicket *t, void *userdata) {
        session_start(userdata);
}

/**
 * session_abort() - the proxy is shutting down
 * @s: the session
 * @reason: CLI_KILL_SHUTDOWN
 *
 * A queued session is answered 503 at once; a running one has its child killed, and its reply
 * says why.
 */
void session_abort(Session *s, CliKillReason reason) {
        ApiError err = {};

        if (s->state == SESSION_QUEUED) {
                scheduler_leave(&s->server->scheduler, &s->ticket);
                api_error_set(&err, -ESHUTDOWN, 503, "api_error", "The proxy is shutting down; retry shortly");
                reply_error(s, &err);
                session_maybe_free(s);
                return;
        }
        session_kill(s, reason);
}

/* What parking needs of the conversation, before its tree goes (a follow-up's calls and results). */
static int session_parse_park(Session *s) {
        size_t n = json_array_size(s->api.cli.messages);
        int r;

        if (!s->park_enabled || json_array_size(s->api.cli.tools) == 0)
                return 0;
        r = client_tools_digest(&s->api.cli, n, &s->digest_all);
        if (r < 0)
                return r;
        r = client_tools_followup(s->api.cli.messages, &s->followup_ids, &s->followup_results);
        if (r <= 0)
                return r;
        return client_tools_digest(&s->api.cli, n - 2, &s->digest_prefix);
}

/*
 * Body -> s->api and the serialized stdin lines; a client error fills @err (400). The body's
 * tree and the request's conversation tree are dropped before this returns: a queued request
 * holds text, not a tree of hundreds of bytes a block. Touches no libevent and no server state:
 * for a large body it runs on the worker.
 */
static int session_parse(Session *s, const char *buf, size_t len, ApiError *err) {
        json_auto_t *root = NULL;
        json_error_t jerr;
        int r;

        /* Measured before it is built: the tree costs ~110 bytes a value, so a body of tiny
         * values would otherwise cost 20x its size and seconds of parsing. */
        if (json_count_values(buf, len, s->max_body_values) > s->max_body_values)
                return api_error_set(err, -E2BIG, 413, "request_too_large",
                                     "Request body has more than %u JSON values (MAX_BODY_VALUES)",
                                     s->max_body_values), -E2BIG;

        /* "\u0000" is valid JSON and valid text: accepted, and carried by length from here on. */
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (!root)
                return api_error_set(err, -EBADMSG, 400, "invalid_request_error", "Invalid JSON in request body: %s",
                                     jerr.text), -EBADMSG;
        r = s->ops->parse(root, &s->env, &s->api, err);
        if (r < 0) {
                if (err->status == 0)
                        api_error_set(err, r, 400, "invalid_request_error", "Invalid request");
                return r;
        }
        /* The body's tree goes now; the request holds references to the blocks it needs. */
        json_decref(TAKE_PTR(root));
        r = session_parse_park(s);
        if (r < 0)
                return api_error_set(err, r, 500, "api_error", "Out of memory"), r;
        r = cli_request_serialize_input(&s->api.cli, &s->input);
        if (r < 0)
                return api_error_set(err, r, 500, "api_error", "Out of memory"), r;
        json_decref(s->api.cli.messages);
        s->api.cli.messages = NULL;
        return 0;
}

static void session_parse_work(void *userdata) {
        Session *s = userdata;
        size_t len = evbuffer_get_length(s->body);

        s->parse_r = session_parse(s, (const char *) evbuffer_pullup(s->body, -1), len, &s->parse_err);
        evbuffer_free(s->body);
        s->body = NULL;
        /* Here, not on the loop, and last: trimming the heap the body and its tree leave behind
         * takes a while, and the freed body is part of it. */
        session_trim();
}

static void session_parsed(Session *s, int r, ApiError *err);

static void session_parse_done(void *userdata) {
        Session *s = userdata;

        s->parsing = false;
        session_parsed(s, s->parse_r, &s->parse_err);
}

/*
 * A large body is parsed on a worker thread: the tree of a 10 MB body of small blocks takes
 * seconds to build on a loaded machine, and /health and every running stream would wait that
 * long. What the worker reads is the session's own: the body moved out of the request (the
 * client may leave meanwhile) and copies of the header and config strings (a reload may free
 * those).
 */
static int session_parse_offloaded(Session *s, struct evbuffer *body) {
        const Config *c = s->server->config;
        int r;

        if ((s->env.effort_header && !(s->effort_header = strdup(s->env.effort_header))) ||
            (c->default_model && !(s->default_model = strdup(c->default_model))) ||
            (c->default_effort && !(s->default_effort = strdup(c->default_effort))))
                return -ENOMEM;
        s->body = evbuffer_new();
        if (!s->body || evbuffer_add_buffer(s->body, body) < 0)
                return -ENOMEM;
        s->env.effort_header = s->effort_header;
        s->env.default_model = s->default_model;
        s->env.default_effort = s->default_effort;
        s->parsing = true;
        r = offload_run(s->server->base, session_parse_work, session_parse_done, s);
        if (r < 0) {
                /* The caller parses on the loop instead: give the body back. */
                s->parsing = false;
                (void) evbuffer_add_buffer(body, s->body);
        }
        return r;
}

/* Watch the client from here on: it may leave while the body is parsed or the CLI runs. */
static void session_watch_client(Session *s) {
        struct bufferevent *bev;
        evutil_socket_t fd;

        s->evcon = evhttp_request_get_connection(s->req);
        evhttp_connection_set_closecb(s->evcon, on_connection_close, s);
        bev = evhttp_connection_get_bufferevent(s->evcon);
        fd = bev ? bufferevent_getfd(bev) : -1;
        if (fd >= 0) {
                s->ev_conn_closed = event_new(s->server->base, fd, EV_CLOSED, on_socket_closed, s);
                if (s->ev_conn_closed)
                        (void) event_add(s->ev_conn_closed, NULL);
        }
}

/**
 * session_handle() - take over one API request
 * @server: the server
 * @req: the request (body complete, caller authenticated it)
 * @ops: the API surface
 * @request_id: the id for logs and the request-id header
 */
void session_handle(Server *server, struct evhttp_request *req, const ApiOps *ops, const char *request_id) {
        const Config *c = server->config;
        struct evbuffer *body = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(body);
        ApiError err = {};
        Session *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s) {
                log_oom();
                evhttp_send_error(req, 500, NULL);
                return;
        }
        s->server = server;
        s->req = req;
        s->ops = ops;
        s->start_usec = now_usec();
        snprintf(s->request_id, sizeof(s->request_id), "%s", request_id);
        random_id(s->message_id, sizeof(s->message_id), ops->id_prefix, RANDOM_ID_BASE62, 24);
        s->state = SESSION_NEW;
        s->park_enabled = c->tool_park_ms > 0;
        scheduler_join(&server->scheduler, &s->ticket, on_slot_granted, s);

        if (len > c->max_body_bytes) {
                api_error_set(&err, -E2BIG, 413, "request_too_large", "Request body too large (limit %" PRIu64 " bytes)",
                              c->max_body_bytes);
                goto fail;
        }
        if (len == 0) {
                api_error_set(&err, -EINVAL, 400, "invalid_request_error", "Request body is empty");
                goto fail;
        }
        s->max_body_values = c->max_body_values;

        s->env = (ApiEnv) {
                .message_id = s->message_id,
                .created = now_unix(),
                .default_model = c->default_model,
                .default_effort = c->default_effort,
                .effort_header = evhttp_find_header(evhttp_request_get_input_headers(req), "x-effort"),
                .enable_thinking = c->enable_thinking,
                .system_prompt_mode = c->system_prompt_mode,
        };
        session_watch_client(s);
        if (len >= SESSION_LARGE_BYTES) {
                s->large = true;
                if (offload_in_flight() < PARSE_OFFLOAD_MAX && session_parse_offloaded(s, body) >= 0)
                        return;
        }
        r = session_parse(s, (const char *) evbuffer_pullup(body, -1), len, &err);
        /* Parsed: free the body's buffer (twice its size after the pullup) now. */
        (void) evbuffer_drain(body, evbuffer_get_length(body));
        if (s->large)
                session_trim();
        session_parsed(s, r, &err);
        return;

fail:
        session_parsed(s, err.status ? -EINVAL : -ENOMEM, &err);
}

/*
 * The registry servers the request names (metadata.mcp_servers, x-mcp-servers) against the
 * registry in force now, on the loop: a reload may replace it while a body is parsed on a worker.
 * Each source is checked on its own first, so a 400 names the field that holds the bad name.
 */
static int session_select_mcp(Session *s, ApiError *err) {
        const McpRegistry *reg = s->server->config->mcp_registry;
        _cleanup_strv_free_ char **body = TAKE_PTR(s->api.mcp_servers), **header = NULL, **all = NULL;
        int r;

        r = mcp_names_from_header(evhttp_find_header(evhttp_request_get_input_headers(s->req), "x-mcp-servers"),
                                  &header);
        if (r >= 0)
                r = mcp_registry_select(reg, body, "metadata.mcp_servers", NULL, NULL, err);
        if (r >= 0)
                r = mcp_registry_select(reg, header, "x-mcp-servers", NULL, NULL, err);
        for (char **n = body; r >= 0 && n && *n; n++)
                r = strv_extend(&all, *n);
        for (char **n = header; r >= 0 && n && *n; n++)
                if (!strv_contains(all, *n))
                        r = strv_extend(&all, *n);
        if (r >= 0)
                r = mcp_registry_select(reg, all, "x-mcp-servers", &s->api.cli.mcp_config, &s->api.cli.mcp_servers,
                                        err);
        return r;
}

/* The second half of session_handle(): the body is parsed (or refused). */
static void session_parsed(Session *s, int r, ApiError *err) {
        Server *server = s->server;
        const Config *c = server->config;

        if (!s->req) {
                /* The client left while the body was parsed. */
                s->state = SESSION_RUNNING;     /* so it gets an access log line */
                api_error_done(err);
                session_maybe_free(s);
                return;
        }
        if (r < 0) {
                if (err->status == 0)
                        api_error_set(err, r, 500, "api_error", "Out of memory");
                if (err->status < 500)
                        err->error_class = err->error_class ?: "invalid_request";
                goto fail;
        }
        /* The header's storage belongs to the request; the parsed request has what it needs. */
        s->env.effort_header = NULL;
        /* Same for the config strings: a SIGHUP may free them while this request runs. */
        s->env.default_model = s->env.default_effort = NULL;
        s->api.kind = s->ops->kind;
        r = session_select_mcp(s, err);
        if (r < 0) {
                if (err->status == 0)
                        api_error_set(err, r, 500, "api_error", "Out of memory");
                err->error_class = err->status < 500 ? "invalid_request" : NULL;
                goto fail;
        }
        /* Parking: the servers a parked process was given are part of what a follow-up must match. */
        client_tools_digest_servers(&s->digest_all, s->api.cli.mcp_servers);
        client_tools_digest_servers(&s->digest_prefix, s->api.cli.mcp_servers);

        if (!server->claude_path) {
                api_error_set(err, -ENOENT, 503, "api_error", "%s", server->claude_problem ?: "The Claude CLI is not available");
                err->error_class = "cli_missing";
                /* Retrying cannot help until the operator installs it: the SDKs honour this. */
                (void) api_error_set_header(err, "x-should-retry", "false");
                goto fail;
        }
        if (server->stopping) {
                api_error_set(err, -ESHUTDOWN, 503, "api_error", "The proxy is shutting down; retry shortly");
                goto fail;
        }

        /* n choices are n CLI children at once, which must fit the slots. */
        unsigned n = MAX(s->api.n, 1u);
        if (n > c->max_concurrent) {
                api_error_set(err, -E2BIG, 400, "invalid_request_error",
                              "n: at most %u choices per request (MAX_CONCURRENT: each choice is one CLI run)",
                              c->max_concurrent);
                snprintf(err->param, sizeof(err->param), "n");
                err->error_class = "invalid_request";
                goto fail;
        }
        s->choices = calloc(n, sizeof(Choice));
        if (!s->choices) {
                api_error_set(err, -ENOMEM, 500, "api_error", "Out of memory");
                goto fail;
        }
        s->n_choices = n;
        for (unsigned i = 0; i < s->n_choices; i++) {
                s->choices[i] = (Choice) { .session = s, .index = i };
                if (s->api.cli.mcp_servers && mcp_filter_new(&s->choices[i].mcp_filter, s->api.cli.mcp_servers) < 0) {
                        api_error_set(err, -ENOMEM, 500, "api_error", "Out of memory");
                        goto fail;
                }
        }

        r = s->ops->stream_new(&s->translator, &s->api, &s->env);
        if (r < 0) {
                api_error_set(err, r, 500, "api_error", "Out of memory");
                goto fail;
        }

        s->ev_deadline = evtimer_new(server->base, on_deadline, s);
        if (s->ev_deadline && c->request_timeout_ms > 0)
                (void) event_add_ms(s->ev_deadline, c->request_timeout_ms);

        /* The warm pool first: a process of this model started in advance, with its slot. A request
         * for n > 1 choices runs them all cold: n slots are taken at once (FIFO), and one adopted
         * slot plus n - 1 queued ones would hold a slot while waiting. A request with registry
         * MCP servers gets them late (mcp_set_servers, see session_send_late_config()). */
        if (s->n_choices == 1 && s->followup_ids) {
                r = park_adopt(server->park, s->digest_prefix, s->followup_ids, s->followup_results,
                               &session_run_callbacks, &s->choices[0], &s->choices[0].run, &s->control);
                if (r > 0) {
                        s->parked_adopt = true;
                        session_start(s);
                        return;
                }
        }
        if (s->n_choices == 1) {
                r = pool_adopt(server->pool, s->api.cli.model, s->request_id, &session_run_callbacks,
                               &s->choices[0], &s->choices[0].run, &s->control);
                if (r > 0) {
                        s->warm = true;
                        session_start(s);
                        return;
                }
        }
        /* Too few slots free: idle pooled processes are the first thing given up (each reap frees one). */
        for (unsigned k = scheduler_shortfall(&server->scheduler, s->n_choices); k > 0; k--)
                if (!park_sacrifice(server->park) && !pool_sacrifice(server->pool))
                        break;
        r = scheduler_acquire(&server->scheduler, &s->ticket, s->n_choices);
        if (r > 0) {
                session_start(s);
                return;
        }
        if (r == -EBUSY) {
                char f1[160], *fields[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_LIMIT_HIT, f1, NULL };
                unsigned running = scheduler_children(&server->scheduler), queued = scheduler_queued(&server->scheduler);

                snprintf(f1, sizeof(f1), "CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
                log_full_errno_fields(LOG_NOTICE, 0, fields, "%s: %u CLI children running and %u queued, refusing",
                                      s->request_id, running, queued);
                api_error_set(err, -EBUSY, 529, "overloaded_error",
                              "The proxy is at capacity (%u requests running, %u queued); retry shortly", running,
                              queued);
                err->error_class = "queue_full";
                goto fail;
        }
        if (r < 0) {
                api_error_set(err, r, 503, "api_error", "The proxy cannot run this request now; retry shortly");
                goto fail;
        }
        s->state = SESSION_QUEUED;
        log_debug("%s: queued (%u waiting)", s->request_id, scheduler_queued(&server->scheduler));
        return;

fail:
        s->state = SESSION_RUNNING;     /* so it gets an access log line */
        s->error_class = err->error_class ?: "api";
        reply_error(s, err);
        api_error_done(err);
        session_maybe_free(s);
}
