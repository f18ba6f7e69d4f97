/* SPDX-License-Identifier: MIT */

/*
 * The Chat Completions translators at their own level: request bodies -> the CliRequest the CLI
 * side gets (messages as Anthropic blocks, system text, effort, thinking, n, advisory names,
 * 400s with their param), and recorded CLI runs -> chunks, by hand against what openai.h
 * promises: role first, one finish_reason per choice, choices told apart by index, the usage
 * chunk summing all runs, [DONE] last and only on success.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/openai.h"
#include "helpers.h"
#include "util/macro.h"

#define CHAT_ID "chatcmpl-test000000000000000001"

static ApiEnv test_env(void) {
        return (ApiEnv) {
                .message_id = CHAT_ID,
                .created = 1700000000,
                .default_model = "sonnet",
                .system_prompt_mode = SYSTEM_PROMPT_USER,
        };
}

static int parse(const char *body, ApiRequest *req, ApiError *err) {
        json_auto_t *j = json_literal(body);
        ApiEnv env = test_env();

        *req = (ApiRequest) {};
        *err = API_ERROR_NULL;
        return openai_chat_request_parse(j, &env, req, err);
}

static void assert_bad(const char *body, const char *param, const char *needle) {
        ApiRequest req;
        ApiError err;

        assert_int_equal(parse(body, &req, &err), -EINVAL);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.type, "invalid_request_error");
        assert_string_equal(err.param, param);
        if (!strstr(err.message, needle))
                fail_msg("message '%s' does not say '%s'", err.message, needle);
        api_error_done(&err);
}

static void test_request_simple(void **state) {
        ApiRequest req;
        ApiError err;

        assert_int_equal(parse("{\"model\":\"claude-sonnet-4\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
                               &req, &err), 0);
        assert_int_equal(req.kind, API_OPENAI);
        assert_false(req.stream);
        assert_int_equal(req.n, 1);
        assert_string_equal(req.client_model, "claude-sonnet-4");
        assert_string_equal(req.cli.model, "sonnet");
        assert_null(req.unsupported);
        assert_null(req.cli.system_prompt);
        assert_false(req.cli.thinking);
        json_auto_t *want = json_literal("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hello\"}]}]");
        assert_json_equal(req.cli.messages, want);
        api_request_done(&req);
}

static void test_request_conversation(void **state) {
        ApiRequest req;
        ApiError err;

        assert_int_equal(
                parse("{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"n\":3,"
                      "\"temperature\":0.2,\"logprobs\":false,\"tools\":[],\"reasoning_effort\":\"minimal\","
                      "\"messages\":["
                      "{\"role\":\"system\",\"content\":\"Be brief.\"},"
                      "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Use French.\"}]},"
                      "{\"role\":\"user\",\"name\":\"bob\",\"content\":[{\"type\":\"text\",\"text\":\"Look\"},"
                      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/PNG;base64,iVBO\"}},"
                      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\",\"detail\":\"low\"}},"
                      "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\",\"file_data\":\"data:application/pdf;base64,JVBE\"}}]},"
                      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
                      "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
                      "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"},"
                      "{\"role\":\"user\",\"content\":\"Thanks\"}]}",
                      &req, &err),
                0);
        assert_true(req.stream);
        assert_true(req.include_usage);
        assert_int_equal(req.n, 3);
        /* unknown model names take DEFAULT_MODEL, the client's name is echoed */
        assert_string_equal(req.cli.model, "sonnet");
        assert_string_equal(req.client_model, "gpt-4o");
        assert_string_equal(req.unsupported, "temperature,logprobs");
        assert_string_equal(req.cli.system_prompt, "Be brief.\n\nUse French.");
        assert_true(req.cli.thinking);
        assert_string_equal(req.cli.effort, "low");
        json_auto_t *want = json_literal(
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Look\"},"
                "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBO\"}},"
                "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://example.com/a.png\"}},"
                "{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"JVBE\"}}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"mcp__cp__get_weather\","
                "\"input\":{\"city\":\"Paris\"}}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":\"sunny\"},"
                "{\"type\":\"text\",\"text\":\"Thanks\"}]}]");
        assert_json_equal(req.cli.messages, want);

        /* the CLI side accepts it as history: tool_use and tool_result blocks are forwarded */
        json_auto_t *lines = NULL;
        assert_int_equal(cli_request_build_input(&req.cli, &lines), 0);
        assert_true(json_array_size(lines) >= 3);
        api_request_done(&req);
}

