/* SPDX-License-Identifier: MIT */
#pragma once

/* The HTTP side of one API request: parse, translator, framing, pings, deadline, access log. Its
 * CLI child is a Run (run.h); its slot comes from the scheduler (scheduler.h). */

#include <event2/http.h>

#include "api/ops.h"
#include "http/server.h"

/*
 * Take over an authenticated API request whose body is in `req`: parse it, answer a client
 * error at once, else run it now or queue it (529 when the queue is full). The session frees
 * itself when both the reply is done (or the client gone) and its run has exited.
 */
void session_handle(Server *server, struct evhttp_request *req, const ApiOps *ops, const char *request_id);
/* The proxy is stopping: queued sessions get 503 now, running ones are killed after the grace. */
void session_abort(Session *s, CliKillReason reason);
/* The request this session still has to answer (or finish streaming to), NULL once replied. */
struct evhttp_request *session_request(Session *s);
