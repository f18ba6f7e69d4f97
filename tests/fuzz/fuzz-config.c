/* SPDX-License-Identifier: MIT */

/*
 * Configuration text: a config file is admin-written, but the same parser also reads
 * $CREDENTIALS_DIRECTORY-style files and drop-ins, and a crash there is a daemon that never
 * starts. The parse is followed by the cross-key checks and --check-config's formatter, which
 * walk every field the parse may have set. Invariants: a refusal says why, whatever was
 * parsed can be formatted, and the format masks the API keys (one "PROXY_API_KEYS=<N keys>"
 * line, no key in the text).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz-check.h"
#include "fuzz.h"
#include "util/strv.h"
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
        {
                _cleanup_free_ char *line = NULL;
                const char *at = strstr(formatted, "\nPROXY_API_KEYS=");
                size_t n = strv_length(c.api_keys);

                FUZZ_CHECK(at && asprintf(&line, "\nPROXY_API_KEYS=<%zu keys>\n", n) > 0 &&
                           strneq(at, line, strlen(line)), "the keys line does not say <%zu keys>", n);
                /* Long enough not to occur by chance among the other values. */
                for (char **k = c.api_keys; k && *k; k++)
                        FUZZ_CHECK(strlen(*k) < 12 || !strstr(formatted, *k), "API key '%s' in the output", *k);
        }
        config_done(&c);
        return 0;
}
