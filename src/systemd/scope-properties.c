/* SPDX-License-Identifier: MIT */

/*
 * The shape of a request's container, as data: the transient scope's unit name, Description and
 * property list for StartTransientUnit, and the cgroup v2 files for a delegated sub-cgroup. Both
 * come from the same Config keys (SCOPE_SLICE, SCOPE_MEMORY_MAX, SCOPE_TASKS_MAX,
 * SCOPE_CPU_QUOTA), so the two mechanisms cannot drift apart. Nothing here talks to sd-bus or the
 * cgroup filesystem: systemd/scope.c marshals the list, systemd/cgroup.c writes the files.
 */

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "systemd/scope-properties.h"
#include "util/macro.h"

/* Unit names allow [A-Za-z0-9:_.\-] (and \ escapes, which we never need); a request id from a
 * client header is already restricted to that set by the server, this is the second fence. */
static void sanitize_name(char *s) {
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      strchr(":_.-", *s)))
                        *s = '_';
}

static int name_with(const char *prefix, const char *request_id, unsigned attempt, const char *suffix,
                     char **ret) {
        char *s = NULL;
        int r;

        assert(request_id);
        /* Unit names are capped at 255; keep well below it. */
        if (attempt == 0)
                r = asprintf(&s, "%s%.160s%s", prefix, request_id, suffix);
        else
                r = asprintf(&s, "%s%.160s-%u%s", prefix, request_id, attempt, suffix);
        if (r < 0)
                return -ENOMEM;
        sanitize_name(s);
        *ret = s;
        return 0;
}

/**
 * scope_unit_name() - the transient unit's name for a request
 * @request_id: the request id
 * @attempt: 0 for the plain name; n > 0 appends "-n" (a client reused its x-request-id while
 *           the earlier scope still exists)
 * @ret: new string "claude-proxy-<id>[-n].scope"
 *
 * Return: 0, or -ENOMEM.
 */
int scope_unit_name(const char *request_id, unsigned attempt, char **ret) {
        return name_with(SCOPE_UNIT_PREFIX, request_id, attempt, ".scope", ret);
}

/**
 * cgroup_dir_name() - the sub-cgroup directory name for a request
 * @request_id: the request id
 * @attempt: as for scope_unit_name()
 * @ret: new string "req-<id>[-n]"
 *
 * Return: 0, or -ENOMEM.
 */
int cgroup_dir_name(const char *request_id, unsigned attempt, char **ret) {
        return name_with("req-", request_id, attempt, "", ret);
}

/* Descriptions end in " [<own unit>]": that is how start-up cleanup tells our leftovers from
 * those of another instance (claude-proxy@a vs @b) sharing the manager. */
static const char *owner_tag(const char *own_unit) {
        return own_unit && *own_unit ? own_unit : "no unit";
}

/**
 * scope_description() - Description= for a request's scope
 * @info: the request
 * @ret: new string "claude-proxy request <id> (<api>, <model>) [<own unit>]"
 *
 * The model name comes from the client; anything but printable ASCII becomes '?', so the text is
 * always valid UTF-8 for D-Bus and harmless in `systemctl status`.
 *
 * Return: 0, or -ENOMEM.
 */
