/* SPDX-License-Identifier: MIT */

/*
 * A session carries one API request from its parsed body to its last byte and its child's reap.
 *
 *   parse ─┬─ client error ─────────────────────────────────► error reply
 *          └─ slot free? ── yes ─► spawn ─► write stdin lines ─► read NDJSON ─► translate ─► reply
 *                         └─ no ─► queue (full: 529) ─► spawn when a slot frees
 *
 * The child's stdin is written line by line: each history user line waits for its `result` (the
 * CLI's sequencing rule, cli/README §10), and stdin stays open until the final `result`, so the
 * control channel can use it later. Streaming replies hold back their HTTP headers until the
 * first message_start (or the first keep-alive), so a failure before any content still gets a
 * real HTTP status the SDKs turn into the right exception; after that, failures become an SSE
 * `error` event. Every end — result, crash, timeout, idle, client gone, shutdown — goes through
 * session_kill() and the pidfd reap, so no child, pipe or timer outlives its session.
 *
 * What this does not do: translate (api/), decide what an outcome means (cli/outcome.c), frame
 * SSE (http/sse.c), or fork (cli/spawn.c).
 */

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>

#include "cli/outcome.h"
#include "cli/request.h"
#include "cli/spawn.h"
#include "cli/stream.h"
#include "http/reply.h"
#include "http/sse.h"
#include "session.h"
#include "systemd/container.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/message-ids.h"
#include "util/random-id.h"

#define STDERR_TAIL_MAX 4096
#define CLIENT_BACKLOG_MAX (4u << 20)

typedef enum SessionState {
        SESSION_NEW,
        SESSION_QUEUED,
        SESSION_RUNNING,
} SessionState;

struct Session {
        Server *server;
        Session *prev, *next;
        SessionList *list;
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
        CliOutcome outcome;

        CliChild child;
        bool spawned, slot_held;
        ContainerSlot *container;       /* the child's scope/cgroup, until after the reap */
        bool placing;                   /* gated child waits for its scope; do not reap it yet */
        char unit[200];                 /* the scope or cgroup name, for the access log */
        struct event *ev_stdout, *ev_stderr, *ev_stdin, *ev_pidfd;
        struct event *ev_deadline, *ev_idle, *ev_kill, *ev_ping, *ev_backpressure;
        struct evbuffer *stdout_buf, *stdin_buf;
        char stderr_tail[STDERR_TAIL_MAX + 1];
        size_t stderr_len;
        int system_prompt_fd;

        json_t *input_lines;
        size_t input_next;
        bool awaiting_result, input_done, stdin_closed;

        bool stream_started;            /* HTTP headers of the SSE reply sent */
        CliKillReason kill_reason;
        bool term_sent;
        CliExit exit;

        uint64_t start_usec, ttfb_usec, last_write_usec;
        int http_status;
        const char *error_class;
};

static void session_maybe_free(Session *s);
static void session_kill(Session *s, CliKillReason reason);
static void session_finish_error(Session *s, int r, ApiError *err);

/* ---- lists ---------------------------------------------------------------------------------- */

void session_list_append(SessionList *l, Session *s) {
        assert(!s->list);
        s->prev = l->tail;
        s->next = NULL;
        if (l->tail)
                l->tail->next = s;
        else
                l->head = s;
        l->tail = s;
        l->n++;
        s->list = l;
}

void session_list_remove(SessionList *l, Session *s) {
        if (s->list != l)
                return;
        if (s->prev)
                s->prev->next = s->next;
        else
                l->head = s->next;
        if (s->next)
                s->next->prev = s->prev;
        else
                l->tail = s->prev;
        l->n--;
        s->prev = s->next = NULL;
        s->list = NULL;
}

Session *session_next(Session *s) {
        return s->next;
}

struct evhttp_request *session_request(Session *s) {
        return s->req;
}

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

