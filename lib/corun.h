/* SPDX-License-Identifier: MIT */
/*
 * corun: run a JSON job graph of async tasks on a libuv loop.
 *
 * The only header the command-line tool includes. A job is loaded and fully
 * validated first (corun_job_load); a run then executes it on a caller's
 * loop (corun_run_new, corun_run_start, uv_run); reporters read the finished
 * run. The library never prints and never exits: text for people reaches
 * the caller through the callbacks in struct corun_run_opts or the buffers
 * it passes in.
 */
#ifndef CORUN_H
#define CORUN_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

#include "util/buf.h"
#include "util/error.h"

struct corun_job;
struct corun_run;
struct corun_journal;

#define CORUN_EXIT_OK 0
#define CORUN_EXIT_FAILED 1
#define CORUN_EXIT_USAGE 2
#define CORUN_EXIT_TIMEOUT 124
#define CORUN_EXIT_SIGINT 130
#define CORUN_EXIT_SIGTERM 143
#define CORUN_EXIT_SIGHUP 129

/* A file the application itself writes during a run, for load checks. */
struct corun_output_path {
  const char *what; /* for messages: "--report", "--journal", ... */
  const char *path; /* as given; "-" (standard output) is no file */
};

struct corun_load_opts {
  const char *const *vars; /* "name=value" overrides of the job's vars */
  size_t nvars;
  unsigned jobs; /* overrides "concurrency" when non-zero (-j) */
  /*
   * --root: every path the job reads or writes must resolve (after ".."
   * and symbolic links) inside this directory, or loading fails.
   */
  const char *root;
  /*
   * When not NULL: a read of the job file (from a pipe, FIFO or terminal)
   * that a signal interrupts gives up with CORUN_EIO if *stop is then
   * non-zero, so a signal handler can end a load that waits for input.
   */
  const volatile sig_atomic_t *stop;
  /*
   * Files the application will write (reports, a journal): a task that
   * writes one of them, or the job file, or what another task writes, is
   * a load error, since one writer would destroy the other's data.
   */
  const struct corun_output_path *outputs;
  size_t noutputs;
};

/*
 * Load and validate the job file at path ("-" reads stdin). On CORUN_EINVAL
 * every problem found is appended to diag as "FILE:LINE:COL: error: MSG"
 * lines and *out is NULL; on other errors err says why. The caller frees
 * the job with corun_job_free().
 */
enum corun_code corun_job_load(struct corun_job **out, const char *path,
                               const struct corun_load_opts *opts,
                               struct corun_buf *diag, struct corun_error *err);
/*
 * Same from memory. display names the input in messages, dir is where
 * relative paths resolve. text need not be NUL-terminated and is not kept.
 */
enum corun_code corun_job_load_text(struct corun_job **out, const char *text,
                                    size_t len, const char *display,
                                    const char *dir,
                                    const struct corun_load_opts *opts,
                                    struct corun_buf *diag,
                                    struct corun_error *err);
void corun_job_free(struct corun_job *job);

/* The task tree as --check prints it, one task per line. */
void corun_job_describe(const struct corun_job *job, struct corun_buf *out);
/* The task tree and "after" edges as a Graphviz digraph (corun graph). */
void corun_job_graph(const struct corun_job *job, struct corun_buf *out);
size_t corun_job_task_count(const struct corun_job *job);

typedef void (*corun_line_cb)(const char *line, void *arg);

struct corun_run_opts {
  int debug;              /* trace state changes, warn on slow callbacks */
  unsigned slow_ms;       /* slow-callback threshold; 0 means 100 */
  /*
   * Nothing will read the JSON report: fetch results then leave out the
   * response "body" (the one part of a result only the report shows), so
   * a big batch of fetches does not keep every small body in memory.
   */
  int skip_bodies;
  /*
   * A trace will be written: kinds keep what only the trace shows (a
   * pipeline samples its queue lengths every 10 ms).
   */
  int trace;
  /* --journal: take what earlier runs finished, record what this one does. */
  struct corun_journal *journal;
  corun_line_cb output;   /* task output (sleep messages): stdout */
  corun_line_cb output_err; /* streamed stderr lines of exec tasks */
  corun_line_cb log;      /* debug lines and warnings: stderr */
  corun_line_cb finished; /* called once, with NULL, when every task ended */
  /*
   * Optional: a command's process group started (alive 1), or the run is
   * done with it (alive 0). An application can hand these to a process
   * that outlives it, to stop the commands should it die first.
   */
  void (*group)(int pgid, int alive, void *arg);
  void *arg;
};

/*
 * Open (or create) the journal at path for job: the tasks an earlier run
 * with the same job file and --var values ended ok are taken from it, and
 * every task that ends is appended. A journal of another job is refused
 * (CORUN_EUSAGE, err says why), and so is a journal another process holds
 * open for a run. Close it after the run is freed.
 */
enum corun_code corun_journal_open(struct corun_journal **out,
                                   const char *path,
                                   const struct corun_job *job,
                                   struct corun_error *err);
