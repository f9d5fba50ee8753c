/* SPDX-License-Identifier: MIT */
/*
 * JSON pull parser with source offsets (see json.h for why not plain cJSON).
 * Strict RFC 8259: no comments, no trailing commas, UTF-8 checked, control
 * characters in strings rejected. Nesting is bounded so no input can
 * exhaust the stack.
 */
#include "json/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/bom.h"
#include "util/buf.h"

void corun_json_init(struct corun_json *p, const char *text, size_t len)
{
  memset(p, 0, sizeof(*p));
  p->text = text;
  p->len = len;
  /*
   * RFC 8259 lets a parser ignore a leading BOM; refusing a file for an
   * invisible mark would help nobody. Anywhere else it is an error.
   */
  p->pos = corun_bom_len(text, len);
}

void corun_json_free(struct corun_json *p)
{
  corun_buf_free(&p->scratch);
  corun_buf_free(&p->keybuf);
}

int corun_json_fail(struct corun_json *p, size_t off, const char *fmt, ...)
{
  va_list ap;

  if (p->failed)
    return -1;
  p->failed = 1;
  p->err_off = off;
  va_start(ap, fmt);
  vsnprintf(p->err_msg, sizeof(p->err_msg), fmt, ap);
  va_end(ap);
  return -1;
}

static void skip_ws(struct corun_json *p)
{
  while (p->pos < p->len) {
    char c = p->text[p->pos];

    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    p->pos++;
  }
}

static const char *describe(struct corun_json *p)
{
  static char what[32];
  unsigned char c;

  if (p->pos >= p->len)
    return "end of input";
  c = (unsigned char)p->text[p->pos];
  if (c >= 0x21 && c < 0x7f)
    snprintf(what, sizeof(what), "'%c'", c);
  else
    snprintf(what, sizeof(what), "byte 0x%02x", c);
  return what;
}

int corun_json_peek(struct corun_json *p)
{
  if (p->failed)
    return 0;
  skip_ws(p);
  return p->pos < p->len ? (unsigned char)p->text[p->pos] : 0;
}

size_t corun_json_offset(struct corun_json *p)
{
  skip_ws(p);
  return p->pos;
}

/*
 * "expected WHAT, found X" at the current position. A comment there gets
 * its own message: JSON written by hand often has one, and "found '/'"
 * would not say what is wrong.
 */
static int fail_found(struct corun_json *p, const char *what)
{
  if (p->pos + 1 < p->len && p->text[p->pos] == '/' &&
      (p->text[p->pos + 1] == '/' || p->text[p->pos + 1] == '*'))
    return corun_json_fail(p, p->pos, "JSON has no comments");
  return corun_json_fail(p, p->pos, "expected %s, found %s", what,
                         describe(p));
}

static int expect(struct corun_json *p, char c, const char *what)
{
  if (p->failed)
    return -1;
  skip_ws(p);
  if (p->pos < p->len && p->text[p->pos] == c) {
    p->pos++;
    return 0;
  }
  return fail_found(p, what);
}

static int enter(struct corun_json *p)
{
  int max = p->body ? CORUN_JSON_BODY_DEPTH : CORUN_JSON_MAX_DEPTH;

  /* Called just past the bracket; the error points at the bracket. */
  if (++p->depth > max)
    return corun_json_fail(p, p->pos - 1, "nesting deeper than %d levels",
                           max);
  return 0;
}

int corun_json_object_begin(struct corun_json *p)
{
  if (expect(p, '{', "'{'") < 0)
    return -1;
  return enter(p);
}

int corun_json_array_begin(struct corun_json *p)
{
  if (expect(p, '[', "'['") < 0)
    return -1;
  return enter(p);
}

int corun__hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int read_u4(struct corun_json *p, unsigned *out)
{
  unsigned v = 0;
  int i;

  if (p->pos + 4 > p->len)
    return corun_json_fail(p, p->pos, "truncated \\u escape");
  for (i = 0; i < 4; i++) {
    int h = corun__hexval(p->text[p->pos + (size_t)i]);

    if (h < 0)
      return corun_json_fail(p, p->pos, "invalid \\u escape");
    v = v * 16 + (unsigned)h;
  }
  p->pos += 4;
  *out = v;
  return 0;
}

