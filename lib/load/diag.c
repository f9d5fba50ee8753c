/* SPDX-License-Identifier: MIT */
/* Collecting the loader's diagnostics, and rendering them with places. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/loader.h"
#include "util/bom.h"
#include "util/suggest.h"

void corun__load_diag(struct loader *ld, size_t off, long task, const char *fmt,
                      ...)
{
  struct corun_buf b = CORUN_BUF_INIT;
  va_list ap;

  va_start(ap, fmt);
  corun_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  corun__diag_add(&ld->diags, off, task, "%s", corun_buf_str(&b));
  corun_buf_free(&b);
}

/*
 * The next value is not the object or array wanted: read past it and say
 * so ("WHAT, not a number"). Returns -1 only on a syntax error.
 */
int corun__load_reject_value(struct loader *ld, long task, const char *what)
{
  size_t off = corun_json_offset(&ld->p);
  cJSON *v = NULL;

  if (corun_json_value(&ld->p, &v) < 0)
    return -1;
  corun__load_diag(ld, off, task, "%s, not %s", what, corun__json_type(v));
  cJSON_Delete(v);
  return 0;
}

/* Returns the suggested name, or NULL. */
const char *corun__load_unknown_field(struct loader *ld, size_t off, long task,
                                      const char *what, const char *key,
                                      const char *const *cands, size_t n)
{
  char text[CORUN_HINT_MAX];
  const char *hint;

  corun_did_you_mean(text, key, cands, n, &hint);
  corun__load_diag(ld, off, task, "unknown field \"%s\"%s%s", key, what,
                   text);
  return hint;
}

/*
 * A misspelt required field is one mistake, not two: once "did you mean"
 * names the field, its "missing required field" line (recorded for task
 * at index from or later) only repeats it.
 */
static void drop_missing(struct corun_diags *d, size_t from, long task,
                         const char *field)
{
  size_t i;

  for (i = from; i < d->n; i++) {
    if (d->v[i].task != task || d->v[i].what != CORUN_DIAG_MISSING ||
        strcmp(d->v[i].field, field) != 0)
      continue;
    free(d->v[i].msg);
    free(d->v[i].field);
    memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(d->v[0]));
    d->n--;
    i--;
  }
}

/* The task's misspelt field was suggested as hint: see drop_missing(). */
void corun__load_typo_of(struct loader *ld, struct corun_fields *f, size_t mark,
                         long idx, const char *hint)
{
  if (hint == NULL)
    return;
  drop_missing(&ld->diags, mark, idx, hint);
  if (f->diags != &ld->diags)
    drop_missing(f->diags, 0, idx, hint);
}

/*
 * The user knows the task by the id they wrote, not by the generated one
 * ("task3") it falls back to. Kept cut short: an id is at most 64 bytes,
 * so a longer one is a mistake, not a name.
 */
void corun__load_keep_bad_id(struct loader *ld, long idx, const char *id)
{
  struct bad_id *nb = realloc(ld->bad_ids, (ld->nbad_ids + 1) * sizeof(*nb));
  size_t n = strlen(id);

  if (nb == NULL)
    return;
  ld->bad_ids = nb;
  if (n > 64) {
    n = 64;
    /* Not inside a UTF-8 sequence. */
    while (n > 0 && ((unsigned char)id[n] & 0xc0) == 0x80)
      n--;
  }
  nb[ld->nbad_ids].task = idx;
  nb[ld->nbad_ids].id = malloc(n + 4);
  if (nb[ld->nbad_ids].id == NULL)
    return;
  memcpy(nb[ld->nbad_ids].id, id, n);
  strcpy(nb[ld->nbad_ids].id + n, id[n] ? "..." : "");
  ld->nbad_ids++;
}

static int bad_id_cmp(const void *a, const void *b)
{
  const struct bad_id *x = a, *y = b;

  return (x->task > y->task) - (x->task < y->task);
}

/* ---- rendering diagnostics ---- */

/*
 * By place, then task and text so identical reports (a bad default met by
 * many tasks) sit together and print once.
 */
