/* SPDX-License-Identifier: MIT */

/*
 * The HAProxy agent-check responder. HAProxy connects to agent-port every agent-inter, may send
 * an agent-send string, reads one line and closes. The line is words HAProxy applies in order
 * (haproxy configuration.txt, "agent-check"):
 *
 *   "up ready 73%"  serving: operational state up, leave any drain we asked for, and a weight of
 *                   73% of the server's configured weight (the rate limit's headroom);
 *   "drain 0%"      rate-limited, stopping, or no CLI that can answer: no new connections
 *                   except those held by persistence. Only the agent can undo its own drain,
 *                   hence "ready" in the serving line.
 *
 * Never "down": the regular health check (option httpchk GET /health) owns up and down, and an
 * agent that says down must be there to say up again, which a stopped instance is not.
 *
 * Each connection gets its line at once and is kept only until HAProxy closes it (so whatever
 * it sent is read and our close is not an RST that could cost the line), bounded in time.
 */

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/lb-agent.h"
#include "util/event-util.h"
#include "util/log.h"
#include "util/macro.h"

/* HAProxy closes right after the line; a peer that does not is dropped after this. */
#define AGENT_CONN_TIMEOUT_SEC 5
/* Each connection holds a descriptor: past this many at once, new ones are closed unanswered. */
#define AGENT_MAX_CONNS 32
/* After an accept error (out of descriptors): how long the port rests. */
#define AGENT_PAUSE_MS 1000

typedef struct AgentConn {
        struct AgentConn *next, *prev;
        LbAgent *agent;
        struct bufferevent *bev;
} AgentConn;

struct LbAgent {
        struct event_base *base;
        struct evconnlistener *listener;
        LbAgentWeight weight;
        void *userdata;
        struct event *ev_resume;
        AgentConn *conns;
        unsigned n_conns;
};

/**
 * lb_agent_reply() - the agent-check line for a weight
 * @weight: 0..100 (larger is taken as 100)
 * @buf: where to write it
 * @size: its size
 *
 * Return: the line's length, or -ENOBUFS.
 */
int lb_agent_reply(unsigned weight, char *buf, size_t size) {
        int n;

        if (weight == 0)
                n = snprintf(buf, size, "drain 0%%\n");
        else
                n = snprintf(buf, size, "up ready %u%%\n", MIN(weight, 100u));
        return n >= 0 && (size_t) n < size ? n : -ENOBUFS;
}

static void conn_free(AgentConn *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                c->agent->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->agent->n_conns--;
        bufferevent_free(c->bev);
        free(c);
}

/* Whatever HAProxy sends (agent-send) is not a question we answer differently: drop it. */
static void on_conn_read(struct bufferevent *bev, void *userdata) {
        struct evbuffer *in = bufferevent_get_input(bev);

        (void) evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_conn_event(struct bufferevent *bev, short what, void *userdata) {
        /* EOF, an error or the timeout: the line is out or will never be read. */
        conn_free(userdata);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
                      void *userdata) {
        LbAgent *a = userdata;
        char line[32];
        int n = lb_agent_reply(a->weight(a->userdata), line, sizeof(line));
        AgentConn *c;

        if (n < 0 || a->n_conns >= AGENT_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
                evutil_closesocket(fd);
                return;
        }
        c->agent = a;
        c->bev = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev) {
                evutil_closesocket(fd);
                free(c);
                return;
        }
        c->next = a->conns;
        if (a->conns)
                a->conns->prev = c;
        a->conns = c;
        a->n_conns++;

        struct timeval tv = { .tv_sec = AGENT_CONN_TIMEOUT_SEC };
        bufferevent_setcb(c->bev, on_conn_read, NULL, on_conn_event, c);
        bufferevent_set_timeouts(c->bev, &tv, &tv);
        if (bufferevent_write(c->bev, line, (size_t) n) < 0 || bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0)
                conn_free(c);
}

static void on_accept_error(struct evconnlistener *l, void *userdata) {
        LbAgent *a = userdata;

        /* EMFILE and the like leave the connection in the backlog and the socket readable: pause
         * instead of spinning on it (one log line a pause). The next agent-inter tries again. */
        log_warning_errno(-EVUTIL_SOCKET_ERROR(), "agent-check port: accept failed, pausing it for %d ms: %m",
                          AGENT_PAUSE_MS);
        if (a->ev_resume && evconnlistener_disable(l) == 0)
                (void) event_add_ms(a->ev_resume, AGENT_PAUSE_MS);
}

static void on_resume(evutil_socket_t fd, short what, void *userdata) {
        LbAgent *a = userdata;

        (void) evconnlistener_enable(a->listener);
}

/**
 * lb_agent_new() - listen for agent checks on @host:@port
 * @ret: the agent
 * @base: the event loop
 * @host: address to bind (HOST)
 * @port: AGENT_PORT
 * @weight: asked on every connection
 * @userdata: for @weight
 *
 * Return: 0, or a negative errno (logged).
 */
int lb_agent_new(LbAgent **ret, struct event_base *base, const char *host, uint16_t port, LbAgentWeight weight,
                 void *userdata) {
        struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                         .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG };
        struct evutil_addrinfo *ai = NULL;
        char service[8];
        LbAgent *a;
        int r;

        snprintf(service, sizeof(service), "%u", (unsigned) port);
        r = evutil_getaddrinfo(host, service, &hints, &ai);
        if (r != 0 || !ai)
                return log_error_errno(-EADDRNOTAVAIL, "agent-check port: cannot resolve '%s'", host);

        a = calloc(1, sizeof(*a));
        if (!a) {
                evutil_freeaddrinfo(ai);
                return -ENOMEM;
        }
        a->base = base;
        a->weight = weight;
        a->userdata = userdata;
        a->listener = evconnlistener_new_bind(base, on_accept, a,
                                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 16,
                                              ai->ai_addr, (int) ai->ai_addrlen);
        evutil_freeaddrinfo(ai);
        if (!a->listener) {
                r = -errno ?: -EADDRINUSE;
                lb_agent_free(a);
                return log_error_errno(r, "agent-check port: cannot listen on %s:%u: %m", host, (unsigned) port);
        }
        a->ev_resume = evtimer_new(base, on_resume, a);
        if (!a->ev_resume) {
                lb_agent_free(a);
                return -ENOMEM;
        }
        evconnlistener_set_error_cb(a->listener, on_accept_error);
        log_info("agent-check port listening on %s:%u", host, (unsigned) lb_agent_port(a));
        *ret = a;
        return 0;
}

uint16_t lb_agent_port(const LbAgent *a) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (!a || !a->listener ||
            getsockname(evconnlistener_get_fd(a->listener), (struct sockaddr *) &ss, &len) < 0)
                return 0;
        if (ss.ss_family == AF_INET)
                return ntohs(((struct sockaddr_in *) &ss)->sin_port);
        if (ss.ss_family == AF_INET6)
                return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
        return 0;
}

LbAgent *lb_agent_free(LbAgent *a) {
        if (!a)
                return NULL;
        while (a->conns)
                conn_free(a->conns);
        if (a->ev_resume)
                event_free(a->ev_resume);
        if (a->listener)
                evconnlistener_free(a->listener);
        free(a);
        return NULL;
}
