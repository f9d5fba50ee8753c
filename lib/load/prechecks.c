/* SPDX-License-Identifier: MIT */
/*
 * Checks on disk before the run: what a task reads or runs exists, and no
 * two writers share a file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load/loader.h"
#include "util/confine.h"

/* path with "//", "." and ".." folded, without looking at the disk. */
static char *fold_path(const char *path)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const char *p = path, *e;
  int abs = *path == '/';

  if (abs)
    corun_buf_putc(&b, '/');
  for (; *p; p = *e ? e + 1 : e) {
    size_t n;

    e = strchr(p, '/');
    if (e == NULL)
      e = p + strlen(p);
    n = (size_t)(e - p);
    if (n == 0 || (n == 1 && p[0] == '.'))
      continue;
    if (n == 2 && p[0] == '.' && p[1] == '.' && b.len > (size_t)abs) {
      char *slash;

      b.p[b.len] = '\0';
      slash = strrchr(b.p + abs, '/');
      b.len = slash ? (size_t)(slash - b.p) : (size_t)abs;
      b.p[b.len] = '\0';
      continue;
    }
    if (b.len > (size_t)abs)
      corun_buf_putc(&b, '/');
    corun_buf_add(&b, p, n);
  }
  return corun_buf_detach(&b);
}

/* Whether t starts with the run: neither it nor a container has "after". */
static int starts_with_run(const struct corun_task *t)
{
  for (; t; t = t->parent)
    if (t->deps && t->deps->nafter)
      return 0;
  return 1;
}

/*
 * Whether a task of the job writes path ("save", "results"), or, with
 * below, a file under it (whose directories that task creates). Looked up
 * in ld->written, made once by note_written(): a job of many commands
 * asks this once per command.
 */
static int written_by_job(const struct loader *ld, const char *path, int below)
{
  char *want = fold_path(path);
  int hit;

  if (want == NULL)
    return 1; /* cannot tell: do not refuse the job */
  hit = corun_strmap_get(&ld->written, want) != NULL;
  if (!hit && below)
    hit = corun_strmap_get(&ld->written_dirs, want) != NULL;
  free(want);
  return hit;
}

/*
 * Every path a task writes goes in ld->written, and every directory above
 * it in ld->written_dirs (the writer creates them). Keys are kept in
 * ld->written_keys until the loader ends.
 */
static void note_written(struct loader *ld)
{
  size_t i;

  for (i = 0; i < ld->pre.n; i++) {
    char *got, *slash;

    if (ld->pre.v[i].what != CORUN_PRE_OUTPUT ||
        (got = fold_path(ld->pre.v[i].path)) == NULL)
      continue;
    if (corun_strmap_put(&ld->written, got, got, NULL) != 1) {
      free(got);
      continue;
    }
    /* Each parent: "/a/b/c" makes "/a/b", "/a" and "/". */
    for (slash = strrchr(got, '/'); slash; slash = strrchr(got, '/')) {
      char *dir = strndup(got, slash == got ? 1 : (size_t)(slash - got));

      if (dir == NULL ||
          corun_strmap_put(&ld->written_dirs, dir, dir, NULL) != 1) {
        free(dir);
        break; /* already there: so are the ones above it */
      }
      if (slash == got)
        break;
      got = dir;
    }
  }
}

/* Free what note_written() made. */
void corun__load_prechecks_free(struct loader *ld)
{
  size_t i;

  for (i = 0; i < ld->written.cap; i++)
    free((char *)ld->written.slots[i].key);
  for (i = 0; i < ld->written_dirs.cap; i++)
    free((char *)ld->written_dirs.slots[i].key);
  for (i = 0; i < ld->programs.cap; i++)
    free((char *)ld->programs.slots[i].key);
  corun_strmap_free(&ld->programs);
  corun_strmap_free(&ld->written);
  corun_strmap_free(&ld->written_dirs);
}

/* Whether path is a file the process may execute. */
static int executable(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Whether name (no slash) is found in search, as execvp would look. */
static int on_path(const char *name, const char *search, const char *cwd)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const char *p = search, *e;
  int found = 0;

  for (; !found; p = e + 1) {
    e = strchr(p, ':');
    if (e == NULL)
      e = p + strlen(p);
    corun_buf_reset(&b);
    /* Empty and relative entries are looked up where the program starts. */
    if (*p != '/')
      corun_buf_puts(&b, cwd ? cwd : ".");
    if (e > p && *p != '/')
      corun_buf_putc(&b, '/');
    corun_buf_add(&b, p, (size_t)(e - p));
    corun_buf_printf(&b, "/%s", name);
    found = !b.oom && executable(corun_buf_str(&b));
    if (*e == '\0')
      break;
  }
  corun_buf_free(&b);
  return found;
}

/*
 * on_path(), remembered: a job of many commands names the same few
 * programs, and each look costs a stat() per PATH entry.
 */
