/* SPDX-License-Identifier: MIT */

/*
 * Token counts from the CLI (see count-tokens.h).
 *
 *   body ─► count_tokens_request_parse() ─► history lines (all shouldQuery:false)
 *        ─► query: [get_context_usage (baseline, unless cached)] + history + get_context_usage
 *        ─► total - baseline ─► {"input_tokens": N}
 *
 * The baseline is measured in the same process, before the conversation, the first time a
 * model is counted (s5a: cu_0 then the history then cu_1), and kept: the CLI's own prompt and
 * tools do not change while the proxy runs with the same CLI and configuration.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api/count-tokens.h"
#include "cli/control.h"
#include "count-tokens.h"
#include "http/held.h"
#include "http/reply.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/time-util.h"

#define BASELINES_MAX 16

typedef struct Count Count;

struct Count {
        CountTokens *owner;
        Count *prev, *next;
        HeldRequest held;
        CliQuery *query;
        char *model;
        char *unsupported;
        bool measures_baseline;         /* the first answer is the baseline */
        int64_t baseline;               /* else the one known when the count started */
        char request_id[128];
};

typedef struct Baseline {
        char *model;
        int64_t tokens;
} Baseline;

struct CountTokens {
        CliQueryList queries;
        Count *counts;
        Baseline baselines[BASELINES_MAX];
        unsigned n_baselines;
};

static const Baseline *baseline_find(const CountTokens *c, const char *model) {
        for (unsigned i = 0; i < c->n_baselines; i++)
                if (streq(c->baselines[i].model, model))
                        return &c->baselines[i];
        return NULL;
}

static void baseline_store(CountTokens *c, const char *model, int64_t tokens) {
        char *m;

        if (baseline_find(c, model) || c->n_baselines >= BASELINES_MAX || !(m = strdup(model)))
                return;
        c->baselines[c->n_baselines++] = (Baseline) { .model = m, .tokens = tokens };
}

static Count *count_free(Count *n) {
        if (!n)
                return NULL;
        if (n->prev)
                n->prev->next = n->next;
        else if (n->owner)
                n->owner->counts = n->next;
        if (n->next)
                n->next->prev = n->prev;
        held_request_release(&n->held);
        free(n->model);
        free(n->unsupported);
        free(n);
        return NULL;
}

static void add_headers(struct evhttp_request *req, const char *request_id, const char *how, const char *unsupported) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);

        evhttp_add_header(h, "request-id", request_id);
        if (how)
                evhttp_add_header(h, "x-proxy-token-count", how);
        if (unsupported)
                evhttp_add_header(h, "x-proxy-unsupported", unsupported);
}

static void reply_error(struct evhttp_request *req, const char *request_id, ApiError *err) {
        /* Only the proxy's failures say the count is unavailable; a 4xx is the request's fault. */
        add_headers(req, request_id, err->status >= 500 ? "unavailable" : NULL, NULL);
        http_reply_error(req, API_ANTHROPIC, err, now_unix());
        api_error_done(err);
}

/* The CLI's answers -> the reply, or why there is none. */
static int count_from_answers(Count *n, const json_t *answers, int64_t *ret) {
        int64_t total, base = n->baseline;
        int k;

        k = count_tokens_usage_total(json_array_get(answers, json_array_size(answers) - 1), &total);
        if (k < 0)
                return k;
        if (n->measures_baseline) {
                k = count_tokens_usage_total(json_array_get(answers, 0), &base);
                if (k < 0)
                        return k;
                baseline_store(n->owner, n->model, base);
        }
        return count_tokens_derive(total, base, ret);
}

static void on_count_answer(int error, const json_t *answers, const char *why, void *userdata) {
        Count *n = userdata;
        struct evhttp_request *req = held_request_take(&n->held);
        ApiError err = {};
        int64_t tokens = 0;
        json_auto_t *body = NULL;

        n->query = NULL;
        if (!req) {
                count_free(n);
                return;
        }
        if (error >= 0)
                error = count_from_answers(n, answers, &tokens);
        if (error >= 0)
                error = count_tokens_to_json(tokens, &body);
        if (error < 0) {
                log_warning("%s: the CLI could not count the tokens: %s%s%s", n->request_id, strerror(-error),
                            *why ? ": " : "", why);
                if (error == -EBUSY)
                        api_error_set(&err, error, 529, "overloaded_error",
                                      "No CLI slot is free to count tokens; retry shortly");
                else if (error == -ECANCELED)
                        api_error_set(&err, error, 503, "api_error", "The proxy is shutting down; retry shortly");
                else if (error == -ETIMEDOUT)
                        /* REQUEST_TIMEOUT_MS or IDLE_TIMEOUT_MS: a 504 like a message's timeout. */
                        api_error_set(&err, error, 504, "timeout_error",
                                      "The Claude CLI did not count the tokens in time (%.300s)", why);
                else
                        api_error_set(&err, error, 502, "api_error", "The Claude CLI could not count the tokens (%s%s%.300s)",
                                      strerror(-error), *why ? ": " : "", why);
                reply_error(req, n->request_id, &err);
        } else {
                log_debug("%s: %" PRId64 " input tokens (%s baseline)", n->request_id, tokens,
                          n->measures_baseline ? "measured" : "cached");
                add_headers(req, n->request_id, "derived", n->unsupported);
                http_reply_json(req, 200, body);
        }
        count_free(n);
}

/* The client left: nothing to count for. */
static void on_count_gone(void *userdata) {
        Count *n = userdata;

        log_debug("%s: the client left, ending its count", n->request_id);
        cli_query_cancel(n->query);
        n->query = NULL;
        count_free(n);
}

