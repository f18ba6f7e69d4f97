/* SPDX-License-Identifier: MIT */

/*
 * Configuration: one table of keys drives the defaults, parsing, validation and --check-config
 * output, so a key cannot be parsed but missing from the dump (or the other way round). Every
 * source (file text, environment vector, keys file) ends up in config_set(); the caller applies
 * the sources in precedence order (defaults < file < environment < command line) and a later
 * config_set() simply overwrites. This module never calls getenv() and never logs: errors come
 * back as -errno plus a message in reterr for main.c to print. Reading files uses plain stdio.
 *
 * Value rules worth knowing: numbers are strict decimal (no sign, no spaces, no trailing junk,
 * no overflow); REQUIRE_AUTH is switched off only by the exact lowercase literal "false" (the
 * predecessor's rule, kept so existing deployments do not silently change) while every other
 * boolean accepts true|false|1|0|yes|no case-insensitively; the config file has no inline
 * comments because API keys may contain '#'.
 */

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "config.h"
#include "mcp-registry.h"
#include "util/env-name.h"
#include "util/macro.h"
#include "util/strv.h"

/* Durations beyond ~49 days are surely typos, and the cap keeps ms -> µs conversions in range. */
#define DURATION_MAX UINT64_C(4294967295)

typedef enum KeyType {
        KEY_STRING,             /* non-empty string */
        KEY_PATH_OPTIONAL,      /* string, empty -> unset (NULL) */
        KEY_U16,
        KEY_U64,
        KEY_UNSIGNED,
        KEY_SIZE,               /* bytes, optional K/M/G suffix (powers of 1024) */
        KEY_BOOL,
        KEY_REQUIRE_AUTH,
        KEY_EFFORT,
        KEY_LOG_LEVEL,
        KEY_KEYS,               /* comma separated list */
        KEY_NAMES,              /* comma/space separated variable names */
        KEY_PROMPT_MODE,
        KEY_SCOPE_MODE,
        KEY_LIMIT_SIZE,         /* like KEY_SIZE, or "infinity"; empty -> unset (0) */
        KEY_LIMIT_COUNT,        /* like KEY_U64, or "infinity"; empty -> unset (0) */
        KEY_PERCENT,            /* "50%" (the % is optional); empty -> unset (0) */
} KeyType;

typedef struct KeyInfo {
        const char *name;
        KeyType type;
        size_t offset;
        uint64_t min, max;      /* numeric types only */
        const char *def;        /* default as text, NULL: unset */
        const char *hint;       /* "(expected ...)" for non-numeric types */
} KeyInfo;

#define FIELD(f) offsetof(Config, f)

