/* SPDX-License-Identifier: MIT */
/* The journal of ended tasks; see journal.h. */
#include "journal/journal.h"

#include <errno.h>
#include <stddef.h>
#include <sys/file.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "load/jobfile.h"
#include "util/outfile.h"
#include "core/result.h"
#include "json/write.h"
#include "core/task.h"

#define JOURNAL_FORMAT 1

_Static_assert(offsetof(struct corun_journal, obs) == 0,
               "the run takes a journal for its observer");

static int earlier(struct corun_observer *o, const struct corun_task *t,
                   cJSON **result);
static void task_ended(struct corun_observer *o, const struct corun_task *t);

/* Keep a record of an ok end; the map borrows the record's id. */
static void remember(struct corun_journal *j, cJSON *rec)
{
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "status");

  if (!cJSON_IsString(id) || !cJSON_IsString(st) ||
      strcmp(st->valuestring, "ok") != 0 ||
      corun_strmap_put(&j->done, id->valuestring, rec, NULL) != 1) {
    cJSON_Delete(rec);
    return;
  }
  j->resumable++;
}

/* The len bytes of fd from its start, malloc'd; NULL if not all came. */
static char *read_all(int fd, size_t len)
{
  char *text = malloc(len + 1);
  size_t got = 0;

  while (text && got < len) {
    ssize_t r = pread(fd, text + got, len - got, (off_t)got);

    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  if (got < len) {
    free(text);
    return NULL;
  }
  return text;
}

/* Read what earlier runs wrote; check it is this job's. */
static enum corun_code read_back(struct corun_journal *j, const char *path,
                                 const char *text, size_t len,
                                 uint64_t hash, struct corun_error *err)
{
  const char *p = text, *end = text + len, *nl;
  int first = 1;

  /*
   * A last line without its newline was cut short by a crash, except the
   * first: a file that does not start with our header is not ours to
   * append to, whole line or not.
   */
  while (p < end) {
    cJSON *rec;

    nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL && !first)
      break;
    if (nl == NULL)
      nl = end;
    rec = cJSON_ParseWithLength(p, (size_t)(nl - p));

    p = nl < end ? nl + 1 : end;
    if (first) {
      const cJSON *h = cJSON_GetObjectItemCaseSensitive(rec, "job_hash");
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "corun_journal");
      char want[20];

      snprintf(want, sizeof(want), "%016llx", (unsigned long long)hash);
      first = 0;
      if (!cJSON_IsNumber(v) || v->valueint != JOURNAL_FORMAT ||
          !cJSON_IsString(h)) {
        cJSON_Delete(rec);
        return corun_failf(err, CORUN_EUSAGE,
                           "--journal %s: not a corun journal (line 1)",
                           path);
      }
      if (strcmp(h->valuestring, want) != 0) {
        corun_failf(err, CORUN_EUSAGE,
                    "--journal %s was written for a different job (job file "
                    "or --var values changed: hash %.16s, this job %s); "
                    "remove it or name another",
                    path, h->valuestring, want);
        cJSON_Delete(rec);
        return CORUN_EUSAGE;
      }
      cJSON_Delete(rec);
      continue;
    }
    /* A damaged line is skipped: its task simply runs again. */
    if (rec)
      remember(j, rec);
  }
  return CORUN_OK;
}

enum corun_code corun_journal_open(struct corun_journal **out,
                                   const char *path,
                                   const struct corun_job *job,
                                   struct corun_error *err)
{
  struct corun_journal *j;
  struct stat st;
  char *text = NULL;
  enum corun_code code = CORUN_OK;
  int e;

