/* SPDX-License-Identifier: MIT */

/*
 * The HTTP front: listening sockets (inherited from systemd or bound by hand), evhttp's limits,
 * the route table, authentication, /health and /v1/models. API requests are handed to
 * session.c; this file only decides which one and whether the client may ask at all. It also
 * owns the CLI slot accounting that sessions use and the graceful stop.
 */

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "api/models.h"
#include "api/ops.h"
#include "build-config.h"
#include "cli-models.h"
#include "count-tokens.h"
#include "cli/auth-check.h"
#include "cli/env.h"
#include "cli/spawn.h"
#include "http/accept-guard.h"
#include "http/balancer.h"
#include "http/head-check.h"
#include "http/lb-agent.h"
#include "http/linger.h"
#include "http/metrics.h"
#include "http/nul-guard.h"
#include "http/reply.h"
#include "http/server.h"
#include "park.h"
#include "pool.h"
#include "session.h"
#include "systemd/container.h"
#include "systemd/notify.h"
#include "util/auth.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/random-id.h"
#include "util/strv.h"
#include "util/time-util.h"

/* After the last session of a stop, how long replies still being written may take: a client
 * that stopped reading must not hold the exit. */
#define DRAIN_MAX_MS 2000u

extern char **environ;

/* ---- the CLI, checked once at start --------------------------------------------------------- */

static char *find_executable(const char *name) {
        char *p = NULL;

        if (strchr(name, '/'))
                return access(name, X_OK) == 0 ? realpath(name, NULL) : NULL;
        const char *path = getenv("PATH") ?: "/usr/local/bin:/usr/bin:/bin";
        while (*path) {
                size_t n = strcspn(path, ":");
                if (n > 0 && asprintf(&p, "%.*s/%s", (int) n, path, name) >= 0) {
                        struct stat st;
                        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
                                return p;
                        free(p);
                        p = NULL;
                }
                path += n;
                if (*path)
                        path++;
        }
        return NULL;
}

/* `claude --version`, with a deadline: a broken CLI must not stop the proxy from starting. */
static char *cli_version(const char *path, char **envp, const char *cwd) {
        char *argv[] = { (char *) path, (char *) "--version", NULL };
        CliSpawnOptions o = { .argv = argv, .envp = envp, .cwd = cwd, .pass_fd = -1 };
        CliChild c;
        char buf[256];
        size_t n = 0;
        uint64_t deadline = now_usec() + 10 * 1000000ULL;

        if (cli_spawn(&o, &c) < 0)
                return NULL;
        c.stdin_fd = safe_close(c.stdin_fd);
        while (n < sizeof(buf) - 1 && now_usec() < deadline) {
                struct pollfd p = { .fd = c.stdout_fd, .events = POLLIN };
                int timeout = (int) ((deadline - now_usec()) / 1000);
                if (poll(&p, 1, timeout > 0 ? timeout : 1) <= 0)
                        break;
                ssize_t k = read(c.stdout_fd, buf + n, sizeof(buf) - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        cli_child_done(&c);
        buf[n] = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        return n > 0 ? strdup(buf) : NULL;
}

static void server_check_cli(Server *s) {
        s->claude_path = find_executable(s->config->claude_path);
        if (!s->claude_path) {
                (void) asprintf(&s->claude_problem,
                                "The Claude CLI '%s' was not found or is not executable. Install it "
                                "(npm install -g @anthropic-ai/claude-code), log in with `claude auth login` as the "
                                "user the proxy runs as, or point CLAUDE_PATH at the binary.",
                                s->config->claude_path);
                log_warning("%s", s->claude_problem);
                return;
        }
        s->claude_version = cli_version(s->claude_path, s->child_envp, s->work_dir);
        if (s->claude_version)
                log_info("using Claude CLI %s (%s)", s->claude_path, s->claude_version);
        else
                log_warning("the Claude CLI %s did not report a version; requests may fail", s->claude_path);
}

/* ---- the CLI's login, checked in the background ---------------------------------------------- */

/* Logged in: a slow poll notices a logout or an expired login. Otherwise: notice a login soon. */
#define AUTH_RECHECK_OK_MS (5 * 60 * 1000)
#define AUTH_RECHECK_BAD_MS (30 * 1000)

static void auth_arm_timer(Server *s) {
        if (s->ev_auth_timer)
                (void) event_add_ms(s->ev_auth_timer,
                                    s->cli_auth.state == CLI_AUTH_LOGGED_IN ? AUTH_RECHECK_OK_MS : AUTH_RECHECK_BAD_MS);
}

static void on_auth_status(const CliAuthStatus *st, void *userdata) {
        Server *s = userdata;

        if (st->state != s->cli_auth.state) {
                if (st->state == CLI_AUTH_LOGGED_OUT)
                        log_warning("The Claude CLI is not logged in: " CLI_AUTH_FIX_HINT);
                else if (st->state == CLI_AUTH_LOGGED_IN)
                        log_info("The Claude CLI is logged in (%s)", st->method[0] ? st->method : "unknown method");
                else
                        log_notice("Cannot tell whether the Claude CLI is logged in");
        }
        s->cli_auth = *st;
        auth_arm_timer(s);
}

static void server_start_auth_check(Server *s) {
        int r;

        if (!s->auth_check || !s->claude_path)
                return;
        r = auth_check_start(s->auth_check, s->claude_path, s->child_envp, s->work_dir);
        if (r < 0) {
                log_warning_errno(r, "Cannot run `claude auth status`: %m");
                auth_arm_timer(s);
        }
}

static void on_auth_timer(evutil_socket_t fd, short what, void *userdata) {
        server_start_auth_check(userdata);
}

void server_recheck_cli_auth(Server *s) {
        server_start_auth_check(s);
}

/*
 * The CLI's environment: the allow-list over ours, plus the optional OAuth token credential
 * (LoadCredential=claude-code-oauth-token), so the token need not sit in the unit's environment.
 */
static int child_env_for(const Config *config, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        int r;

        r = cli_env_build(environ, config->child_env, config->cli_max_retries, &env);
        if (r < 0)
                return r;
        if (config->tool_park_ms > 0) {
                /* A parked run's own bound, behind the park's (TOOL_PARK_MS, then 10 s to end). */
                char ms[32];

                (void) snprintf(ms, sizeof(ms), "%" PRIu64, config->tool_park_ms + 10000);
                r = cli_env_set(&env, "MCP_TOOL_TIMEOUT", ms);
                if (r < 0)
                        return r;
        }
        if (creds && *creds) {
                _cleanup_free_ char *p = NULL;
                char token[8192];
                size_t n;

                if (asprintf(&p, "%s/claude-code-oauth-token", creds) < 0)
                        return -ENOMEM;
                FILE *f = fopen(p, "re");
                if (f) {
                        n = fread(token, 1, sizeof(token) - 1, f);
                        fclose(f);
                        token[n] = 0;
                        token[strcspn(token, "\r\n")] = 0;
                        if (token[0]) {
                                r = cli_env_set(&env, "CLAUDE_CODE_OAUTH_TOKEN", token);
                                explicit_bzero(token, sizeof(token));
                                if (r < 0)
                                        return r;
                                log_debug("passing the claude-code-oauth-token credential to the CLI");
                        }
                }
        }
        *ret = TAKE_PTR(env);
        return 0;
}

/* ---- helpers for handlers ------------------------------------------------------------------- */

static const char *method_name(enum evhttp_cmd_type m) {
        switch (m) {
        case EVHTTP_REQ_GET: return "GET";
        case EVHTTP_REQ_POST: return "POST";
        case EVHTTP_REQ_HEAD: return "HEAD";
        case EVHTTP_REQ_PUT: return "PUT";
        case EVHTTP_REQ_DELETE: return "DELETE";
        case EVHTTP_REQ_OPTIONS: return "OPTIONS";
        case EVHTTP_REQ_TRACE: return "TRACE";
        case EVHTTP_REQ_CONNECT: return "CONNECT";
        case EVHTTP_REQ_PATCH: return "PATCH";
        default: return "UNKNOWN";
        }
}

/* Keep a client's x-request-id if it is sane; otherwise make one. */
static void request_id_for(struct evhttp_request *req, char *buf, size_t size) {
        const char *in = evhttp_find_header(evhttp_request_get_input_headers(req), "x-request-id");
        if (in && strlen(in) > 0 && strlen(in) < size && strlen(in) <= REQUEST_ID_MAX) {
                bool ok = true;
                for (const char *c = in; *c; c++)
                        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                              strchr("-_.:", *c)))
                                ok = false;
                if (ok) {
                        snprintf(buf, size, "%s", in);
                        return;
                }
        }
        random_id(buf, size, "req_", RANDOM_ID_BASE36, 20);
}

