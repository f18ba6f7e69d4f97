/* SPDX-License-Identifier: MIT */

/*
 * A session carries one API request from its parsed body to its last byte and its child's reap.
 *
 *   parse ─┬─ client error ─────────────────────────────────► error reply
 *          └─ slot free? ── yes ─► spawn ─► write stdin lines ─► read NDJSON ─► translate ─► reply
 *                         └─ no ─► queue (full: 529) ─► spawn when a slot frees
 *
 * The CLI child is a Run (run.c): its stdin sequencing, stdout lines, timers and reap live
 * there; this file only hears its events. Streaming replies hold back their HTTP headers until
 * the first message_start (or the first keep-alive), so a failure before any content still gets
 * a real HTTP status the SDKs turn into the right exception; after that, failures become an SSE
 * `error` event. Every end — result, crash, timeout, idle, client gone, shutdown — goes through
 * run_kill() and the run's reap (on_run_exit), so no child, pipe or timer outlives its session.
 * Keep-alive pings are re-armed at every write, so no silence on the wire exceeds
 * PING_INTERVAL_MS (plus the loop's latency).
 *
 * What this does not do: translate (api/), decide what an outcome means (api/outcome.c), frame
 * SSE (http/sse.c), run the child (run.c), or count slots (scheduler.c).
 */

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdio.h>

#include "api/outcome.h"
#include "cli/control.h"
#include "cli/request.h"
#include "cli/stream.h"
#include "http/reply.h"
#include "http/sse.h"
#include "pool.h"
#include "run.h"
#include "session.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/message-ids.h"
#include "util/random-id.h"

#define CLIENT_BACKLOG_MAX (4u << 20)

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

        char request_id[48];
        char message_id[48];
        const ApiOps *ops;
        ApiRequest api;
        ApiEnv env;
        void *translator;
        CliOutcome outcome;

        Run *run;                       /* the CLI child, NULL before the start or if it failed */
        CliControl *control;            /* an adopted pooled run's host requests (its late config) */
        bool warm;                      /* the run came from the warm pool */
        bool warm_answered;             /* ... and printed something: pool_kick() done */
        bool run_exited, slot_held;
        pid_t pid;                      /* for the access log */
        char unit[200];                 /* the scope or cgroup name, for the access log */
        struct event *ev_deadline, *ev_ping, *ev_backpressure;

        bool stream_started;            /* HTTP headers of the SSE reply sent */
        CliExit exit;

        uint64_t start_usec, ttfb_usec, last_write_usec;
        int http_status;
        const char *error_class;
};

static void session_maybe_free(Session *s);
static void session_kill(Session *s, CliKillReason reason);
static void session_finish_error(Session *s, int r, ApiError *err);

/* ---- helpers -------------------------------------------------------------------------------- */

static void event_freep_(struct event **e) {
        if (*e) {
                event_free(*e);
                *e = NULL;
        }
}

/* Headers every reply of this session carries. */
static void add_common_headers(Session *s) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(s->req);

        evhttp_add_header(h, "request-id", s->request_id);
        if (s->api.unsupported)
                evhttp_add_header(h, "x-proxy-unsupported", s->api.unsupported);
}

/* The reply is finished (or impossible): forget the connection, libevent owns it again. */
static void session_release_request(Session *s) {
        event_freep_(&s->ev_conn_closed);
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
        if (!s->run || s->run_exited || !s->ev_backpressure || evtimer_pending(s->ev_backpressure, NULL))
                return;
        if (client_backlog(s) <= CLIENT_BACKLOG_MAX)
                return;
        run_pause_reading(s->run);
        (void) event_add_ms(s->ev_backpressure, 20);
}

