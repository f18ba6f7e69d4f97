/* SPDX-License-Identifier: MIT */

/*
 * The model list from the CLI (see cli-models.h).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/models.h"
#include "cli-models.h"
#include "cli/control.h"
#include "http/held.h"
#include "http/reply.h"
#include "util/log.h"
#include "util/macro.h"

typedef struct ModelsWaiter ModelsWaiter;

struct ModelsWaiter {
        CliModels *owner;
        ModelsWaiter *prev, *next;
        HeldRequest held;
        char request_id[128];
        char *id;                       /* GET /v1/models/{id}; NULL: the list */
};

struct CliModels {
        json_t *list;                   /* the CLI's, once it answered */
        CliQuery *query;                /* asking now */
        CliQueryList queries;
        ModelsWaiter *waiters;
};

static ModelsWaiter *waiter_free(ModelsWaiter *w) {
        if (!w)
                return NULL;
        if (w->prev)
                w->prev->next = w->next;
        else if (w->owner)
                w->owner->waiters = w->next;
        if (w->next)
                w->next->prev = w->prev;
        held_request_release(&w->held);
        free(w->id);
        free(w);
        return NULL;
}

/* The list or one of its models on @req; @source says where the list came from. */
static void reply(struct evhttp_request *req, const char *request_id, const json_t *list, const char *source,
                  const char *id) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        size_t i;
        json_t *m;

        evhttp_add_header(h, "request-id", request_id);
        evhttp_add_header(h, "x-proxy-models", source);
        if (!id) {
                http_reply_json(req, 200, list);
                return;
        }
        json_array_foreach(json_object_get(list, "data"), i, m)
                if (streq_ptr(json_string_value(json_object_get(m, "id")), id)) {
                        http_reply_json(req, 200, m);
                        return;
                }
        http_reply_errorf(req, API_ANTHROPIC, 404, "not_found_error", "model: %.400s", id);
}

/* The CLI could not be asked: the static catalog, not cached. */
static void reply_static(struct evhttp_request *req, const char *request_id, const char *id) {
        json_auto_t *list = NULL;

        if (models_list_to_json(&list) < 0) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "request-id", request_id);
                evhttp_send_error(req, 500, NULL);
                return;
        }
        reply(req, request_id, list, "static", id);
}

static void answer_waiters(CliModels *m) {
        while (m->waiters) {
                ModelsWaiter *w = m->waiters;
                struct evhttp_request *req = held_request_take(&w->held);

                if (req && m->list)
                        reply(req, w->request_id, m->list, "cli", w->id);
                else if (req)
                        reply_static(req, w->request_id, w->id);
                waiter_free(w);
        }
}

static void on_models_answer(int error, const json_t *answers, const char *why, void *userdata) {
        CliModels *m = userdata;
        time_t now = time(NULL);
        char created_at[32] = "1970-01-01T00:00:00Z";
        struct tm tm;
        int k;

        m->query = NULL;
        if (error < 0)
                log_warning("GET /v1/models: the CLI could not be asked for its models (%s%s%s), answering "
                            "with the static catalog", strerror(-error), *why ? ": " : "", why);
        else {
                if (gmtime_r(&now, &tm))
                        (void) strftime(created_at, sizeof(created_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
                k = models_list_from_cli(json_array_get(answers, 0), (int64_t) now, created_at, &m->list);
                if (k < 0)
                        log_warning("GET /v1/models: the CLI's initialize answer lists no model (%s), answering "
                                    "with the static catalog", strerror(-k));
        }
        answer_waiters(m);
}

static void on_waiter_gone(void *userdata) {
        /* The query goes on: its answer is cached for the next listing. */
        waiter_free(userdata);
}

int cli_models_new(CliModels **ret) {
        CliModels *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

CliModels *cli_models_free(CliModels *m, Scheduler *sched) {
        if (!m)
                return NULL;
        while (m->waiters)
                waiter_free(m->waiters);
        cli_query_list_free(&m->queries, sched);
        json_decref(m->list);
        free(m);
        return NULL;
}

void cli_models_stop(CliModels *m, void (*track)(struct evhttp_request *req, void *userdata), void *userdata) {
        if (!m)
                return;
        for (ModelsWaiter *w = m->waiters; w; w = w->next)
                if (w->held.req)
                        track(w->held.req, userdata);
        cli_query_list_stop(&m->queries);
}

void cli_models_forget(CliModels *m) {
        if (!m)
                return;
        json_decref(m->list);
        m->list = NULL;
}

/**
 * cli_models_handle() - answer a model listing
 * @m: the cache
 * @env: where a query gets its CLI process
 * @model: the --model of that process
 * @req: GET /v1/models or /v1/models/@id (authenticated)
 * @request_id: for the request-id header
 * @id: one model's id, or NULL for the list
 */
void cli_models_handle(CliModels *m, const CliQueryEnv *env, const char *model, struct evhttp_request *req,
                       const char *request_id, const char *id) {
        _cleanup_free_ ModelsWaiter *w = NULL;
        json_t *init = NULL;
        int k;

        if (m->list) {
                reply(req, request_id, m->list, "cli", id);
                return;
        }
        w = calloc(1, sizeof(*w));
        if (!w || (id && !(w->id = strdup(id)))) {
                reply_static(req, request_id, id);
                return;
        }
        if (!m->query) {
                json_t *requests = json_array();

                k = requests ? cli_control_build_initialize(&(CliControlInit) {}, &init) : -ENOMEM;
                if (k >= 0 && json_array_append_new(requests, init) < 0)
                        k = -ENOMEM;
                if (k >= 0)
                        k = cli_query_start(&m->query, &m->queries, env, model, request_id, requests, NULL, 0,
                                            on_models_answer, m);
                else
                        json_decref(requests);
                if (k < 0) {
                        log_debug("%s: cannot ask the CLI for its models (%s), answering with the static catalog",
                                  request_id, strerror(-k));
                        free(w->id);
                        reply_static(req, request_id, id);
                        return;
                }
        }
        w->owner = m;
        snprintf(w->request_id, sizeof(w->request_id), "%s", request_id);
        w->next = m->waiters;
        if (m->waiters)
                m->waiters->prev = w;
        m->waiters = w;
        held_request_hold(&w->held, env->ctx->base, req, on_waiter_gone, w);
        TAKE_PTR(w);
}
