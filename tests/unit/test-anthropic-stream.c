/* SPDX-License-Identifier: MIT */

/*
 * The Anthropic stream translator over recorded CLI runs: each transcript goes through
 * cli_event_parse -> (cli_outcome_feed, anthropic_stream_feed) -> classify -> finish or fail,
 * the way session.c drives it. The produced SSE events and the non-streaming message are
 * compared with golden files (tests/data/expected/stream-*.json), and every stream is also
 * checked against the Messages SSE grammar, so a wrong golden file cannot hide a broken stream.
 *
 * TEST_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing (review the diff!).
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
        json_t *message;        /* non-streaming body, NULL when the run failed */
        int classify;           /* cli_outcome_classify() result */
        ApiError error;
        bool started_before_end;
} Run;

static void run_done(Run *run) {
        json_decref(run->events);
        json_decref(run->message);
        api_error_done(&run->error);
        *run = (Run) {};
}

typedef struct RunOptions {
        bool thinking;
        size_t max_lines;       /* 0: all; else stop feeding after this many lines (crash mid-stream) */
        bool drop_stream_events;/* pretend --include-partial-messages was off */
} RunOptions;

/* Drive one transcript the way session.c does. */
static void run_transcript(const char *name, const RunOptions *opt, Run *ret) {
        _cleanup_free_ char *rel = NULL;
        json_auto_t *lines = NULL;
        const json_t *line;
        ApiRequest req = { .kind = API_ANTHROPIC, .client_model = (char *) CLIENT_MODEL,
                           .cli = { .thinking = opt->thinking } };
        ApiEnv env = { .message_id = MESSAGE_ID };
        AnthropicStream *s = NULL;
        CliOutcome o = {};
        CliExit x = { .exited = true, .code = 0 };
        size_t i;

        *ret = (Run) { .events = json_array() };
        assert_int_equal(anthropic_stream_new(&s, &req, &env), 0);
        assert_true(asprintf(&rel, "transcripts/%s.ndjson", name) > 0);
        lines = fixture_lines(rel);
        json_array_foreach(lines, i, line) {
                CliEvent ev = {};

                if (opt->max_lines && i >= opt->max_lines)
                        break;
                assert_int_equal(cli_event_parse(json_string_value(line), json_string_length(line), &ev), 0);
                if (!(opt->drop_stream_events && ev.type == CLI_EVENT_STREAM)) {
                        cli_outcome_feed(&o, &ev);
                        assert_int_equal(anthropic_stream_feed(s, &ev, ret->events), 0);
                }
                cli_event_done(&ev);
        }
        if (opt->max_lines)
                /* SIGTERM'd CLI (cli/README §13) */
                x.code = 143;
        else if (o.result && json_is_true(json_object_get(o.result, "is_error")))
                x.code = 1;

        ret->started_before_end = anthropic_stream_started(s);
        ret->classify = cli_outcome_classify(&o, &x, NULL, &ret->error);
        if (ret->classify == 0) {
                assert_int_equal(anthropic_stream_finish(s, o.result, ret->events), 0);
                assert_int_equal(anthropic_stream_message(s, o.result, &ret->message), 0);
        } else
                assert_int_equal(anthropic_stream_fail(s, &ret->error, ret->events), 0);
        cli_outcome_done(&o);
        anthropic_stream_free(s);
}

static const char *ev_name(const json_t *ev) {
        return json_string_value(json_object_get(ev, "event"));
}

static const json_t *ev_data(const json_t *ev) {
        return json_object_get(ev, "data");
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

static void check_run(const char *golden, const char *name, const RunOptions *opt, Run *run) {
        _cleanup_free_ char *g = NULL;

        run_transcript(name, opt, run);
        assert_int_equal(run->classify, 0);
        (void) assert_sse_grammar(run->events, /* expect_error= */ false, opt->thinking);
        assert_true(asprintf(&g, "stream-%s", golden) > 0);
        check_golden(g, run->events);
        free(g);
        g = NULL;
        assert_true(asprintf(&g, "stream-%s.message", golden) > 0);
        check_golden(g, run->message);
}

static void test_text(void **state) {
        Run run;

        check_run("text", "text", &(RunOptions) {}, &run);
        assert_int_equal(count_events(run.events, "content_block_delta"), 6);
        assert_string_equal(json_string_value(json_object_get(
                                    json_array_get(json_object_get(run.message, "content"), 0), "text")),
                            "Hello! I am a scripted mock reply, streamed in several small chunks.");
        assert_string_equal(json_string_value(json_object_get(run.message, "stop_reason")), "end_turn");
        assert_string_equal(json_string_value(json_object_get(run.message, "model")), CLIENT_MODEL);
        run_done(&run);

        check_run("image", "image", &(RunOptions) {}, &run);
        run_done(&run);
        check_run("history", "history", &(RunOptions) {}, &run);
        run_done(&run);
        check_run("rate_limit_warning", "rate_limit_warning", &(RunOptions) {}, &run);
        run_done(&run);
}

static void test_thinking(void **state) {
        Run on, off;
        const json_t *content;

        check_run("thinking", "thinking", &(RunOptions) { .thinking = true }, &on);
        content = json_object_get(on.message, "content");
        assert_int_equal(json_array_size(content), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "type")), "thinking");
        assert_true(strlen(json_string_value(json_object_get(json_array_get(content, 0), "signature"))) > 0);
        assert_true(strlen(json_string_value(json_object_get(json_array_get(content, 0), "thinking"))) > 0);

        /* dropped without a gap: the text block becomes index 0 (seed defect 6) */
        check_run("thinking-off", "thinking", &(RunOptions) { .thinking = false }, &off);
        content = json_object_get(off.message, "content");
        assert_int_equal(json_array_size(content), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "type")), "text");
        assert_int_equal(count_events(off.events, "content_block_start"), 1);
        assert_json_equal(json_array_get(content, 0), json_array_get(json_object_get(on.message, "content"), 1));
        run_done(&on);
        run_done(&off);
}