static void test_request_effort(void **state) {
        ApiRequest req;
        ApiError err;

        assert_int_equal(parse("{\"model\":\"m\",\"reasoning_effort\":\"none\",\"messages\":[{\"role\":\"user\","
                               "\"content\":\"x\"}]}", &req, &err), 0);
        assert_false(req.cli.thinking);
        assert_null(req.cli.effort);
        api_request_done(&req);
        assert_int_equal(parse("{\"model\":\"m\",\"reasoning_effort\":\"HIGH\",\"messages\":[{\"role\":\"user\","
                               "\"content\":\"x\"}]}", &req, &err), 0);
        assert_true(req.cli.thinking);
        assert_string_equal(req.cli.effort, "high");
        api_request_done(&req);
}

static void test_request_errors(void **state) {
        assert_bad("[]", "", "JSON object");
        assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model", "required");
        assert_bad("{\"model\":\"m\",\"messages\":[]}", "messages", "non-empty");
        assert_bad("{\"model\":\"m\",\"logprobs\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "logprobs", "log probabilities");
        assert_bad("{\"model\":\"m\",\"n\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "n", "integer");
        assert_bad("{\"model\":\"m\",\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
                   "\"content\":\"x\"}]}", "stream_options", "stream is true");
        assert_bad("{\"model\":\"m\",\"reasoning_effort\":\"huge\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "reasoning_effort", "invalid effort");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\","
                   "\"content\":\"y\"}]}", "messages", "prefilled");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "messages",
                   "at least one user");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}", "messages.0.role",
                   "must be");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                   "\"image_url\":{\"url\":\"data:image/tiff;base64,AAAA\"}}]}]}",
                   "messages.0.content.0.image_url.url", "unsupported image type");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                   "\"image_url\":{\"url\":\"ftp://x/a.png\"}}]}]}", "messages.0.content.0.image_url.url", "http(s)");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\","
                   "\"file\":{\"file_id\":\"file-1\"}}]}]}", "messages.0.content.0.file.file_data", "Files API");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
                   "messages.0.content.0", "input_audio");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\","
                   "\"tool_calls\":[{\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]},"
                   "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"r\"}]}",
                   "messages.1.tool_calls", "JSON object");
        assert_bad("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"tool\","
                   "\"content\":\"r\"}]}", "messages.1.tool_call_id", "required");
}

/* ---- the stream side ---------------------------------------------------------------------- */

/* Lines of a recording's only turn, fed as choice `index`. */
static void feed_transcript(OpenAIChatStream *s, unsigned index, const char *name, json_t *frames, json_t **ret_result) {
        _cleanup_free_ char *rel = NULL;
        json_auto_t *lines = NULL;

        assert_true(asprintf(&rel, "transcripts/%s.ndjson", name) > 0);
        lines = fixture_lines(rel);
        for (size_t i = 0; i < json_array_size(lines); i++) {
                const json_t *line = json_array_get(lines, i);
                CliEvent ev = {};

                assert_int_equal(cli_event_parse(json_string_value(line), json_string_length(line), &ev), 0);
                if (ev.type == CLI_EVENT_RESULT)
                        *ret_result = json_incref(ev.root);
                assert_int_equal(openai_chat_stream_feed(s, index, &ev, frames), 0);
                cli_event_done(&ev);
        }
}

typedef struct ChoiceSeen {
        char content[4096], reasoning[4096];
        unsigned role_chunks, finish_chunks;
        bool content_before_reasoning;
} ChoiceSeen;

/* Check every frame's chunk shape and add up what each choice said. Returns frames after [DONE]. */
static void read_frames(const json_t *frames, ChoiceSeen *seen, unsigned n, const json_t **ret_usage, bool *ret_done) {
        size_t i;
        const json_t *f;

        *ret_done = false;
        json_array_foreach(frames, i, f) {
                const json_t *chunk = json_object_get(f, "data"), *c;
                size_t k;

                assert_false(*ret_done);        /* nothing after [DONE] */
                if (json_is_true(json_object_get(f, "done"))) {
                        *ret_done = true;
                        continue;
                }
                assert_non_null(chunk);
                assert_string_equal(json_string_value(json_object_get(chunk, "id")), CHAT_ID);
                assert_string_equal(json_string_value(json_object_get(chunk, "object")), "chat.completion.chunk");
                assert_int_equal(json_integer_value(json_object_get(chunk, "created")), 1700000000);
                if (json_array_size(json_object_get(chunk, "choices")) == 0) {
                        *ret_usage = json_object_get(chunk, "usage");
                        continue;
                }
                json_array_foreach(json_object_get(chunk, "choices"), k, c) {
                        unsigned index = (unsigned) json_integer_value(json_object_get(c, "index"));
                        const json_t *d = json_object_get(c, "delta");
                        ChoiceSeen *cs;

                        assert_true(index < n);
                        cs = &seen[index];
                        /* nothing for a choice before its role chunk, nothing after its finish */
                        assert_int_equal(cs->finish_chunks, 0);
                        if (json_object_get(d, "role")) {
                                assert_int_equal(cs->role_chunks, 0);
                                cs->role_chunks++;
                        } else
                                assert_int_equal(cs->role_chunks, 1);
                        if (json_is_string(json_object_get(c, "finish_reason")))
                                cs->finish_chunks++;
                        if (json_string_value(json_object_get(d, "content")))
                                strncat(cs->content, json_string_value(json_object_get(d, "content")),
                                        sizeof(cs->content) - strlen(cs->content) - 1);
                        if (json_string_value(json_object_get(d, "reasoning_content"))) {
                                if (cs->content[0])
                                        cs->content_before_reasoning = true;
                                strncat(cs->reasoning, json_string_value(json_object_get(d, "reasoning_content")),
                                        sizeof(cs->reasoning) - strlen(cs->reasoning) - 1);
                        }
                }
        }
}

