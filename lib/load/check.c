/* SPDX-License-Identifier: MIT */
/* Checks over the whole tree, once every task is read: ids, "after", cycles. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "load/loader.h"
#include "util/slab.h"
#include "util/suggest.h"

static int set_generated_id(struct corun_job *job, struct corun_task *t,
                            const char *prefix, const char *sep, size_t n)
{
  char digits[24], *d = digits + sizeof(digits);
  size_t lp = strlen(prefix), ls = strlen(sep), ld;

  /* By hand: snprintf showed up in profiles of million-task jobs. */
  do {
    *--d = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  ld = (size_t)(digits + sizeof(digits) - d);
  /* A million "g.123456" ids cost their bytes, not a malloc each. */
  t->id = corun_slab_alloc(&job->idslabs, lp + ls + ld + 1, 1);
  if (t->id == NULL)
    return -1;
  memcpy(t->id, prefix, lp);
  memcpy(t->id + lp, sep, ls);
  memcpy(t->id + lp + ls, d, ld);
  t->id[lp + ls + ld] = '\0';
  t->flags |= CORUN_TF_ID_POOLED;
  return 0;
}

int corun__load_assign_ids(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t i;
  uint32_t c;

  for (i = 0; i < job->nroots; i++)
    if (job->roots[i]->id == NULL &&
        set_generated_id(job, job->roots[i], "task", "", i + 1) < 0)
      return -1;
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];
    /* The child's number counted up in place: no division per child. */
    char digits[16] = "000000000000000", *d = digits + sizeof(digits) - 1;
    size_t lp;

    if (t == NULL || t->nchildren == 0)
      continue;
    lp = strlen(t->id);
    for (c = 0; c < t->nchildren; c++) {
      struct corun_task *ch = t->children[c];
      char *x = digits + sizeof(digits) - 2, *id;
      size_t nd;

      while (*x == '9')
        *x-- = '0';
      ++*x;
      if (x < d)
        d = x;
      if (ch->id != NULL)
        continue;
      nd = (size_t)(digits + sizeof(digits) - 1 - d);
      /* A million "g.123456" ids cost their bytes, not a malloc each. */
      id = corun_slab_alloc(&job->idslabs, lp + 1 + nd + 1, 1);
      if (id == NULL)
        return -1;
      memcpy(id, t->id, lp);
      id[lp] = '.';
      memcpy(id + lp + 1, d, nd + 1);
      ch->id = id;
      ch->flags |= CORUN_TF_ID_POOLED;
    }
  }
  return 0;
}

static void dup_id(struct loader *ld, size_t i, const struct corun_task *other)
{
  const struct ldrec *rec;
  const struct ldrec *frec;
  size_t off, first_off;

  /* Report the later of the two, pointing back at the first. */
  if (other->index > i) {
    size_t later = other->index;

    other = ld->job->tasks[i];
    i = later;
  }
  rec = corun__load_rec(ld, i);
  frec = corun__load_rec(ld, other->index);
  off = rec->id_off ? rec->id_off : ld->obj_offs[i];
  first_off = frec->id_off ? frec->id_off : ld->obj_offs[other->index];
  unsigned line, col;

  corun_json_line_col(ld->p.text, ld->p.len, first_off, &line, &col);
  corun__load_diag(ld, off, -1,
                   "duplicate task id \"%s\"%s (first used at line %u)",
                   ld->job->tasks[i]->id,
                   rec->id_off ? "" : " (generated for a task without \"id\")",
                   line);
}

/*
 * Generated ids cannot clash with each other (each extends a unique parent
 * id or numbers a root), only with explicit ones. So the map holds the
 * explicit ids and generated ones are merely looked up, unless "after" is
 * used anywhere: then every id must be findable.
 */
