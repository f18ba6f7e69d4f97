/* SPDX-License-Identifier: MIT */

/*
 * Configuration: defaults, every key's accepted and rejected values (with the exact message), the
 * file syntax, precedence file < environment, the keys file, validation and --check-config output.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "helpers.h"
/* "config.h" alone would find the generated build config.h first on the include path. */
#include "src/config.h"
#include "util/macro.h"
#include "util/strv.h"

static const char default_format[] =
        "HOST=127.0.0.1\n"
        "PORT=4523\n"
        "AGENT_PORT=0\n"
        "PROXY_API_KEYS=<0 keys>\n"
        "REQUIRE_AUTH=true\n"
        "CLAUDE_PATH=claude\n"
        "DEFAULT_MODEL=sonnet\n"
        "DEFAULT_EFFORT=high\n"
        "REQUEST_TIMEOUT_MS=300000\n"
        "IDLE_TIMEOUT_MS=120000\n"
        "KILL_GRACE_MS=1000\n"
        "PING_INTERVAL_MS=10000\n"
        "LOG_LEVEL=info\n"
        "ENABLE_THINKING=false\n"
        "PROXY_MCP_CONFIG=\n"
        "MAX_BODY_BYTES=10485760\n"
        "MAX_BODY_VALUES=500000\n"
        "MAX_CONCURRENT=16\n"
        "MAX_QUEUE=64\n"
        "WARM_POOL=1\n"
        "TOOL_PARK_MS=0\n"
        "CHILD_ENV=\n"
        "SYSTEM_PROMPT_MODE=user\n"
        "CLI_MAX_RETRIES=2\n"
        "WORK_DIR=\n"
        "SCOPE_MODE=auto\n"
        "SCOPE_SLICE=claudeproxy.slice\n"
        "SCOPE_MEMORY_MAX=\n"
        "SCOPE_TASKS_MAX=\n"
        "SCOPE_CPU_QUOTA=\n"
        "EXIT_IDLE_SEC=0\n"
        "SHUTDOWN_GRACE_MS=10000\n"
        "METRICS_AUTH=true\n";

static int setup(void **state) {
        Config *c = calloc(1, sizeof(Config));

        if (!c)
                return -1;
        config_init(c);
        *state = c;
        return 0;
}

static int teardown(void **state) {
        Config *c = *state;

        config_done(c);
        free(c);
        return 0;
}