static void put_utf8(struct corun_buf *b, unsigned cp)
{
  char u[4];

  if (cp < 0x80) {
    corun_buf_putc(b, (char)cp);
  } else if (cp < 0x800) {
    u[0] = (char)(0xc0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3f));
    corun_buf_add(b, u, 2);
  } else if (cp < 0x10000) {
    u[0] = (char)(0xe0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    corun_buf_add(b, u, 3);
  } else {
    u[0] = (char)(0xf0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (char)(0x80 | (cp & 0x3f));
    corun_buf_add(b, u, 4);
  }
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
  size_t len, i;
  unsigned cp;

  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    len = 2, cp = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    len = 3, cp = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    len = 4, cp = s[0] & 0x07;
  else
    return 0;
  if (n < len)
    return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return len;
}

/*
 * Reads a string literal into b (reset first). Most strings in a job file
 * are plain ASCII without escapes: copy those in one go.
 */
static void put_c(struct corun_buf *b, char c)
{
  if (b)
    corun_buf_putc(b, c);
}

/*
 * Reads a string literal into b (reset first), or only checks it when b is
 * NULL: skipping a value must find the same errors without the copying.
 * Most strings in a job file are plain ASCII without escapes: those are
 * taken in one go.
 */
/*
 * Where the run of plain ASCII from i ends: the first quote, backslash,
 * control character or non-ASCII byte, or len. Response bodies are
 * mostly such runs, so they are scanned 16 bytes at a time (SSE2, which
 * every x86-64 has), else 8.
 */
static size_t plain_run(const char *text, size_t i, size_t len)
{
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

#ifdef __SSE2__
  {
    /* 16 at a time; a signed compare below 0x20 also takes 0x80 and up. */
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);

    while (len - i >= 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(text + i));
      int hits = _mm_movemask_epi8(
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                    _mm_cmpeq_epi8(v, bslash)),
                       _mm_cmplt_epi8(v, space)));

      if (hits)
        return i + (size_t)__builtin_ctz((unsigned)hits);
      i += 16;
    }
  }
#endif
  while (len - i >= 8) {
    uint64_t w, quote, bslash;

    memcpy(&w, text + i, 8);
    quote = w ^ (ones * '"');
    bslash = w ^ (ones * '\\');
    /*
     * A high bit where a byte is zero after the xor (a quote or a
     * backslash), below 0x20, or 0x80 and up. False alarms only come
     * after a true one in the word, and the byte loop below sorts it out.
     */
    if ((((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) |
         (w - ones * 0x20) | w) &
        highs)
      break;
    i += 8;
  }
  for (; i < len; i++) {
    unsigned char c = (unsigned char)text[i];

    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
      break;
  }
  return i;
}

