/* SPDX-License-Identifier: MIT */

/*
 * The bodies of the fake CLI's answers to host control requests, taken from recorded transcripts:
 *
 * - initialize: the `models` list of the recorded answer in warm_initialize_empty (commands and
 *   agents cut to [] as before: nothing in the tests reads them);
 * - get_context_usage: the recorded answer `cu_0` of s5a_get_context_usage_session_cost, an idle
 *   process with no conversation (totalTokens 50 = System prompt 28 + Messages 22). With history
 *   written since, its Messages figure grows by the history's stdin bytes / 4, the rule the
 *   project's upstream mock answers count_tokens with (the real CLI sums such counts, §16.5),
 *   and totalTokens and Free space follow. A history text holding `[[fake-usage:error]]` gets
 *   the control channel's error answer instead (shape recorded in s4d for mcp_reconnect), one
 *   holding `[[fake-usage:hang]]` no answer at all.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fake-control.h"
#include "util/macro.h"

#define FAKE_USAGE_ERROR_MARK "[[fake-usage:error]]"
#define FAKE_USAGE_HANG_MARK "[[fake-usage:hang]]"

static size_t history_bytes;
static bool usage_error, usage_hang;

void fake_control_note_history(const char *line, size_t n) {
        history_bytes += n;
        if (memmem(line, n, FAKE_USAGE_ERROR_MARK, strlen(FAKE_USAGE_ERROR_MARK)))
                usage_error = true;
        if (memmem(line, n, FAKE_USAGE_HANG_MARK, strlen(FAKE_USAGE_HANG_MARK)))
                usage_hang = true;
}

/* The "response" object of the first control_response line of @name whose request_id is @id. */
static json_t *recorded_answer(const char *dir, const char *name, const char *id) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        size_t cap = 0;
        ssize_t n;
        json_t *found = NULL;
        FILE *f;

        if (asprintf(&path, "%s/%s.ndjson", dir, name) < 0)
                return NULL;
        f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "fake-claude: cannot open transcript '%s': %m\n", path);
                return NULL;
        }
        while (!found && (n = getline(&line, &cap, f)) >= 0) {
                json_auto_t *j = json_loadb(line, (size_t) n, 0, NULL);
                json_t *resp = json_object_get(j, "response");

                if (streq_ptr(json_string_value(json_object_get(j, "type")), "control_response") &&
                    streq_ptr(json_string_value(json_object_get(resp, "request_id")), id))
                        found = json_incref(json_object_get(resp, "response"));
        }
        fclose(f);
        return found;
}

static json_t *initialize_body(const char *dir) {
        json_auto_t *rec = recorded_answer(dir, "warm_initialize_empty", "init_1");
        json_t *models = json_object_get(rec, "models");

        if (!json_is_array(models))
                return NULL;
        return json_pack("{s:[],s:[],s:O}", "commands", "agents", "models", models);
}

static json_t *context_usage_body(const char *dir) {
        json_t *rec = recorded_answer(dir, "s5a_get_context_usage_session_cost", "cu_0");
        json_int_t grow = (json_int_t) (history_bytes / 4), total;
        size_t i;
        json_t *c;

        if (!rec)
                return NULL;
        total = json_integer_value(json_object_get(rec, "totalTokens")) + grow;
        json_array_foreach(json_object_get(rec, "categories"), i, c) {
                const char *name = json_string_value(json_object_get(c, "name"));
                json_int_t t = json_integer_value(json_object_get(c, "tokens"));

                if (streq_ptr(name, "Messages"))
                        (void) json_object_set_new(c, "tokens", json_integer(t + grow));
                else if (streq_ptr(name, "Free space"))
                        (void) json_object_set_new(c, "tokens", json_integer(t - grow));
        }
        (void) json_object_set_new(rec, "totalTokens", json_integer(total));
        return rec;
}

int fake_control_answer(const char *dir, const char *id, const char *subtype, json_t **ret_line) {
        json_auto_t *body = NULL;

        /* A CLI that never answers (a stuck upstream count): the proxy must not wait forever. */
        if (streq_ptr(subtype, "get_context_usage") && usage_hang) {
                *ret_line = NULL;
                return 0;
        }

        if (streq_ptr(subtype, "get_context_usage") && usage_error) {
                *ret_line = json_pack("{s:s,s:{s:s,s:s,s:s}}", "type", "control_response", "response", "subtype",
                                      "error", "request_id", id, "error", "Failed to count tokens");
                return *ret_line ? 0 : -ENOMEM;
        }
        if (streq_ptr(subtype, "mcp_status"))
                body = json_pack("{s:[]}", "mcpServers");
        else if (streq_ptr(subtype, "initialize")) {
                body = initialize_body(dir);
                if (!body)
                        return -ENOENT;
        } else if (streq_ptr(subtype, "get_context_usage")) {
                body = context_usage_body(dir);
                if (!body)
                        return -ENOENT;
        }
        *ret_line = body ? json_pack("{s:s,s:{s:s,s:s,s:O}}", "type", "control_response", "response", "subtype",
                                     "success", "request_id", id, "response", body)
                         : json_pack("{s:s,s:{s:s,s:s}}", "type", "control_response", "response", "subtype",
                                     "success", "request_id", id);
        return *ret_line ? 0 : -ENOMEM;
}