static void assert_strv_equal(char *const *l, const char *const *expected) {
        size_t n = 0;

        while (expected[n])
                n++;
        assert_int_equal(strv_length(l), n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(l[i], expected[i]);
}

/* Set one key and insist on success. */
static void set_ok(Config *c, const char *key, const char *value) {
        char err[512] = "";
        int r = config_set(c, key, value, err, sizeof(err));

        if (r != 0)
                fail_msg("config_set(%s, '%s') = %d: %s", key, value, r, err);
}

/* Set one key, insist on -EINVAL with exactly `msg`, and check the configuration did not change. */
static void set_bad(Config *c, const char *key, const char *value, const char *msg) {
        _cleanup_free_ char *before = config_format(c), *after = NULL;
        char err[512] = "";

        assert_int_equal(config_set(c, key, value, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, msg);
        after = config_format(c);
        assert_string_equal(before, after);
}

static void test_defaults(void **state) {
        const Config *c = *state;
        _cleanup_free_ char *s = config_format(c);

        assert_string_equal(c->host, "127.0.0.1");
        assert_int_equal(c->port, 4523);
        assert_null(c->api_keys);
        assert_true(c->require_auth);
        assert_string_equal(c->claude_path, "claude");
        assert_string_equal(c->default_model, "sonnet");
        assert_string_equal(c->default_effort, "high");
        assert_int_equal(c->request_timeout_ms, 300000);
        assert_int_equal(c->idle_timeout_ms, 120000);
        assert_int_equal(c->kill_grace_ms, 1000);
        assert_int_equal(c->ping_interval_ms, 10000);
        assert_int_equal(c->log_level, LOG_INFO);
        assert_false(c->enable_thinking);
        assert_null(c->mcp_config_path);
        assert_int_equal(c->max_body_values, 500000);
        assert_int_equal(c->max_body_bytes, 10485760);
        assert_int_equal(c->max_concurrent, 16);
        assert_int_equal(c->max_queue, 64);
        assert_null(c->child_env);
        assert_int_equal(c->system_prompt_mode, SYSTEM_PROMPT_USER);
        assert_int_equal(c->cli_max_retries, 2);
        assert_null(c->work_dir);
        assert_int_equal(c->scope_mode, SCOPE_MODE_AUTO);
        assert_string_equal(c->scope_slice, "claudeproxy.slice");
        assert_int_equal(c->scope_memory_max, 0);
        assert_int_equal(c->scope_tasks_max, 0);
        assert_int_equal(c->scope_cpu_quota, 0);
        assert_int_equal(c->exit_idle_sec, 0);
        assert_int_equal(c->shutdown_grace_ms, 10000);
        assert_true(c->metrics_auth);

        assert_non_null(s);
        assert_string_equal(s, default_format);
}

static void test_known_keys(void **state) {
        static const char *const names[] = {
                "HOST", "PORT", "PROXY_API_KEYS", "REQUIRE_AUTH", "CLAUDE_PATH", "DEFAULT_MODEL",
                "DEFAULT_EFFORT", "REQUEST_TIMEOUT_MS", "IDLE_TIMEOUT_MS", "KILL_GRACE_MS",
                "PING_INTERVAL_MS", "LOG_LEVEL", "ENABLE_THINKING", "PROXY_MCP_CONFIG", "MAX_BODY_BYTES", "MAX_BODY_VALUES",
                "MAX_CONCURRENT", "MAX_QUEUE", "WARM_POOL", "TOOL_PARK_MS", "CHILD_ENV", "SYSTEM_PROMPT_MODE", "CLI_MAX_RETRIES",
                "WORK_DIR",
        };
        Config *c = *state;
        char err[256] = "";

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_true(config_is_known_key(names[i]));
        assert_false(config_is_known_key("port"));
        assert_false(config_is_known_key("PORTX"));
        assert_false(config_is_known_key(""));
        assert_false(config_is_known_key("PATH"));
        assert_false(config_is_known_key(NULL));

        assert_int_equal(config_set(c, "NOPE", "1", err, sizeof(err)), -ENOENT);
        assert_string_equal(err, "Unknown key 'NOPE'");
        /* No message buffer is fine too. */
        assert_int_equal(config_set(c, "NOPE", "1", NULL, 0), -ENOENT);
        assert_int_equal(config_set(c, "PORT", "x", NULL, 0), -EINVAL);
        assert_int_equal(c->port, 4523);
}

static void test_port(void **state) {
        Config *c = *state;

        set_ok(c, "PORT", "0");
        assert_int_equal(c->port, 0);
        set_ok(c, "PORT", "65535");
        assert_int_equal(c->port, 65535);
        set_ok(c, "PORT", "080");
        assert_int_equal(c->port, 80);

        static const char *const bad[] = {
                "abc", "", "65536", "-1", "+80", " 80", "80 ", "80x", "0x50", "1e3", "8 0",
                "99999999999999999999999999",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char msg[256];
                snprintf(msg, sizeof(msg), "Invalid value for PORT: '%s' (expected 0..65535)", bad[i]);
                set_bad(c, "PORT", bad[i], msg);
        }
        set_bad(c, "PORT", "abc", "Invalid value for PORT: 'abc' (expected 0..65535)");
        assert_int_equal(c->port, 80);
}

static void test_strings(void **state) {
        Config *c = *state;

        set_ok(c, "HOST", "::1");
        assert_string_equal(c->host, "::1");
        set_ok(c, "CLAUDE_PATH", "/usr/local/bin/claude");
        assert_string_equal(c->claude_path, "/usr/local/bin/claude");
        set_ok(c, "DEFAULT_MODEL", "claude-opus-4-6");
        assert_string_equal(c->default_model, "claude-opus-4-6");

        set_bad(c, "HOST", "", "Invalid value for HOST: '' (expected a host name or address)");
        set_bad(c, "CLAUDE_PATH", "", "Invalid value for CLAUDE_PATH: '' (expected a program name or path)");
        set_bad(c, "DEFAULT_MODEL", "", "Invalid value for DEFAULT_MODEL: '' (expected a model name)");

        /* Optional paths: empty means unset again. */
        set_ok(c, "PROXY_MCP_CONFIG", "/etc/mcp.json");
        assert_string_equal(c->mcp_config_path, "/etc/mcp.json");
        set_ok(c, "PROXY_MCP_CONFIG", "");
        assert_null(c->mcp_config_path);
        set_ok(c, "WORK_DIR", "/srv/work");
        assert_string_equal(c->work_dir, "/srv/work");
        set_ok(c, "WORK_DIR", "");
        assert_null(c->work_dir);
}

static void test_effort(void **state) {
        static const char *const ok[] = { "low", "medium", "high", "xhigh", "max" };
        Config *c = *state;

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                set_ok(c, "DEFAULT_EFFORT", ok[i]);
                assert_string_equal(c->default_effort, ok[i]);
        }
        /* Stored in the canonical spelling the CLI expects. */
        set_ok(c, "DEFAULT_EFFORT", "Medium");
        assert_string_equal(c->default_effort, "medium");

        set_bad(c, "DEFAULT_EFFORT", "extreme",
                "Invalid value for DEFAULT_EFFORT: 'extreme' (expected low, medium, high, xhigh or max)");
        set_bad(c, "DEFAULT_EFFORT", "",
                "Invalid value for DEFAULT_EFFORT: '' (expected low, medium, high, xhigh or max)");
        set_bad(c, "DEFAULT_EFFORT", "high ",
                "Invalid value for DEFAULT_EFFORT: 'high ' (expected low, medium, high, xhigh or max)");
}

static void test_durations(void **state) {
        Config *c = *state;

        /* 0 is "no limit" for the two timeouts only. */
        set_ok(c, "REQUEST_TIMEOUT_MS", "0");
        assert_int_equal(c->request_timeout_ms, 0);
        set_ok(c, "IDLE_TIMEOUT_MS", "0");
        assert_int_equal(c->idle_timeout_ms, 0);
        set_ok(c, "REQUEST_TIMEOUT_MS", "4294967295");
        assert_int_equal(c->request_timeout_ms, 4294967295u);
        set_ok(c, "KILL_GRACE_MS", "1");
        assert_int_equal(c->kill_grace_ms, 1);
        set_ok(c, "PING_INTERVAL_MS", "15000");
        assert_int_equal(c->ping_interval_ms, 15000);

        set_bad(c, "KILL_GRACE_MS", "0", "Invalid value for KILL_GRACE_MS: '0' (expected 1..4294967295)");
        set_bad(c, "PING_INTERVAL_MS", "0", "Invalid value for PING_INTERVAL_MS: '0' (expected 1..4294967295)");
        set_bad(c, "REQUEST_TIMEOUT_MS", "4294967296",
                "Invalid value for REQUEST_TIMEOUT_MS: '4294967296' (expected 0..4294967295)");
        set_bad(c, "IDLE_TIMEOUT_MS", "5s", "Invalid value for IDLE_TIMEOUT_MS: '5s' (expected 0..4294967295)");
        set_bad(c, "IDLE_TIMEOUT_MS", "-5", "Invalid value for IDLE_TIMEOUT_MS: '-5' (expected 0..4294967295)");
        /* 2^64 and beyond: overflow must be caught, not wrapped to a small number. */
        set_bad(c, "REQUEST_TIMEOUT_MS", "18446744073709551616",
                "Invalid value for REQUEST_TIMEOUT_MS: '18446744073709551616' (expected 0..4294967295)");
        set_bad(c, "REQUEST_TIMEOUT_MS", "18446744073709551617000",
                "Invalid value for REQUEST_TIMEOUT_MS: '18446744073709551617000' (expected 0..4294967295)");
        assert_int_equal(c->request_timeout_ms, 4294967295u);
}

static void test_log_level(void **state) {
        static const struct {
                const char *in;
                int level;
                const char *shown;
        } t[] = {
                { "debug", LOG_DEBUG, "debug" },
                { "info", LOG_INFO, "info" },
                { "notice", LOG_NOTICE, "notice" },
                { "warn", LOG_WARNING, "warning" },
                { "warning", LOG_WARNING, "warning" },
                { "error", LOG_ERR, "error" },
                { "DEBUG", LOG_DEBUG, "debug" },
        };
        Config *c = *state;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *s = NULL;
                char line[64];

                set_ok(c, "LOG_LEVEL", t[i].in);
                assert_int_equal(c->log_level, t[i].level);
                s = config_format(c);
                snprintf(line, sizeof(line), "\nLOG_LEVEL=%s\n", t[i].shown);
                assert_non_null(strstr(s, line));
        }
        set_bad(c, "LOG_LEVEL", "trace",
                "Invalid value for LOG_LEVEL: 'trace' (expected debug, info, notice, warn, warning or error)");
        set_bad(c, "LOG_LEVEL", "3",
                "Invalid value for LOG_LEVEL: '3' (expected debug, info, notice, warn, warning or error)");
}

