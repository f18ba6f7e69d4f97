/* SPDX-License-Identifier: MIT */

/*
 * `claude auth status` output → login state. Separate from the runner (cli/auth-check.c) so the
 * shapes recorded from the real CLI are unit-tested without a process.
 */

#include <errno.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/auth-status.h"
#include "util/macro.h"

const char *cli_auth_state_to_string(CliAuthState s) {
        static const char *const names[_CLI_AUTH_STATE_MAX] = {
                [CLI_AUTH_UNKNOWN] = "unknown",
                [CLI_AUTH_LOGGED_IN] = "logged_in",
                [CLI_AUTH_LOGGED_OUT] = "logged_out",
                [CLI_AUTH_CHECK_FAILED] = "check_failed",
        };
        return s >= 0 && s < _CLI_AUTH_STATE_MAX ? names[s] : NULL;
}

static void copy_field(char *buf, size_t size, const json_t *o, const char *key) {
        (void) snprintf(buf, size, "%s", json_string_value(json_object_get(o, key)) ?: "");
}

/**
 * cli_auth_status_parse() - read the login state from `claude auth status`
 * @text: the command's stdout
 * @n: its length
 * @ret: filled in every case
 *
 * Return: 0 when the output said logged in or out; -EBADMSG otherwise.
 */
int cli_auth_status_parse(const char *text, size_t n, CliAuthStatus *ret) {
        json_auto_t *j = NULL;
        const json_t *logged_in;

        *ret = (CliAuthStatus) { .state = CLI_AUTH_CHECK_FAILED };
        if (!text)
                return -EBADMSG;
        /* DISABLE_EOF_CHECK: a trailing newline or a stray line after the object is not our concern. */
        j = json_loadb(text, n, JSON_DISABLE_EOF_CHECK, NULL);
        logged_in = json_object_get(j, "loggedIn");
        if (!json_is_boolean(logged_in))
                return -EBADMSG;
        ret->state = json_is_true(logged_in) ? CLI_AUTH_LOGGED_IN : CLI_AUTH_LOGGED_OUT;
        copy_field(ret->method, sizeof(ret->method), j, "authMethod");
        copy_field(ret->provider, sizeof(ret->provider), j, "apiProvider");
        return 0;
}
