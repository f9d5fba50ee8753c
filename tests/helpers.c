/* SPDX-License-Identifier: MIT */
#include "helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exit.h"
#include "report/report.h"

/*
 * What corun.h asks of an application before its first run, done once
 * for every suite: libcurl's set-up, and SIGPIPE ignored (a write to a
 * command that left its stdin unread must fail, not kill the test).
 */
__attribute__((constructor)) static void global_setup(void)
{
  struct corun_error err = {0};

  signal(SIGPIPE, SIG_IGN);
  if (corun_global_init(&err) != CORUN_OK) {
    fprintf(stderr, "corun_global_init: %s\n", err.msg);
    abort();
  }
}

double time_scale(void)
{
  const char *s = getenv("CORUN_TEST_TIME_SCALE");
  double v = s ? atof(s) : 1.0;

  return v > 0 ? v : 1.0;
}

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct corun_job *load_ok(const char *text)
{
  struct corun_job *job = NULL;
  struct corun_buf diag = CORUN_BUF_INIT;
  struct corun_error err = {0};
  enum corun_code code;

  code = corun_job_load_text(&job, text, strlen(text), "test.json", ".", NULL,
                             &diag, &err);
  cr_assert_eq(code, CORUN_OK, "load failed: %s\n%s", err.msg,
               corun_buf_str(&diag));
  corun_buf_free(&diag);
  return job;
}

char *load_err(const char *text)
{
  struct corun_job *job = NULL;
  struct corun_buf diag = CORUN_BUF_INIT;
  struct corun_error err = {0};
  enum corun_code code;

  code = corun_job_load_text(&job, text, strlen(text), "test.json", ".", NULL,
                             &diag, &err);
  cr_assert_eq(code, CORUN_EINVAL, "expected the job to be invalid");
  cr_assert_null(job);
  return corun_buf_detach(&diag);
}

static void out_line(const char *line, void *arg)
{
  struct result *r = arg;

  corun_buf_puts(&r->out, line);
  corun_buf_putc(&r->out, '\n');
}

static void log_line(const char *line, void *arg)
{
  struct result *r = arg;

  corun_buf_puts(&r->log, line);
  corun_buf_putc(&r->log, '\n');
}

struct poke {
  uv_timer_t timer;
  struct result *r;
  int what; /* 0 interrupt, 1 expire */
  int signum;
};

static void poke_cb(uv_timer_t *t)
{
  struct poke *p = t->data;

  if (p->what == 0)
    corun_run_interrupt(p->r->run, p->signum);
  else
    corun_run_expire(p->r->run);
}

static void add_poke(struct result *r, struct poke *p, double after, int what,
                     int signum)
{
  p->r = r;
  p->what = what;
  p->signum = signum;
  uv_timer_init(&r->loop, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, poke_cb, (uint64_t)(after * 1000), 0);
  uv_unref((uv_handle_t *)&p->timer);
}

struct result *run_job(const char *text, const struct run_opts *o)
{
  struct result *r = calloc(1, sizeof(*r));
  struct corun_run_opts ro = CORUN_RUN_OPTS_INIT;
  struct corun_error err = {0};
  struct poke pokes[3];
  int npokes = 0, i;
  double t0;

  cr_assert_not_null(r);
  r->job = load_ok(text);
  cr_assert_eq(uv_loop_init(&r->loop), 0);
  ro.output = out_line;
  ro.log = log_line;
  ro.arg = r;
  if (o) {
    ro.debug = o->debug;
    ro.slow_ms = o->slow_ms;
    ro.skip_bodies = o->skip_bodies;
    ro.skip_timings = o->skip_timings;
    ro.trace = o->trace;
  }
  cr_assert_eq(corun_run_new(&r->run, r->job, &r->loop, &ro, &err), CORUN_OK,
               "%s", err.msg);
  if (o && o->interrupt_after > 0)
    add_poke(r, &pokes[npokes++], o->interrupt_after, 0,
             o->signum ? o->signum : SIGINT);
  if (o && o->interrupt2_after > 0)
    add_poke(r, &pokes[npokes++], o->interrupt2_after, 0,
             o->signum ? o->signum : SIGINT);
  if (o && o->expire_after > 0)
    add_poke(r, &pokes[npokes++], o->expire_after, 1, 0);
  t0 = now_s();
  corun_run_start(r->run);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  r->wall = now_s() - t0;
  cr_assert(corun_run_done(r->run), "the run did not finish");
  {
    struct corun_outcome oc;

    corun_run_outcome(r->run, &oc);
    r->exit_code = exit_status(&oc);
    corun_run_set_exit_code(r->run, r->exit_code);
  }
  for (i = 0; i < npokes; i++)
    uv_close((uv_handle_t *)&pokes[i].timer, NULL);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  return r;
}

