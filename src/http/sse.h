/* SPDX-License-Identifier: MIT */
#pragma once

/* Server-sent-event framing into an evbuffer. Works without an event loop. */

#include <event2/buffer.h>
#include <jansson.h>

#include "api/ops.h"

/* Serialize `j` compactly onto the end of `buf`. Return 0 or -ENOMEM. */
int json_append_to_evbuffer(struct evbuffer *buf, const json_t *j);
/* "event: NAME\ndata: {...}\n\n" for every {"event": NAME, "data": {...}} in the array `events`. */
int sse_append_events(struct evbuffer *buf, const json_t *events);
/* "data: {...}\n\n" without an event name (the OpenAI flavour), and "data: [DONE]\n\n". */
int sse_append_data(struct evbuffer *buf, const json_t *data);
int sse_append_done(struct evbuffer *buf);
/* ": TEXT\n\n", a comment line clients ignore (keeps proxies and idle timers at bay). */
int sse_append_comment(struct evbuffer *buf, const char *text);
/*
 * A translator's frames (api/ops.h) in the surface's framing: named events for
 * API_FRAMING_SSE_NAMED, bare data lines and [DONE] for API_FRAMING_SSE_DATA, comments in both.
 * Return 0, -EINVAL for a frame the framing has no form for, -ENOMEM.
 */
int sse_append_frames(struct evbuffer *buf, ApiFraming framing, const json_t *frames);
