/* SPDX-License-Identifier: MIT */
/*
 * Test-side control of corun-test-httpd: fork/exec it with a pipe on its
 * stdin (held only by the test, so the server exits when the test does)
 * and a pipe on its stdout to read the port it picked.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CORUN_TEST_HTTPD
#error "CORUN_TEST_HTTPD must name the built corun-test-httpd"
#endif

#define START_TIMEOUT_MS 5000

/*
 * Moves fd above 0-2 (close-on-exec), so the dup2 calls in the child can
 * never overwrite one pipe end with another when the test runs with a
 * standard descriptor closed.
 */
static int fd_high(int fd)
{
  int n;

  if (fd > 2)
    return fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? -1 : fd;
  n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return n;
}

static int64_t now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads "PORT <n>\n" from fd within the start timeout; -1 if it never came. */
static int read_port(int fd)
{
  char line[64];
  size_t len = 0;
  int64_t deadline = now_ms() + START_TIMEOUT_MS;

  while (len < sizeof line - 1) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t left = deadline - now_ms();
    ssize_t n;
    int port;

    if (left <= 0)
      return -1;
    if (poll(&p, 1, (int)left) < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (p.revents == 0)
      continue;
    n = read(fd, line + len, sizeof line - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1; /* exited (exec failed, bind failed) before printing */
    len += (size_t)n;
    line[len] = '\0';
    if (strchr(line, '\n') == NULL)
      continue;
    if (sscanf(line, "PORT %d", &port) != 1 || port <= 0 || port > 65535)
      return -1;
    return port;
  }
  return -1;
}

static void reap(pid_t pid)
{
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

int test_server_start(struct test_server *s)
{
  int in[2], out[2];
  pid_t pid;

  s->pid = -1;
  s->port = 0;
  s->in_fd = -1;
  if (pipe(in) < 0)
    return -1;
  if (pipe(out) < 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  in[0] = fd_high(in[0]);
  in[1] = fd_high(in[1]);
  out[0] = fd_high(out[0]);
  out[1] = fd_high(out[1]);
  if (in[0] < 0 || in[1] < 0 || out[0] < 0 || out[1] < 0)
    goto fail_fds;

  pid = fork();
  if (pid < 0)
    goto fail_fds;
  if (pid == 0) {
    /* dup2 clears close-on-exec on 0 and 1; everything else closes. */
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
      _exit(127);
    execl(CORUN_TEST_HTTPD, CORUN_TEST_HTTPD, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  s->port = read_port(out[0]);
  close(out[0]); /* the server writes nothing after the port */
  if (s->port < 0) {
    fprintf(stderr, "test_server_start: %s did not report a port\n",
            CORUN_TEST_HTTPD);
    close(in[1]);
    kill(pid, SIGTERM);
    reap(pid);
    s->port = 0;
    return -1;
  }
  s->pid = pid;
  s->in_fd = in[1];
  return 0;

fail_fds:
  for (int i = 0; i < 2; i++) {
    if (in[i] >= 0)
      close(in[i]);
    if (out[i] >= 0)
      close(out[i]);
  }
  return -1;
}

void test_server_stop(struct test_server *s)
{
  /* pid guards both: a zeroed struct must not close the test's stdin. */
  if (s->pid <= 0)
    return;
  if (s->in_fd >= 0)
    close(s->in_fd);
  kill(s->pid, SIGTERM);
  reap(s->pid);
  s->pid = -1;
  s->in_fd = -1;
}

char *test_server_url(const struct test_server *s, const char *path)
{
  const char *sep = path[0] == '/' ? "" : "/";
  size_t n = strlen(path) + 64;
  char *url = malloc(n);

  if (url != NULL)
    snprintf(url, n, "http://127.0.0.1:%d%s%s", s->port, sep, path);
  return url;
}