static void reply_error_with_id(struct evhttp_request *req, ApiKind kind, const char *request_id, int status,
                                const char *type, const char *message) {
        ApiError e = { .status = status, .type = type };

        snprintf(e.message, sizeof(e.message), "%s", message);
        evhttp_add_header(evhttp_request_get_output_headers(req), "request-id", request_id);
        http_reply_error(req, kind, &e, now_unix());
}

static bool check_auth(Server *s, struct evhttp_request *req, ApiKind kind, const char *request_id) {
        const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        size_t n = 0;
        const char *key;

        if (!s->config->require_auth)
                return true;
        key = auth_key_from_headers(evhttp_find_header(h, "x-api-key"), evhttp_find_header(h, "authorization"), &n);
        if (key && auth_key_matches(s->config->api_keys, key, n))
                return true;
        log_info("%s: rejected a request with %s API key", request_id, key ? "a wrong" : "no");
        reply_error_with_id(req, kind, request_id, 401, "authentication_error", "Invalid API key");
        return false;
}

static void on_reply_sent(struct evhttp_request *req, void *userdata) {
        Server *s = userdata;

        if (s->replies_unsent > 0)
                s->replies_unsent--;
        server_maybe_exit(s);
}

/*
 * While stopping, count the replies still to be written: evhttp writes a reply on a later turn
 * of the loop, so exiting as soon as the last session ends would drop the 503 or the final SSE
 * error event it just sent. A reply whose client vanished is never "sent": DRAIN_MAX_MS bounds that.
 */
static void track_reply(Server *s, struct evhttp_request *req) {
        if (!req)
                return;
        evhttp_request_set_on_complete_cb(req, on_reply_sent, s);
        s->replies_unsent++;
}

/* A side query's request (a model listing, a token count) answered as the proxy stops. */
static void track_held_reply(struct evhttp_request *req, void *userdata) {
        track_reply(userdata, req);
}

/* ---- handlers ------------------------------------------------------------------------------- */

