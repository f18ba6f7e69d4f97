/* SPDX-License-Identifier: MIT */
#pragma once

/* The libFuzzer entry point, shared by every target and the standalone replay driver. */

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs bigger than this are skipped: they only make the fuzzer slow, not smarter. */
#define FUZZ_INPUT_MAX (256u * 1024u)