static int read_string(struct corun_json *p, struct corun_buf *b)
{
  size_t start, i;

  if (expect(p, '"', "a string") < 0)
    return -1;
  if (b)
    corun_buf_reset(b);
  start = p->pos;
  i = plain_run(p->text, start, p->len);
  if (b)
    corun_buf_add(b, p->text + start, i - start);
  p->pos = i;
  for (;;) {
    unsigned char c;

    if (p->pos >= p->len)
      return corun_json_fail(p, start - 1, "unterminated string");
    c = (unsigned char)p->text[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20)
      return corun_json_fail(p, p->pos,
                             "control character 0x%02x in string (escape it)",
                             c);
    if (c == '\\') {
      unsigned cp;
      size_t esc_at = p->pos;

      p->pos++;
      if (p->pos >= p->len)
        continue;
      c = (unsigned char)p->text[p->pos++];
      switch (c) {
      case '"':
      case '\\':
      case '/':
        put_c(b, (char)c);
        break;
      case 'b':
        put_c(b, '\b');
        break;
      case 'f':
        put_c(b, '\f');
        break;
      case 'n':
        put_c(b, '\n');
        break;
      case 'r':
        put_c(b, '\r');
        break;
      case 't':
        put_c(b, '\t');
        break;
      case 'u':
        if (read_u4(p, &cp) < 0)
          return -1;
        /*
         * A body is read as RFC 8259 reads it: \u0000 and a lone
         * surrogate are JSON there, kept as U+FFFD (a string here ends at
         * a NUL, and is UTF-8). A job file has no use for either.
         */
        if (cp >= 0xd800 && cp <= 0xdbff) {
          unsigned lo = 0;
          size_t back = p->pos;

          if (p->pos + 2 <= p->len && p->text[p->pos] == '\\' &&
              p->text[p->pos + 1] == 'u') {
            p->pos += 2;
            if (read_u4(p, &lo) < 0)
              return -1;
          }
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (p->body) {
            p->pos = back; /* what follows is read as itself */
            cp = 0xfffd;
          } else {
            return corun_json_fail(p, esc_at,
                                   "unpaired surrogate in \\u escape");
          }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          if (!p->body)
            return corun_json_fail(p, esc_at,
                                   "unpaired surrogate in \\u escape");
          cp = 0xfffd;
        } else if (cp == 0) {
          if (!p->body)
            return corun_json_fail(p, esc_at,
                                   "\\u0000 is not allowed in strings");
          cp = 0xfffd;
        }
        if (b)
          put_utf8(b, cp);
        break;
      default:
        return corun_json_fail(p, esc_at, "invalid escape '\\%c'",
                               c >= 0x21 && c < 0x7f ? c : '?');
      }
      continue;
    }
    {
      size_t n = utf8_len((const unsigned char *)p->text + p->pos,
                          p->len - p->pos);

      if (n == 0)
        return corun_json_fail(p, p->pos, "invalid UTF-8 in string");
      if (b)
        corun_buf_add(b, p->text + p->pos, n);
      p->pos += n;
    }
  }
  if (b == NULL)
    return 0;
  if (b->oom)
    return corun_json_fail(p, start, "out of memory");
  corun_buf_putc(b, '\0');
  b->len--; /* keep the terminator; an empty string still has one */
  return 0;
}

int corun_json_object_next(struct corun_json *p, int *count,
                           const char **key, size_t *key_off)
{
  int c = corun_json_peek(p);

  if (p->failed)
    return -1;
  if (c == '}') {
    p->pos++;
    p->depth--;
    return 0;
  }
  if (*count > 0) {
    if (c != ',')
      return fail_found(p, "',' or '}'");
    p->pos++;
    c = corun_json_peek(p);
  }
  if (c != '"') {
    if (c == '}' && *count > 0)
      return corun_json_fail(p, p->pos, "trailing comma before '}'");
    return fail_found(p, "a member name");
  }
  *key_off = p->pos;
  if (read_string(p, &p->keybuf) < 0)
    return -1;
  *key = corun_buf_str(&p->keybuf);
  if (expect(p, ':', "':'") < 0)
    return -1;
  (*count)++;
  return 1;
}

int corun_json_array_next(struct corun_json *p, int *count)
{
  int c = corun_json_peek(p);

  if (p->failed)
    return -1;
  if (c == ']') {
    p->pos++;
    p->depth--;
    return 0;
  }
  if (*count > 0) {
    if (c != ',')
      return fail_found(p, "',' or ']'");
    p->pos++;
    if (corun_json_peek(p) == ']')
      return corun_json_fail(p, p->pos, "trailing comma before ']'");
  }
  (*count)++;
  return 1;
}

static int read_literal(struct corun_json *p, const char *word)
{
  size_t n = strlen(word);

  if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
    return corun_json_fail(p, p->pos, "expected a value, found %s",
                           describe(p));
  p->pos += n;
  return 0;
}

