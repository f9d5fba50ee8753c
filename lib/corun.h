/* SPDX-License-Identifier: MIT */
/*
 * corun: run a JSON job graph of async tasks on a libuv loop.
 *
 * The one public header of libcorun (pkg-config corun), and the only one
 * the command-line tool includes; it needs nothing but libuv's uv.h. A
 * program calls corun_global_init() first. A job is loaded and fully
 * validated (corun_job_load); a run then executes it on the caller's loop
 * (corun_run_new, corun_run_start, uv_run); reporters read the finished
 * run. The library never prints and never exits: text for people reaches
 * the caller through the callbacks in struct corun_run_opts or the buffers
 * it passes in.
 */
#ifndef CORUN_H
#define CORUN_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <uv.h>

/*
 * The version of this header, from CMake's project version (the build
 * writes them in: this file is configured into <build>/include/corun.h,
 * which is what compiles and what is installed). corun_version() is the
 * library's, which may be newer than the header a program was built with.
 */
/* clang-format off */
#define CORUN_VERSION_MAJOR @PROJECT_VERSION_MAJOR@
#define CORUN_VERSION_MINOR @PROJECT_VERSION_MINOR@
#define CORUN_VERSION_PATCH @PROJECT_VERSION_PATCH@
#define CORUN_VERSION_STRING "@PROJECT_VERSION@"
/* clang-format on */
/* (major << 16) | (minor << 8) | patch, for #if comparisons. */
#define CORUN_VERSION_HEX                                                      \
  ((CORUN_VERSION_MAJOR << 16) | (CORUN_VERSION_MINOR << 8) |                  \
   CORUN_VERSION_PATCH)

/* What the shared library exports; everything else in it is hidden. */
#if defined(__GNUC__)
#define CORUN_EXTERN __attribute__((visibility("default")))
#else
#define CORUN_EXTERN
#endif

/* The library's version as "MAJOR.MINOR.PATCH". */
CORUN_EXTERN const char *corun_version(void);
/* The same as CORUN_VERSION_HEX computes it. */
CORUN_EXTERN unsigned corun_version_hex(void);
/*
 * The version of the libcurl corun fetches with, loading it if it is not
 * yet; NULL when it cannot be loaded, with the reason in *why.
 */
CORUN_EXTERN const char *corun_libcurl_version(const char **why);

/* What a library call that can fail returns. */
enum corun_code {
  CORUN_OK,
  CORUN_ENOMEM, /* out of memory */
  CORUN_EIO,    /* input/output error */
  CORUN_EINVAL, /* invalid job file */
  CORUN_EUSAGE, /* invalid argument */
  CORUN_ELOOP   /* event loop error */
};

/* Why a call failed: the caller's, filled in on failure. */
struct corun_error {
  enum corun_code code;
  char msg[256];
};

/* Static text for a code; never NULL. */
CORUN_EXTERN const char *corun_strerror(enum corun_code code);

/*
 * Process-wide set-up, as curl_global_init: call corun_global_init() once
 * before the first corun_run_new(), and corun_global_cleanup() once at the
 * end, after every run is closed. Loading and checking jobs needs neither.
 * Returns CORUN_OK, or CORUN_ELOOP with err saying why.
 *
 * libcurl is not linked: it is loaded (dlopen) when the first job with a
 * fetch is loaded, and set up (curl_global_init, which starts its TLS
 * library) when the first run that fetches starts, so a program whose
 * jobs never fetch pays for neither. Where libcurl's set-up is not
 * thread-safe (before 7.84), start that first fetching run while the
 * program has no other threads. A job with a fetch fails to load, saying
 * why, on a machine where libcurl cannot be loaded.
 *
 * The library leaves signal dispositions to the application. SIGPIPE in
 * particular: a fetch that writes to a connection the server dropped, or
 * an exec whose command exits without reading all of its stdin, makes a
 * write raise SIGPIPE, which kills a process that keeps the default
 * action. An application that runs such jobs ignores SIGPIPE (or handles
 * it) before its first run, as the corun command does:
 *
 *   signal(SIGPIPE, SIG_IGN);
 *
 * Commands do not inherit that: libuv resets every signal in the child.
 */
CORUN_EXTERN enum corun_code corun_global_init(struct corun_error *err);
CORUN_EXTERN void corun_global_cleanup(void);

/*
 * A growable byte buffer for what the library writes (reports, messages),
 * NUL-terminated once anything was added. Start it with CORUN_BUF_INIT
 * and free it with corun_buf_free(). Running out of memory is sticky: oom
 * is then set and further appends do nothing, so check once at the end.
 */
