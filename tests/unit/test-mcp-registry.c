/* SPDX-License-Identifier: MIT */

/* The MCP server registry: file checks, the names a request gives, the pick, and its argv. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/request.h"
#include "helpers.h"
#include "mcp-registry.h"
#include "util/macro.h"
#include "util/strv.h"

#define GOOD                                                                                            \
        "{\"mcpServers\":{"                                                                             \
        "\"reg\":{\"command\":\"node\",\"args\":[\"srv.mjs\",\"--log\",\"x\"],\"env\":{\"REG_SECRET\":\"s3\"}}," \
        "\"calc\":{\"type\":\"stdio\",\"command\":\"/usr/bin/calc\"},"                                    \
        "\"web-2_x\":{\"command\":\"w\",\"args\":[],\"env\":{}}}}"

static McpRegistry *parse_ok(const char *text) {
        McpRegistry *r = NULL;
        char err[512] = "";

        assert_int_equal(mcp_registry_parse(text, strlen(text), &r, err, sizeof(err)), 0);
        assert_non_null(r);
        return r;
}

static void test_parse_good(void **state) {
        McpRegistry *r = parse_ok(GOOD);

        assert_int_equal(mcp_registry_size(r), 3);
        mcp_registry_free(r);

        r = parse_ok("{\"mcpServers\":{}}");
        assert_int_equal(mcp_registry_size(r), 0);
        mcp_registry_free(r);
        assert_int_equal(mcp_registry_size(NULL), 0);
        assert_null(mcp_registry_free(NULL));
}

static void test_parse_bad(void **state) {
        static const struct {
                const char *text;
                int r;
                const char *msg;        /* a part of the message */
        } t[] = {
                { "", -EBADMSG, "not valid JSON" },
                { "{\"mcpServers\":{}", -EBADMSG, "not valid JSON" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\"},\"a\":{\"command\":\"y\"}}}", -EBADMSG,
                  "duplicate" },
                { "[]", -EINVAL, "must be a JSON object" },
                { "{}", -EINVAL, "\"mcpServers\" is required" },
                { "{\"mcpServers\":[]}", -EINVAL, "\"mcpServers\" is required" },
                { "{\"mcpServers\":{},\"extra\":1}", -EINVAL, "unknown key 'extra'" },
                { "{\"mcpServers\":{\"a b\":{\"command\":\"x\"}}}", -EINVAL, "invalid server name 'a b'" },
                { "{\"mcpServers\":{\"\":{\"command\":\"x\"}}}", -EINVAL, "invalid server name ''" },
                { "{\"mcpServers\":{\"a.b\":{\"command\":\"x\"}}}", -EINVAL, "invalid server name" },
                /* jansson refuses "\u0000" without JSON_ALLOW_NUL: never a half-read name or value. */
                { "{\"mcpServers\":{\"a\\u0000b\":{\"command\":\"x\"}}}", -EBADMSG, "not valid JSON" },
                { "{\"mcpServers\":{\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghi\":{\"command\":\"x\"}}}",
                  -EINVAL, "invalid server name" },
                { "{\"mcpServers\":{\"cp\":{\"command\":\"x\"}}}", -EINVAL, "reserved" },
                { "{\"mcpServers\":{\"a\":\"node\"}}", -EINVAL, "mcpServers.a: must be an object" },
                { "{\"mcpServers\":{\"a\":{}}}", -EINVAL, "mcpServers.a.command: must be a non-empty string" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"\"}}}", -EINVAL, "mcpServers.a.command" },
                { "{\"mcpServers\":{\"a\":{\"command\":[\"x\"]}}}", -EINVAL, "mcpServers.a.command" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\\u0000y\"}}}", -EBADMSG, "not valid JSON" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"args\":\"-v\"}}}", -EINVAL,
                  "mcpServers.a.args: must be an array" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"args\":[\"-v\",2]}}}", -EINVAL,
                  "mcpServers.a.args[1]" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":[]}}}", -EINVAL, "mcpServers.a.env: must be" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"1X\":\"v\"}}}}", -EINVAL,
                  "invalid variable name '1X'" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"A=B\":\"v\"}}}}", -EINVAL,
                  "invalid variable name" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"K\":1}}}}", -EINVAL,
                  "mcpServers.a.env.K: must be a string" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"K\":\"v\\u0000w\"}}}}", -EBADMSG,
                  "not valid JSON" },
                { "{\"mcpServers\":{\"a\":{\"type\":\"http\",\"url\":\"http://x\"}}}", -EINVAL, "unknown key 'url'" },
                { "{\"mcpServers\":{\"a\":{\"type\":\"sse\",\"command\":\"x\"}}}", -EINVAL,
                  "only \"stdio\" servers" },
                { "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"cwd\":\"/\"}}}", -EINVAL, "unknown key 'cwd'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                McpRegistry *r = NULL;
                char err[512] = "";

                assert_int_equal(mcp_registry_parse(t[i].text, strlen(t[i].text), &r, err, sizeof(err)), t[i].r);
                assert_null(r);
                if (!strstr(err, t[i].msg))
                        fail_msg("case %zu: '%s' lacks '%s'", i, err, t[i].msg);
        }
}

