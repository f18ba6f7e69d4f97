/* SPDX-License-Identifier: MIT */

/*
 * The Anthropic stream translator at its own level, over recorded CLI runs: the lines of a
 * transcript's final turn (what the proxy feeds the translator once the history phase is over)
 * go in, and the tests assert what anthropic.h promises, by hand: the Messages SSE grammar;
 * nothing emitted before anthropic_stream_started() (the proxy holds back, and then drops,
 * whatever comes out before it); every recorded line accepted (the proxy only logs a refusal, so
 * a refused line would be content silently lost); the streamed events adding up to exactly the
 * non-streaming message; and the content, stop reason and usage of each recording.
 *
 * This does not claim to be the proxy: what a client of the daemon really receives for each
 * recording is compared with the golden files by tests/integration/test-goldens.mjs.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/anthropic.h"
#include "helpers.h"
#include "util/macro.h"

#define MESSAGE_ID "msg_test0000000000000000001"
#define CLIENT_MODEL "claude-sonnet-4-5-client-name"

typedef struct Run {
        json_t *events;         /* every SSE event produced */
        json_t *result;         /* the final turn's result line, NULL when the run was cut short */
        json_t *message;        /* non-streaming body, NULL unless the run finished successfully */
        bool started;           /* anthropic_stream_started() after the last line */
} Run;

static void run_done(Run *run) {
        json_decref(run->events);
        json_decref(run->result);
        json_decref(run->message);
        *run = (Run) {};
}

typedef struct RunOptions {
        bool thinking;
        size_t max_lines;       /* 0: all; else the CLI dies after printing this many lines of the turn */
        bool drop_stream_events;/* pretend --include-partial-messages was off */
} RunOptions;

static bool line_is_result(const json_t *line) {
        json_auto_t *j = json_loads(json_string_value(line), 0, NULL);

        return streq_ptr(json_string_value(json_object_get(j, "type")), "result");
}

/*
 * The final turn of a recording: everything after the last `result` that is not the final one.
 * The earlier turns are a history transcript's shouldQuery:false acknowledgements, which the
 * proxy consumes itself and never hands to the translator.
 */
static size_t final_turn_start(const json_t *lines) {
        size_t n = json_array_size(lines);

        for (size_t i = n > 0 ? n - 1 : 0; i > 0; i--)
                if (line_is_result(json_array_get(lines, i - 1)))
                        return i;
        return 0;
}

static const char *ev_name(const json_t *ev) {
        return json_string_value(json_object_get(ev, "event"));
}

static const json_t *ev_data(const json_t *ev) {
        return json_object_get(ev, "data");
}

/*
 * Feed one recording's final turn. On a successful result the run is finished and the
 * non-streaming message built; an error result or a cut leaves that to the caller.
 */
static void run_transcript(const char *name, const RunOptions *opt, Run *ret) {
        _cleanup_free_ char *rel = NULL;
        json_auto_t *lines = NULL;
        ApiRequest req = { .kind = API_ANTHROPIC, .client_model = (char *) CLIENT_MODEL,
                           .cli = { .thinking = opt->thinking } };
        ApiEnv env = { .message_id = MESSAGE_ID };
        AnthropicStream *s = NULL;
        size_t first;

        *ret = (Run) { .events = json_array() };
        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        assert_true(asprintf(&rel, "transcripts/%s.ndjson", name) > 0);
        lines = fixture_lines(rel);
        first = final_turn_start(lines);
        for (size_t i = first; i < json_array_size(lines); i++) {
                const json_t *line = json_array_get(lines, i);
                size_t before = json_array_size(ret->events);
                CliEvent ev = {};

                if (opt->max_lines && i - first >= opt->max_lines)
                        break;
                assert_int_equal(cli_event_parse(json_string_value(line), json_string_length(line), &ev), 0);
                if (ev.type == CLI_EVENT_RESULT)
                        ret->result = json_incref(ev.root);
                if (!(opt->drop_stream_events && ev.type == CLI_EVENT_STREAM))
                        assert_int_equal(anthropic_stream_feed(s, &ev, ret->events), 0);
                /* anything produced before the start would never reach a streaming client */
                if (json_array_size(ret->events) > before && !anthropic_stream_started(s))
                        fail_msg("%s line %zu: %zu events before message_start", name, i,
                                 json_array_size(ret->events) - before);
                cli_event_done(&ev);
        }
        ret->started = anthropic_stream_started(s);
        if (ret->result && !json_is_true(json_object_get(ret->result, "is_error"))) {
                assert_int_equal(anthropic_stream_finish(s, ret->result, ret->events), 0);
                assert_int_equal(anthropic_stream_message(s, ret->result, &ret->message), 0);
        }
        anthropic_stream_free(s);
}