static void test_multi_message(void **state) {
        Run run;
        const json_t *delta;

        check_run("multi_message", "multi_message", &(RunOptions) {}, &run);
        /* one message, both upstream messages' blocks renumbered 0, 1 (seed defect 7) */
        assert_int_equal(count_events(run.events, "message_start"), 1);
        assert_int_equal(count_events(run.events, "message_delta"), 1);
        assert_int_equal(count_events(run.events, "message_stop"), 1);
        assert_int_equal(assert_sse_grammar(run.events, false, false), 2);
        assert_int_equal(json_array_size(json_object_get(run.message, "content")), 2);
        /* usage is the result's sum over both calls, not the last call's */
        delta = ev_data(json_array_get(run.events, json_array_size(run.events) - 2));
        assert_string_equal(ev_name(json_array_get(run.events, json_array_size(run.events) - 2)), "message_delta");
        assert_json_equal(json_object_get(delta, "usage"), json_object_get(run.message, "usage"));
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
        json_auto_t *out = json_array(), *result = NULL, *message = NULL, *expected = NULL;

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
                        assert_int_equal(whole.classify, 0);
                        (void) assert_sse_grammar(whole.events, false, thinking);
                        assert_json_equal(whole.message, partial.message);
                        run_done(&partial);
                        run_done(&whole);
                }
        }
}

static void test_errors(void **state) {
        static const struct {
                const char *name;
                const char *type;
        } cases[] = {
                { "err_400", "invalid_request_error" },
                { "err_401", "api_error" },
                { "err_429_oauth_rejected", "rate_limit_error" },
                { "err_529", "overloaded_error" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *g = NULL;
                Run run;

                run_transcript(cases[i].name, &(RunOptions) {}, &run);
                assert_int_equal(run.classify, -EPROTO);
                /* nothing streamed yet: the I/O side answers with a real HTTP status */
                assert_false(run.started_before_end);
                assert_int_equal(json_array_size(run.events), 1);
                (void) assert_sse_grammar(run.events, true, false);
                assert_string_equal(json_string_value(json_object_get(
                                            json_object_get(ev_data(json_array_get(run.events, 0)), "error"), "type")),
                                    cases[i].type);
                assert_true(asprintf(&g, "stream-%s", cases[i].name) > 0);
                check_golden(g, run.events);
                run_done(&run);
        }
}

/* The CLI dies mid-stream (SIGTERM, exit 143): open block closed, then an error event, never message_stop. */
static void test_truncated(void **state) {
        Run run;

        /* text.ndjson: init, status, message_start, block_start, 3 of 6 deltas */
        run_transcript("text", &(RunOptions) { .max_lines = 7 }, &run);
        assert_int_equal(run.classify, -ENOEXEC);
        assert_true(run.started_before_end);
        assert_int_equal(assert_sse_grammar(run.events, true, false), 1);
        assert_int_equal(count_events(run.events, "message_stop"), 0);
        assert_string_equal(ev_name(json_array_get(run.events, json_array_size(run.events) - 2)), "content_block_stop");
        check_golden("stream-text-truncated", run.events);
        run_done(&run);

        /* thinking off, cut inside the dropped thinking block: nothing open, so no stop before the error */
        run_transcript("thinking", &(RunOptions) { .max_lines = 6 }, &run);
        assert_true(run.started_before_end);
        assert_int_equal(assert_sse_grammar(run.events, true, false), 0);
        assert_int_equal(json_array_size(run.events), 2);
        run_done(&run);

        /* cut before message_start: just the error */
        run_transcript("text", &(RunOptions) { .max_lines = 2 }, &run);
        assert_false(run.started_before_end);
        assert_int_equal(json_array_size(run.events), 1);
        assert_string_equal(ev_name(json_array_get(run.events, 0)), "error");
        run_done(&run);
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
        json_auto_t *out = json_array(), *result = NULL, *message = NULL, *expected = NULL;

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
