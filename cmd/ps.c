/* SPDX-License-Identifier: MIT */
/*
 * corun ps: the task dump of a running corun, asked for over a Unix
 * socket instead of with SIGUSR1 (which prints on the run's own stderr,
 * often a CI log nobody watches).
 *
 * Who may ask is settled by the file system: the socket's directory is
 * this user's alone (0700, checked, never trusted as found) and the socket
 * 0600; the peer's uid is checked too where the kernel tells it. A request
 * is one line: "text", "json" or "info"; the answer is written and the
 * connection closed.
 */
/* struct ucred, to check who connects. */
#define _GNU_SOURCE
#include "ps.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "exit.h"

/* How long ps waits for a run's answer: its loop may be busy. */
#define ASK_TIMEOUT_S 5

struct ps_conn {
  uv_pipe_t h;
  struct ps_server *s;
  struct ps_conn *next;
  char req[16];
  size_t len;
  uv_write_t w;
  struct corun_buf out;
  int closing;
};

/*
 * The socket directory: $XDG_RUNTIME_DIR/corun when that is set, else
 * /tmp/corun-UID. create makes it (0700). Returns 0, or -1 with *why set
 * (static text); errno is ENOENT when it does not exist.
 */
static int sock_dir(char *out, size_t n, int create, const char **why)
{
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  int len;

  if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
    len = snprintf(out, n, "%s/corun", xdg);
  else
    len = snprintf(out, n, "/tmp/corun-%lu", (unsigned long)getuid());
  if (len < 0 || (size_t)len >= n) {
    *why = "the socket directory's path is too long";
    errno = ENAMETOOLONG;
    return -1;
  }
  if (create && mkdir(out, 0700) != 0 && errno != EEXIST) {
    *why = "cannot create the socket directory";
    return -1;
  }
  if (lstat(out, &st) != 0) {
    *why = "no socket directory";
    return -1;
  }
  /* Made by someone else, or opened up: not a place to talk in. */
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 077) != 0) {
    *why = "the socket directory is not this user's alone (mode 0700)";
    errno = EPERM;
    return -1;
  }
  return 0;
}