struct corun_buf {
  char *p;
  size_t len;
  size_t cap;
  int oom;
  /*
   * Optional: when set, a full buffer is handed to sink and emptied
   * instead of grown, so output of any size streams through a fixed
   * buffer. sink returns 0 or an errno; the first error is kept in
   * sink_err and later output is dropped. Flush the rest with
   * corun_buf_flush().
   */
  int (*sink)(void *arg, const char *data, size_t n);
  void *sink_arg;
  int sink_err;
};

#define CORUN_BUF_INIT {NULL, 0, 0, 0, NULL, NULL, 0}

CORUN_EXTERN void corun_buf_add(struct corun_buf *b, const void *data,
                                size_t n);
CORUN_EXTERN void corun_buf_puts(struct corun_buf *b, const char *s);
CORUN_EXTERN void corun_buf_putc(struct corun_buf *b, char c);
CORUN_EXTERN void corun_buf_printf(struct corun_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
CORUN_EXTERN void corun_buf_vprintf(struct corun_buf *b, const char *fmt,
                                    va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Returns the string ("" when empty); valid until the next append. */
CORUN_EXTERN const char *corun_buf_str(const struct corun_buf *b);
/* Hands the string to the caller (malloc'd, may be NULL on oom). */
CORUN_EXTERN char *corun_buf_detach(struct corun_buf *b);
CORUN_EXTERN void corun_buf_reset(struct corun_buf *b);
/*
 * Start b (empty) as a stream: a buffer of size bytes, never grown, that
 * goes to sink(arg, ...) whenever it fills. Out of memory sets b->oom.
 */
CORUN_EXTERN void
corun_buf_stream(struct corun_buf *b, size_t size,
                 int (*sink)(void *arg, const char *data, size_t n), void *arg);
/* With a sink: hand it what the buffer holds. Returns sink_err. */
CORUN_EXTERN int corun_buf_flush(struct corun_buf *b);
CORUN_EXTERN void corun_buf_free(struct corun_buf *b);

struct corun_job;
struct corun_run;
struct corun_journal;

/* How a run ended, beyond what its tasks did. */
enum corun_run_end {
  CORUN_END_NORMAL,  /* every task ended on its own */
  CORUN_END_SIGINT,  /* corun_run_interrupt(SIGINT) came first */
  CORUN_END_SIGTERM, /* ... SIGTERM */
  CORUN_END_SIGHUP,  /* ... SIGHUP (handled as SIGTERM) */
  CORUN_END_TIMEOUT, /* corun_run_expire() */
  CORUN_END_STALLED  /* corun_run_stalled() */
};

/*
 * What a run came to (corun_run_outcome): how it ended and how its tasks
 * did. The library has no exit statuses; an application maps this to its
 * own (the corun command's table is in its man page).
 */
struct corun_outcome {
  int done; /* every task has ended */
  enum corun_run_end end;
  int roots_ok; /* every root task ended ok */
  /* The job's tasks by how they ended (pipeline items not counted). */
  size_t tasks, ok, failed, timeout, cancelled, skipped;
};

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
  /*
   * --shard K/N: load only part shard_index (1-based) of shard_total
   * disjoint parts of the job (shard_total 0: the whole job). Root tasks
   * joined by "after" stay together; the groups are dealt out by their
   * number of tasks, or, with shard_timings (the path of an earlier JSON
   * report), by the durations it records. A pipeline with "shard": true
   * is in every part, with items i % shard_total == shard_index - 1. The
   * same file, total and timings always give the same parts.
   */
  unsigned shard_index, shard_total;
  const char *shard_timings;
  /*
   * Non-zero: the application opens no journal for this job, so the
   * loader does not hash the whole file to name it (a pass over every
   * byte); corun_journal_open() then refuses the job.
   */
  int no_journal;
};

/*
 * The defaults (every field zero): start from this, then set what you
 * need, so a field added later keeps its default in your program.
 */
#define CORUN_LOAD_OPTS_INIT {.vars = NULL}

/*
 * Load and validate the job file at path ("-" reads stdin). On CORUN_EINVAL
 * every problem found is appended to diag as "FILE:LINE:COL: error: MSG"
 * lines and *out is NULL; on other errors err says why. The caller frees
 * the job with corun_job_free().
 */
CORUN_EXTERN enum corun_code corun_job_load(struct corun_job **out,
                                            const char *path,
                                            const struct corun_load_opts *opts,
                                            struct corun_buf *diag,
                                            struct corun_error *err);
/*
 * Same from memory. display names the input in messages, dir is where
 * relative paths resolve. text need not be NUL-terminated and is not kept.
 */
CORUN_EXTERN enum corun_code
corun_job_load_text(struct corun_job **out, const char *text, size_t len,
                    const char *display, const char *dir,
                    const struct corun_load_opts *opts, struct corun_buf *diag,
                    struct corun_error *err);
CORUN_EXTERN void corun_job_free(struct corun_job *job);

/* The task tree as --check prints it, one task per line. */
CORUN_EXTERN void corun_job_describe(const struct corun_job *job,
                                     struct corun_buf *out);
/*
 * As corun_job_describe(), each task followed by its own fields as they
 * would run, secrets as "***" (--dry-run). Reads nothing but the first
 * lines of a pipeline's "lines" file, and never standard input.
 */
CORUN_EXTERN void corun_job_dry_run(const struct corun_job *job,
                                    struct corun_buf *out);
/* The task tree and "after" edges as a Graphviz digraph (corun graph). */
CORUN_EXTERN void corun_job_graph(const struct corun_job *job,
                                  struct corun_buf *out);
CORUN_EXTERN size_t corun_job_task_count(const struct corun_job *job);
/*
 * Whether running job may start processes (a command, or a pipeline stage
 * whose task is one): what needs a guard against the program's own death,
 * such as the corun command's watchdog.
 */
CORUN_EXTERN int corun_job_spawns(const struct corun_job *job);
/* The job's "name" (the file's name without ".json" when it has none). */
CORUN_EXTERN const char *corun_job_name(const struct corun_job *job);

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
   * Nor will any other reader of fetch timings (the HTML report, a trace,
   * a journal): a fetch then does not ask libcurl for them, five calls a
   * request, and its result has none ("timings": null, if written after
   * all). A pipeline's items, which are their stage's results, keep them.
   */
  int skip_timings;
  /*
   * A trace will be written: kinds keep what only the trace shows (a
   * pipeline samples its queue lengths every 10 ms).
   */
  int trace;
  /* --journal: take what earlier runs finished, record what this one does. */
  struct corun_journal *journal;
  corun_line_cb output;     /* task output (sleep messages): stdout */
  corun_line_cb output_err; /* streamed stderr lines of exec tasks */
  corun_line_cb log;        /* debug lines and warnings: stderr */
  corun_line_cb finished;   /* called once, with NULL, when every task ended */
  /*
   * Optional: a command's process group started (alive 1), or the run is
   * done with it (alive 0). An application can hand these to a process
   * that outlives it, to stop the commands should it die first.
   */
  void (*group)(int pgid, int alive, void *arg);
  void *arg;
};