void corun__load_check_ids(struct loader *ld)
{
  struct corun_job *job = ld->job;
  int all = 0, digit_end = 0;
  size_t i;

  for (i = 0; i < ld->nrecs && !all; i++)
    all = ld->recs[i].after != NULL;
  /*
   * Explicit ids first, so a generated id meets them wherever they are;
   * in task order, as the records are.
   */
  for (i = 0; !all && i < ld->nrecs; i++) {
    size_t ti = ld->recs[i].task;
    struct corun_task *t = job->tasks[ti];
    void *old = NULL;
    int r;

    if (t == NULL || t->id == NULL || !ld->recs[i].id_off)
      continue;
    r = corun_strmap_put(&job->ids, t->id, t, &old);
    if (r == 0)
      dup_id(ld, ti, old);
    else if (r < 0)
      corun__load_diag(ld, 0, -1, "out of memory");
    if (*t->id && isdigit((unsigned char)t->id[strlen(t->id) - 1]))
      digit_end = 1;
  }
  /*
   * No "after", and no explicit id that ends in a digit, as every
   * generated one does ("task3", "g.12"): none can clash.
   */
  if (!all && !digit_end)
    return;
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];
    void *old = NULL;
    int r;

    if (t == NULL || t->id == NULL)
      continue;
    if (!all) {
      if (!corun__load_rec(ld, i)->id_off &&
          (old = corun_strmap_get(&job->ids, t->id)))
        dup_id(ld, i, old);
      continue;
    }
    r = corun_strmap_put(&job->ids, t->id, t, &old);
    if (r == 0) {
      dup_id(ld, i, old);
    } else if (r < 0) {
      corun__load_diag(ld, 0, -1, "out of memory");
      return;
    }
  }
}

/*
 * A task that needs a slot of a limit its ancestor already holds can wait
 * for ever: the ancestor keeps its slot until the task ends.
 */
void corun__load_check_nested_limits(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t i;

  /* A pipeline's items wait for slots while it holds its own. */
  for (i = 0; i < ld->ntlimits; i++) {
    const struct tmpl_limit *tl = &ld->tlimits[i];
    struct corun_task *a;

    if (tl->task < 0 || (size_t)tl->task >= job->ntasks)
      continue;
    for (a = job->tasks[tl->task]; a; a = a->parent)
      if (a->limit == tl->limit) {
        corun__load_diag(
            ld, tl->off, tl->task,
            "a stage's task: \"limit\" \"%s\" is already held by its "
            "ancestor \"%s\": waiting for another slot inside it could "
            "wait for ever",
            tl->limit->name, a->id);
        break;
      }
  }
  /* A task's limit is one of the job's: without any, no pass is needed. */
  if (job->nlimits == 0)
    return;
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i], *a;

    if (t == NULL || t->limit == NULL)
      continue;
    for (a = t->parent; a; a = a->parent) {
      if (a->limit != t->limit)
        continue;
      corun__load_diag(
          ld, corun__load_rec(ld, i)->limit_off, (long)i,
          "\"limit\" \"%s\" is already held by its ancestor \"%s\": "
          "waiting for another slot inside it could wait for ever",
          t->limit->name, a->id);
      break;
    }
  }
}

static uint32_t nafter_of(const struct corun_task *t)
{
  return t && t->deps ? t->deps->nafter : 0;
}

static int is_ancestor(const struct corun_task *a, const struct corun_task *t)
{
  for (t = t->parent; t; t = t->parent)
    if (t == a)
      return 1;
  return 0;
}

/*
 * "Did you mean" over every id (for "after" and captures). Suggesting from
 * a huge job, or for thousands of bad names, would cost more than it
 * helps.
 */
static const char *suggest_id(struct loader *ld, const char *id)
{
  struct corun_job *job = ld->job;
  const char **cands, *hint = NULL;
  size_t n = 0, m;

  if (job->ntasks > 20000 || ld->suggested++ >= 50)
    return NULL;
  if ((cands = malloc(job->ntasks * sizeof(*cands))) == NULL)
    return NULL;
  for (m = 0; m < job->ntasks; m++)
    if (job->tasks[m] && job->tasks[m]->id)
      cands[n++] = job->tasks[m]->id;
  hint = corun_suggest(id, cands, n);
  free(cands);
  return hint;
}

