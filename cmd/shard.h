/* SPDX-License-Identifier: MIT */
/* --shard: K/N as given, or "auto" from the environment (shard.c). */
#ifndef CORUN_CMD_SHARD_H
#define CORUN_CMD_SHARD_H

/*
 * arg is "K/N" or "auto". Returns 0 with 1 <= *k <= *n, or -1 after
 * printing "corun: ..." to stderr (a usage error: exit 2).
 */
int shard_parse(const char *arg, unsigned *k, unsigned *n);

#endif
