/* SPDX-License-Identifier: MIT */

/*
 * libevent's own error replies, in our envelope.
 *
 * evhttp answers by itself when it cannot parse a request: a malformed or oversized request line
 * or head, a bad Content-Length, a body over its hard cap, a broken chunk; also a method it does
 * not allow and a failed Expect. Every one of those goes through the exported
 * evhttp_send_error(), which writes an HTML page (and says 413 for a corrupt chunk). libevent
 * 2.1.12 has no hook for these (no evhttp_set_errorcb; the request is not handed to us), so we
 * interpose: this definition in the executable takes the place of the library's, for its own
 * calls too, since libevent_core calls evhttp_send_error through the PLT (objdump -d shows every
 * call site as `call/jmp evhttp_send_error@plt`; a libevent built with -Bsymbolic or with the
 * function made static would silently bypass us, which is why the HTTP bad-input suite checks
 * the content type of these replies and goes red if the interposition stops working).
 *
 * Our own code calls it only for a 500 when building a reply failed, which this answers the
 * same way.
 */

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "http/linger.h"
#include "http/reply.h"
#include "util/log.h"

/* Not in any header: it replaces libevent's (see above). */
void evhttp_send_error(struct evhttp_request *req, int error, const char *reason);

void evhttp_send_error(struct evhttp_request *req, int error, const char *reason) {
        static bool in_reply = false;
        const char *type = "invalid_request_error", *message;
        int status = error;

        switch (error) {
        case 400:
                message = "Malformed HTTP request: the request line or a header is invalid, or the head is larger "
                          "than 64 KiB";
                break;
        case 413:
                /* evhttp reports a corrupt chunked body as "too large" too; it keeps no trace of
                 * which it was, so a chunked body gets 400 and a message naming both. */
                if (req->chunked) {
                        status = 400;
                        message = "Malformed chunked request body, or a chunk beyond the size limit";
                } else {
                        type = "request_too_large";
                        message = "Request body is larger than the limit";
                }
                break;
        case 417:
                message = "Only 'Expect: 100-continue' is supported";
                break;
        case 501:
                /* Unreachable while every method is allowed (server.c); kept truthful. */
                status = 405;
                message = "Method not allowed";
                break;
        default:
                type = error >= 500 ? "api_error" : "invalid_request_error";
                message = reason ?: http_reason_phrase(error);
                break;
        }
        /* A request line that never parsed leaves the version at 0.0, which evhttp would echo in
         * the status line; say 1.1 like libevent's own error page does. */
        if (req->major != 1 || (req->minor != 0 && req->minor != 1)) {
                req->major = 1;
                req->minor = 1;
        }
        if (in_reply) {
                /* Building our reply failed (out of memory): no body rather than recursion. */
                evhttp_send_reply(req, status, http_reason_phrase(status), NULL);
                return;
        }
        log_debug("answering a request libevent could not take with %d: %s", status, message);
        /* libevent never sends a 500 itself; ours come from a handler (maybe a session with its
         * own close callback on the connection), which keeps its headers and its connection. For
         * libevent's, the framing of whatever follows is unknown: close after the reply, without
         * an RST. */
        if (error != 500) {
                evhttp_clear_headers(evhttp_request_get_output_headers(req));
                http_linger_after_reply(req);
        }
        in_reply = true;
        http_reply_errorf(req, API_ANTHROPIC, status, type, "%s", message);
        in_reply = false;
}
