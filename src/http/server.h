/* SPDX-License-Identifier: MIT */
#pragma once

/* The HTTP server: listeners, limits, routing, the graceful stop. CLI slots: scheduler.h. */

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/auth-status.h"
#include "config.h"
#include "http/metrics.h"
#include "rate-limit.h"
#include "run.h"
#include "scheduler.h"
#include "util/time-util.h"

/* The longest client x-request-id kept (longer ones are replaced): every holder of a request id
 * sizes its buffer from this, so a kept id is never cut short. */
#define REQUEST_ID_MAX 128

typedef struct Session Session;
typedef struct Container Container;
typedef struct Notify Notify;
typedef struct AcceptGuard AcceptGuard;
typedef struct Pool Pool;
typedef struct Park Park;
typedef struct AuthCheck AuthCheck;
typedef struct LbAgent LbAgent;

typedef struct CliModels CliModels;
typedef struct CountTokens CountTokens;

typedef struct Server {
        struct event_base *base;
        struct evhttp *http;
        const Config *config;

        char *claude_path;              /* resolved CLAUDE_PATH, NULL when not found */
        char *claude_version;           /* first line of `claude --version`, NULL if unknown */
        char *claude_problem;           /* why the CLI cannot run, NULL when fine */
        char *work_dir;                 /* the CLI's cwd */
        char **child_envp;              /* the CLI's environment, built once */
        /* The CLI's login state from `claude auth status` (cli/auth-check.c), checked at start, on
         * reload, periodically and after an authentication failure; /health reports it. */
        CliAuthStatus cli_auth;
        AuthCheck *auth_check;
        struct event *ev_auth_timer;

        Scheduler scheduler;            /* CLI slots, the queue, the requests in flight */
        RunContext run_ctx;             /* what every CLI run shares: loop, container, env, cwd */
        Pool *pool;                     /* WARM_POOL: idle CLIs started in advance (pool.c) */
        CliModels *cli_models;          /* GET /v1/models from the CLI's own list (cli-models.c) */
        CountTokens *count_tokens;      /* POST /v1/messages/count_tokens (count-tokens.c) */
        Park *park;                     /* TOOL_PARK_MS: runs waiting for their client tool results (park.c) */
        uint64_t requests_total;
        uint64_t started_usec;          /* CLOCK_MONOTONIC */
        bool stopping;

        struct event *ev_sigterm, *ev_sigint, *ev_stop_deadline, *ev_drain;
        unsigned replies_unsent;        /* while stopping: replies evhttp has not finished writing */
        struct evhttp_bound_socket *sockets[16];
        unsigned n_sockets;
        AcceptGuard *accept_guard;      /* EMFILE: pause, shed, log once (http/accept-guard.c) */

        /* systemd integration (src/systemd/): containment, sd_notify, metrics. */
        Container *container;           /* how CLI children are contained (SCOPE_MODE) */
        Notify *notify;                 /* WATCHDOG=1, STATUS=, EXIT_IDLE_SEC */
        Metrics metrics;                /* GET /metrics */
        /* For a load balancer in front (http/balancer.c): /health, /metrics, AGENT_PORT. */
        RateLimit rate_limit;
        LbAgent *lb_agent;
        char last_error[160];           /* shown in STATUS= */
        uint64_t last_activity_usec;    /* last request start or end, for EXIT_IDLE_SEC */
} Server;

int server_new(Server **ret, struct event_base *base, const Config *config);
Server *server_free(Server *s);
/* Listen on systemd's sockets (LISTEN_FDS) if any, else bind HOST:PORT. */
int server_listen(Server *s);
/* Begin a graceful stop: no new connections, running requests finish, then the loop exits. */
void server_stop(Server *s);
void server_maybe_exit(Server *s);
/* SIGHUP: use a new, validated configuration; listening sockets and running requests stay. */
void server_set_config(Server *s, const Config *config);
/* Check the CLI's login state again soon (in the background), e.g. after it refused a credential. */
void server_recheck_cli_auth(Server *s);