/*
 * The grammar of a Messages stream: message_start, then blocks with contiguous indices from 0,
 * each start, deltas, stop, never two open, then message_delta + message_stop, or on failure an
 * error event (with every opened block closed first). Returns the number of blocks.
 */
static size_t assert_sse_grammar(const json_t *events, bool expect_error, bool allow_thinking) {
        enum { BEFORE, IN_MESSAGE, AFTER_DELTA, DONE } st = BEFORE;
        long open = -1, next = 0;
        const json_t *ev;
        size_t i;

        json_array_foreach(events, i, ev) {
                const char *name = ev_name(ev);
                const json_t *data = ev_data(ev);
                long index = (long) json_integer_value(json_object_get(data, "index"));

                assert_non_null(name);
                assert_non_null(data);
                /* data.type always repeats the event name */
                assert_string_equal(json_string_value(json_object_get(data, "type")), name);
                assert_true(st != DONE);

                if (streq(name, "message_start")) {
                        const json_t *msg = json_object_get(data, "message");

                        assert_int_equal(st, BEFORE);
                        assert_string_equal(json_string_value(json_object_get(msg, "id")), MESSAGE_ID);
                        assert_string_equal(json_string_value(json_object_get(msg, "model")), CLIENT_MODEL);
                        assert_int_equal(json_array_size(json_object_get(msg, "content")), 0);
                        assert_true(json_is_object(json_object_get(msg, "usage")));
                        st = IN_MESSAGE;
                } else if (streq(name, "content_block_start")) {
                        const char *type = json_string_value(
                                json_object_get(json_object_get(data, "content_block"), "type"));

                        assert_int_equal(st, IN_MESSAGE);
                        assert_int_equal(open, -1);
                        assert_int_equal(index, next);
                        if (!allow_thinking)
                                assert_false(streq_ptr(type, "thinking") || streq_ptr(type, "redacted_thinking"));
                        open = index;
                        next++;
                } else if (streq(name, "content_block_delta")) {
                        const char *type = json_string_value(json_object_get(json_object_get(data, "delta"), "type"));

                        assert_int_equal(st, IN_MESSAGE);
                        assert_int_equal(index, open);
                        if (!allow_thinking)
                                assert_false(streq_ptr(type, "thinking_delta") ||
                                             streq_ptr(type, "signature_delta"));
                } else if (streq(name, "content_block_stop")) {
                        assert_int_equal(st, IN_MESSAGE);
                        assert_int_equal(index, open);
                        open = -1;
                } else if (streq(name, "message_delta")) {
                        const json_t *usage = json_object_get(data, "usage");

                        assert_int_equal(st, IN_MESSAGE);
                        assert_int_equal(open, -1);
                        assert_true(json_is_string(json_object_get(json_object_get(data, "delta"), "stop_reason")));
                        assert_true(json_is_integer(json_object_get(usage, "output_tokens")));
                        assert_true(json_is_integer(json_object_get(usage, "input_tokens")));
                        st = AFTER_DELTA;
                } else if (streq(name, "message_stop")) {
                        assert_int_equal(st, AFTER_DELTA);
                        st = DONE;
                } else if (streq(name, "error")) {
                        assert_true(expect_error);
                        assert_int_equal(open, -1);
                        assert_true(st == BEFORE || st == IN_MESSAGE);
                        assert_true(json_is_string(json_object_get(json_object_get(data, "error"), "type")));
                        assert_true(json_is_string(json_object_get(json_object_get(data, "error"), "message")));
                        st = DONE;
                } else
                        fail_msg("unexpected event '%s'", name);
        }
        assert_int_equal(st, DONE);
        return (size_t) next;
}

static size_t count_events(const json_t *events, const char *name) {
        const json_t *ev;
        size_t i, n = 0;

        json_array_foreach(events, i, ev)
                if (streq(ev_name(ev), name))
                        n++;
        return n;
}

