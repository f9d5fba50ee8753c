/* SPDX-License-Identifier: MIT */
#include "exit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int exit_status(const struct corun_outcome *o)
{
  /* How the run was ended comes first: a timeout is 124 whatever failed. */
  switch (o->end) {
  case CORUN_END_SIGINT:
    return CORUN_EXIT_SIGINT;
  case CORUN_END_SIGTERM:
    return CORUN_EXIT_SIGTERM;
  case CORUN_END_SIGHUP:
    return CORUN_EXIT_SIGHUP;
  case CORUN_END_TIMEOUT:
    return CORUN_EXIT_TIMEOUT;
  case CORUN_END_STALLED:
    return CORUN_EXIT_FAILED;
  case CORUN_END_NORMAL:
    break;
  }
  return o->roots_ok ? CORUN_EXIT_OK : CORUN_EXIT_FAILED;
}

int exit_printed(void)
{
  if (fflush(stdout) == 0 && !ferror(stdout))
    return CORUN_EXIT_OK;
  fprintf(stderr, "corun: cannot write to standard output: %s\n",
          errno ? strerror(errno) : "write error");
  return CORUN_EXIT_USAGE;
}