void corun__load_resolve_after(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t i;
  uint32_t j, k;
  uint32_t *ndep;

  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];
    struct after_list *al = corun__load_rec(ld, i)->after;

    if (t == NULL || al == NULL)
      continue;
    t->deps = calloc(1, sizeof(*t->deps));
    if (t->deps == NULL ||
        (t->deps->after = calloc(al->n, sizeof(*t->deps->after))) == NULL) {
      corun__load_diag(ld, al->offs[0], (long)i, "out of memory");
      return;
    }
    for (j = 0; j < al->n; j++) {
      struct corun_task *d = corun_strmap_get(&job->ids, al->ids[j]);

      if (d == NULL) {
        const char *hint = suggest_id(ld, al->ids[j]);
        char text[CORUN_HINT_MAX];

        corun__load_diag(ld, al->offs[j], (long)i,
                         "\"after\" names unknown task \"%s\"%s", al->ids[j],
                         corun_hint(text, hint, NULL, NULL));
        continue;
      }
      if (d == t) {
        corun__load_diag(ld, al->offs[j], (long)i,
                         "\"after\" names the task itself");
        continue;
      }
      if (is_ancestor(d, t)) {
        corun__load_diag(
            ld, al->offs[j], (long)i,
            "\"after\" names \"%s\", an ancestor of this task (it cannot "
            "end before its children)",
            d->id);
        continue;
      }
      if (is_ancestor(t, d)) {
        corun__load_diag(
            ld, al->offs[j], (long)i,
            "\"after\" names \"%s\", a descendant of this task (it cannot "
            "start before its parent)",
            d->id);
        continue;
      }
      for (k = 0; k < t->deps->nafter; k++)
        if (t->deps->after[k] == d)
          break;
      if (k < t->deps->nafter)
        continue; /* named twice: once is what it means */
      t->deps->after[t->deps->nafter++] = d;
      job->nedges++;
    }
    t->deps->left = t->deps->nafter;
    t->deps->run_if = al->run_if;
  }
  if (job->nedges == 0)
    return;
  ndep = calloc(job->ntasks, sizeof(*ndep));
  if (ndep == NULL) {
    corun__load_diag(ld, 0, -1, "out of memory");
    return;
  }
  for (i = 0; i < job->ntasks; i++)
    for (j = 0; j < nafter_of(job->tasks[i]); j++)
      ndep[job->tasks[i]->deps->after[j]->index]++;
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];

    if (ndep[i] == 0 || t == NULL)
      continue;
    if (t->deps == NULL)
      t->deps = calloc(1, sizeof(*t->deps));
    if (t->deps == NULL ||
        (t->deps->dependents = calloc(ndep[i], sizeof(struct corun_task *))) ==
            NULL) {
      corun__load_diag(ld, 0, -1, "out of memory");
      free(ndep);
      return;
    }
  }
  for (i = 0; i < job->ntasks; i++)
    for (j = 0; j < nafter_of(job->tasks[i]); j++) {
      struct corun_deps *dd = job->tasks[i]->deps->after[j]->deps;

      dd->dependents[dd->ndependents++] = job->tasks[i];
    }
  free(ndep);
}

/*
 * Deadlock check. Each task is two events, its start S and its end E, with
 * "must come first" edges: S(t)->E(t), S(parent)->S(child),
 * E(child)->E(parent) and E(dep)->S(t) for each "after". Any cycle means
 * the job can never finish. Kahn's algorithm finds whether one exists;
 * walking back along unfinished predecessors then finds one to show.
 */
#define NODE_S(i) (2 * (i))
#define NODE_E(i) (2 * (i) + 1)

