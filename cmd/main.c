/* SPDX-License-Identifier: MIT */
/*
 * corun's command line: parse options, load the job, run it on the default
 * libuv loop with signal handling, write the reports and map the outcome to
 * the exit status. No task logic lives here.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corun.h"
#include "exit.h"
#include "lines.h"
#include "options.h"
#include "merge.h"
#include "ps.h"
#include "usage.h"
#include "watchdog.h"

/* The status line is redrawn at most this often. */
#define PROGRESS_MS 100

struct cli {
  struct options opt;
  /* What main() made, released in one place (release()) on every path. */
  struct corun_job *job;
  struct corun_journal *journal;
  uv_loop_t loop;
  int have_loop;
  int have_global; /* corun_global_init() succeeded */
  struct corun_run *run;
  uv_signal_t sigint, sigterm, sighup, sigusr1;
  int nsignals; /* of those, how many are initialised */
  int sigints;  /* SIGINTs the run has had, the one before it started too */
  int expired;  /* --timeout has stopped the run: a signal now stops at once */
  uv_timer_t deadline;
  int have_deadline;
  uv_timer_t progress;
  int have_progress;
  int drawn; /* the status line is on the screen */
  int watchdog; /* pipe to the watchdog (watchdog.c), or -1 */
  struct ps_server ps; /* answers corun ps (ps.c) */
  char *ps_name;       /* the job's name for it, secrets redacted */
  char *ps_file;       /* the job file's absolute path for it, or NULL */
  /*
   * While the loop runs: task output to stdout, task output to stderr
   * (the real one under -qq), and corun's own lines (--debug, dumps).
   */
  struct lines out, err, log;
  int have_lines;
};

static struct cli *the_cli; /* for the line callbacks' erasing */

/* The first SIGINT, SIGTERM or SIGHUP that came before the loop took it. */
static volatile sig_atomic_t early_signal;
/* Which of 0, 1 and 2 were closed when corun started (now /dev/null). */
static int std_closed[3];
static volatile sig_atomic_t early_count; /* how many, up to 2 */

/* Descriptors the loop and its signal pipes need before any task runs. */
#define LOOP_FDS 8

/*
 * The status line's text to standard error: through the lines' queue when
 * that is a pipe the run writes without blocking, else through stdio.
 */
static void status_text(struct cli *c, const char *s)
{
  if (c->have_lines && lines_queued(&c->log)) {
    lines_put_text(&c->log, s, strlen(s));
    return;
  }
  fputs(s, stderr);
  fflush(stderr);
}

/* Take the status line off the screen before anything else is printed. */
static void erase_progress(struct cli *c)
{
  if (c && c->drawn) {
    status_text(c, "\r\033[K");
    c->drawn = 0;
  }
}

static void print_line(const char *line, void *arg)
{
  (void)arg;
  erase_progress(the_cli);
  lines_put(&the_cli->out, line);
}

static void on_group(int pgid, int alive, void *arg)
{
  (void)arg;
  if (the_cli)
    watchdog_group(the_cli->watchdog, pgid, alive);
}

static void log_line(const char *line, void *arg)
{
  (void)arg;
  erase_progress(the_cli);
  lines_put(&the_cli->log, line);
}

/*
 * Under -qq corun's own standard error goes to /dev/null; what tasks
 * write for standard error (streamed command output, and messages while
 * a report has standard output) still reaches the real one, kept here.
 */
static FILE *task_err;

static void task_err_line(const char *line, void *arg)
{
  (void)arg;
  erase_progress(the_cli);
  lines_put(&the_cli->err, line);
}

/*
 * -qq: nothing at all from corun itself on standard error (no summary, no
 * warnings, no diagnostics: the exit status says how it went), as curl -s
 * without -S. --debug, asked for explicitly, wins.
 */
static void silence_stderr(void)
{
  int keep = dup(STDERR_FILENO);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

  if (keep < 0 || null < 0) {
    if (keep >= 0)
      close(keep);
    if (null >= 0)
      close(null);
    return;
  }
  fcntl(keep, F_SETFD, FD_CLOEXEC);
  task_err = fdopen(keep, "w");
  if (task_err == NULL) {
    close(keep);
    close(null);
    return;
  }
  fflush(stderr);
  dup2(null, STDERR_FILENO);
  close(null);
}

