/* SPDX-License-Identifier: MIT */

/*
 * systemd's Manager API for per-request scopes (SYSTEMD.md §3a): StartTransientUnit with the
 * properties from scope-properties.c, KillUnit(all) for the whole tree, the JobRemoved match
 * that tells a scope's start job finished, start-up cleanup of a crashed instance's scopes, and a
 * synchronous probe that answers "may we create scopes at all" (a non-root caller on the system
 * bus needs a polkit grant). Bookkeeping of which request waits for which unit lives in
 * container.c; this file only builds and sends messages.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "systemd/scope.h"
#include "util/log.h"
#include "util/macro.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

/**
 * scope_own_unit() - the unit we run in (user unit first), for BindsTo=
 * @ret: new string
 *
 * Return: 0, or a negative errno (-ENODATA and friends outside a unit).
 */
int scope_own_unit(char **ret) {
        int r = sd_pid_get_user_unit(0, ret);

        if (r >= 0)
                return 0;
        return sd_pid_get_unit(0, ret);
}

static int append_properties(sd_bus_message *m, const ScopeProperty *p, size_t n) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                switch (p[i].type) {
                case SCOPE_PROPERTY_STRING:
                        r = sd_bus_message_append(m, "(sv)", p[i].name, "s", p[i].s);
                        break;
                case SCOPE_PROPERTY_U64:
                        r = sd_bus_message_append(m, "(sv)", p[i].name, "t", p[i].u);
                        break;
                case SCOPE_PROPERTY_STRV1:
                        r = sd_bus_message_append(m, "(sv)", p[i].name, "as", 1, p[i].s);
                        break;
                case SCOPE_PROPERTY_PIDS:
                        r = sd_bus_message_append(m, "(sv)", p[i].name, "au", 1, (uint32_t) p[i].u);
                        break;
                }
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_append(m, "a(sa(sv))", 0);
}

static int start_message(sd_bus *bus, const char *unit, const ScopeProperty *p, size_t n, sd_bus_message **ret) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
        if (r < 0)
                return r;
        /* "fail": a name still loaded is an error, never a silent merge with another request. */
        r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = append_properties(m, p, n);
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        *ret = m;
        return 0;
}

/**
 * scope_start_async() - queue StartTransientUnit for @unit
 * @bus: the bus
 * @unit: "claude-proxy-<id>.scope"
 * @p: properties (PIDs among them)
 * @n: their number
 * @cb: reply handler (the reply only means "job queued"; JobRemoved says it ran)
 * @userdata: for @cb
 * @ret_slot: the call's slot; unref it to cancel the reply callback
 *
 * Return: 0, or a negative errno.
 */
int scope_start_async(sd_bus *bus, const char *unit, const ScopeProperty *p, size_t n,
                      sd_bus_message_handler_t cb, void *userdata, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = start_message(bus, unit, p, n, &m);
        if (r < 0)
                return r;
        return sd_bus_call_async(bus, ret_slot, m, cb, userdata, 10 * 1000000ULL);
}

/**
 * scope_kill_async() - KillUnit(@unit, "all", @sig), reply ignored
 * Return: 0, or a negative errno.
 */
int scope_kill_async(sd_bus *bus, const char *unit, int sig) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "KillUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ssi", unit, "all", (int32_t) sig);
        if (r < 0)
                return r;
        /* A scope already gone answers NoSuchUnit; nothing to do about that. */
        r = sd_bus_message_set_expect_reply(m, 0);
        if (r < 0)
                return r;
        return sd_bus_send(bus, m, NULL);
}

/**
 * scope_end_async() - SIGKILL what is left in @unit, then stop it; replies ignored
 *
 * The kill ends a setsid()ed grandchild at once. The stop is what guarantees the unit goes: a
 * scope started for a child that died before its start job ran (a client that left at once)
 * has an empty cgroup from the start, never sees a "populated → empty" transition, and would
 * otherwise stay active forever.
 *
 * Return: 0, or a negative errno.
 */
int scope_end_async(sd_bus *bus, const char *unit) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = scope_kill_async(bus, unit, SIGKILL);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", unit, "replace");
        if (r < 0)
                return r;
        r = sd_bus_message_set_expect_reply(m, 0);
        if (r < 0)
                return r;
        return sd_bus_send(bus, m, NULL);
}