/* A bad value of env is a secret in the wrong shape: the message names the key, never the value,
 * not even the token jansson stopped at ("... near 'SECRET'"). */
static void test_parse_never_quotes_env_values(void **state) {
        static const char *const t[] = {
                "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"K\":\"TOP\\u0000SECRET\"}}}}",
                "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"K\":TOPSECRET}}}}",
                "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"K\":\"TOPSECRET",
                "{\"mcpServers\":{\"a\":{\"command\":\"x\",\"env\":{\"K\":[\"TOPSECRET\"]}}}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                McpRegistry *r = NULL;
                char err[512] = "";

                assert_true(mcp_registry_parse(t[i], strlen(t[i]), &r, err, sizeof(err)) < 0);
                assert_true(err[0]);
                if (strstr(err, "SECRET"))
                        fail_msg("case %zu quotes the value: %s", i, err);
        }
}

static void test_load_file(void **state) {
        char path[] = "/tmp/test-mcp-registry-XXXXXX", err[512] = "";
        McpRegistry *r = NULL;
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, GOOD, strlen(GOOD)), (ssize_t) strlen(GOOD));
        assert_int_equal(mcp_registry_load_file(path, &r, err, sizeof(err)), 0);
        assert_int_equal(mcp_registry_size(r), 3);
        r = mcp_registry_free(r);

        /* A bad file: the message names the key, the file and the variable. */
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(pwrite(fd, "{\"mcpServers\":{\"a\":{}}}", 23, 0), 23);
        assert_int_equal(mcp_registry_load_file(path, &r, err, sizeof(err)), -EINVAL);
        assert_null(r);
        assert_non_null(strstr(err, "PROXY_MCP_CONFIG"));
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "mcpServers.a.command"));

        /* Too big: someone named the wrong file. */
        assert_int_equal(ftruncate(fd, MCP_REGISTRY_FILE_MAX + 1), 0);
        assert_int_equal(mcp_registry_load_file(path, &r, err, sizeof(err)), -EFBIG);
        assert_null(r);
        close(fd);
        unlink(path);

        assert_int_equal(mcp_registry_load_file(path, &r, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "cannot read"));
        assert_null(r);
}

