/* SPDX-License-Identifier: MIT */
#pragma once

/* Sending replies: JSON bodies, API errors in their envelope, SSE stream start. */

#include <event2/http.h>
#include <jansson.h>
#include <stdint.h>

#include "api/api.h"

const char *http_reason_phrase(int status);
/* Send a complete reply with body `buf` (not freed); for HEAD, its length and no body. */
void http_reply_buffer(struct evhttp_request *req, int status, struct evbuffer *buf);
/* Send a complete JSON reply. Adds Content-Type; the caller set any other headers already. */
void http_reply_json(struct evhttp_request *req, int status, const json_t *body);
/* Send an API error: status, e->headers, retry-after (from retry_at and `now`), envelope of `kind`. */
void http_reply_error(struct evhttp_request *req, ApiKind kind, const ApiError *e, int64_t now);
/* Convenience: build and send an error in one call. */
void http_reply_errorf(struct evhttp_request *req, ApiKind kind, int status, const char *type, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
/* Begin a 200 text/event-stream reply (chunked). */
void http_stream_start(struct evhttp_request *req);