static void test_enable_thinking(void **state) {
        static const char *const yes[] = { "true", "1", "yes", "TRUE", "Yes" };
        static const char *const no[] = { "false", "0", "no", "False", "NO" };
        static const char *const bad[] = { "", "on", "off", "2", "y", "truee" };
        Config *c = *state;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                set_ok(c, "ENABLE_THINKING", "false");
                set_ok(c, "ENABLE_THINKING", yes[i]);
                assert_true(c->enable_thinking);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                set_ok(c, "ENABLE_THINKING", "true");
                set_ok(c, "ENABLE_THINKING", no[i]);
                assert_false(c->enable_thinking);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char msg[256];
                snprintf(msg, sizeof(msg),
                         "Invalid value for ENABLE_THINKING: '%s' (expected true, false, 1, 0, yes or no)", bad[i]);
                set_bad(c, "ENABLE_THINKING", bad[i], msg);
        }
}

static void test_require_auth_literal(void **state) {
        /* Anything but the exact lowercase "false" keeps auth on: a typo must fail closed. */
        static const char *const on[] = { "true", "1", "yes", "False", "FALSE", "0", "no", "off", "", " false",
                                          "false ", "nope" };
        Config *c = *state;

        for (size_t i = 0; i < ELEMENTSOF(on); i++) {
                set_ok(c, "REQUIRE_AUTH", "false");
                assert_false(c->require_auth);
                set_ok(c, "REQUIRE_AUTH", on[i]);
                assert_true(c->require_auth);
        }
}

