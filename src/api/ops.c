/* SPDX-License-Identifier: MIT */

/* The vtables: thin typed wrappers, so no function pointer is ever called through a cast. */

#include "api/anthropic.h"
#include "api/openai.h"
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

/* Messages has no choices: parse() never sets n > 1, so the index is always 0. */
static int a_feed(void *s, unsigned index, const CliEvent *ev, json_t *out) {
        return anthropic_stream_feed(s, ev, out);
}

static int a_finish(void *s, unsigned index, const json_t *result, json_t *out) {
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

static int a_message(void *s, const json_t *const *results, unsigned n, json_t **ret) {
        return anthropic_stream_message(s, n > 0 ? results[0] : NULL, ret);
}

const ApiOps api_ops_anthropic = {
        .kind = API_ANTHROPIC,
        .id_prefix = "msg_",
        .framing = API_FRAMING_SSE_NAMED,
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

static int c_stream_new(void **ret, const ApiRequest *req, const ApiEnv *env) {
        OpenAIChatStream *s = NULL;
        int r = openai_chat_stream_new(&s, req, env);

        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

static void c_stream_free(void *s) {
        openai_chat_stream_free(s);
}

static int c_feed(void *s, unsigned index, const CliEvent *ev, json_t *out) {
        return openai_chat_stream_feed(s, index, ev, out);
}

static int c_finish(void *s, unsigned index, const json_t *result, json_t *out) {
        return openai_chat_stream_finish(s, index, result, out);
}

static int c_fail(void *s, const ApiError *err, json_t *out) {
        return openai_chat_stream_fail(s, err, out);
}

static bool c_started(const void *s) {
        return openai_chat_stream_started(s);
}

static int c_ping(void *s, json_t *out) {
        return openai_chat_stream_ping(s, out);
}

static int c_message(void *s, const json_t *const *results, unsigned n, json_t **ret) {
        return openai_chat_stream_message(s, results, n, ret);
}

const ApiOps api_ops_openai_chat = {
        .kind = API_OPENAI,
        .id_prefix = "chatcmpl-",
        .framing = API_FRAMING_SSE_DATA,
        .parse = openai_chat_request_parse,
        .stream_new = c_stream_new,
        .stream_free = c_stream_free,
        .feed = c_feed,
        .finish = c_finish,
        .fail = c_fail,
        .started = c_started,
        .ping = c_ping,
        .message = c_message,
};

static int r_stream_new(void **ret, const ApiRequest *req, const ApiEnv *env) {
        OpenAIResponsesStream *s = NULL;
        int r = openai_responses_stream_new(&s, req, env);

        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

static void r_stream_free(void *s) {
        openai_responses_stream_free(s);
}

static int r_feed(void *s, unsigned index, const CliEvent *ev, json_t *out) {
        return openai_responses_stream_feed(s, index, ev, out);
}

static int r_finish(void *s, unsigned index, const json_t *result, json_t *out) {
        return openai_responses_stream_finish(s, index, result, out);
}

static int r_fail(void *s, const ApiError *err, json_t *out) {
        return openai_responses_stream_fail(s, err, out);
}

static bool r_started(const void *s) {
        return openai_responses_stream_started(s);
}

static int r_ping(void *s, json_t *out) {
        return openai_responses_stream_ping(s, out);
}

static int r_message(void *s, const json_t *const *results, unsigned n, json_t **ret) {
        return openai_responses_stream_message(s, results, n, ret);
}

const ApiOps api_ops_openai_responses = {
        .kind = API_RESPONSES,
        .id_prefix = "resp_",
        .framing = API_FRAMING_SSE_NAMED,
        .parse = openai_responses_request_parse,
        .stream_new = r_stream_new,
        .stream_free = r_stream_free,
        .feed = r_feed,
        .finish = r_finish,
        .fail = r_fail,
        .started = r_started,
        .ping = r_ping,
        .message = r_message,
};
