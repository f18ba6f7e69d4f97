/* SPDX-License-Identifier: MIT */

/*
 * The API error value and its two wire shapes. Knows nothing about HTTP beyond the status number:
 * http/reply.c sends what this builds.
 */

#include <stdarg.h>
#include <stdio.h>

#include "api/api.h"
#include "util/macro.h"
#include "util/strv.h"

const char *api_kind_to_string(ApiKind k) {
        switch (k) {
        case API_ANTHROPIC:
                return "anthropic";
        case API_OPENAI:
                return "openai";
        case API_RESPONSES:
                return "responses";
        default:
                return NULL;
        }
}

/**
 * api_error_set() - fill an error for the client
 * @e: the error to fill (may be NULL: then only @r is returned)
 * @r: the negative errno to return
 * @status: HTTP status
 * @type: Anthropic error type, a static string
 * @fmt: printf format of the message
 *
 * Return: @r, so a caller can write `return api_error_set(reterr, -EINVAL, 400, ...)`.
 */
int api_error_set(ApiError *e, int r, int status, const char *type, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return r;
        e->status = status;
        e->type = type;
        va_start(ap, fmt);
        (void) vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return r;
}

/**
 * api_error_set_header() - add an extra response header to an error
 * Return: 0, or -ENOMEM.
 */
int api_error_set_header(ApiError *e, const char *name, const char *value) {
        if (!e->headers) {
                e->headers = json_object();
                if (!e->headers)
                        return -ENOMEM;
        }
        if (json_object_set_new(e->headers, name, json_string(value)) < 0)
                return -ENOMEM;
        return 0;
}

void api_error_done(ApiError *e) {
        if (!e)
                return;
        json_decref(e->headers);
        *e = API_ERROR_NULL;
}

/* OpenAI clients switch on `type` and `code`; these are the names OpenAI itself uses. */
static const char *openai_type_from_anthropic(const char *type, int status) {
        if (streq_ptr(type, "invalid_request_error") || streq_ptr(type, "not_found_error") ||
            streq_ptr(type, "request_too_large"))
                return "invalid_request_error";
        if (streq_ptr(type, "authentication_error"))
                return "authentication_error";
        if (streq_ptr(type, "permission_error"))
                return "permission_error";
        if (streq_ptr(type, "rate_limit_error"))
                return "rate_limit_error";
        if (status == 503 || status == 529 || streq_ptr(type, "overloaded_error"))
                return "server_error";
        return "api_error";
}

/**
 * api_error_to_json() - the error body in the API's own envelope
 * @kind: which API the client speaks
 * @e: the error
 * @ret: new reference to the body
 *
 * Return: 0, or -ENOMEM.
 */
int api_error_to_json(ApiKind kind, const ApiError *e, json_t **ret) {
        const char *type = e->type ?: "api_error";
        json_t *j;

        if (kind == API_OPENAI || kind == API_RESPONSES)
                j = json_pack("{s:{s:s,s:s,s:s?,s:s?}}", "error", "message", e->message, "type",
                              openai_type_from_anthropic(type, e->status), "param",
                              e->param[0] ? e->param : NULL, "code", type);
        else
                j = json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", type, "message",
                              e->message);
        if (!j)
                return -ENOMEM;
        /* OpenAI clients read param/code as nullable; keep the keys present. */
        if (kind == API_OPENAI || kind == API_RESPONSES) {
                json_t *inner = json_object_get(j, "error");
                if (!json_object_get(inner, "param"))
                        json_object_set_new(inner, "param", json_null());
        }
        *ret = j;
        return 0;
}

void api_request_done(ApiRequest *r) {
        if (!r)
                return;
        free(r->client_model);
        free(r->unsupported);
        json_decref(r->echo);
        strv_free(r->mcp_servers);
        cli_request_done(&r->cli);
        *r = (ApiRequest) {};
}

/**
 * api_error_request() - a 400 invalid_request_error naming the offending field
 * @e: the error to fill (may be NULL)
 * @param: the field, as the API names it ("messages.0.content"), or NULL
 * @fmt: the message
 *
 * The one shape every request parser (Anthropic, Chat Completions, Responses) uses for bad input.
 *
 * Return: -EINVAL.
 */
int api_error_request(ApiError *e, const char *param, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return -EINVAL;
        e->status = 400;
        e->type = "invalid_request_error";
        e->error_class = "bad_request";
        va_start(ap, fmt);
        (void) vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        (void) snprintf(e->param, sizeof(e->param), "%s", param ?: "");
        return -EINVAL;
}
