/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Invariants the fuzz targets assert on what the code under test returns, so a corpus replay
 * (and the fuzzer) tests more than "no crash": a broken invariant abort()s, which the replay
 * driver reports as a failed test and libFuzzer as a crash, with the input's name printed
 * before it. Header-only: the replay binaries and the libFuzzer builds compile it the same way.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "util/macro.h"

#define FUZZ_CHECK(cond, ...)                                                                   \
        do {                                                                                    \
                if (!(cond)) {                                                                  \
                        fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__,    \
                                #cond);                                                         \
                        fprintf(stderr, __VA_ARGS__);                                           \
                        fputc('\n', stderr);                                                    \
                        abort();                                                                \
                }                                                                               \
        } while (0)

/* FUZZ_CHECK without a message: unlike assert(), never compiled out (-Db_ndebug). */
#define FUZZ_ASSERT(cond) FUZZ_CHECK(cond, "%s", "see the condition")

static inline bool fuzz_is_nonempty_string(const json_t *j) {
        return json_is_string(j) && json_string_length(j) > 0;
}

/* An ApiError as the I/O side would send it: an HTTP error status, a type and a message. */
static inline void fuzz_check_api_error(ApiKind kind, const ApiError *err) {
        json_auto_t *body = NULL;

        FUZZ_CHECK(err->status >= 400 && err->status <= 599, "status %d", err->status);
        FUZZ_CHECK(err->type && err->type[0], "status %d without an error type", err->status);
        FUZZ_CHECK(err->message[0], "%d %s without a message", err->status, err->type);
        FUZZ_CHECK(api_error_to_json(kind, err, &body) >= 0 && body, "no error body");
        if (kind == API_ANTHROPIC) {
                const json_t *e = json_object_get(body, "error");

                FUZZ_CHECK(streq_ptr(json_string_value(json_object_get(body, "type")), "error"),
                           "envelope type is not \"error\"");
                FUZZ_CHECK(streq_ptr(json_string_value(json_object_get(e, "type")), err->type),
                           "envelope error.type differs from %s", err->type);
                FUZZ_CHECK(fuzz_is_nonempty_string(json_object_get(e, "message")), "envelope without a message");
        } else {
                /* OpenAI's envelope: {"error":{"message","type","param","code"}}, param and code
                 * present (null allowed), as the OpenAI SDKs read them. */
                const json_t *e = json_object_get(body, "error");

                FUZZ_CHECK(json_object_size(body) == 1 && json_is_object(e), "not an OpenAI error envelope");
                FUZZ_CHECK(fuzz_is_nonempty_string(json_object_get(e, "message")), "envelope without a message");
                FUZZ_CHECK(fuzz_is_nonempty_string(json_object_get(e, "type")), "envelope without a type");
                FUZZ_CHECK(json_object_get(e, "param") && json_object_get(e, "code"), "envelope without param/code");
        }
}

/*
 * An accepted request as session.c hands it to the CLI: an argv led by the CLI path, and stdin
 * lines that each serialise to one line, each with a type, the last one the user turn that
 * queries the model.
 */
static inline void fuzz_check_cli_request(const CliRequest *cli) {
        _cleanup_strv_free_ char **argv = NULL;
        json_auto_t *lines = NULL;
        const json_t *line;
        size_t i, n;

        FUZZ_CHECK(cli_request_build_argv(cli, "/usr/bin/claude", "/run/claude-proxy/sp.txt", &argv) >= 0 && argv,
                   "no argv for an accepted request");
        FUZZ_CHECK(streq_ptr(argv[0], "/usr/bin/claude"), "argv[0] is '%s'", argv[0]);
        FUZZ_CHECK(cli_request_build_input(cli, &lines) >= 0 && json_is_array(lines),
                   "no stdin lines for an accepted request");
        n = json_array_size(lines);
        FUZZ_CHECK(n > 0, "no stdin lines");
        json_array_foreach(lines, i, line) {
                /* The writer serialises each line; that must hold for any parsed input. */
                _cleanup_free_ char *text = json_dumps(line, JSON_COMPACT);

                FUZZ_CHECK(text && !strchr(text, '\n'), "line %zu does not serialise to one line", i);
                FUZZ_CHECK(json_is_string(json_object_get(line, "type")), "line %zu has no type", i);
                if (i + 1 == n)
                        FUZZ_CHECK(!cli_input_line_awaits_result(line) &&
                                   streq_ptr(json_string_value(json_object_get(line, "type")), "user"),
                                   "the last stdin line is not the user turn that queries");
        }
}

