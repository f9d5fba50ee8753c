/* SPDX-License-Identifier: MIT */
/*
 * exec: run a process (argv directly, or a shell command) in its own
 * process group, capture the last 64 KiB of its stdout and stderr, and end
 * failed on a non-zero exit status or a signal. On cancel, or when an
 * attempt outlives attempt_timeout, the whole group gets SIGTERM, then
 * SIGKILL after kill_grace.
 *
 * A task ends only once the process has exited and both pipes have hit
 * end of file (so no output is lost) and every handle is closed (their
 * memory is in the task, and libuv may touch it until the close callback).
 * Until the pipes close, cancels and attempt timeouts still signal the
 * group: what a command left running in the background must not hold its
 * task past a timeout. Once the group has been killed (after kill_grace),
 * the pipes are read one last time and closed, so that a process that
 * left the group (a daemon) and keeps them open cannot hold the task.
 *
 * Writing stdin to a command that exits without reading it raises SIGPIPE:
 * the application ignores it (corun.h), and the write then fails.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/duration.h"
#include "util/fdlimit.h"
#include "util/spawn.h"
#include "core/fields.h"
#include "core/kind.h"
#include "core/retry.h"
#include "core/run.h"
#include "core/task.h"

#define KEEP_BYTES (64 * 1024)

extern char **environ;

struct tail {
  struct corun_buf buf; /* at most KEEP_BYTES, the latest output */
  int truncated;
  struct corun_buf line; /* stream: the line being assembled */
};

struct exec_conf {
  char **argv; /* NULL-terminated */
  char *cwd;
  char **env; /* "NAME=value" additions, NULL-terminated, or NULL */
  char *stdin_text;
  unsigned long long grace_ms;
  unsigned long long attempt_ms; /* 0: attempts are not bounded */
  struct corun_retry_policy retry;
  int stream;
};

struct exec_task {
  struct corun_task base;
  struct exec_conf *c;
  struct corun_process proc;
  uv_pipe_t in, out, err;
  uv_write_t write_req;
  struct tail tout, terr;
  struct corun_timer grace;   /* SIGKILL after kill_grace */
  struct corun_timer attempt; /* attempt_timeout */
  struct corun_retry retry;
  uint64_t attempt_start; /* run-clock ms when this attempt was spawned */
  int pgid; /* the attempt's process group; outlives its leader's handle */
  int open_handles; /* handles not yet closed */
  int pipes_open;   /* stdout/stderr not yet at end of file */
  int exited;
  int64_t exit_code;
  int term_signal;
  int spawned;   /* this attempt's process started */
  int killed;    /* SIGTERM sent */
  int timed_out; /* this attempt outlived attempt_timeout */
  int abandon;   /* group killed: stop waiting for the pipes' end */
  int group_told; /* opts.group knows of this attempt's group */
  int error;     /* spawn failed: errno-like uv code */
};

static const char *const fields[] = {
    "argv",    "shell",           "cwd",    "env",
    "stdin",   "kill_grace",      "stream", "retries",
    "backoff", "attempt_timeout", NULL};

/* ---- parse ---- */