/* The order here is the order of config_format(). */
static const KeyInfo keys[] = {
        { "HOST", KEY_STRING, FIELD(host), 0, 0, "127.0.0.1", "a host name or address" },
        { "PORT", KEY_U16, FIELD(port), 0, 65535, "4523", NULL },
        /* HAProxy agent-check port on HOST; 0: none. */
        { "AGENT_PORT", KEY_U16, FIELD(agent_port), 0, 65535, "0", NULL },
        { "PROXY_API_KEYS", KEY_KEYS, FIELD(api_keys), 0, 0, NULL, NULL },
        { "REQUIRE_AUTH", KEY_REQUIRE_AUTH, FIELD(require_auth), 0, 0, "true", NULL },
        { "CLAUDE_PATH", KEY_STRING, FIELD(claude_path), 0, 0, "claude", "a program name or path" },
        { "DEFAULT_MODEL", KEY_STRING, FIELD(default_model), 0, 0, "sonnet", "a model name" },
        { "DEFAULT_EFFORT", KEY_EFFORT, FIELD(default_effort), 0, 0, "high",
          "low, medium, high, xhigh or max" },
        /* 0 means "no limit" for the two timeouts; the other durations need a real interval. */
        { "REQUEST_TIMEOUT_MS", KEY_U64, FIELD(request_timeout_ms), 0, DURATION_MAX, "300000", NULL },
        { "IDLE_TIMEOUT_MS", KEY_U64, FIELD(idle_timeout_ms), 0, DURATION_MAX, "120000", NULL },
        { "KILL_GRACE_MS", KEY_U64, FIELD(kill_grace_ms), 1, DURATION_MAX, "1000", NULL },
        { "PING_INTERVAL_MS", KEY_U64, FIELD(ping_interval_ms), 1, DURATION_MAX, "10000", NULL },
        { "LOG_LEVEL", KEY_LOG_LEVEL, FIELD(log_level), 0, 0, "info",
          "debug, info, notice, warn, warning or error" },
        { "ENABLE_THINKING", KEY_BOOL, FIELD(enable_thinking), 0, 0, "false",
          "true, false, 1, 0, yes or no" },
        { "PROXY_MCP_CONFIG", KEY_PATH_OPTIONAL, FIELD(mcp_config_path), 0, 0, NULL, NULL },
        /* evhttp takes the body cap as ev_ssize_t, hence INT64_MAX. */
        { "MAX_BODY_BYTES", KEY_SIZE, FIELD(max_body_bytes), 1, INT64_MAX, "10485760",
          "a size in bytes, optionally with a K, M or G suffix" },
        /* jansson spends ~110 bytes a value: the default bounds one body's tree to ~55 MB. */
        { "MAX_BODY_VALUES", KEY_UNSIGNED, FIELD(max_body_values), 1, UINT32_MAX, "500000", NULL },
        { "MAX_CONCURRENT", KEY_UNSIGNED, FIELD(max_concurrent), 1, UINT32_MAX, "16", NULL },
        { "MAX_QUEUE", KEY_UNSIGNED, FIELD(max_queue), 0, UINT32_MAX, "64", NULL },
        /* Idle CLIs started in advance for DEFAULT_MODEL; each holds ~150-300 MB. 0: none. */
        { "WARM_POOL", KEY_UNSIGNED, FIELD(warm_pool), 0, 64, "1", NULL },
        /* A run whose model called client tools waits this long for the results; 0: interrupted at once. */
        { "TOOL_PARK_MS", KEY_U64, FIELD(tool_park_ms), 0, DURATION_MAX, "0", NULL },
        { "CHILD_ENV", KEY_NAMES, FIELD(child_env), 0, 0, NULL, NULL },
        { "SYSTEM_PROMPT_MODE", KEY_PROMPT_MODE, FIELD(system_prompt_mode), 0, 0, "user",
          "user, append or replace" },
        /* Each retry can take minutes inside the CLI; beyond 100 a request effectively hangs. */
        { "CLI_MAX_RETRIES", KEY_UNSIGNED, FIELD(cli_max_retries), 0, 100, "2", NULL },
        { "WORK_DIR", KEY_PATH_OPTIONAL, FIELD(work_dir), 0, 0, NULL, NULL },
        { "SCOPE_MODE", KEY_SCOPE_MODE, FIELD(scope_mode), 0, 0, "auto", "auto, scope, cgroup or pgroup" },
        /* No dash: systemd reads a dash in a slice name as nesting (claude-proxy.slice would land
         * inside claude.slice). */
        { "SCOPE_SLICE", KEY_PATH_OPTIONAL, FIELD(scope_slice), 0, 0, "claudeproxy.slice", NULL },
        { "SCOPE_MEMORY_MAX", KEY_LIMIT_SIZE, FIELD(scope_memory_max), 1, UINT64_MAX - 1, NULL,
          "a size in bytes, optionally with a K, M or G suffix, or infinity" },
        { "SCOPE_TASKS_MAX", KEY_LIMIT_COUNT, FIELD(scope_tasks_max), 1, UINT64_MAX - 1, NULL,
          "a number of tasks or infinity" },
        /* cpu.max and CPUQuotaPerSecUSec take microseconds per second: 10000% = 100 CPUs. */
        { "SCOPE_CPU_QUOTA", KEY_PERCENT, FIELD(scope_cpu_quota), 1, 10000, NULL,
          "a percentage of one CPU such as 50%" },
        { "EXIT_IDLE_SEC", KEY_U64, FIELD(exit_idle_sec), 0, DURATION_MAX, "0", NULL },
        { "SHUTDOWN_GRACE_MS", KEY_U64, FIELD(shutdown_grace_ms), 0, DURATION_MAX, "10000", NULL },
        { "METRICS_AUTH", KEY_BOOL, FIELD(metrics_auth), 0, 0, "true", "true, false, 1, 0, yes or no" },
};