/* The warm pool's figures, for /health. */
static json_t *pool_to_json(const Server *s) {
        PoolFigures f = {};

        if (s->pool)
                pool_figures(s->pool, &f);
        return json_pack("{s:I,s:I,s:I,s:s?,s:I,s:I,s:I,s:I,s:I,s:s?}", "target", (json_int_t) f.target, "size",
                         (json_int_t) f.size, "ready", (json_int_t) f.ready, "model", f.model, "hits",
                         (json_int_t) f.hits, "misses", (json_int_t) f.misses, "cold_fallbacks",
                         (json_int_t) f.cold_fallbacks, "spawn_failures", (json_int_t) f.spawn_failures,
                         "sacrificed", (json_int_t) f.sacrificed, "problem", f.problem);
}

/* The login problem for /health, NULL when there is none to report. */
static const char *auth_problem(const Server *s) {
        switch (s->cli_auth.state) {
        case CLI_AUTH_LOGGED_OUT:
                return "The Claude CLI is not logged in: " CLI_AUTH_FIX_HINT;
        case CLI_AUTH_CHECK_FAILED:
                return "`claude auth status` did not report a login state";
        default:
                return NULL;
        }
}

static void handle_health(Server *s, struct evhttp_request *req, const char *request_id) {
        bool logged_out = s->claude_path && s->cli_auth.state == CLI_AUTH_LOGGED_OUT;
        BalancerState lb;
        balancer_state(s, &lb);
        /* Rate-limited is the one state a balancer must act on: 503, until the reset. */
        const char *status = s->stopping               ? "stopping"
                             : lb.rate_limit.limited   ? "rate_limited"
                             : (!s->claude_path || logged_out) ? "degraded"
                                                               : "ok";
        json_auto_t *j = json_pack(
                "{s:s,s:s,s:{s:s?,s:s?,s:b,s:s?,s:{s:s,s:s?,s:s?,s:s?}},s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:o*}", "status",
                status, "version", PACKAGE_VERSION, "cli",
                "path", s->claude_path ?: s->config->claude_path, "version", s->claude_version, "available",
                s->claude_path != NULL, "problem", s->claude_problem ?: (s->claude_path ? auth_problem(s) : NULL),
                "auth", "state", cli_auth_state_to_string(s->cli_auth.state),
                "method", s->cli_auth.method[0] ? s->cli_auth.method : NULL,
                "provider", s->cli_auth.provider[0] ? s->cli_auth.provider : NULL,
                /* The command to run, only when it is the fix. */
                "fix", logged_out ? CLI_AUTH_FIX_COMMAND : NULL,
                "requests_in_flight", (json_int_t) scheduler_busy_children(&s->scheduler),
                "queued", (json_int_t) scheduler_queued(&s->scheduler), "max_concurrent", (json_int_t) s->config->max_concurrent,
                "max_queue", (json_int_t) s->config->max_queue, "requests_total", (json_int_t) s->requests_total,
                "uptime_seconds", (json_int_t) ((now_usec() - s->started_usec) / 1000000ULL),
                /* Which containment auto picked (never "auto" itself). */
                "scope_mode", scope_mode_to_string(container_mode(s->container)),
                "pool", pool_to_json(s));

        evhttp_add_header(evhttp_request_get_output_headers(req), "request-id", request_id);
        if (!j || json_object_set_new(j, "rate_limit", rate_limit_to_json(&s->rate_limit, &lb.rate_limit,
                                                                          (int64_t) time(NULL))) < 0 ||
            json_object_set_new(j, "weight", json_integer(lb.weight)) < 0 ||
            json_object_set_new(j, "parked", json_integer(park_waiting(s->park))) < 0) {
                evhttp_send_error(req, 500, NULL);
                return;
        }
        if (streq(status, "rate_limited")) {
                char v[24];
                snprintf(v, sizeof(v), "%" PRId64, MAX(lb.rate_limit.until - (int64_t) time(NULL), (int64_t) 1));
                evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
                http_reply_json(req, 503, j);
                return;
        }
        http_reply_json(req, 200, j);
}

/* Where a side query to the CLI (the model list, a token count) gets its process. */
static CliQueryEnv query_env(Server *s) {
        return (CliQueryEnv) { .sched = &s->scheduler, .pool = s->pool, .ctx = &s->run_ctx, .claude_path = s->claude_path };
}

static void handle_models(Server *s, struct evhttp_request *req, const char *request_id, const char *id) {
        CliQueryEnv env = query_env(s);

        /* Stopping: no new CLI process; the cached list or the static catalog answers. */
        if (s->stopping)
                env.claude_path = NULL;
        /* The pool's model, so that an idle pooled process can answer at once. */
        _cleanup_free_ char *model = model_resolve(s->config->default_model, s->config->default_model);

        cli_models_handle(s->cli_models, &env, model, req, request_id, id);
}

