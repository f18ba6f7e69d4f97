/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: one vtable per API surface, so session.c drives any of them the same way. */

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "cli/stream.h"

typedef struct ApiOps {
        ApiKind kind;
        const char *id_prefix;  /* "msg_", "chatcmpl-" */
        int (*parse)(const json_t *body, const ApiEnv *env, ApiRequest *ret, ApiError *reterr);
        int (*stream_new)(void **ret, const ApiRequest *req, const ApiEnv *env);
        void (*stream_free)(void *s);
        int (*feed)(void *s, const CliEvent *ev, json_t *out);
        int (*finish)(void *s, const json_t *result, json_t *out);
        int (*fail)(void *s, const ApiError *err, json_t *out);
        bool (*started)(const void *s);
        int (*ping)(void *s, json_t *out);
        int (*message)(void *s, const json_t *result, json_t **ret);
} ApiOps;

extern const ApiOps api_ops_anthropic;
