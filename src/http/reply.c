/* SPDX-License-Identifier: MIT */

/* One place that turns bodies and ApiErrors into evhttp replies. Headers common to every reply
 * (request-id) are set by the caller before calling in here. */

#include <event2/buffer.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "http/reply.h"
#include "http/sse.h"
#include "util/log.h"
#include "util/macro.h"

const char *http_reason_phrase(int status) {
        switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Payload Too Large";
        case 415: return "Unsupported Media Type";
        case 417: return "Expectation Failed";
        case 431: return "Request Header Fields Too Large";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 501: return "Not Implemented";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        case 529: return "Overloaded";
        default: return "Unknown";
        }
}

void http_reply_buffer(struct evhttp_request *req, int status, struct evbuffer *buf) {
        /* libevent 2.1.12 writes a reply's body even to HEAD (evhttp_make_header() copies the
         * output buffer whatever the method), which a keep-alive client then reads as the start of
         * the next response. Send the length a GET would get, and no body. */
        if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
                char n[32];
                snprintf(n, sizeof(n), "%zu", evbuffer_get_length(buf));
                evhttp_remove_header(evhttp_request_get_output_headers(req), "Content-Length");
                evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", n);
                evhttp_send_reply(req, status, http_reason_phrase(status), NULL);
                return;
        }
        evhttp_send_reply(req, status, http_reason_phrase(status), buf);
}

void http_reply_json(struct evhttp_request *req, int status, const json_t *body) {
        struct evbuffer *buf = evbuffer_new();

        if (!buf || json_append_to_evbuffer(buf, body) < 0) {
                log_oom();
                if (buf)
                        evbuffer_free(buf);
                evhttp_send_error(req, 500, NULL);
                return;
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
        http_reply_buffer(req, status, buf);
        evbuffer_free(buf);
}

void http_reply_error(struct evhttp_request *req, ApiKind kind, const ApiError *e, int64_t now) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        json_t *body = NULL;
        const char *name;
        json_t *v;

        json_object_foreach(e->headers, name, v)
                evhttp_add_header(h, name, json_string_value(v) ?: "");
        if (e->retry_at > 0 && !evhttp_find_header(h, "retry-after")) {
                char s[32];
                snprintf(s, sizeof(s), "%" PRIi64, e->retry_at > now ? e->retry_at - now : 0);
                evhttp_add_header(h, "retry-after", s);
        }
        if (e->status == 405)
                evhttp_add_header(h, "Allow", "GET, POST");
        if (api_error_to_json(kind, e, &body) < 0) {
                log_oom();
                evhttp_send_error(req, 500, NULL);
                return;
        }
        http_reply_json(req, e->status > 0 ? e->status : 500, body);
        json_decref(body);
}

void http_reply_errorf(struct evhttp_request *req, ApiKind kind, int status, const char *type, const char *fmt, ...) {
        ApiError e = { .status = status, .type = type };
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(e.message, sizeof(e.message), fmt, ap);
        va_end(ap);
        http_reply_error(req, kind, &e, 0);
}

void http_stream_start(struct evhttp_request *req) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);

        evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
        evhttp_add_header(h, "Cache-Control", "no-cache");
        /* Tell buffering reverse proxies (nginx) to pass events through as they come. */
        evhttp_add_header(h, "X-Accel-Buffering", "no");
        evhttp_send_reply_start(req, 200, "OK");
}