static void string_append(json_t *obj, const char *key, const char *more) {
        _cleanup_free_ char *s = NULL;

        assert_true(asprintf(&s, "%s%s", json_string_value(json_object_get(obj, key)) ?: "", more ?: "") >= 0);
        assert_int_equal(json_object_set_new(obj, key, json_string(s)), 0);
}

/*
 * What a client's stream accumulator (the SDKs' MessageStream) makes of a complete stream: the
 * message_start message, the blocks as started plus their deltas, message_delta's stop reason
 * and usage. New reference.
 */
static json_t *accumulate(const json_t *events) {
        json_t *msg = NULL, *content = NULL, *partial = json_object();
        const json_t *ev;
        size_t i;

        json_array_foreach(events, i, ev) {
                const char *name = ev_name(ev);
                const json_t *data = ev_data(ev);
                json_t *block = json_array_get(content, (size_t) json_integer_value(json_object_get(data, "index")));
                const json_t *delta = json_object_get(data, "delta");
                const char *dtype = json_string_value(json_object_get(delta, "type"));
                char key[32];

                snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(data, "index")));
                if (streq(name, "message_start")) {
                        msg = json_deep_copy(json_object_get(data, "message"));
                        content = json_object_get(msg, "content");
                } else if (streq(name, "content_block_start"))
                        assert_int_equal(json_array_append_new(content,
                                                               json_deep_copy(json_object_get(data, "content_block"))), 0);
                else if (streq(name, "content_block_delta")) {
                        assert_non_null(block);
                        if (streq_ptr(dtype, "text_delta"))
                                string_append(block, "text", json_string_value(json_object_get(delta, "text")));
                        else if (streq_ptr(dtype, "thinking_delta"))
                                string_append(block, "thinking", json_string_value(json_object_get(delta, "thinking")));
                        else if (streq_ptr(dtype, "signature_delta"))
                                assert_int_equal(json_object_set(block, "signature", json_object_get(delta, "signature")), 0);
                        else if (streq_ptr(dtype, "input_json_delta"))
                                string_append(partial, key, json_string_value(json_object_get(delta, "partial_json")));
                        else
                                fail_msg("unknown delta type '%s'", dtype);
                } else if (streq(name, "content_block_stop")) {
                        const char *json = json_string_value(json_object_get(partial, key));

                        if (json)
                                assert_int_equal(json_object_set_new(block, "input", json_literal(json)), 0);
                } else if (streq(name, "message_delta")) {
                        assert_int_equal(json_object_update(msg, json_object_get(data, "delta")), 0);
                        assert_int_equal(json_object_update(json_object_get(msg, "usage"), json_object_get(data, "usage")), 0);
                }
        }
        json_decref(partial);
        return msg;
}

/* A successful run: a well-formed stream that adds up to the non-streaming message. */
static void check_ok(const char *name, const Run *run, bool thinking) {
        json_auto_t *rebuilt = NULL;

        if (!run->message)
                fail_msg("%s: the run did not finish", name);
        assert_true(run->started);
        (void) assert_sse_grammar(run->events, /* expect_error= */ false, thinking);
        rebuilt = accumulate(run->events);
        assert_json_equal(rebuilt, run->message);
        assert_string_equal(json_string_value(json_object_get(run->message, "id")), MESSAGE_ID);
        assert_string_equal(json_string_value(json_object_get(run->message, "model")), CLIENT_MODEL);
        assert_string_equal(json_string_value(json_object_get(run->message, "type")), "message");
        assert_string_equal(json_string_value(json_object_get(run->message, "role")), "assistant");
        assert_true(json_is_null(json_object_get(run->message, "stop_sequence")));
}

/* The message is one text block saying `text`, with the usage of the result line. */
static void check_text_message(const Run *run, const char *text, const char *stop_reason) {
        const json_t *content = json_object_get(run->message, "content");
        const json_t *usage = json_object_get(run->message, "usage");
        const json_t *result_usage = json_object_get(run->result, "usage");

        assert_int_equal(json_array_size(content), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "type")), "text");
        assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "text")), text);
        assert_string_equal(json_string_value(json_object_get(run->message, "stop_reason")), stop_reason);
        assert_int_equal(json_integer_value(json_object_get(usage, "input_tokens")),
                         json_integer_value(json_object_get(result_usage, "input_tokens")));
        assert_int_equal(json_integer_value(json_object_get(usage, "output_tokens")),
                         json_integer_value(json_object_get(result_usage, "output_tokens")));
}

