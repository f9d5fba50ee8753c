/* SPDX-License-Identifier: MIT */
/*
 * Where a pipeline's items come from: a list of items, a range (counted,
 * never stored), or lines (lines.c). Each item gets the next index.
 */
#include "kinds/pipeline/pipeline.h"

#include <errno.h>
#include <stdlib.h>

const char corun__pl_range_mark, corun__pl_null_mark;

uint64_t corun__pl_range_count(const struct pl_conf *c)
{
  long long span = c->stop - c->start;

  if (c->step > 0)
    return span <= 0 ? 0 : (uint64_t)((span + c->step - 1) / c->step);
  return span >= 0 ? 0 : (uint64_t)((-span + -c->step - 1) / -c->step);
}

/*
 * Under --shard, step over the items of the other shards, so the next
 * index is always one of this shard's and running dry is seen at once.
 */
static void skip_others(struct pl *p)
{
  struct pl_run *r = p->r;

  while (r->next < r->total && !corun__pl_mine(p->c, r->next)) {
    if (r->cursor)
      r->cursor = r->cursor->next;
    r->next++;
  }
}

int corun__pl_source_init(struct pl *p)
{
  struct pl_run *r = p->r;

  if (p->c->src == SRC_RANGE) {
    r->total = corun__pl_range_count(p->c);
  } else if (p->c->src == SRC_ITEMS || p->c->src == SRC_FROM) {
    r->total = (uint64_t)cJSON_GetArraySize(r->items);
    r->cursor = r->items ? r->items->child : NULL;
  } else if ((r->lines.chunk = malloc(READ_CHUNK)) == NULL) {
    return ENOMEM;
  }
  if (p->c->shard_total)
    skip_others(p);
  return 0;
}

int corun__pl_source_dry(const struct pl *p)
{
  const struct pl_run *r = p->r;

  if (p->c->src == SRC_LINES)
    return r->lines.eof && r->lines.pos >= r->lines.buf.len;
  return r->next >= r->total;
}

int corun__pl_source_next(struct pl *p, struct corun_qitem *it)
{
  struct pl_run *r = p->r;
  cJSON *v = NULL;
  int res;

  memset(it, 0, sizeof(*it));
  switch (p->c->src) {
  case SRC_RANGE:
    if (r->next >= r->total)
      return SRC_DRY;
    it->value = V_RANGE;
    break;
  case SRC_ITEMS:
  case SRC_FROM:
    if (r->next >= r->total)
      return SRC_DRY;
    v = cJSON_Duplicate(r->cursor, 1);
    if (v == NULL)
      return SRC_ERR;
    r->cursor = r->cursor->next;
    it->value = cJSON_IsNull(v) ? V_NULL : v;
    if (it->value == V_NULL)
      cJSON_Delete(v);
    break;
  case SRC_LINES:
    for (;;) {
      res = corun__pl_lines_next(p, &v);
      if (res != SRC_GOT)
        return res;
      if (corun__pl_mine(p->c, r->next))
        break;
      cJSON_Delete(v); /* another shard's line */
      r->next++;
    }
    it->value = v;
    break;
  }
  it->index = r->next++;
  if (p->c->shard_total && p->c->src != SRC_LINES)
    skip_others(p);
  it->key = corun__pl_key_of(p, it->value, it->index);
  return SRC_GOT;
}
