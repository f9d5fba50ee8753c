/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the duration and rate parsers: each input (up to
 * its first NUL) is parsed as a duration ("250ms", "1.5s", plain seconds)
 * and as a rate ("20/s", "5/m", "100/h").
 * What one input does is in fuzz_entry.h (shared with the regression suite
 * tests/test_fuzz_regress.c); building and running: fuzz/README.md.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_entry.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  corun_fuzz_setup();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  return corun_fuzz_duration(data, size);
}