static void handle_metrics(Server *s, struct evhttp_request *req, const char *request_id) {
        PoolFigures f = {};
        BalancerState lb;

        balancer_state(s, &lb);

        if (s->pool)
                pool_figures(s->pool, &f);
        MetricsPool pool = {
                .target = f.target, .size = f.size, .ready = f.ready, .hits = f.hits, .misses = f.misses,
                .cold_fallbacks = f.cold_fallbacks, .spawn_failures = f.spawn_failures, .sacrificed = f.sacrificed,
        };
        MetricsGauges g = {
                .in_flight = scheduler_in_flight(&s->scheduler),
                .queued = scheduler_queued(&s->scheduler),
                .children = scheduler_children(&s->scheduler),
                .parked = park_waiting(s->park),
                .uptime_sec = (now_usec() - s->started_usec) / 1000000ULL,
                .pool = &pool,
                .version = PACKAGE_VERSION,
                .scope_mode = scope_mode_to_string(container_mode(s->container)),
                .rate_limited = lb.rate_limit.limited,
                .rate_limited_until = lb.rate_limit.limited ? lb.rate_limit.until : 0,
                .lb_weight = lb.weight,
        };
        _cleanup_free_ char *text = metrics_format(&s->metrics, &g);
        struct evbuffer *buf = evbuffer_new();
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);

        evhttp_add_header(h, "request-id", request_id);
        if (!text || !buf || evbuffer_add(buf, text, strlen(text)) < 0) {
                if (buf)
                        evbuffer_free(buf);
                evhttp_send_error(req, 500, NULL);
                return;
        }
        evhttp_add_header(h, "Content-Type", METRICS_CONTENT_TYPE);
        http_reply_buffer(req, 200, buf);
        evbuffer_free(buf);
}

/* Everything but the API routes is shared by both SDKs: their errors use the Anthropic envelope,
 * whose error.message the OpenAI SDKs read as well. */
static void route_health(Server *s, struct evhttp_request *req, const char *request_id, const char *arg) {
        handle_health(s, req, request_id);
}

static void route_metrics(Server *s, struct evhttp_request *req, const char *request_id, const char *arg) {
        /* METRICS_AUTH=false opens it for a scraper without a key; REQUIRE_AUTH=false opens
         * everything anyway. */
        if (!s->config->metrics_auth || check_auth(s, req, API_ANTHROPIC, request_id))
                handle_metrics(s, req, request_id);
}

static void route_count_tokens(Server *s, struct evhttp_request *req, const char *request_id, const char *arg) {
        CliQueryEnv env = query_env(s);

        if (!check_auth(s, req, API_ANTHROPIC, request_id))
                return;
        s->requests_total++;
        if (s->stopping) {
                reply_error_with_id(req, API_ANTHROPIC, request_id, 503, "api_error",
                                    "The proxy is shutting down; retry shortly");
                return;
        }
        count_tokens_handle(s->count_tokens, &env, s->config, req, request_id);
}

static void route_models(Server *s, struct evhttp_request *req, const char *request_id, const char *arg) {
        if (check_auth(s, req, API_ANTHROPIC, request_id))
                handle_models(s, req, request_id, arg);
}

#define METHODS_GET (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

/*
 * The routes. `ops` set: an API surface, POST only, authenticated, handed to a session, and its
 * 401/404/405 in that surface's envelope. Otherwise `handler` serves it. `prefix`: the path is
 * this followed by one non-empty segment, given to the handler as its argument.
 */
static const struct RouteEntry {
        const char *path;
        bool prefix;
        unsigned methods;
        const ApiOps *ops;
        void (*handler)(Server *s, struct evhttp_request *req, const char *request_id, const char *arg);
} routes[] = {
        { "/health",              false, METHODS_GET,     NULL,                 route_health },
        { "/healthz",             false, METHODS_GET,     NULL,                 route_health },
        { "/metrics",             false, METHODS_GET,     NULL,                 route_metrics },
        { "/v1/models",           false, METHODS_GET,     NULL,                 route_models },
        { "/v1/models/",          true,  METHODS_GET,     NULL,                 route_models },
        { "/v1/messages",         false, EVHTTP_REQ_POST, &api_ops_anthropic,   NULL },
        { "/v1/messages/count_tokens", false, EVHTTP_REQ_POST, NULL,            route_count_tokens },
        { "/v1/chat/completions", false, EVHTTP_REQ_POST, &api_ops_openai_chat, NULL },
        { "/v1/responses",        false, EVHTTP_REQ_POST, &api_ops_openai_responses, NULL },
};

/* Paths no route serves, by whose API they look like: an OpenAI client gets OpenAI's envelope. */
static const struct {
        const char *prefix;
        ApiKind kind;
} unrouted_envelopes[] = {
        { "/v1/chat/",        API_OPENAI },
        { "/v1/responses/",   API_RESPONSES },
        { "/v1/completions",  API_OPENAI },
        { "/v1/embeddings",   API_OPENAI },
};

static const struct RouteEntry *route_for(const char *path, const char **ret_arg) {
        *ret_arg = NULL;
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                const struct RouteEntry *e = &routes[i];
                size_t n = strlen(e->path);

                if (!e->prefix && streq(path, e->path))
                        return e;
                if (e->prefix && strneq(path, e->path, n) && path[n] && !strchr(path + n, '/')) {
                        *ret_arg = path + n;
                        return e;
                }
        }
        return NULL;
}

static ApiKind envelope_for(const struct RouteEntry *e, const char *path) {
        if (e && e->ops)
                return e->ops->kind;
        for (size_t i = 0; i < ELEMENTSOF(unrouted_envelopes); i++)
                if (strneq(path, unrouted_envelopes[i].prefix, strlen(unrouted_envelopes[i].prefix)))
                        return unrouted_envelopes[i].kind;
        return API_ANTHROPIC;
}

/* The request head as libevent parsed it, judged by head_check(); refused with the connection
 * closed after the reply, since a head we refuse may also frame its body wrongly. */