static void test_names(void **state) {
        _cleanup_strv_free_ char **n = NULL;
        ApiError e = {};
        json_t *v;

        assert_int_equal(mcp_names_from_json(NULL, "metadata.mcp_servers", &n, &e), 0);
        assert_null(n);
        v = json_null();
        assert_int_equal(mcp_names_from_json(v, "metadata.mcp_servers", &n, &e), 0);
        assert_null(n);

        v = json_literal("[\"reg\",\"calc\",\"reg\"]");
        assert_int_equal(mcp_names_from_json(v, "metadata.mcp_servers", &n, &e), 0);
        json_decref(v);
        assert_int_equal(strv_length(n), 2);
        assert_string_equal(n[0], "reg");
        assert_string_equal(n[1], "calc");

        /* The header adds, trims, drops empties and duplicates. */
        assert_int_equal(mcp_names_from_header(" web-2_x ,, reg,calc ,", &n), 0);
        assert_int_equal(strv_length(n), 3);
        assert_string_equal(n[2], "web-2_x");
        assert_int_equal(mcp_names_from_header(NULL, &n), 0);
        assert_int_equal(strv_length(n), 3);

        static const char *const bad[] = { "\"reg\"", "{}", "[1]", "[\"\"]", "[\"a\\u0000b\"]", "[null]" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_strv_free_ char **m = NULL;

                e = (ApiError) {};
                v = json_loads(bad[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
                assert_non_null(v);
                assert_int_equal(mcp_names_from_json(v, "metadata.mcp_servers", &m, &e), -EINVAL);
                json_decref(v);
                assert_int_equal(e.status, 400);
                assert_string_equal(e.param, "metadata.mcp_servers");
                assert_string_equal(e.type, "invalid_request_error");
                api_error_done(&e);
        }
}

static void test_select(void **state) {
        McpRegistry *r = parse_ok(GOOD);
        char *names[] = { (char *) "reg", (char *) "web-2_x", (char *) "reg", NULL };
        _cleanup_free_ char *config = NULL;
        _cleanup_strv_free_ char **servers = NULL;
        ApiError e = {};
        json_t *got, *want;

        /* Only the named servers, each once, as the file had them. */
        assert_int_equal(mcp_registry_select(r, names, "x-mcp-servers", &config, &servers, &e), 0);
        got = json_loads(config, 0, NULL);
        want = json_literal("{\"mcpServers\":{"
                            "\"reg\":{\"command\":\"node\",\"args\":[\"srv.mjs\",\"--log\",\"x\"],"
                            "\"env\":{\"REG_SECRET\":\"s3\"}},"
                            "\"web-2_x\":{\"command\":\"w\",\"args\":[],\"env\":{}}}}");
        assert_json_equal(got, want);
        json_decref(got);
        json_decref(want);
        assert_int_equal(strv_length(servers), 2);
        assert_string_equal(servers[0], "reg");
        assert_string_equal(servers[1], "web-2_x");

        /* No names: nothing, with or without a registry. */
        free(config);
        config = NULL;
        strv_free(TAKE_PTR(servers));
        assert_int_equal(mcp_registry_select(r, NULL, "x-mcp-servers", &config, &servers, &e), 0);
        assert_null(config);
        assert_null(servers);
        assert_int_equal(mcp_registry_select(NULL, NULL, "x-mcp-servers", &config, &servers, &e), 0);
        assert_null(config);

        /* Check only. */
        assert_int_equal(mcp_registry_select(r, names, "x-mcp-servers", NULL, NULL, &e), 0);

        /* An unknown name: 400 naming it, the field, and what exists. */
        char *unknown[] = { (char *) "reg", (char *) "nope", NULL };
        assert_int_equal(mcp_registry_select(r, unknown, "metadata.mcp_servers", &config, &servers, &e), -EINVAL);
        assert_null(config);
        assert_null(servers);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.param, "metadata.mcp_servers");
        assert_non_null(strstr(e.message, "Unknown MCP server: \"nope\". Available: "));
        assert_non_null(strstr(e.message, "reg"));
        assert_non_null(strstr(e.message, "calc"));
        assert_null(strstr(e.message, "s3"));   /* no env value */
        api_error_done(&e);

        /* A name no registry could hold: not quoted back (a header may carry any bytes). */
        char *odd[] = { (char *) "bad\xdc", NULL };
        e = (ApiError) {};
        assert_int_equal(mcp_registry_select(r, odd, "x-mcp-servers", NULL, NULL, &e), -EINVAL);
        assert_string_equal(e.message, "x-mcp-servers: invalid MCP server name (1 to 48 letters, digits, '-' or '_')");
        json_t *body = NULL;
        assert_int_equal(api_error_to_json(API_ANTHROPIC, &e, &body), 0);
        json_decref(body);
        api_error_done(&e);

        /* Names without a registry: 400 telling the operator's switch. */
        e = (ApiError) {};
        assert_int_equal(mcp_registry_select(NULL, names, "x-mcp-servers", &config, &servers, &e), -EINVAL);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.param, "x-mcp-servers");
        assert_string_equal(e.message, "MCP server registry is not configured. Set PROXY_MCP_CONFIG to enable it.");
        api_error_done(&e);

        /* An empty registry says so. */
        McpRegistry *empty = parse_ok("{\"mcpServers\":{}}");
        e = (ApiError) {};
        assert_int_equal(mcp_registry_select(empty, names, "x-mcp-servers", NULL, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.message, "Available: (none)"));
        api_error_done(&e);
        mcp_registry_free(empty);
        mcp_registry_free(r);
}

