/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: what one CLI run came to, and the API error it maps to (cli/README §13). */

#include <stdbool.h>

#include "api/api.h"
#include "cli/spawn.h"
#include "cli/stream.h"

/* Accumulates the facts of the final turn that decide success or failure. */
typedef struct CliOutcome {
        json_t *result;                 /* owned: the final `result` line, NULL if none came */
        json_t *rate_limit_info;        /* owned: the last rate_limit_event's info */
        char *synthetic_error;          /* owned: "error" of the last synthetic assistant line */
        char *synthetic_text;           /* owned: its text */
        unsigned api_retries;
        bool saw_message_start;
} CliOutcome;

void cli_outcome_feed(CliOutcome *o, const CliEvent *ev);
void cli_outcome_done(CliOutcome *o);

/*
 * Decide. Return 0 when the run succeeded (a result with is_error false); otherwise a negative
 * errno (-EPROTO for CLI-reported API errors, -ETIMEDOUT, -ECONNABORTED, -ENOEXEC for a CLI that
 * died without a result) with reterr filled as the client should see it. `stderr_text` is the
 * bounded tail of the CLI's stderr (may be NULL).
 */
int cli_outcome_classify(const CliOutcome *o, const CliExit *exit, const char *stderr_text, ApiError *reterr);
