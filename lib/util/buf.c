/* SPDX-License-Identifier: MIT */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void corun_buf_stream(struct corun_buf *b, size_t size,
                      int (*sink)(void *arg, const char *data, size_t n),
                      void *arg)
{
  b->p = malloc(size);
  b->len = 0;
  b->cap = b->p ? size : 0;
  b->oom = b->p == NULL;
  if (b->p)
    b->p[0] = '\0';
  b->sink = sink;
  b->sink_arg = arg;
  b->sink_err = 0;
}

int corun_buf_flush(struct corun_buf *b)
{
  if (b->sink && b->len) {
    if (b->sink_err == 0)
      b->sink_err = b->sink(b->sink_arg, b->p, b->len);
    b->len = 0;
    b->p[0] = '\0';
  }
  return b->sink_err;
}

static int grow(struct corun_buf *b, size_t extra)
{
  size_t want;
  char *np;

  if (b->oom)
    return -1;
  if (b->len + extra + 1 <= b->cap)
    return 0;
  if (b->sink && b->len) {
    corun_buf_flush(b);
    if (extra + 1 <= b->cap)
      return 0;
  }
  want = b->cap ? b->cap : 64;
  while (want < b->len + extra + 1) {
    if (want > ((size_t)-1) / 2) {
      b->oom = 1;
      return -1;
    }
    want *= 2;
  }
  np = realloc(b->p, want);
  if (np == NULL) {
    b->oom = 1;
    return -1;
  }
  b->p = np;
  b->cap = want;
  return 0;
}

void corun_buf_add(struct corun_buf *b, const void *data, size_t n)
{
  if (grow(b, n) < 0)
    return;
  memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void corun_buf_puts(struct corun_buf *b, const char *s)
{
  corun_buf_add(b, s, strlen(s));
}

void corun_buf_putc(struct corun_buf *b, char c)
{
  corun_buf_add(b, &c, 1);
}

void corun_buf_vprintf(struct corun_buf *b, const char *fmt, va_list ap)
{
  va_list ap2;
  int n;

  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0 || grow(b, (size_t)n) < 0)
    return;
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void corun_buf_printf(struct corun_buf *b, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  corun_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

const char *corun_buf_str(const struct corun_buf *b)
{
  return b->p ? b->p : "";
}

char *corun_buf_detach(struct corun_buf *b)
{
  char *s = b->p;

  if (b->oom) {
    free(b->p);
    s = NULL;
  } else if (s == NULL) {
    s = calloc(1, 1);
  }
  b->p = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
  return s;
}

void corun_buf_reset(struct corun_buf *b)
{
  b->len = 0;
  if (b->p)
    b->p[0] = '\0';
}

void corun__buf_restart(struct corun_buf *b)
{
  corun_buf_reset(b);
  b->oom = 0;
}

void corun_buf_free(struct corun_buf *b)
{
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

void corun_buf_escaped(struct corun_buf *b, const char *s, size_t max)
{
  size_t wrote = 0; /* not b->len's growth: a sink may empty b meanwhile */
  size_t left = strlen(s);

  while (left) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    size_t n = 1, bad;

    if (max && wrote >= max) {
      corun_buf_puts(b, "...");
      return;
    }
    if (c == '\n' || c == '\r') {
      corun_buf_puts(b, c == '\n' ? "\\n" : "\\r");
      wrote += 2;
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      corun_buf_printf(b, "\\x%02x", c);
      wrote += 4;
    } else if (c < 0x80) {
      corun_buf_putc(b, (char)c);
      wrote++;
    } else if ((n = corun__utf8_seq(u, left, &bad)) == 0) {
      /* Not UTF-8: a terminal would take its own meaning from it. */
      n = 1;
      corun_buf_printf(b, "\\x%02x", c);
      wrote += 4;
    } else if (c == 0xc2 && u[1] < 0xa0) {
      /* U+0080 to U+009F: C1 controls, CSI (U+009B) among them. */
      corun_buf_printf(b, "\\u%04x", (unsigned)u[1]);
      wrote += 6;
    } else {
      corun_buf_add(b, s, n);
      wrote += n;
    }
    s += n;
    left -= n;
  }
}

void corun__buf_add_text(struct corun_buf *b, const char *p, size_t n)
{
  const char *nul;

  while ((nul = memchr(p, '\0', n)) != NULL) {
    corun_buf_add(b, p, (size_t)(nul - p));
    corun_buf_add(b, "\xef\xbf\xbd", 3);
    n -= (size_t)(nul - p) + 1;
    p = nul + 1;
  }
  corun_buf_add(b, p, n);
}

/*
 * *bad counts the lead byte and the continuation bytes that fit it (the
 * "maximal subpart" of Unicode's chapter 3, as Python and browsers count).
 */
size_t corun__utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
  unsigned char c = s[0], lo = 0x80, hi = 0xbf;
  size_t len, k;

  *bad = 1;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4;
  else
    return 0;
  /* No overlong forms, no surrogates, nothing past U+10FFFF. */
  if (c == 0xe0)
    lo = 0xa0;
  else if (c == 0xed)
    hi = 0x9f;
  else if (c == 0xf0)
    lo = 0x90;
  else if (c == 0xf4)
    hi = 0x8f;
  for (k = 1; k < len; k++) {
    unsigned char d;

    if (k >= n)
      return 0;
    d = s[k];
    if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xbf))
      return 0;
    *bad = k + 1;
  }
  return len;
}

void corun_buf_json_str(struct corun_buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  size_t i = 0, run = 0, len, bad;

  corun_buf_putc(b, '"');
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    char esc[7];

    if (c >= 0x80) {
      /* JSON is UTF-8: bytes of anything else become U+FFFD. */
      len = corun__utf8_seq((const unsigned char *)s + i, n - i, &bad);
      if (len) {
        i += len;
        continue;
      }
      corun_buf_add(b, s + run, i - run);
      corun_buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD */
      i += bad;
      run = i;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
      i++;
      continue;
    }
    corun_buf_add(b, s + run, i - run);
    run = ++i;
    switch (c) {
    case '"':
      corun_buf_puts(b, "\\\"");
      break;
    case '\\':
      corun_buf_puts(b, "\\\\");
      break;
    case '\n':
      corun_buf_puts(b, "\\n");
      break;
    case '\r':
      corun_buf_puts(b, "\\r");
      break;
    case '\t':
      corun_buf_puts(b, "\\t");
      break;
    default:
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      corun_buf_add(b, esc, 6);
    }
  }
  corun_buf_add(b, s + run, n - run);
  corun_buf_putc(b, '"');
}