static void test_size(void **state) {
        static const struct {
                const char *in;
                uint64_t bytes;
        } ok[] = {
                { "1", 1 },
                { "1048576", 1048576 },
                { "1K", 1024 },
                { "64k", 65536 },
                { "32M", UINT64_C(32) << 20 },
                { "2m", UINT64_C(2) << 20 },
                { "1G", UINT64_C(1) << 30 },
                { "5g", UINT64_C(5) << 30 },
                { "8589934591G", UINT64_C(8589934591) << 30 },  /* INT64_MAX rounded down to G */
                { "9223372036854775807", INT64_MAX },
        };
        static const char *const bad[] = {
                "0", "0K", "", "K", "1T", "1KB", "1 K", "1K ", "-1", "1.5M", "+1",
                "9223372036854775808",                          /* INT64_MAX + 1 */
                "8589934592G",                                   /* 2^63: beyond ev_ssize_t */
                "17179869184G",                                  /* 2^64: wraps to 0 if unchecked */
                "17179869185G",                                  /* 2^64 + 1G: wraps to 1G if unchecked */
                "18446744073709551616",
        };
        Config *c = *state;

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                set_ok(c, "MAX_BODY_BYTES", ok[i].in);
                assert_true(c->max_body_bytes == ok[i].bytes);
        }
        set_ok(c, "MAX_BODY_BYTES", "10M");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char msg[256];
                snprintf(msg, sizeof(msg),
                         "Invalid value for MAX_BODY_BYTES: '%s' (expected a size in bytes, optionally with a K, M "
                         "or G suffix)",
                         bad[i]);
                set_bad(c, "MAX_BODY_BYTES", bad[i], msg);
        }
        assert_int_equal(c->max_body_bytes, 10 << 20);
}

static void test_limits(void **state) {
        Config *c = *state;

        set_ok(c, "MAX_CONCURRENT", "1");
        assert_int_equal(c->max_concurrent, 1);
        set_ok(c, "MAX_CONCURRENT", "4294967295");
        assert_int_equal(c->max_concurrent, 4294967295u);
        set_bad(c, "MAX_CONCURRENT", "0", "Invalid value for MAX_CONCURRENT: '0' (expected 1..4294967295)");
        set_bad(c, "MAX_CONCURRENT", "4294967296",
                "Invalid value for MAX_CONCURRENT: '4294967296' (expected 1..4294967295)");

        set_ok(c, "MAX_QUEUE", "0");
        set_ok(c, "WARM_POOL", "0");
        assert_int_equal(c->warm_pool, 0);
        set_bad(c, "WARM_POOL", "65", "Invalid value for WARM_POOL: '65' (expected 0..64)");
        assert_int_equal(c->max_queue, 0);
        set_ok(c, "MAX_QUEUE", "1000");
        assert_int_equal(c->max_queue, 1000);
        set_bad(c, "MAX_QUEUE", "-1", "Invalid value for MAX_QUEUE: '-1' (expected 0..4294967295)");
        set_bad(c, "MAX_QUEUE", "ten", "Invalid value for MAX_QUEUE: 'ten' (expected 0..4294967295)");

        set_ok(c, "CLI_MAX_RETRIES", "0");
        assert_int_equal(c->cli_max_retries, 0);
        set_ok(c, "CLI_MAX_RETRIES", "100");
        assert_int_equal(c->cli_max_retries, 100);
        set_bad(c, "CLI_MAX_RETRIES", "101", "Invalid value for CLI_MAX_RETRIES: '101' (expected 0..100)");
        set_bad(c, "CLI_MAX_RETRIES", "", "Invalid value for CLI_MAX_RETRIES: '' (expected 0..100)");
}

static void test_system_prompt_mode(void **state) {
        Config *c = *state;

        set_ok(c, "SYSTEM_PROMPT_MODE", "append");
        assert_int_equal(c->system_prompt_mode, SYSTEM_PROMPT_APPEND);
        set_ok(c, "SYSTEM_PROMPT_MODE", "replace");
        assert_int_equal(c->system_prompt_mode, SYSTEM_PROMPT_REPLACE);
        set_ok(c, "SYSTEM_PROMPT_MODE", "user");
        assert_int_equal(c->system_prompt_mode, SYSTEM_PROMPT_USER);
        set_bad(c, "SYSTEM_PROMPT_MODE", "system",
                "Invalid value for SYSTEM_PROMPT_MODE: 'system' (expected user, append or replace)");
}

static void test_api_keys(void **state) {
        Config *c = *state;

        set_ok(c, "PROXY_API_KEYS", " a , b,,c ,\t");
        assert_strv_equal(c->api_keys, (const char *const[]) { "a", "b", "c", NULL });
        /* A later source replaces the list, it does not extend it. */
        set_ok(c, "PROXY_API_KEYS", "sk-only");
        assert_strv_equal(c->api_keys, (const char *const[]) { "sk-only", NULL });
        /* Spaces inside a key are kept; only commas separate. */
        set_ok(c, "PROXY_API_KEYS", "with space,x");
        assert_strv_equal(c->api_keys, (const char *const[]) { "with space", "x", NULL });
        set_ok(c, "PROXY_API_KEYS", " , ,");
        assert_null(c->api_keys);
        set_ok(c, "PROXY_API_KEYS", "");
        assert_null(c->api_keys);
}

