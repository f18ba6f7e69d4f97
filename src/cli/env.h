/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: the CLI child's environment, built from an allow-list over the proxy's own. */

/*
 * Build the child's envp from `parent` (NULL-terminated "K=V"): the allow-list (PATH, HOME, USER,
 * LANG, LC_*, TZ, TMPDIR, XDG_CONFIG_HOME, CLAUDE_CONFIG_DIR, CLAUDE_CODE_OAUTH_TOKEN, the proxy
 * variables, NODE_EXTRA_CA_CERTS), plus the names in `extra_names` (CHILD_ENV), plus
 * CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 and CLAUDE_CODE_MAX_RETRIES=<max_retries>. systemd's
 * own variables and the proxy's keys are never passed, whatever CHILD_ENV says.
 */
int cli_env_build(char *const *parent, char *const *extra_names, unsigned max_retries, char ***ret);

/* Set NAME=VALUE in `env`, replacing an existing NAME. Return 0 or -ENOMEM. */
int cli_env_set(char ***env, const char *name, const char *value);
