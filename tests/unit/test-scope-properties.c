/* SPDX-License-Identifier: MIT */

/*
 * Scope and sub-cgroup shape: unit names, the Description that start-up cleanup relies on, the
 * StartTransientUnit property list for default and fully configured limits, and the cgroup v2
 * files computed from the same keys.
 */

#include <string.h>

#include "helpers.h"
#include "src/config.h"
#include "systemd/scope-properties.h"
#include "util/macro.h"

static const ScopeProperty *find(const ScopeProperty *p, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(p[i].name, name))
                        return &p[i];
        return NULL;
}

static void test_names(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        assert_int_equal(scope_unit_name("req_abc123", 0, &a), 0);
        assert_string_equal(a, "claude-proxy-req_abc123.scope");
        assert_int_equal(scope_unit_name("client:id.1-x", 2, &b), 0);
        assert_string_equal(b, "claude-proxy-client:id.1-x-2.scope");
        /* Anything outside the unit-name alphabet is replaced, never passed to systemd. */
        assert_int_equal(scope_unit_name("a/b c\\d", 0, &c), 0);
        assert_string_equal(c, "claude-proxy-a_b_c_d.scope");
        assert_int_equal(cgroup_dir_name("req_abc", 1, &d), 0);
        assert_string_equal(d, "req-req_abc-1");
}

static void test_long_id(void **state) {
        char id[300];
        _cleanup_free_ char *a = NULL;

        memset(id, 'x', sizeof(id) - 1);
        id[sizeof(id) - 1] = 0;
        assert_int_equal(scope_unit_name(id, 7, &a), 0);
        assert_true(strlen(a) < 255);
        assert_true(strneq(a, "claude-proxy-xxx", 16));
        assert_string_equal(a + strlen(a) - 8, "-7.scope");
}

static void test_description(void **state) {
        ScopeInfo info = { .request_id = "req_1", .api = "anthropic", .model = "claude-\x01opus\xc3\xa9",
                           .own_unit = "claude-proxy.service", .pid = 42 };
        _cleanup_free_ char *d = NULL, *e = NULL;

        assert_int_equal(scope_description(&info, &d), 0);
        assert_string_equal(d, "claude-proxy request req_1 (anthropic, claude-?opus?" "?) [claude-proxy.service]");
        assert_true(scope_description_is_ours(d, "claude-proxy.service"));
        /* Another instance of a template, or a proxy outside any unit, leaves it alone. */
        assert_false(scope_description_is_ours(d, "claude-proxy@work.service"));
        assert_false(scope_description_is_ours(d, NULL));
        assert_false(scope_description_is_ours("something else [claude-proxy.service]", "claude-proxy.service"));
        assert_false(scope_description_is_ours(NULL, "claude-proxy.service"));

        info.own_unit = NULL;
        info.model = NULL;
        assert_int_equal(scope_description(&info, &e), 0);
        assert_string_equal(e, "claude-proxy request req_1 (anthropic, default) [no unit]");
        assert_true(scope_description_is_ours(e, NULL));
        assert_false(scope_description_is_ours(e, "claude-proxy.service"));
}

static void test_properties_default(void **state) {
        Config c;
        ScopeInfo info = { .request_id = "req_1", .api = "anthropic", .model = "sonnet", .pid = 4242 };
        ScopeProperty *p = NULL;
        const ScopeProperty *x;
        size_t n = 0;

        config_init(&c);
        assert_int_equal(scope_properties_from_config(&c, &info, &p, &n), 0);
        /* Description, PIDs, Slice, CollectMode, TimeoutStopUSec; no limits, no unit to bind to. */
        assert_int_equal(n, 5);
        assert_non_null(x = find(p, n, "PIDs"));
        assert_int_equal(x->type, SCOPE_PROPERTY_PIDS);
        assert_int_equal(x->u, 4242);
        assert_non_null(x = find(p, n, "Slice"));
        assert_string_equal(x->s, "claudeproxy.slice");
        assert_non_null(x = find(p, n, "CollectMode"));
        assert_string_equal(x->s, "inactive-or-failed");
        assert_non_null(x = find(p, n, "TimeoutStopUSec"));
        assert_int_equal(x->type, SCOPE_PROPERTY_U64);
        assert_int_equal(x->u, 2000000);         /* KILL_GRACE_MS=1000 plus one second */
        assert_non_null(x = find(p, n, "Description"));
        assert_string_equal(x->s, "claude-proxy request req_1 (anthropic, sonnet) [no unit]");
        assert_null(find(p, n, "MemoryMax"));
        assert_null(find(p, n, "BindsTo"));
        scope_properties_free(p, n);
        config_done(&c);
}

