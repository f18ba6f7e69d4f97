/* SPDX-License-Identifier: MIT */

/*
 * Client model names -> the CLI's --model value, and the public /v1/models list.
 *
 * The aliases map to the CLI's own family aliases ("opus", "sonnet", "haiku") rather than to
 * fixed ids, as the predecessor did: the CLI then picks the current model of that family for the
 * user's account, and the proxy needs no update when a family moves on. Full "claude-*" ids are
 * passed through so a client can pin a version. This module does not check that a model exists:
 * the CLI (and upstream) answer that.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/models.h"
#include "util/macro.h"

/* The seed's fallback when DEFAULT_MODEL is unset. */
#define MODEL_FALLBACK "sonnet"

static const struct {
        const char *name;
        const char *cli;
} model_aliases[] = {
        { "claude-opus-4-6",   "opus" },
        { "claude-opus-4",     "opus" },
        { "opus",              "opus" },
        { "claude-sonnet-4-6", "sonnet" },
        { "claude-sonnet-4",   "sonnet" },
        { "sonnet",            "sonnet" },
        { "claude-haiku-4-5",  "haiku" },
        { "claude-haiku-4",    "haiku" },
        { "haiku",             "haiku" },
};

/* Routers such as LiteLLM and OpenClaw prefix the provider name. */
static const char *const model_prefixes[] = {
        "claude-code-cli/",
        "openai/",
};

/* The canonical public ids. `created` is the model's public release date, fixed so output is pure. */
static const struct {
        const char *id;
        const char *display_name;
        int64_t created;
        const char *created_at;
} model_list[] = {
        { "claude-opus-4-6",   "Claude Opus 4.6",   1770249600, "2026-02-05T00:00:00Z" },
        { "claude-sonnet-4-6", "Claude Sonnet 4.6", 1771286400, "2026-02-17T00:00:00Z" },
        { "claude-haiku-4-5",  "Claude Haiku 4.5",  1760486400, "2025-10-15T00:00:00Z" },
};

static const char *model_strip_prefixes(const char *name) {
        bool again = true;

        /* Loop: "openai/claude-code-cli/sonnet" has been seen from chained routers. */
        while (again) {
                again = false;
                for (size_t i = 0; i < ELEMENTSOF(model_prefixes); i++) {
                        size_t n = strlen(model_prefixes[i]);

                        if (strncasecmp(name, model_prefixes[i], n) == 0) {
                                name += n;
                                again = true;
                        }
                }
        }
        return name;
}

/**
 * model_resolve() - the --model value for a client model name
 * @client_model: the name the client sent, may be NULL
 * @default_model: DEFAULT_MODEL, used for unknown or missing names; NULL means "sonnet"
 *
 * Prefixes "claude-code-cli/" and "openai/" are stripped, the alias table is applied
 * (case-insensitively, clients are inconsistent about case), other "claude-*" ids pass through
 * unchanged, and anything else (gpt-4o, "") resolves to @default_model.
 *
 * Return: a new string, or NULL on OOM.
 */
char *model_resolve(const char *client_model, const char *default_model) {
        const char *name;

        if (!default_model || !*default_model)
                default_model = MODEL_FALLBACK;
        if (!client_model)
                return strdup(default_model);

        name = model_strip_prefixes(client_model);
        for (size_t i = 0; i < ELEMENTSOF(model_aliases); i++)
                if (strcasecmp(name, model_aliases[i].name) == 0)
                        return strdup(model_aliases[i].cli);
        if (strneq(name, "claude-", strlen("claude-")) && name[strlen("claude-")])
                return strdup(name);
        return strdup(default_model);
}

/**
 * models_list_to_json() - the /v1/models body
 * @ret: new reference to the list object
 *
 * One shape serves both SDKs: Anthropic's reads id/type/display_name/created_at and
 * has_more/first_id/last_id, OpenAI's reads object/created/owned_by.
 *
 * Return: 0, or -ENOMEM.
 */
int models_list_to_json(json_t **ret) {
        json_auto_t *data = json_array();
        json_t *list;

        if (!data)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(model_list); i++) {
                json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s}",
                                      "id", model_list[i].id,
                                      "object", "model",
                                      "type", "model",
                                      "display_name", model_list[i].display_name,
                                      "created", (json_int_t) model_list[i].created,
                                      "created_at", model_list[i].created_at,
                                      "owned_by", "anthropic");
                if (json_array_append_new(data, m) < 0)
                        return -ENOMEM;
        }
        list = json_pack("{s:s,s:O,s:b,s:s,s:s}",
                         "object", "list",
                         "data", data,
                         "has_more", 0,
                         "first_id", model_list[0].id,
                         "last_id", model_list[ELEMENTSOF(model_list) - 1].id);
        if (!list)
                return -ENOMEM;
        *ret = list;
        return 0;
}