static int read_number(struct corun_json *p, double *out)
{
  size_t start = p->pos, i = p->pos;
  const char *t = p->text;
  char tmp[64], *copy = tmp, *end;
  size_t n;

  if (i < p->len && t[i] == '-')
    i++;
  if (i < p->len && t[i] == '0') {
    i++;
    if (i < p->len && t[i] >= '0' && t[i] <= '9')
      return corun_json_fail(p, start, "invalid number: leading zeros are "
                                       "not allowed");
  } else if (i < p->len && t[i] >= '1' && t[i] <= '9') {
    while (i < p->len && t[i] >= '0' && t[i] <= '9')
      i++;
  } else {
    return corun_json_fail(p, start, "invalid number");
  }
  if (i < p->len && t[i] == '.') {
    i++;
    if (i >= p->len || t[i] < '0' || t[i] > '9')
      return corun_json_fail(p, start, "invalid number");
    while (i < p->len && t[i] >= '0' && t[i] <= '9')
      i++;
  }
  if (i < p->len && (t[i] == 'e' || t[i] == 'E')) {
    i++;
    if (i < p->len && (t[i] == '+' || t[i] == '-'))
      i++;
    if (i >= p->len || t[i] < '0' || t[i] > '9')
      return corun_json_fail(p, start, "invalid number");
    while (i < p->len && t[i] >= '0' && t[i] <= '9')
      i++;
  }
  n = i - start;
  /* Plain integers (ids, counts, whole seconds) need no strtod. */
  if (n <= 15) {
    size_t k = start + (t[start] == '-');
    double v = 0;

    while (k < i && t[k] >= '0' && t[k] <= '9')
      v = v * 10 + (t[k++] - '0');
    if (k == i) {
      *out = t[start] == '-' ? -v : v;
      p->pos = i;
      return 0;
    }
  }
  if (n >= sizeof(tmp)) {
    copy = malloc(n + 1);
    if (copy == NULL)
      return corun_json_fail(p, start, "out of memory");
  }
  memcpy(copy, t + start, n);
  copy[n] = '\0';
  errno = 0;
  *out = strtod(copy, &end);
  if (copy != tmp)
    free(copy);
  /* A body may say 1e400 (it is JSON); a job file means something else. */
  if (!isfinite(*out) && !p->body)
    return corun_json_fail(p, start, "number out of range");
  p->pos = i;
  return 0;
}

static int note(struct corun_json *p, cJSON *node, size_t off)
{
  if (node == NULL)
    return corun_json_fail(p, off, "out of memory");
  if (!p->body)
    node->valueint = (int)off;
  return 0;
}

/* Whether obj has key: 1 or 0, or -1 when out of memory. */
static int has_key(cJSON *obj, const char *key, int n,
                   struct corun_strmap *seen)
{
  cJSON *it;

  /* Small objects are the rule; a map only pays off for large ones. */
  if (n < 16) {
    for (it = obj->child; it; it = it->next)
      if (strcmp(it->string, key) == 0)
        return 1;
    return 0;
  }
  if (seen->len == 0)
    for (it = obj->child; it; it = it->next)
      if (corun_strmap_put(seen, it->string, it, NULL) < 0)
        return -1;
  return corun_strmap_get(seen, key) != NULL;
}

static int parse_value(struct corun_json *p, cJSON **out);

static int parse_object(struct corun_json *p, cJSON **out)
{
  size_t off = corun_json_offset(p);
  struct corun_strmap seen = {0};
  cJSON *obj;
  int n = 0, r;

  if (corun_json_object_begin(p) < 0)
    return -1;
  obj = cJSON_CreateObject();
  if (note(p, obj, off) < 0)
    return -1;
  for (;;) {
    const char *k = NULL;
    char *key;
    size_t key_off;
    cJSON *val = NULL;

    r = corun_json_object_next(p, &n, &k, &key_off);
    if (r <= 0)
      break;
    r = p->body ? 0 : has_key(obj, k, n - 1, &seen);
    if (r != 0) {
      if (r < 0)
        corun_json_fail(p, key_off, "out of memory");
      else
        corun_json_fail(p, key_off, "duplicate key \"%s\"", k);
      r = -1;
      break;
    }
    /* The borrowed name dies when the value's own members are read. */
    key = strdup(k);
    if (key == NULL || parse_value(p, &val) < 0) {
      if (key == NULL)
        corun_json_fail(p, key_off, "out of memory");
      free(key);
      r = -1;
      break;
    }
    if (!cJSON_AddItemToObject(obj, key, val)) {
      cJSON_Delete(val);
      val = NULL;
    }
    free(key);
    /* The map borrows the name cJSON owns, not our temporary copy. */
    if (val == NULL ||
        (seen.len > 0 &&
         corun_strmap_put(&seen, obj->child->prev->string, val, NULL) < 0)) {
      corun_json_fail(p, key_off, "out of memory");
      r = -1;
      break;
    }
  }
  corun_strmap_free(&seen);
  if (r < 0) {
    cJSON_Delete(obj);
    return -1;
  }
  *out = obj;
  return 0;
}

