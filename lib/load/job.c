/* SPDX-License-Identifier: MIT */
/*
 * Loading a job file: read, parse with positions, expand templates, apply
 * defaults, build the task tree through each kind's parse(), then check the
 * tree as a whole (ids, "after", cycles). Every problem is collected with
 * its place; nothing runs unless there are none. The steps are in the
 * files loader.h lists; this one runs them in order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "load/loader.h"
#include "load/shard.h"
#include "util/libcurl.h"
#include "util/slab.h"

void corun_job_free(struct corun_job *job)
{
  size_t i;

  if (job == NULL)
    return;
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];

    if (t == NULL)
      continue;
    if (corun__job_children_shared(job, t))
      t->children = NULL; /* not its own to free */
    corun__task_free_parts(t);
  }
  corun__shard_free(job);
  free(job->tasks);
  free(job->roots);
  for (i = 0; i < job->nlimits; i++) {
    free(job->limits[i]->name);
    free(job->limits[i]);
  }
  free(job->limits);
  corun_secrets_free(&job->secrets);
  for (i = 0; i < job->ndeferred; i++)
    cJSON_Delete(job->deferred[i].json);
  free(job->deferred);
  for (i = 0; i < job->nnames; i++)
    free(job->names[i].name);
  free(job->names);
  corun_strmap_free(&job->ids);
  corun_slab_free(&job->slabs);
  corun_slab_free(&job->idslabs);
  free(job->display);
  free(job->root);
  free(job->dir);
  free(job->name);
  free(job);
}

const char *corun_job_name(const struct corun_job *job)
{
  return job->name;
}

size_t corun_job_task_count(const struct corun_job *job)
{
  return job->ntasks;
}

int corun_job_spawns(const struct corun_job *job)
{
  return job->spawns;
}

void corun_job_redact(const struct corun_job *job, const char *s,
                      struct corun_buf *out)
{
  corun_secrets_redact(&job->secrets, s, strlen(s), out);
}

static char *base_name(const char *display)
{
  const char *b = strrchr(display, '/');
  size_t n;

  b = b ? b + 1 : display;
  n = strlen(b);
  if (n > 5 && strcmp(b + n - 5, ".json") == 0)
    n -= 5;
  return strndup(b, n);
}

void corun__load_give_back(struct loader *ld, size_t off)
{
  size_t page, from, to;

  if (!ld->text_mapped)
    return;
  /* Asked once a load: this runs for every task. */
  if (ld->page == 0)
    ld->page = (size_t)sysconf(_SC_PAGESIZE);
  page = ld->page;
  from = (ld->dropped + page - 1) / page * page;
  to = off / page * page;
  if (to <= from || to - from < ((size_t)4 << 20))
    return;
  /* Only a hint: if it fails the pages stay, as they would have. */
  (void)madvise((char *)(uintptr_t)ld->p.text + from, to - from,
                MADV_DONTNEED);
  ld->dropped = to;
}

/*
 * FNV-1a over the file and the --var values: what names a job for its
 * journal. Not cryptographic; it tells jobs apart, it does not guard them.
 */
static uint64_t job_hash(struct loader *ld, const char *text, size_t len,
                         const struct corun_load_opts *opts)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i, k;

  for (i = 0; i < len; i++) {
    h = (h ^ (unsigned char)text[i]) * 0x100000001b3ULL;
    if ((i & 0xfffff) == 0xfffff)
      corun__load_give_back(ld, i);
  }
  /* Read again from the start: the pass over the top level begins there. */
  ld->dropped = 0;
  for (k = 0; opts && k < opts->nvars; k++) {
    const char *v = opts->vars[k];

    h = (h ^ 0xff) * 0x100000001b3ULL; /* a separator no text byte equals */
    for (i = 0; v[i]; i++)
      h = (h ^ (unsigned char)v[i]) * 0x100000001b3ULL;
  }
  return h;
}

