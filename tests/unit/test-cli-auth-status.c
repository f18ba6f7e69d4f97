/* SPDX-License-Identifier: MIT */

/* `claude auth status` output → login state, with the shapes the real CLI 2.1.197 prints (§17). */

#include <errno.h>
#include <string.h>

#include "cli/auth-status.h"
#include "helpers.h"

static CliAuthStatus parse(const char *text, int expect_r) {
        CliAuthStatus st;

        assert_int_equal(cli_auth_status_parse(text, text ? strlen(text) : 0, &st), expect_r);
        return st;
}

static void test_logged_out(void **state) {
        /* fresh HOME, nothing set */
        CliAuthStatus st = parse("{\"loggedIn\": false, \"authMethod\": \"none\", \"apiProvider\": \"firstParty\"}\n", 0);

        assert_int_equal(st.state, CLI_AUTH_LOGGED_OUT);
        assert_string_equal(st.method, "none");
        assert_string_equal(st.provider, "firstParty");
}

static void test_logged_in(void **state) {
        CliAuthStatus st = parse("{\"loggedIn\": true, \"authMethod\": \"oauth_token\", \"apiProvider\": \"firstParty\"}\n", 0);

        assert_int_equal(st.state, CLI_AUTH_LOGGED_IN);
        assert_string_equal(st.method, "oauth_token");

        st = parse("{\"loggedIn\": true, \"authMethod\": \"api_key\", \"apiProvider\": \"firstParty\", "
                   "\"apiKeySource\": \"ANTHROPIC_API_KEY\"}", 0);
        assert_int_equal(st.state, CLI_AUTH_LOGGED_IN);
        assert_string_equal(st.method, "api_key");
}

static void test_unknown_fields_and_missing_method(void **state) {
        CliAuthStatus st = parse("{\"loggedIn\": true, \"email\": \"x@example.com\", \"authMethod\": 3}", 0);

        assert_int_equal(st.state, CLI_AUTH_LOGGED_IN);
        assert_string_equal(st.method, "");
        assert_string_equal(st.provider, "");
}

static void test_not_the_json(void **state) {
        /* What the prompt-taking `claude login` of older docs prints, and other junk. */
        assert_int_equal(parse("Not logged in · Please run /login\n", -EBADMSG).state, CLI_AUTH_CHECK_FAILED);
        assert_int_equal(parse("", -EBADMSG).state, CLI_AUTH_CHECK_FAILED);
        assert_int_equal(parse(NULL, -EBADMSG).state, CLI_AUTH_CHECK_FAILED);
        assert_int_equal(parse("[true]", -EBADMSG).state, CLI_AUTH_CHECK_FAILED);
        assert_int_equal(parse("{\"loggedIn\": \"yes\"}", -EBADMSG).state, CLI_AUTH_CHECK_FAILED);
        assert_int_equal(parse("{\"loggedIn\": 1}", -EBADMSG).state, CLI_AUTH_CHECK_FAILED);
        assert_int_equal(parse("{\"loggedIn\": tr", -EBADMSG).state, CLI_AUTH_CHECK_FAILED);
}

static void test_length_is_explicit(void **state) {
        const char *text = "{\"loggedIn\": true}{\"loggedIn\": false}";
        CliAuthStatus st;

        /* Only the first object counts; the bytes after n are never read. */
        assert_int_equal(cli_auth_status_parse(text, strlen(text), &st), 0);
        assert_int_equal(st.state, CLI_AUTH_LOGGED_IN);
        assert_int_equal(cli_auth_status_parse(text, 10, &st), -EBADMSG);
}

static void test_state_names(void **state) {
        assert_string_equal(cli_auth_state_to_string(CLI_AUTH_LOGGED_OUT), "logged_out");
        assert_string_equal(cli_auth_state_to_string(CLI_AUTH_LOGGED_IN), "logged_in");
        assert_null(cli_auth_state_to_string(_CLI_AUTH_STATE_MAX));
        assert_non_null(strstr(CLI_AUTH_FIX_HINT, "claude auth login"));
        assert_non_null(strstr(CLI_AUTH_FIX_HINT, "claude setup-token"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_logged_out),
                cmocka_unit_test(test_logged_in),
                cmocka_unit_test(test_unknown_fields_and_missing_method),
                cmocka_unit_test(test_not_the_json),
                cmocka_unit_test(test_length_is_explicit),
                cmocka_unit_test(test_state_names),
        };
        return cmocka_run_group_tests_name("cli auth status", tests, NULL, NULL);
}