/* How many tasks the journal holds as ended ok. */
size_t corun_journal_resumable(const struct corun_journal *j);
/*
 * 0, or the errno of the first write to the journal that failed: the
 * journal then lacks the tasks that ended after it, and a rerun would do
 * them again.
 */
int corun_journal_error(const struct corun_journal *j);
void corun_journal_close(struct corun_journal *j);

/*
 * Prepare a run of job on loop. The job must outlive the run and is run at
 * most once. Nothing happens until corun_run_start().
 */
enum corun_code corun_run_new(struct corun_run **out, struct corun_job *job,
                              uv_loop_t *loop,
                              const struct corun_run_opts *opts,
                              struct corun_error *err);
/* Schedule the root tasks; the caller then runs the loop. */
void corun_run_start(struct corun_run *run);
/* Whether every task has ended. */
int corun_run_done(const struct corun_run *run);
/*
 * A signal arrived. The first cancels every task (shielded ones finish);
 * the next one stops everything at once, shielded tasks included.
 */
void corun_run_interrupt(struct corun_run *run, int signum);
/*
 * What the run still waits for after a first interrupt, for a line on a
 * terminal: "2 shielded tasks (a, b) and 1 command in its kill grace
 * (build, pid 123)". Appends nothing when it waits for none of those.
 */
void corun_run_waiting(const struct corun_run *run, struct corun_buf *out);
/* The whole-run --timeout expired: cancel everything, exit code 124. */
void corun_run_expire(struct corun_run *run);
/*
 * The loop ran dry with tasks unfinished (they wait on each other's limit
 * slots). Ends them all cancelled; the run then fails (exit code 1).
 */
void corun_run_stalled(struct corun_run *run);
/* The process exit code the contract asks for. Valid once done. */
int corun_run_exit_code(const struct corun_run *run);
/* Close the run's handles (spinning loop until they are closed) and free. */
void corun_run_free(struct corun_run *run);

/*
 * The one-line progress of a run for a terminal's status line: tasks done,
 * running, failed and waiting, time so far, and each running pipeline's
 * items, rate and ETA. At most width columns (0: no limit), no newline.
 */
void corun_run_progress(const struct corun_run *run, unsigned width,
                        struct corun_buf *out);

/* The task dump: tree, state, elapsed, what each task waits on. */
void corun_run_dump(const struct corun_run *run, struct corun_buf *out);

/* The JSON report of a finished run. */
void corun_report_json(const struct corun_run *run, struct corun_buf *out);
/*
 * The JUnit XML report of a finished run: one <testsuite> for the job, one
 * <testcase> per task in the JSON report's order.
 */
void corun_report_junit(const struct corun_run *run, struct corun_buf *out);
/*
 * Chrome Trace Event JSON of a finished run (Perfetto, chrome://tracing):
 * a complete event per task that ran, a lane per root subtree.
 */
void corun_report_trace(const struct corun_run *run, struct corun_buf *out);
/*
 * The human summary: a table (one row per task), a totals line, then the
 * root causes (the tasks that failed on their own, each with its whole
 * message); colour adds ANSI colours.
 */
void corun_report_text(const struct corun_run *run, int colour,
                       struct corun_buf *out);
/*
 * What -q prints: nothing when every task ended ok and the exit status is
 * 0; otherwise the rows of the tasks that did not end ok, the totals line
 * and the root causes.
 */
void corun_report_text_failures(const struct corun_run *run, int colour,
                                struct corun_buf *out);

/*
 * Write data to path atomically: a temporary file beside it, fsync, rename.
 * On failure nothing is left behind and an existing file is untouched. A
 * symbolic link is followed (the file it names is replaced, the link
 * stays); an existing target that is not a regular file (a FIFO, a device,
 * /dev/stdout) is written directly.
 */
enum corun_code corun_write_atomic(const char *path, const char *data,
                                   size_t len, struct corun_error *err);
/* How much of a report corun_report_write() holds before writing it. */
#define CORUN_REPORT_CHUNK (256 * 1024)
/* One of the report writers above. */
typedef void (*corun_report_fn)(const struct corun_run *run,
                                struct corun_buf *out);
/*
 * fn's report written to path as corun_write_atomic() does, but in pieces
 * as it is made: a report of a million tasks never sits whole in memory.
 */
enum corun_code corun_report_write(const char *path, corun_report_fn fn,
                                   const struct corun_run *run,
                                   struct corun_error *err);
/*
 * Check now that corun_write_atomic(path) could create its file, so a long
 * run does not end in "cannot write". Creates and removes a temporary file.
 */
enum corun_code corun_probe_writable(const char *path,
                                     struct corun_error *err);

/*
 * Parse a duration as the job file writes it ("250ms", "1.5s", "2m", "1h"
 * or plain seconds). Returns 0, or -1 with a static reason in *why.
 */
int corun_duration_parse(const char *s, double *out, const char **why);

/* The candidate nearest to word, if it looks like a typo of it, or NULL. */
const char *corun_suggest(const char *word, const char *const *cands,
                          size_t n);

/* Redact the job's secrets from s (appending to out). */
void corun_job_redact(const struct corun_job *job, const char *s,
                      struct corun_buf *out);

#endif