/*
 * A complete Anthropic SSE event sequence ({"event","data"} objects, as the translator appends
 * them): optional pings anywhere; message_start first and once; content blocks with contiguous
 * indices from 0, each started, given deltas and stopped without interleaving; then either one
 * message_delta and message_stop (`finished`), or an error event with every block closed (which
 * may be the only event, when the failure came before anything started). Nothing after the end.
 * Returns the number of content blocks.
 */
static inline size_t fuzz_check_anthropic_events(const json_t *events, bool finished) {
        bool started = false, saw_delta = false, ended = false;
        long open = -1, next = 0;
        const char *last = NULL;
        const json_t *ev;
        size_t i;

        FUZZ_CHECK(json_is_array(events), "events are not an array");
        json_array_foreach(events, i, ev) {
                const char *name = json_string_value(json_object_get(ev, "event"));
                const json_t *data = json_object_get(ev, "data");
                const json_t *index = json_object_get(data, "index");

                FUZZ_CHECK(name && json_is_object(data), "event %zu has no name or no data object", i);
                FUZZ_CHECK(streq_ptr(json_string_value(json_object_get(data, "type")), name),
                           "event %zu: data.type differs from '%s'", i, name);
                if (streq(name, "ping"))
                        continue;
                FUZZ_CHECK(!ended, "event %zu '%s' after the stream ended with '%s'", i, name, last);
                last = name;
                if (streq(name, "message_start")) {
                        FUZZ_CHECK(!started && open < 0 && next == 0, "message_start at event %zu is not first", i);
                        FUZZ_CHECK(json_is_object(json_object_get(data, "message")), "message_start without message");
                        started = true;
                } else if (streq(name, "content_block_start")) {
                        FUZZ_CHECK(started && !saw_delta, "content_block_start at event %zu out of place", i);
                        FUZZ_CHECK(open < 0, "block started at event %zu while block %ld is open", i, open);
                        FUZZ_CHECK(json_is_integer(index) && json_integer_value(index) == next,
                                   "block index at event %zu is not %ld", i, next);
                        FUZZ_CHECK(json_is_object(json_object_get(data, "content_block")), "no content_block");
                        open = next++;
                } else if (streq(name, "content_block_delta") || streq(name, "content_block_stop")) {
                        FUZZ_CHECK(open >= 0 && json_is_integer(index) && json_integer_value(index) == open,
                                   "%s at event %zu is not for the open block %ld", name, i, open);
                        /* A delta's body is the CLI's, passed through: only its place is ours. */
                        if (streq(name, "content_block_stop"))
                                open = -1;
                } else if (streq(name, "message_delta")) {
                        FUZZ_CHECK(started && open < 0 && !saw_delta, "message_delta at event %zu out of place", i);
                        saw_delta = true;
                } else if (streq(name, "message_stop")) {
                        FUZZ_CHECK(saw_delta, "message_stop at event %zu without message_delta", i);
                        ended = true;
                } else if (streq(name, "error")) {
                        const json_t *e = json_object_get(data, "error");

                        FUZZ_CHECK(open < 0, "error event at %zu with block %ld open", i, open);
                        FUZZ_CHECK(fuzz_is_nonempty_string(json_object_get(e, "type")) &&
                                   json_is_string(json_object_get(e, "message")), "malformed error event");
                        ended = true;
                } else
                        FUZZ_CHECK(false, "unknown event '%s' at %zu", name, i);
        }
        if (finished)
                FUZZ_CHECK(started && ended && streq_ptr(last, "message_stop"),
                           "a finished stream ends with '%s', not message_stop", last ?: "(nothing)");
        else
                FUZZ_CHECK(ended && streq_ptr(last, "error"), "a failed stream ends with '%s', not error",
                           last ?: "(nothing)");
        return (size_t) next;
}