static void note_first_byte(Session *s) {
        if (s->ttfb_usec == 0)
                s->ttfb_usec = now_usec() - s->start_usec;
        s->last_write_usec = now_usec();
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
        exit.kill_reason = s->kill_reason;
        r = cli_outcome_classify(&s->outcome, &exit, s->stderr_len ? s->stderr_tail : NULL, &err);
        if (r >= 0)
                session_finish_ok(s, s->outcome.result);
        else {
                char f1[160], *fields[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_CHILD_FAILED, f1, NULL };

                snprintf(f1, sizeof(f1), "CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
                /* The id marks a CLI that died without a result; API errors it reported are not. */
                log_full_errno_fields(LOG_NOTICE, 0, r == -ENOEXEC ? fields : NULL, "%s: CLI run failed: %s (%s)",
                                      s->request_id, err.message, err.error_class ?: "api");
                if (s->kill_reason != CLI_KILL_DISCONNECT)
                        snprintf(s->server->last_error, sizeof(s->server->last_error), "%s: %.100s",
                                 err.error_class ?: "api", err.message);
                session_finish_error(s, r, &err);
        }
        api_error_done(&err);
}

/* ---- stdin ---------------------------------------------------------------------------------- */

static void stdin_close(Session *s) {
        event_freep_(&s->ev_stdin);
        s->child.stdin_fd = safe_close(s->child.stdin_fd);
        s->stdin_closed = true;
}

static void stdin_flush(Session *s) {
        if (s->child.stdin_fd < 0)
                return;
        while (evbuffer_get_length(s->stdin_buf) > 0) {
                int n = evbuffer_write(s->stdin_buf, s->child.stdin_fd);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        /* EPIPE: the child is gone; its reap decides what happened. */
                        evbuffer_drain(s->stdin_buf, evbuffer_get_length(s->stdin_buf));
                        stdin_close(s);
                        return;
                }
        }
        if (evbuffer_get_length(s->stdin_buf) > 0)
                (void) event_add(s->ev_stdin, NULL);
        else if (s->stdin_closed)
                stdin_close(s);
}

static void stdin_write_more(Session *s) {
        size_t n = json_array_size(s->input_lines);

        while (!s->awaiting_result && s->input_next < n) {
                const json_t *line = json_array_get(s->input_lines, s->input_next++);
                if (json_append_to_evbuffer(s->stdin_buf, line) < 0 || evbuffer_add(s->stdin_buf, "\n", 1) < 0) {
                        log_oom();
                        session_kill(s, CLI_KILL_PROTOCOL);
                        return;
                }
                if (cli_input_line_awaits_result(line))
                        s->awaiting_result = true;
        }
        if (s->input_next >= n && !s->awaiting_result)
                s->input_done = true;
        stdin_flush(s);
}

static void on_stdin_writable(evutil_socket_t fd, short what, void *userdata) {
        stdin_flush(userdata);
}

/* ---- stdout --------------------------------------------------------------------------------- */

static void handle_event(Session *s, const CliEvent *ev) {
        if (!s->input_done) {
                /* History phase: only the acknowledgements of shouldQuery:false lines come here. */
                if (ev->type == CLI_EVENT_RESULT && s->awaiting_result) {
                        s->awaiting_result = false;
                        stdin_write_more(s);
                }
                return;
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
                if (evbuffer_get_length(s->stdin_buf) == 0)
                        stdin_close(s);
                else
                        s->stdin_closed = true;
                s->exit = (CliExit) { .exited = true, .code = 0 };
                session_conclude(s);
                if (s->ev_kill && !s->child.reaped)
                        (void) event_add_ms(s->ev_kill, s->server->config->kill_grace_ms + 5000);
        }
}