static bool head_ok(struct evhttp_request *req, const char *request_id) {
        const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        HeadField fields[HEAD_MAX_FIELDS + 1];
        const struct evkeyval *kv;
        size_t n = 0;
        char msg[256];
        int status;

        /* keyvalq_struct.h's TAILQ without <sys/queue.h>'s macros. */
        for (kv = h->tqh_first; kv && n < ELEMENTSOF(fields); kv = kv->next.tqe_next)
                fields[n++] = (HeadField) { kv->key, kv->value };
        status = head_check(req->major, req->minor, fields, n, msg, sizeof(msg));
        if (status == 0)
                return true;
        log_info("%s: refused a request head: %s", request_id, msg);
        /* evhttp echoes the request's version in the status line: never "HTTP/2.0 505". */
        req->major = 1;
        req->minor = 1;
        http_linger_after_reply(req);
        reply_error_with_id(req, API_ANTHROPIC, request_id, status, "invalid_request_error", msg);
        return false;
}

static void on_request(struct evhttp_request *req, void *userdata) {
        Server *s = userdata;
        enum evhttp_cmd_type m = evhttp_request_get_command(req);
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
        _cleanup_free_ char *path = raw_path ? evhttp_uridecode(raw_path, 0, NULL) : NULL;
        char request_id[REQUEST_ID_MAX + 1], msg[640];
        const struct RouteEntry *e;
        const char *arg;
        ApiKind kind;

        request_id_for(req, request_id, sizeof(request_id));
        s->last_activity_usec = now_usec();
        if (s->stopping)
                track_reply(s, req);    /* a keep-alive connection's request after SIGTERM */
        /* Not a proxy. And evhttp keeps a CONNECT's connection open after any answer: close it. */
        if (m == EVHTTP_REQ_CONNECT) {
                http_linger_after_reply(req);
                reply_error_with_id(req, API_ANTHROPIC, request_id, 405, "invalid_request_error",
                                    "Method CONNECT is not allowed");
                return;
        }
        if (!head_ok(req, request_id))
                return;
        if (!path || !*path) {
                reply_error_with_id(req, API_ANTHROPIC, request_id, 400, "invalid_request_error",
                                    "Malformed request URI");
                return;
        }
        e = route_for(path, &arg);
        kind = envelope_for(e, path);
        if (!e) {
                snprintf(msg, sizeof(msg), "No route for %s %.512s", method_name(m), path);
                reply_error_with_id(req, kind, request_id, 404, "not_found_error", msg);
                return;
        }
        if (!(m & e->methods)) {
                snprintf(msg, sizeof(msg), "Method %s is not allowed for %.512s", method_name(m), path);
                reply_error_with_id(req, kind, request_id, 405, "invalid_request_error", msg);
                return;
        }
        if (e->handler) {
                e->handler(s, req, request_id, arg);
                return;
        }
        if (!check_auth(s, req, kind, request_id))
                return;
        s->requests_total++;
        session_handle(s, req, e->ops, request_id);
}

/* ---- signals, stop -------------------------------------------------------------------------- */

void server_maybe_exit(Server *s) {
        /* Called whenever a session ends: the idle clock for EXIT_IDLE_SEC starts here. */
        s->last_activity_usec = now_usec();
        if (!s->stopping || s->scheduler.members.n > 0)
                return;
        if (s->replies_unsent == 0) {
                event_base_loopexit(s->base, NULL);
                return;
        }
        if (s->ev_drain && !evtimer_pending(s->ev_drain, NULL))
                (void) event_add_ms(s->ev_drain, DRAIN_MAX_MS);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *userdata) {
        Server *s = userdata;

        log_notice("%u replies still unsent after %u ms, exiting anyway", s->replies_unsent, DRAIN_MAX_MS);
        event_base_loopexit(s->base, NULL);
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *userdata) {
        Server *s = userdata;

        log_notice("shutdown grace over, ending %u running CLI children", scheduler_children(&s->scheduler));
        for (SchedTicket *t = s->scheduler.members.head, *next; t; t = next) {
                next = t->next;
                if (!t->queued)
                        session_abort(t->userdata, CLI_KILL_SHUTDOWN);
        }
}

void server_stop(Server *s) {
        if (s->stopping)
                return;
        s->stopping = true;
        (void) sd_notify(0, "STOPPING=1\nSTATUS=stopping");
        log_info("stopping: %u requests running, %u queued", scheduler_children(&s->scheduler),
                 scheduler_queued(&s->scheduler));
        accept_guard_forget(s->accept_guard);
        /* Idle pooled processes serve nobody: they go now (their reaps free their slots). */
        if (s->pool)
                pool_stop(s->pool);
        cli_models_stop(s->cli_models, track_held_reply, s);
        count_tokens_stop(s->count_tokens, track_held_reply, s);
        /* Parked runs wait for a follow-up that can no longer come. */
        park_stop(s->park);
        scheduler_stop(&s->scheduler);
        for (unsigned i = 0; i < s->n_sockets; i++)
                evhttp_del_accept_socket(s->http, s->sockets[i]);
        s->n_sockets = 0;
        s->ev_drain = evtimer_new(s->base, on_drain_timeout, s);
        for (SchedTicket *t = s->scheduler.members.head; t; t = t->next)
                track_reply(s, session_request(t->userdata));
        while (s->scheduler.queue.head)
                session_abort(s->scheduler.queue.head->userdata, CLI_KILL_SHUTDOWN);
        s->ev_stop_deadline = evtimer_new(s->base, on_stop_deadline, s);
        if (s->ev_stop_deadline)
                (void) event_add_ms(s->ev_stop_deadline, s->config->shutdown_grace_ms);
        server_maybe_exit(s);
}