static void test_child_env(void **state) {
        Config *c = *state;

        set_ok(c, "CHILD_ENV", "HTTPS_PROXY, no_proxy\tLANG  _X1,,");
        assert_strv_equal(c->child_env, (const char *const[]) { "HTTPS_PROXY", "no_proxy", "LANG", "_X1", NULL });

        set_bad(c, "CHILD_ENV", "FOO,1BAD",
                "Invalid value for CHILD_ENV: 'FOO,1BAD' ('1BAD' is not a valid variable name)");
        set_bad(c, "CHILD_ENV", "FOO-BAR",
                "Invalid value for CHILD_ENV: 'FOO-BAR' ('FOO-BAR' is not a valid variable name)");
        set_bad(c, "CHILD_ENV", "A=B",
                "Invalid value for CHILD_ENV: 'A=B' ('A=B' is not a valid variable name)");
        set_bad(c, "CHILD_ENV", "LANG;rm",
                "Invalid value for CHILD_ENV: 'LANG;rm' ('LANG;rm' is not a valid variable name)");
        assert_int_equal(strv_length(c->child_env), 4);

        set_ok(c, "CHILD_ENV", "");
        assert_null(c->child_env);
}

static void test_parse_full_file(void **state) {
        Config *c = *state;
        _cleanup_free_ char *path = fixture_path("config/full.conf");
        char err[512] = "";

        assert_int_equal(config_load_file(c, path, false, err, sizeof(err)), 0);
        assert_string_equal(err, "");

        assert_string_equal(c->host, "0.0.0.0");
        assert_int_equal(c->port, 8080);
        /* '#' and '=' inside values are data: there are no inline comments. */
        assert_strv_equal(c->api_keys, (const char *const[]) { "key-one", "key#two", "key=three", NULL });
        assert_true(c->require_auth);
        assert_string_equal(c->claude_path, "/opt/claude code/bin/claude");
        assert_string_equal(c->default_model, "opus");
        assert_string_equal(c->default_effort, "max");
        assert_int_equal(c->request_timeout_ms, 0);
        assert_int_equal(c->idle_timeout_ms, 0);
        assert_int_equal(c->kill_grace_ms, 250);
        assert_int_equal(c->ping_interval_ms, 5000);
        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_true(c->enable_thinking);
        assert_string_equal(c->mcp_config_path, "/etc/claude-proxy/mcp.json");
        assert_int_equal(c->max_body_bytes, 32 << 20);
        assert_int_equal(c->max_concurrent, 4);
        assert_int_equal(c->max_queue, 0);
        assert_strv_equal(c->child_env, (const char *const[]) { "HTTPS_PROXY", "NO_PROXY", "LANG", NULL });
        assert_int_equal(c->system_prompt_mode, SYSTEM_PROMPT_APPEND);
        assert_int_equal(c->cli_max_retries, 0);
        assert_string_equal(c->work_dir, "/var/lib/claude-proxy");
}

static void test_parse_syntax(void **state) {
        Config *c = *state;
        char err[256] = "";
        /* CRLF line ends, no final newline, quotes of both kinds, unmatched quotes kept. */
        static const char text[] =
                "PORT=9000\r\n"
                "HOST=\"::1\"\r\n"
                "\t# comment\r\n"
                "\r\n"
                "DEFAULT_MODEL = 'haiku'\n"
                "CLAUDE_PATH=\"half-quoted\n"
                "WORK_DIR=\"/a'\n"
                "PROXY_MCP_CONFIG=\"\"\n"
                "PROXY_API_KEYS=  '  padded ,key '  \n"
                "LOG_LEVEL=warn";

        set_ok(c, "PROXY_MCP_CONFIG", "/x");
        assert_int_equal(config_parse_text(c, text, strlen(text), "inline", err, sizeof(err)), 0);
        assert_int_equal(c->port, 9000);
        assert_string_equal(c->host, "::1");
        assert_string_equal(c->default_model, "haiku");
        assert_string_equal(c->claude_path, "\"half-quoted");
        assert_string_equal(c->work_dir, "\"/a'");
        assert_null(c->mcp_config_path);
        assert_strv_equal(c->api_keys, (const char *const[]) { "padded", "key", NULL });
        assert_int_equal(c->log_level, LOG_WARNING);

        /* The length is honoured: the second line is outside it. */
        assert_int_equal(config_parse_text(c, "PORT=1\nPORT=2\n", 7, "inline", err, sizeof(err)), 0);
        assert_int_equal(c->port, 1);
        /* Empty input is an empty configuration. */
        assert_int_equal(config_parse_text(c, "", 0, "inline", err, sizeof(err)), 0);
        assert_int_equal(config_parse_text(c, "\n\n# only\n", 9, "inline", err, sizeof(err)), 0);
}

static void test_parse_errors(void **state) {
        static const struct {
                const char *text;
                const char *msg;
        } t[] = {
                { "PORTT=1\n", "x.conf:1: unknown key 'PORTT'" },
                { "# c\n\nport=1\n", "x.conf:3: unknown key 'port'" },
                { "PORT=1\nHOST\n", "x.conf:2: expected KEY=VALUE" },
                { "=value\n", "x.conf:1: expected KEY=VALUE" },
                { "  = value\n", "x.conf:1: expected KEY=VALUE" },
                { "PORT=1\r\nPORT=70000\r\n", "x.conf:2: Invalid value for PORT: '70000' (expected 0..65535)" },
                { "PORT='abc'\n", "x.conf:1: Invalid value for PORT: 'abc' (expected 0..65535)" },
                { "export PORT=1\n", "x.conf:1: unknown key 'export PORT'" },
        };
        Config *c = *state;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char err[256] = "";
                assert_int_equal(config_parse_text(c, t[i].text, strlen(t[i].text), "x.conf", err, sizeof(err)),
                                 -EINVAL);
                assert_string_equal(err, t[i].msg);
        }

        /* A NUL inside the text is an error, not a silent truncation of the line. */
        char err[256] = "";
        assert_int_equal(config_parse_text(c, "HOST=a\0b\n", 9, "x.conf", err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "x.conf:1: NUL byte in line");
}

