/* SPDX-License-Identifier: MIT */
/*
 * The watchdog: a small child process that outlives corun only to stop
 * corun's commands when corun itself dies without doing so (SIGKILL, the
 * OOM killer, a crash).
 *
 * Every command runs in a process group of its own, so nothing that kills
 * corun reaches it. corun tells the watchdog, through a pipe only the two
 * of them hold, "+PGID" when a command's group starts and "-PGID" when
 * corun is done with it. When the pipe reaches end of file, corun is gone:
 * a clean exit has said "-" for every group first, so what is left belongs
 * to a corun that died. Those groups get SIGTERM, then SIGKILL two seconds
 * later if anything in them is still alive.
 *
 * It is forked once the job is loaded, and only when the job starts
 * processes (corun_job_spawns). It ignores the terminal's signals (Ctrl-C reaches the
 * whole foreground group, the watchdog included); SIGKILL can still end
 * it, and then nothing watches: see the man page, DECISIONS.
 */
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GRACE_MS 2000 /* from SIGTERM to SIGKILL */

struct groups {
  int *v;
  size_t n, cap;
};

static void groups_add(struct groups *g, int pgid)
{
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 64;
    int *v = realloc(g->v, cap * sizeof(*v));

    if (v == NULL)
      return; /* one group unwatched rather than a watchdog gone */
    g->v = v;
    g->cap = cap;
  }
  g->v[g->n++] = pgid;
}

static void groups_remove(struct groups *g, int pgid)
{
  size_t i;

  /* Latest first: a group usually ends soon after it starts. */
  for (i = g->n; i-- > 0;)
    if (g->v[i] == pgid) {
      g->v[i] = g->v[--g->n];
      return;
    }
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* What is left of a dead corun's commands: SIGTERM, then SIGKILL. */
static void stop_groups(struct groups *g)
{
  size_t i;
  long waited;

  for (i = 0; i < g->n; i++)
    kill(-g->v[i], SIGTERM);
  for (waited = 0; waited < GRACE_MS; waited += 50) {
    int alive = 0;

    for (i = 0; i < g->n; i++)
      alive |= kill(-g->v[i], 0) == 0;
    if (!alive)
      return;
    sleep_ms(50);
  }
  for (i = 0; i < g->n; i++)
    kill(-g->v[i], SIGKILL);
}

static void apply(struct groups *g, const char *line)
{
  char *end;
  long pgid = strtol(line + 1, &end, 10);

  if (pgid <= 1 || *end != '\0')
    return;
  if (line[0] == '+')
    groups_add(g, (int)pgid);
  else if (line[0] == '-')
    groups_remove(g, (int)pgid);
}

/*
 * Every descriptor but keep: in two calls where the kernel has
 * close_range() (Linux 5.9), else one by one up to the limit.
 */
static void close_all_but(int keep)
{
  struct rlimit rl;
  long i, max = 1024;

#ifdef SYS_close_range
  if ((keep == 0 || syscall(SYS_close_range, 0u, (unsigned)keep - 1, 0u) == 0) &&
      syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
    return;
#endif
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < 1 << 20)
    max = (long)rl.rlim_cur;
  for (i = 0; i < max; i++)
    if (i != keep)
      close((int)i);
}

static void __attribute__((noreturn)) watch(int fd)
{
  static const int quiet[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP,
                              SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGPIPE};
  struct groups g = {0};
  char buf[4096], line[32];
  size_t len = 0, i;
  ssize_t n;

  for (i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
    signal(quiet[i], SIG_IGN);
  prctl(PR_SET_NAME, "corun-watchdog", 0, 0, 0);
  /* Hold nothing of corun's: no mount point, no file, no terminal. */
  if (chdir("/") != 0) {
    /* Not fatal: it only keeps a directory busy. */
  }
  close_all_but(fd);
  for (;;) {
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    for (i = 0; i < (size_t)n; i++) {
      if (buf[i] != '\n') {
        if (len < sizeof(line) - 1)
          line[len++] = buf[i];
        continue;
      }
      line[len] = '\0';
      apply(&g, line);
      len = 0;
    }
  }
  if (g.n)
    stop_groups(&g);
  _exit(0);
}

int watchdog_start(void)
{
  int p[2];
  pid_t pid;

  /* Close-on-exec: a command holding the write end would hide our death. */
  if (pipe(p) < 0)
    return -1;
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    close(p[1]);
    watch(p[0]);
  }
  close(p[0]);
  /*
   * Never block the event loop on a watchdog that is stopped or slow: a
   * message that finds the pipe full is dropped (one group unwatched).
   */
  fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
  return p[1];
}

void watchdog_group(int fd, int pgid, int alive)
{
  char msg[32];
  int len;

  if (fd < 0)
    return;
  len = snprintf(msg, sizeof(msg), "%c%d\n", alive ? '+' : '-', pgid);
  /* Under PIPE_BUF: one write, whole, never mixed with another. */
  while (write(fd, msg, (size_t)len) < 0 && errno == EINTR)
    ;
}