static void process_lines(Session *s, bool at_eof) {
        for (;;) {
                size_t len = 0;
                struct evbuffer_ptr p = evbuffer_search_eol(s->stdout_buf, NULL, &len, EVBUFFER_EOL_LF);
                size_t avail = evbuffer_get_length(s->stdout_buf);
                size_t n;

                if (p.pos < 0) {
                        if (avail > CLI_LINE_MAX) {
                                log_warning("%s: the CLI printed a line over %u bytes, ending the run",
                                            s->request_id, CLI_LINE_MAX);
                                evbuffer_drain(s->stdout_buf, avail);
                                session_kill(s, CLI_KILL_PROTOCOL);
                                return;
                        }
                        if (!at_eof || avail == 0)
                                return;
                        n = avail;      /* a last line without newline */
                } else
                        n = (size_t) p.pos;

                if (n > CLI_LINE_MAX) {
                        evbuffer_drain(s->stdout_buf, n + len);
                        session_kill(s, CLI_KILL_PROTOCOL);
                        return;
                }
                const char *line = (const char *) evbuffer_pullup(s->stdout_buf, (ev_ssize_t) n);
                CliEvent ev = {};
                int r = cli_event_parse(line ?: "", n, &ev);
                evbuffer_drain(s->stdout_buf, n + (p.pos < 0 ? 0 : len));
                if (r < 0)
                        log_debug_errno(r, "%s: ignoring an unreadable CLI line: %m", s->request_id);
                else {
                        handle_event(s, &ev);
                        cli_event_done(&ev);
                }
                if (s->kill_reason == CLI_KILL_PROTOCOL)
                        return;
        }
}

/* Read what is there. Return true at EOF. */
static bool stdout_read(Session *s) {
        for (;;) {
                int n = evbuffer_read(s->stdout_buf, s->child.stdout_fd, 65536);
                if (n > 0) {
                        if (evbuffer_get_length(s->stdout_buf) > (size_t) CLI_LINE_MAX + 65536)
                                break;
                        continue;
                }
                if (n == 0)
                        return true;
                return !(errno == EAGAIN || errno == EINTR);
        }
        return false;
}

/* Bytes written to the client that it has not read yet. */
static size_t client_backlog(Session *s) {
        struct bufferevent *bev = s->evcon ? evhttp_connection_get_bufferevent(s->evcon) : NULL;

        return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void on_backpressure(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;

        if (client_backlog(s) > CLIENT_BACKLOG_MAX / 2) {
                (void) event_add_ms(s->ev_backpressure, 20);
                return;
        }
        if (s->ev_stdout)
                (void) event_add(s->ev_stdout, NULL);
}

static void on_stdout(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;

        /* A slow reader: stop reading the CLI until the client catches up. The pipe then fills and
         * the CLI waits, instead of the proxy buffering without bound. */
        if (client_backlog(s) > CLIENT_BACKLOG_MAX && s->ev_backpressure) {
                (void) event_del(s->ev_stdout);
                (void) event_add_ms(s->ev_backpressure, 20);
                return;
        }

        bool eof = stdout_read(s);

        if (s->ev_idle && s->server->config->idle_timeout_ms > 0)
                (void) event_add_ms(s->ev_idle, s->server->config->idle_timeout_ms);
        process_lines(s, eof);
        if (eof)
                event_freep_(&s->ev_stdout);
}

static void on_stderr(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;
        char buf[4096];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0) {
                        if (n == 0 || !(errno == EAGAIN || errno == EINTR))
                                event_freep_(&s->ev_stderr);
                        return;
                }
                /* Keep the tail: the last lines say why a CLI gave up. */
                if ((size_t) n >= STDERR_TAIL_MAX) {
                        memcpy(s->stderr_tail, buf + n - STDERR_TAIL_MAX, STDERR_TAIL_MAX);
                        s->stderr_len = STDERR_TAIL_MAX;
                } else {
                        size_t keep = MIN(s->stderr_len, STDERR_TAIL_MAX - (size_t) n);
                        memmove(s->stderr_tail, s->stderr_tail + s->stderr_len - keep, keep);
                        memcpy(s->stderr_tail + keep, buf, (size_t) n);
                        s->stderr_len = keep + (size_t) n;
                }
                s->stderr_tail[s->stderr_len] = 0;
        }
}

/* ---- the child's end ------------------------------------------------------------------------ */