static int parse_array(struct corun_json *p, cJSON **out)
{
  size_t off = corun_json_offset(p);
  cJSON *arr;
  int n = 0, r;

  if (corun_json_array_begin(p) < 0)
    return -1;
  arr = cJSON_CreateArray();
  if (note(p, arr, off) < 0)
    return -1;
  while ((r = corun_json_array_next(p, &n)) > 0) {
    cJSON *val = NULL;

    if (parse_value(p, &val) < 0) {
      r = -1;
      break;
    }
    cJSON_AddItemToArray(arr, val);
  }
  if (r < 0) {
    cJSON_Delete(arr);
    return -1;
  }
  *out = arr;
  return 0;
}

static int parse_value(struct corun_json *p, cJSON **out)
{
  int c = corun_json_peek(p);
  size_t off = p->pos;
  double d;

  *out = NULL;
  if (p->failed)
    return -1;
  switch (c) {
  case '{':
    return parse_object(p, out);
  case '[':
    return parse_array(p, out);
  case '"':
    if (read_string(p, &p->scratch) < 0)
      return -1;
    *out = cJSON_CreateString(corun_buf_str(&p->scratch));
    return note(p, *out, off);
  case 't':
    if (read_literal(p, "true") < 0)
      return -1;
    *out = cJSON_CreateTrue();
    return note(p, *out, off);
  case 'f':
    if (read_literal(p, "false") < 0)
      return -1;
    *out = cJSON_CreateFalse();
    return note(p, *out, off);
  case 'n':
    if (read_literal(p, "null") < 0)
      return -1;
    *out = cJSON_CreateNull();
    return note(p, *out, off);
  default:
    if (c == '-' || (c >= '0' && c <= '9')) {
      if (read_number(p, &d) < 0)
        return -1;
      *out = cJSON_CreateNumber(d);
      return note(p, *out, off);
    }
    if (c == 0)
      return corun_json_fail(p, off, "expected a value, found end of input");
    return fail_found(p, "a value");
  }
}

int corun_json_value(struct corun_json *p, cJSON **out)
{
  return parse_value(p, out);
}

int corun_json_skip(struct corun_json *p)
{
  int c = corun_json_peek(p), n = 0, r;
  const char *key;
  size_t key_off;
  double d;

  switch (c) {
  case '{':
    if (corun_json_object_begin(p) < 0)
      return -1;
    while ((r = corun_json_object_next(p, &n, &key, &key_off)) > 0)
      if (corun_json_skip(p) < 0)
        return -1;
    return r;
  case '[':
    if (corun_json_array_begin(p) < 0)
      return -1;
    while ((r = corun_json_array_next(p, &n)) > 0)
      if (corun_json_skip(p) < 0)
        return -1;
    return r;
  case '"':
    return read_string(p, NULL);
  case 't':
    return read_literal(p, "true");
  case 'f':
    return read_literal(p, "false");
  case 'n':
    return read_literal(p, "null");
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return read_number(p, &d);
    return fail_found(p, "a value");
  }
}

int corun_json_end(struct corun_json *p)
{
  if (p->failed)
    return -1;
  skip_ws(p);
  if (p->pos + 1 < p->len && p->text[p->pos] == '/' &&
      (p->text[p->pos + 1] == '/' || p->text[p->pos + 1] == '*'))
    return fail_found(p, "nothing");
  if (p->pos < p->len)
    return corun_json_fail(p, p->pos,
                           "unexpected %s after the end of the document",
                           describe(p));
  return 0;
}

size_t corun_json_where(const struct corun_json *p, const cJSON *node)
{
  (void)p;
  return node->valueint > 0 ? (size_t)node->valueint : 0;
}

void corun_json_line_col(const char *text, size_t len, size_t off,
                         unsigned *line, unsigned *col)
{
  size_t i, bol = 0;
  unsigned l = 1;

  if (off > len)
    off = len;
  /* The BOM is invisible in an editor: columns on line 1 start after it. */
  if (off >= CORUN_BOM_LEN && corun_bom_len(text, len)) {
    text += CORUN_BOM_LEN;
    len -= CORUN_BOM_LEN;
    off -= CORUN_BOM_LEN;
  }
  for (i = 0; i < off; i++) {
    if (text[i] == '\n') {
      l++;
      bol = i + 1;
    }
  }
  *line = l;
  *col = (unsigned)(off - bol + 1);
}