static int diag_cmp(const void *a, const void *b)
{
  const struct corun_diag *x = a, *y = b;
  int c;

  if (x->off != y->off)
    return x->off < y->off ? -1 : 1;
  if (x->task != y->task)
    return x->task < y->task ? -1 : 1;
  c = strcmp(x->msg, y->msg);
  if (c)
    return c;
  return x < y ? -1 : x > y;
}

void corun__load_render(struct loader *ld, const char *display,
                        struct corun_buf *out)
{
  struct corun_diags *d = &ld->diags;
  size_t *lines = NULL, nlines = 0, cap = 0, i;
  struct corun_buf prev = CORUN_BUF_INIT, cur = CORUN_BUF_INIT;
  struct corun_buf red = CORUN_BUF_INIT;

  /* Line starts once, so many errors in a big file stay cheap. */
  for (i = 0; i <= ld->p.len; i++) {
    if (i == 0 || ld->p.text[i - 1] == '\n') {
      if (nlines == cap) {
        size_t *nl;

        cap = cap ? cap * 2 : 256;
        nl = realloc(lines, cap * sizeof(*nl));
        if (nl == NULL)
          break;
        lines = nl;
      }
      lines[nlines++] = i;
    }
  }
  /* Stable by offset: qsort is not stable, the address tiebreak is. */
  qsort(d->v, d->n, sizeof(*d->v), diag_cmp);
  if (ld->nbad_ids > 1)
    qsort(ld->bad_ids, ld->nbad_ids, sizeof(*ld->bad_ids), bad_id_cmp);
  for (i = 0; i < d->n; i++) {
    size_t lo = 0, hi = nlines, off = d->v[i].off, bol;
    const struct corun_task *t = NULL;
    const struct bad_id *bad;

    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;

      if (lines[mid] <= off)
        lo = mid;
      else
        hi = mid;
    }
    if (d->v[i].task >= 0 && (size_t)d->v[i].task < ld->job->ntasks)
      t = ld->job->tasks[d->v[i].task];
    corun_buf_reset(&cur);
    /* A leading BOM is skipped by the reader and unseen in an editor. */
    bol = lines ? lines[lo] : 0;
    if (bol == 0 && off >= CORUN_BOM_LEN)
      bol = corun_bom_len(ld->p.text, ld->p.len);
    corun_buf_printf(&cur, "%s:%zu:%zu: error: ", display, lo + 1,
                     off - bol + 1);
    bad = NULL;
    if (ld->nbad_ids > 0 && d->v[i].task >= 0) {
      struct bad_id key = {d->v[i].task, NULL};

      bad = bsearch(&key, ld->bad_ids, ld->nbad_ids, sizeof(key), bad_id_cmp);
    }
    if (bad)
      corun_buf_printf(&cur, "task \"%s\": ", bad->id);
    else if (t && t->id)
      corun_buf_printf(&cur, "task \"%s\": ", t->id);
    else if (d->v[i].task >= 0)
      corun_buf_printf(&cur, "task #%ld: ", d->v[i].task + 1);
    corun_buf_printf(&cur, "%s\n", d->v[i].msg);
    if (prev.len == cur.len && memcmp(prev.p, cur.p, cur.len) == 0)
      continue;
    /*
     * Messages quote the file's own strings (keys, values): a key holding
     * a newline or an escape sequence must not reach a terminal as such.
     */
    corun_buf_reset(&red);
    corun_secrets_redact(&ld->job->secrets, cur.p, cur.len - 1, &red);
    corun_buf_escaped(out, corun_buf_str(&red), 0);
    corun_buf_putc(out, '\n');
    corun_buf_reset(&prev);
    corun_buf_add(&prev, cur.p, cur.len);
  }
  if (d->dropped) {
    corun_buf_reset(&cur);
    corun_buf_printf(&cur, "%s: and %zu more error%s, not shown", display,
                     d->dropped, d->dropped == 1 ? "" : "s");
    corun_buf_escaped(out, corun_buf_str(&cur), 0);
    corun_buf_putc(out, '\n');
  }
  corun_buf_free(&prev);
  corun_buf_free(&cur);
  corun_buf_free(&red);
  free(lines);
}