static void on_child_exit(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;
        CliExit e = {};
        int r;

        /* A gated child that died while its scope is being created stays a zombie until the
         * job is done, so its pid cannot be reused under the pending StartTransientUnit. */
        if (s->placing) {
                event_del(s->ev_pidfd);
                return;
        }
        r = cli_child_try_reap(&s->child, &e);
        if (r == 0)
                return;
        /* Reaped: a setsid()ed grandchild may still hold the scope/cgroup; this ends it. */
        if (r > 0)
                s->container = container_slot_free(s->container);
        if (r < 0)
                log_warning_errno(r, "%s: waitid failed: %m", s->request_id);
        event_freep_(&s->ev_pidfd);

        /* Whatever the CLI printed before it died is in the pipes: take it before deciding. */
        if (s->ev_stdout) {
                (void) stdout_read(s);
                process_lines(s, true);
                event_freep_(&s->ev_stdout);
        }
        if (s->ev_stderr)
                on_stderr(s->child.stderr_fd, EV_READ, s);
        /* The real status, for the log and for a run that ended without a result. */
        if (r > 0)
                s->exit = e;

        log_full_errno(s->exit.exited && s->exit.code == 0 ? LOG_DEBUG : LOG_INFO, 0,
                       "%s: CLI pid %d ended (%s %d)", s->request_id, (int) s->child.pid,
                       s->exit.exited ? "exit" : "signal", s->exit.exited ? s->exit.code : s->exit.signal);

        session_conclude(s);

        if (s->slot_held) {
                s->slot_held = false;
                s->server->children--;
        }
        event_freep_(&s->ev_kill);
        server_kick_queue(s->server);
        session_maybe_free(s);
}

static void on_kill_timer(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;

        if (!s->term_sent) {
                /* The run is over but the CLI lingers (or never saw EOF): end it. */
                session_kill(s, s->kill_reason ?: CLI_KILL_PROTOCOL);
                return;
        }
        log_notice("%s: CLI pid %d ignored SIGTERM for %" PRIu64 " ms, sending SIGKILL", s->request_id,
                   (int) s->child.pid, s->server->config->kill_grace_ms);
        (void) cli_child_signal(&s->child, SIGKILL);
        container_kill(s->container, SIGKILL);
}

/**
 * session_kill() - end the child's whole process group: SIGTERM now, SIGKILL after the grace
 * @s: the session
 * @reason: why; kept (the first reason wins) for the outcome and the log
 */
static void session_kill(Session *s, CliKillReason reason) {
        if (s->kill_reason == CLI_KILL_NONE)
                s->kill_reason = reason;
        if (!s->spawned || s->child.reaped || s->term_sent)
                return;
        s->term_sent = true;
        /* A gated child has not exec'd yet: closing the gate makes it exit by itself. */
        s->child.gate_fd = safe_close(s->child.gate_fd);
        (void) cli_child_signal(&s->child, SIGTERM);
        /* The scope/cgroup also holds what left the process group (setsid). */
        container_kill(s->container, SIGTERM);
        if (s->ev_kill)
                (void) event_add_ms(s->ev_kill, s->server->config->kill_grace_ms);
}

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

static void on_idle(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;

        if (s->replied)
                return;
        log_notice("%s: the CLI was silent too long", s->request_id);
        fail_with_timeout(s, CLI_KILL_IDLE);
}

static void on_ping(evutil_socket_t fd, short what, void *userdata) {
        Session *s = userdata;
        uint64_t interval = s->server->config->ping_interval_ms * 1000;

        if (!s->req || s->replied)
                return;
        if (now_usec() - s->last_write_usec < interval)
                return;
        if (s->ops->started(s->translator)) {
                json_auto_t *out = json_array();
                if (out && s->ops->ping(s->translator, out) >= 0)
                        stream_send(s, out);
                return;
        }
        /* No message yet: a comment keeps the connection warm without breaking the SDK's event order. */
        struct evbuffer *buf = evbuffer_new();
        if (!buf)
                return;
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
                session_list_remove(&s->server->queued, s);
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
        FIELD("CLAUDE_PROXY_CHILD_PID=%d", (int) s->child.pid);
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
        if (s->list)
                session_list_remove(s->list, s);
        if (s->state != SESSION_NEW)
                access_log(s);
        event_freep_(&s->ev_conn_closed);
        if (s->evcon)
                evhttp_connection_set_closecb(s->evcon, NULL, NULL);
        event_freep_(&s->ev_stdout);
        event_freep_(&s->ev_stderr);
        event_freep_(&s->ev_stdin);
        event_freep_(&s->ev_pidfd);
        event_freep_(&s->ev_deadline);
        event_freep_(&s->ev_idle);
        event_freep_(&s->ev_kill);
        event_freep_(&s->ev_ping);
        event_freep_(&s->ev_backpressure);
        s->container = container_slot_free(s->container);
        if (s->slot_held) {
                s->server->children--;
                s->slot_held = false;
        }
        cli_child_done(&s->child);
        if (s->stdout_buf)
                evbuffer_free(s->stdout_buf);
        if (s->stdin_buf)
                evbuffer_free(s->stdin_buf);
        s->system_prompt_fd = safe_close(s->system_prompt_fd);
        json_decref(s->input_lines);
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
        if (s->spawned && !s->child.reaped)
                return;
        Server *server = s->server;
        session_free(s);
        server_maybe_exit(server);
}

