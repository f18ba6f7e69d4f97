/* SPDX-License-Identifier: MIT */

/*
 * What a CLI run came to. cli_outcome_feed() keeps the few facts of a run that decide its fate
 * (the final `result`, the last rate_limit_event, the last synthetic error message);
 * cli_outcome_classify() turns them, the way the process ended and the tail of its stderr into
 * success or the ApiError the client should see (cli/README §7, §13).
 *
 * The CLI reports upstream failures as `result{subtype:"success", is_error:true}`, with the
 * upstream HTTP status in api_error_status (null for 529, timeouts, connection errors) and a
 * human text; the synthetic assistant line adds a short tag ("rate_limit", ...). The status is
 * the most reliable signal, then the rate-limit state, then the tag, then the text.
 *
 * This module does not know the configured timeouts or the clock: retry-after is computed by the
 * I/O side from ApiError.retry_at.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/outcome.h"
#include "util/macro.h"

#include "cli/auth-status.h"

#define CLI_AUTH_HINT "the Claude CLI is not logged in or its credential was rejected: " CLI_AUTH_FIX_HINT

/*
 * Upstream's refusal of a subscription request billed as a third-party app (2026): a 400 whose
 * message begins with this. It is about the account's extra-usage setting, not the request, so it
 * gets its own class for the journal and /metrics; the client still sees upstream's words.
 */
#define EXTRA_USAGE_MARKER "Third-party apps now draw from your extra usage"

static void replace_json(json_t **slot, const json_t *v) {
        json_decref(*slot);
        /* incref keeps the child alive after the event's root is released */
        *slot = json_incref((json_t *) v);
}

static void replace_str(char **slot, const char *v) {
        free(*slot);
        *slot = v ? strdup(v) : NULL;
}

static bool assistant_is_synthetic(const CliEvent *ev) {
        return ev->error ||
               streq_ptr(json_string_value(json_object_get(ev->payload, "model")), "<synthetic>");
}

static const char *assistant_first_text(const json_t *message) {
        const json_t *content = json_object_get(message, "content"), *block;
        size_t i;

        json_array_foreach(content, i, block)
                if (streq_ptr(json_string_value(json_object_get(block, "type")), "text"))
                        return json_string_value(json_object_get(block, "text"));
        return NULL;
}

/**
 * cli_outcome_feed() - note what one event says about the run's outcome
 * @o: the accumulator (zero-initialised before the first call)
 * @ev: a parsed event; nothing of it is kept borrowed
 *
 * A run with history input has one result per input turn; the last one wins, because only the
 * final turn is the client's answer.
 */
void cli_outcome_feed(CliOutcome *o, const CliEvent *ev) {
        assert(o);
        assert(ev);

        switch (ev->type) {
        case CLI_EVENT_RESULT:
                replace_json(&o->result, ev->payload);
                break;
        case CLI_EVENT_RATE_LIMIT:
                replace_json(&o->rate_limit_info, ev->payload);
                break;
        case CLI_EVENT_ASSISTANT:
                if (!assistant_is_synthetic(ev))
                        break;
                /* A synthetic message without a tag still means "error"; keep a tag for the log. */
                replace_str(&o->synthetic_error, ev->error ?: "unknown");
                replace_str(&o->synthetic_text, assistant_first_text(ev->payload));
                break;
        case CLI_EVENT_SYSTEM_API_RETRY:
                o->api_retries++;
                break;
        case CLI_EVENT_STREAM:
                if (streq_ptr(json_string_value(json_object_get(ev->payload, "type")), "message_start"))
                        o->saw_message_start = true;
                break;
        default:
                break;
        }
}

/**
 * cli_outcome_done() - release the accumulator
 * @o: the accumulator (NULL is fine); left zeroed
 */
void cli_outcome_done(CliOutcome *o) {
        if (!o)
                return;
        json_decref(o->result);
        json_decref(o->rate_limit_info);
        free(o->synthetic_error);
        free(o->synthetic_text);
        *o = (CliOutcome) {};
}