static const char *const scope_modes[_SCOPE_MODE_MAX] = {
        [SCOPE_MODE_AUTO] = "auto",
        [SCOPE_MODE_SCOPE] = "scope",
        [SCOPE_MODE_CGROUP] = "cgroup",
        [SCOPE_MODE_PGROUP] = "pgroup",
};

/**
 * scope_mode_to_string() - the SCOPE_MODE spelling of @m
 * @m: a mode
 *
 * Return: a static string, or NULL for an invalid mode.
 */
const char *scope_mode_to_string(ScopeMode m) {
        return m >= 0 && m < _SCOPE_MODE_MAX ? scope_modes[m] : NULL;
}

/**
 * scope_mode_from_string() - parse a SCOPE_MODE value (case-insensitive)
 * @s: the text, may be NULL
 *
 * Return: the mode, or _SCOPE_MODE_INVALID.
 */
ScopeMode scope_mode_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(scope_modes); i++)
                if (strcasecmp(s, scope_modes[i]) == 0)
                        return (ScopeMode) i;
        return _SCOPE_MODE_INVALID;
}

static const char *const efforts[] = { "low", "medium", "high", "xhigh", "max" };

static const struct {
        const char *name;
        int level;
} log_levels[] = {
        { "debug", LOG_DEBUG },
        { "info", LOG_INFO },
        { "notice", LOG_NOTICE },
        { "warning", LOG_WARNING },     /* first of the two: the canonical name for output */
        { "warn", LOG_WARNING },
        { "error", LOG_ERR },
};

_printf_(3, 4) static int set_error(char *reterr, size_t errlen, const char *fmt, ...) {
        va_list ap;

        if (!reterr || errlen == 0)
                return 0;
        va_start(ap, fmt);
        (void) vsnprintf(reterr, errlen, fmt, ap);
        va_end(ap);
        return 0;
}

static const KeyInfo *key_lookup(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].name, name))
                        return &keys[i];
        return NULL;
}

/* Strict decimal: digits only, at least one, no overflow. The end of the digits goes to *ret_end. */
static int parse_digits(const char *s, uint64_t *ret, const char **ret_end) {
        uint64_t v = 0;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        *ret_end = p;
        return 0;
}

static int parse_number(const char *s, uint64_t *ret) {
        const char *end;
        int r = parse_digits(s, ret, &end);

        if (r < 0)
                return r;
        return *end ? -EINVAL : 0;
}

static int parse_size(const char *s, uint64_t *ret) {
        const char *end;
        uint64_t v, mult = 1;
        int r = parse_digits(s, &v, &end);

        if (r < 0)
                return r;
        if (*end) {
                switch (*end) {
                case 'K': case 'k':
                        mult = UINT64_C(1) << 10;
                        break;
                case 'M': case 'm':
                        mult = UINT64_C(1) << 20;
                        break;
                case 'G': case 'g':
                        mult = UINT64_C(1) << 30;
                        break;
                default:
                        return -EINVAL;
                }
                if (end[1])
                        return -EINVAL;
        }
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

static int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "true", "1", "yes" }, *const no[] = { "false", "0", "no" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static int set_string(char **field, const char *value, bool empty_is_null) {
        char *copy = NULL;

        if (!(empty_is_null && !*value)) {
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }
        free(*field);
        *field = copy;
        return 0;
}

/* An empty list is stored as NULL, the same as "never set", so consumers have one case. */
static void set_strv(char ***field, char **l) {
        strv_free(*field);
        if (strv_length(l) == 0) {
                strv_free(l);
                l = NULL;
        }
        *field = l;
}

static int invalid_range(const KeyInfo *k, const char *value, char *reterr, size_t errlen) {
        set_error(reterr, errlen, "Invalid value for %s: '%s' (expected %" PRIu64 "..%" PRIu64 ")",
                  k->name, value, k->min, k->max);
        return -EINVAL;
}

static int invalid_hint(const KeyInfo *k, const char *value, char *reterr, size_t errlen) {
        set_error(reterr, errlen, "Invalid value for %s: '%s' (expected %s)", k->name, value, k->hint);
        return -EINVAL;
}

/**
 * config_init() - Fill @c with the built-in defaults.
 * @c: the configuration; any previous contents are overwritten, not freed.
 *
 * The defaults are parsed through the same path as user values, so they are valid by
 * construction. A failed allocation of these few bytes at start-up aborts: there is no error
 * path to report it through and nothing useful could run anyway.
 */
void config_init(Config *c) {
        assert(c);

        *c = (Config) {};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (!keys[i].def)
                        continue;
                if (config_set(c, keys[i].name, keys[i].def, NULL, 0) < 0)
                        abort();
        }
}