static void test_properties_full(void **state) {
        Config c;
        ScopeInfo info = { .request_id = "r", .api = "anthropic", .own_unit = "claude-proxy.service", .pid = 7 };
        ScopeProperty *p = NULL;
        const ScopeProperty *x;
        size_t n = 0;
        char err[256];

        config_init(&c);
        assert_int_equal(config_set(&c, "SCOPE_MEMORY_MAX", "256M", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, "SCOPE_TASKS_MAX", "infinity", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, "SCOPE_CPU_QUOTA", "50%", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, "SCOPE_SLICE", "", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, "KILL_GRACE_MS", "250", err, sizeof(err)), 0);
        assert_int_equal(scope_properties_from_config(&c, &info, &p, &n), 0);
        assert_null(find(p, n, "Slice"));
        assert_non_null(x = find(p, n, "MemoryMax"));
        assert_int_equal(x->u, 256ULL << 20);
        assert_non_null(x = find(p, n, "TasksMax"));
        assert_true(x->u == UINT64_MAX);
        assert_non_null(x = find(p, n, "CPUQuotaPerSecUSec"));
        assert_int_equal(x->u, 500000);
        assert_non_null(x = find(p, n, "TimeoutStopUSec"));
        assert_int_equal(x->u, 1250000);
        assert_non_null(x = find(p, n, "BindsTo"));
        assert_int_equal(x->type, SCOPE_PROPERTY_STRV1);
        assert_string_equal(x->s, "claude-proxy.service");
        assert_non_null(x = find(p, n, "After"));
        assert_string_equal(x->s, "claude-proxy.service");
        assert_int_equal(n, 9);          /* everything but Slice */
        scope_properties_free(p, n);
        config_done(&c);
}

static void test_cgroup_limits(void **state) {
        Config c;
        CgroupLimit l[3];
        char err[256];

        config_init(&c);
        assert_int_equal(cgroup_limits_from_config(&c, l), 0);
        assert_int_equal(config_set(&c, "SCOPE_MEMORY_MAX", "infinity", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, "SCOPE_TASKS_MAX", "32", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, "SCOPE_CPU_QUOTA", "150%", err, sizeof(err)), 0);
        assert_int_equal(cgroup_limits_from_config(&c, l), 3);
        assert_string_equal(l[0].file, "memory.max");
        assert_string_equal(l[0].controller, "memory");
        assert_string_equal(l[0].value, "max");
        assert_string_equal(l[1].file, "pids.max");
        assert_string_equal(l[1].value, "32");
        assert_string_equal(l[2].file, "cpu.max");
        assert_string_equal(l[2].value, "150000 100000");
        assert_int_equal(config_set(&c, "SCOPE_MEMORY_MAX", "1K", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, "SCOPE_TASKS_MAX", "", err, sizeof(err)), 0);
        assert_int_equal(cgroup_limits_from_config(&c, l), 2);
        assert_string_equal(l[0].value, "1024");
        assert_string_equal(l[1].file, "cpu.max");
        config_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_long_id),
                cmocka_unit_test(test_description),
                cmocka_unit_test(test_properties_default),
                cmocka_unit_test(test_properties_full),
                cmocka_unit_test(test_cgroup_limits),
        };
        return cmocka_run_group_tests_name("scope-properties", tests, NULL, NULL);
}