static int report_on_stdout(const struct options *o)
{
  return (o->report && strcmp(o->report, "-") == 0) ||
         (o->junit && strcmp(o->junit, "-") == 0) ||
         (o->trace && strcmp(o->trace, "-") == 0) ||
         (o->html && strcmp(o->html, "-") == 0);
}

static unsigned term_width(void)
{
  struct winsize ws;

  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
    return ws.ws_col;
  return 80;
}

static void draw_progress(uv_timer_t *h)
{
  struct cli *c = h->data;
  struct corun_buf b = CORUN_BUF_INIT;

  /*
   * On a pipe (--progress always) a status line drawn while lines wait for
   * a slow reader would cut into them: it is left out until they are taken.
   */
  if (c->have_lines && lines_waiting(&c->log))
    return;
  /* One column short: a full row would wrap on some terminals. */
  corun_run_progress(c->run, term_width() - 1, &b);
  corun_buf_puts(&b, "\033[K");
  if (!b.oom) {
    status_text(c, "\r");
    status_text(c, corun_buf_str(&b));
    c->drawn = 1;
  }
  corun_buf_free(&b);
}

static int wants_progress(const struct cli *c)
{
  const char *term = getenv("TERM");

  if (c->opt.progress == PROGRESS_ALWAYS)
    return 1;
  if (c->opt.progress == PROGRESS_NEVER)
    return 0;
  /* -q is quiet while all goes well, as curl -s hides its meter. */
  if (c->opt.quiet)
    return 0;
  return isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
}

/*
 * corun graph's, --check's or --dry-run's listing of the job, printed only
 * whole: one cut short by memory could pass for the job. A listing that
 * cannot be written is an error too.
 */
static int print_listing(struct corun_buf *b)
{
  int rc = CORUN_EXIT_OK;

  if (b->oom) {
    fputs("corun: out of memory listing the job\n", stderr);
    rc = CORUN_EXIT_USAGE;
  } else if (fputs(corun_buf_str(b), stdout) < 0 || fflush(stdout) != 0) {
    fprintf(stderr, "corun: cannot write the listing: %s\n", strerror(errno));
    rc = CORUN_EXIT_USAGE;
  }
  corun_buf_free(b);
  return rc;
}

/* --version: a libcurl that cannot load is said, not a crash. */
static void print_version(void)
{
  const char *why = NULL, *curl = corun_libcurl_version(&why);

  printf("corun %s (libuv %s, libcurl %s, cJSON %s)\n", corun_version(),
         uv_version_string(), curl ? curl : "not loadable", cJSON_Version());
  if (curl == NULL)
    fprintf(stderr, "corun: %s\n", why ? why : "cannot load libcurl");
}

static void dump(struct cli *c)
{
  struct corun_buf b = CORUN_BUF_INIT;

  erase_progress(c);
  corun_run_dump(c->run, &b);
  lines_put_text(&c->log, corun_buf_str(&b), b.len);
  if (b.oom)
    lines_put(&c->log, "corun: the task dump is incomplete: out of memory");
  corun_buf_free(&b);
}

/*
 * After the first Ctrl-C, a person at a terminal sees nothing happen
 * while shielded tasks finish and commands use their kill grace: say what
 * corun waits for and how to stop it now. Not for a file or a pipe, whose
 * reader is a program.
 */
static void say_interrupted(struct cli *c)
{
  struct corun_buf b = CORUN_BUF_INIT;

  if (!isatty(STDERR_FILENO) || corun_run_done(c->run))
    return;
  corun_run_waiting(c->run, &b);
  if (b.len) {
    erase_progress(c);
    fprintf(stderr,
            "corun: interrupted; waiting for %s; press Ctrl-C again to "
            "stop at once\n",
            corun_buf_str(&b));
  }
  corun_buf_free(&b);
}

static void on_signal(uv_signal_t *h, int signum)
{
  struct cli *c = h->data;

  if (signum == SIGUSR1) {
    dump(c);
    return;
  }
  corun_run_interrupt(c->run, signum);
  /* After --timeout this signal is already the stop at once. */
  if (signum == SIGINT && ++c->sigints == 1 && !c->expired)
    say_interrupted(c);
  if (c->opt.debug && !corun_run_done(c->run))
    dump(c);
}