/**
 * config_done() - Free everything @c owns and zero it.
 * @c: the configuration (may be reused after config_init()).
 */
void config_done(Config *c) {
        if (!c)
                return;
        free(c->host);
        strv_free(c->api_keys);
        free(c->claude_path);
        free(c->default_model);
        free(c->default_effort);
        free(c->mcp_config_path);
        mcp_registry_free(c->mcp_registry);
        strv_free(c->child_env);
        free(c->work_dir);
        free(c->scope_slice);
        *c = (Config) {};
}

/**
 * config_is_known_key() - Whether @key is one of the configuration keys.
 * @key: an environment-style name such as "PORT".
 *
 * Return: true for a known key, false otherwise (also for NULL).
 */
bool config_is_known_key(const char *key) {
        return key && key_lookup(key);
}

/**
 * config_set() - Set one key from its textual value.
 * @c: the configuration.
 * @key: the key name, e.g. "PORT".
 * @value: the value, already unquoted and trimmed.
 * @reterr: buffer for a message naming key and value (may be NULL).
 * @errlen: size of @reterr.
 *
 * On failure @c is unchanged.
 *
 * Return: 0 on success, -ENOENT for an unknown key, -EINVAL for a bad value, -ENOMEM.
 */
int config_set(Config *c, const char *key, const char *value, char *reterr, size_t errlen) {
        const KeyInfo *k;
        void *field;
        uint64_t v;
        int r;

        assert(c);
        assert(key);
        assert(value);

        k = key_lookup(key);
        if (!k) {
                set_error(reterr, errlen, "Unknown key '%s'", key);
                return -ENOENT;
        }
        field = (char *) c + k->offset;

        switch (k->type) {
        case KEY_STRING:
                if (!*value)
                        return invalid_hint(k, value, reterr, errlen);
                return set_string(field, value, false);

        case KEY_PATH_OPTIONAL:
                return set_string(field, value, true);

        case KEY_U16:
        case KEY_U64:
        case KEY_UNSIGNED:
        case KEY_SIZE:
                r = k->type == KEY_SIZE ? parse_size(value, &v) : parse_number(value, &v);
                if (r < 0 || v < k->min || v > k->max) {
                        if (k->type == KEY_SIZE)
                                return invalid_hint(k, value, reterr, errlen);
                        return invalid_range(k, value, reterr, errlen);
                }
                if (k->type == KEY_U16)
                        *(uint16_t *) field = (uint16_t) v;
                else if (k->type == KEY_UNSIGNED)
                        *(unsigned *) field = (unsigned) v;
                else
                        *(uint64_t *) field = v;
                return 0;

        case KEY_BOOL: {
                bool b;
                if (parse_bool(value, &b) < 0)
                        return invalid_hint(k, value, reterr, errlen);
                *(bool *) field = b;
                return 0;
        }

        case KEY_REQUIRE_AUTH:
                /* Only the exact literal turns auth off: a typo ("False", "off", "0") fails closed. */
                *(bool *) field = !streq(value, "false");
                return 0;

        case KEY_EFFORT:
                for (size_t i = 0; i < ELEMENTSOF(efforts); i++)
                        if (strcasecmp(value, efforts[i]) == 0)
                                return set_string(field, efforts[i], false);
                return invalid_hint(k, value, reterr, errlen);

        case KEY_LOG_LEVEL:
                for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                        if (strcasecmp(value, log_levels[i].name) == 0) {
                                *(int *) field = log_levels[i].level;
                                return 0;
                        }
                return invalid_hint(k, value, reterr, errlen);

        case KEY_PROMPT_MODE:
                /* The CLI module owns the spellings; configuration accepts them in any case. */
                for (int i = 0; i < _SYSTEM_PROMPT_MODE_MAX; i++)
                        if (strcasecmp(value, system_prompt_mode_to_string((SystemPromptMode) i)) == 0) {
                                *(SystemPromptMode *) field = (SystemPromptMode) i;
                                return 0;
                        }
                return invalid_hint(k, value, reterr, errlen);

        case KEY_SCOPE_MODE: {
                ScopeMode m = scope_mode_from_string(value);
                if (m < 0)
                        return invalid_hint(k, value, reterr, errlen);
                *(ScopeMode *) field = m;
                return 0;
        }

        case KEY_LIMIT_SIZE:
        case KEY_LIMIT_COUNT:
        case KEY_PERCENT:
                if (!*value)
                        v = 0;
                else if (k->type != KEY_PERCENT && strcasecmp(value, "infinity") == 0)
                        v = SCOPE_LIMIT_INFINITY;
                else {
                        _cleanup_free_ char *digits = strdup(value);
                        size_t n = strlen(value);

                        if (!digits)
                                return -ENOMEM;
                        if (k->type == KEY_PERCENT && n > 1 && digits[n - 1] == '%')
                                digits[n - 1] = 0;
                        r = k->type == KEY_LIMIT_SIZE ? parse_size(digits, &v) : parse_number(digits, &v);
                        if (r < 0 || v < k->min || v > k->max)
                                return invalid_hint(k, value, reterr, errlen);
                }
                if (k->type == KEY_PERCENT)
                        *(unsigned *) field = (unsigned) v;
                else
                        *(uint64_t *) field = v;
                return 0;

        case KEY_KEYS:
        case KEY_NAMES: {
                _cleanup_strv_free_ char **l = NULL;

                r = strv_split_trim(value, k->type == KEY_KEYS ? "," : ", \t", &l);
                if (r < 0)
                        return r;
                if (k->type == KEY_NAMES)
                        for (char **i = l; *i; i++)
                                if (!env_name_is_valid(*i)) {
                                        set_error(reterr, errlen,
                                                  "Invalid value for %s: '%s' ('%s' is not a valid "
                                                  "variable name)",
                                                  k->name, value, *i);
                                        return -EINVAL;
                                }
                set_strv(field, TAKE_PTR(l));
                return 0;
        }
        }
        assert(false);
        return -EINVAL;
}