static int found_on_path(struct loader *ld, const char *name,
                         const char *search, const char *cwd)
{
  struct corun_buf key = CORUN_BUF_INIT;
  void *got;
  int found;
  char *k;

  corun_buf_printf(&key, "%s\n%s\n%s", name, search, cwd ? cwd : "");
  if (key.oom) {
    corun_buf_free(&key);
    return on_path(name, search, cwd);
  }
  got = corun_strmap_get(&ld->programs, corun_buf_str(&key));
  if (got) {
    corun_buf_free(&key);
    return got == (void *)&ld->programs;
  }
  found = on_path(name, search, cwd);
  k = corun_buf_detach(&key);
  /* The value says which: the map's own address for found. */
  if (k &&
      corun_strmap_put(&ld->programs, k,
                       found ? (void *)&ld->programs : (void *)ld, NULL) != 1)
    free(k);
  return found;
}

static void check_program(struct loader *ld, const struct corun_precheck *c)
{
  const char *name = c->path;
  struct corun_buf b = CORUN_BUF_INIT;
  struct stat st;

  if (*name == '\0') {
    corun__load_diag(ld, c->off, c->task, "\"%s\" has an empty program name",
                     c->field);
    return;
  }
  if (strchr(name, '/') == NULL) {
    const char *search = c->search ? c->search : getenv("PATH");

    if (search == NULL)
      search = "/bin:/usr/bin";
    if (!found_on_path(ld, name, search, c->cwd))
      corun__load_diag(ld, c->off, c->task,
                       "\"%s\": program \"%s\" is not found in %s", c->field,
                       name, c->search ? "the PATH set by \"env\"" : "PATH");
    return;
  }
  if (name[0] == '/' || c->cwd == NULL)
    corun_buf_puts(&b, name);
  else
    corun_buf_printf(&b, "%s/%s", c->cwd, name);
  /* Relative to a cwd that another task builds: that task's business. */
  if (!b.oom && name[0] != '/' && c->cwd && written_by_job(ld, c->cwd, 1)) {
    corun_buf_free(&b);
    return;
  }
  if (!b.oom && written_by_job(ld, corun_buf_str(&b), 0)) {
    corun_buf_free(&b);
    return;
  }
  if (b.oom)
    ;
  else if (stat(corun_buf_str(&b), &st) < 0)
    corun__load_diag(ld, c->off, c->task,
                     "\"%s\": program \"%s\" does not exist", c->field,
                     corun_buf_str(&b));
  else if (!executable(corun_buf_str(&b)))
    corun__load_diag(ld, c->off, c->task,
                     "\"%s\": program \"%s\" is not an executable file",
                     c->field, corun_buf_str(&b));
  corun_buf_free(&b);
}

/*
 * What a task needs and cannot do without is looked at now, so a typo in
 * a path fails in --check, not an hour into the run. Never where another
 * task could make it first: a task that waits for others ("after", its own
 * or a container's), or a path another task writes.
 */
void corun__load_run_prechecks(struct loader *ld)
{
  size_t i;

  note_written(ld);
  for (i = 0; i < ld->pre.n; i++) {
    const struct corun_precheck *c = &ld->pre.v[i];
    const struct corun_task *t;
    struct stat st;

    if (c->what == CORUN_PRE_OUTPUT || c->task < 0 ||
        (size_t)c->task >= ld->job->ntasks)
      continue;
    t = ld->job->tasks[c->task];
    if (t == NULL || !starts_with_run(t))
      continue;
    /* --shard: another part's task needs nothing of this machine. */
    if (ld->job->shard && ld->job->shard->keep &&
        !ld->job->shard->keep[c->task])
      continue;
    switch (c->what) {
    case CORUN_PRE_FILE:
      if (written_by_job(ld, c->path, 0))
        break;
      if (stat(c->path, &st) < 0)
        corun__load_diag(ld, c->off, c->task, "\"%s\": lines file \"%s\": %s",
                         c->field, c->path,
                         errno == ENOENT ? "no such file" : strerror(errno));
      else if (S_ISDIR(st.st_mode))
        corun__load_diag(ld, c->off, c->task,
                         "\"%s\": lines file \"%s\" is a directory", c->field,
                         c->path);
      break;
    case CORUN_PRE_DIR:
      if (written_by_job(ld, c->path, 1))
        break;
      if (stat(c->path, &st) < 0)
        corun__load_diag(
            ld, c->off, c->task, "\"%s\" \"%s\": %s", c->field, c->path,
            errno == ENOENT ? "no such directory" : strerror(errno));
      else if (!S_ISDIR(st.st_mode))
        corun__load_diag(ld, c->off, c->task,
                         "\"%s\" \"%s\" is not a directory", c->field, c->path);
      break;
    case CORUN_PRE_PROGRAM:
      /* A missing cwd is said once, by its own check. */
      if (c->cwd && (stat(c->cwd, &st) < 0 || !S_ISDIR(st.st_mode)))
        break;
      check_program(ld, c);
      break;
    default:
      break;
    }
  }
}

