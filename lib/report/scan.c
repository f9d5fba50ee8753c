/* SPDX-License-Identifier: MIT */
/*
 * Reading a report in pieces (merge.h): a window over the file that holds
 * the value being looked at and little else, so a report of a million
 * tasks is read one task at a time. Only the bounds of a value are found
 * here (brackets, strings); cJSON parses what lies between them.
 */
#include "report/merge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW (64 * 1024)
/* Deeper than any report corun writes; deeper still is no report. */
#define MAX_DEPTH 512

int corun__mscan_open(struct mscan *s, const char *path)
{
  memset(s, 0, sizeof(*s));
  s->path = path;
  s->line = s->col = 1;
  s->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0)
    return errno;
  s->buf = malloc(WINDOW);
  if (s->buf == NULL) {
    close(s->fd);
    s->fd = -1;
    return ENOMEM;
  }
  s->cap = WINDOW;
  return 0;
}

int corun__mscan_seek(struct mscan *s, off_t off, unsigned long line,
                      unsigned long col)
{
  if (lseek(s->fd, off, SEEK_SET) < 0)
    return errno;
  s->beg = s->end = 0;
  s->off = off;
  s->eof = 0;
  s->err = 0;
  s->line = line;
  s->col = col;
  return 0;
}

void corun__mscan_close(struct mscan *s)
{
  if (s->fd >= 0)
    close(s->fd);
  s->fd = -1;
  free(s->buf);
  s->buf = NULL;
}

/* Make at least want bytes available past beg; 0 when the file ends first. */
static int fill(struct mscan *s, size_t want)
{
  while (s->end - s->beg < want) {
    ssize_t n;

    if (s->eof || s->err)
      return 0;
    if (s->beg > 0 && s->end == s->cap) {
      memmove(s->buf, s->buf + s->beg, s->end - s->beg);
      s->off += (off_t)s->beg;
      s->end -= s->beg;
      s->beg = 0;
    }
    if (s->end == s->cap) {
      char *nb = realloc(s->buf, s->cap * 2);

      if (nb == NULL) {
        s->err = ENOMEM;
        return 0;
      }
      s->buf = nb;
      s->cap *= 2;
    }
    n = read(s->fd, s->buf + s->end, s->cap - s->end);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      s->err = errno;
      return 0;
    }
    if (n == 0)
      s->eof = 1;
    s->end += (size_t)n;
  }
  return 1;
}

void corun__mscan_take(struct mscan *s, size_t n)
{
  const char *p = s->buf + s->beg, *e = p + n, *nl;

  while ((nl = memchr(p, '\n', (size_t)(e - p))) != NULL) {
    s->line++;
    s->col = 1;
    p = nl + 1;
  }
  s->col += (unsigned long)(e - p);
  s->beg += n;
  if (s->beg == s->end) {
    s->off += (off_t)s->end;
    s->beg = s->end = 0;
  }
}

off_t corun__mscan_tell(const struct mscan *s)
{
  return s->off + (off_t)s->beg;
}

void corun__mscan_where(const struct mscan *s, size_t at, unsigned long *line,
                        unsigned long *col)
{
  const char *p = s->buf + s->beg, *e = p + at, *nl;

  *line = s->line;
  *col = s->col;
  while ((nl = memchr(p, '\n', (size_t)(e - p))) != NULL) {
    ++*line;
    *col = 1;
    p = nl + 1;
  }
  *col += (unsigned long)(e - p);
}

int corun__mscan_peek(struct mscan *s)
{
  for (;;) {
    unsigned char c;

    if (!fill(s, 1))
      return -1;
    c = (unsigned char)s->buf[s->beg];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return c;
    corun__mscan_take(s, 1);
  }
}

static int scalar_byte(unsigned char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '+' || c == '-' || c == '.';
}

int corun__mscan_value(struct mscan *s, size_t *len, const char **why,
                       size_t *at)
{
  char stack[MAX_DEPTH];
  size_t i = 0, depth = 0;
  int in_str = 0;

  if (!fill(s, 1)) {
    *why = s->err ? strerror(s->err) : "the file ends where a value should be";
    *at = 0;
    return -1;
  }
  for (;;) {
    unsigned char c;

    if (!fill(s, i + 1)) {
      if (s->err) {
        *why = strerror(s->err);
        *at = i;
        return -1;
      }
      /* A scalar may end the file; anything open may not. */
      if (!in_str && depth == 0 && i > 0) {
        *len = i;
        return 0;
      }
      *why = in_str ? "the file ends inside a string"
                    : "the file ends inside an object or array";
      *at = i;
      return -1;
    }
    c = (unsigned char)s->buf[s->beg + i];
    if (in_str) {
      if (c == '\\') {
        i++;
        if (!fill(s, i + 1)) {
          *why = "the file ends inside a string";
          *at = i;
          return -1;
        }
      } else if (c == '"') {
        in_str = 0;
        if (depth == 0) {
          *len = i + 1;
          return 0;
        }
      }
      i++;
      continue;
    }
    switch (c) {
    case '"':
      in_str = 1;
      break;
    case '{':
    case '[':
      if (depth == MAX_DEPTH) {
        *why = "nested too deeply";
        *at = i;
        return -1;
      }
      stack[depth++] = (char)(c == '{' ? '}' : ']');
      break;
    case '}':
    case ']':
      if (depth == 0 || stack[depth - 1] != (char)c) {
        *why = depth == 0 ? "a value was expected" : "brackets do not match";
        *at = i;
        return -1;
      }
      if (--depth == 0) {
        *len = i + 1;
        return 0;
      }
      break;
    default:
      if (depth == 0) {
        if (scalar_byte(c)) {
          i++;
          continue;
        }
        if (i == 0) {
          *why = "a value was expected";
          *at = 0;
          return -1;
        }
        *len = i;
        return 0;
      }
    }
    i++;
  }
}