static bool list_has_id(const json_t *data, const char *id) {
        size_t i;
        json_t *m;

        json_array_foreach(data, i, m)
                if (streq_ptr(json_string_value(json_object_get(m, "id")), id))
                        return true;
        return false;
}

/* Another entry than the one at @skip resolves to @resolved. */
static bool resolved_elsewhere(const json_t *models, size_t skip, const char *resolved) {
        size_t i;
        json_t *m;

        json_array_foreach(models, i, m)
                if (i != skip && streq_ptr(json_string_value(json_object_get(m, "resolvedModel")), resolved))
                        return true;
        return false;
}

static int list_append(json_t *data, const char *id, const char *display_name, int64_t created,
                       const char *created_at) {
        json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "id", id, "object", "model", "type", "model",
                              "display_name", display_name, "created", (json_int_t) created, "created_at", created_at,
                              "owned_by", "anthropic");

        return json_array_append_new(data, m) < 0 ? -ENOMEM : 0;
}

/**
 * models_list_from_cli() - the /v1/models body from the CLI's own model list
 * @initialize_response: the "response" object of the CLI's answer to `initialize` (cli/README
 *                       §16.4: models[{value, resolvedModel, displayName, ...}])
 * @created: unix seconds to report as each model's creation (the CLI gives no date): when the
 *           list was fetched
 * @created_at: the same as RFC 3339
 * @ret: new reference to the list, in the shape of models_list_to_json()
 *
 * Each model the CLI offers appears once under its resolved id (what --model accepts, e.g.
 * "claude-sonnet-5", "claude-opus-4-8[1m]"), named by the CLI's displayName; its "default" entry
 * only when nothing else resolves to the same model. Then the aliases the proxy accepts for each
 * family the CLI offers (sonnet, claude-sonnet-4-6, ...: model_resolve()), so a client that
 * lists before it picks finds the names it knows, and each of them can be fetched by id.
 *
 * Return: 0; -EBADMSG when the answer has no usable models (the caller falls back to the static
 * catalog); -ENOMEM.
 */
int models_list_from_cli(const json_t *initialize_response, int64_t created, const char *created_at, json_t **ret) {
        const json_t *models = json_object_get(initialize_response, "models");
        json_auto_t *data = json_array();
        size_t i, n;
        json_t *m, *list;

        if (!data)
                return -ENOMEM;
        json_array_foreach(models, i, m) {
                const char *value = json_string_value(json_object_get(m, "value"));
                const char *resolved = json_string_value(json_object_get(m, "resolvedModel"));
                const char *display = json_string_value(json_object_get(m, "displayName"));

                if (!resolved || !*resolved || list_has_id(data, resolved))
                        continue;
                if (streq_ptr(value, "default") && resolved_elsewhere(models, i, resolved))
                        continue;
                if (list_append(data, resolved, display ?: resolved, created, created_at) < 0)
                        return -ENOMEM;
        }
        if (json_array_size(data) == 0)
                return -EBADMSG;
        /* The names the proxy accepts for a family the CLI offers ("sonnet", "claude-sonnet-4-6"):
         * named like the family's entry ("opus" is offered as "opus" or "opus[1m]"). */
        for (size_t k = 0; k < ELEMENTSOF(model_aliases); k++)
                json_array_foreach(models, i, m) {
                        const char *value = json_string_value(json_object_get(m, "value"));
                        const char *display = json_string_value(json_object_get(m, "displayName"));
                        const char *family = model_aliases[k].cli;
                        size_t len = strlen(family);

                        if (!value || !strneq(value, family, len) || (value[len] && value[len] != '['))
                                continue;
                        if (!list_has_id(data, model_aliases[k].name) &&
                            list_append(data, model_aliases[k].name, display ?: family, created, created_at) < 0)
                                return -ENOMEM;
                        break;
                }
        n = json_array_size(data);
        list = json_pack("{s:s,s:O,s:b,s:s,s:s}", "object", "list", "data", data, "has_more", 0, "first_id",
                         json_string_value(json_object_get(json_array_get(data, 0), "id")), "last_id",
                         json_string_value(json_object_get(json_array_get(data, n - 1), "id")));
        if (!list)
                return -ENOMEM;
        *ret = list;
        return 0;
}