static void on_deadline(uv_timer_t *h)
{
  struct cli *c = h->data;

  c->expired = 1;
  corun_run_expire(c->run);
}

static int wants_colour(void)
{
  const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

  if (nc && *nc)
    return 0;
  if (term && strcmp(term, "dumb") == 0)
    return 0;
  return isatty(STDERR_FILENO);
}

static int env_debug(void)
{
  const char *d = getenv("CORUN_DEBUG");

  return d && *d && strcmp(d, "0") != 0;
}

static int to_stdout(void *arg, const char *data, size_t n)
{
  (void)arg;
  errno = 0;
  if (fwrite(data, 1, n, stdout) == n)
    return 0;
  return errno ? errno : EIO;
}

/*
 * Write a report made by fn to path, atomically, or to stdout for "-";
 * streamed as it is made, so a large report never sits whole in memory.
 */
static int write_report(struct cli *c, const char *path, corun_report_fn fn)
{
  struct corun_error err = {0};
  struct corun_buf b = CORUN_BUF_INIT;
  int e;

  if (strcmp(path, "-") != 0) {
    struct corun_buf m = CORUN_BUF_INIT;

    if (corun_report_write(path, fn, c->run, &err) == CORUN_OK)
      return 0;
    /* After the run's own lines, which may still wait for their reader. */
    corun_buf_printf(&m, "corun: %s", err.msg);
    lines_put(&c->log, corun_buf_str(&m));
    corun_buf_free(&m);
    return -1;
  }
  corun_buf_stream(&b, CORUN_REPORT_CHUNK, to_stdout, NULL);
  fn(c->run, &b);
  e = corun_buf_flush(&b);
  if (fflush(stdout) != 0 && e == 0)
    e = errno;
  if (b.oom)
    e = ENOMEM;
  corun_buf_free(&b);
  if (e)
    fprintf(stderr, "corun: cannot write the report to stdout: %s\n",
            strerror(e));
  return e ? -1 : 0;
}

/* The reports a run writes, as the options ask for them. */
#define NREPORTS 4
struct report_out {
  const char *path; /* NULL: not asked for */
  const char *flag, *what;
  corun_report_fn fn;
};

static void report_outs(const struct options *o, struct report_out r[])
{
  r[0] = (struct report_out){o->report, "--report", "report",
                             corun_report_json};
  r[1] = (struct report_out){o->junit, "--junit", "JUnit report",
                             corun_report_junit};
  r[2] = (struct report_out){o->trace, "--trace", "trace",
                             corun_report_trace};
  r[3] = (struct report_out){o->html, "--html", "HTML report",
                             corun_report_html};
}

/*
 * Whether path reaches, through a symbolic link (/dev/stdout, /dev/fd/1
 * and their other spellings), the /dev/null that holds descriptor fd's
 * place. /dev/null named as itself is a choice, and is written.
 */
static int placeholder(const char *path, int fd)
{
  struct stat a, b, l;

  return stat(path, &a) == 0 && fstat(fd, &b) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
         lstat(path, &l) == 0 && S_ISLNK(l.st_mode);
}

/*
 * Find out before running whether the report can be written where asked:
 * an hour-long run should not end in "cannot write". The probe is the same
 * temporary file beside the target that the atomic write will use.
 */
static int probe_report(const char *path, const char *what)
{
  struct corun_error err = {0};
  const char *lost = NULL;

  /* /dev/null holds the place: a report sent there would be lost. */
  if (std_closed[1] && (strcmp(path, "-") == 0 || placeholder(path, 1)))
    lost = "standard output: it was closed when corun started";
  else if (std_closed[2] && placeholder(path, 2))
    lost = "standard error: it was closed when corun started";
  else if (task_err && placeholder(path, 2))
    lost = "standard error: -qq silences it";
  if (lost) {
    fprintf(stderr, "corun: cannot write the %s to %s\n", what, lost);
    return -1;
  }
  if (strcmp(path, "-") == 0)
    return 0;
  if (corun_probe_writable(path, &err) != CORUN_OK) {
    fprintf(stderr, "corun: cannot write the %s: %s\n", what, err.msg);
    return -1;
  }
  return 0;
}

/*
 * Two writers of one file lose data: the reports, the journal and the job
 * file itself must be distinct files, by whatever names they are given
 * (options.c already refused the same name twice).
 */