static void on_signal(evutil_socket_t sig, short what, void *userdata) {
        Server *s = userdata;

        if (s->stopping) {
                /* A second signal: do not wait for the grace. */
                on_stop_deadline(-1, 0, s);
                return;
        }
        server_stop(s);
}

/* ---- what systemd/notify.c reports ---------------------------------------------------------- */

static void notify_figures(void *userdata, NotifyFigures *ret) {
        const Server *s = userdata;

        *ret = (NotifyFigures) {
                .in_flight = scheduler_in_flight(&s->scheduler),
                .queued = scheduler_queued(&s->scheduler),
                .children = scheduler_children(&s->scheduler),
                .served = s->requests_total,
                .last_error = s->last_error,
                .stopping = s->stopping,
                .idle = scheduler_idle(&s->scheduler),
                .last_activity_usec = s->last_activity_usec,
                .exit_idle_sec = s->config->exit_idle_sec,
        };
}

static void notify_exit_idle(void *userdata) {
        server_stop(userdata);
}

static const NotifySource server_notify_source = {
        .figures = notify_figures,
        .exit_idle = notify_exit_idle,
};

/* ---- setup ---------------------------------------------------------------------------------- */

static int work_dir_setup(Server *s) {
        const char *rt = getenv("RUNTIME_DIRECTORY");
        char tmpl[] = "/tmp/claude-proxy-XXXXXX";

        if (s->config->work_dir) {
                s->work_dir = strdup(s->config->work_dir);
                return s->work_dir ? 0 : -ENOMEM;
        }
        if (rt && *rt) {
                /* RuntimeDirectory= may list several, separated by ':'. */
                s->work_dir = strndup(rt, strcspn(rt, ":"));
                return s->work_dir ? 0 : -ENOMEM;
        }
        /* A private, empty directory: no CLAUDE.md or project settings of ours leak into the CLI. */
        if (!mkdtemp(tmpl))
                return negative_errno();
        s->work_dir = strdup(tmpl);
        return s->work_dir ? 0 : -ENOMEM;
}

/* The pool's key is DEFAULT_MODEL resolved the way a request's model is. */
static int server_configure_pool(Server *s) {
        _cleanup_free_ char *model = model_resolve(s->config->default_model, s->config->default_model);

        if (!model)
                return -ENOMEM;
        return pool_configure(s->pool, s->claude_path, model, s->config->warm_pool);
}

/**
 * server_new() - set up the HTTP server (not listening yet)
 * @ret: the server
 * @base: the event loop
 * @config: configuration, borrowed for the server's life
 *
 * Return: 0, or a negative errno.
 */