/* The scope's start job finished (or failed): let the child exec, or end it. */
static void on_placed(ContainerSlot *slot, int r, void *userdata) {
        Session *s = userdata;

        s->placing = false;
        if (r < 0) {
                ApiError err = {};
                api_error_set(&err, r, 500, "api_error", "Could not contain the Claude CLI in its scope");
                err.error_class = "scope";
                s->error_class = "scope";
                reply_error(s, &err);
                session_kill(s, CLI_KILL_PROTOCOL);
        } else if (!s->term_sent)
                (void) cli_child_release(&s->child);
        /* on_child_exit may have parked the pidfd while we waited. */
        if (s->ev_pidfd)
                (void) event_add(s->ev_pidfd, NULL);
}

/* A memfd holding the system prompt, passed as fd 3: nothing large or secret goes into argv. */
static int system_prompt_memfd(const char *text) {
        _cleanup_close_ int fd = memfd_create("claude-proxy-system-prompt", MFD_CLOEXEC);
        size_t n = strlen(text), off = 0;

        if (fd < 0)
                return negative_errno();
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

static int session_spawn(Session *s) {
        const Config *c = s->server->config;
        _cleanup_strv_free_ char **argv = NULL;
        const char *prompt_path = NULL;
        int r;

        if (s->api.cli.system_prompt && s->api.cli.system_prompt_mode != SYSTEM_PROMPT_USER) {
                r = system_prompt_memfd(s->api.cli.system_prompt);
                if (r < 0)
                        return r;
                s->system_prompt_fd = r;
                prompt_path = "/dev/fd/3";
        }
        r = cli_request_build_argv(&s->api.cli, s->server->claude_path, prompt_path, &argv);
        if (r < 0)
                return r;
        r = cli_request_build_input(&s->api.cli, &s->input_lines);
        if (r < 0)
                return r;

        CliSpawnOptions o = {
                .argv = argv,
                .envp = s->server->child_envp,
                .cwd = s->server->work_dir,
                .pass_fd = s->system_prompt_fd,
                /* Scope and cgroup modes hold the child before exec until it is inside. */
                .gated = container_needs_gate(s->server->container),
        };
        r = cli_spawn(&o, &s->child);
        if (r < 0)
                return r;
        s->spawned = true;
        s->system_prompt_fd = safe_close(s->system_prompt_fd);

        ScopeInfo info = { .request_id = s->request_id, .api = api_kind_to_string(s->ops->kind),
                           .model = s->api.cli.model, .pid = s->child.pid };
        r = container_place(s->server->container, &info, on_placed, s, &s->container);
        if (r < 0) {
                ApiError err = {};
                api_error_set(&err, r, 500, "api_error", "Could not contain the Claude CLI: %s", strerror(-r));
                err.error_class = "scope";
                s->error_class = "scope";
                reply_error(s, &err);
                return r;
        }
        snprintf(s->unit, sizeof(s->unit), "%s", container_slot_unit(s->container) ?: "");
        if (r > 0)
                (void) cli_child_release(&s->child);
        else
                s->placing = true;

        struct event_base *base = s->server->base;
        s->ev_stdout = event_new(base, s->child.stdout_fd, EV_READ | EV_PERSIST, on_stdout, s);
        s->ev_stderr = event_new(base, s->child.stderr_fd, EV_READ | EV_PERSIST, on_stderr, s);
        s->ev_stdin = event_new(base, s->child.stdin_fd, EV_WRITE, on_stdin_writable, s);
        s->ev_pidfd = event_new(base, s->child.pidfd, EV_READ | EV_PERSIST, on_child_exit, s);
        s->ev_kill = evtimer_new(base, on_kill_timer, s);
        s->ev_idle = evtimer_new(base, on_idle, s);
        s->ev_backpressure = evtimer_new(base, on_backpressure, s);
        s->stdout_buf = evbuffer_new();
        s->stdin_buf = evbuffer_new();
        if (!s->ev_stdout || !s->ev_stderr || !s->ev_stdin || !s->ev_pidfd || !s->ev_kill || !s->ev_idle || !s->ev_backpressure ||
            !s->stdout_buf || !s->stdin_buf)
                return -ENOMEM;
        (void) event_add(s->ev_stdout, NULL);
        (void) event_add(s->ev_stderr, NULL);
        (void) event_add(s->ev_pidfd, NULL);
        if (c->idle_timeout_ms > 0)
                (void) event_add_ms(s->ev_idle, c->idle_timeout_ms);
        if (s->api.stream && c->ping_interval_ms > 0) {
                s->ev_ping = event_new(base, -1, EV_PERSIST, on_ping, s);
                if (!s->ev_ping)
                        return -ENOMEM;
                (void) event_add_ms(s->ev_ping, c->ping_interval_ms);
        }
        log_debug("%s: started CLI pid %d", s->request_id, (int) s->child.pid);
        stdin_write_more(s);
        return 0;
}

/**
 * session_start() - run the session's CLI child now
 * @s: a session that holds no slot yet
 */
void session_start(Session *s) {
        Server *server = s->server;
        ApiError err = {};
        int r;

        if (s->list)
                session_list_remove(s->list, s);
        session_list_append(&server->active, s);
        s->state = SESSION_RUNNING;
        s->slot_held = true;
        server->children++;

        r = session_spawn(s);
        if (r < 0) {
                log_full_errno(LOG_ERR, r, "%s: cannot start the Claude CLI '%s': %m", s->request_id,
                               server->claude_path);
                api_error_set(&err, r, 500, "api_error", "Could not start the Claude CLI: %s", strerror(-r));
                err.error_class = "spawn";
                reply_error(s, &err);
                s->error_class = s->error_class ?: "spawn";
                session_kill(s, CLI_KILL_PROTOCOL);
                if (s->spawned)
                        return;         /* the reap frees it */
                if (s->slot_held) {
                        s->slot_held = false;
                        server->children--;
                }
                session_maybe_free(s);
                server_kick_queue(server);
        }
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
                session_list_remove(&s->server->queued, s);
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
        s->child = CLI_CHILD_NULL;
        s->system_prompt_fd = -EBADF;
        s->start_usec = now_usec();
        snprintf(s->request_id, sizeof(s->request_id), "%s", request_id);
        random_id(s->message_id, sizeof(s->message_id), ops->id_prefix, RANDOM_ID_BASE62, 24);
        s->state = SESSION_NEW;
        session_list_append(&server->active, s);

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

        if (server->children < c->max_concurrent && server->queued.n == 0) {
                session_start(s);
                return;
        }
        if (server->queued.n >= c->max_queue) {
                char f1[160], *fields[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_LIMIT_HIT, f1, NULL };

                snprintf(f1, sizeof(f1), "CLAUDE_PROXY_REQUEST_ID=%s", s->request_id);
                log_full_errno_fields(LOG_NOTICE, 0, fields, "%s: %u CLI children running and %u queued, refusing",
                                      s->request_id, server->children, server->queued.n);
                api_error_set(&err, -EBUSY, 529, "overloaded_error",
                              "The proxy is at capacity (%u requests running, %u queued); retry shortly",
                              server->children, server->queued.n);
                err.error_class = "queue_full";
                goto server_error;
        }
        session_list_remove(&server->active, s);
        session_list_append(&server->queued, s);
        s->state = SESSION_QUEUED;
        log_debug("%s: queued (%u waiting)", s->request_id, server->queued.n);
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