static void test_text(void **state) {
        static const struct {
                const char *name;
                const char *text;
                size_t deltas;
        } cases[] = {
                { "text", "Hello! I am a scripted mock reply, streamed in several small chunks.", 6 },
                { "image", "A small red square.", 1 },
                /* the history turns' acknowledgements are not part of the answer */
                { "history", "Your name is Bob and you live in Paris.", 3 },
                /* the rate_limit_event (allowed_warning) after the message changes nothing */
                { "rate_limit_warning", "Hi.", 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Run run;

                run_transcript(cases[i].name, &(RunOptions) {}, &run);
                check_ok(cases[i].name, &run, false);
                check_text_message(&run, cases[i].text, "end_turn");
                assert_int_equal(count_events(run.events, "content_block_delta"), cases[i].deltas);
                /* message_start carries the upstream input tokens; output 1 as the API does */
                assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(
                                         ev_data(json_array_get(run.events, 0)), "message"), "usage"), "input_tokens")),
                                 json_integer_value(json_object_get(json_object_get(run.message, "usage"),
                                                                    "input_tokens")));
                run_done(&run);
        }
}

static void test_thinking(void **state) {
        Run on, off;
        const json_t *content;

        run_transcript("thinking", &(RunOptions) { .thinking = true }, &on);
        check_ok("thinking", &on, true);
        content = json_object_get(on.message, "content");
        assert_int_equal(json_array_size(content), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "type")), "thinking");
        assert_true(strlen(json_string_value(json_object_get(json_array_get(content, 0), "signature"))) > 0);
        assert_true(strlen(json_string_value(json_object_get(json_array_get(content, 0), "thinking"))) > 0);
        assert_string_equal(json_string_value(json_object_get(json_array_get(content, 1), "text")), "Hello there!");
        assert_int_equal(count_events(on.events, "content_block_start"), 2);

        /* dropped without a gap: the text block becomes index 0 (seed defect 6) */
        run_transcript("thinking", &(RunOptions) { .thinking = false }, &off);
        check_ok("thinking", &off, false);
        check_text_message(&off, "Hello there!", "end_turn");
        assert_int_equal(count_events(off.events, "content_block_start"), 1);
        assert_json_equal(json_array_get(json_object_get(off.message, "content"), 0), json_array_get(content, 1));
        assert_json_equal(json_object_get(off.message, "usage"), json_object_get(on.message, "usage"));
        run_done(&on);
        run_done(&off);
}

static void test_multi_message(void **state) {
        Run run;
        const json_t *delta, *content;
        _cleanup_free_ char *text = NULL;

        run_transcript("multi_message", &(RunOptions) {}, &run);
        check_ok("multi_message", &run, false);
        /* one message, both upstream messages' blocks renumbered 0, 1 (seed defect 7) */
        assert_int_equal(count_events(run.events, "message_start"), 1);
        assert_int_equal(count_events(run.events, "message_delta"), 1);
        assert_int_equal(count_events(run.events, "message_stop"), 1);
        assert_int_equal(assert_sse_grammar(run.events, false, false), 2);
        content = json_object_get(run.message, "content");
        assert_int_equal(json_array_size(content), 2);
        assert_true(asprintf(&text, "%s%s", json_string_value(json_object_get(json_array_get(content, 0), "text")),
                             json_string_value(json_object_get(json_array_get(content, 1), "text"))) > 0);
        assert_string_equal(text, "This answer was cut off because the limit was reached; here is the rest.");
        /* usage is the result's sum over both calls, not the last call's */
        delta = ev_data(json_array_get(run.events, json_array_size(run.events) - 2));
        assert_string_equal(ev_name(json_array_get(run.events, json_array_size(run.events) - 2)), "message_delta");
        assert_json_equal(json_object_get(delta, "usage"), json_object_get(run.message, "usage"));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(run.message, "usage"), "output_tokens")),
                         json_integer_value(json_object_get(json_object_get(run.result, "usage"), "output_tokens")));
        run_done(&run);
}