  *out = NULL;
  if (!job->hashed)
    return corun_failf(err, CORUN_EUSAGE,
                       "--journal %s: the job was loaded without a journal "
                       "in mind (no_journal), so nothing names it",
                       path);
  j = calloc(1, sizeof(*j));
  if (j == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  j->obs.earlier = earlier;
  j->obs.task_ended = task_ended;
  j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (j->fd < 0 || fstat(j->fd, &st) < 0) {
    e = errno;
    corun_journal_close(j);
    return corun_failf(err, CORUN_EUSAGE, "--journal %s: %s", path,
                       strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    corun_journal_close(j);
    return corun_failf(err, CORUN_EUSAGE,
                       "--journal %s: not a regular file", path);
  }
  /*
   * Two runs on one journal would each run everything and interleave
   * their lines. The lock goes with the descriptor, so a run that dies,
   * even by SIGKILL, frees it at once; commands never inherit it
   * (O_CLOEXEC).
   */
  if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) {
    e = errno;
    corun_journal_close(j);
    if (e == EWOULDBLOCK)
      return corun_failf(err, CORUN_EUSAGE,
                         "--journal %s: another corun is using this journal "
                         "(wait for it to end, or give another file)",
                         path);
    return corun_failf(err, CORUN_EUSAGE, "--journal %s: cannot lock it: %s",
                       path, strerror(e));
  }
  if (st.st_size > 0) {
    size_t len = (size_t)st.st_size;

    if ((text = read_all(j->fd, len)) == NULL) {
      corun_journal_close(j);
      return corun_failf(err, CORUN_EIO, "--journal %s: cannot read it",
                         path);
    }
    code = read_back(j, path, text, len, job->hash, err);
    /* Appending after a cut-short line must not glue onto it. */
    if (code == CORUN_OK && text[len - 1] != '\n')
      j->werr = corun__write_all(j->fd, "\n", 1);
    free(text);
  } else {
    struct corun_buf h = CORUN_BUF_INIT;

    corun_buf_printf(&h, "{\"corun_journal\": %d, \"job_hash\": \"%016llx\", "
                         "\"job\": ",
                     JOURNAL_FORMAT, (unsigned long long)job->hash);
    corun__json_write_str(&h, job->name, &job->secrets);
    corun_buf_puts(&h, "}\n");
    j->werr = h.oom ? ENOMEM : corun__write_all(j->fd, h.p, h.len);
    corun_buf_free(&h);
  }
  if (code == CORUN_OK && j->werr)
    code = corun_failf(err, CORUN_EUSAGE, "--journal %s: %s", path,
                       strerror(j->werr));
  if (code != CORUN_OK) {
    corun_journal_close(j);
    return code;
  }
  *out = j;
  return CORUN_OK;
}

enum corun_code corun_journal_check(const char *path,
                                   const struct corun_job *job,
                                   struct corun_error *err)
{
  struct corun_journal *j;
  struct stat st;
  enum corun_code code = CORUN_OK;
  char *text;
  size_t got = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC), e;