static bool is_blank(char ch) {
        return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trim [*b, *e) in place. */
static void trim(const char **b, const char **e) {
        while (*b < *e && is_blank(**b))
                (*b)++;
        while (*e > *b && is_blank((*e)[-1]))
                (*e)--;
}

/**
 * config_parse_text() - Apply KEY=VALUE lines.
 * @c: the configuration.
 * @text: the file contents (need not be NUL-terminated).
 * @len: length of @text.
 * @origin: name for messages, usually the file path.
 * @reterr: buffer for "origin:LINE: ..." messages (may be NULL).
 * @errlen: size of @reterr.
 *
 * Whitespace around key and value is trimmed, and one pair of matching single or double quotes
 * around the value is removed. Lines whose first non-blank character is '#' and blank lines are
 * skipped. There are no inline comments and no escapes. Keys before the failing line stay applied.
 *
 * Return: 0 on success, -EINVAL for a malformed line, an unknown key or a bad value, -ENOMEM.
 */
int config_parse_text(Config *c, const char *text, size_t len, const char *origin, char *reterr,
                      size_t errlen) {
        const char *p = text, *end = text + len;
        unsigned line = 0;

        assert(c);
        assert(text || len == 0);

        if (!origin)
                origin = "config";
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *b = p, *e = nl ? nl : end, *eq;
                _cleanup_free_ char *key = NULL, *value = NULL;
                char msg[512];
                int r;

                line++;
                p = nl ? nl + 1 : end;
                trim(&b, &e);
                if (b == e || *b == '#')
                        continue;
                if (memchr(b, '\0', (size_t) (e - b))) {
                        set_error(reterr, errlen, "%s:%u: NUL byte in line", origin, line);
                        return -EINVAL;
                }
                eq = memchr(b, '=', (size_t) (e - b));
                if (!eq || eq == b) {
                        set_error(reterr, errlen, "%s:%u: expected KEY=VALUE", origin, line);
                        return -EINVAL;
                }

                const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
                trim(&kb, &ke);
                trim(&vb, &ve);
                if (ve - vb >= 2 && (*vb == '"' || *vb == '\'') && ve[-1] == *vb) {
                        vb++;
                        ve--;
                }
                key = strndup(kb, (size_t) (ke - kb));
                value = strndup(vb, (size_t) (ve - vb));
                if (!key || !value)
                        return -ENOMEM;

                if (!config_is_known_key(key)) {
                        set_error(reterr, errlen, "%s:%u: unknown key '%s'", origin, line, key);
                        return -EINVAL;
                }
                r = config_set(c, key, value, msg, sizeof(msg));
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        set_error(reterr, errlen, "%s:%u: %s", origin, line, msg);
                        return -EINVAL;
                }
        }
        return 0;
}