static void find_cycle(struct loader *ld, const uint32_t *indeg)
{
  struct corun_job *job = ld->job;
  size_t n = 2 * job->ntasks, x = n, i, steps;
  uint32_t *mark = calloc(n, sizeof(*mark)), *path;
  size_t plen = 0, start;
  struct corun_buf msg = CORUN_BUF_INIT;
  long blame = -1;
  size_t blame_off = 0;

  path = calloc(n + 1, sizeof(*path));
  if (mark == NULL || path == NULL)
    goto out;
  for (i = 0; i < n; i++)
    if (indeg[i]) {
      x = i;
      break;
    }
  /* Walk predecessors that are still blocked until one repeats. */
  while (!mark[x]) {
    struct corun_task *t = job->tasks[x / 2];
    size_t prev = n;

    mark[x] = (uint32_t)(++plen);
    path[plen - 1] = (uint32_t)x;
    if (x % 2 == 0) { /* S(t): preds are S(parent) and E(dep) */
      if (t->parent && indeg[NODE_S(t->parent->index)])
        prev = NODE_S(t->parent->index);
      for (i = 0; prev == n && i < nafter_of(t); i++)
        if (indeg[NODE_E(t->deps->after[i]->index)])
          prev = NODE_E(t->deps->after[i]->index);
    } else { /* E(t): preds are S(t) and E(child) */
      if (indeg[NODE_S(t->index)])
        prev = NODE_S(t->index);
      for (i = 0; prev == n && i < t->nchildren; i++)
        if (indeg[NODE_E(t->children[i]->index)])
          prev = NODE_E(t->children[i]->index);
    }
    if (prev == n)
      goto out;
    x = prev;
  }
  /*
   * path[start..plen) is the cycle, path[k + 1] before path[k] and
   * path[start] before path[plen - 1]: read it from the top down.
   */
  start = mark[x] - 1;
  for (steps = plen; steps > start; steps--) {
    size_t k = steps - 1;
    size_t a = path[k];
    size_t b = k > start ? path[k - 1] : path[plen - 1];
    struct corun_task *ta = job->tasks[a / 2], *tb = job->tasks[b / 2];

    /* Edge a -> b ("a must happen before b"). */
    if (a % 2 == 1 && b % 2 == 0) {
      if (msg.len)
        corun_buf_puts(&msg, ", ");
      corun_buf_printf(&msg, "\"%s\" runs after \"%s\"", tb->id, ta->id);
      if (blame < 0) {
        struct after_list *al = corun__load_rec(ld, tb->index)->after;

        blame = (long)tb->index;
        blame_off = ld->obj_offs[tb->index];
        for (i = 0; al && i < al->n; i++)
          if (strcmp(al->ids[i], ta->id) == 0)
            blame_off = al->offs[i];
      }
    } else if (a % 2 == 1 && b % 2 == 1) {
      if (msg.len)
        corun_buf_puts(&msg, ", ");
      corun_buf_printf(&msg, "\"%s\" waits for its child \"%s\"", tb->id,
                       ta->id);
    } else if (a % 2 == 0 && b % 2 == 0) {
      if (msg.len)
        corun_buf_puts(&msg, ", ");
      corun_buf_printf(&msg, "\"%s\" starts inside \"%s\"", tb->id, ta->id);
    }
  }
  corun__load_diag(ld, blame_off, blame, "\"after\" forms a cycle: %s",
                   corun_buf_str(&msg));
out:
  if (blame < 0 && (mark == NULL || path == NULL))
    corun__load_diag(ld, 0, -1,
                     "\"after\" forms a cycle (out of memory describing it)");
  corun_buf_free(&msg);
  free(mark);
  free(path);
}

void corun__load_check_cycles(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t n = 2 * job->ntasks, head = 0, tail = 0, i, done = 0;
  uint32_t *indeg = calloc(n, sizeof(*indeg));
  uint32_t *queue = calloc(n, sizeof(*queue));

  if (indeg == NULL || queue == NULL) {
    corun__load_diag(ld, 0, -1, "out of memory checking for cycles");
    goto out;
  }
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];

    indeg[NODE_S(i)] = (t->parent ? 1 : 0) + nafter_of(t);
    indeg[NODE_E(i)] = 1 + t->nchildren;
  }
  for (i = 0; i < n; i++)
    if (indeg[i] == 0)
      queue[tail++] = (uint32_t)i;
  while (head < tail) {
    size_t x = queue[head++];
    struct corun_task *t = job->tasks[x / 2];
    uint32_t j;

    done++;
#define RELEASE(node)                                                          \
  do {                                                                         \
    if (--indeg[(node)] == 0)                                                  \
      queue[tail++] = (uint32_t)(node);                                        \
  } while (0)
    if (x % 2 == 0) {
      RELEASE(NODE_E(t->index));
      for (j = 0; j < t->nchildren; j++)
        RELEASE(NODE_S(t->children[j]->index));
    } else {
      if (t->parent)
        RELEASE(NODE_E(t->parent->index));
      for (j = 0; t->deps && j < t->deps->ndependents; j++)
        RELEASE(NODE_S(t->deps->dependents[j]->index));
    }
#undef RELEASE
  }
  if (done < n)
    find_cycle(ld, indeg);
out:
  free(indeg);
  free(queue);
}

struct walk {
  uint32_t *seen; /* stamp per task index: visited in this search */
  uint32_t stamp;
  struct corun_task **stack;
  size_t n, cap;
};

