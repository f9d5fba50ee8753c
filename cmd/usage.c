/* SPDX-License-Identifier: MIT */
/* How the command says that it was called wrongly (usage.h). */
#include "usage.h"

#include <stdarg.h>
#include <stdio.h>

int usage_error(const char *fmt, ...)
{
  va_list ap;

  fputs("corun: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (try 'corun --help')\n", stderr);
  return -1;
}