static void test_stream_n2_usage(void **state) {
        ApiRequest req = { .kind = API_OPENAI, .client_model = (char *) "my-model", .n = 2, .include_usage = true };
        ApiEnv env = test_env();
        OpenAIChatStream *s = NULL;
        json_auto_t *frames = json_array(), *r0 = NULL, *r1 = NULL, *body = NULL;
        ChoiceSeen seen[2] = {};
        const json_t *usage = NULL;
        bool done;

        assert_int_equal(openai_chat_stream_new(&s, &req, &env), 0);
        assert_false(openai_chat_stream_started(s));
        feed_transcript(s, 1, "text", frames, &r1);
        assert_true(openai_chat_stream_started(s));
        feed_transcript(s, 0, "text", frames, &r0);
        assert_non_null(r0);
        assert_int_equal(openai_chat_stream_finish(s, 1, r1, frames), 0);
        /* one choice finished: no usage, no [DONE] yet */
        read_frames(frames, seen, 2, &usage, &done);
        assert_false(done);
        assert_null(usage);
        assert_int_equal(openai_chat_stream_finish(s, 0, r0, frames), 0);
        memset(seen, 0, sizeof(seen));
        read_frames(frames, seen, 2, &usage, &done);
        assert_true(done);
        for (unsigned i = 0; i < 2; i++) {
                assert_int_equal(seen[i].role_chunks, 1);
                assert_int_equal(seen[i].finish_chunks, 1);
                assert_string_equal(seen[i].content, "Hello! I am a scripted mock reply, streamed in several small chunks.");
                assert_string_equal(seen[i].reasoning, "");
        }
        /* usage: both runs added up */
        const json_t *u0 = json_object_get(r0, "usage");
        json_int_t in = json_integer_value(json_object_get(u0, "input_tokens")) +
                        json_integer_value(json_object_get(u0, "cache_creation_input_tokens")) +
                        json_integer_value(json_object_get(u0, "cache_read_input_tokens"));
        assert_non_null(usage);
        assert_int_equal(json_integer_value(json_object_get(usage, "prompt_tokens")), 2 * in);
        assert_int_equal(json_integer_value(json_object_get(usage, "completion_tokens")),
                         2 * json_integer_value(json_object_get(u0, "output_tokens")));

        /* the non-streaming body of the same runs */
        const json_t *results[2] = { r0, r1 };
        assert_int_equal(openai_chat_stream_message(s, results, 2, &body), 0);
        assert_string_equal(json_string_value(json_object_get(body, "object")), "chat.completion");
        assert_string_equal(json_string_value(json_object_get(body, "model")), "my-model");
        assert_int_equal(json_array_size(json_object_get(body, "choices")), 2);
        const json_t *c1 = json_array_get(json_object_get(body, "choices"), 1);
        assert_int_equal(json_integer_value(json_object_get(c1, "index")), 1);
        assert_string_equal(json_string_value(json_object_get(c1, "finish_reason")), "stop");
        assert_string_equal(json_string_value(json_object_get(json_object_get(c1, "message"), "content")),
                            seen[1].content);
        assert_json_equal(json_object_get(body, "usage"), usage);
        openai_chat_stream_free(s);
}