static int push(struct walk *w, struct corun_task *t)
{
  if (w->seen[t->index] == w->stamp)
    return 0;
  w->seen[t->index] = w->stamp;
  if (w->n == w->cap) {
    size_t ncap = w->cap ? w->cap * 2 : 64;
    struct corun_task **nv = realloc(w->stack, ncap * sizeof(*nv));

    if (nv == NULL)
      return -1;
    w->stack = nv;
    w->cap = ncap;
  }
  w->stack[w->n++] = t;
  return 0;
}

/*
 * Whether t runs after x ended: x is among the "after" tasks of t or of a
 * task holding t, or of theirs, and so on. Returns -1 when out of memory.
 */
static int runs_after(struct walk *w, struct corun_task *t,
                      const struct corun_task *x)
{
  struct corun_task *a;
  uint32_t i;

  w->stamp++;
  w->n = 0;
  for (a = t; a; a = a->parent)
    if (push(w, a) < 0)
      return -1;
  while (w->n > 0) {
    struct corun_task *c = w->stack[--w->n];

    for (a = c; a; a = a->parent) {
      if (a->deps == NULL)
        continue;
      for (i = 0; i < a->deps->nafter; i++) {
        if (a->deps->after[i] == x)
          return 1;
        if (a->deps->after[i] && push(w, a->deps->after[i]) < 0)
          return -1;
      }
    }
  }
  return 0;
}

/*
 * Each ${ID.NAME}: ID is a task, it captures NAME, and the task using it
 * runs after it (else the value could not be there yet).
 */
void corun__load_check_captures(struct loader *ld)
{
  struct corun_job *job = ld->job;
  struct walk w = {0};
  size_t i;

  if ((w.seen = calloc(job->ntasks, sizeof(*w.seen))) == NULL) {
    corun__load_diag(ld, 0, -1, "out of memory checking captures");
    return;
  }
  for (i = 0; i < ld->ncaprefs; i++) {
    const struct capref *cr = &ld->caprefs[i];
    struct corun_task *t = job->tasks[cr->task], *x;
    const char *cname, *names[64], *hint;
    char text[CORUN_HINT_MAX], *id;
    size_t idlen, n, k;
    int r;

    if (t == NULL || !corun_template_is_capture(cr->name, &idlen))
      continue;
    cname = cr->name + idlen + 1;
    if ((id = strndup(cr->name, idlen)) == NULL)
      break;
    x = corun_strmap_get(&job->ids, id);
    if (x == NULL) {
      hint = suggest_id(ld, id);
      corun__load_diag(ld, cr->off, cr->task,
                       "\"${%s}\": no task has the id \"%s\"%s", cr->name, id,
                       corun_hint(text, hint, NULL, NULL));
      free(id);
      continue;
    }
    n = x->kind && x->kind->capture_names
            ? x->kind->capture_names(x, names, 64, NULL)
            : 0;
    for (k = 0; k < n && k < 64 && strcmp(names[k], cname) != 0; k++)
      ;
    if (n == 0) {
      corun__load_diag(ld, cr->off, cr->task,
                       "\"${%s}\": task \"%s\" captures nothing (a fetch "
                       "with \"capture\" does)",
                       cr->name, id);
    } else if (k == n || k == 64) {
      hint = corun_suggest(cname, names, n < 64 ? n : 64);
      corun__load_diag(ld, cr->off, cr->task,
                       "\"${%s}\": task \"%s\" has no capture \"%s\"%s",
                       cr->name, id, cname,
                       hint ? corun_hint(text, hint, NULL, NULL) : "");
    } else if (x == t) {
      corun__load_diag(ld, cr->off, cr->task,
                       "\"${%s}\": a task cannot use its own capture",
                       cr->name);
    } else if ((r = runs_after(&w, t, x)) == 0) {
      corun__load_diag(ld, cr->off, cr->task,
                       "\"${%s}\": this task does not run after \"%s\", so "
                       "the capture may not be there yet (add \"%s\" to "
                       "its \"after\")",
                       cr->name, id, id);
    } else if (r < 0) {
      corun__load_diag(ld, cr->off, cr->task,
                       "out of memory checking captures");
    }
    free(id);
  }
  free(w.seen);
  free(w.stack);
}