static void run_closed(struct corun_run *run, void *arg)
{
  (void)run;
  *(int *)arg = 1;
}

void run_free(struct corun_run *run, uv_loop_t *loop)
{
  int closed = 0;

  /* The close callback's arg is the run's; borrow it for the flag. */
  run->opts.arg = &closed;
  corun_run_close(run, run_closed);
  uv_run(loop, UV_RUN_DEFAULT);
  cr_assert(closed, "the run's close callback did not come");
}

void result_free(struct result *r)
{
  run_free(r->run, &r->loop);
  cr_assert_eq(uv_loop_close(&r->loop), 0, "handles left open");
  corun_job_free(r->job);
  corun_buf_free(&r->out);
  corun_buf_free(&r->log);
  free(r);
}

struct corun_task *task_by_id(struct result *r, const char *id)
{
  size_t i;

  for (i = 0; i < r->job->ntasks; i++)
    if (strcmp(r->job->tasks[i]->id, id) == 0)
      return r->job->tasks[i];
  cr_assert_fail("no task \"%s\"", id);
  return NULL;
}

const char *status_of(struct result *r, const char *id)
{
  return corun__task_status_name(
      (enum corun_status)task_by_id(r, id)->status);
}

double start_of(struct result *r, const char *id)
{
  struct corun_task *t = task_by_id(r, id);

  return t->t_start == CORUN_NO_TIME ? -1 : corun__secs(t->t_start);
}

double end_of(struct result *r, const char *id)
{
  struct corun_task *t = task_by_id(r, id);

  return t->t_end == CORUN_NO_TIME ? -1 : corun__secs(t->t_end);
}

const char *result_json(struct result *r, const char *id)
{
  static char buf[8192];
  struct corun_buf b = CORUN_BUF_INIT;

  corun__task_write_result(task_by_id(r, id), &r->job->secrets, &b);
  snprintf(buf, sizeof(buf), "%s", corun_buf_str(&b));
  corun_buf_free(&b);
  return buf;
}

static char *slurp_fd(int fd)
{
  struct corun_buf b = CORUN_BUF_INIT;
  char tmp[4096];
  ssize_t n;

  while ((n = read(fd, tmp, sizeof(tmp))) > 0)
    corun_buf_add(&b, tmp, (size_t)n);
  return corun_buf_detach(&b);
}

struct proc *run_cli(const char *stdin_text, const char *const *args)
{
  struct proc *p = calloc(1, sizeof(*p));
  char outp[] = "/tmp/corun-test-out.XXXXXX";
  char errp[] = "/tmp/corun-test-err.XXXXXX";
  int in[2], ofd, efd, st;
  const char *argv[64];
  size_t n = 0;
  pid_t pid;
  double t0 = now_s();

  cr_assert_not_null(p);
  argv[n++] = CORUN_BIN;
  while (args && args[n - 1] && n < 63) {
    argv[n] = args[n - 1];
    n++;
  }
  argv[n] = NULL;
  ofd = mkstemp(outp);
  efd = mkstemp(errp);
  cr_assert(ofd >= 0 && efd >= 0);
  cr_assert_eq(pipe(in), 0);
  pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(ofd, 1);
    dup2(efd, 2);
    close(in[0]);
    close(in[1]);
    execv(CORUN_BIN, (char *const *)argv);
    _exit(127);
  }
  close(in[0]);
  if (stdin_text) {
    size_t len = strlen(stdin_text), off = 0;

    while (off < len) {
      ssize_t w = write(in[1], stdin_text + off, len - off);

      if (w <= 0)
        break;
      off += (size_t)w;
    }
  }
  close(in[1]);
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  p->wall = now_s() - t0;
  p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  lseek(ofd, 0, SEEK_SET);
  lseek(efd, 0, SEEK_SET);
  p->out = slurp_fd(ofd);
  p->err = slurp_fd(efd);
  close(ofd);
  close(efd);
  unlink(outp);
  unlink(errp);
  return p;
}