static void test_stream_thinking(void **state) {
        ApiRequest req = { .kind = API_OPENAI, .n = 1, .cli = { .thinking = true } };
        ApiEnv env = test_env();
        OpenAIChatStream *s = NULL;
        json_auto_t *frames = json_array(), *r = NULL, *body = NULL;
        ChoiceSeen seen[1] = {};
        const json_t *usage = NULL;
        bool done;

        assert_int_equal(openai_chat_stream_new(&s, &req, &env), 0);
        feed_transcript(s, 0, "thinking", frames, &r);
        assert_int_equal(openai_chat_stream_finish(s, 0, r, frames), 0);
        read_frames(frames, seen, 1, &usage, &done);
        assert_true(done);
        assert_null(usage);     /* no include_usage, no usage chunk */
        assert_true(strlen(seen[0].reasoning) > 0);
        assert_true(strlen(seen[0].content) > 0);
        assert_false(seen[0].content_before_reasoning);
        const json_t *results[1] = { r };
        assert_int_equal(openai_chat_stream_message(s, results, 1, &body), 0);
        const json_t *m = json_object_get(json_array_get(json_object_get(body, "choices"), 0), "message");
        assert_string_equal(json_string_value(json_object_get(m, "reasoning_content")), seen[0].reasoning);
        assert_string_equal(json_string_value(json_object_get(m, "content")), seen[0].content);
        openai_chat_stream_free(s);

        /* thinking not asked for: no reasoning_content anywhere */
        json_auto_t *frames2 = json_array(), *r2 = NULL;
        req.cli.thinking = false;
        memset(seen, 0, sizeof(seen));
        assert_int_equal(openai_chat_stream_new(&s, &req, &env), 0);
        feed_transcript(s, 0, "thinking", frames2, &r2);
        assert_int_equal(openai_chat_stream_finish(s, 0, r2, frames2), 0);
        read_frames(frames2, seen, 1, &usage, &done);
        assert_string_equal(seen[0].reasoning, "");
        openai_chat_stream_free(s);
}

static void test_stream_fail(void **state) {
        ApiRequest req = { .kind = API_OPENAI, .n = 2 };
        ApiEnv env = test_env();
        OpenAIChatStream *s = NULL;
        json_auto_t *frames = json_array(), *r = NULL;
        ApiError err = { .status = 429, .type = "rate_limit_error" };
        size_t before;

        snprintf(err.message, sizeof(err.message), "slow down");
        assert_int_equal(openai_chat_stream_new(&s, &req, &env), 0);
        feed_transcript(s, 0, "text", frames, &r);
        assert_int_equal(openai_chat_stream_finish(s, 0, r, frames), 0);
        before = json_array_size(frames);
        assert_int_equal(openai_chat_stream_fail(s, &err, frames), 0);
        /* one error chunk, in OpenAI's envelope, and no [DONE] anywhere */
        assert_int_equal(json_array_size(frames), before + 1);
        json_auto_t *want = json_literal("{\"data\":{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\","
                                         "\"param\":null,\"code\":\"rate_limit_error\"}}}");
        assert_json_equal(json_array_get(frames, before), want);
        for (size_t i = 0; i < json_array_size(frames); i++)
                assert_null(json_object_get(json_array_get(frames, i), "done"));
        /* nothing after the end */
        assert_int_equal(openai_chat_stream_finish(s, 1, r, frames), 0);
        assert_int_equal(json_array_size(frames), before + 1);
        openai_chat_stream_free(s);
}

static void test_finish_reasons(void **state) {
        assert_string_equal(openai_finish_reason("end_turn"), "stop");
        assert_string_equal(openai_finish_reason("stop_sequence"), "stop");
        assert_string_equal(openai_finish_reason("max_tokens"), "length");
        assert_string_equal(openai_finish_reason("tool_use"), "tool_calls");
        assert_string_equal(openai_finish_reason("refusal"), "content_filter");
        assert_string_equal(openai_finish_reason(NULL), "stop");
        json_auto_t *u = json_literal("{\"input_tokens\":3,\"output_tokens\":5,\"cache_creation_input_tokens\":7,"
                                      "\"cache_read_input_tokens\":11}");
        json_auto_t *got = openai_usage_new(u);
        json_auto_t *want = json_literal("{\"prompt_tokens\":21,\"completion_tokens\":5,\"total_tokens\":26,"
                                         "\"prompt_tokens_details\":{\"cached_tokens\":11},"
                                         "\"completion_tokens_details\":{\"reasoning_tokens\":0}}");
        assert_json_equal(got, want);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_simple),
                cmocka_unit_test(test_request_conversation),
                cmocka_unit_test(test_request_effort),
                cmocka_unit_test(test_request_errors),
                cmocka_unit_test(test_stream_n2_usage),
                cmocka_unit_test(test_stream_thinking),
                cmocka_unit_test(test_stream_fail),
                cmocka_unit_test(test_finish_reasons),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