int scope_description(const ScopeInfo *info, char **ret) {
        char *s = NULL;

        assert(info);
        if (asprintf(&s, "claude-proxy request %.160s (%s, %.64s) [%s]", info->request_id, info->api ?: "?",
                     info->model ?: "default", owner_tag(info->own_unit)) < 0)
                return -ENOMEM;
        for (char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        *p = '?';
        *ret = s;
        return 0;
}

/**
 * scope_description_is_ours() - whether a leftover scope was started by an instance of our unit
 * @description: the scope's Description
 * @own_unit: our unit, NULL outside one
 *
 * Return: true when @description was made by scope_description() with the same @own_unit.
 */
bool scope_description_is_ours(const char *description, const char *own_unit) {
        char tag[300];
        size_t n, t;

        if (!description || !strneq(description, "claude-proxy request ", 21))
                return false;
        snprintf(tag, sizeof(tag), " [%s]", owner_tag(own_unit));
        n = strlen(description);
        t = strlen(tag);
        return n >= t && streq(description + n - t, tag);
}

static int push(ScopeProperty *p, size_t *n, const char *name, ScopePropertyType type, const char *s,
                uint64_t u) {
        p[*n] = (ScopeProperty) { .name = name, .type = type, .u = u };
        if (s) {
                p[*n].s = strdup(s);
                if (!p[*n].s)
                        return -ENOMEM;
        }
        (*n)++;
        return 0;
}

/**
 * scope_properties_from_config() - the StartTransientUnit properties for a request's scope
 * @c: configuration (SCOPE_*, KILL_GRACE_MS)
 * @info: the request and its child
 * @ret: new array, free with scope_properties_free()
 * @ret_n: its length
 *
 * Always: Description, PIDs, CollectMode=inactive-or-failed (an OOM-killed scope would otherwise
 * linger as failed) and TimeoutStopUSec (the default is 90 s). Slice, MemoryMax, TasksMax and
 * CPUQuotaPerSecUSec only when configured; BindsTo/After only inside a unit, so a watchdog kill
 * of the service takes the scopes with it.
 *
 * Return: 0, or -ENOMEM.
 */
int scope_properties_from_config(const Config *c, const ScopeInfo *info, ScopeProperty **ret, size_t *ret_n) {
        _cleanup_free_ char *desc = NULL;
        ScopeProperty *p;
        size_t n = 0;
        int r;

        assert(c);
        assert(info);
        assert(info->pid > 0);

        r = scope_description(info, &desc);
        if (r < 0)
                return r;
        p = calloc(12, sizeof(*p));
        if (!p)
                return -ENOMEM;

        /* KILL_GRACE_MS plus a second: systemd must not SIGKILL before our own escalation. */
        uint64_t stop_usec = (MIN(c->kill_grace_ms, UINT64_C(60000)) + 1000) * 1000;

        r = push(p, &n, "Description", SCOPE_PROPERTY_STRING, desc, 0);
        if (r >= 0)
                r = push(p, &n, "PIDs", SCOPE_PROPERTY_PIDS, NULL, (uint64_t) info->pid);
        if (r >= 0 && c->scope_slice && *c->scope_slice)
                r = push(p, &n, "Slice", SCOPE_PROPERTY_STRING, c->scope_slice, 0);
        if (r >= 0)
                r = push(p, &n, "CollectMode", SCOPE_PROPERTY_STRING, "inactive-or-failed", 0);
        if (r >= 0)
                r = push(p, &n, "TimeoutStopUSec", SCOPE_PROPERTY_U64, NULL, stop_usec);
        if (r >= 0 && c->scope_memory_max > 0)
                r = push(p, &n, "MemoryMax", SCOPE_PROPERTY_U64, NULL, c->scope_memory_max);
        if (r >= 0 && c->scope_tasks_max > 0)
                r = push(p, &n, "TasksMax", SCOPE_PROPERTY_U64, NULL, c->scope_tasks_max);
        if (r >= 0 && c->scope_cpu_quota > 0)
                /* CPUQuota=50% is 500 ms of CPU per second. */
                r = push(p, &n, "CPUQuotaPerSecUSec", SCOPE_PROPERTY_U64, NULL,
                         (uint64_t) c->scope_cpu_quota * 10000);
        if (r >= 0 && info->own_unit && *info->own_unit) {
                r = push(p, &n, "BindsTo", SCOPE_PROPERTY_STRV1, info->own_unit, 0);
                if (r >= 0)
                        r = push(p, &n, "After", SCOPE_PROPERTY_STRV1, info->own_unit, 0);
        }
        if (r < 0) {
                scope_properties_free(p, n);
                return r;
        }
        *ret = p;
        *ret_n = n;
        return 0;
}

/**
 * scope_properties_free() - free a list from scope_properties_from_config()
 * @p: the array, may be NULL
 * @n: its length
 */
void scope_properties_free(ScopeProperty *p, size_t n) {
        for (size_t i = 0; p && i < n; i++)
                free(p[i].s);
        free(p);
}

/**
 * cgroup_limits_from_config() - the cgroup v2 files for a request's sub-cgroup
 * @c: configuration
 * @ret: up to three entries
 *
 * The same limits as the scope properties, in the kernel's spelling: "max" for infinity and
 * cpu.max as "<quota> <period>" with a 100 ms period.
 *
 * Return: the number of entries filled.
 */
size_t cgroup_limits_from_config(const Config *c, CgroupLimit ret[static 3]) {
        size_t n = 0;

        assert(c);
        if (c->scope_memory_max > 0) {
                ret[n] = (CgroupLimit) { .file = "memory.max", .controller = "memory" };
                if (c->scope_memory_max == SCOPE_LIMIT_INFINITY)
                        snprintf(ret[n].value, sizeof(ret[n].value), "max");
                else
                        snprintf(ret[n].value, sizeof(ret[n].value), "%" PRIu64, c->scope_memory_max);
                n++;
        }
        if (c->scope_tasks_max > 0) {
                ret[n] = (CgroupLimit) { .file = "pids.max", .controller = "pids" };
                if (c->scope_tasks_max == SCOPE_LIMIT_INFINITY)
                        snprintf(ret[n].value, sizeof(ret[n].value), "max");
                else
                        snprintf(ret[n].value, sizeof(ret[n].value), "%" PRIu64, c->scope_tasks_max);
                n++;
        }
        if (c->scope_cpu_quota > 0) {
                ret[n] = (CgroupLimit) { .file = "cpu.max", .controller = "cpu" };
                snprintf(ret[n].value, sizeof(ret[n].value), "%u 100000", c->scope_cpu_quota * 1000);
                n++;
        }
        return n;
}
