/* SPDX-License-Identifier: MIT */
/*
 * Starting and stopping corun-test-httpd (tests/server/httpd.c) from a test.
 *
 * The server is a child process bound to 127.0.0.1 on a port the OS picks.
 * It also dies when the write end of its stdin pipe (in_fd) closes, so a
 * test that crashes before test_server_stop() does not leave it behind.
 * The routes are listed at the top of httpd.c.
 */
#ifndef CORUN_TEST_SERVER_H
#define CORUN_TEST_SERVER_H

#include <sys/types.h>

/*
 * The body of /bytes (and of /delay, /drop, /slow-body when they send n
 * bytes): byte i is TEST_SERVER_PATTERN[i % 64], i.e. 64-byte lines.
 * httpd.c uses these same definitions, so tests can check content exactly.
 */
#define TEST_SERVER_PATTERN                                                    \
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_\n"
#define TEST_SERVER_BYTE(i) (TEST_SERVER_PATTERN[(size_t)(i) % 64])

struct test_server {
  pid_t pid; /* -1 when not running */
  int port;
  int in_fd; /* write end of the server's stdin; closing it stops it */
};

/*
 * Fork and exec CORUN_TEST_HTTPD and wait (a few seconds at most) for the
 * port it prints. Returns 0, or -1 with s->pid == -1 and nothing left
 * running.
 */
int test_server_start(struct test_server *s);
/*
 * SIGTERM the server and reap it; does nothing when it is not running
 * (pid <= 0, which includes a zeroed struct).
 */
void test_server_stop(struct test_server *s);
/* "http://127.0.0.1:PORT/path" (malloc'd); path may omit the leading '/'. */
char *test_server_url(const struct test_server *s, const char *path);

#endif