int server_new(Server **ret, struct event_base *base, const Config *config) {
        Server *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->base = base;
        s->config = config;
        s->started_usec = now_usec();
        scheduler_init(&s->scheduler, config->max_concurrent, config->max_queue);

        r = work_dir_setup(s);
        if (r < 0) {
                server_free(s);
                return log_error_errno(r, "Cannot create a working directory for the CLI: %m");
        }
        r = child_env_for(config, &s->child_envp);
        if (r < 0) {
                server_free(s);
                return r;
        }
        server_check_cli(s);

        /* After the CLI check: its `claude --version` child must not meet the orphan reaper. */
        r = container_new(&s->container, base, config);
        if (r < 0) {
                server_free(s);
                return r;
        }
        s->run_ctx = (RunContext) { .base = base, .config = config, .container = s->container,
                                    .envp = s->child_envp, .cwd = s->work_dir };
        /* Fault injection for the test suite only: every CLI child fails its containment. */
        /* The login check runs on the loop from here on, never blocking it (cli/auth-check.c). */
        s->ev_auth_timer = evtimer_new(base, on_auth_timer, s);
        r = auth_check_new(&s->auth_check, base, on_auth_status, s);
        if (r < 0 || !s->ev_auth_timer) {
                server_free(s);
                return -ENOMEM;
        }
        server_start_auth_check(s);
        if (getenv("CLAUDE_PROXY_TEST_FAIL_PLACEMENT")) {
                log_warning("CLAUDE_PROXY_TEST_FAIL_PLACEMENT is set: every request will fail (test only)");
                s->run_ctx.container_ops = &run_container_fail_for_tests;
        }
        r = cli_models_new(&s->cli_models);
        if (r >= 0)
                r = count_tokens_new(&s->count_tokens);
        if (r < 0) {
                server_free(s);
                return r;
        }
        r = pool_new(&s->pool, &s->scheduler, &s->run_ctx);
        if (r >= 0)
                r = park_new(&s->park, &s->scheduler, &s->run_ctx);
        if (r < 0) {
                server_free(s);
                return r;
        }
        r = container_cleanup_leftovers(s->container);
        if (r > 0)
                log_notice("cleaned up %d CLI containers left by an earlier instance", r);
        s->last_activity_usec = now_usec();
        r = notify_new(&s->notify, base, &server_notify_source, s);
        if (r < 0) {
                server_free(s);
                return r;
        }

        r = accept_guard_new(&s->accept_guard, base);
        if (r < 0) {
                server_free(s);
                return log_error_errno(r, "Cannot set up the accept guard: %m");
        }
        s->http = evhttp_new(base);
        if (!s->http) {
                server_free(s);
                return -ENOMEM;
        }
        /* Bodies up to MAX_BODY_BYTES are ours to judge; past that the session answers 413 in the
         * API's envelope. evhttp's own hard cap sits above it to bound memory: a body announced or
         * grown past it is refused by evhttp at once, answered by http/libevent-replies.c in our
         * envelope, and the connection closed after a bounded linger (http/linger.c). Not
         * EVHTTP_SERVER_LINGERING_CLOSE: that drains as many bytes as the client announced, so
         * "Content-Length: 2^64" held the connection for as long as the client stayed. */
        uint64_t hard = config->max_body_bytes > INT64_MAX / 4 ? INT64_MAX / 2 : config->max_body_bytes * 2 + (1 << 20);
        evhttp_set_max_body_size(s->http, (ev_ssize_t) hard);
        evhttp_set_max_headers_size(s->http, 64 * 1024);
        /* Every method, even ones evhttp does not know (the EVHTTP_REQ_UNKNOWN_ bit, 1 << 15): the
         * route table answers 404/405 in our envelope instead of evhttp's 501 page. */
        evhttp_set_allowed_methods(s->http, 0xffff);
        /* NULs never reach the header parser (http/nul-guard.c). */
        evhttp_set_bevcb(s->http, http_nul_guard_bev_new, NULL);
        evhttp_set_default_content_type(s->http, "application/json");
        /* Applies to reading requests and to a stalled client's pending writes. evhttp stops
         * reading while a request is handled, so a long, quiet stream is never cut by this. */
        evhttp_set_timeout(s->http, 120);
        evhttp_set_gencb(s->http, on_request, s);

        s->ev_sigterm = evsignal_new(base, SIGTERM, on_signal, s);
        s->ev_sigint = evsignal_new(base, SIGINT, on_signal, s);
        if (!s->ev_sigterm || !s->ev_sigint) {
                server_free(s);
                return -ENOMEM;
        }
        (void) event_add(s->ev_sigterm, NULL);
        (void) event_add(s->ev_sigint, NULL);
        /* Spawns happen from the loop: the pool starts filling once the proxy runs. */
        r = server_configure_pool(s);
        if (r < 0) {
                server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static void log_bound(int fd) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;

        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                return;
        if (ss.ss_family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *) &ss;
                inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
                port = ntohs(a->sin_port);
                log_info("listening on %s:%d", host, port);
        } else if (ss.ss_family == AF_INET6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;
                inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
                port = ntohs(a->sin6_port);
                log_info("listening on [%s]:%d", host, port);
        } else if (ss.ss_family == AF_UNIX) {
                struct sockaddr_un *a = (struct sockaddr_un *) &ss;
                /* Abstract sockets start with a NUL; show them the way ss(8) does. */
                log_info("listening on %s%s", a->sun_path[0] ? "" : "@",
                         a->sun_path[0] ? a->sun_path : a->sun_path + 1);
        } else
                log_info("listening on an inherited socket (fd %d)", fd);
}

/**
 * server_listen() - start accepting
 *
 * Sockets passed by systemd (LISTEN_FDS) win; otherwise HOST:PORT is bound.
 *
 * Return: 0, or a negative errno (nothing to listen on).
 */
/* Small SSE frames must leave at once: without TCP_NODELAY, Nagle's algorithm meets the client's
 * delayed ACK and a keep-alive stream stalls ~40 ms per reply. Accepted sockets inherit it from the
 * listener on Linux. Not a TCP socket (AF_UNIX): nothing to do. */
static void socket_nodelay(int fd) {
        int one = 1;

        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static unsigned agent_weight(void *userdata) {
        BalancerState lb;

        balancer_state(userdata, &lb);
        return lb.weight;
}

/* AGENT_PORT: HAProxy's agent-check (http/lb-agent.c). */
static int server_listen_agent(Server *s) {
        if (s->config->agent_port == 0)
                return 0;
        return lb_agent_new(&s->lb_agent, s->base, s->config->host, s->config->agent_port, agent_weight, s);
}

static int server_listen_http(Server *s);

int server_listen(Server *s) {
        int r = server_listen_http(s);

        return r < 0 ? r : server_listen_agent(s);
}

static int server_listen_http(Server *s) {
        _cleanup_strv_free_ char **names = NULL;
        /* With names: a .socket may carry several ListenStream= (TCP and AF_UNIX), and
         * FileDescriptorName= says which is which in the log. */
        int n = sd_listen_fds_with_names(1, &names);

        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");
        for (int i = 0; i < n && s->n_sockets < ELEMENTSOF(s->sockets); i++) {
                int fd = SD_LISTEN_FDS_START + i;
                log_debug("inherited fd %d, name '%s'", fd, names && names[i] ? names[i] : "unknown");
                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                        log_warning("inherited fd %d is not a listening stream socket, ignoring", fd);
                        continue;
                }
                /* systemd passes the socket blocking: libevent's accept loop would then hang. */
                (void) evutil_make_socket_nonblocking(fd);
                (void) evutil_make_socket_closeonexec(fd);
                socket_nodelay(fd);
                struct evhttp_bound_socket *b = evhttp_accept_socket_with_handle(s->http, fd);
                if (!b)
                        return log_error_errno(-EIO, "Cannot accept on inherited fd %d", fd);
                s->sockets[s->n_sockets++] = b;
                (void) accept_guard_watch(s->accept_guard, evhttp_bound_socket_get_listener(b));
                log_bound(fd);
        }
        if (s->n_sockets > 0)
                return 0;
        if (n > 0)
                return log_error_errno(-EBADF, "None of the sockets passed by systemd is usable");

        struct evhttp_bound_socket *b = evhttp_bind_socket_with_handle(s->http, s->config->host, s->config->port);
        if (!b)
                return log_error_errno(-EADDRINUSE, "Cannot listen on %s:%u: %m", s->config->host,
                                       (unsigned) s->config->port);
        s->sockets[s->n_sockets++] = b;
        (void) accept_guard_watch(s->accept_guard, evhttp_bound_socket_get_listener(b));
        socket_nodelay(evhttp_bound_socket_get_fd(b));
        log_bound(evhttp_bound_socket_get_fd(b));
        return 0;
}

