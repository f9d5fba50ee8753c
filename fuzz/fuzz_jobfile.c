/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the job loader: each input is a whole job file,
 * loaded (plain, then with --var, -j and --root), described and freed,
 * never run. Loading touches no network and writes no files; relative
 * paths resolve against a scratch directory in /tmp.
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
  return corun_fuzz_jobfile(data, size);
}
