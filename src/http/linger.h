/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Closing a connection after an error reply without losing the reply: when the client is still
 * sending (a body we refused, the rest of an oversized head), a plain close() with unread data
 * makes the kernel send RST, and the client's TCP stack may discard our reply before the
 * application reads it. So: our reply and a FIN, then read and discard for a short, bounded
 * while, then close. Bounded in time, bytes and number of sockets, unlike libevent's
 * EVHTTP_SERVER_LINGERING_CLOSE, which drains as long as the announced length (2^63 bytes).
 */

#include <event2/http.h>

/* Arrange for `req`'s connection to be closed after its reply, lingering as above. */
void http_linger_after_reply(struct evhttp_request *req);
/* At exit: close every socket still lingering (nothing must outlive the server). */
void http_linger_close_all(void);