/* A slash command's output (cli/README §10) is an ordinary message too. */
static void test_slash_raw(void **state) {
        Run run;

        run_transcript("slash_raw", &(RunOptions) {}, &run);
        check_ok("slash_raw", &run, false);
        check_text_message(&run, "Got it.", "end_turn");
        run_done(&run);
}

/*
 * The result text alone (a slash command's output: a synthetic assistant line with no error tag
 * and a successful result, cli/README §10) still makes a one-block message.
 */
static void test_result_text_only(void **state) {
        static const char *const lines[] = {
                "{\"type\":\"system\",\"subtype\":\"init\"}",
                "{\"type\":\"assistant\",\"message\":{\"model\":\"<synthetic>\",\"content\":[{\"type\":"
                "\"text\",\"text\":\"Unknown command: /foo\"}]},\"error\":null}",
        };
        ApiRequest req = { .client_model = (char *) CLIENT_MODEL };
        ApiEnv env = { .message_id = MESSAGE_ID };
        AnthropicStream *s = NULL;
        json_auto_t *out = json_array(), *result = NULL, *message = NULL, *expected = NULL, *rebuilt = NULL;

        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                CliEvent ev = {};

                assert_int_equal(cli_event_parse(lines[i], strlen(lines[i]), &ev), 0);
                assert_int_equal(anthropic_stream_feed(s, &ev, out), 0);
                cli_event_done(&ev);
        }
        /* the synthetic line itself is not content */
        assert_int_equal(json_array_size(out), 0);
        result = json_literal("{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":0,"
                              "\"result\":\"Unknown command: /foo\",\"stop_reason\":null,\"usage\":{}}");
        assert_int_equal(anthropic_stream_finish(s, result, out), 0);
        assert_int_equal(assert_sse_grammar(out, false, false), 1);
        assert_int_equal(anthropic_stream_message(s, result, &message), 0);
        expected = json_literal(
                "{\"id\":\"" MESSAGE_ID "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"" CLIENT_MODEL "\","
                "\"content\":[{\"type\":\"text\",\"text\":\"Unknown command: /foo\"}],\"stop_reason\":\"end_turn\","
                "\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0,"
                "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}");
        assert_json_equal(message, expected);
        rebuilt = accumulate(out);
        assert_json_equal(rebuilt, message);
        anthropic_stream_free(s);
}

/* Without partial messages the assistant lines give the same message as the stream events. */
static void test_no_partial_messages(void **state) {
        static const char *const names[] = { "text", "thinking", "multi_message", "history" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                for (int thinking = 0; thinking <= 1; thinking++) {
                        Run partial, whole;

                        run_transcript(names[i], &(RunOptions) { .thinking = thinking }, &partial);
                        run_transcript(names[i], &(RunOptions) { .thinking = thinking, .drop_stream_events = true },
                                       &whole);
                        check_ok(names[i], &whole, thinking);
                        assert_json_equal(whole.message, partial.message);
                        run_done(&partial);
                        run_done(&whole);
                }
        }
}

/*
 * A run the API refused never starts a message, so the proxy can still answer with a real HTTP
 * status (which the SDKs turn into the right exception) instead of an SSE error event.
 */
static void test_errors(void **state) {
        static const char *const names[] = {
                "err_400", "err_401", "err_403", "err_404_model", "err_413", "err_429", "err_429_oauth_rejected",
                "err_500", "err_529", "err_connection_refused", "err_not_logged_in", "err_prompt_too_long",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                Run run;

                run_transcript(names[i], &(RunOptions) {}, &run);
                if (run.started || json_array_size(run.events) > 0)
                        fail_msg("%s: the refused run started a message (%zu events)", names[i],
                                 json_array_size(run.events));
                assert_true(json_is_true(json_object_get(run.result, "is_error")));
                run_done(&run);
        }
}

