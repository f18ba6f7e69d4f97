/* SPDX-License-Identifier: MIT */

/*
 * The CLI's environment. An allow-list, not a deny-list: a variable the proxy happens to run with
 * (ANTHROPIC_API_KEY would silently bill an API account instead of the subscription; CLAUDECODE
 * and CLAUDE_CODE_* markers make the CLI believe it is nested; NOTIFY_SOCKET would let it talk to
 * systemd as us) reaches the CLI only when an operator names it in CHILD_ENV. A few are refused
 * even then, because passing them is always a bug.
 */

#include <stdio.h>
#include <string.h>

#include "cli/env.h"
#include "util/strv.h"

static const char *const allowed[] = {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "XDG_CONFIG_HOME", "CLAUDE_CONFIG_DIR",
        "CLAUDE_CODE_OAUTH_TOKEN", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy",
        "no_proxy", "NODE_EXTRA_CA_CERTS",
};

/* Never passed, CHILD_ENV or not. */
static const char *const refused[] = {
        "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC",
        "JOURNAL_STREAM", "PROXY_API_KEYS", "CREDENTIALS_DIRECTORY", "CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_CODE_SSE_PORT",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "CLAUDE_CODE_MAX_RETRIES",
};

static bool name_in(const char *kv, size_t n, const char *const *list, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (strlen(list[i]) == n && strneq(kv, list[i], n))
                        return true;
        return false;
}

static bool name_in_strv(const char *kv, size_t n, char *const *l) {
        for (; l && *l; l++)
                if (strlen(*l) == n && strneq(kv, *l, n))
                        return true;
        return false;
}

/**
 * cli_env_build() - the child's environment
 * @parent: the proxy's environment
 * @extra_names: CHILD_ENV names (may be NULL)
 * @max_retries: value for CLAUDE_CODE_MAX_RETRIES
 * @ret: new NULL-terminated vector
 *
 * Return: 0, or -ENOMEM.
 */
int cli_env_build(char *const *parent, char *const *extra_names, unsigned max_retries, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        char *s = NULL;
        int r;

        env = calloc(1, sizeof(char *));
        if (!env)
                return -ENOMEM;
        for (char *const *p = parent; p && *p; p++) {
                const char *eq = strchr(*p, '=');
                if (!eq)
                        continue;
                size_t n = (size_t) (eq - *p);
                if (name_in(*p, n, refused, ELEMENTSOF(refused)))
                        continue;
                bool ok = name_in(*p, n, allowed, ELEMENTSOF(allowed)) || (n > 3 && strneq(*p, "LC_", 3)) ||
                          name_in_strv(*p, n, extra_names);
                if (!ok)
                        continue;
                r = strv_extend(&env, *p);
                if (r < 0)
                        return r;
        }
        r = strv_extend(&env, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1");
        if (r < 0)
                return r;
        if (asprintf(&s, "CLAUDE_CODE_MAX_RETRIES=%u", max_retries) < 0)
                return -ENOMEM;
        r = strv_consume(&env, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

/**
 * cli_env_set() - set one variable, replacing an earlier value
 * @env: the vector to change
 * @name: the variable's name
 * @value: its value
 *
 * Return: 0, or -ENOMEM.
 */
int cli_env_set(char ***env, const char *name, const char *value) {
        size_t n = strlen(name);
        char *kv = NULL;

        if (asprintf(&kv, "%s=%s", name, value) < 0)
                return -ENOMEM;
        for (char **e = *env; e && *e; e++)
                if (strneq(*e, name, n) && (*e)[n] == '=') {
                        free(*e);
                        *e = kv;
                        return 0;
                }
        return strv_consume(env, kv);
}