enum corun_code corun_job_load_text(struct corun_job **out, const char *text,
                                    size_t len, const char *display,
                                    const char *dir,
                                    const struct corun_load_opts *opts,
                                    struct corun_buf *diagbuf,
                                    struct corun_error *err)
{
  return corun__load_text(out, text, len, display, dir, opts, CORUN_STDIN_FREE,
                          NULL, 0, diagbuf, err);
}

/*
 * A job with fetches loads libcurl once its tasks are read (none of them
 * needs it before: header lists are corun's own); if it cannot load, the
 * first fetch says so (fetch's parse() noted which).
 */
static void load_libcurl(struct loader *ld)
{
  const char *why;

  if (ld->pre.libcurl && corun__libcurl_load(&why) < 0)
    corun__diag_add_field(&ld->diags, ld->pre.libcurl_off,
                          ld->pre.libcurl_task, CORUN_DIAG_VALUE, "url",
                          "\"url\" cannot be fetched: %s", why);
}

/*
 * corun__load_text() once; no_guess: pass over the tasks rather than guess
 * where they end (top.c). *again: the guess was made and was wrong, or the
 * file has errors; nothing was said, and the load is to be made again
 * with no_guess.
 */
static enum corun_code load_text_once(
    struct corun_job **out, const char *text, size_t len, const char *display,
    const char *dir, const struct corun_load_opts *opts, int stdin_use,
    const char *job_path, int text_mapped, struct corun_buf *diagbuf,
    struct corun_error *err, int no_guess, int *again)
{
  struct loader ld;
  struct corun_job *job;
  /* name, vars, defaults, limits, and vars made by --var alone */
  cJSON *owned[5] = {NULL, NULL, NULL, NULL, NULL};
  struct corun_template_ctx vctx;
  enum corun_code code = CORUN_OK;
  size_t i;

