/* SPDX-License-Identifier: MIT */
/*
 * The corun command's exit statuses (corun(1), EXIT STATUS): the library
 * reports what a run came to, and this is where that becomes a number.
 */
#ifndef CORUN_CMD_EXIT_H
#define CORUN_CMD_EXIT_H

#include "corun.h"

#define CORUN_EXIT_OK 0
#define CORUN_EXIT_FAILED 1
#define CORUN_EXIT_USAGE 2
#define CORUN_EXIT_TIMEOUT 124
#define CORUN_EXIT_SIGINT 130
#define CORUN_EXIT_SIGTERM 143
#define CORUN_EXIT_SIGHUP 129

/* The exit status for a finished run's outcome. */
int exit_status(const struct corun_outcome *o);

/*
 * The exit status of a command whose work was to print (--help,
 * --version, corun ps): OK once standard output took it all, else 2 with
 * the reason on stderr, as for --check's listing: a full disk must not
 * pass for a listing.
 */
int exit_printed(void);

#endif