/* Whether path names a directory: one that is there, or ends in '/'. */
static int is_directory(const char *path)
{
  struct stat st;
  size_t n = strlen(path);

  return (n > 0 && path[n - 1] == '/') ||
         (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

/*
 * Whether writing path would overwrite something: a regular file, or
 * nothing yet. Devices, FIFOs and the like (/dev/null) are written in
 * place, and two writers of /dev/null do not collide.
 */
static int collides(const char *path)
{
  struct stat st;

  return stat(path, &st) < 0 || S_ISREG(st.st_mode);
}

/*
 * Whether tasks a and b meet in a race (their nearest common container's
 * children race, so only one of them gets to its end).
 */
static int in_one_race(const struct corun_task *a, const struct corun_task *b)
{
  const struct corun_task *x, *y;

  for (x = a->parent; x; x = x->parent)
    for (y = b->parent; y; y = y->parent)
      if (x == y)
        return x->kind->races && x->kind->races(x);
  return 0;
}

/*
 * Two writers of one file lose data: a task's "save" or "results" that is
 * the job file itself, a file the application writes (the report, the
 * journal), or what another task writes, is refused before the run,
 * unless the two race (only the winner saves). Paths made from a
 * pipeline's items are known only as items come, and are not looked at.
 */
/* The task of a precheck, or NULL. */
static const struct corun_task *precheck_task(const struct loader *ld,
                                              const struct corun_precheck *c)
{
  return c->task >= 0 && (size_t)c->task < ld->job->ntasks
             ? ld->job->tasks[c->task]
             : NULL;
}

void corun__load_check_outputs(struct loader *ld)
{
  /* What is not a task's: the job file and the application's outputs. */
  struct {
    char *canon;
    const char *what;
  } app[8];
  struct corun_strmap seen = {0};
  char **canon;
  size_t i, j, n = ld->pre.n, napp = 0;

  if (ld->job_path &&
      (app[napp].canon = corun_path_canonical(ld->job_path)) != NULL)
    app[napp++].what = NULL;
  for (j = 0; ld->opts && j < ld->opts->noutputs && napp < 8; j++) {
    const struct corun_output_path *o = &ld->opts->outputs[j];

    if (o->path && strcmp(o->path, "-") != 0 &&
        (app[napp].canon = corun_path_canonical(o->path)) != NULL)
      app[napp++].what = o->what;
  }
  canon = calloc(n ? n : 1, sizeof(*canon));
  for (i = 0; canon && i < n; i++) {
    const struct corun_precheck *c = &ld->pre.v[i], *d;
    const struct corun_task *t, *u;
    void *old = NULL;

    if (c->what != CORUN_PRE_OUTPUT)
      continue;
    if (is_directory(c->path)) {
      /* A file is written there: the run would only fail at the end. */
      corun__load_diag(ld, c->off, c->task,
                       "\"%s\": \"%s\" is a directory, not a file to write",
                       c->field, c->path);
      continue;
    }
    if (!collides(c->path) ||
        (canon[i] = corun_path_canonical(c->path)) == NULL)
      continue;
    for (j = 0; j < napp; j++) {
      if (strcmp(app[j].canon, canon[i]) != 0)
        continue;
      if (app[j].what == NULL)
        corun__load_diag(ld, c->off, c->task,
                         "\"%s\": \"%s\" is the job file itself", c->field,
                         c->path);
      else
        corun__load_diag(ld, c->off, c->task,
                         "\"%s\": \"%s\" is also the %s file", c->field,
                         c->path, app[j].what);
    }
    /* One look-up per output: a job may save a hundred thousand files. */
    if (corun_strmap_put(&seen, canon[i], (void *)(uintptr_t)(i + 1), &old) !=
        0)
      continue;
    d = &ld->pre.v[(uintptr_t)old - 1];
    t = precheck_task(ld, c);
    u = precheck_task(ld, d);
    if (d->task != c->task && t && u && in_one_race(t, u))
      continue;
    if (d->task == c->task)
      corun__load_diag(ld, c->off, c->task, "\"%s\": \"%s\" is also its \"%s\"",
                       c->field, c->path, d->field);
    else
      corun__load_diag(ld, c->off, c->task,
                       "\"%s\": \"%s\" is also written by task \"%s\" (\"%s\")",
                       c->field, c->path, u ? u->id : "?", d->field);
  }
  corun_strmap_free(&seen);
  for (i = 0; canon && i < n; i++)
    free(canon[i]);
  free(canon);
  for (j = 0; j < napp; j++)
    free(app[j].canon);
}