/* dir/PID.sock into out; -1 if it does not fit a socket address. */
static int sock_path(char *out, size_t n, const char *dir, long pid)
{
  int len = snprintf(out, n, "%s/%ld.sock", dir, pid);

  return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* ---- the run's side ---- */

static void conn_closed(uv_handle_t *h)
{
  struct ps_conn *c = h->data;

  corun_buf_free(&c->out);
  free(c);
}

static void conn_close(struct ps_conn *c)
{
  struct ps_conn **pp;

  if (c->closing)
    return;
  c->closing = 1;
  for (pp = &c->s->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  uv_close((uv_handle_t *)&c->h, conn_closed);
}

static void written(uv_write_t *w, int status)
{
  (void)status;
  conn_close(w->data);
}

/* The "info" answer: one JSON object, one line, for the list of runs. */
static void info(struct ps_server *s, struct corun_run *run,
                 struct corun_buf *out)
{
  struct corun_buf d = CORUN_BUF_INIT;
  const char *p, *at = "task dump at ";
  cJSON *o = cJSON_CreateObject();
  char *text = NULL, *sum;

  /* The dump's first line says it: time, and tasks by state. */
  corun_run_dump(run, &d);
  p = strstr(corun_buf_str(&d), at);
  p = p ? p + strlen(at) : corun_buf_str(&d);
  sum = strndup(p, strcspn(p, "\n"));
  if (o && sum && cJSON_AddNumberToObject(o, "pid", (double)getpid()) &&
      cJSON_AddStringToObject(o, "job", s->job_name) &&
      cJSON_AddStringToObject(o, "file", s->job_file) &&
      cJSON_AddStringToObject(o, "summary", sum))
    text = cJSON_PrintUnformatted(o);
  /* A summary taken from a dump cut short could be wrong. */
  if (text && !d.oom) {
    corun_buf_puts(out, text);
    corun_buf_putc(out, '\n');
  } else {
    out->oom = 1;
  }
  free(text);
  free(sum);
  cJSON_Delete(o);
  corun_buf_free(&d);
}

static void answer(struct ps_conn *c)
{
  struct corun_run *run = *c->s->run;
  uv_buf_t b;

  c->req[c->len] = '\0';
  c->req[strcspn(c->req, "\r\n")] = '\0';
  if (run == NULL)
    corun_buf_puts(&c->out, "error: the run is ending\n");
  else if (strcmp(c->req, "text") == 0)
    corun_run_dump(run, &c->out);
  else if (strcmp(c->req, "json") == 0)
    corun_run_dump_json(run, &c->out);
  else if (strcmp(c->req, "info") == 0)
    info(c->s, run, &c->out);
  else
    corun_buf_puts(&c->out, "error: unknown request\n");
  if (c->out.oom) {
    conn_close(c);
    return;
  }
  b = uv_buf_init(c->out.p, (unsigned)c->out.len);
  c->w.data = c;
  if (uv_write(&c->w, (uv_stream_t *)&c->h, &b, 1, written) != 0)
    conn_close(c);
}

static void alloc_req(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
  struct ps_conn *c = h->data;

  (void)want;
  *buf = uv_buf_init(c->req + c->len, (unsigned)(sizeof(c->req) - 1 - c->len));
}

static void read_req(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  struct ps_conn *c = st->data;

  (void)buf;
  if (n < 0) {
    conn_close(c);
    return;
  }
  c->len += (size_t)n;
  if (memchr(c->req, '\n', c->len) || c->len == sizeof(c->req) - 1) {
    uv_read_stop(st);
    answer(c);
  }
}

/* Only this user: the directory already says so; the kernel confirms. */
static int peer_ok(uv_pipe_t *h)
{
#ifdef SO_PEERCRED
  struct ucred cred;
  socklen_t len = sizeof(cred);
  uv_os_fd_t fd;

  if (uv_fileno((uv_handle_t *)h, &fd) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return 0;
  return cred.uid == getuid();
#else
  (void)h;
  return 1;
#endif
}

static void on_connection(uv_stream_t *server, int status)
{
  struct ps_server *s = server->data;
  struct ps_conn *c;

  if (status < 0)
    return;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return; /* the client sees the connection refused or closed */
  c->s = s;
  c->out = (struct corun_buf)CORUN_BUF_INIT;
  if (uv_pipe_init(server->loop, &c->h, 0) != 0) {
    free(c);
    return;
  }
  c->h.data = c;
  c->next = s->conns;
  s->conns = c;
  /* A client that never asks must not keep the run's loop alive. */
  uv_unref((uv_handle_t *)&c->h);
  if (uv_accept(server, (uv_stream_t *)&c->h) != 0 || !peer_ok(&c->h) ||
      uv_read_start((uv_stream_t *)&c->h, alloc_req, read_req) != 0)
    conn_close(c);
}

int ps_serve(struct ps_server *s, uv_loop_t *loop, struct corun_run *const *run,
             const char *job_name, const char *job_file, const char **why)
{
  char dir[sizeof(s->path)];
  mode_t old;
  int e;

  memset(s, 0, sizeof(*s));
  s->run = run;
  s->job_name = job_name;
  s->job_file = job_file;
  if (sock_dir(dir, sizeof(dir), 1, why) < 0)
    return -1;
  if (sock_path(s->path, sizeof(s->path), dir, (long)getpid()) < 0) {
    *why = "the socket's path is too long";
    return -1;
  }
  /* Left by an earlier process that had our process id and was killed. */
  unlink(s->path);
  if (uv_pipe_init(loop, &s->pipe, 0) != 0) {
    *why = "cannot make the socket";
    return -1;
  }
  s->open = 1;
  s->pipe.data = s;
  /* Created 0600 from the start, not opened up for a moment. */
  old = umask(0177);
  e = uv_pipe_bind(&s->pipe, s->path);
  umask(old);
  if (e == 0) {
    s->bound = 1;
    e = uv_listen((uv_stream_t *)&s->pipe, 16, on_connection);
  }
  if (e != 0) {
    *why = "cannot listen on the socket";
    ps_close(s);
    return -1;
  }
  uv_unref((uv_handle_t *)&s->pipe);
  return 0;
}

void ps_close(struct ps_server *s)
{
  while (s->conns)
    conn_close(s->conns);
  if (s->open) {
    uv_close((uv_handle_t *)&s->pipe, NULL);
    s->open = 0;
  }
  if (s->bound) {
    unlink(s->path);
    s->bound = 0;
  }
}

/* ---- corun ps ---- */

/*
 * Ask the run behind path; its answer into out. Returns 0 or an errno
 * (ECONNREFUSED: nobody listens there any more).
 */
static int ask(const char *path, const char *req, struct corun_buf *out)
{
  struct sockaddr_un a;
  struct timeval tv = {ASK_TIMEOUT_S, 0};
  char buf[4096];
  ssize_t n;
  int fd, e = 0;

  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(a.sun_path))
    return ENAMETOOLONG;
  strcpy(a.sun_path, path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
    e = errno;
    close(fd);
    return e;
  }
  while ((n = read(fd, buf, sizeof(buf))) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      e = errno == EAGAIN ? ETIMEDOUT : errno;
      break;
    }
    corun_buf_add(out, buf, (size_t)n);
  }
  close(fd);
  if (e == 0 && out->oom)
    e = ENOMEM;
  /* Closed unanswered: the run ended while the request waited. */
  if (e == 0 && out->len == 0)
    e = ECONNRESET;
  return e;
}

/*
 * A socket nobody listens on whose process is gone: left by a run that
 * was killed (SIGKILL) before it could remove it.
 */
static int stale(const char *path, long pid, int e)
{
  if (e != ECONNREFUSED || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
    return 0;
  unlink(path);
  return 1;
}

static int pid_of(const char *name, long *pid)
{
  char *end;

  if (name[0] < '0' || name[0] > '9')
    return 0;
  errno = 0;
  *pid = strtol(name, &end, 10);
  return errno == 0 && *pid > 0 && strcmp(end, ".sock") == 0;
}

static int cmp_long(const void *a, const void *b)
{
  long x = *(const long *)a, y = *(const long *)b;

  return (x > y) - (x < y);
}

/* Every running corun of this user, one line (or JSON object) each. */
static int list(const char *dir, int json)
{
  DIR *d = opendir(dir);
  struct dirent *de;
  long *pids = NULL, pid;
  size_t n = 0, cap = 0, i, shown = 0;

  if (json)
    fputs("[", stdout);
  while (d && (de = readdir(d)) != NULL) {
    if (!pid_of(de->d_name, &pid))
      continue;
    if (n == cap) {
      long *np = realloc(pids, (cap = cap ? 2 * cap : 16) * sizeof(*np));

      if (np == NULL)
        break;
      pids = np;
    }
    pids[n++] = pid;
  }
  if (d)
    closedir(d);
  qsort(pids, n, sizeof(*pids), cmp_long);
  for (i = 0; i < n; i++) {
    struct corun_buf out = CORUN_BUF_INIT;
    char path[108];
    cJSON *o;
    int e;

    if (sock_path(path, sizeof(path), dir, pids[i]) < 0)
      continue;
    e = ask(path, "info\n", &out);
    if (e != 0) {
      if (!stale(path, pids[i], e))
        fprintf(stderr, "corun: process %ld did not answer: %s\n", pids[i],
                strerror(e));
    } else if (json) {
      printf("%s\n  %.*s", shown++ ? "," : "",
             (int)strcspn(corun_buf_str(&out), "\n"), corun_buf_str(&out));
    } else if ((o = cJSON_Parse(corun_buf_str(&out))) != NULL) {
      const cJSON *job = cJSON_GetObjectItemCaseSensitive(o, "job");
      const cJSON *file = cJSON_GetObjectItemCaseSensitive(o, "file");
      const cJSON *sum = cJSON_GetObjectItemCaseSensitive(o, "summary");

      printf("%ld %s (%s): %s\n", pids[i],
             cJSON_IsString(job) ? job->valuestring : "?",
             cJSON_IsString(file) ? file->valuestring : "?",
             cJSON_IsString(sum) ? sum->valuestring : "?");
      cJSON_Delete(o);
    }
    corun_buf_free(&out);
  }
  if (json)
    fputs(shown ? "\n]\n" : "]\n", stdout);
  free(pids);
  return CORUN_EXIT_OK;
}

static int ps_usage(const char *what, const char *arg)
{
  fprintf(stderr, "corun: ps: %s '%s' (usage: corun ps [--json] [PID])\n", what,
          arg);
  return CORUN_EXIT_USAGE;
}

int ps_main(int argc, char **argv)
{
  char dir[108], path[108];
  const char *why = NULL;
  struct corun_buf out = CORUN_BUF_INIT;
  long pid = 0;
  int json = 0, i, e;

  for (i = 1; i < argc; i++) {
    char *end;

    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs("Usage: corun ps [--json] [PID]\n"
            "Print the task dump of the running corun PID of this user, or\n"
            "list the running coruns; --json prints JSON.\n",
            stdout);
      return exit_printed();
    } else if (argv[i][0] == '-') {
      return ps_usage("unknown option", argv[i]);
    } else if (pid) {
      return ps_usage("one process id at a time; extra argument", argv[i]);
    } else {
      errno = 0;
      pid = strtol(argv[i], &end, 10);
      /* Digits only: strtol would take " 12" and "+12" too. */
      if (errno || *end || pid <= 0 || argv[i][0] < '0' || argv[i][0] > '9')
        return ps_usage("not a process id:", argv[i]);
    }
  }
  /* No directory: no run ever served here, and none is running. */
  if (sock_dir(dir, sizeof(dir), 0, &why) < 0 && errno != ENOENT) {
    fprintf(stderr, "corun: %s: %s\n", dir, why);
    return CORUN_EXIT_FAILED;
  }
  if (pid == 0) {
    int rc = list(dir, json);

    return rc == CORUN_EXIT_OK ? exit_printed() : rc;
  }
  if (sock_path(path, sizeof(path), dir, pid) < 0) {
    fprintf(stderr, "corun: %s: the socket's path is too long\n", dir);
    return CORUN_EXIT_FAILED;
  }
  e = ask(path, json ? "json\n" : "text\n", &out);
  if (e != 0) {
    if (e == ENOENT || stale(path, pid, e))
      fprintf(stderr,
              "corun: no running corun of this user has process id "
              "%ld\n",
              pid);
    else
      fprintf(stderr, "corun: process %ld did not answer: %s\n", pid,
              strerror(e));
    corun_buf_free(&out);
    return CORUN_EXIT_FAILED;
  }
  fputs(corun_buf_str(&out), stdout);
  corun_buf_free(&out);
  return exit_printed();
}