/* Whole file into a NUL-terminated buffer. */
static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;
        FILE *f;
        int r = 0;

        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        for (;;) {
                if (cap - n < 4096) {
                        char *nb = realloc(buf, cap + 8192);
                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = nb;
                        cap += 8192;
                }
                size_t k = fread(buf + n, 1, cap - n - 1, f);
                n += k;
                if (k == 0) {
                        if (ferror(f))
                                r = -EIO;
                        break;
                }
        }
        fclose(f);
        if (r < 0)
                return r;
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

/**
 * config_load_file() - Read @path and apply it with config_parse_text().
 * @c: the configuration.
 * @path: the file.
 * @optional: a missing file (ENOENT) is fine and changes nothing.
 * @reterr: buffer for the message (may be NULL).
 * @errlen: size of @reterr.
 *
 * Return: 0 on success (or a missing optional file), -errno when the file cannot be read, or
 * what config_parse_text() returned.
 */
int config_load_file(Config *c, const char *path, bool optional, char *reterr, size_t errlen) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        assert(c);
        assert(path);

        r = read_file(path, &text, &len);
        if (r == -ENOENT && optional)
                return 0;
        if (r < 0) {
                set_error(reterr, errlen, "Failed to read %s: %s", path, strerror(-r));
                return r;
        }
        return config_parse_text(c, text, len, path, reterr, errlen);
}

/**
 * config_load_env() - Apply every known key found in @envp.
 * @c: the configuration.
 * @envp: NULL-terminated "K=V" strings (may be NULL); unknown names are ignored.
 * @reterr: buffer for the message (may be NULL).
 * @errlen: size of @reterr.
 *
 * Values are taken verbatim: no trimming or unquoting, the shell already did that.
 *
 * Return: 0 on success, -EINVAL for a bad value, -ENOMEM.
 */
