/* SPDX-License-Identifier: MIT */
/*
 * Tasks written alike: a generated job repeats one task object thousands
 * of times with only its URL changed ({"kind": "fetch", "url": ..., "ca":
 * ..., "http_version": "2"}). The loader keeps the text of the last such
 * object it read the general way, with the URL's value cut out; an object
 * whose text is the same around a URL of its own is read by comparing
 * bytes, and makes what the general way made of the kept one but for the
 * URL. The pass over the top level skips such objects the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "load/loader.h"

/*
 * Longer task objects are rare in bulk and cost their reading anyway: the
 * comparison is worth it for the short ones that come by the thousand.
 */
#define ALIKE_MAX 1024

/*
 * The bytes that may stand in a plain string: printable ASCII but the
 * quote that ends it, the backslash of an escape and the "$" of an
 * expansion. Every URL of a big job goes through here twice: a table
 * look-up a byte, not four tests.
 */
static const unsigned char plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' '$' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70: DEL */
    /* 0x80 and up: not ASCII */
};

size_t corun__load_plain_string_end(const char *t, size_t len, size_t i)
{
  const unsigned char *u = (const unsigned char *)t;

  if (i >= len || t[i] != '"')
    return 0;
  /* Four at a time while four are left: one test of the end, one branch. */
  for (i++; len - i >= 4 && (plain_byte[u[i]] & plain_byte[u[i + 1]] &
                             plain_byte[u[i + 2]] & plain_byte[u[i + 3]]);
       i += 4)
    ;
  for (; i < len && plain_byte[u[i]]; i++)
    ;
  return i < len && t[i] == '"' ? i + 1 : 0;
}

void corun__alike_keep(struct corun__alike *a, const char *t, size_t off,
                       size_t u0, size_t u1, size_t end, int depth)
{
  size_t pre = u0 - off, suf = end - u1;
  char *text;

  /*
   * One that cannot be kept leaves the last: the tasks after may be it.
   * No "$", and no escape, which may spell one ("\u0024{id.name}" is a
   * capture like any other): what is kept expands nothing.
   */
  if (pre + suf > ALIKE_MAX || corun__load_plain_string_end(t, u1, u0) != u1 ||
      memchr(t + off, '$', pre) != NULL || memchr(t + u1, '$', suf) != NULL ||
      memchr(t + off, '\\', pre) != NULL || memchr(t + u1, '\\', suf) != NULL)
    return;
  if ((text = realloc(a->text, pre + suf)) == NULL) {
    a->pre = a->suf = 0; /* matches nothing: no object is that short */
    return;
  }
  memcpy(text, t + off, pre);
  memcpy(text + pre, t + u1, suf);
  a->text = text;
  a->pre = pre;
  a->suf = suf;
  a->depth = depth;
}

size_t corun__alike_end(const struct corun__alike *a, const char *t,
                        size_t len, size_t at, int depth, size_t *u0,
                        size_t *u1)
{
  size_t u;

  if (a->pre == 0 || depth != a->depth || len - at < a->pre + a->suf ||
      memcmp(t + at, a->text, a->pre) != 0)
    return 0;
  *u0 = at + a->pre;
  if ((u = corun__load_plain_string_end(t, len, *u0)) == 0 ||
      len - u < a->suf || memcmp(t + u, a->text + a->pre, a->suf) != 0)
    return 0;
  *u1 = u;
  return u + a->suf;
}

void corun__alike_free(struct corun__alike *a)
{
  free(a->text);
  memset(a, 0, sizeof(*a));
}
