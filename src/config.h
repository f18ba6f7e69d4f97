/* SPDX-License-Identifier: MIT */
#pragma once

/* Configuration: defaults < config file < environment < command line. Parsing is pure. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/request.h"

/* How each CLI child is contained (SCOPE_MODE); see src/systemd/container.c. */
typedef enum ScopeMode {
        SCOPE_MODE_AUTO,
        SCOPE_MODE_SCOPE,               /* a transient systemd scope unit per request */
        SCOPE_MODE_CGROUP,              /* a sub-cgroup of our delegated cgroup per request */
        SCOPE_MODE_PGROUP,              /* a process group only: no systemd needed */
        _SCOPE_MODE_MAX,
        _SCOPE_MODE_INVALID = -EINVAL,
} ScopeMode;

/* SCOPE_MEMORY_MAX / SCOPE_TASKS_MAX: 0 means unset (no property), this means "infinity". */
#define SCOPE_LIMIT_INFINITY UINT64_MAX

typedef struct McpRegistry McpRegistry;

typedef struct Config {
        char *host;                     /* HOST */
        uint16_t port;                  /* PORT */
        uint16_t agent_port;            /* AGENT_PORT: HAProxy agent-check port; 0 none */
        char **api_keys;                /* PROXY_API_KEYS (+ $CREDENTIALS_DIRECTORY/api-keys), strv */
        bool require_auth;              /* REQUIRE_AUTH: only the literal "false" disables it */
        char *claude_path;              /* CLAUDE_PATH */
        char *default_model;            /* DEFAULT_MODEL */
        char *default_effort;           /* DEFAULT_EFFORT */
        uint64_t request_timeout_ms;    /* REQUEST_TIMEOUT_MS */
        uint64_t idle_timeout_ms;       /* IDLE_TIMEOUT_MS: no CLI output this long -> kill */
        uint64_t kill_grace_ms;         /* KILL_GRACE_MS: SIGTERM -> SIGKILL */
        uint64_t ping_interval_ms;      /* PING_INTERVAL_MS: SSE ping while the CLI is silent */
        int log_level;                  /* LOG_LEVEL: syslog priority (LOG_DEBUG..LOG_ERR) */
        bool enable_thinking;           /* ENABLE_THINKING */
        char *mcp_config_path;          /* PROXY_MCP_CONFIG */
        McpRegistry *mcp_registry;      /* its servers, loaded by the caller (main.c); NULL: none */
        uint64_t max_body_bytes;        /* MAX_BODY_BYTES */
        unsigned max_body_values;       /* MAX_BODY_VALUES */
        unsigned max_concurrent;        /* MAX_CONCURRENT */
        unsigned max_queue;             /* MAX_QUEUE */
        unsigned warm_pool;             /* WARM_POOL: idle CLIs kept started for DEFAULT_MODEL */
        uint64_t tool_park_ms;          /* TOOL_PARK_MS: parked client-tool runs wait this long; 0: off */
        char **child_env;               /* CHILD_ENV: extra variable names for the CLI, strv */
        SystemPromptMode system_prompt_mode; /* SYSTEM_PROMPT_MODE */
        unsigned cli_max_retries;       /* CLI_MAX_RETRIES -> CLAUDE_CODE_MAX_RETRIES */
        char *work_dir;                 /* WORK_DIR: the CLI's cwd; default $RUNTIME_DIRECTORY or a private temp dir */
        ScopeMode scope_mode;           /* SCOPE_MODE */
        char *scope_slice;              /* SCOPE_SLICE; empty: no Slice= (the manager's default) */
        uint64_t scope_memory_max;      /* SCOPE_MEMORY_MAX bytes; 0 unset, SCOPE_LIMIT_INFINITY */
        uint64_t scope_tasks_max;       /* SCOPE_TASKS_MAX; 0 unset, SCOPE_LIMIT_INFINITY */
        unsigned scope_cpu_quota;       /* SCOPE_CPU_QUOTA percent of one CPU; 0 unset */
        uint64_t exit_idle_sec;         /* EXIT_IDLE_SEC: exit after this long idle; 0 never */
        uint64_t shutdown_grace_ms;     /* SHUTDOWN_GRACE_MS: SIGTERM -> kill running requests */
        bool metrics_auth;              /* METRICS_AUTH: /metrics needs an API key */
} Config;

void config_init(Config *c);            /* built-in defaults */
void config_done(Config *c);

/*
 * Set one key. Return 0; -ENOENT for an unknown key; -EINVAL for a bad value, with a message
 * naming key and value in reterr. Keys are the environment names above.
 */
int config_set(Config *c, const char *key, const char *value, char *reterr, size_t errlen);

/* KEY=VALUE lines, '#' comments, blank lines; optional double quotes around the value. */
int config_parse_text(Config *c, const char *text, size_t len, const char *origin, char *reterr, size_t errlen);
/* Reads a file; a missing file is not an error when `optional`. */
int config_load_file(Config *c, const char *path, bool optional, char *reterr, size_t errlen);
/* Every known key found in `envp` (NULL-terminated "K=V"). */
int config_load_env(Config *c, char *const *envp, char *reterr, size_t errlen);
/* One key per line, blank and '#' lines skipped; appended to api_keys. */
int config_load_keys_file(Config *c, const char *path, char *reterr, size_t errlen);
/* Cross-key checks (auth on without keys, ...). */
int config_validate(const Config *c, char *reterr, size_t errlen);
/* Human-readable effective configuration, secrets masked (--check-config). New string. */
char *config_format(const Config *c);
bool config_is_known_key(const char *key);
const char *scope_mode_to_string(ScopeMode m);
ScopeMode scope_mode_from_string(const char *s);