static int outputs_apart(const struct options *o)
{
  struct report_out r[NREPORTS];
  const char *paths[NREPORTS + 2], *names[NREPORTS + 2];
  int a, b;

  report_outs(o, r);
  for (a = 0; a < NREPORTS; a++) {
    paths[a] = r[a].path;
    names[a] = r[a].flag;
  }
  paths[NREPORTS] = o->journal;
  names[NREPORTS] = "--journal";
  paths[NREPORTS + 1] = o->file && strcmp(o->file, "-") != 0 ? o->file : NULL;
  names[NREPORTS + 1] = "the job file";
  for (a = 0; a < NREPORTS + 2; a++)
    for (b = a + 1; b < NREPORTS + 2; b++) {
      if (paths[a] == NULL || paths[b] == NULL ||
          !options_one_file(paths[a], paths[b]))
        continue;
      if (b == NREPORTS + 1)
        fprintf(stderr, "corun: %s '%s' is the job file itself: the run "
                        "would write over it\n",
                names[a], paths[a]);
      else
        fprintf(stderr, "corun: %s '%s' and %s '%s' are one file: one "
                        "would write over the other\n",
                names[a], paths[a], names[b], paths[b]);
      return -1;
    }
  return 0;
}

/* Every report checked before the run: apart, and writable where asked. */
static int probe_reports(const struct options *o)
{
  struct report_out r[NREPORTS];
  int i;

  if (outputs_apart(o) < 0)
    return -1;
  report_outs(o, r);
  for (i = 0; i < NREPORTS; i++)
    if (r[i].path && probe_report(r[i].path, r[i].what) < 0)
      return -1;
  return 0;
}

/*
 * --check and --dry-run give the verdicts a run would give before it
 * starts, on the outputs too, but only by looking: no probe file, no
 * journal made. A report's directory must let corun make a file in it.
 */
static int look_at_outputs(const struct options *o, const struct corun_job *job)
{
  struct report_out r[NREPORTS];
  struct corun_error err = {0};
  int i;

  if (outputs_apart(o) < 0)
    return -1;
  report_outs(o, r);
  for (i = 0; i < NREPORTS; i++) {
    const char *path = r[i].path, *slash;
    struct stat st;
    char *dir;
    int e = 0;

    if (path == NULL || strcmp(path, "-") == 0)
      continue;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
      e = EISDIR;
    } else if (stat(path, &st) < 0 || S_ISREG(st.st_mode)) {
      slash = strrchr(path, '/');
      dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                  : strdup(".");
      if (dir == NULL || access(dir, W_OK | X_OK) != 0)
        e = dir ? errno : ENOMEM;
      free(dir);
    }
    if (e) {
      fprintf(stderr, "corun: cannot write the %s: %s: %s\n", r[i].what,
              path, strerror(e));
      return -1;
    }
  }
  if (o->journal &&
      corun_journal_check(o->journal, job, &err) != CORUN_OK) {
    fprintf(stderr, "corun: %s\n", err.msg);
    return -1;
  }
  return 0;
}

/*
 * While the job loads, a SIGINT or SIGTERM is noted, and the run then
 * starts already interrupted (once or twice, as they came): its tasks end
 * cancelled, the reports are written and the exit is 130 or 143, as for a
 * signal a moment later. Not restarting system calls lets the signal end
 * a load that waits for input from a pipe: nothing has run then.
 */
static void on_early_signal(int signum)
{
  if (early_signal == 0)
    early_signal = signum;
  if (early_count < 2)
    early_count++;
}

/*
 * While loading, signals are noted and interrupt a read that waits for
 * input; after it, with restart, so no write of --check output (or
 * anything else) fails half way for them.
 */
static void catch_early_signals(int restart)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_early_signal;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGHUP);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

/*
 * Raise the soft limit on open files towards the hard one: a job of many
 * fetches needs a socket each, and the soft limit (often 1024) is a
 * default, not a choice. Not past FILE_LIMIT, though: commands inherit it,
 * and some close every descriptor up to it before they start. A plain
 * "ulimit -n" sets the hard limit too, and so is kept.
 */
#define FILE_LIMIT 65536

