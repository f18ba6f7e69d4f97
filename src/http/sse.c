/* SPDX-License-Identifier: MIT */

/*
 * SSE frames. JSON is dumped compactly, so a frame's data never contains a newline and needs no
 * "data:" continuation lines. Writing to the connection is http/reply.c's business.
 */

#include <errno.h>
#include <string.h>

#include "http/sse.h"

static int dump_cb(const char *b, size_t n, void *userdata) {
        return evbuffer_add(userdata, b, n) < 0 ? -1 : 0;
}

/**
 * json_append_to_evbuffer() - serialize into an evbuffer without an intermediate string
 * Return: 0, or -ENOMEM.
 */
int json_append_to_evbuffer(struct evbuffer *buf, const json_t *j) {
        return json_dump_callback(j, dump_cb, buf, JSON_COMPACT | JSON_ENCODE_ANY) < 0 ? -ENOMEM : 0;
}

/**
 * sse_append_events() - frame a batch of named events
 * @buf: output
 * @events: array of {"event": name, "data": value}
 *
 * Return: 0, -EINVAL for a malformed element, -ENOMEM.
 */
int sse_append_events(struct evbuffer *buf, const json_t *events) {
        size_t i;
        const json_t *e;

        json_array_foreach(events, i, e) {
                const char *name = json_string_value(json_object_get(e, "event"));
                const json_t *data = json_object_get(e, "data");

                if (!name || !data)
                        return -EINVAL;
                if (evbuffer_add_printf(buf, "event: %s\ndata: ", name) < 0 ||
                    json_append_to_evbuffer(buf, data) < 0 || evbuffer_add(buf, "\n\n", 2) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/**
 * sse_append_data() - one unnamed event
 * Return: 0, or -ENOMEM.
 */
int sse_append_data(struct evbuffer *buf, const json_t *data) {
        if (evbuffer_add(buf, "data: ", 6) < 0 || json_append_to_evbuffer(buf, data) < 0 ||
            evbuffer_add(buf, "\n\n", 2) < 0)
                return -ENOMEM;
        return 0;
}

/**
 * sse_append_done() - the OpenAI end-of-stream marker
 * Return: 0, or -ENOMEM.
 */
int sse_append_done(struct evbuffer *buf) {
        return evbuffer_add(buf, "data: [DONE]\n\n", 14) < 0 ? -ENOMEM : 0;
}

/**
 * sse_append_comment() - a comment frame
 * Return: 0, -EINVAL if @text holds a newline, -ENOMEM.
 */
int sse_append_comment(struct evbuffer *buf, const char *text) {
        if (strchr(text, '\n'))
                return -EINVAL;
        return evbuffer_add_printf(buf, ": %s\n\n", text) < 0 ? -ENOMEM : 0;
}

/**
 * sse_append_frames() - write a translator's frames in its surface's framing
 * @buf: output
 * @framing: the surface's framing
 * @frames: array of frames as api/ops.h describes them
 *
 * Return: 0, -EINVAL for a frame this framing cannot carry, -ENOMEM.
 */
int sse_append_frames(struct evbuffer *buf, ApiFraming framing, const json_t *frames) {
        size_t i;
        const json_t *f;
        int r;

        json_array_foreach(frames, i, f) {
                const char *comment = json_string_value(json_object_get(f, "comment"));
                const json_t *data = json_object_get(f, "data");

                if (comment)
                        r = sse_append_comment(buf, comment);
                else if (framing == API_FRAMING_SSE_DATA && json_is_true(json_object_get(f, "done")))
                        r = sse_append_done(buf);
                else if (framing == API_FRAMING_SSE_DATA && data && !json_object_get(f, "event"))
                        r = sse_append_data(buf, data);
                else if (framing == API_FRAMING_SSE_NAMED && data && json_is_string(json_object_get(f, "event"))) {
                        json_t *one = json_pack("[O]", f);

                        if (!one)
                                return -ENOMEM;
                        r = sse_append_events(buf, one);
                        json_decref(one);
                } else
                        r = -EINVAL;
                if (r < 0)
                        return r;
        }
        return 0;
}