int config_load_env(Config *c, char *const *envp, char *reterr, size_t errlen) {
        assert(c);

        for (; envp && *envp; envp++) {
                const char *eq = strchr(*envp, '=');
                _cleanup_free_ char *key = NULL;
                int r;

                if (!eq)
                        continue;
                key = strndup(*envp, (size_t) (eq - *envp));
                if (!key)
                        return -ENOMEM;
                if (!config_is_known_key(key))
                        continue;
                r = config_set(c, key, eq + 1, reterr, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/**
 * config_load_keys_file() - Append the API keys in @path (one per line) to @c->api_keys.
 * @c: the configuration.
 * @path: the file, typically $CREDENTIALS_DIRECTORY/api-keys.
 * @reterr: buffer for the message (may be NULL).
 * @errlen: size of @reterr.
 *
 * Lines are trimmed; blank lines and lines starting with '#' are skipped.
 *
 * Return: 0 on success, -errno when the file cannot be read (-ENOENT when it is missing, which
 * the caller may choose to ignore), -ENOMEM.
 */
int config_load_keys_file(Config *c, const char *path, char *reterr, size_t errlen) {
        _cleanup_free_ char *text = NULL;
        const char *p, *end;
        size_t len;
        int r;

        assert(c);
        assert(path);

        r = read_file(path, &text, &len);
        if (r < 0) {
                set_error(reterr, errlen, "Failed to read %s: %s", path, strerror(-r));
                return r;
        }
        for (p = text, end = text + len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *b = p, *e = nl ? nl : end;

                p = nl ? nl + 1 : end;
                trim(&b, &e);
                if (b == e || *b == '#')
                        continue;
                r = strv_consume(&c->api_keys, strndup(b, (size_t) (e - b)));
                if (r < 0)
                        return r;
        }
        return 0;
}

/**
 * config_validate() - Checks that involve more than one key.
 * @c: the configuration.
 * @reterr: buffer for the message (may be NULL).
 * @errlen: size of @reterr.
 *
 * The predecessor started with auth on and no keys and then answered 401 to everything; refusing
 * to start says what is wrong instead.
 *
 * Return: 0 when the configuration is usable, -EINVAL otherwise.
 */
int config_validate(const Config *c, char *reterr, size_t errlen) {
        assert(c);

        if (c->require_auth && strv_length(c->api_keys) == 0) {
                set_error(reterr, errlen,
                          "REQUIRE_AUTH is on but no API keys are configured: set PROXY_API_KEYS, provide "
                          "the api-keys credential, or set REQUIRE_AUTH=false");
                return -EINVAL;
        }
        if (c->agent_port != 0 && c->agent_port == c->port) {
                set_error(reterr, errlen, "AGENT_PORT=%u is the same port as PORT: give the agent-check port its own",
                          (unsigned) c->agent_port);
                return -EINVAL;
        }
        return 0;
}

static void format_strv(FILE *f, char *const *l) {
        for (size_t i = 0; l && l[i]; i++)
                fprintf(f, "%s%s", i > 0 ? "," : "", l[i]);
}

static const char *log_level_to_string(int level) {
        for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                if (log_levels[i].level == level)
                        return log_levels[i].name;
        return "?";
}

/**
 * config_format() - The effective configuration as "KEY=value\n" lines, for --check-config.
 * @c: the configuration.
 *
 * Every key appears once, in a fixed order; unset values are empty; API keys are replaced by
 * "<N keys>" so the output can be pasted into a bug report.
 *
 * Return: a new string, or NULL on OOM.
 */
char *config_format(const Config *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        assert(c);

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const KeyInfo *k = &keys[i];
                const void *field = (const char *) c + k->offset;

                fprintf(f, "%s=", k->name);
                switch (k->type) {
                case KEY_STRING:
                case KEY_PATH_OPTIONAL:
                case KEY_EFFORT:
                        fputs(*(char *const *) field ?: "", f);
                        break;
                case KEY_U16:
                        fprintf(f, "%u", (unsigned) *(const uint16_t *) field);
                        break;
                case KEY_U64:
                case KEY_SIZE:
                        fprintf(f, "%" PRIu64, *(const uint64_t *) field);
                        break;
                case KEY_UNSIGNED:
                        fprintf(f, "%u", *(const unsigned *) field);
                        break;
                case KEY_BOOL:
                case KEY_REQUIRE_AUTH:
                        fputs(*(const bool *) field ? "true" : "false", f);
                        break;
                case KEY_LOG_LEVEL:
                        fputs(log_level_to_string(*(const int *) field), f);
                        break;
                case KEY_PROMPT_MODE:
                        fputs(system_prompt_mode_to_string(*(const SystemPromptMode *) field) ?: "?", f);
                        break;
                case KEY_KEYS:
                        fprintf(f, "<%zu keys>", strv_length(*(char **const *) field));
                        break;
                case KEY_SCOPE_MODE:
                        fputs(scope_mode_to_string(*(const ScopeMode *) field) ?: "?", f);
                        break;
                case KEY_LIMIT_SIZE:
                case KEY_LIMIT_COUNT: {
                        uint64_t v = *(const uint64_t *) field;
                        if (v == SCOPE_LIMIT_INFINITY)
                                fputs("infinity", f);
                        else if (v > 0)
                                fprintf(f, "%" PRIu64, v);
                        break;
                }
                case KEY_PERCENT:
                        if (*(const unsigned *) field > 0)
                                fprintf(f, "%u%%", *(const unsigned *) field);
                        break;
                case KEY_NAMES:
                        format_strv(f, *(char **const *) field);
                        break;
                }
                fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