/* The defaults (every field zero), as CORUN_LOAD_OPTS_INIT. */
#define CORUN_RUN_OPTS_INIT {.debug = 0}

/*
 * Open (or create) the journal at path for job: the tasks an earlier run
 * with the same job file and --var values ended ok are taken from it, and
 * every task that ends is appended. A journal of another job is refused
 * (CORUN_EUSAGE, err says why), and so is a journal another process holds
 * open for a run. Close it after the run is closed.
 */
CORUN_EXTERN enum corun_code corun_journal_open(struct corun_journal **out,
                                                const char *path,
                                                const struct corun_job *job,
                                                struct corun_error *err);
/*
 * What corun_journal_open() would say of path for job, found by reading
 * only (for --check): CORUN_OK when it is this job's journal or not there
 * yet, else the error open would give. Creates, locks and writes nothing.
 */
CORUN_EXTERN enum corun_code corun_journal_check(const char *path,
                                                 const struct corun_job *job,
                                                 struct corun_error *err);
/* How many tasks the journal holds as ended ok. */
CORUN_EXTERN size_t corun_journal_resumable(const struct corun_journal *j);
/*
 * 0, or the errno of the first write to the journal that failed: the
 * journal then lacks the tasks that ended after it, and a rerun would do
 * them again.
 */
CORUN_EXTERN int corun_journal_error(const struct corun_journal *j);
CORUN_EXTERN void corun_journal_close(struct corun_journal *j);

/*
 * Prepare a run of job on loop. The job must outlive the run and is run at
 * most once. Nothing happens until corun_run_start().
 */
CORUN_EXTERN enum corun_code
corun_run_new(struct corun_run **out, struct corun_job *job, uv_loop_t *loop,
              const struct corun_run_opts *opts, struct corun_error *err);
