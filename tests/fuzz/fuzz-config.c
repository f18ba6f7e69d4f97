/* SPDX-License-Identifier: MIT */

/*
 * Configuration text: a config file is admin-written, but the same parser also reads
 * $CREDENTIALS_DIRECTORY-style files and drop-ins, and a crash there is a daemon that never
 * starts. The parse is followed by the cross-key checks and --check-config's formatter, which
 * walk every field the parse may have set.
 */

#include <stdlib.h>

#include "config.h"
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
        if (config_parse_text(&c, (const char *) data, size, "fuzz", err, sizeof(err)) >= 0)
                (void) config_validate(&c, err, sizeof(err));
        formatted = config_format(&c);
        config_done(&c);
        return 0;
}
