/* SPDX-License-Identifier: MIT */
/* How the command says that it was called wrongly. */
#ifndef CORUN_CMD_USAGE_H
#define CORUN_CMD_USAGE_H

/* "corun: MESSAGE (try 'corun --help')" on stderr; returns -1. */
__attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...);

#endif
