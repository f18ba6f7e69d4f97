/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * I/O: run `claude auth status` in the background on the event loop and report the login state.
 * One check at a time; asking again while one runs makes it run once more after (so a check
 * asked for after a login always sees it). Never blocks: the child is read through non-blocking
 * pipes and reaped through its pidfd, and killed if it overruns its deadline.
 */

#include <event2/event.h>

#include "cli/auth-status.h"

typedef struct AuthCheck AuthCheck;
typedef void (*AuthCheckDone)(const CliAuthStatus *status, void *userdata);

int auth_check_new(AuthCheck **ret, struct event_base *base, AuthCheckDone done, void *userdata);
/* Kills and reaps a running check without reporting it. */
AuthCheck *auth_check_free(AuthCheck *a);
/*
 * Start a check of `claude_path` with `envp` in `cwd` (all copied or used before return). Return
 * 0 when started or queued behind the running one; negative errno when it cannot be started
 * (then done() is not called).
 */
int auth_check_start(AuthCheck *a, const char *claude_path, char *const *envp, const char *cwd);
