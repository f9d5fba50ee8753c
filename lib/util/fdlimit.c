/* SPDX-License-Identifier: MIT */
#include "util/fdlimit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>

/*
 * Open descriptors, from /proc/self/fd (less the one opendir holds); without
 * /proc, by asking each descriptor below the limit, which is slow only
 * when the limit is large, and then it hardly matters.
 */
static long open_now(long limit)
{
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  long n = 0, fd;

  if (d) {
    while ((e = readdir(d)) != NULL)
      if (e->d_name[0] != '.')
        n++;
    closedir(d);
    return n > 0 ? n - 1 : 0;
  }
  if (limit > 65536)
    return 0;
  for (fd = 0; fd < limit; fd++)
    if (fcntl((int)fd, F_GETFD) != -1)
      n++;
  return n;
}

long corun__fd_room(void)
{
  struct rlimit rl;
  long limit, room;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur > (rlim_t)LONG_MAX / 2)
    return LONG_MAX / 2;
  limit = (long)rl.rlim_cur;
  room = limit - open_now(limit);
  return room > 0 ? room : 0;
}

const char *corun__fd_hint(int err, char *buf, size_t size)
{
  struct rlimit rl;

  if (size == 0)
    return "";
  buf[0] = '\0';
  if (err == ENFILE) {
    snprintf(buf, size, " (the system's file table is full)");
  } else if (err == EMFILE) {
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      snprintf(buf, size,
               " (corun may have %llu files open: raise \"ulimit -n\" or "
               "lower the concurrency)",
               (unsigned long long)rl.rlim_cur);
    else
      snprintf(buf, size, " (raise \"ulimit -n\" or lower the concurrency)");
  }
  return buf;
}