void proc_free(struct proc *p)
{
  free(p->out);
  free(p->err);
  free(p);
}

static void redirect(int fd, const char *path, int flags)
{
  int f = open(path ? path : "/dev/null", flags, 0644);

  if (f < 0)
    _exit(126);
  dup2(f, fd);
  close(f);
}

/* In the child: only async-signal-safe calls, and _exit on any failure. */
static void child_setup(const struct spawn_opts *o, pid_t parent)
{
  sigset_t none;

  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(125);
  /* An inherited mask or ignored signal would hide what corun does. */
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
  redirect(0, o->in, O_RDONLY);
  redirect(1, o->out, O_WRONLY | O_CREAT | O_TRUNC);
  redirect(2, o->err, O_WRONLY | O_CREAT | O_TRUNC);
  if (o->cwd && chdir(o->cwd) != 0)
    _exit(124);
  if (o->env) {
    char *all = strdup(o->env), *e, *next;

    if (all == NULL)
      _exit(121);
    for (e = all; e; e = next) {
      char *eq;

      if ((next = strchr(e, '\n')) != NULL)
        *next++ = '\0';
      if ((eq = strchr(e, '=')) == NULL)
        _exit(121);
      *eq = '\0';
      setenv(e, eq + 1, 1);
    }
  }
  if (o->unprivileged && geteuid() == 0 &&
      (setgroups(0, NULL) != 0 || setgid(SPAWN_NOBODY) != 0 ||
       setuid(SPAWN_NOBODY) != 0))
    _exit(123);
  if (o->nofile > 0) {
    struct rlimit rl = {(rlim_t)o->nofile, (rlim_t)o->nofile};
    int fd, last = -1;

    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      _exit(122);
    if (o->free_fds >= 0) {
      /* Inherited, not close-on-exec: corun starts with them taken. */
      while ((fd = open("/dev/null", O_RDONLY)) >= 0)
        last = fd;
      for (int i = 0; i < o->free_fds && last > 2; i++)
        close(last--);
    }
  }
}

/*
 * nobody may be unable to reach the corun under test: a build under /root
 * (mode 0700) is out of its reach. A run as nobody executes a copy in a
 * fresh directory that anyone may enter, which the caller removes as soon
 * as the copy is running. copy gets "<dir>/corun".
 */
static void copy_for_nobody(char *copy, size_t size)
{
  char dir[] = "/tmp/corun-bin.XXXXXX", buf[65536];
  int in, out;
  ssize_t n;

  cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
  cr_assert_eq(chmod(dir, 0755), 0);
  snprintf(copy, size, "%s/corun", dir);
  in = open(CORUN_BIN, O_RDONLY | O_CLOEXEC);
  cr_assert(in >= 0, "%s: %s", CORUN_BIN, strerror(errno));
  out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
  cr_assert(out >= 0, "%s: %s", copy, strerror(errno));
  while ((n = read(in, buf, sizeof(buf))) > 0)
    cr_assert_eq(write(out, buf, (size_t)n), n, "%s: %s", copy,
                 strerror(errno));
  cr_assert_eq(n, 0, "%s: %s", CORUN_BIN, strerror(errno));
  close(in);
  /* Closed before any fork: a writer left open makes exec fail (ETXTBSY). */
  cr_assert_eq(fchmod(out, 0755), 0);
  cr_assert_eq(close(out), 0);
}

void remove_copy(char *copy)
{
  char *slash = strrchr(copy, '/');

  unlink(copy);
  *slash = '\0';
  rmdir(copy);
}