int count_tokens_new(CountTokens **ret) {
        CountTokens *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

CountTokens *count_tokens_free(CountTokens *c, Scheduler *sched) {
        if (!c)
                return NULL;
        while (c->counts)
                count_free(c->counts);
        cli_query_list_free(&c->queries, sched);
        count_tokens_forget(c);
        free(c);
        return NULL;
}

void count_tokens_stop(CountTokens *c, void (*track)(struct evhttp_request *req, void *userdata), void *userdata) {
        if (!c)
                return;
        for (Count *n = c->counts; n; n = n->next)
                if (n->held.req)
                        track(n->held.req, userdata);
        cli_query_list_stop(&c->queries);
}

void count_tokens_forget(CountTokens *c) {
        if (!c)
                return;
        for (unsigned i = 0; i < c->n_baselines; i++)
                free(c->baselines[i].model);
        c->n_baselines = 0;
}

static int parse_body(struct evhttp_request *req, const Config *config, ApiRequest *api, ApiError *err) {
        struct evbuffer *buf = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(buf);
        json_auto_t *root = NULL;
        json_error_t jerr;
        ApiEnv env = {
                .message_id = "",
                .created = now_unix(),
                .default_model = config->default_model,
                .default_effort = config->default_effort,
                .effort_header = evhttp_find_header(evhttp_request_get_input_headers(req), "x-effort"),
                .enable_thinking = config->enable_thinking,
                .system_prompt_mode = SYSTEM_PROMPT_USER,
        };
        int k;

        if (len > config->max_body_bytes)
                return api_error_set(err, -E2BIG, 413, "request_too_large",
                                     "Request body too large (limit %" PRIu64 " bytes)", config->max_body_bytes);
        if (len == 0)
                return api_error_set(err, -EINVAL, 400, "invalid_request_error", "Request body is empty");
        root = json_loadb((const char *) evbuffer_pullup(buf, -1), len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (!root)
                return api_error_set(err, -EBADMSG, 400, "invalid_request_error", "Invalid JSON in request body: %s",
                                     jerr.text);
        k = count_tokens_request_parse(root, &env, api, err);
        if (k < 0 && err->status == 0)
                api_error_set(err, k, k == -ENOMEM ? 500 : 400, k == -ENOMEM ? "api_error" : "invalid_request_error",
                              k == -ENOMEM ? "Out of memory" : "Invalid request");
        return k;
}

/**
 * count_tokens_handle() - POST /v1/messages/count_tokens
 * @c: the counter (baselines, running counts)
 * @env: where the query gets its CLI
 * @config: MAX_BODY_BYTES, DEFAULT_MODEL, ...
 * @req: the request, authenticated, body complete
 * @request_id: for the logs and the request-id header
 */
void count_tokens_handle(CountTokens *c, const CliQueryEnv *env, const Config *config, struct evhttp_request *req,
                         const char *request_id) {
        _cleanup_(api_request_done) ApiRequest api = {};
        _cleanup_(cli_input_done) CliInput history = {};
        _cleanup_free_ Count *n = NULL;
        json_auto_t *requests = NULL;
        ApiError err = {};
        int k;

        k = parse_body(req, config, &api, &err);
        if (k < 0) {
                reply_error(req, request_id, &err);
                return;
        }
        if (!env->claude_path) {
                api_error_set(&err, -ENOENT, 503, "api_error", "The Claude CLI is not available");
                reply_error(req, request_id, &err);
                return;
        }
        n = calloc(1, sizeof(*n));
        requests = json_array();
        if (!n || !requests || !(n->model = strdup(api.cli.model)) ||
            (api.unsupported && !(n->unsupported = strdup(api.unsupported))) ||
            count_tokens_history_input(&api.cli, &history) < 0)
                goto oom;
        const Baseline *b = baseline_find(c, n->model);
        n->measures_baseline = !b;
        n->baseline = b ? b->tokens : 0;
        for (int i = n->measures_baseline ? 0 : 1; i < 2; i++) {
                json_t *usage = NULL;

                if (cli_control_build_get_context_usage(&usage) < 0 || json_array_append_new(requests, usage) < 0)
                        goto oom;
        }
        snprintf(n->request_id, sizeof(n->request_id), "%s", request_id);
        n->owner = c;
        /* The history goes right before the last get_context_usage. */
        size_t last = json_array_size(requests) - 1;
        k = cli_query_start(&n->query, &c->queries, env, n->model, request_id, TAKE_PTR(requests), &history, last,
                            on_count_answer, n);
        if (k < 0) {
                n->owner = NULL;
                if (k == -EBUSY)
                        api_error_set(&err, k, 529, "overloaded_error", "No CLI slot is free to count tokens; retry shortly");
                else
                        api_error_set(&err, k, 502, "api_error", "Cannot start the Claude CLI to count tokens: %s",
                                      strerror(-k));
                free(n->model);
                free(n->unsupported);
                reply_error(req, request_id, &err);
                return;
        }
        n->next = c->counts;
        if (c->counts)
                c->counts->prev = n;
        c->counts = n;
        held_request_hold(&n->held, env->ctx->base, req, on_count_gone, n);
        TAKE_PTR(n);
        return;

oom:
        if (n) {
                free(n->model);
                free(n->unsupported);
        }
        api_error_set(&err, -ENOMEM, 500, "api_error", "Out of memory");
        reply_error(req, request_id, &err);
}
