/* SPDX-License-Identifier: MIT */
/*
 * A child process that stops corun's commands if corun dies without
 * stopping them itself (see watchdog.c).
 */
#ifndef CORUN_CMD_WATCHDOG_H
#define CORUN_CMD_WATCHDOG_H

/* Fork the watchdog; the descriptor to tell it about groups, or -1. */
int watchdog_start(void);
/* A command's process group started (alive 1) or is done with (0). */
void watchdog_group(int fd, int pgid, int alive);

#endif