static void raise_file_limit(void)
{
  struct rlimit rl;
  rlim_t want;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  want = rl.rlim_max < FILE_LIMIT ? rl.rlim_max : FILE_LIMIT;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/*
 * libuv aborts if it cannot make its signal pipes, so make sure a few
 * descriptors are free before it starts. Returns 0 or an errno.
 */
static int spare_fds(void)
{
  int fds[LOOP_FDS], n, e = 0;

  for (n = 0; n < LOOP_FDS; n++) {
    fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fds[n] < 0) {
      e = errno;
      break;
    }
  }
  while (n-- > 0)
    close(fds[n]);
  return e;
}

static int start_signals(struct cli *c, uv_loop_t *loop)
{
  /* SIGHUP (a closed terminal, a CI runner going away) is a SIGTERM. */
  uv_signal_t *hs[] = {&c->sigint, &c->sigterm, &c->sighup, &c->sigusr1};
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
  size_t i;
  int e;

  for (i = 0; i < 4; i++) {
    e = uv_signal_init(loop, hs[i]);
    if (e == 0) {
      c->nsignals++;
      e = uv_signal_start(hs[i], on_signal, sigs[i]);
    }
    if (e) {
      fprintf(stderr, "corun: cannot watch for signals: %s\n",
              uv_strerror(e));
      return -1;
    }
    hs[i]->data = c;
    /* Signals alone must not keep the loop running once tasks are done. */
    uv_unref((uv_handle_t *)hs[i]);
  }
  return 0;
}