/* Schedule the root tasks; the caller then runs the loop. */
CORUN_EXTERN void corun_run_start(struct corun_run *run);
/* Whether every task has ended. */
CORUN_EXTERN int corun_run_done(const struct corun_run *run);
/*
 * A signal arrived. The first cancels every task (shielded ones finish,
 * cleanups, "run_if": "all_done", still run); the next one, or the first
 * after corun_run_expire(), stops everything at once, those included.
 */
CORUN_EXTERN void corun_run_interrupt(struct corun_run *run, int signum);
/*
 * What the run still waits for after a first interrupt, for a line on a
 * terminal: "2 shielded tasks (a, b), 1 cleanup (rm) and 1 command in
 * its kill grace (build, pid 123)". Appends nothing when it waits for
 * none of those.
 */
CORUN_EXTERN void corun_run_waiting(const struct corun_run *run,
                                    struct corun_buf *out);
/*
 * The whole-run --timeout expired: cancel everything (CORUN_END_TIMEOUT)
 * but cleanups ("run_if": "all_done"), unless a signal came first.
 */
CORUN_EXTERN void corun_run_expire(struct corun_run *run);
/*
 * The loop ran dry with tasks unfinished (they wait on each other's limit
 * slots). Ends them all cancelled at once (CORUN_END_STALLED).
 */
CORUN_EXTERN void corun_run_stalled(struct corun_run *run);
/* What the run came to so far; final once corun_run_done(). */
CORUN_EXTERN void corun_run_outcome(const struct corun_run *run,
                                    struct corun_outcome *out);
/*
 * The exit status the application will end with, for the reports that
 * record one (the JSON report's "exit_code", the trace's, the summary's
 * "(exit N)"). Until it is set they record none (null).
 */
CORUN_EXTERN void corun_run_set_exit_code(struct corun_run *run, int code);

typedef void (*corun_close_cb)(struct corun_run *run, void *arg);
/*
 * Release the run, as uv_close() does a handle: cb(run, opts.arg) is
 * called from the loop once everything the run holds is released (its
 * handles closed, libcurl's connections too), and the run is freed when
 * cb returns; the caller keeps running its loop until then (uv_run
 * returns once nothing else is active). A run that has not finished is
 * stopped first (every task cancelled at once, shielded ones too), and cb
 * waits for its commands to exit. Call it once; it may be called from
 * any of the run's callbacks. The run's outcome and reports can still be
 * read in cb. cb may be NULL.
 */
CORUN_EXTERN void corun_run_close(struct corun_run *run, corun_close_cb cb);

/*
 * The one-line progress of a run for a terminal's status line: tasks done,
 * running, failed and waiting, time so far, and each running pipeline's
 * items, rate and ETA. At most width columns (0: no limit), no newline.
 */
CORUN_EXTERN void corun_run_progress(const struct corun_run *run,
                                     unsigned width, struct corun_buf *out);

/* The task dump: tree, state, elapsed, what each task waits on. */
CORUN_EXTERN void corun_run_dump(const struct corun_run *run,
                                 struct corun_buf *out);
/*
 * The same as one JSON object: {"elapsed", "counts": {state: n}, "tasks":
 * [{"id", "kind", "parent", "state", "status", "elapsed", "shielded",
 * "detached", "waiting"}]}, secrets redacted. "status" is null until the
 * task is done, "parent" null for a root task, "elapsed" null before it
 * started or was ready.
 */
CORUN_EXTERN void corun_run_dump_json(const struct corun_run *run,
                                      struct corun_buf *out);

/* The JSON report of a finished run. */
CORUN_EXTERN void corun_report_json(const struct corun_run *run,
                                    struct corun_buf *out);
/*
 * The JUnit XML report of a finished run: one <testsuite> for the job, one
 * <testcase> per task in the JSON report's order.
 */
CORUN_EXTERN void corun_report_junit(const struct corun_run *run,
                                     struct corun_buf *out);
/*
 * Chrome Trace Event JSON of a finished run (Perfetto, chrome://tracing):
 * a complete event per task that ran, a lane per root subtree.
 */
CORUN_EXTERN void corun_report_trace(const struct corun_run *run,
                                     struct corun_buf *out);
/*
 * A self-contained HTML report of a finished run (nothing loaded from the
 * network): the summary, the root causes, the tasks not ok, the critical
 * path and pipelines' stages as static HTML; a timeline of every task
 * (queued and running time, fetch phases) filtered by status and text
 * through an inline script.
 */
CORUN_EXTERN void corun_report_html(const struct corun_run *run,
                                    struct corun_buf *out);
