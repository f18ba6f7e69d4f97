/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * GET /v1/models from the CLI itself: the list its `initialize` answer carries (cli/README
 * §16.4), asked for at the first listing (cli-query.c, a pooled process when there is one) and
 * kept for the life of the process. Listings that arrive while it is being asked wait for the
 * answer. When the CLI cannot be asked (no CLI, no free slot, an error) the static catalog of
 * api/models.c answers, not cached, and the `x-proxy-models` header says which it was.
 */

#include <event2/http.h>

#include "cli-query.h"

typedef struct CliModels CliModels;

int cli_models_new(CliModels **ret);
/* Kill a query still running, forget waiting listings (their connections are freed by evhttp). */
CliModels *cli_models_free(CliModels *m, Scheduler *sched);
/* Graceful stop: waiting listings get the static catalog now; @track is given each first (see count-tokens.h). */
void cli_models_stop(CliModels *m, void (*track)(struct evhttp_request *req, void *userdata), void *userdata);
/* CLAUDE_PATH or DEFAULT_MODEL may have changed (SIGHUP): ask again at the next listing. */
void cli_models_forget(CliModels *m);

/*
 * Answer GET /v1/models (@id NULL) or /v1/models/@id on @req, now or when the CLI answered.
 * @model: the --model of the process to ask (the pool's, so a pooled one can answer).
 */
void cli_models_handle(CliModels *m, const CliQueryEnv *env, const char *model, struct evhttp_request *req,
                       const char *request_id, const char *id);
