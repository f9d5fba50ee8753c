/* SPDX-License-Identifier: MIT */
/* Building only what a few JSON Pointers reach (see pick.h for why). */
#include "json/pick.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

/* Pointers are matched one reference token at a time, still escaped. */

/* Whether the token at seg (up to '/' or the end) unescapes to key. */
static int token_is(const char *seg, const char *key)
{
  while (*seg && *seg != '/') {
    char c = *seg++;

    if (c == '~' && (*seg == '0' || *seg == '1'))
      c = *seg++ == '0' ? '~' : '/';
    if (*key++ != c)
      return 0;
  }
  return *key == '\0';
}

/* The array index the token at seg names, or -1 (as predicate.c reads). */
static long token_index(const char *seg)
{
  long idx = 0;
  const char *s;

  if (*seg == '\0' || *seg == '/' || (seg[0] == '0' && seg[1] != '\0' &&
                                      seg[1] != '/'))
    return -1;
  for (s = seg; *s && *s != '/'; s++) {
    if (*s < '0' || *s > '9' || idx > 100000000)
      return -1;
    idx = idx * 10 + (*s - '0');
  }
  return idx;
}

/* The rest of the pointer after the token at seg. */
static const char *token_end(const char *seg)
{
  while (*seg && *seg != '/')
    seg++;
  return seg;
}

static int walk(struct corun_json *p, const char *const *act, size_t nact,
                cJSON **out);

/*
 * Room for the pointers that go on below one member: on the stack for the
 * usual handful, else allocated.
 */
struct subset {
  const char *small[8];
  const char **v;
};

static int subset_init(struct subset *s, size_t n)
{
  s->v = n <= sizeof(s->small) / sizeof(s->small[0])
             ? s->small
             : malloc(n * sizeof(*s->v));
  return s->v ? 0 : -1;
}

static void subset_free(struct subset *s)
{
  if (s->v != s->small)
    free(s->v);
}

static int oom(struct corun_json *p)
{
  return corun_json_fail(p, corun_json_offset(p), "out of memory");
}

static int walk_object(struct corun_json *p, const char *const *act,
                       size_t nact, cJSON **out)
{
  struct subset sub;
  cJSON *obj;
  const char *key;
  size_t key_off, i, nsub;
  int n = 0, r;

  if (corun_json_object_begin(p) < 0)
    return -1;
  obj = cJSON_CreateObject();
  if (obj == NULL || subset_init(&sub, nact) < 0) {
    cJSON_Delete(obj);
    return oom(p);
  }
  while ((r = corun_json_object_next(p, &n, &key, &key_off)) > 0) {
    cJSON *val = NULL;
    char *name;

    for (i = nsub = 0; i < nact; i++)
      if (token_is(act[i] + 1, key))
        sub.v[nsub++] = token_end(act[i] + 1);
    /* A repeated name: the first one is what a pointer finds. */
    if (nsub == 0 || cJSON_GetObjectItemCaseSensitive(obj, key)) {
      if (corun_json_skip(p) < 0) {
        r = -1;
        break;
      }
      continue;
    }
    /* The name is borrowed from the parser: the value's own names reuse it. */
    name = strdup(key);
    if (name == NULL) {
      r = oom(p);
      break;
    }
    if (walk(p, sub.v, nsub, &val) < 0) {
      free(name);
      r = -1;
      break;
    }
    /*
     * The copy becomes the member's name (an object's members are a list
     * of named items; cJSON_Delete frees the name), sparing
     * cJSON_AddItemToObject's second copy.
     */
    val->string = name;
    if (!cJSON_AddItemToArray(obj, val)) {
      cJSON_Delete(val);
      r = oom(p);
      break;
    }
  }
  subset_free(&sub);
  if (r < 0) {
    cJSON_Delete(obj);
    return -1;
  }
  *out = obj;
  return 0;
}

static int walk_array(struct corun_json *p, const char *const *act,
                      size_t nact, cJSON **out)
{
  struct subset sub;
  cJSON *arr;
  long idx = 0, last = -1;
  size_t i, nsub;
  int n = 0, r;

  if (corun_json_array_begin(p) < 0)
    return -1;
  for (i = 0; i < nact; i++) {
    long k = token_index(act[i] + 1);

    if (k > last)
      last = k;
  }
  arr = cJSON_CreateArray();
  if (arr == NULL || subset_init(&sub, nact) < 0) {
    cJSON_Delete(arr);
    return oom(p);
  }
  for (; (r = corun_json_array_next(p, &n)) > 0; idx++) {
    cJSON *val = NULL;

    for (i = nsub = 0; i < nact; i++)
      if (token_index(act[i] + 1) == idx)
        sub.v[nsub++] = token_end(act[i] + 1);
    if (nsub > 0) {
      r = walk(p, sub.v, nsub, &val);
    } else {
      r = corun_json_skip(p);
      /* Elements before a target keep its place; those after it are left out. */
      if (r == 0 && idx < last && (val = cJSON_CreateNull()) == NULL)
        r = oom(p);
    }
    if (r < 0)
      break;
    if (val && !cJSON_AddItemToArray(arr, val)) {
      cJSON_Delete(val);
      r = oom(p);
      break;
    }
  }
  subset_free(&sub);
  if (r < 0) {
    cJSON_Delete(arr);
    return -1;
  }
  *out = arr;
  return 0;
}

/* act: what is left of each pointer that reaches this value. */
static int walk(struct corun_json *p, const char *const *act, size_t nact,
                cJSON **out)
{
  size_t i;

  *out = NULL;
  for (i = 0; i < nact; i++)
    if (*act[i] == '\0')
      return corun_json_value(p, out); /* a target: all of it */
  switch (corun_json_peek(p)) {
  case '{':
    return walk_object(p, act, nact, out);
  case '[':
    return walk_array(p, act, nact, out);
  default:
    /* A scalar where a pointer goes on: it finds nothing here. */
    return corun_json_value(p, out);
  }
}

cJSON *corun__json_pick(const char *text, size_t len,
                        const char *const *pointers, size_t n, char *why,
                        size_t why_len)
{
  static const char *const whole[] = {""};
  struct corun_json p;
  cJSON *doc = NULL;

  corun_json_init(&p, text, len);
  p.body = 1;
  if (n == 0)
    pointers = whole, n = 1;
  if (walk(&p, pointers, n, &doc) < 0 || corun_json_end(&p) < 0) {
    if (why && why_len)
      snprintf(why, why_len, "%s (at byte %zu)", p.err_msg, p.err_off);
    cJSON_Delete(doc);
    doc = NULL;
  }
  corun_json_free(&p);
  return doc;
}
