/* SPDX-License-Identifier: MIT */
/*
 * Shared test helpers: load a job from a string, run it to the end on a
 * private loop, find tasks, capture output, and run the corun binary.
 */
#ifndef CORUN_TEST_HELPERS_H
#define CORUN_TEST_HELPERS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "corun.h"
#include "load/jobfile.h"
#include "report/report.h"
#include "core/run.h"
#include "core/task.h"

/* Multiplier for time windows: CORUN_TEST_TIME_SCALE (default 1). */
double time_scale(void);

/* Load text as a job; fails the test with the diagnostics if invalid. */
struct corun_job *load_ok(const char *text);
/* Load text expecting CORUN_EINVAL; returns the diagnostics (free them). */
char *load_err(const char *text);

struct result {
  struct corun_job *job;
  struct corun_run *run;
  uv_loop_t loop;
  struct corun_buf out; /* task output lines, '\n'-terminated */
  struct corun_buf log; /* debug lines */
  double wall;          /* seconds the run took */
  int exit_code;        /* the corun command's for the outcome (cmd/) */
};

struct run_opts {
  int debug;
  unsigned slow_ms;
  double interrupt_after; /* > 0: SIGINT-interrupt after this many seconds */
  double interrupt2_after; /* > 0: a second interrupt */
  double expire_after;     /* > 0: whole-run timeout */
  int signum;              /* for the interrupts; default SIGINT */
  int skip_bodies;
  int skip_timings;
  int trace; /* keep what only a trace shows */
};

/*
 * Close run (corun_run_close) and run loop until it is released; fails
 * the test if the close callback did not come.
 */
void run_free(struct corun_run *run, uv_loop_t *loop);

/* Run text to the end; the caller frees with result_free(). */
struct result *run_job(const char *text, const struct run_opts *o);
void result_free(struct result *r);

struct corun_task *task_by_id(struct result *r, const char *id);
const char *status_of(struct result *r, const char *id);
/* Seconds from the run's start to the task's start/end (-1 if none). */
double start_of(struct result *r, const char *id);
double end_of(struct result *r, const char *id);
/* The task's result written as JSON (static buffer). */
const char *result_json(struct result *r, const char *id);

/* Run the corun binary with args (NULL-terminated), capturing everything. */
struct proc {
  int status; /* exit code, or 128 + signal */
  char *out;
  char *err;
  double wall;
};
struct proc *run_cli(const char *stdin_text, const char *const *args);
void proc_free(struct proc *p);

/*
 * Start the corun binary without waiting for it: spawn_cli() forks and
 * execs it with args (NULL-terminated, without the program name), and it
 * dies with the test (PR_SET_PDEATHSIG). reap_cli() waits for it.
 */
struct spawn_opts {
  const char *cwd;     /* run there; NULL: here */
  const char *in;      /* file for stdin; NULL: /dev/null */
  const char *out;     /* files for stdout and stderr; NULL: /dev/null */
  const char *err;
  long nofile;         /* > 0: the RLIMIT_NOFILE (soft and hard) */
  int free_fds;        /* with nofile: open files until only this many
                          descriptors are left free (-1: do not) */
  int unprivileged;    /* run as nobody when the test runs as root, so
                          permissions apply */
  const char *env;     /* "NAME=VALUE" lines added to its environment, or
                          NULL */
};
pid_t spawn_cli(const char *const *args, const struct spawn_opts *o);
/*
 * Wait up to timeout seconds. Returns the exit code, 1000 + the signal if
 * a signal killed it, or -1 if it was still running (it is then killed).
 * max_rss_kb (may be NULL) gets its peak resident size.
 */
int reap_cli(pid_t pid, double timeout, long *max_rss_kb);
/* The uid and gid spawn_cli uses with unprivileged when root: nobody. */
#define SPAWN_NOBODY 65534

/*
 * The whole file, NUL-terminated (free it), its length in *len if len is
 * not NULL; NULL if it cannot be read.
 */
char *read_file(const char *path, size_t *len);
/* The task with this id in a parsed JSON report; fails the test if none. */
cJSON *report_task(const cJSON *rep, const char *id);
/* Runs cmd through the shell; its output, and *status (128 + signal). */
char *run_shell(const char *cmd, int *status);
/* A fresh directory /tmp/corun-<what>.XXXXXX (free the path). */
char *tmp_dir(const char *what);
/* "dir/name", malloc'd. */
char *path_join(const char *dir, const char *name);
/* All that is left to read of f (a file or a popen() pipe); free it. */
char *read_stream(FILE *f);
/* Entries in a directory, "." and ".." aside; fails the test if absent. */
size_t dir_entries(const char *path);

/* Write text to a fresh temporary file; returns its path (free it). */
char *write_temp(const char *name, const char *text);
/*
 * Remove write_temp()'s file and the directory made for it (path is cut
 * at its last '/': it names the directory then).
 */
void remove_copy(char *path);

/*
 * A TCP port on 127.0.0.1 that was free a moment ago, for a server that
 * cannot take port 0 (nginx, tinyproxy, nghttpd).
 */
int free_port(void);

#endif
