/* SPDX-License-Identifier: MIT */

/*
 * Configuration text: a config file is admin-written, but the same parser also reads
 * $CREDENTIALS_DIRECTORY-style files and drop-ins, and a crash there is a daemon that never
 * starts. The parse is followed by the cross-key checks and --check-config's formatter, which
 * walk every field the parse may have set. Invariants: a refusal says why, and whatever was
 * parsed can be formatted.
 */

#include <stdlib.h>

#include "config.h"
#include "fuzz-check.h"
#include "fuzz.h"
#include "util/macro.h"

/**
 * LLVMFuzzerTestOneInput() - one fuzz input
 * @data: the input bytes (not NUL-terminated)
 * @size: their length
 *
 * Treats @data as configuration text: parse, validate, format.
 *
 * Return: 0 (libFuzzer reserves other values).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *formatted = NULL;
        char err[512] = "";
        Config c;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        config_init(&c);
        if (config_parse_text(&c, (const char *) data, size, "fuzz", err, sizeof(err)) >= 0) {
                if (config_validate(&c, err, sizeof(err)) < 0)
                        FUZZ_CHECK(err[0], "config_validate() refused without saying why");
        } else
                FUZZ_CHECK(err[0], "config_parse_text() refused without saying why");
        formatted = config_format(&c);
        FUZZ_CHECK(formatted, "config_format() gave nothing");
        config_done(&c);
        return 0;
}