Server *server_free(Server *s) {
        if (!s)
                return NULL;
        /* Sessions still alive here (second signal, loop broken) are freed by their owner: kill their
         * children synchronously so nothing outlives the proxy. */
        while (s->scheduler.queue.head)
                session_abort(s->scheduler.queue.head->userdata, CLI_KILL_SHUTDOWN);
        s->notify = notify_free(s->notify);
        s->lb_agent = lb_agent_free(s->lb_agent);
        /* Idle pooled processes die with the proxy (SIGKILL, reaped here). */
        s->pool = pool_free(s->pool);
        s->cli_models = cli_models_free(s->cli_models, &s->scheduler);
        s->count_tokens = count_tokens_free(s->count_tokens, &s->scheduler);
        s->park = park_free(s->park);
        s->auth_check = auth_check_free(s->auth_check);
        if (s->ev_auth_timer)
                event_free(s->ev_auth_timer);
        /* Kills whatever is still in a scope or cgroup; sessions freed later find no slot work. */
        s->container = container_free(s->container);
        if (s->ev_stop_deadline)
                event_free(s->ev_stop_deadline);
        if (s->ev_drain)
                event_free(s->ev_drain);
        if (s->ev_sigterm)
                event_free(s->ev_sigterm);
        if (s->ev_sigint)
                event_free(s->ev_sigint);
        if (s->http)
                evhttp_free(s->http);
        /* After evhttp_free: freeing the connections is what starts their lingering. */
        http_linger_close_all();
        s->accept_guard = accept_guard_free(s->accept_guard);
        if (s->work_dir && !s->config->work_dir && !getenv("RUNTIME_DIRECTORY"))
                (void) rmdir(s->work_dir);
        free(s->work_dir);
        free(s->claude_path);
        free(s->claude_version);
        free(s->claude_problem);
        strv_free(s->child_envp);
        free(s);
        return NULL;
}

/**
 * server_set_config() - switch to a reloaded configuration (SIGHUP)
 * @s: the server
 * @config: the new configuration, validated; borrowed from now on (the caller frees the old one
 *          after this returns: nothing keeps pointers into it)
 *
 * Sessions read s->config when they need a value, so running streams pick up timeouts and the
 * like at their next event. The CLI environment is rebuilt; listening sockets, the work
 * directory and the containment mode stay (they need a restart and say so).
 */
void server_set_config(Server *s, const Config *config) {
        char **envp = NULL;
        int r;

        if (!streq_ptr(s->config->host, config->host) || s->config->port != config->port)
                log_notice("HOST/PORT changes take effect at the next start, ignoring");
        if (s->config->agent_port != config->agent_port)
                log_notice("AGENT_PORT changes take effect at the next start, ignoring");
        if (!streq_ptr(s->config->work_dir, config->work_dir))
                log_notice("WORK_DIR changes take effect at the next start, ignoring");
        r = child_env_for(config, &envp);
        if (r < 0)
                log_warning_errno(r, "Cannot rebuild the CLI environment, keeping the old one: %m");
        else {
                strv_free(s->child_envp);
                s->child_envp = envp;
                s->run_ctx.envp = envp;
        }
        if (!streq_ptr(s->config->claude_path, config->claude_path)) {
                char *p = find_executable(config->claude_path);
                if (p) {
                        free(s->claude_path);
                        s->claude_path = p;
                        free(s->claude_problem);
                        s->claude_problem = NULL;
                        log_info("now using Claude CLI %s", p);
                } else
                        log_warning("CLAUDE_PATH '%s' not found, keeping %s", config->claude_path,
                                    s->claude_path ?: "none");
        }
        uint64_t hard = config->max_body_bytes > INT64_MAX / 4 ? INT64_MAX / 2 : config->max_body_bytes * 2 + (1 << 20);
        evhttp_set_max_body_size(s->http, (ev_ssize_t) hard);
        container_set_config(s->container, config);
        log_set_max_level(config->log_level);
        s->config = config;
        s->run_ctx.config = config;
        /* A slot limit that grew lets queued requests start now. */
        scheduler_set_limits(&s->scheduler, config->max_concurrent, config->max_queue);
        /* The idle processes were started with the old configuration: replace them. */
        if (server_configure_pool(s) < 0)
                log_oom();
        /* The CLI or its environment may have changed: its model list and prompt size too. */
        cli_models_forget(s->cli_models);
        count_tokens_forget(s->count_tokens);
        /* A reload is also how an operator says "I logged the CLI in". */
        server_start_auth_check(s);
}