static void close_handles(struct cli *c, uv_loop_t *loop)
{
  uv_signal_t *hs[] = {&c->sigint, &c->sigterm, &c->sighup, &c->sigusr1};
  int i;

  for (i = 0; i < c->nsignals; i++)
    uv_close((uv_handle_t *)hs[i], NULL);
  if (c->have_deadline)
    uv_close((uv_handle_t *)&c->deadline, NULL);
  if (c->have_progress)
    uv_close((uv_handle_t *)&c->progress, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
}

static int load(struct cli *c, struct corun_job **job)
{
  struct corun_load_opts lo = CORUN_LOAD_OPTS_INIT;
  /* What corun writes itself: no task may write over it. */
  struct corun_output_path outs[] = {{"--report", c->opt.report},
                                     {"--junit", c->opt.junit},
                                     {"--trace", c->opt.trace},
                                     {"--html", c->opt.html},
                                     {"--journal", c->opt.journal}};
  struct corun_buf diag = CORUN_BUF_INIT;
  struct corun_error err = {0};
  enum corun_code code;

  lo.vars = c->opt.vars;
  lo.nvars = c->opt.nvars;
  lo.jobs = c->opt.jobs;
  lo.root = c->opt.root;
  lo.stop = &early_signal;
  lo.outputs = outs;
  lo.noutputs = sizeof(outs) / sizeof(outs[0]);
  /* --shard: the loader keeps this part of the job only. */
  lo.shard_index = c->opt.shard_index;
  lo.shard_total = c->opt.shard_total;
  lo.shard_timings = c->opt.shard_timings;
  /* Hashing the file names it for a journal: a pass over every byte. */
  lo.no_journal = c->opt.journal == NULL;
  code = corun_job_load(job, c->opt.file, &lo, &diag, &err);
  if (code == CORUN_EIO && early_signal) {
    /* Not the file's fault: it was still coming when the signal came. */
    fprintf(stderr, "corun: %s while reading %s: nothing ran\n",
            early_signal == SIGTERM  ? "SIGTERM"
            : early_signal == SIGHUP ? "SIGHUP"
                                     : "SIGINT",
            strcmp(c->opt.file, "-") == 0 ? "the job from stdin"
                                          : c->opt.file);
  } else if (code == CORUN_EINVAL && diag.len) {
    fputs(corun_buf_str(&diag), stderr);
  } else if (code != CORUN_OK) {
    if (code == CORUN_EUSAGE)
      (void)usage_error("%s", err.msg);
    else
      fprintf(stderr, "%s%s\n", strstr(err.msg, "error:") ? "" : "corun: ",
              err.msg);
  }
  corun_buf_free(&diag);
  return code == CORUN_OK ? 0 : -1;
}

/*
 * cron, daemons and some CI runners start corun with stdin, stdout or
 * stderr closed. The first descriptors that libuv or a report then opens
 * would take those numbers, and a later write "to stderr" would land in
 * the loop's own pipe or a report file. /dev/null holds each closed one.
 */
static void hold_standard_descriptors(void)
{
  int fd;

  for (fd = 0; fd <= 2; fd++) {
    int got;

    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
      continue;
    std_closed[fd] = 1;
    got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    /* open() returns the lowest free number, which is fd itself. */
    if (got >= 0 && got != fd) {
      dup2(got, fd);
      close(got);
    }
  }
}

/* The run is released (corun_run_close): nothing of it is left. */
static void run_closed(struct corun_run *run, void *arg)
{
  struct cli *c = arg;

  (void)run;
  c->run = NULL;
}

/* The one way out: whatever main() got as far as making is undone. */
static void end_lines(struct cli *c);

static void release(struct cli *c)
{
  /* First: a ps that asks from now on finds no socket, not a dying run. */
  ps_close(&c->ps);
  if (c->run)
    corun_run_close(c->run, run_closed);
  if (c->have_loop) {
    end_lines(c);
    /* Runs the loop until the run and our own handles are closed. */
    close_handles(c, &c->loop);
    /* Every handle must be closed by now; if not, it is our bug: say so. */
    if (c->run || uv_loop_close(&c->loop) != 0)
      fprintf(stderr, "corun: internal error: libuv handles left open at "
                      "exit\n");
  }
  if (c->have_global)
    corun_global_cleanup();
  corun_journal_close(c->journal);
  corun_job_free(c->job);
  options_free(&c->opt);
  free(c->ps_name);
  free(c->ps_file);
}

/*
 * Let "corun ps" ask this run for its task dump. Without a safe place
 * for the socket the run goes on all the same; --debug says why.
 */
static void serve_ps(struct cli *c, uv_loop_t *loop)
{
  struct corun_buf name = CORUN_BUF_INIT;
  const char *why = "out of memory";
  const char *file = "(standard input)";

  corun_job_redact(c->job, corun_job_name(c->job), &name);
  c->ps_name = corun_buf_detach(&name);
  if (strcmp(c->opt.file, "-") != 0) {
    c->ps_file = realpath(c->opt.file, NULL);
    file = c->ps_file ? c->ps_file : c->opt.file;
  }
  if (c->ps_name == NULL ||
      ps_serve(&c->ps, loop, &c->run, c->ps_name, file, &why) < 0) {
    if (c->opt.debug)
      fprintf(stderr, "corun: corun ps cannot reach this run: %s\n", why);
  }
}

/*
 * The run's output written out: what a slow reader has not taken yet is
 * waited for now. The run is over and its reports are written, so a stop
 * signal in that wait ends corun the plain way (the libuv handlers would
 * only restart the write).
 */
static void end_lines(struct cli *c)
{
  if (!c->have_lines)
    return;
  c->have_lines = 0;
  /* The loop answers corun ps no more: its socket goes now, not after. */
  ps_close(&c->ps);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  lines_end(&c->log);
  lines_end(&c->err);
  lines_end(&c->out);
}

/*
 * Whether path is a stream rather than a file: "-", or a device, FIFO or
 * socket (/dev/stdout, /dev/stderr), which may be where the run's own
 * lines still wait for their reader.
 */
static int a_stream(const char *path)
{
  struct stat st;

  return strcmp(path, "-") == 0 ||
         (stat(path, &st) == 0 && !S_ISREG(st.st_mode));
}

/* The reports asked for, to files (streams 0) or to streams (1). */
static int write_reports(struct cli *c, int streams)
{
  struct report_out r[NREPORTS];
  int i, rc = 0;

  report_outs(&c->opt, r);
  for (i = 0; i < NREPORTS; i++)
    if (r[i].path && a_stream(r[i].path) == streams &&
        write_report(c, r[i].path, r[i].fn) < 0)
      rc = -1;
  return rc;
}

/* Run the loaded job; returns the exit status. */
static int run(struct cli *c)
{
  struct corun_run_opts ro = CORUN_RUN_OPTS_INIT;
  struct corun_outcome outcome;
  struct corun_error err = {0};
  uv_loop_t *loop = &c->loop;
  int rc, e;

  setvbuf(stdout, NULL, _IOLBF, 0);
  lines_init(&c->out, stdout);
  lines_init(&c->err, task_err ? task_err : stderr);
  lines_init(&c->log, stderr);
  /*
   * A reader of our output that goes away (corun ... | head) must not kill
   * the run with its tasks half done: writes then just fail. The library
   * leaves SIGPIPE to us (corun.h): its fetches and commands' stdin need
   * it ignored too.
   */
  signal(SIGPIPE, SIG_IGN);
  /*
   * Under "ulimit -f", a write past the limit would kill corun with
   * SIGXFSZ, leaving a temporary file and no report. Ignored, the write
   * fails with EFBIG instead, and that is an io error like a full disk.
   * Commands do not inherit this: libuv resets signal dispositions in the
   * child.
   */
  signal(SIGXFSZ, SIG_IGN);
  ro.debug = c->opt.debug || env_debug();
  c->opt.debug = ro.debug;
  /* Without --report nothing shows response bodies: do not keep them. */
  ro.skip_bodies = c->opt.report == NULL;
  ro.skip_timings = c->opt.report == NULL && c->opt.html == NULL &&
                    c->opt.trace == NULL && c->opt.journal == NULL;
  ro.trace = c->opt.trace != NULL;
  if (c->opt.journal) {
    if (corun_journal_open(&c->journal, c->opt.journal, c->job, &err) !=
        CORUN_OK) {
      fprintf(stderr, "corun: %s\n", err.msg);
      return CORUN_EXIT_USAGE;
    }
    ro.journal = c->journal;
    if (ro.debug)
      fprintf(stderr, "corun: journal %s: %zu task%s ended ok before\n",
              c->opt.journal, corun_journal_resumable(c->journal),
              corun_journal_resumable(c->journal) == 1 ? "" : "s");
  }
  /*
   * With a report on stdout, stdout is that report alone ("corun --report
   * - job.json | jq"): messages and streamed output go to stderr.
   */
  ro.output = report_on_stdout(&c->opt) ? task_err_line : print_line;
  ro.output_err = task_err_line;
  ro.log = log_line;
  ro.group = on_group;
  ro.arg = c;
  e = spare_fds();
  if (e == 0)
    e = -uv_loop_init(loop);
  if (e) {
    fprintf(stderr, "corun: cannot start the event loop: %s%s\n",
            strerror(e),
            e == EMFILE ? " (raise \"ulimit -n\": corun needs a few to start)"
                        : "");
    return CORUN_EXIT_FAILED;
  }
  c->have_loop = 1;
  /* stdout first: stderr joins it when both are one pipe (2>&1). */
  lines_start(&c->out, loop, NULL);
  lines_start(&c->err, loop, &c->out);
  lines_start(&c->log, loop, &c->err);
  c->have_lines = 1;
  if (corun_global_init(&err) != CORUN_OK) {
    fprintf(stderr, "corun: %s\n", err.msg);
    return CORUN_EXIT_FAILED;
  }
  c->have_global = 1;
  if (corun_run_new(&c->run, c->job, loop, &ro, &err) != CORUN_OK) {
    fprintf(stderr, "corun: %s\n", err.msg);
    return CORUN_EXIT_FAILED;
  }
  if (start_signals(c, loop) < 0)
    return CORUN_EXIT_FAILED;
  if (c->opt.timeout >= 0) {
    uv_timer_init(loop, &c->deadline);
    c->deadline.data = c;
    c->have_deadline = 1;
    uv_timer_start(&c->deadline, on_deadline,
                   (uint64_t)(c->opt.timeout * 1000.0 + 0.5), 0);
    uv_unref((uv_handle_t *)&c->deadline);
  }
  if (wants_progress(c)) {
    uv_timer_init(loop, &c->progress);
    c->progress.data = c;
    c->have_progress = 1;
    uv_timer_start(&c->progress, draw_progress, PROGRESS_MS, PROGRESS_MS);
    uv_unref((uv_handle_t *)&c->progress);
  }
  serve_ps(c, loop);
  corun_run_start(c->run);
  for (e = 0; e < early_count; e++)
    corun_run_interrupt(c->run, early_signal);
  if (early_signal == SIGINT && (c->sigints = early_count) == 1)
    say_interrupted(c);
  uv_run(loop, UV_RUN_DEFAULT);
  if (c->have_progress)
    uv_timer_stop(&c->progress);
  erase_progress(c);

  if (!corun_run_done(c->run)) {
    /*
     * Nothing left to wake a task: they hold limit slots each other needs
     * (e.g. through "after"). Say which, and end them.
     */
    lines_put(&c->log, "corun: the run stalled: these tasks wait on each "
                       "other's limit slots and none can go on");
    dump(c);
    corun_run_stalled(c->run);
  }
  if (c->opt.debug)
    dump(c);
  corun_run_outcome(c->run, &outcome);
  rc = exit_status(&outcome);
  /* The reports record the status the run itself earned. */
  corun_run_set_exit_code(c->run, rc);
  /*
   * Report files first: they must not wait for a reader of our output who
   * is slow to take its last lines. Then that output, then a report to
   * standard output, which comes after it.
   */
  if (write_reports(c, 0) < 0 && rc == 0)
    rc = CORUN_EXIT_FAILED;
  end_lines(c);
  if (write_reports(c, 1) < 0 && rc == 0)
    rc = CORUN_EXIT_FAILED;
  /* A journal that lost lines cannot resume this run: not a success. */
  if (corun_journal_error(c->journal) && rc == 0)
    rc = CORUN_EXIT_FAILED;
  /* -q: only what went wrong (curl's -sS); -qq: nothing. */
  if (c->opt.quiet < 2) {
    struct corun_buf b = CORUN_BUF_INIT;

    if (c->opt.quiet)
      corun_report_text_failures(c->run, wants_colour(), &b);
    else
      corun_report_text(c->run, wants_colour(), &b);
    /* On GitHub Actions the root causes also become annotations. */
    if (getenv("GITHUB_ACTIONS") && strcmp(getenv("GITHUB_ACTIONS"), "true") == 0)
      corun_report_github(c->run, &b);
    fputs(corun_buf_str(&b), stderr);
    corun_buf_free(&b);
  }
  return rc;
}

/* Everything but the release; returns the exit status. */
static int corun_main(struct cli *c, int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], "ps") == 0)
    return ps_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "merge") == 0)
    return merge_main(argc - 1, argv + 1);
  if (options_parse(&c->opt, argc, argv) < 0)
    return CORUN_EXIT_USAGE;
  if (c->opt.help || c->opt.version) {
    if (c->opt.help)
      options_help(stdout);
    else
      print_version();
    return exit_printed();
  }
  if (c->opt.quiet >= 2 && !c->opt.debug && !env_debug())
    silence_stderr();
  c->watchdog = -1;
  catch_early_signals(0);
  raise_file_limit();
  if (load(c, &c->job) < 0)
    return early_signal ? 128 + early_signal : CORUN_EXIT_USAGE;
  if (early_signal && (c->opt.graph || c->opt.check || c->opt.dry_run))
    return 128 + early_signal;
  if (c->opt.graph || c->opt.check || c->opt.dry_run) {
    /* Printing the job, corun stops on a signal like any command. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
  } else {
    catch_early_signals(1);
  }
  if (c->opt.graph) {
    struct corun_buf b = CORUN_BUF_INIT;

    corun_job_graph(c->job, &b);
    return print_listing(&b);
  }
  if (!c->opt.check && !c->opt.dry_run && probe_reports(&c->opt) < 0)
    return CORUN_EXIT_USAGE;
  if ((c->opt.check || c->opt.dry_run) && look_at_outputs(&c->opt, c->job) < 0)
    return CORUN_EXIT_USAGE;
  if (c->opt.check || c->opt.dry_run) {
    struct corun_buf b = CORUN_BUF_INIT;

    if (c->opt.dry_run)
      corun_job_dry_run(c->job, &b);
    else
      corun_job_describe(c->job, &b);
    return print_listing(&b);
  }
  /*
   * A run's commands are stopped even if corun is killed with SIGKILL:
   * the watchdog, forked only for a job that starts processes (a job of
   * sleeps and fetches does not wait for a fork it never needs).
   */
  if (corun_job_spawns(c->job))
    c->watchdog = watchdog_start();
  the_cli = c;
  return run(c);
}

int main(int argc, char **argv)
{
  struct cli c;
  int rc;

  hold_standard_descriptors();
  memset(&c, 0, sizeof(c));
  c.watchdog = -1;
  rc = corun_main(&c, argc, argv);
  release(&c);
  return rc;
}