static void test_file_errors(void **state) {
        static const struct {
                const char *fixture;
                const char *suffix;
        } t[] = {
                { "config/unknown-key.conf", ":4: unknown key 'PORTT'" },
                { "config/no-equals.conf", ":2: expected KEY=VALUE" },
                { "config/bad-value.conf", ":3: Invalid value for MAX_CONCURRENT: '0' (expected 1..4294967295)" },
        };
        Config *c = *state;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *path = fixture_path(t[i].fixture);
                char err[512] = "", expected[1024];

                snprintf(expected, sizeof(expected), "%s%s", path, t[i].suffix);
                assert_int_equal(config_load_file(c, path, false, err, sizeof(err)), -EINVAL);
                assert_string_equal(err, expected);
        }

        /* Missing: fine when optional (and nothing changes), an error otherwise. */
        config_done(c);
        config_init(c);
        _cleanup_free_ char *missing = fixture_path("config/does-not-exist.conf"), *before = config_format(c);
        _cleanup_free_ char *after = NULL;
        char err[512] = "", expected[1024];

        assert_int_equal(config_load_file(c, missing, true, err, sizeof(err)), 0);
        after = config_format(c);
        assert_string_equal(before, after);
        assert_int_equal(config_load_file(c, missing, false, err, sizeof(err)), -ENOENT);
        snprintf(expected, sizeof(expected), "Failed to read %s: %s", missing, strerror(ENOENT));
        assert_string_equal(err, expected);
}

static void test_env(void **state) {
        Config *c = *state;
        char err[256] = "";
        char *const envp[] = {
                "PATH=/usr/bin",
                "PORT=7000",
                "NOT_A_VAR",
                "port=1",
                "HOST=",                /* verbatim: empty host is rejected below, not skipped */
                NULL,
        };
        char *const envp_ok[] = {
                "PORT=7000",
                "DEFAULT_MODEL= spaced ",
                "PROXY_API_KEYS=e1,e2",
                "PORT=7001",            /* the last occurrence wins */
                NULL,
        };
        char *const envp_bad[] = { "PORT= 7000", NULL };

        assert_int_equal(config_load_env(c, NULL, err, sizeof(err)), 0);
        assert_int_equal(config_load_env(c, envp, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "Invalid value for HOST: '' (expected a host name or address)");

        assert_int_equal(config_load_env(c, envp_ok, err, sizeof(err)), 0);
        assert_int_equal(c->port, 7001);
        /* The environment is not trimmed: the shell already decided what the value is. */
        assert_string_equal(c->default_model, " spaced ");
        assert_strv_equal(c->api_keys, (const char *const[]) { "e1", "e2", NULL });

        assert_int_equal(config_load_env(c, envp_bad, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "Invalid value for PORT: ' 7000' (expected 0..65535)");
}

static void test_precedence(void **state) {
        Config *c = *state;
        _cleanup_free_ char *path = fixture_path("config/precedence.conf");
        char err[256] = "";
        char *const envp[] = { "PORT=2222", "PROXY_API_KEYS=env-key", "HOME=/root", NULL };

        /* The caller applies defaults < file < environment < command line, in that order. */
        assert_int_equal(config_load_file(c, path, false, err, sizeof(err)), 0);
        assert_int_equal(c->port, 1111);
        assert_int_equal(config_load_env(c, envp, err, sizeof(err)), 0);
        assert_int_equal(c->port, 2222);                        /* env over file */
        assert_string_equal(c->host, "file-host");              /* file over default */
        assert_string_equal(c->default_model, "opus");
        assert_string_equal(c->claude_path, "claude");          /* default */
        assert_strv_equal(c->api_keys, (const char *const[]) { "env-key", NULL });
        set_ok(c, "PORT", "3333");                              /* command line over env */
        assert_int_equal(c->port, 3333);
}

static void test_keys_file(void **state) {
        Config *c = *state;
        _cleanup_free_ char *path = fixture_path("config/api-keys"), *missing = fixture_path("config/nope");
        char err[512] = "", tmp[] = "/tmp/test-config-keys-XXXXXX";
        int fd;

        set_ok(c, "PROXY_API_KEYS", "env-key");
        assert_int_equal(config_load_keys_file(c, path, err, sizeof(err)), 0);
        assert_strv_equal(c->api_keys, (const char *const[]) { "env-key", "first-key", "second-key",
                                                               "third key with spaces", NULL });

        /* Trailing blanks and CRLF are trimmed (editors may strip them from the fixture). */
        fd = mkstemp(tmp);
        assert_true(fd >= 0);
        static const char text[] = "  padded\t \r\n#x\nlast";
        assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t) (sizeof(text) - 1));
        close(fd);
        config_done(c);
        config_init(c);
        assert_int_equal(config_load_keys_file(c, tmp, err, sizeof(err)), 0);
        unlink(tmp);
        assert_strv_equal(c->api_keys, (const char *const[]) { "padded", "last", NULL });

        assert_int_equal(config_load_keys_file(c, missing, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, missing));
        assert_int_equal(strv_length(c->api_keys), 2);
}

