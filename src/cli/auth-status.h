/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * PURE: the CLI's login state as `claude auth status` prints it (cli/README §17). The command
 * makes no model call and exits 0 whether logged in or not; its JSON says which. It does not
 * prove the credential is valid: only a real request does.
 */

#include <stdbool.h>
#include <stddef.h>

typedef enum CliAuthState {
        CLI_AUTH_UNKNOWN,       /* not checked yet */
        CLI_AUTH_LOGGED_IN,
        CLI_AUTH_LOGGED_OUT,
        CLI_AUTH_CHECK_FAILED,  /* the command failed, hung or printed something else */
        _CLI_AUTH_STATE_MAX,
} CliAuthState;

typedef struct CliAuthStatus {
        CliAuthState state;
        char method[32];        /* "authMethod": "none", "oauth_token", "api_key", ... ("" if absent) */
        char provider[32];      /* "apiProvider": "firstParty", ... */
} CliAuthStatus;

/* What an operator runs to fix a CLI that is not logged in (as the user the proxy runs as). */
#define CLI_AUTH_FIX_COMMAND "claude auth login"
#define CLI_AUTH_FIX_HINT                                                                          \
        "run `claude auth login` as the user the proxy runs as, or `claude setup-token` and pass "  \
        "the token as the claude-code-oauth-token credential"

const char *cli_auth_state_to_string(CliAuthState s);

/*
 * Parse the command's stdout (`text`, `n` bytes, need not be NUL-terminated). Return 0 with
 * ret->state LOGGED_IN or LOGGED_OUT; -EBADMSG (ret->state CHECK_FAILED) when it is not the
 * JSON object with a boolean "loggedIn" the CLI prints.
 */
int cli_auth_status_parse(const char *text, size_t n, CliAuthStatus *ret);
