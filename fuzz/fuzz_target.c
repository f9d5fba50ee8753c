/* SPDX-License-Identifier: MIT */
/*
 * The libFuzzer targets, one binary each, all from this file: CMake
 * compiles it once per target with CORUN_FUZZ_ENTRY naming the entry in
 * fuzz_entry.h that one input goes through (shared with the regression
 * suite tests/test_fuzz_regress.c, which is where each is described):
 *   fuzz_jobfile   corun_fuzz_jobfile   a whole job file, loaded, never run
 *   fuzz_duration  corun_fuzz_duration  a duration and a rate
 *   fuzz_template  corun_fuzz_template  a template, in one pass and in two
 *   fuzz_decode    corun_fuzz_decode    a compressed body, whole and split
 *   fuzz_pick      corun_fuzz_pick      a JSON body read for a few pointers
 * Building and running: fuzz/README.md.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_entry.h"

#ifndef CORUN_FUZZ_ENTRY
#error "compile with -DCORUN_FUZZ_ENTRY=corun_fuzz_<target>"
#endif

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
  return CORUN_FUZZ_ENTRY(data, size);
}