  if (!job->hashed)
    return corun_failf(err, CORUN_EUSAGE,
                       "--journal %s: the job was loaded without a journal "
                       "in mind (no_journal), so nothing names it",
                       path);
  if (fd < 0 && errno == ENOENT) {
    /* A run makes it: its directory must let it. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : strdup(".");

    e = dir == NULL ? ENOMEM : access(dir, W_OK | X_OK) == 0 ? 0 : errno;
    free(dir);
    if (e)
      return corun_failf(err, CORUN_EUSAGE, "--journal %s: %s", path,
                         strerror(e));
    return CORUN_OK;
  }
  /* A run appends to it. */
  if (fd >= 0 && access(path, W_OK) != 0) {
    e = errno;
    (void)close(fd);
    return corun_failf(err, CORUN_EUSAGE, "--journal %s: %s", path,
                       strerror(e));
  }
  if (fd < 0 || fstat(fd, &st) < 0) {
    e = errno;
    if (fd >= 0)
      (void)close(fd);
    return corun_failf(err, CORUN_EUSAGE, "--journal %s: %s", path,
                       strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    (void)close(fd);
    return corun_failf(err, CORUN_EUSAGE, "--journal %s: not a regular file",
                       path);
  }
  got = (size_t)st.st_size;
  text = got ? read_all(fd, got) : NULL;
  (void)close(fd);
  if (got && text == NULL)
    return corun_failf(err, CORUN_EIO, "--journal %s: cannot read it", path);
  if (got > 0) {
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
      free(text);
      return corun_failf(err, CORUN_ENOMEM, "out of memory");
    }
    j->fd = -1;
    code = read_back(j, path, text, got, job->hash, err);
    corun_journal_close(j);
  }
  free(text);
  return code;
}

size_t corun_journal_resumable(const struct corun_journal *j)
{
  return j->resumable;
}

void corun_journal_close(struct corun_journal *j)
{
  size_t i;

  if (j == NULL)
    return;
  /*
   * Every record's write was checked as it was made (werr); an error only
   * close could report has no caller left to hear it, and a resume reads
   * what reached the file whatever it says.
   */
  if (j->fd >= 0)
    (void)close(j->fd);
  for (i = 0; i < j->done.cap; i++)
    if (j->done.slots[i].key)
      cJSON_Delete(j->done.slots[i].val);
  corun_strmap_free(&j->done);
  free(j);
}

static int earlier(struct corun_observer *o, const struct corun_task *t,
                   cJSON **result)
{
  struct corun_journal *j = (struct corun_journal *)o;
  const cJSON *rec = corun_strmap_get(&j->done, t->id), *res;

  if (rec == NULL)
    return 0;
  res = cJSON_GetObjectItemCaseSensitive(rec, "result");
  *result = res && !cJSON_IsNull(res) ? cJSON_Duplicate(res, 1) : NULL;
  /* Resumed without the result it had is worse than run again. */
  if (*result == NULL && res && !cJSON_IsNull(res))
    return 0;
  if (t->run->opts.debug)
    corun__run_logf(t->run, "%s: resumed from the journal", t->id);
  return 1;
}

int corun_journal_error(const struct corun_journal *j)
{
  return j ? j->werr : 0;
}

/*
 * Record t's end (not for pipeline items or resumed tasks). Returns 0, or
 * the errno of the write that failed; after a failure nothing more is
 * written (a later line could not be trusted to follow a whole one).
 */
static int record(struct corun_journal *j, const struct corun_task *t,
                  const struct corun_secrets *sec)
{
  struct corun_buf b = CORUN_BUF_INIT;
  uint64_t dur = t->t_start != CORUN_NO_TIME ? t->t_end - t->t_start : 0;

  if (j->werr)
    return 0;
  /*
   * Secrets are kept out of the file like everywhere else: a resumed
   * result shows "***" where the value was.
   */
  corun_buf_puts(&b, "{\"id\": ");
  corun__json_write_str(&b, t->id, sec);
  corun_buf_printf(&b, ", \"status\": \"%s\", \"attempts\": %u, "
                       "\"duration\": %.6f, \"result\": ",
                   corun__task_status_name((enum corun_status)t->status),
                   t->attempts, (double)dur / 1e9);
  corun__task_write_result(t, sec, &b);
  corun_buf_puts(&b, ", \"error\": ");
  corun__task_write_error(t, sec, &b);
  corun_buf_puts(&b, "}\n");
  /* One write per line: a crash leaves whole lines and at most one cut. */
  j->werr = b.oom ? ENOMEM : corun__write_all(j->fd, b.p, b.len);
  corun_buf_free(&b);
  return j->werr;
}

static void task_ended(struct corun_observer *o, const struct corun_task *t)
{
  struct corun_journal *j = (struct corun_journal *)o;
  struct corun_run *run = t->run;
  int e;

  if (t->flags & (CORUN_TF_INSTANCE | CORUN_TF_RESUMED))
    return;
  e = record(j, t, &run->job->secrets);
  /* Said when it happens: the run goes on, but cannot be resumed. */
  if (e)
    corun__run_logf(run,
                    "error: --journal: cannot write the end of \"%s\": "
                    "%s; tasks that end from now on are not recorded",
                    t->id, strerror(e));
}
