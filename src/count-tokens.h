/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * POST /v1/messages/count_tokens, the process half: parse (api/count-tokens.c), ask a CLI
 * (cli-query.c: its get_context_usage with no conversation unless that baseline is known for the
 * model, then the conversation as history, then get_context_usage again), reply
 * {"input_tokens": N} with `x-proxy-token-count: derived`. Baselines are kept per model. When
 * the CLI cannot count, the reply is an error (`x-proxy-token-count: unavailable`): a figure is
 * never made up.
 */

#include <event2/http.h>

#include "cli-query.h"
#include "config.h"

typedef struct CountTokens CountTokens;

int count_tokens_new(CountTokens **ret);
/* Kill running counts, forget their requests (evhttp frees the connections). NULL-safe. */
CountTokens *count_tokens_free(CountTokens *c, Scheduler *sched);
/*
 * Graceful stop: running counts fail now (503). @track is first given each request about to be
 * answered, so the server can wait for those replies to be written before it exits.
 */
void count_tokens_stop(CountTokens *c, void (*track)(struct evhttp_request *req, void *userdata), void *userdata);
/* The configuration changed (SIGHUP): measure the baselines again. */
void count_tokens_forget(CountTokens *c);

/* Answer one authenticated request (body complete), now or when the CLI answered. */
void count_tokens_handle(CountTokens *c, const CliQueryEnv *env, const Config *config, struct evhttp_request *req,
                         const char *request_id);
