/* SPDX-License-Identifier: MIT */

/*
 * The CLI's stdout is the least trusted input the daemon has: whatever a CLI version (or a
 * compromised one) prints goes through cli_event_parse() and then into the outcome accumulator
 * and the Anthropic stream translator. The input is split at '\n' the way the I/O side splits
 * stdout, so the fuzzer can build sequences of lines and reach the translator's state machine
 * (open blocks, merged messages, a result). Each run then ends the way session.c ends one:
 * classify, then finish + non-streaming message, or fail. Two Anthropic translators run side by
 * side, with and without thinking requested, because thinking blocks take a different path, and
 * a Chat Completions one (include_usage), whose chunks must form a complete stream too.
 *
 * Whatever the input, the outputs must hold (fuzz-check.h): a failure is an HTTP error status
 * with a type and message, both streams are complete, well-formed event sequences, and a success
 * has a message whose content blocks are the ones the stream carried. Every rate_limit_event also
 * goes into the load-balancing state (rate-limit.c), whose verdict must stay coherent.
 */

#include <string.h>

#include "api/anthropic.h"
#include "api/openai.h"
#include "fuzz-check.h"
#include "fuzz.h"
#include "rate-limit.h"
#include "util/macro.h"

/* A successful run: a complete stream, and a message with the same number of content blocks. */
static void finish_and_check(AnthropicStream *s, const json_t *result, json_t *out) {
        json_auto_t *msg = NULL;
        size_t blocks;

        FUZZ_CHECK(anthropic_stream_finish(s, result, out) >= 0, "stream_finish failed on a success");
        blocks = fuzz_check_anthropic_events(out, true);
        FUZZ_CHECK(anthropic_stream_message(s, result, &msg) >= 0 && msg, "no message after a success");
        FUZZ_CHECK(streq_ptr(json_string_value(json_object_get(msg, "type")), "message") &&
                   streq_ptr(json_string_value(json_object_get(msg, "role")), "assistant"),
                   "the message is not an assistant message");
        FUZZ_CHECK(json_is_array(json_object_get(msg, "content")) &&
                   json_array_size(json_object_get(msg, "content")) == blocks,
                   "the message has %zu content blocks, the stream %zu",
                   json_array_size(json_object_get(msg, "content")), blocks);
}

/*
 * A Chat Completions stream as the translator appends it: pings ({"comment"}) anywhere; data
 * chunks of object chat.completion.chunk for choice 0, each delta an object, finish_reason null
 * except on the one chunk that ends the choice; then, finished, an optional usage chunk (no
 * choices) and {"done"}; failed, one {"error"} data line and no [DONE]. Nothing after the end.
 */
static void check_chat_chunks(const json_t *out, bool finished) {
        bool ended = false, finish_seen = false, done = false, failed = false;
        const json_t *f;
        size_t i;

        json_array_foreach(out, i, f) {
                const json_t *data = json_object_get(f, "data"), *choices, *c;
                size_t k;

                if (json_object_get(f, "comment"))
                        continue;
                FUZZ_CHECK(!ended, "frame %zu after the stream ended", i);
                if (json_is_true(json_object_get(f, "done"))) {
                        FUZZ_CHECK(finish_seen, "[DONE] at frame %zu before a finish_reason", i);
                        ended = done = true;
                        continue;
                }
                FUZZ_CHECK(json_is_object(data), "frame %zu is neither data, comment nor done", i);
                if (json_object_get(data, "error")) {
                        FUZZ_CHECK(fuzz_is_nonempty_string(json_object_get(json_object_get(data, "error"), "message")),
                                   "an error line without a message");
                        ended = failed = true;
                        continue;
                }
                FUZZ_CHECK(streq_ptr(json_string_value(json_object_get(data, "object")), "chat.completion.chunk"),
                           "frame %zu is not a chat.completion.chunk", i);
                choices = json_object_get(data, "choices");
                FUZZ_CHECK(json_is_array(choices), "frame %zu without choices", i);
                if (json_array_size(choices) == 0) {
                        FUZZ_CHECK(finish_seen && json_is_object(json_object_get(data, "usage")),
                                   "a chunk without choices that is not the usage chunk at the end");
                        continue;
                }
                json_array_foreach(choices, k, c) {
                        const json_t *fr = json_object_get(c, "finish_reason");

                        FUZZ_CHECK(json_integer_value(json_object_get(c, "index")) == 0, "a choice other than 0");
                        FUZZ_CHECK(json_is_object(json_object_get(c, "delta")), "a choice without a delta");
                        FUZZ_CHECK(!finish_seen, "a chunk after the choice's finish_reason");
                        FUZZ_CHECK(json_is_null(fr) || fuzz_is_nonempty_string(fr), "finish_reason neither null nor a reason");
                        finish_seen = json_is_string(fr);
                }
        }
        if (finished)
                FUZZ_CHECK(done && finish_seen, "a finished stream without finish_reason and [DONE]");
        else
                FUZZ_CHECK(failed && !done, "a failed stream does not end with one error line");
}