pid_t spawn_cli(const char *const *args, const struct spawn_opts *o)
{
  static const struct spawn_opts plain = {.free_fds = -1};
  const char *argv[64];
  const char *prog = CORUN_BIN;
  char copy[64] = "";
  size_t n = 0;
  pid_t parent = getpid(), pid;
  int execd[2] = {-1, -1};
  char c;

  if (o == NULL)
    o = &plain;
  if (o->unprivileged && geteuid() == 0) {
    copy_for_nobody(copy, sizeof(copy));
    prog = copy;
    /* Closes on a successful exec: then the copy can go. */
    cr_assert_eq(pipe(execd), 0);
    cr_assert_eq(fcntl(execd[0], F_SETFD, FD_CLOEXEC), 0);
    cr_assert_eq(fcntl(execd[1], F_SETFD, FD_CLOEXEC), 0);
  }
  argv[n++] = CORUN_BIN;
  while (args && *args && n < 63)
    argv[n++] = *args++;
  argv[n] = NULL;
  pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    if (execd[0] >= 0)
      close(execd[0]);
    child_setup(o, parent);
    execv(prog, (char *const *)argv);
    _exit(127);
  }
  if (copy[0]) {
    close(execd[1]);
    while (read(execd[0], &c, 1) < 0 && errno == EINTR)
      ;
    close(execd[0]);
    remove_copy(copy);
  }
  return pid;
}

int reap_cli(pid_t pid, double timeout, long *max_rss_kb)
{
  double until = now_s() + timeout;
  struct rusage ru;
  int st;
  pid_t got;

  for (;;) {
    got = wait4(pid, &st, WNOHANG, &ru);
    if (got == pid)
      break;
    if (got < 0 && errno != EINTR)
      return -1;
    if (now_s() > until) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
      return -1;
    }
    usleep(2000);
  }
  if (max_rss_kb)
    *max_rss_kb = ru.ru_maxrss;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

char *read_file(const char *path, size_t *len)
{
  int fd = open(path, O_RDONLY);
  struct corun_buf b = CORUN_BUF_INIT;
  char tmp[65536];
  ssize_t n;

  if (fd < 0)
    return NULL;
  while ((n = read(fd, tmp, sizeof(tmp))) > 0)
    corun_buf_add(&b, tmp, (size_t)n);
  close(fd);
  cr_assert(n == 0 && !b.oom, "reading %s failed", path);
  if (len)
    *len = b.len;
  corun_buf_putc(&b, '\0');
  return corun_buf_detach(&b);
}

char *read_stream(FILE *f)
{
  struct corun_buf b = CORUN_BUF_INIT;
  char tmp[8192];
  size_t n;

  while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
    corun_buf_add(&b, tmp, n);
  corun_buf_putc(&b, '\0');
  cr_assert(!b.oom, "out of memory");
  return corun_buf_detach(&b);
}

cJSON *report_task(const cJSON *rep, const char *id)
{
  cJSON *t;

  cr_assert_not_null(rep, "no report");
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(rep, "tasks"))
  {
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(t, "id");

    if (cJSON_IsString(tid) && strcmp(tid->valuestring, id) == 0)
      return t;
  }
  cr_assert_fail("no task \"%s\" in the report", id);
  return NULL;
}

char *run_shell(const char *cmd, int *status)
{
  FILE *p = popen(cmd, "r");
  char *out;
  int st;

  cr_assert_not_null(p, "popen(%s) failed", cmd);
  out = read_stream(p);
  st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return out;
}

char *tmp_dir(const char *what)
{
  char tmpl[128];

  snprintf(tmpl, sizeof(tmpl), "/tmp/corun-%s.XXXXXX", what);
  cr_assert_not_null(mkdtemp(tmpl));
  return strdup(tmpl);
}

char *path_join(const char *dir, const char *name)
{
  struct corun_buf b = CORUN_BUF_INIT;

  corun_buf_printf(&b, "%s/%s", dir, name);
  cr_assert(!b.oom);
  return corun_buf_detach(&b);
}

size_t dir_entries(const char *path)
{
  DIR *d = opendir(path);
  struct dirent *e;
  size_t n = 0;

  cr_assert_not_null(d, "cannot open %s: %s", path, strerror(errno));
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  closedir(d);
  return n;
}

char *write_temp(const char *name, const char *text)
{
  char dir[] = "/tmp/corun-test.XXXXXX";
  char *path;
  FILE *f;

  cr_assert_not_null(mkdtemp(dir));
  path = malloc(strlen(dir) + strlen(name) + 2);
  cr_assert_not_null(path);
  sprintf(path, "%s/%s", dir, name);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

int free_port(void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;

  cr_assert_geq(fd, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}
