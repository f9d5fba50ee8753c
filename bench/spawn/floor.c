/* SPDX-License-Identifier: MIT */
/*
 * The floor of starting commands (issue 16, item 4): N runs of one
 * program, C at a time, each started the way corun must start one (its
 * own session, stdout and stderr on pipes, stdin on /dev/null, signals at
 * their defaults) and nothing else: no event loop, no tasks, no reports.
 * Its output is not read; the pipes are closed at once.
 *
 *   floor MODE N C PROGRAM [ARG]
 *
 * MODE: "fork" (fork(), then setsid, dup2 and execvp in the child: what
 * xargs and libuv 1.44's uv_spawn do) or "spawn" (posix_spawnp(), which
 * glibc does with clone(CLONE_VM | CLONE_VFORK): what util/spawn.c does).
 * The program gets ARG, or the run's number. Exit 0 when every run exited
 * 0, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int start_fork(char **argv, int out, int err)
{
  pid_t pid = fork();

  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);

    setsid();
    if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 ||
        dup2(err, 2) < 0)
      _exit(126);
    execvp(argv[0], argv);
    _exit(127);
  }
  return (int)pid;
}

static int start_spawn(char **argv, int out, int err)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t set;
  pid_t pid;
  int r;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  posix_spawnattr_init(&at);
  sigemptyset(&set);
  posix_spawnattr_setsigmask(&at, &set);
  memset(&set, 0xff, sizeof(set));
  posix_spawnattr_setsigdefault(&at, &set);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  r = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (r != 0) {
    errno = r;
    return -1;
  }
  return (int)pid;
}

int main(int argc, char **argv)
{
  long n, c, started = 0, done = 0, bad = 0;
  int fork_mode;
  char num[32], *args[3];

  if (argc < 5 || (strcmp(argv[1], "fork") && strcmp(argv[1], "spawn"))) {
    fprintf(stderr, "usage: floor fork|spawn N C PROGRAM [ARG]\n");
    return 2;
  }
  fork_mode = strcmp(argv[1], "fork") == 0;
  n = atol(argv[2]);
  c = atol(argv[3]);
  args[0] = argv[4];
  args[1] = argc > 5 ? argv[5] : num;
  args[2] = NULL;
  while (done < n) {
    int st;

    while (started < n && started - done < c) {
      int out[2], err[2], pid;

      if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        perror("floor: pipe");
        return 1;
      }
      snprintf(num, sizeof(num), "%ld", started + 1);
      pid = fork_mode ? start_fork(args, out[1], err[1])
                      : start_spawn(args, out[1], err[1]);
      if (pid < 0) {
        perror("floor: start");
        return 1;
      }
      close(out[0]);
      close(out[1]);
      close(err[0]);
      close(err[1]);
      started++;
    }
    if (wait(&st) < 0) {
      perror("floor: wait");
      return 1;
    }
    bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    done++;
  }
  return bad > 0;
}