static bool text_has(const char *text, const char *needle) {
        return text && strstr(text, needle);
}

/* The last non-empty line of the stderr tail, into buf ("" when there is none). */
static void last_line(const char *text, char *buf, size_t size) {
        const char *end, *start;

        buf[0] = 0;
        if (!text)
                return;
        end = text + strlen(text);
        while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
                end--;
        start = end;
        while (start > text && start[-1] != '\n')
                start--;
        (void) snprintf(buf, size, "%.*s", (int) (end - start), start);
}

static int rate_limit_headers(ApiError *e, const json_t *info) {
        const json_t *resets = json_object_get(info, "resetsAt");
        const char *status = json_string_value(json_object_get(info, "status"));
        const char *claim = json_string_value(json_object_get(info, "rateLimitType"));
        int r;

        if (status) {
                r = api_error_set_header(e, "anthropic-ratelimit-unified-status", status);
                if (r < 0)
                        return r;
        }
        if (json_is_number(resets) && json_number_value(resets) > 0) {
                char v[32];

                e->retry_at = (int64_t) json_number_value(resets);
                (void) snprintf(v, sizeof(v), "%" PRIi64, e->retry_at);
                r = api_error_set_header(e, "anthropic-ratelimit-unified-reset", v);
                if (r < 0)
                        return r;
        }
        if (claim) {
                r = api_error_set_header(e, "anthropic-ratelimit-unified-representative-claim", claim);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef enum ApiFailure {
        FAILURE_RATE_LIMIT,
        FAILURE_CLI_AUTH,
        FAILURE_PERMISSION,
        FAILURE_NOT_FOUND,
        FAILURE_TOO_LARGE,
        FAILURE_INVALID,
        FAILURE_EXTRA_USAGE,
        FAILURE_OVERLOADED,
        FAILURE_TIMEOUT,
        FAILURE_API,
} ApiFailure;

static ApiFailure failure_from_status(int64_t status) {
        switch (status) {
        case 400:
                return FAILURE_INVALID;
        case 401:
                return FAILURE_CLI_AUTH;
        case 403:
                return FAILURE_PERMISSION;
        case 404:
                return FAILURE_NOT_FOUND;
        case 413:
                return FAILURE_TOO_LARGE;
        case 429:
                return FAILURE_RATE_LIMIT;
        case 529:
                return FAILURE_OVERLOADED;
        default:
                /* other 4xx are the request's fault, 5xx and anything odd the upstream's */
                return status >= 400 && status < 500 ? FAILURE_INVALID : FAILURE_API;
        }
}

/* Without a status (529 after retries, timeouts, connection errors, no credential): tag, then text. */
static ApiFailure failure_from_tag_and_text(const char *tag, const char *text, const char *terminal_reason) {
        if (text_has(text, "Not logged in") || streq_ptr(tag, "authentication_failed"))
                return FAILURE_CLI_AUTH;
        if (streq_ptr(tag, "rate_limit"))
                return FAILURE_RATE_LIMIT;
        if (streq_ptr(tag, "model_not_found"))
                return FAILURE_NOT_FOUND;
        if (streq_ptr(terminal_reason, "prompt_too_long") || streq_ptr(tag, "invalid_request"))
                return FAILURE_INVALID;
        /* not "529": a gateway port in the text may contain it */
        if (text_has(text, "Overloaded") || text_has(text, "overloaded"))
                return FAILURE_OVERLOADED;
        if (text_has(text, "Request timed out"))
                return FAILURE_TIMEOUT;
        return FAILURE_API;
}

/*
 * Map an API failure the CLI reported. `status` < 0: api_error_status was null. `text` is the
 * CLI's own message; it is passed on because it names the cause better than we could.
 */
static int classify_api_error(const CliOutcome *o, int64_t status, const char *text, const char *terminal_reason,
                              ApiError *e) {
        const char *rl_status = json_string_value(json_object_get(o->rate_limit_info, "status"));
        ApiFailure f;
        int r;

        if (!text || !*text)
                text = "the Claude CLI reported an API error without a message";

        /* A rejected unified limit is a 429 whatever the CLI's wording ("session limit", ...). */
        if (streq_ptr(rl_status, "rejected"))
                f = FAILURE_RATE_LIMIT;
        else if (status > 0)
                f = failure_from_status(status);
        else
                f = failure_from_tag_and_text(o->synthetic_error, text, terminal_reason);
        if (f == FAILURE_INVALID && text_has(text, EXTRA_USAGE_MARKER))
                f = FAILURE_EXTRA_USAGE;

        switch (f) {
        case FAILURE_RATE_LIMIT:
                (void) api_error_set(e, 0, 429, "rate_limit_error", "%s", text);
                e->error_class = "rate_limit";
                if (o->rate_limit_info) {
                        r = rate_limit_headers(e, o->rate_limit_info);
                        if (r < 0)
                                return r;
                }
                break;
        case FAILURE_CLI_AUTH:
                /*
                 * Not 401: the proxy's client did authenticate. The CLI's own credential is
                 * missing or bad, which only the operator can fix, so it is a service failure.
                 */
                (void) api_error_set(e, 0, 503, "api_error", "%s (" CLI_AUTH_HINT ")", text);
                e->error_class = "cli_auth";
                /* Retrying cannot help until the operator acts: the SDKs honour this header. */
                r = api_error_set_header(e, "x-should-retry", "false");
                if (r < 0)
                        return r;
                break;
        case FAILURE_PERMISSION:
                (void) api_error_set(e, 0, 403, "permission_error", "%s", text);
                e->error_class = "permission";
                break;
        case FAILURE_NOT_FOUND:
                (void) api_error_set(e, 0, 404, "not_found_error", "%s", text);
                e->error_class = "not_found";
                break;
        case FAILURE_TOO_LARGE:
                (void) api_error_set(e, 0, 413, "request_too_large", "%s", text);
                e->error_class = "too_large";
                break;
        case FAILURE_INVALID:
                (void) api_error_set(e, 0, 400, "invalid_request_error", "%s", text);
                e->error_class = "invalid_request";
                break;
        case FAILURE_EXTRA_USAGE:
                (void) api_error_set(e, 0, 400, "invalid_request_error", "%s", text);
                e->error_class = "extra_usage";
                break;
        case FAILURE_OVERLOADED:
                (void) api_error_set(e, 0, 529, "overloaded_error", "%s", text);
                e->error_class = "overloaded";
                break;
        case FAILURE_TIMEOUT:
                (void) api_error_set(e, 0, 504, "timeout_error", "%s", text);
                e->error_class = "timeout";
                break;
        case FAILURE_API:
                (void) api_error_set(e, 0, 500, "api_error", "%s", text);
                e->error_class = "api";
                break;
        }
        return -EPROTO;
}

/* result.subtype "error_*" (max turns, max budget, interrupted): the run stopped without an answer. */
static int classify_run_error(const json_t *result, const char *subtype, ApiError *e) {
        const char *why = json_string_value(json_array_get(json_object_get(result, "errors"), 0));

        (void) api_error_set(e, 0, 500, "api_error", "the Claude CLI stopped without an answer (%s%s%s)", subtype,
                             why ? ": " : "", why ?: "");
        e->error_class = "api";
        return -EPROTO;
}

static int classify_kill(const CliExit *exit, ApiError *e) {
        switch (exit->kill_reason) {
        case CLI_KILL_TIMEOUT:
                (void) api_error_set(e, 0, 504, "timeout_error",
                                     "the Claude CLI did not answer within the request timeout");
                e->error_class = "timeout";
                return -ETIMEDOUT;
        case CLI_KILL_IDLE:
                (void) api_error_set(e, 0, 504, "timeout_error",
                                     "the Claude CLI produced no output within the idle timeout");
                e->error_class = "timeout";
                return -ETIMEDOUT;
        case CLI_KILL_SHUTDOWN:
                (void) api_error_set(e, 0, 503, "api_error", "the proxy is shutting down");
                e->error_class = "shutdown";
                return -ESHUTDOWN;
        case CLI_KILL_PROTOCOL:
                (void) api_error_set(e, 0, 500, "api_error", "the Claude CLI printed output the proxy cannot use");
                e->error_class = "protocol";
                return -EBADMSG;
        default:
                assert(!"classify_kill() without a kill reason");
                return -EINVAL;
        }
}

static int classify_crash(const CliExit *exit, const char *stderr_text, ApiError *e) {
        char line[512], how[64];

        if (exit->exited)
                (void) snprintf(how, sizeof(how), "status %d", exit->code);
        else
                (void) snprintf(how, sizeof(how), "signal %d", exit->signal);
        last_line(stderr_text, line, sizeof(line));
        (void) api_error_set(e, 0, 500, "api_error", "the Claude CLI exited unexpectedly (%s)%s%s", how,
                             line[0] ? ": " : "", line);
        e->error_class = "crash";
        return -ENOEXEC;
}

/**
 * cli_outcome_classify() - decide what a finished run means for the client
 * @o: the facts fed during the run
 * @exit: how the process ended and whether the proxy killed it
 * @stderr_text: bounded tail of the CLI's stderr, NULL if none
 * @reterr: filled on failure (status, type, message, error_class, headers, retry_at)
 *
 * A client disconnect wins over everything (nobody is left to tell). Otherwise a result line
 * decides, because the CLI's own account of a run beats ours; a kill reason only explains a run
 * that ended without one.
 *
 * Return: 0 when the run produced an answer; -EPROTO for a failure the CLI reported, -ETIMEDOUT
 * for a proxy timeout, -ECONNABORTED for a client disconnect, -ESHUTDOWN when the proxy is
 * stopping, -EBADMSG for unusable CLI output, -ENOEXEC for a CLI that died without a result,
 * -ENOMEM.
 */
int cli_outcome_classify(const CliOutcome *o, const CliExit *exit, const char *stderr_text, ApiError *reterr) {
        ApiError e = API_ERROR_NULL;
        int r;

        assert(o);
        assert(exit);

        if (exit->kill_reason == CLI_KILL_DISCONNECT) {
                r = api_error_set(&e, -ECONNABORTED, 499, "api_error", "the client went away");
                e.error_class = "disconnect";
        } else if (o->result) {
                const json_t *status = json_object_get(o->result, "api_error_status");
                const char *subtype = json_string_value(json_object_get(o->result, "subtype"));
                const char *text = json_string_value(json_object_get(o->result, "result"));

                if (subtype && strneq(subtype, "error", 5))
                        r = classify_run_error(o->result, subtype, &e);
                else if (!json_is_true(json_object_get(o->result, "is_error")))
                        return 0;
                else
                        r = classify_api_error(o, json_is_integer(status) ? json_integer_value(status) : -1,
                                               text && *text ? text : o->synthetic_text,
                                               json_string_value(json_object_get(o->result, "terminal_reason")),
                                               &e);
        } else if (exit->kill_reason != CLI_KILL_NONE && exit->kill_reason < _CLI_KILL_REASON_MAX)
                r = classify_kill(exit, &e);
        else if (o->synthetic_error)
                /* An error message but the process died before its result line: still the CLI's word. */
                r = classify_api_error(o, -1, o->synthetic_text, NULL, &e);
        else
                r = classify_crash(exit, stderr_text, &e);

        if (reterr) {
                api_error_done(reterr);
                *reterr = e;
        } else
                api_error_done(&e);
        return r;
}