/* Many servers: the list in the error is cut, not overflowed. */
static void test_select_long_list(void **state) {
        _cleanup_free_ char *text = NULL;
        char *unknown[] = { (char *) "nope", NULL };
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        ApiError e = {};
        McpRegistry *r;

        fputs("{\"mcpServers\":{", f);
        for (int i = 0; i < 200; i++)
                fprintf(f, "%s\"server-number-%03d\":{\"command\":\"x\"}", i ? "," : "", i);
        fputs("}}", f);
        fclose(f);
        r = parse_ok(text);
        assert_int_equal(mcp_registry_size(r), 200);
        assert_int_equal(mcp_registry_select(r, unknown, "x-mcp-servers", NULL, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.message, "..."));
        assert_true(strlen(e.message) < sizeof(e.message));
        api_error_done(&e);
        mcp_registry_free(r);
}

/* The registry servers' flags: the file by path, each server allowed. */
static void test_argv(void **state) {
        CliRequest r = { .model = strdup("sonnet"), .mcp_config = strdup("{\"mcpServers\":{}}") };
        _cleanup_strv_free_ char **argv = NULL;
        json_t *got, *want;

        assert_int_equal(strv_extend(&r.mcp_servers, "reg"), 0);
        assert_int_equal(strv_extend(&r.mcp_servers, "web-2_x"), 0);
        assert_int_equal(cli_request_build_argv(&r, "claude", NULL, &argv), 0);
        size_t base = strv_length(argv);
        assert_int_equal(cli_request_extend_mcp_argv(&r, "/dev/fd/3", &argv), 0);
        got = json_array();
        for (size_t i = base; argv[i]; i++)
                json_array_append_new(got, json_string(argv[i]));
        want = json_literal("[\"--mcp-config\",\"/dev/fd/3\",\"--allowedTools\",\"mcp__reg\","
                            "\"--allowedTools\",\"mcp__web-2_x\"]");
        assert_json_equal(got, want);
        json_decref(got);
        json_decref(want);
        /* --strict-mcp-config stays: nothing but these servers. */
        assert_true(strv_contains(argv, "--strict-mcp-config"));
        /* Nothing of the file's text in argv. */
        for (char **a = argv; *a; a++)
                assert_null(strstr(*a, "mcpServers"));

        /* No servers, or no file: nothing added. */
        size_t n = strv_length(argv);
        assert_int_equal(cli_request_extend_mcp_argv(&r, NULL, &argv), 0);
        assert_int_equal(strv_length(argv), n);
        strv_free(TAKE_PTR(r.mcp_servers));
        assert_int_equal(cli_request_extend_mcp_argv(&r, "/dev/fd/3", &argv), 0);
        assert_int_equal(strv_length(argv), n);
        cli_request_done(&r);
}

/* A pooled process's requests: the servers (type said), then their tools allowed. */
static void test_late_config(void **state) {
        McpRegistry *r = parse_ok(GOOD);
        char *names[] = { (char *) "reg", (char *) "calc", NULL };
        _cleanup_free_ char *config = NULL;
        _cleanup_strv_free_ char **servers = NULL;
        json_t *requests = NULL, *want;
        ApiError e = {};

        assert_int_equal(mcp_registry_select(r, names, "x-mcp-servers", &config, &servers, &e), 0);
        assert_int_equal(mcp_registry_build_late_config(config, servers, &requests), 0);
        want = json_literal("[{\"subtype\":\"mcp_set_servers\",\"servers\":{"
                            "\"reg\":{\"type\":\"stdio\",\"command\":\"node\",\"args\":[\"srv.mjs\",\"--log\",\"x\"],"
                            "\"env\":{\"REG_SECRET\":\"s3\"}},"
                            "\"calc\":{\"type\":\"stdio\",\"command\":\"/usr/bin/calc\"}}},"
                            "{\"subtype\":\"apply_flag_settings\",\"settings\":{\"permissions\":{\"allow\":"
                            "[\"mcp__reg\",\"mcp__calc\"]}}}]");
        assert_json_equal(requests, want);
        json_decref(requests);
        json_decref(want);
        assert_int_equal(mcp_registry_build_late_config("[]", servers, &requests), -EINVAL);
        assert_int_equal(mcp_registry_build_late_config("not json", servers, &requests), -EINVAL);
        mcp_registry_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_good),
                cmocka_unit_test(test_parse_bad),
                cmocka_unit_test(test_parse_never_quotes_env_values),
                cmocka_unit_test(test_load_file),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_select),
                cmocka_unit_test(test_select_long_list),
                cmocka_unit_test(test_argv),
                cmocka_unit_test(test_late_config),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