  *out = NULL;
  memset(&ld, 0, sizeof(ld));
  ld.job_path = job_path;
  ld.text_mapped = text_mapped;
  ld.no_guess = no_guess;
  ld.opts = opts;
  job = calloc(1, sizeof(*job));
  if (job == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  job->display = strdup(display);
  if (opts && opts->root) {
    struct stat st;

    job->root = realpath(opts->root, NULL);
    if (job->root == NULL) {
      int e = errno;

      corun_job_free(job);
      return corun_failf(err, CORUN_EUSAGE, "--root %s: %s", opts->root,
                         strerror(e));
    }
    /* Paths are confined to a directory; a file holds no paths. */
    if (stat(job->root, &st) == 0 && !S_ISDIR(st.st_mode)) {
      corun_job_free(job);
      return corun_failf(err, CORUN_EUSAGE, "--root %s: %s", opts->root,
                         strerror(ENOTDIR));
    }
  }
  job->dir = strdup(dir ? dir : ".");
  if (job->display == NULL || job->dir == NULL) {
    corun_job_free(job);
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  }
  job->concurrency = CORUN_DEFAULT_CONCURRENCY;
  ld.job = job;
  ld.stdin_use = stdin_use;
  corun_json_init(&ld.p, text, len);
  if (opts == NULL || !opts->no_journal) {
    job->hash = job_hash(&ld, text, len, opts);
    job->hashed = 1;
  }

  if (len > MAX_FILE_BYTES) {
    corun_json_fail(&ld.p, 0, "file too large (over 1 GiB)");
    goto diags;
  }
  if (corun__load_read_top(&ld, owned) < 0 && ld.p.failed)
    goto diags;
  if (ld.diags.n == 0 && !ld.has_tasks)
    corun__load_diag(&ld, 0, -1, "missing required field \"tasks\"");

  ld.vars = owned[1] && cJSON_IsObject(owned[1]) ? owned[1] : NULL;
  code = corun__load_apply_vars(&ld, opts, err);
  if (code != CORUN_OK)
    goto fail;
  if (ld.vars != owned[1])
    owned[4] = ld.vars;
  memset(&vctx, 0, sizeof(vctx));
  vctx.env_only = 1;
  vctx.secrets = &job->secrets;
  if (ld.vars)
    corun__load_expand_tree(&ld, ld.vars, NULL, -1, &vctx, "vars");
  ld.tctx.vars = ld.vars;
  ld.tctx.secrets = &job->secrets;
  ld.kctx = ld.tctx;
  ld.kctx.keep_captures = 1;
  ld.cctx = ld.kctx;
  ld.cctx.again = 1;
  ld.dctx = ld.kctx;
  ld.dctx.defer_item = 1;
  if (owned[3] && !cJSON_IsObject(owned[3])) {
    corun__load_diag(&ld, corun__load_where(&ld, owned[3]), -1,
                     "\"limits\" must be an object, not %s",
                     corun__json_type(owned[3]));
  } else if (owned[3]) {
    cJSON *it;

    corun__load_expand_tree(&ld, owned[3], NULL, -1, &ld.tctx, "limits");
    for (it = owned[3]->child; it; it = it->next)
      corun__load_read_limit(&ld, it);
  }
  if (ld.defaults) {
    /* Its problems are said once, by the expansion tasks read from. */
    struct corun_diags said = ld.diags;

    memset(&ld.diags, 0, sizeof(ld.diags));
    ld.defaults_again = cJSON_Duplicate(ld.defaults, 1);
    if (ld.defaults_again)
      corun__load_expand_tree(&ld, ld.defaults_again, NULL, -1, &ld.cctx,
                              "defaults");
    corun__diags_free(&ld.diags);
    ld.diags = said;
    corun__load_expand_tree(&ld, ld.defaults, NULL, -1, &ld.kctx, "defaults");
    corun__load_check_defaults(&ld);
  }
  if (owned[0] && cJSON_IsString(owned[0])) {
    int filled = corun_template_has(owned[0]->valuestring);

    corun__load_expand_tree(&ld, owned[0], "name", -1, &ld.tctx, NULL);
    /* Said once filled in: "${v}" may come to nothing too. */
    if (owned[0]->valuestring[0] == '\0')
      corun__load_diag(&ld, corun__load_where(&ld, owned[0]), -1,
                       filled ? "\"name\" is empty once its templates are "
                                "filled in (leave it out for the file's name)"
                              : "\"name\" must not be empty (leave it out "
                                "for the file's name)");
    job->name = strdup(owned[0]->valuestring);
  } else {
    job->name = base_name(display);
  }
  if (job->name == NULL) {
    code = corun_failf(err, CORUN_ENOMEM, "out of memory");
    goto fail;
  }
  if (opts && opts->jobs)
    job->concurrency = opts->jobs;

  if (ld.has_tasks) {
    int r = corun__load_read_tasks(&ld);

    /* Read again without the guess (see fail:). */
    if (ld.guess_wrong) {
      code = CORUN_EINVAL;
      goto fail;
    }
    corun__load_share_children(&ld);
    load_libcurl(&ld);
    if (r < 0 && ld.p.failed)
      goto diags;
  }
  /* Children are read before their parent: put them in task order. */
  corun__job_sort_names(job);
  corun__load_sort_recs(&ld);
  if (corun__load_assign_ids(&ld) < 0) {
    code = corun_failf(err, CORUN_ENOMEM, "out of memory");
    goto fail;
  }
  corun__load_check_ids(&ld);
  corun__load_check_nested_limits(&ld);
  corun__load_resolve_after(&ld);
  /* A tree with other errors may be half built; cycles would mislead. */
  if (ld.diags.n == 0 && job->nedges > 0)
    corun__load_check_cycles(&ld);
  if (ld.ncaprefs > 0)
    corun__load_check_captures(&ld);
  if (ld.diags.n == 0)
    corun__load_check_splits(&ld);
  /* --shard: the disk is looked at only for what this part runs. */
  if (ld.diags.n == 0 && opts && opts->shard_total) {
    code = corun__load_shard_plan(&ld, text, len, err);
    if (code != CORUN_OK)
      goto fail;
  }
  if (ld.diags.n == 0)
    corun__load_run_prechecks(&ld);
  if (ld.diags.n == 0)
    corun__load_check_outputs(&ld);
  if (ld.diags.n == 0 && ld.ncli_vars > 0) {
    code = corun__load_unused_var(&ld, owned[1], err);
    if (code != CORUN_OK)
      goto fail;
  }

diags:
  /*
   * A file that fails is read again without the guess, so that what it
   * says (and in which order) is what it said before there was one.
   */
  if (ld.tasks_end && (ld.p.failed || ld.diags.n > 0)) {
    code = CORUN_EINVAL;
    goto fail;
  }
  if (ld.p.failed)
    corun__diag_add(&ld.diags, ld.p.err_off, -1, "%s", ld.p.err_msg);
  if (ld.diags.n > 0) {
    if (diagbuf)
      corun__load_render(&ld, display, diagbuf);
    size_t n = ld.diags.n + ld.diags.dropped;

    code = corun_failf(err, CORUN_EINVAL, "%zu error%s in %s", n,
                       n == 1 ? "" : "s", display);
  }
fail:
  /* Nothing was said: the caller loads the file again without the guess. */
  if (ld.tasks_end && code != CORUN_OK)
    *again = 1;
  for (i = 0; i < ld.nrecs; i++) {
    struct after_list *al = ld.recs[i].after;
    uint32_t j;

    if (al == NULL)
      continue;
    for (j = 0; j < al->n; j++)
      free(al->ids[j]);
    free(al->ids);
    free(al->offs);
    free(al);
  }
  free(ld.recs);
  free(ld.obj_offs);
  free(ld.shared);
  free(ld.tlimits);
  cJSON_Delete(ld.defaults_again);
  corun_fields_memo_clear(&ld.memo);
  corun__alike_free(&ld.skip_like);
  corun__alike_free(&ld.task_like);
  for (i = 0; i < ld.ncaprefs; i++)
    free(ld.caprefs[i].name);
  free(ld.caprefs);
  corun__prechecks_free(&ld.pre);
  corun__load_prechecks_free(&ld);
  for (i = 0; i < ld.nbad_ids; i++)
    free(ld.bad_ids[i].id);
  free(ld.bad_ids);
  for (i = 0; i < ld.ncli_vars; i++)
    free(ld.cli_vars[i].name);
  free(ld.cli_vars);
  for (i = 0; i < ld.nrefs; i++)
    free(ld.refs[i]);
  for (i = 0; i < 5; i++)
    cJSON_Delete(owned[i]);
  corun__diags_free(&ld.diags);
  corun_json_free(&ld.p);
  if (code != CORUN_OK) {
    corun_job_free(job);
    return code;
  }
  /*
   * Ids are looked up only while loading, the run holds pointers; but
   * filling in a capture looks up the task that took it.
   */
  if (ld.ncaprefs == 0)
    corun_strmap_free(&job->ids);
  if (job->shard) {
    code = corun__load_shard_apply(job, err);
    if (code != CORUN_OK) {
      corun_job_free(job);
      return code;
    }
  }
  *out = job;
  return CORUN_OK;
}

enum corun_code corun__load_text(
    struct corun_job **out, const char *text, size_t len, const char *display,
    const char *dir, const struct corun_load_opts *opts, int stdin_use,
    const char *job_path, int text_mapped, struct corun_buf *diagbuf,
    struct corun_error *err)
{
  int again = 0;
  enum corun_code code =
      load_text_once(out, text, len, display, dir, opts, stdin_use, job_path,
                     text_mapped, diagbuf, err, 0, &again);

  if (again)
    code = load_text_once(out, text, len, display, dir, opts, stdin_use,
                          job_path, text_mapped, diagbuf, err, 1, &again);
  return code;
}
