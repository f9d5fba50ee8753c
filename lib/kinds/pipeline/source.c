/* SPDX-License-Identifier: MIT */
/*
 * Where a pipeline's items come from: a list of items, a range (counted,
 * never stored), or lines (lines.c). Each item gets the next index.
 */
#include "kinds/pipeline/pipeline.h"

#include <errno.h>
#include <stdlib.h>

const char corun__pl_range_mark, corun__pl_null_mark;

static uint64_t range_count(const struct pl_conf *c)
{
  long long span = c->stop - c->start;

  if (c->step > 0)
    return span <= 0 ? 0 : (uint64_t)((span + c->step - 1) / c->step);
  return span >= 0 ? 0 : (uint64_t)((-span + -c->step - 1) / -c->step);
}

int corun__pl_source_init(struct pl *p)
{
  struct pl_run *r = p->r;

  if (p->c->src == SRC_RANGE)
    r->total = range_count(p->c);
  else if (p->c->src == SRC_ITEMS || p->c->src == SRC_FROM)
    r->total = (uint64_t)cJSON_GetArraySize(r->items);
  else if ((r->lines.chunk = malloc(READ_CHUNK)) == NULL)
    return ENOMEM;
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
    if (r->next == 0)
      r->cursor = r->items->child;
    v = cJSON_Duplicate(r->cursor, 1);
    if (v == NULL)
      return SRC_ERR;
    r->cursor = r->cursor->next;
    it->value = cJSON_IsNull(v) ? V_NULL : v;
    if (it->value == V_NULL)
      cJSON_Delete(v);
    break;
  case SRC_LINES:
    res = corun__pl_lines_next(p, &v);
    if (res != SRC_GOT)
      return res;
    it->value = v;
    break;
  }
  it->index = r->next++;
  it->key = corun__pl_key_of(p, it->value, it->index);
  return SRC_GOT;
}