/* Free a NULL-terminated array of strings (filled up to its first NULL). */
static void free_strings(char **v)
{
  size_t i;

  for (i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

static char **string_array(struct corun_fields *f, const char *name,
                           const cJSON *v)
{
  const cJSON *it;
  char **out;
  size_t n = 0, i = 0;

  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
    corun_field_fail(f, name, v, "must be a non-empty array of strings");
    return NULL;
  }
  for (it = v->child; it; it = it->next) {
    if (!cJSON_IsString(it)) {
      corun_field_fail(f, name, it, "must hold strings, not %s",
                       corun__json_type(it));
      return NULL;
    }
    n++;
  }
  out = calloc(n + 1, sizeof(*out));
  for (it = v->child; out && it; it = it->next)
    if ((out[i++] = strdup(it->valuestring)) == NULL) {
      free_strings(out);
      out = NULL;
    }
  if (out == NULL)
    corun_field_fail(f, name, NULL, "could not be kept: out of memory");
  return out;
}

static int parse(struct corun_task *t, struct corun_fields *f)
{
  struct exec_task *x = (struct exec_task *)t;
  struct exec_conf *c = calloc(1, sizeof(*c));
  const cJSON *argv = corun_field(f, "argv"), *env, *it;
  char *shell = NULL;
  double d;
  size_t i = 0;

  if (c == NULL) {
    corun_field_fail(f, "argv", NULL, "could not be kept: out of memory");
    return -1;
  }
  x->c = c;
  c->grace_ms = 5000;
  c->retry = (struct corun_retry_policy)CORUN_RETRY_POLICY_INIT;
  if (corun_field_string(f, "shell", &shell) > 0 && argv) {
    corun_field_fail(f, "shell", corun_field(f, "shell"),
                     "and \"argv\" cannot both be set");
  } else if (shell && *shell == '\0') {
    corun_field_fail(f, "shell", corun_field(f, "shell"),
                     "must not be empty (as \"argv\" must not be)");
  } else if (shell) {
    c->argv = calloc(4, sizeof(char *));
    if (c->argv == NULL || (c->argv[0] = strdup("/bin/sh")) == NULL ||
        (c->argv[1] = strdup("-c")) == NULL ||
        (c->argv[2] = strdup(shell)) == NULL)
      corun_field_fail(f, "shell", NULL, "could not be kept: out of memory");
  } else if (argv && !(argv->type & CORUN_FIELD_BAD)) {
    c->argv = string_array(f, "argv", argv);
  } else if (argv == NULL && !f->failed) {
    corun_field_missing(f, "argv\" or \"shell");
  }
  free(shell);
  if (corun_field_path(f, "cwd", &c->cwd) == 0 && f->dir &&
      (c->cwd = strdup(f->dir)) == NULL)
    corun_field_fail(f, "cwd", NULL, "could not be kept: out of memory");
  env = corun_field(f, "env");
  if (env && !(env->type & CORUN_FIELD_BAD)) {
    if (!cJSON_IsObject(env)) {
      corun_field_fail(f, "env", env, "must be an object of strings");
    } else {
      c->env = calloc((size_t)cJSON_GetArraySize(env) + 1, sizeof(char *));
      if (c->env == NULL)
        corun_field_fail(f, "env", NULL, "could not be kept: out of memory");
      for (it = env->child; c->env && it; it = it->next) {
        struct corun_buf b = CORUN_BUF_INIT;

        if (!cJSON_IsString(it) || strchr(it->string, '=') ||
            !*it->string) {
          corun_field_fail(f, "env", it,
                           "\"%s\" must be a name without '=' and a string "
                           "value",
                           it->string);
          continue;
        }
        /* Names are taken as written: "${h}" would name a variable "${h}". */
        if (strstr(it->string, "${")) {
          corun_field_fail(f, "env", it,
                           "\"%s\": a name is taken as written, not "
                           "filled in (only values take templates)",
                           it->string);
          continue;
        }
        corun_buf_printf(&b, "%s=%s", it->string, it->valuestring);
        /* The array ends at its first NULL: a lost entry must fail. */
        if ((c->env[i] = corun_buf_detach(&b)) == NULL) {
          corun_field_fail(f, "env", NULL,
                           "could not be kept: out of memory");
          break;
        }
        i++;
      }
    }
  }
  corun_field_string(f, "stdin", &c->stdin_text);
  if (corun_field_duration(f, "kill_grace", &d) > 0)
    c->grace_ms = corun_duration_ms(d);
  corun_field_bool(f, "stream", &c->stream);
  corun__retry_parse(&c->retry, f);
  if (corun_field_timeout(f, "attempt_timeout", "end every attempt", &d) >
      0)
    c->attempt_ms = corun_duration_ms(d);
  if (!f->failed) {
    const char *path = NULL;

    /* The job file's own directory exists: only a given cwd is checked. */
    if (corun_field(f, "cwd"))
      corun_field_precheck(f, "cwd", corun_field(f, "cwd"), CORUN_PRE_DIR,
                           c->cwd, NULL, NULL);
    /* A shell command is the shell's to look up. */
    if (argv && c->argv && c->argv[0]) {
      for (i = 0; c->env && c->env[i]; i++)
        if (strncmp(c->env[i], "PATH=", 5) == 0)
          path = c->env[i] + 5;
      corun_field_precheck(f, "argv", argv->child, CORUN_PRE_PROGRAM,
                           c->argv[0], path, c->cwd);
    }
  }
  return f->failed ? -1 : 0;
}

/* ---- output ---- */

static void keep_tail(struct tail *tl, const char *p, size_t n)
{
  if (n >= KEEP_BYTES) {
    /* Exactly 64 KiB in one read (a pipe's capacity) loses nothing. */
    if (n > KEEP_BYTES || tl->buf.len > 0)
      tl->truncated = 1;
    corun_buf_reset(&tl->buf);
    corun_buf_add(&tl->buf, p + n - KEEP_BYTES, KEEP_BYTES);
    return;
  }
  if (tl->buf.len + n > KEEP_BYTES) {
    size_t drop = tl->buf.len + n - KEEP_BYTES;

    memmove(tl->buf.p, tl->buf.p + drop, tl->buf.len - drop);
    tl->buf.len -= drop;
    tl->truncated = 1;
  }
  corun_buf_add(&tl->buf, p, n);
}

/* stream: whole lines only, each prefixed with the task id. */
static void stream_lines(struct exec_task *x, struct tail *tl, int to_err,
                         const char *p, size_t n, int flush)
{
  struct corun_run *run = x->base.run;
  size_t i, start = 0;

  for (i = 0; i < n; i++) {
    if (p[i] != '\n')
      continue;
    corun_buf_add(&tl->line, p + start, i - start);
    corun__run_stream(run, x->base.id, to_err, tl->line.p, tl->line.len);
    corun_buf_reset(&tl->line);
    start = i + 1;
  }
  corun_buf_add(&tl->line, p + start, n - start);
  if (flush && tl->line.len) {
    corun__run_stream(run, x->base.id, to_err, tl->line.p, tl->line.len);
    corun_buf_reset(&tl->line);
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

static void maybe_done(struct exec_task *x);

/*
 * Whether the attempt's process group may still be at work: its leader has
 * not exited, or something it left behind (a command started with '&')
 * still holds the output pipes. While it is, a cancel or an attempt
 * timeout has a group to signal; the attempt is not over before.
 */
static int attempt_live(const struct exec_task *x)
{
  return x->spawned && (!x->exited || x->pipes_open > 0);
}

/* With nobody left to signal, the attempt's clocks must not fire. */
static void attempt_settled(struct exec_task *x)
{
  if (attempt_live(x))
    return;
  if (x->group_told) {
    x->group_told = 0;
    corun__run_group(x->base.run, x->pgid, 0);
  }
  corun__timer_stop(&x->base.run->timers, &x->grace);
  corun__timer_stop(&x->base.run->timers, &x->attempt);
}

static void closed(uv_handle_t *h)
{
  struct exec_task *x = h->data;

  x->open_handles--;
  maybe_done(x);
}

static void close_handle(struct exec_task *x, uv_handle_t *h)
{
  if (!uv_is_closing(h))
    uv_close(h, closed);
  (void)x;
}

/* Output that came on stdout or stderr (is_err). */
static void take_output(struct exec_task *x, int is_err, const char *p,
                        size_t n)
{
  struct tail *tl = is_err ? &x->terr : &x->tout;

  keep_tail(tl, p, n);
  if (x->c->stream)
    stream_lines(x, tl, is_err, p, n, 0);
}

/* A pipe is done with: its last partial line out, the handle closed. */
static void pipe_ended(struct exec_task *x, uv_stream_t *s, int is_err)
{
  if (x->c->stream)
    stream_lines(x, is_err ? &x->terr : &x->tout, is_err, "", 0, 1);
  x->pipes_open--;
  attempt_settled(x);
  close_handle(x, (uv_handle_t *)s);
}

static void terminate(struct exec_task *x);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  struct exec_task *x = s->data;
  int is_err = s == (uv_stream_t *)&x->err;

  if (nread > 0)
    take_output(x, is_err, buf->base, (size_t)nread);
  free(buf->base);
  /* No buffer (alloc_cb out of memory): output would be lost, not ended. */
  if (nread == UV_ENOBUFS && !x->error) {
    x->error = UV_ENOBUFS;
    terminate(x);
  }
  if (nread < 0)
    pipe_ended(x, s, is_err);
}

static void abandon_pipes(struct exec_task *x);

static void process_exited(struct corun_process *p, int64_t status, int sig)
{
  struct exec_task *x = p->data;

  x->exited = 1;
  x->exit_code = status;
  x->term_signal = sig;
  attempt_settled(x);
  corun__process_close(p, closed);
  abandon_pipes(x);
}

static void on_written(uv_write_t *req, int status)
{
  struct exec_task *x = req->data;

  (void)status; /* a process that does not read its stdin is its business */
  close_handle(x, (uv_handle_t *)&x->in);
}

/*
 * A command's output as a result string: a NUL byte, which would end it
 * there, becomes U+FFFD as bytes that are not UTF-8 do in reports.
 */
static cJSON *output_string(const struct corun_buf *b)
{
  struct corun_buf t = CORUN_BUF_INIT;
  cJSON *s;

  if (memchr(corun_buf_str(b), '\0', b->len) == NULL)
    return cJSON_CreateString(corun_buf_str(b));
  corun__buf_add_text(&t, b->p, b->len);
  s = t.oom ? NULL : cJSON_CreateString(corun_buf_str(&t));
  corun_buf_free(&t);
  return s;
}

/* The attempt's result object, or NULL when out of memory. */
static cJSON *make_result(struct exec_task *x)
{
  cJSON *r = cJSON_CreateObject();
  cJSON *out = output_string(&x->tout.buf), *err = output_string(&x->terr.buf);
  int ok;

  /* Killed by a signal, a process has no exit status: "signal" says why. */
  if (x->term_signal)
    ok = cJSON_AddNullToObject(r, "exit_code") &&
         cJSON_AddNumberToObject(r, "signal", x->term_signal);
  else
    ok = cJSON_AddNumberToObject(r, "exit_code", (double)x->exit_code) &&
         cJSON_AddNullToObject(r, "signal");
  ok = ok && out && err && cJSON_AddItemToObject(r, "stdout", out);
  if (ok)
    out = NULL;
  ok = ok && cJSON_AddItemToObject(r, "stderr", err);
  if (ok)
    err = NULL;
  ok = ok && cJSON_AddBoolToObject(r, "truncated",
                                   x->tout.truncated || x->terr.truncated);
  cJSON_Delete(out);
  cJSON_Delete(err);
  if (!ok) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

static void launch(struct exec_task *x);

static void again(struct corun_task *t)
{
  launch((struct exec_task *)t);
}

/*
 * The last non-empty line of stderr, for the error message: what a person
 * reading a failed command's report needs first. Points into the buffer,
 * *n bytes; the buffer stays whole, for the reports that show it.
 */
static const char *last_line(const struct exec_task *x, int *n)
{
  const struct corun_buf *b = &x->terr.buf;
  size_t len = b->len;
  const char *nl;

  while (len && (b->p[len - 1] == '\n' || b->p[len - 1] == '\r'))
    len--;
  if (len == 0)
    return NULL;
  for (nl = b->p + len; nl > b->p && nl[-1] != '\n'; nl--)
    ;
  *n = (int)(b->p + len - nl);
  return nl;
}

/*
 * A command that could not be started is tried again only if what it
 * lacked may come back (descriptors, processes, memory, a program file
 * still being written); a missing or non-executable program will not
 * appear by waiting.
 */
static int transient(int uv_error)
{
  return uv_error == UV_EMFILE || uv_error == UV_ENFILE ||
         uv_error == UV_EAGAIN || uv_error == UV_ENOMEM ||
         uv_error == UV_ETXTBSY;
}

/* Once the process has exited, its pipes drained and handles closed. */
static void maybe_done(struct exec_task *x)
{
  struct corun_task *t = &x->base;
  struct corun_buf msg = CORUN_BUF_INIT;
  enum corun_errtype type;
  const char *line;
  int line_len = 0, lost;
  cJSON *res;

  if (x->open_handles > 0 || t->state != CORUN_STATE_RUNNING)
    return;
  lost = x->tout.buf.oom || x->terr.buf.oom;
  if (!x->error && !x->timed_out && x->term_signal == 0 &&
      x->exit_code == 0) {
    /* Output that could not be kept: not an ok result with less in it. */
    if (lost) {
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "out of memory reading what %s printed",
                         x->c->argv[0]);
      return;
    }
    res = make_result(x);
    if (res == NULL) {
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "out of memory keeping the result");
      return;
    }
    corun__task_set_result(t, res);
    corun__task_finish(t, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
    return;
  }
  res = x->error ? NULL : make_result(x);
  line = x->error ? NULL : last_line(x, &line_len);
  if (x->error) {
    char hint[160];
    struct stat st;

    type = CORUN_ERR_IO;
    /*
     * The spawn cannot tell a missing directory from a missing program:
     * name the directory when it is the one that is not there.
     */
    if (x->error == UV_ENOBUFS)
      corun_buf_printf(&msg, "out of memory reading what %s printed",
                       x->c->argv[0]);
    else if ((x->error == UV_ENOENT || x->error == UV_ENOTDIR) && x->c->cwd &&
             stat(x->c->cwd, &st) < 0)
      corun_buf_printf(&msg, "cwd \"%s\": no such directory", x->c->cwd);
    else if ((x->error == UV_ENOENT || x->error == UV_ENOTDIR) &&
             x->c->cwd && !S_ISDIR(st.st_mode))
      corun_buf_printf(&msg, "cwd \"%s\": not a directory", x->c->cwd);
    else
      corun_buf_printf(&msg, "cannot run %s: %s%s", x->c->argv[0],
                       uv_strerror(x->error),
                       corun__fd_hint(-x->error, hint, sizeof(hint)));
  } else if (x->timed_out) {
    /* Whatever SIGTERM made it exit with, the attempt ran out of time. */
    type = CORUN_ERR_TIMEOUT;
    corun_buf_printf(&msg, "attempt %u timed out after %.3gs", t->attempts,
                     (double)x->c->attempt_ms / 1000.0);
  } else if (x->term_signal) {
    type = CORUN_ERR_SIGNAL;
    corun_buf_printf(&msg, "killed by signal %d (%s)", x->term_signal,
                     strsignal(x->term_signal));
  } else {
    type = CORUN_ERR_EXIT_STATUS;
    corun_buf_printf(&msg, "exit status %lld", (long long)x->exit_code);
  }
  if (line) {
    corun_buf_puts(&msg, ": ");
    corun__buf_add_text(&msg, line, (size_t)line_len);
  }
  /* The failure stays what it was; its output in the result is cut. */
  if (lost && !x->error)
    corun_buf_puts(&msg, " (output incomplete: out of memory)");
  if (corun__retry_left(&x->c->retry, t) &&
      (!x->error || transient(x->error))) {
    if (corun__retry_after(&x->retry, t,
                           corun__retry_wait_ms(&x->c->retry, t, 0),
                           corun_buf_str(&msg), again) < 0)
      corun__task_finish(t, CORUN_STATUS_FAILED, type,
                         "%s; out of memory arming the retry timer",
                         corun_buf_str(&msg));
  } else {
    /* The exit status and signal are what a failed command's user needs. */
    if (t->cancel_status == CORUN_STATUS_NONE) {
      corun__task_set_result(t, res);
      res = NULL;
    }
    corun__task_finish(t, CORUN_STATUS_FAILED, type, "%s",
                       corun_buf_str(&msg));
  }
  cJSON_Delete(res);
  corun_buf_free(&msg);
}

static char **merged_env(char **add)
{
  size_t n = 0, k = 0, i, j;
  char **env;

  if (add == NULL)
    return NULL;
  while (environ[n])
    n++;
  while (add[k])
    k++;
  env = calloc(n + k + 1, sizeof(*env));
  if (env == NULL)
    return NULL;
  for (i = 0, j = 0; i < n; i++) {
    size_t m, len = strcspn(environ[i], "=");

    for (m = 0; m < k; m++)
      if (strncmp(add[m], environ[i], len) == 0 && add[m][len] == '=')
        break;
    if (m == k)
      env[j++] = environ[i];
  }
  for (i = 0; i < k; i++)
    env[j++] = add[i];
  return env;
}

/*
 * What is in a pipe now, read without waiting, then the pipe closed: the
 * end of output from a group that was killed.
 */
static void drain_and_close(struct exec_task *x, uv_pipe_t *p)
{
  uv_os_fd_t fd;
  char buf[16384];
  ssize_t n;
  int k;

  if (uv_is_closing((uv_handle_t *)p))
    return;
  /*
   * libuv's pipes are non-blocking, so this stops at an empty pipe; and
   * at one pipe's worth, since a daemon that keeps writing would never
   * leave it empty.
   */
  if (uv_fileno((uv_handle_t *)p, &fd) == 0)
    for (k = 0; k < 4 && (n = read(fd, buf, sizeof(buf))) > 0; k++)
      take_output(x, p == &x->err, buf, (size_t)n);
  uv_read_stop((uv_stream_t *)p);
  pipe_ended(x, (uv_stream_t *)p, p == &x->err);
}

/*
 * The group was killed and its leader has exited. A process that left
 * the group (setsid(), as daemons do) may still hold the output pipes,
 * and waiting for their end would wait for that process: forever, for a
 * real daemon. The task ends with the output read so far instead.
 */
static void abandon_pipes(struct exec_task *x)
{
  if (!x->abandon || !x->exited)
    return;
  drain_and_close(x, &x->out);
  drain_and_close(x, &x->err);
  attempt_settled(x);
}

/* SIGKILL to the group, and no more waiting for what escaped it. */
static void kill_group(struct exec_task *x)
{
  kill(-x->pgid, SIGKILL);
  x->abandon = 1;
  abandon_pipes(x);
}

static void grace_over(struct corun_timer *timer)
{
  struct exec_task *x = (struct exec_task *)timer->data;

  if (attempt_live(x))
    kill_group(x);
}

/* SIGTERM to the whole group now, SIGKILL after kill_grace. */
static void terminate(struct exec_task *x)
{
  struct corun_task *t = &x->base;

  x->killed = 1;
  if (kill(-x->pgid, SIGTERM) < 0 && errno == ESRCH && x->exited) {
    /* Nobody is left in the group: only escaped processes hold the pipes. */
    x->abandon = 1;
    abandon_pipes(x);
    return;
  }
  /* Without a timer to end the grace there is no grace. */
  if (corun__timer_start(&t->run->timers, &x->grace,
                         corun__now_ms(t->run) + x->c->grace_ms, grace_over,
                         t) < 0)
    kill_group(x);
}

static void attempt_expired(struct corun_timer *timer)
{
  struct exec_task *x = (struct exec_task *)timer->data;
  struct corun_task *t = &x->base;

  /* A cancel already under way has the group in hand, and its reason wins. */
  if (x->killed || !attempt_live(x))
    return;
  x->timed_out = 1;
  if (t->run->opts.debug)
    corun__run_logf(t->run,
                    "%s: attempt %u timed out after %.3gs, sending SIGTERM "
                    "to process group %d",
                    t->id, t->attempts, (double)x->c->attempt_ms / 1000.0,
                    x->pgid);
  terminate(x);
}

/*
 * Start reading a pipe of the command just spawned. It cannot fail for a
 * pipe corun__spawn opened, but if it did the command would block on a full
 * pipe: the attempt fails with the reason and its group is stopped.
 */
static void read_pipe(struct exec_task *x, uv_pipe_t *p, int is_err)
{
  int r = uv_read_start((uv_stream_t *)p, alloc_cb, on_read);

  if (r == 0)
    return;
  if (!x->error) {
    x->error = r;
    terminate(x);
  }
  pipe_ended(x, (uv_stream_t *)p, is_err);
}

static void launch(struct exec_task *x)
{
  struct corun_task *t = &x->base;
  uv_loop_t *loop = t->run->loop;
  uv_process_options_t o;
  uv_stdio_container_t io[3];
  char **env = merged_env(x->c->env);
  int r;

  corun__buf_restart(&x->tout.buf);
  corun__buf_restart(&x->terr.buf);
  x->tout.truncated = x->terr.truncated = 0;
  x->exited = x->killed = x->error = x->timed_out = x->spawned = 0;
  x->abandon = 0;
  x->pipes_open = 0;
  x->exit_code = 0;
  x->term_signal = 0;
  memset(&o, 0, sizeof(o));
  /* uv_pipe_init only fills the handle in: it cannot fail. */
  (void)uv_pipe_init(loop, &x->out, 0);
  (void)uv_pipe_init(loop, &x->err, 0);
  x->out.data = x->err.data = x->proc.data = x->in.data = x;
  x->open_handles = 2;
  io[0].flags = UV_IGNORE;
  if (x->c->stdin_text) {
    (void)uv_pipe_init(loop, &x->in, 0);
    x->open_handles++;
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&x->in;
  }
  io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[1].data.stream = (uv_stream_t *)&x->out;
  io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[2].data.stream = (uv_stream_t *)&x->err;
  o.file = x->c->argv[0];
  o.args = x->c->argv;
  o.env = env;
  o.cwd = x->c->cwd;
  o.stdio = io;
  o.stdio_count = 3;
  /* Its own session and process group: a cancel reaches its children. */
  o.flags = UV_PROCESS_DETACHED;
  /*
   * merged_env fails only for want of memory. A NULL env would run the
   * command in our own environment without the task's env: fail instead.
   */
  r = env == NULL && x->c->env
          ? UV_ENOMEM
          : corun__spawn(loop, &x->proc, &o, process_exited);
  if (r != 0) {
    x->error = r;
    /* Even a failed spawn leaves the process handle to close. */
    if (env || !x->c->env) {
      x->open_handles++;
      corun__process_close(&x->proc, closed);
    }
    free(env);
    close_handle(x, (uv_handle_t *)&x->out);
    close_handle(x, (uv_handle_t *)&x->err);
    if (x->c->stdin_text)
      close_handle(x, (uv_handle_t *)&x->in);
    return;
  }
  free(env);
  x->spawned = 1;
  x->pgid = x->proc.pid;
  x->group_told = 1;
  corun__run_group(t->run, x->pgid, 1);
  x->attempt_start = corun__now_ms(t->run);
  x->open_handles++;
  x->pipes_open = 2;
  /* An attempt that cannot be bounded is not run unbounded. */
  if (x->c->attempt_ms &&
      corun__timer_start(&t->run->timers, &x->attempt,
                         x->attempt_start + x->c->attempt_ms, attempt_expired,
                         t) < 0) {
    x->error = UV_ENOMEM;
    terminate(x);
  }
  read_pipe(x, &x->out, 0);
  read_pipe(x, &x->err, 1);
  if (x->c->stdin_text) {
    uv_buf_t b = uv_buf_init(x->c->stdin_text,
                             (unsigned)strlen(x->c->stdin_text));

    x->write_req.data = x;
    if (uv_write(&x->write_req, (uv_stream_t *)&x->in, &b, 1, on_written) !=
        0)
      close_handle(x, (uv_handle_t *)&x->in);
  }
}

static void start(struct corun_task *t)
{
  launch((struct exec_task *)t);
}

static void cancel(struct corun_task *t)
{
  struct exec_task *x = (struct exec_task *)t;

  /* The task's own end is never an attempt's: no retry may follow it. */
  corun__timer_stop(&t->run->timers, &x->attempt);
  if (corun__retry_stop(&x->retry, t)) {
    corun__task_finish(t, CORUN_STATUS_CANCELLED, CORUN_ERR_CANCELLED, NULL);
    return;
  }
  if (!attempt_live(x))
    return; /* ends by itself once its handles close */
  if (x->killed) {
    /*
     * Already going (cancelled before, or its attempt timed out): the
     * grace under way stands, unless this is a cancel by force (a second
     * signal), which has no grace left.
     */
    if (t->flags & CORUN_TF_FORCE)
      kill_group(x);
    return;
  }
  terminate(x);
}

static int process(const struct corun_task *t)
{
  const struct exec_task *x = (const struct exec_task *)t;

  return attempt_live(x) ? x->pgid : 0;
}

static int last_pid(const struct corun_task *t)
{
  return ((const struct exec_task *)t)->pgid;
}

static void describe(const struct corun_task *t, uint64_t now_ms,
                     struct corun_buf *out)
{
  const struct exec_task *x = (const struct exec_task *)t;

  if (corun__retry_describe(&x->retry, t, now_ms, out) || !attempt_live(x))
    return;
  corun_buf_printf(out, "process %d", x->pgid);
  if (t->attempts > 1)
    corun_buf_printf(out, ", attempt %u", t->attempts);
  corun_buf_printf(out, ", running %.3fs",
                   now_ms > x->attempt_start
                       ? (double)(now_ms - x->attempt_start) / 1000.0
                       : 0.0);
  /* Why a task whose process is gone has not ended: the usual hang. */
  if (x->exited)
    corun_buf_puts(out, ", exited, its output still open");
  if (corun__timer_armed(&x->attempt))
    corun_buf_printf(out, ", attempt timeout in %.3fs",
                     x->attempt.due > now_ms
                         ? (double)(x->attempt.due - now_ms) / 1000.0
                         : 0.0);
  if (x->killed)
    corun_buf_puts(out, x->timed_out ? ", attempt timed out, sent SIGTERM"
                                     : ", sent SIGTERM");
}

static void summary(const struct corun_task *t, struct corun_buf *out)
{
  const struct exec_task *x = (const struct exec_task *)t;

  corun_buf_printf(out, "exit 0, %zu bytes out", x->tout.buf.len);
}

/*
 * The last attempt's output, whatever became of the task: a command that
 * timed out or was cancelled has no result, and its output is what says
 * where it hung.
 */
static int output(const struct corun_task *t, const char **out,
                  const char **err)
{
  const struct exec_task *x = (const struct exec_task *)t;

  *out = x->tout.buf.len ? x->tout.buf.p : "";
  *err = x->terr.buf.len ? x->terr.buf.p : "";
  return x->tout.buf.len || x->terr.buf.len;
}

static void release(struct corun_task *t)
{
  struct exec_task *x = (struct exec_task *)t;

  corun_buf_free(&x->tout.buf);
  corun_buf_free(&x->tout.line);
  corun_buf_free(&x->terr.buf);
  corun_buf_free(&x->terr.line);
  if (x->c) {
    free_strings(x->c->argv);
    free_strings(x->c->env);
    free(x->c->cwd);
    free(x->c->stdin_text);
    free(x->c);
  }
}

static const char *const result_fields[] = {"exit_code", "signal", "stdout",
                                            "stderr", "truncated", NULL};

static void dry(const struct corun_task *t, const struct corun_secrets *sec,
                struct corun_buf *out)
{
  const struct exec_conf *c = ((const struct exec_task *)t)->c;
  size_t i;

  corun_buf_puts(out, "argv: [");
  for (i = 0; c->argv && c->argv[i]; i++) {
    if (i)
      corun_buf_puts(out, ", ");
    corun__dry_quoted(out, sec, c->argv[i]);
  }
  corun_buf_puts(out, "]\n");
  if (c->cwd)
    corun__dry_field(out, sec, "cwd", c->cwd);
  for (i = 0; c->env && c->env[i]; i++)
    corun__dry_field(out, sec, "env", c->env[i]);
  if (c->stdin_text)
    corun__dry_field(out, sec, "stdin", c->stdin_text);
  if (c->stream)
    corun_buf_puts(out, "stream: true\n");
  if (c->attempt_ms)
    corun_buf_printf(out, "attempt_timeout: %gs\n",
                     (double)c->attempt_ms / 1000.0);
  if (c->retry.retries)
    corun_buf_printf(out, "retries: %d, backoff %gs doubling\n",
                     c->retry.retries, (double)c->retry.backoff_ms / 1000.0);
  corun_buf_printf(out, "kill_grace: %gs\n", (double)c->grace_ms / 1000.0);
}

/* A task's own argv or shell keeps the other out of "defaults". */
static const char *const exclusive[] = {"argv", "shell", NULL};

const struct corun_kind corun_kind_exec = {
    .name = "exec",
    .size = sizeof(struct exec_task),
    .fields = fields,
    .exclusive = exclusive,
    .leaf = 1,
    .streams = 1,
    .spawns = 1,
    .result_fields = result_fields,
    .parse = parse,
    .start = start,
    .cancel = cancel,
    .process = process,
    .pid = last_pid,
    .describe = describe,
    .dry = dry,
    .summary = summary,
    .output = output,
    .free = release,
};