/**
 * scope_match_job_removed() - subscribe to the Manager's JobRemoved signal
 *
 * No Subscribe() is needed: systemd sends JobRemoved to the client that queued the job. The
 * sender is not matched, because the private socket has no bus names.
 *
 * Return: 0, or a negative errno.
 */
int scope_match_job_removed(sd_bus *bus, sd_bus_message_handler_t cb, void *userdata, sd_bus_slot **ret_slot) {
        return sd_bus_match_signal(bus, ret_slot, NULL, SD_PATH, SD_MANAGER, "JobRemoved", cb, userdata);
}

/**
 * scope_kill_leftovers() - SIGKILL the scopes a crashed instance of our unit left behind
 * @bus: the bus
 * @own_unit: our unit (NULL outside one); only scopes whose Description names it are touched
 *
 * Runs once at start-up, before any request, so it may block on the bus.
 *
 * Return: the number of scopes killed, or a negative errno.
 */
int scope_kill_leftovers(sd_bus *bus, const char *own_unit) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *description, *load, *active;
        int r, killed = 0;

        r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "ListUnitsByPatterns", &error, &reply, "asas", 0,
                               1, SCOPE_UNIT_PATTERN);
        if (r < 0)
                return log_warning_errno(r, "Cannot list leftover scopes: %s", error.message ?: strerror(-r));
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, &description, &load, &active, NULL, NULL,
                                        NULL, NULL, NULL, NULL)) > 0) {
                if (!scope_description_is_ours(description, own_unit))
                        continue;
                if (streq(active, "inactive"))
                        continue;
                log_notice("killing %s, left over by an earlier instance", name);
                if (scope_kill_async(bus, name, SIGKILL) >= 0)
                        killed++;
        }
        if (r < 0)
                return r;
        (void) sd_bus_flush(bus);
        return killed;
}

typedef struct ProbeWait {
        const char *unit;
        bool done;
} ProbeWait;

static int on_probe_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ProbeWait *w = userdata;
        const char *unit = NULL, *result = NULL, *job = NULL;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 && streq_ptr(unit, w->unit))
                w->done = true;
        return 0;
}

/**
 * scope_probe() - can we create scopes here?
 * @bus: the bus
 * @config: for the properties (a bad Slice must fail here, not on every request)
 *
 * Starts a real scope around a throw-away child that only waits to be killed: a reply without
 * error proves permission (polkit), a working manager and acceptable properties. Blocks on the
 * bus; start-up only.
 *
 * Return: 0 when scopes work, or a negative errno (-EACCES when refused).
 */
int scope_probe(sd_bus *bus, const Config *config) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *unit = NULL;
        char id[64];
        ScopeProperty *p = NULL;
        size_t n = 0;
        pid_t pid;
        int r;

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                pause();
                _exit(0);
        }
        snprintf(id, sizeof(id), "probe-%d", (int) getpid());
        r = scope_unit_name(id, 0, &unit);
        if (r >= 0) {
                /* No BindsTo=/After= our unit here: we run before READY=1, so our own start job is
                 * still pending and a scope ordered after it would wait for us — a deadlock. */
                ScopeInfo info = { .request_id = id, .api = "probe", .model = "-", .own_unit = NULL, .pid = pid };
                r = scope_properties_from_config(config, &info, &p, &n);
        }
        ProbeWait wait = { .unit = unit };
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        if (r >= 0)
                r = scope_match_job_removed(bus, on_probe_job_removed, &wait, &slot);
        if (r >= 0)
                r = start_message(bus, unit, p, n, &m);
        if (r >= 0) {
                r = sd_bus_call(bus, m, 5 * 1000000ULL, &error, &reply);
                /* The reply only queues the job: let it finish before the child goes, or systemd
                 * logs a failed scope ("Couldn't move process") on every start. */
                for (int i = 0; r >= 0 && !wait.done && i < 500; i++)
                        if (sd_bus_process(bus, NULL) == 0)
                                (void) sd_bus_wait(bus, 10 * 1000);
                if (r < 0)
                        log_info("cannot create transient scopes: %s",
                                 error.message ?: strerror(-r));
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED))
                        r = -EACCES;
        }
        /* Killing the only process empties the scope; CollectMode removes it. */
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        scope_properties_free(p, n);
        return r < 0 ? r : 0;
}
