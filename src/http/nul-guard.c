/* SPDX-License-Identifier: MIT */

/*
 * libevent copies header values with strdup(), so "x-api-key: k1\0x" reaches us as "k1": a NUL
 * silently shortens a value, and a key check could pass on a prefix of what was sent. Nothing
 * after parsing can tell. So the bytes are changed before libevent parses them: every NUL becomes
 * 0x01, one byte for one (framing and lengths stay as sent). In a head, 0x01 is a control
 * character, which http/head-check.c refuses with 400; in a JSON body a raw control character is
 * as invalid as the NUL was. No valid request contains a raw NUL, so nothing valid changes.
 *
 * The evbuffer callback runs synchronously inside the read that appended the bytes, before the
 * bufferevent's read callback lets evhttp parse them (libevent does not defer evbuffer callbacks
 * of socket bufferevents). The bufferevent is made exactly as evhttp makes its own (options 0:
 * evhttp closes the socket itself).
 */

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "http/nul-guard.h"

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *userdata) {
        size_t len = evbuffer_get_length(buf);
        struct evbuffer_ptr at;

        if (info->n_added == 0 || info->n_added > len)
                return;
        /* Reads append: the new bytes are the last n_added. */
        if (evbuffer_ptr_set(buf, &at, len - info->n_added, EVBUFFER_PTR_SET) < 0)
                return;
        for (;;) {
                struct evbuffer_iovec v;

                at = evbuffer_search(buf, "", 1, &at);
                if (at.pos < 0)
                        return;
                if (evbuffer_peek(buf, 1, &at, &v, 1) < 1 || v.iov_len < 1)
                        return;
                *(char *) v.iov_base = 0x01;
                if (evbuffer_ptr_set(buf, &at, 1, EVBUFFER_PTR_ADD) < 0)
                        return;
        }
}

struct bufferevent *http_nul_guard_bev_new(struct event_base *base, void *userdata) {
        struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);

        if (bev && !evbuffer_add_cb(bufferevent_get_input(bev), on_input, NULL)) {
                bufferevent_free(bev);
                return NULL;
        }
        return bev;
}