/* The verdict at a few moments around the recorded reset time, and the /health object. */
static void check_rate_limit(const RateLimit *rl) {
        static const int64_t moments[] = { 0, 1795529999 - 60, 1795529999, 1795529999 + 3600, INT64_MAX / 2 };

        FUZZ_CHECK(rl->n_windows <= RATE_LIMIT_MAX_WINDOWS, "%zu windows", rl->n_windows);
        for (size_t i = 0; i < ELEMENTSOF(moments); i++) {
                RateLimitVerdict v;
                json_auto_t *j = NULL;

                rate_limit_verdict(rl, moments[i], &v);
                if (v.limited)
                        FUZZ_CHECK(v.weight == 0 && v.until > moments[i] && v.window,
                                   "limited with weight %u until %lld", v.weight, (long long) v.until);
                else
                        FUZZ_CHECK(v.weight >= 1 && v.weight <= 100, "weight %u while not limited", v.weight);
                j = rate_limit_to_json(rl, &v, moments[i]);
                FUZZ_CHECK(j && json_is_boolean(json_object_get(j, "limited")) &&
                           json_array_size(json_object_get(j, "windows")) == rl->n_windows,
                           "bad /health rate_limit object");
                if (v.limited)
                        FUZZ_CHECK(json_integer_value(json_object_get(j, "retry_after")) >= 1, "Retry-After < 1");
        }
}

/**
 * LLVMFuzzerTestOneInput() - one fuzz input
 * @data: the input bytes (not NUL-terminated)
 * @size: their length
 *
 * Treats @data as CLI stdout (lines split at '\n') and drives one whole run with it.
 *
 * Return: 0 (libFuzzer reserves other values).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ApiRequest req_plain = { .kind = API_ANTHROPIC, .client_model = (char *) "claude-fuzz" };
        ApiRequest req_thinking = { .kind = API_ANTHROPIC, .client_model = (char *) "claude-fuzz",
                                    .cli = { .thinking = true, .thinking_budget = 1024 } };
        ApiEnv env = { .message_id = "msg_fuzz", .created = 1700000000, .default_model = "sonnet" };
        ApiRequest req_chat = { .kind = API_OPENAI, .client_model = (char *) "gpt-fuzz", .include_usage = true };
        _cleanup_(anthropic_stream_freep) AnthropicStream *plain = NULL, *thinking = NULL;
        _cleanup_(openai_chat_stream_freep) OpenAIChatStream *chat = NULL;
        json_auto_t *out_plain = NULL, *out_thinking = NULL, *out_chat = NULL;
        const char *p = (const char *) data, *end = p + size;
        CliOutcome o = {};
        RateLimit rl = {};
        CliExit x = { .exited = true };
        ApiError err = API_ERROR_NULL;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        if (anthropic_stream_new(&plain, &req_plain, &env) < 0 ||
            anthropic_stream_new(&thinking, &req_thinking, &env) < 0 ||
            openai_chat_stream_new(&chat, &req_chat, &env) < 0)
                return 0;
        out_plain = json_array();
        out_thinking = json_array();
        out_chat = json_array();
        if (!out_plain || !out_thinking || !out_chat)
                return 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = (size_t) ((nl ? nl : end) - p);
                CliEvent ev = {};

                if (cli_event_parse(p, len, &ev) >= 0) {
                        if (ev.type == CLI_EVENT_RATE_LIMIT)
                                (void) rate_limit_observe(&rl, ev.payload, 1795529999 - 100);
                        cli_outcome_feed(&o, &ev);
                        (void) anthropic_stream_feed(plain, &ev, out_plain);
                        (void) anthropic_stream_feed(thinking, &ev, out_thinking);
                        (void) openai_chat_stream_feed(chat, 0, &ev, out_chat);
                        cli_event_done(&ev);
                }
                if (anthropic_stream_started(plain))
                        (void) anthropic_stream_ping(plain, out_plain);
                p = nl ? nl + 1 : end;
        }

        /* An error result normally comes with exit status 1 (cli/README §13). */
        if (o.result && json_is_true(json_object_get(o.result, "is_error")))
                x.code = 1;
        r = cli_outcome_classify(&o, &x, size > 0 ? "fuzz stderr tail" : NULL, &err);
        if (r == 0) {
                FUZZ_CHECK(o.result, "a successful outcome without a result line");
                finish_and_check(plain, o.result, out_plain);
                finish_and_check(thinking, o.result, out_thinking);
                FUZZ_CHECK(openai_chat_stream_finish(chat, 0, o.result, out_chat) >= 0, "chat finish failed on a success");
                check_chat_chunks(out_chat, true);
        } else {
                fuzz_check_api_error(API_ANTHROPIC, &err);
                FUZZ_CHECK(anthropic_stream_fail(plain, &err, out_plain) >= 0, "stream_fail failed");
                FUZZ_CHECK(anthropic_stream_fail(thinking, &err, out_thinking) >= 0, "stream_fail failed");
                (void) fuzz_check_anthropic_events(out_plain, false);
                (void) fuzz_check_anthropic_events(out_thinking, false);
                FUZZ_CHECK(openai_chat_stream_fail(chat, &err, out_chat) >= 0, "chat fail failed");
                check_chat_chunks(out_chat, false);
        }
        if (r != 0 && streq_ptr(err.error_class, "rate_limit"))
                rate_limit_observe_rejection(&rl, 1795529999 - 100);
        check_rate_limit(&rl);
        api_error_done(&err);
        cli_outcome_done(&o);
        return 0;
}
