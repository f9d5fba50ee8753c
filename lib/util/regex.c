/* SPDX-License-Identifier: MIT */
#include "util/regex.h"

#include <stdio.h>

/* Past the bound every sum and product stays here, so nothing overflows. */
#define OVER (CORUN_REGEX_MAX_PIECES + 1)

static size_t add(size_t a, size_t b)
{
  return a + b > OVER ? OVER : a + b;
}

static size_t mul(size_t a, size_t b)
{
  if (a != 0 && b > OVER / a)
    return OVER;
  return a * b > OVER ? OVER : a * b;
}

/* Past a bracket expression at *p ('['), classes like [:alpha:] included. */
static const char *skip_bracket(const char *p)
{
  p++;
  if (*p == '^')
    p++;
  if (*p == ']')
    p++;
  while (*p != '\0' && *p != ']') {
    if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
      char end = p[1];

      p += 2;
      while (*p != '\0' && !(p[0] == end && p[1] == ']'))
        p++;
      if (*p != '\0')
        p += 2;
      continue;
    }
    p++;
  }
  return *p == ']' ? p + 1 : p;
}

/*
 * A counted repetition at *p ('{'): the most copies it asks for, and *end
 * past it; 0 when it is not one (regcomp() decides what it then is).
 */
static size_t interval(const char *p, const char **end)
{
  size_t lo = 0, hi;
  int digits = 0;

  for (p++; *p >= '0' && *p <= '9'; p++, digits++)
    lo = add(mul(lo, 10), (size_t)(*p - '0'));
  hi = lo;
  if (*p == ',') {
    p++;
    if (*p >= '0' && *p <= '9') {
      hi = 0;
      for (; *p >= '0' && *p <= '9'; p++, digits++)
        hi = add(mul(hi, 10), (size_t)(*p - '0'));
    }
    if (hi < lo)
      hi = lo;
  }
  if (*p != '}' || digits == 0)
    return 0;
  *end = p + 1;
  /* "a{2,}" is written out as "aa" and a star: one copy more than lo. */
  return hi + 1;
}

static size_t alternation(const char **pp, unsigned depth);

/* A branch: pieces, each an atom and its repetitions, until '|' or ')'. */
static size_t branch(const char **pp, unsigned depth)
{
  const char *p = *pp;
  size_t total = 0;

  while (*p != '\0' && *p != '|' && *p != ')') {
    size_t atom = 1;

    if (*p == '(') {
      p++;
      atom = add(alternation(&p, depth + 1), 1);
      if (*p == ')')
        p++;
    } else if (*p == '[') {
      p = skip_bracket(p);
    } else if (*p == '\\' && p[1] != '\0') {
      p += 2;
    } else {
      p++;
    }
    for (;;) {
      const char *end;
      size_t n;

      if (*p == '*' || *p == '?') {
        p++;
      } else if (*p == '+') {
        /* Written out as the atom and a starred copy. */
        atom = mul(atom, 2);
        p++;
      } else if (*p == '{' && (n = interval(p, &end)) != 0) {
        atom = mul(atom, n);
        p = end;
      } else {
        break;
      }
    }
    total = add(total, atom);
  }
  *pp = p;
  return total;
}

static size_t alternation(const char **pp, unsigned depth)
{
  size_t total;

  /* Deeper nesting than this is past the bound anyway. */
  if (depth > 256)
    return OVER;
  total = branch(pp, depth);
  while (**pp == '|') {
    (*pp)++;
    total = add(total, add(branch(pp, depth), 1));
  }
  return total;
}

size_t corun__regex_pieces(const char *pattern)
{
  const char *p = pattern;
  size_t total = 0;

  /* A stray ')' is a literal to ERE; count on past it. */
  for (;;) {
    total = add(total, alternation(&p, 0));
    if (*p == '\0')
      return total;
    p++;
  }
}

int corun__regex_compile(regex_t *re, const char *pattern, int flags,
                         struct corun_buf *why)
{
  char msg[160];
  int rc;

  if (corun__regex_pieces(pattern) > CORUN_REGEX_MAX_PIECES) {
    corun_buf_printf(why,
                     "repeats too much: written out, its counted repetitions "
                     "(such as {1000}) come to more than %d pieces",
                     CORUN_REGEX_MAX_PIECES);
    return -1;
  }
  rc = regcomp(re, pattern, REG_EXTENDED | flags);
  if (rc != 0) {
    regerror(rc, re, msg, sizeof(msg));
    corun_buf_puts(why, msg);
    return -1;
  }
  return 0;
}