static void on_backpressure(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;

        if (client_backlog(s) > CLIENT_BACKLOG_MAX / 2) {
                (void) event_add_ms(s->ev_backpressure, 20);
                return;
        }
        if (s->run && !s->run_exited)
                run_resume_reading(s->run);
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
        if (!buf || sse_append_events(buf, events) < 0) {
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

static void session_finish_ok(Session *s, const json_t *result) {
        json_auto_t *out = json_array();
        int r;

        if (!s->req || !out)
                return;
        if (s->api.stream) {
                r = s->ops->finish(s->translator, result, out);
                if (r < 0) {
                        ApiError e = {};
                        api_error_set(&e, r, 500, "api_error", "failed to translate the CLI's answer");
                        session_finish_error(s, r, &e);
                        return;
                }
                stream_send(s, out);
                stream_end(s);
        } else {
                json_auto_t *msg = NULL;
                r = s->ops->message(s->translator, result, &msg);
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

static void session_conclude(Session *s) {
        ApiError err = {};
        CliExit exit = s->exit;
        int r;

        if (s->replied)
                return;
        exit.kill_reason = run_kill_reason(s->run);
        r = cli_outcome_classify(&s->outcome, &exit, run_stderr_tail(s->run), &err);
        if (r >= 0)
                session_finish_ok(s, s->outcome.result);
        else {
                char f1[80], *fields[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_CHILD_FAILED, f1, NULL };

                snprintf(f1, sizeof(f1), "CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
                /* The id marks a CLI that died without a result; API errors it reported are not. */
                log_full_errno_fields(LOG_NOTICE, 0, r == -ENOEXEC ? fields : NULL, "%s: CLI run failed: %s (%s)",
                                      s->request_id, err.message, err.error_class ?: "api");
                if (exit.kill_reason != CLI_KILL_DISCONNECT)
                        snprintf(s->server->last_error, sizeof(s->server->last_error), "%s: %.100s",
                                 err.error_class ?: "api", err.message);
                session_finish_error(s, r, &err);
        }
        api_error_done(&err);
}

/* ---- the run's events ---------------------------------------------------------------------- */

static void session_kill(Session *s, CliKillReason reason) {
        if (s->run)
                run_kill(s->run, reason);
}

/* A line of the live turn (the history's acknowledgements stay in run.c). */
static void on_run_event(Run *run, const CliEvent *ev, void *userdata) {
        Session *s = userdata;

        /* The adopted process has its answer coming: the pool may refill now without slowing
         * down its start (system lines come before the upstream call, so they do not count). */
        if (s->warm && !s->warm_answered &&
            (ev->type == CLI_EVENT_STREAM || ev->type == CLI_EVENT_ASSISTANT || ev->type == CLI_EVENT_RESULT)) {
                s->warm_answered = true;
                pool_kick(s->server->pool);
        }

        cli_outcome_feed(&s->outcome, ev);
        if (s->translator && !s->replied) {
                json_auto_t *out = json_array();
                int r = out ? s->ops->feed(s->translator, ev, out) : -ENOMEM;
                if (r < 0)
                        log_debug_errno(r, "%s: translator refused a %s line: %m", s->request_id,
                                        cli_event_type_to_string(ev->type));
                else if (s->api.stream && !s->replied) {
                        /* Hold headers back until the message has really started (see the top). */
                        if (s->stream_started || s->ops->started(s->translator))
                                stream_send(s, out);
                }
        }

        if (ev->type == CLI_EVENT_RESULT) {
                /* The final turn is over: EOF lets the CLI exit; the reap collects it. */
                run_finish(s->run);
                s->exit = (CliExit) { .exited = true, .code = 0 };
                session_conclude(s);
        }
}

/*
 * An adopted pooled run's control lines: the answers to its readiness probe and to the request's
 * late configuration. A setting the CLI refused must not be silently dropped (the request would
 * run with the CLI's default instead of what it asked for): the request fails. The CLI's own
 * asks take the path they take for a cold run.
 */
static void on_run_control(Run *run, const CliEvent *ev, void *userdata) {
        Session *s = userdata;
        CliControlIn in = {};

        if (!s->control || cli_control_receive(s->control, ev, &in) < 0 ||
            !(in.type == CLI_CONTROL_IN_RESPONSE || in.type == CLI_CONTROL_IN_STRAY_RESPONSE)) {
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
        Session *s = userdata;
        ApiError err = {};

        api_error_set(&err, r, 500, "api_error", "Could not contain the Claude CLI in its scope");
        err.error_class = "scope";
        s->error_class = "scope";
        reply_error(s, &err);
}

static void fail_with_timeout(Session *s, CliKillReason reason);

static void on_run_idle(Run *run, void *userdata) {
        Session *s = userdata;

        if (s->replied)
                return;
        log_notice("%s: the CLI was silent too long", s->request_id);
        fail_with_timeout(s, CLI_KILL_IDLE);
}

/* The child was reaped, everything it printed handled: decide, give the slot back, maybe free. */
static void on_run_exit(Run *run, const CliExit *exit, void *userdata) {
        Session *s = userdata;

        if (s->warm && !s->warm_answered) {
                s->warm_answered = true;
                pool_kick(s->server->pool);
        }

        s->run_exited = true;
        /* The real status, for a run that ended without a result. */
        if (exit)
                s->exit = *exit;
        session_conclude(s);
        if (s->slot_held) {
                s->slot_held = false;
                scheduler_release(&s->server->scheduler, 1);
        }
        session_maybe_free(s);
}

static const RunCallbacks session_run_callbacks = {
        .on_event = on_run_event,
        .on_failed = on_run_failed,
        .on_idle = on_run_idle,
        .on_exit = on_run_exit,
};

/* A run adopted from the warm pool: control answers checked (on_run_control). */
static const RunCallbacks session_warm_run_callbacks = {
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
        if (s->outcome.result) {
                const json_t *u = json_object_get(s->outcome.result, "usage");
                FIELD("CLAUDE_PROXY_INPUT_TOKENS=%" JSON_INTEGER_FORMAT,
                      json_integer_value(json_object_get(u, "input_tokens")));
                FIELD("CLAUDE_PROXY_OUTPUT_TOKENS=%" JSON_INTEGER_FORMAT,
                      json_integer_value(json_object_get(u, "output_tokens")));
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

        const json_t *usage = s->outcome.result ? json_object_get(s->outcome.result, "usage") : NULL;
        json_int_t in = json_integer_value(json_object_get(usage, "input_tokens")),
                   out = json_integer_value(json_object_get(usage, "output_tokens"));
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
        metrics_observe_rate_limit(&s->server->metrics, s->outcome.rate_limit_info);
        if (s->http_status == 429) {
                const json_t *rl = s->outcome.rate_limit_info;
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
        event_freep_(&s->ev_conn_closed);
        if (s->evcon)
                evhttp_connection_set_closecb(s->evcon, NULL, NULL);
        event_freep_(&s->ev_deadline);
        event_freep_(&s->ev_ping);
        event_freep_(&s->ev_backpressure);
        /* Only after its on_exit, but for the process' end: a run still alive is killed here. */
        s->run = run_free(s->run);
        s->control = cli_control_free(s->control);
        if (s->slot_held) {
                s->slot_held = false;
                scheduler_release(&s->server->scheduler, 1);
        }
        if (s->translator)
                s->ops->stream_free(s->translator);
        cli_outcome_done(&s->outcome);
        api_request_done(&s->api);
        free(s);
        return NULL;
}

static void session_maybe_free(Session *s) {
        if (!(s->replied || s->client_gone))
                return;
        if (s->run && !s->run_exited)
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
static int session_send_late_config(Session *s) {
        json_auto_t *requests = NULL;
        json_t *req;
        size_t i;
        int r;

        r = cli_control_build_late_config(&s->api.cli, &requests);
        if (r < 0)
                return r;
        json_array_foreach(requests, i, req) {
                json_auto_t *line = NULL;

                r = cli_control_send(s->control, json_incref(req), NULL, &line);
                if (r < 0)
                        return r;
                r = run_send_line(s->run, line);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Start the run (or take the adopted one); timers first, so nothing can fail once a child exists. */
static int session_spawn(Session *s, RunStage *stage) {
        Server *server = s->server;
        const Config *c = server->config;
        json_auto_t *lines = NULL;
        int r;

        *stage = RUN_STAGE_SPAWN;
        r = cli_request_build_input(&s->api.cli, &lines);
        if (r < 0)
                return r;
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
        if (!s->warm) {
                r = run_start(&s->run, &server->run_ctx, &sp, &session_run_callbacks, s, stage);
                if (r < 0)
                        return r;
        }
        s->pid = run_pid(s->run);
        snprintf(s->unit, sizeof(s->unit), "%s", run_unit(s->run));
        if (s->warm) {
                r = session_send_late_config(s);
                if (r < 0)
                        return r;
        }
        if (s->ev_ping)
                (void) event_add_ms(s->ev_ping, c->ping_interval_ms);
        return run_send_turns(s->run, lines);
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
        s->slot_held = true;

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
                if (s->run) {
                        /* The run exists, so its on_exit is certain: that frees the session. */
                        session_kill(s, CLI_KILL_PROTOCOL);
                        return;
                }
                /* run_start() failed and left nothing running: the slot and the session go now. */
                if (s->slot_held) {
                        s->slot_held = false;
                        scheduler_release(&server->scheduler, 1);
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
        json_auto_t *root = NULL;
        ApiError err = {};
        json_error_t jerr;
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
        scheduler_join(&server->scheduler, &s->ticket, on_slot_granted, s);

        if (len > c->max_body_bytes) {
                api_error_set(&err, -E2BIG, 413, "request_too_large", "Request body too large (limit %" PRIu64 " bytes)",
                              c->max_body_bytes);
                goto client_error;
        }
        if (len == 0) {
                api_error_set(&err, -EINVAL, 400, "invalid_request_error", "Request body is empty");
                goto client_error;
        }
        root = json_loadb((const char *) evbuffer_pullup(body, -1), len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                api_error_set(&err, -EBADMSG, 400, "invalid_request_error", "Invalid JSON in request body: %s",
                              jerr.text);
                goto client_error;
        }

        s->env = (ApiEnv) {
                .message_id = s->message_id,
                .created = now_unix(),
                .default_model = c->default_model,
                .default_effort = c->default_effort,
                .effort_header = evhttp_find_header(evhttp_request_get_input_headers(req), "x-effort"),
                .enable_thinking = c->enable_thinking,
                .system_prompt_mode = c->system_prompt_mode,
        };
        r = ops->parse(root, &s->env, &s->api, &err);
        if (r < 0) {
                if (err.status == 0)
                        api_error_set(&err, r, 400, "invalid_request_error", "Invalid request");
                goto client_error;
        }
        /* The header's storage belongs to the request; the parsed request has what it needs. */
        s->env.effort_header = NULL;
        /* Same for the config strings: a SIGHUP may free them while this request runs. */
        s->env.default_model = s->env.default_effort = NULL;
        s->api.kind = ops->kind;

        if (!server->claude_path) {
                api_error_set(&err, -ENOENT, 503, "api_error", "%s", server->claude_problem ?: "The Claude CLI is not available");
                err.error_class = "cli_missing";
                goto server_error;
        }
        if (server->stopping) {
                api_error_set(&err, -ESHUTDOWN, 503, "api_error", "The proxy is shutting down; retry shortly");
                goto server_error;
        }

        r = ops->stream_new(&s->translator, &s->api, &s->env);
        if (r < 0) {
                api_error_set(&err, r, 500, "api_error", "Out of memory");
                goto server_error;
        }

        s->evcon = evhttp_request_get_connection(req);
        evhttp_connection_set_closecb(s->evcon, on_connection_close, s);
        {
                struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
                evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
                if (fd >= 0) {
                        s->ev_conn_closed = event_new(server->base, fd, EV_CLOSED, on_socket_closed, s);
                        if (s->ev_conn_closed)
                                (void) event_add(s->ev_conn_closed, NULL);
                }
        }
        s->ev_deadline = evtimer_new(server->base, on_deadline, s);
        if (s->ev_deadline && c->request_timeout_ms > 0)
                (void) event_add_ms(s->ev_deadline, c->request_timeout_ms);

        /* The warm pool first: a process of this model started in advance, with its slot. */
        r = pool_adopt(server->pool, s->api.cli.model, s->request_id, &session_warm_run_callbacks, s, &s->run,
                       &s->control);
        if (r > 0) {
                s->warm = true;
                session_start(s);
                return;
        }
        /* No slot free: an idle pooled process is the first thing given up (its reap frees one). */
        if (scheduler_full(&server->scheduler))
                (void) pool_sacrifice(server->pool);
        r = scheduler_acquire(&server->scheduler, &s->ticket, 1);
        if (r > 0) {
                session_start(s);
                return;
        }
        if (r == -EBUSY) {
                char f1[80], *fields[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_LIMIT_HIT, f1, NULL };
                unsigned running = scheduler_children(&server->scheduler), queued = scheduler_queued(&server->scheduler);

                snprintf(f1, sizeof(f1), "CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
                log_full_errno_fields(LOG_NOTICE, 0, fields, "%s: %u CLI children running and %u queued, refusing",
                                      s->request_id, running, queued);
                api_error_set(&err, -EBUSY, 529, "overloaded_error",
                              "The proxy is at capacity (%u requests running, %u queued); retry shortly", running,
                              queued);
                err.error_class = "queue_full";
                goto server_error;
        }
        if (r < 0) {
                api_error_set(&err, r, 503, "api_error", "The proxy cannot run this request now; retry shortly");
                goto server_error;
        }
        s->state = SESSION_QUEUED;
        log_debug("%s: queued (%u waiting)", s->request_id, scheduler_queued(&server->scheduler));
        return;

client_error:
        err.error_class = err.error_class ?: "invalid_request";
server_error:
        s->state = SESSION_RUNNING;     /* so it gets an access log line */
        s->error_class = err.error_class ?: "api";
        reply_error(s, &err);
        api_error_done(&err);
        session_maybe_free(s);
}