static void test_validate(void **state) {
        Config *c = *state;
        char err[512] = "";

        assert_int_equal(config_validate(c, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "REQUIRE_AUTH is on but no API keys are configured: set PROXY_API_KEYS, provide "
                                 "the api-keys credential, or set REQUIRE_AUTH=false");
        /* An all-empty key list is no keys at all. */
        set_ok(c, "PROXY_API_KEYS", ", ,");
        assert_int_equal(config_validate(c, NULL, 0), -EINVAL);

        set_ok(c, "REQUIRE_AUTH", "false");
        err[0] = 0;
        assert_int_equal(config_validate(c, err, sizeof(err)), 0);
        assert_string_equal(err, "");

        set_ok(c, "REQUIRE_AUTH", "true");
        set_ok(c, "PROXY_API_KEYS", "k");
        assert_int_equal(config_validate(c, err, sizeof(err)), 0);

        /* The agent-check port cannot share the API's port; both 0 means no agent. */
        set_ok(c, "AGENT_PORT", "4523");
        assert_int_equal(config_validate(c, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "AGENT_PORT=4523 is the same port as PORT: give the agent-check port its own");
        set_ok(c, "PORT", "0");
        set_ok(c, "AGENT_PORT", "0");
        assert_int_equal(config_validate(c, err, sizeof(err)), 0);
}

static void test_format(void **state) {
        Config *c = *state;
        _cleanup_free_ char *path = fixture_path("config/full.conf"), *s = NULL, *s2 = NULL;
        char err[512] = "";
        Config d;

        assert_int_equal(config_load_file(c, path, false, err, sizeof(err)), 0);
        s = config_format(c);
        assert_non_null(s);
        assert_string_equal(s,
                            "HOST=0.0.0.0\n"
                            "PORT=8080\n"
                            "AGENT_PORT=8081\n"
                            "PROXY_API_KEYS=<3 keys>\n"
                            "REQUIRE_AUTH=true\n"
                            "CLAUDE_PATH=/opt/claude code/bin/claude\n"
                            "DEFAULT_MODEL=opus\n"
                            "DEFAULT_EFFORT=max\n"
                            "REQUEST_TIMEOUT_MS=0\n"
                            "IDLE_TIMEOUT_MS=0\n"
                            "KILL_GRACE_MS=250\n"
                            "PING_INTERVAL_MS=5000\n"
                            "LOG_LEVEL=debug\n"
                            "ENABLE_THINKING=true\n"
                            "PROXY_MCP_CONFIG=/etc/claude-proxy/mcp.json\n"
                            "MAX_BODY_BYTES=33554432\n"
                "MAX_BODY_VALUES=500000\n"
                            "MAX_CONCURRENT=4\n"
                            "MAX_QUEUE=0\n"
                            "WARM_POOL=2\n"
                            "TOOL_PARK_MS=0\n"
                            "CHILD_ENV=HTTPS_PROXY,NO_PROXY,LANG\n"
                            "SYSTEM_PROMPT_MODE=append\n"
                            "CLI_MAX_RETRIES=0\n"
                            "WORK_DIR=/var/lib/claude-proxy\n"
                            "SCOPE_MODE=auto\n"
                            "SCOPE_SLICE=claudeproxy.slice\n"
                            "SCOPE_MEMORY_MAX=\n"
                            "SCOPE_TASKS_MAX=\n"
                            "SCOPE_CPU_QUOTA=\n"
                            "EXIT_IDLE_SEC=0\n"
                            "SHUTDOWN_GRACE_MS=10000\n"
                            "METRICS_AUTH=true\n");
        /* Secrets never appear. */
        assert_null(strstr(s, "key-one"));
        assert_null(strstr(s, "key#two"));

        /* Everything but the masked keys reads back to the same configuration. */
        char *keys_line = strstr(s, "PROXY_API_KEYS=");
        assert_non_null(keys_line);
        memset(keys_line, '#', strcspn(keys_line, "\n"));
        config_init(&d);
        assert_int_equal(config_parse_text(&d, s, strlen(s), "format", err, sizeof(err)), 0);
        set_ok(&d, "PROXY_API_KEYS", "a,b,c");
        s2 = config_format(&d);
        config_done(&d);
        free(s);
        s = config_format(c);
        assert_string_equal(s, s2);
}

static void test_reuse(void **state) {
        Config *c = *state;
        _cleanup_free_ char *s = NULL;

        set_ok(c, "PROXY_API_KEYS", "a,b");
        set_ok(c, "CHILD_ENV", "X");
        set_ok(c, "WORK_DIR", "/w");
        config_done(c);
        assert_null(c->host);
        assert_null(c->api_keys);
        assert_null(c->work_dir);
        config_done(c);                 /* twice is harmless */
        config_init(c);
        s = config_format(c);
        assert_string_equal(s, default_format);
}

static void test_message_truncation(void **state) {
        Config *c = *state;
        char err[16];

        memset(err, 'X', sizeof(err));
        assert_int_equal(config_set(c, "PORT", "abc", err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "Invalid value f");
}

static void test_systemd_keys(void **state) {
        Config *c = *state;
        _cleanup_free_ char *s = NULL;

        static const char *const modes[] = { "auto", "scope", "cgroup", "pgroup" };
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                set_ok(c, "SCOPE_MODE", modes[i]);
                assert_int_equal(c->scope_mode, (int) i);
                assert_string_equal(scope_mode_to_string(c->scope_mode), modes[i]);
        }
        set_ok(c, "SCOPE_MODE", "Scope");
        assert_int_equal(c->scope_mode, SCOPE_MODE_SCOPE);
        set_bad(c, "SCOPE_MODE", "systemd", "Invalid value for SCOPE_MODE: 'systemd' (expected auto, scope, cgroup or pgroup)");
        assert_null(scope_mode_to_string(_SCOPE_MODE_MAX));
        assert_int_equal(scope_mode_from_string(NULL), _SCOPE_MODE_INVALID);

        set_ok(c, "SCOPE_MEMORY_MAX", "512M");
        assert_int_equal(c->scope_memory_max, 512ULL << 20);
        set_ok(c, "SCOPE_MEMORY_MAX", "infinity");
        assert_true(c->scope_memory_max == SCOPE_LIMIT_INFINITY);
        set_bad(c, "SCOPE_MEMORY_MAX", "0", "Invalid value for SCOPE_MEMORY_MAX: '0' (expected a size in bytes, optionally with a K, M or G suffix, or infinity)");
        set_bad(c, "SCOPE_MEMORY_MAX", "1T", "Invalid value for SCOPE_MEMORY_MAX: '1T' (expected a size in bytes, optionally with a K, M or G suffix, or infinity)");

        set_ok(c, "SCOPE_TASKS_MAX", "64");
        assert_int_equal(c->scope_tasks_max, 64);
        set_bad(c, "SCOPE_TASKS_MAX", "64K", "Invalid value for SCOPE_TASKS_MAX: '64K' (expected a number of tasks or infinity)");

        set_ok(c, "SCOPE_CPU_QUOTA", "50%");
        assert_int_equal(c->scope_cpu_quota, 50);
        set_ok(c, "SCOPE_CPU_QUOTA", "250");
        assert_int_equal(c->scope_cpu_quota, 250);
        set_bad(c, "SCOPE_CPU_QUOTA", "%", "Invalid value for SCOPE_CPU_QUOTA: '%' (expected a percentage of one CPU such as 50%)");
        set_bad(c, "SCOPE_CPU_QUOTA", "0%", "Invalid value for SCOPE_CPU_QUOTA: '0%' (expected a percentage of one CPU such as 50%)");
        set_bad(c, "SCOPE_CPU_QUOTA", "50%%", "Invalid value for SCOPE_CPU_QUOTA: '50%%' (expected a percentage of one CPU such as 50%)");

        set_ok(c, "SCOPE_SLICE", "");
        assert_null(c->scope_slice);
        set_ok(c, "EXIT_IDLE_SEC", "30");
        assert_int_equal(c->exit_idle_sec, 30);
        set_ok(c, "SHUTDOWN_GRACE_MS", "0");
        assert_int_equal(c->shutdown_grace_ms, 0);
        set_ok(c, "METRICS_AUTH", "no");
        assert_false(c->metrics_auth);
        set_ok(c, "SCOPE_MEMORY_MAX", "1G");
        set_ok(c, "SCOPE_TASKS_MAX", "infinity");

        s = config_format(c);
        assert_non_null(strstr(s, "\nSCOPE_MODE=scope\nSCOPE_SLICE=\nSCOPE_MEMORY_MAX=1073741824\n"
                                  "SCOPE_TASKS_MAX=infinity\nSCOPE_CPU_QUOTA=250%\nEXIT_IDLE_SEC=30\n"
                                  "SHUTDOWN_GRACE_MS=0\nMETRICS_AUTH=false\n"));

        /* Empty values unset the limits again, and the dump reads back. */
        set_ok(c, "SCOPE_MEMORY_MAX", "");
        set_ok(c, "SCOPE_CPU_QUOTA", "");
        assert_int_equal(c->scope_memory_max, 0);
        assert_int_equal(c->scope_cpu_quota, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_defaults),
                T(test_known_keys),
                T(test_port),
                T(test_strings),
                T(test_effort),
                T(test_durations),
                T(test_log_level),
                T(test_enable_thinking),
                T(test_require_auth_literal),
                T(test_size),
                T(test_limits),
                T(test_system_prompt_mode),
                T(test_api_keys),
                T(test_child_env),
                T(test_parse_full_file),
                T(test_parse_syntax),
                T(test_parse_errors),
                T(test_file_errors),
                T(test_env),
                T(test_precedence),
                T(test_keys_file),
                T(test_validate),
                T(test_format),
                T(test_reuse),
                T(test_message_truncation),
                T(test_systemd_keys),
        };
        return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