/* Fail a run whose CLI died after `max_lines` lines of `name`; returns the events. */
static json_t *run_cut(const char *name, size_t max_lines, bool *ret_started) {
        _cleanup_free_ char *rel = NULL;
        json_auto_t *lines = NULL;
        ApiRequest req = { .kind = API_ANTHROPIC, .client_model = (char *) CLIENT_MODEL };
        ApiEnv env = { .message_id = MESSAGE_ID };
        ApiError e = API_ERROR_NULL;
        AnthropicStream *s = NULL;
        json_t *out = json_array();

        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        assert_true(asprintf(&rel, "transcripts/%s.ndjson", name) > 0);
        lines = fixture_lines(rel);
        for (size_t i = 0; i < max_lines; i++) {
                const json_t *line = json_array_get(lines, i);
                CliEvent ev = {};

                assert_int_equal(cli_event_parse(json_string_value(line), json_string_length(line), &ev), 0);
                assert_int_equal(anthropic_stream_feed(s, &ev, out), 0);
                cli_event_done(&ev);
        }
        *ret_started = anthropic_stream_started(s);
        (void) api_error_set(&e, -ENOEXEC, 500, "api_error", "the CLI died");
        assert_int_equal(anthropic_stream_fail(s, &e, out), 0);
        api_error_done(&e);
        anthropic_stream_free(s);
        return out;
}

/* The CLI dies mid-stream: the open block is closed, then an error event, never message_stop. */
static void test_truncated(void **state) {
        json_auto_t *events = NULL;
        const json_t *err;
        bool started;

        /* text.ndjson: init, status, message_start, block_start, 3 of 6 deltas */
        events = run_cut("text", 7, &started);
        assert_true(started);
        assert_int_equal(assert_sse_grammar(events, true, false), 1);
        assert_int_equal(count_events(events, "content_block_delta"), 3);
        assert_int_equal(count_events(events, "message_delta") + count_events(events, "message_stop"), 0);
        assert_string_equal(ev_name(json_array_get(events, json_array_size(events) - 2)), "content_block_stop");
        err = json_object_get(ev_data(json_array_get(events, json_array_size(events) - 1)), "error");
        assert_string_equal(json_string_value(json_object_get(err, "type")), "api_error");
        assert_string_equal(json_string_value(json_object_get(err, "message")), "the CLI died");
        json_decref(events);

        /* thinking off, cut inside the dropped thinking block: nothing open, so no stop before the error */
        events = run_cut("thinking", 6, &started);
        assert_true(started);
        assert_int_equal(assert_sse_grammar(events, true, false), 0);
        assert_int_equal(json_array_size(events), 2);
        json_decref(events);

        /* cut before message_start: just the error (the proxy replies with an HTTP status instead) */
        events = run_cut("text", 2, &started);
        assert_false(started);
        assert_int_equal(json_array_size(events), 1);
        assert_string_equal(ev_name(json_array_get(events, 0)), "error");
}

static void test_ping_and_after_end(void **state) {
        ApiRequest req = { .client_model = (char *) CLIENT_MODEL };
        ApiEnv env = { .message_id = MESSAGE_ID };
        AnthropicStream *s = NULL;
        json_auto_t *out = json_array(), *expected = NULL, *result = NULL;
        ApiError e = API_ERROR_NULL;
        CliEvent ev = {};
        const char *line = "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{}}}";

        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        assert_false(anthropic_stream_started(s));
        assert_int_equal(anthropic_stream_ping(s, out), 0);
        expected = json_literal("[{\"event\":\"ping\",\"data\":{\"type\":\"ping\"}}]");
        assert_json_equal(out, expected);

        /* an upstream ping is not forwarded: we make our own */
        assert_int_equal(cli_event_parse(line, strlen(line), &ev), 0);
        assert_int_equal(anthropic_stream_feed(s, &ev, out), 0);
        cli_event_done(&ev);
        assert_true(anthropic_stream_started(s));
        line = "{\"type\":\"stream_event\",\"event\":{\"type\":\"ping\"}}";
        assert_int_equal(cli_event_parse(line, strlen(line), &ev), 0);
        assert_int_equal(anthropic_stream_feed(s, &ev, out), 0);
        assert_int_equal(json_array_size(out), 2);

        /* after fail() nothing more comes out, not even a second error */
        (void) api_error_set(&e, 0, 504, "timeout_error", "late");
        assert_int_equal(anthropic_stream_fail(s, &e, out), 0);
        assert_int_equal(json_array_size(out), 3);
        assert_int_equal(anthropic_stream_fail(s, &e, out), 0);
        result = json_literal("{\"type\":\"result\",\"is_error\":false,\"usage\":{}}");
        assert_int_equal(anthropic_stream_finish(s, result, out), 0);
        assert_int_equal(anthropic_stream_feed(s, &ev, out), 0);
        assert_int_equal(json_array_size(out), 3);
        cli_event_done(&ev);
        assert_null(anthropic_stream_free(s));
        assert_null(anthropic_stream_free(NULL));
}

