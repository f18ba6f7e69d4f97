/* SPDX-License-Identifier: MIT */
#pragma once

/* Types shared by every API surface: the parsed request, the API error, the injected environment. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/request.h"

typedef enum ApiKind {
        API_ANTHROPIC,
        API_OPENAI,             /* Chat Completions */
        API_RESPONSES,          /* OpenAI Responses: OpenAI's error envelope */
        _API_KIND_MAX,
        _API_KIND_INVALID = -EINVAL,
} ApiKind;

const char *api_kind_to_string(ApiKind k);

/*
 * An error as the client will see it. `type` is the Anthropic error type ("invalid_request_error",
 * "authentication_error", "permission_error", "not_found_error", "request_too_large",
 * "rate_limit_error", "api_error", "timeout_error", "overloaded_error"); the OpenAI surface maps
 * it. `headers` holds extra response headers (retry-after, anthropic-ratelimit-unified-*).
 */
typedef struct ApiError {
        int status;
        const char *type;       /* static string */
        char message[1024];
        char param[64];         /* offending field, "" when none */
        json_t *headers;        /* owned, NULL or object: header name -> string */
        const char *error_class;/* static short tag for logs/metrics: "cli_auth", "rate_limit", ... */
        int64_t retry_at;       /* unix seconds the client may retry at (rate limits), 0: unknown;
                                 * the I/O side turns it into retry-after */
} ApiError;

#define API_ERROR_NULL ((ApiError) { .status = 0 })

int api_error_set(ApiError *e, int r, int status, const char *type, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
int api_error_set_header(ApiError *e, const char *name, const char *value);
/* A 400 invalid_request_error for the field @param. Return: -EINVAL. */
int api_error_request(ApiError *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void api_error_done(ApiError *e);
/* {"type":"error","error":{...}} for Anthropic, {"error":{message,type,param,code}} for OpenAI's two. */
int api_error_to_json(ApiKind kind, const ApiError *e, json_t **ret);

/* Everything non-deterministic or host-supplied a translation may need. No getenv()/time() in api/. */
typedef struct ApiEnv {
        const char *message_id;         /* "msg_…" / "chatcmpl-…" */
        int64_t created;                /* unix seconds */
        const char *default_model;      /* DEFAULT_MODEL */
        const char *default_effort;     /* DEFAULT_EFFORT, may be NULL */
        const char *effort_header;      /* x-effort request header, may be NULL */
        bool enable_thinking;           /* ENABLE_THINKING */
        SystemPromptMode system_prompt_mode;
} ApiEnv;

/* One parsed API request, independent of the surface it came from. */
typedef struct ApiRequest {
        ApiKind kind;
        bool stream;
        char *client_model;     /* the model name exactly as the client sent it: echoed back */
        char *unsupported;      /* comma-separated names accepted without effect, NULL if none */
        unsigned n;             /* choices asked for (OpenAI `n`): that many CLI runs; 0 means 1 */
        bool include_usage;     /* Chat Completions stream_options.include_usage */
        json_t *echo;           /* owned, NULL: request fields the response object repeats (Responses) */
        char **mcp_servers;     /* registry servers the body asked for (metadata.mcp_servers), strv */
        const char *approximated;/* static: what was only approximated (x-proxy-approximated), NULL: none */
        CliRequest cli;
} ApiRequest;

void api_request_done(ApiRequest *r);