/*
 * The human summary: a table (one row per task), a totals line, then the
 * root causes (the tasks that failed on their own, each with its whole
 * message); colour adds ANSI colours.
 */
CORUN_EXTERN void corun_report_text(const struct corun_run *run, int colour,
                                    struct corun_buf *out);
/*
 * What -q prints: nothing when every task ended ok and the exit status is
 * 0; otherwise the rows of the tasks that did not end ok, the totals line
 * and the root causes.
 */
CORUN_EXTERN void corun_report_text_failures(const struct corun_run *run,
                                             int colour, struct corun_buf *out);
/*
 * The root causes as GitHub Actions workflow commands, one
 * "::error title=...::message" line each (the message whole, its line
 * breaks escaped as GitHub reads them), which the run's page shows as
 * annotations. Nothing when there is none.
 */
CORUN_EXTERN void corun_report_github(const struct corun_run *run,
                                      struct corun_buf *out);

/*
 * Write data to path atomically: a temporary file beside it, fsync, rename.
 * On failure nothing is left behind and an existing file is untouched. A
 * symbolic link is followed (the file it names is replaced, the link
 * stays); an existing target that is not a regular file (a FIFO, a device,
 * /dev/stdout) is written directly.
 */
CORUN_EXTERN enum corun_code corun_write_atomic(const char *path,
                                                const char *data, size_t len,
                                                struct corun_error *err);
/* How much of a report corun_report_write() holds before writing it. */
#define CORUN_REPORT_CHUNK (256 * 1024)
/* One of the report writers above. */
typedef void (*corun_report_fn)(const struct corun_run *run,
                                struct corun_buf *out);
/*
 * fn's report written to path as corun_write_atomic() does, but in pieces
 * as it is made: a report of a million tasks never sits whole in memory.
 */
CORUN_EXTERN enum corun_code corun_report_write(const char *path,
                                                corun_report_fn fn,
                                                const struct corun_run *run,
                                                struct corun_error *err);
/*
 * Check now that corun_write_atomic(path) could create its file, so a long
 * run does not end in "cannot write". Creates and removes a temporary file.
 */
CORUN_EXTERN enum corun_code corun_probe_writable(const char *path,
                                                  struct corun_error *err);
/*
 * path as one canonical absolute name: relative to the current directory
 * if it is relative, "." and ".." folded, and the longest part that exists
 * resolved through its symbolic links, so two spellings of one file match
 * even before the file exists. malloc'd; NULL when out of memory or the
 * current directory cannot be named.
 */
CORUN_EXTERN char *corun_path_canonical(const char *path);

/*
 * corun merge: the reports of the N shards of one job (runs with --shard
 * K/N, in any order) joined into what one run of the whole job would have
 * written. A path of "-" is standard output; NULL writes nothing.
 */
struct corun_merge_opts {
  const char *const *reports; /* the shards' JSON reports */
  size_t nreports;
  const char *report; /* the merged JSON report */
  const char *junit;
  const char *html;
  const char *trace;
  /*
   * Results files of pipelines split by item, each as the job file names
   * it (relative): found beside each shard's report, joined in item order
   * into that path from the current directory.
   */
  const char *const *results;
  size_t nresults;
};

#define CORUN_MERGE_OPTS_INIT {.reports = NULL}

/*
 * Merge as opts says. CORUN_OK: every output is written and *exit_code is
 * what the merged report records (0, 1, or the status of a shard that was
 * interrupted or timed out). CORUN_EINVAL: the reports are not the shards
 * of one job, or one is no report; diag holds a line for each problem
 * ("FILE:LINE:COL: error: ..." where a file breaks) and nothing is
 * written. Other codes: err says why; nothing is left half written.
 */
CORUN_EXTERN enum corun_code corun_merge(const struct corun_merge_opts *opts,
                                         int *exit_code, struct corun_buf *diag,
                                         struct corun_error *err);

/*
 * Parse a duration as the job file writes it ("250ms", "1.5s", "2m", "1h"
 * or plain seconds). Returns 0, or -1 with a static reason in *why.
 */
CORUN_EXTERN int corun_duration_parse(const char *s, double *out,
                                      const char **why);

/* The candidate nearest to word, if it looks like a typo of it, or NULL. */
CORUN_EXTERN const char *corun_suggest(const char *word,
                                       const char *const *cands, size_t n);

/* Redact the job's secrets from s (appending to out). */
CORUN_EXTERN void corun_job_redact(const struct corun_job *job, const char *s,
                                   struct corun_buf *out);

#endif