/* Tool use blocks: input assembled from input_json_delta pieces, indices renumbered across messages. */
static void test_tool_use(void **state) {
        static const char *const lines[] = {
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{\"id\":\"msg_up1\","
                "\"model\":\"claude-sonnet-5\",\"usage\":{\"input_tokens\":100,\"output_tokens\":1}}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":0,"
                "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"add\",\"input\":{}}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
                "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": \"}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
                "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"2, \\\"b\\\": 3}\"}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_stop\",\"index\":0}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":20}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_stop\"}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{\"id\":\"msg_up2\"}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":0,"
                "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
                "\"delta\":{\"type\":\"text_delta\",\"text\":\"5\"}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_stop\",\"index\":0}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}}",
                "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_stop\"}}",
        };
        ApiRequest req = { .client_model = (char *) CLIENT_MODEL };
        ApiEnv env = { .message_id = MESSAGE_ID };
        AnthropicStream *s = NULL;
        json_auto_t *out = json_array(), *result = NULL, *message = NULL, *expected = NULL, *rebuilt = NULL;

        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                CliEvent ev = {};

                assert_int_equal(cli_event_parse(lines[i], strlen(lines[i]), &ev), 0);
                assert_int_equal(anthropic_stream_feed(s, &ev, out), 0);
                cli_event_done(&ev);
        }
        result = json_literal("{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"stop_reason\":"
                              "\"end_turn\",\"usage\":{\"input_tokens\":220,\"output_tokens\":32,"
                              "\"cache_read_input_tokens\":7}}");
        assert_int_equal(anthropic_stream_finish(s, result, out), 0);
        assert_int_equal(assert_sse_grammar(out, false, false), 2);
        assert_int_equal(anthropic_stream_message(s, result, &message), 0);
        expected = json_literal(
                "{\"id\":\"" MESSAGE_ID "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"" CLIENT_MODEL "\","
                "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"add\",\"input\":{\"a\":2,\"b\":3}},"
                "{\"type\":\"text\",\"text\":\"5\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                "\"usage\":{\"input_tokens\":220,\"output_tokens\":32,\"cache_creation_input_tokens\":0,"
                "\"cache_read_input_tokens\":7}}");
        assert_json_equal(message, expected);
        rebuilt = accumulate(out);
        assert_json_equal(rebuilt, message);
        anthropic_stream_free(s);
}

/* Upstream grammar breaks: deltas for blocks never started are dropped; absurd indices fail the run. */
static void test_bad_indices(void **state) {
        static const struct {
                const char *line;
                int r;
                size_t n_out;   /* events in `out` afterwards */
        } steps[] = {
                /* before message_start: nothing to attach to */
                { "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":0,"
                  "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}}", 0, 0 },
                { "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{}}}", 0, 1 },
                { "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":5,"
                  "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}}", 0, 1 },
                { "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_stop\",\"index\":\"0\"}}", 0, 1 },
                { "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":1000000000,"
                  "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}}", -EBADMSG, 1 },
                /* a block opened after the bad one still gets index 0 */
                { "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":3,"
                  "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}}", 0, 2 },
        };
        ApiRequest req = { .client_model = (char *) CLIENT_MODEL };
        ApiEnv env = { .message_id = MESSAGE_ID };
        AnthropicStream *s = NULL;
        json_auto_t *out = json_array();

        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                CliEvent ev = {};

                assert_int_equal(cli_event_parse(steps[i].line, strlen(steps[i].line), &ev), 0);
                assert_int_equal(anthropic_stream_feed(s, &ev, out), steps[i].r);
                assert_int_equal(json_array_size(out), steps[i].n_out);
                cli_event_done(&ev);
        }
        assert_int_equal(json_integer_value(json_object_get(ev_data(json_array_get(out, 1)), "index")), 0);
        anthropic_stream_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text),
                cmocka_unit_test(test_thinking),
                cmocka_unit_test(test_multi_message),
                cmocka_unit_test(test_slash_raw),
                cmocka_unit_test(test_result_text_only),
                cmocka_unit_test(test_no_partial_messages),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_ping_and_after_end),
                cmocka_unit_test(test_tool_use),
                cmocka_unit_test(test_bad_indices),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
