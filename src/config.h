/* SPDX-License-Identifier: MIT */
#pragma once

/* Configuration: defaults < config file < environment < command line. Parsing is pure. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/request.h"

typedef struct Config {
        char *host;                     /* HOST */
        uint16_t port;                  /* PORT */
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
        uint64_t max_body_bytes;        /* MAX_BODY_BYTES */
        unsigned max_concurrent;        /* MAX_CONCURRENT */
        unsigned max_queue;             /* MAX_QUEUE */
        char **child_env;               /* CHILD_ENV: extra variable names for the CLI, strv */
        SystemPromptMode system_prompt_mode; /* SYSTEM_PROMPT_MODE */
        unsigned cli_max_retries;       /* CLI_MAX_RETRIES -> CLAUDE_CODE_MAX_RETRIES */
        char *work_dir;                 /* WORK_DIR: the CLI's cwd; default $RUNTIME_DIRECTORY or a private temp dir */
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
