/* SPDX-License-Identifier: MIT */

/* The CLI child's environment: allow-list, CHILD_ENV, and the names that never pass. */

#include "cli/env.h"
#include "helpers.h"
#include "util/strv.h"

static void test_allow_list(void **state) {
        char *parent[] = {
                "PATH=/usr/bin", "HOME=/var/lib/cp", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC",
                "CLAUDE_CODE_OAUTH_TOKEN=tok", "HTTPS_PROXY=http://p", "SECRET=x", "ANTHROPIC_API_KEY=sk",
                "CLAUDECODE=1", "CLAUDE_CODE_ENTRYPOINT=cli", "NOTIFY_SOCKET=/run/n", "LISTEN_FDS=1",
                "WATCHDOG_USEC=1", "JOURNAL_STREAM=1:2", "PROXY_API_KEYS=k", "LCX=no", "broken", NULL,
        };
        _cleanup_strv_free_ char **env = NULL;

        assert_int_equal(cli_env_build(parent, NULL, 2, &env), 0);
        for (const char *const *w = (const char *const[]) { "PATH=/usr/bin", "HOME=/var/lib/cp", "LANG=C.UTF-8",
                                                              "LC_ALL=C", "TZ=UTC", "CLAUDE_CODE_OAUTH_TOKEN=tok",
                                                              "HTTPS_PROXY=http://p",
                                                              "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
                                                              "CLAUDE_CODE_MAX_RETRIES=2", NULL };
             *w; w++)
                assert_true(strv_contains(env, *w));
        assert_int_equal(strv_length(env), 9);
}

static void test_child_env_names(void **state) {
        char *parent[] = { "ANTHROPIC_API_KEY=sk", "ANTHROPIC_BASE_URL=http://m", "NOTIFY_SOCKET=/run/n",
                           "PROXY_API_KEYS=k", "CLAUDE_CODE_MAX_RETRIES=9", "OTHER=1", NULL };
        char *names[] = { "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "NOTIFY_SOCKET", "PROXY_API_KEYS",
                          "CLAUDE_CODE_MAX_RETRIES", NULL };
        _cleanup_strv_free_ char **env = NULL;

        assert_int_equal(cli_env_build(parent, names, 0, &env), 0);
        assert_true(strv_contains(env, "ANTHROPIC_API_KEY=sk"));
        assert_true(strv_contains(env, "ANTHROPIC_BASE_URL=http://m"));
        /* Refused even when named: systemd's and the proxy's own, and the ones we set ourselves. */
        assert_false(strv_contains(env, "NOTIFY_SOCKET=/run/n"));
        assert_false(strv_contains(env, "PROXY_API_KEYS=k"));
        assert_false(strv_contains(env, "CLAUDE_CODE_MAX_RETRIES=9"));
        assert_true(strv_contains(env, "CLAUDE_CODE_MAX_RETRIES=0"));
        assert_false(strv_contains(env, "OTHER=1"));
        assert_int_equal(strv_length(env), 4);
}

static void test_empty_parent(void **state) {
        _cleanup_strv_free_ char **env = NULL;

        assert_int_equal(cli_env_build(NULL, NULL, 1, &env), 0);
        assert_int_equal(strv_length(env), 2);
}

static void test_set(void **state) {
        char *parent[] = { "PATH=/bin", "CLAUDE_CODE_OAUTH_TOKEN=old", NULL };
        _cleanup_strv_free_ char **env = NULL;

        assert_int_equal(cli_env_build(parent, NULL, 2, &env), 0);
        assert_int_equal(cli_env_set(&env, "CLAUDE_CODE_OAUTH_TOKEN", "new"), 0);
        assert_true(strv_contains(env, "CLAUDE_CODE_OAUTH_TOKEN=new"));
        assert_false(strv_contains(env, "CLAUDE_CODE_OAUTH_TOKEN=old"));
        assert_int_equal(strv_length(env), 4);
        /* A prefix of another name is a different variable. */
        assert_int_equal(cli_env_set(&env, "PAT", "x"), 0);
        assert_true(strv_contains(env, "PATH=/bin"));
        assert_int_equal(strv_length(env), 5);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_allow_list),
                cmocka_unit_test(test_child_env_names),
                cmocka_unit_test(test_empty_parent),
                cmocka_unit_test(test_set),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
