/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the template expander: byte 0 of an input picks
 * the context, the rest is expanded in one pass and in a pipeline stage's
 * two (defer_item at load time, then the item), which must agree; and
 * corun_template_item_refs must find every item reference the second pass
 * fills in.
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
  return corun_fuzz_template(data, size);
}
