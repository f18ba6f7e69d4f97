/* SPDX-License-Identifier: MIT */

/* The Anthropic vtable: thin typed wrappers, so no function pointer is ever called through a cast. */

#include "api/anthropic.h"
#include "api/ops.h"

static int a_stream_new(void **ret, const ApiRequest *req, const ApiEnv *env) {
        AnthropicStream *s = NULL;
        int r = anthropic_stream_new(&s, req, env);

        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

static void a_stream_free(void *s) {
        anthropic_stream_free(s);
}

static int a_feed(void *s, const CliEvent *ev, json_t *out) {
        return anthropic_stream_feed(s, ev, out);
}

static int a_finish(void *s, const json_t *result, json_t *out) {
        return anthropic_stream_finish(s, result, out);
}

static int a_fail(void *s, const ApiError *err, json_t *out) {
        return anthropic_stream_fail(s, err, out);
}

static bool a_started(const void *s) {
        return anthropic_stream_started(s);
}

static int a_ping(void *s, json_t *out) {
        return anthropic_stream_ping(s, out);
}

static int a_message(void *s, const json_t *result, json_t **ret) {
        return anthropic_stream_message(s, result, ret);
}

const ApiOps api_ops_anthropic = {
        .kind = API_ANTHROPIC,
        .id_prefix = "msg_",
        .parse = anthropic_request_parse,
        .stream_new = a_stream_new,
        .stream_free = a_stream_free,
        .feed = a_feed,
        .finish = a_finish,
        .fail = a_fail,
        .started = a_started,
        .ping = a_ping,
        .message = a_message,
};
