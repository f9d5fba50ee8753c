/* SPDX-License-Identifier: MIT */
/*
 * How many more file descriptors the process may open, and what to tell a
 * user whose task failed for want of one.
 *
 * Every fetch holds a socket (and a file while it saves), every exec three
 * pipes: a job of hundreds of them under a small "ulimit -n" would
 * otherwise fail at random with "Couldn't connect". The HTTP client sizes
 * its connection cap from corun__fd_room() so fetches wait for a
 * connection instead; what still fails says why and what to change.
 */
#ifndef CORUN_FDLIMIT_H
#define CORUN_FDLIMIT_H

#include <stddef.h>

/*
 * Descriptors that can still be opened: the soft RLIMIT_NOFILE less those
 * open now. A very large number when there is no limit.
 */
long corun__fd_room(void);

/*
 * For EMFILE and ENFILE, a hint to append to the message (starting with
 * " ("), naming the limit; "" for any other errno. Writes into buf.
 */
const char *corun__fd_hint(int err, char *buf, size_t size);

#endif
