/* SPDX-License-Identifier: MIT */
/*
 * The positional JSON pull parser (lib/json/json.h). The loader's error
 * positions, duplicate-key errors and stack safety all come from here, so
 * each is checked on the parser directly, away from job-file semantics.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "json/json.h"
#include "json/pick.h"
#include "json/write.h"

TestSuite(json, .timeout = 10);

/*
 * Out of memory on demand: when fail_after counts down to 0, that one
 * malloc, calloc or realloc fails (the library's and cJSON's included) and
 * fail_after becomes -2; -1 fails nothing. One failure, the rest served,
 * is what finds a failure noticed but not acted on. Not under ASan, whose
 * allocator must see every allocation.
 */
#if !defined(__SANITIZE_ADDRESS__)
#define CAN_FAIL_ALLOCS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
static long fail_after = -1;

static int alloc_fails(void)
{
  if (fail_after < 0)
    return 0;
  if (fail_after == 0) {
    fail_after = -2;
    return 1;
  }
  fail_after--;
  return 0;
}

void *malloc(size_t n)
{
  return alloc_fails() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
  return alloc_fails() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
  return alloc_fails() ? NULL : __libc_realloc(p, n);
}
#endif

/* A whole document parsed with the parser kept, so offsets can be asked. */
struct doc {
  struct corun_json p;
  cJSON *root;
};

static struct doc *parse_ok_n(const char *text, size_t len)
{
  struct doc *d = calloc(1, sizeof(*d));

  cr_assert_not_null(d);
  corun_json_init(&d->p, text, len);
  cr_assert_eq(corun_json_value(&d->p, &d->root), 0, "parse failed at %zu: %s",
               d->p.err_off, d->p.err_msg);
  cr_assert_eq(corun_json_end(&d->p), 0, "trailing input at %zu: %s",
               d->p.err_off, d->p.err_msg);
  cr_assert_not_null(d->root);
  return d;
}

static struct doc *parse_ok(const char *text)
{
  return parse_ok_n(text, strlen(text));
}

static void doc_free(struct doc *d)
{
  cJSON_Delete(d->root);
  corun_json_free(&d->p);
  free(d);
}

/*
 * Parse text as one document expecting a syntax error; returns its offset
 * and copies the message into msg.
 */
static size_t parse_err_n(const char *text, size_t len, char *msg, size_t n)
{
  struct corun_json p;
  cJSON *v = NULL;
  int r;
  size_t off;

  corun_json_init(&p, text, len);
  r = corun_json_value(&p, &v);
  if (r == 0)
    r = corun_json_end(&p);
  cr_assert_eq(r, -1, "\"%.*s\" parsed", (int)len, text);
  cr_assert(p.failed);
  if (v)
    cJSON_Delete(v);
  snprintf(msg, n, "%s", p.err_msg);
  off = p.err_off;
  corun_json_free(&p);
  return off;
}

static size_t parse_err(const char *text, char *msg, size_t n)
{
  return parse_err_n(text, strlen(text), msg, n);
}

#define assert_err(text, want_off, want_msg)                                   \
  do {                                                                         \
    char m_[256];                                                              \
    size_t o_ = parse_err((text), m_, sizeof(m_));                             \
    cr_expect_str_eq(m_, (want_msg), "for %s", (text));                        \
    cr_expect_eq(o_, (size_t)(want_off), "for %s: offset %zu, want %zu",       \
                 (text), o_, (size_t)(want_off));                              \
  } while (0)

Test(json, value_offsets)
{
  const char *text = "{\"a\": [1, \"two\", {\"b\": null}],\n"
                     "  \"c\": true, \"d\": -2.5e3}";
  struct doc *d = parse_ok(text);
  cJSON *a = cJSON_GetObjectItemCaseSensitive(d->root, "a");
  cJSON *c = cJSON_GetObjectItemCaseSensitive(d->root, "c");
  cJSON *dd = cJSON_GetObjectItemCaseSensitive(d->root, "d");
  cJSON *b = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, 2), "b");

  /* Every value's offset is where its first character stands. */
  cr_assert_eq(corun_json_where(&d->p, d->root), 0);
  cr_assert_eq(corun_json_where(&d->p, a), strchr(text, '[') - text);
  cr_assert_eq(corun_json_where(&d->p, cJSON_GetArrayItem(a, 0)),
               strchr(text, '1') - text);
  cr_assert_eq(corun_json_where(&d->p, cJSON_GetArrayItem(a, 1)),
               strstr(text, "\"two\"") - text);
  cr_assert_eq(corun_json_where(&d->p, cJSON_GetArrayItem(a, 2)),
               strstr(text, "{\"b\"") - text);
  cr_assert_eq(corun_json_where(&d->p, b), strstr(text, "null") - text);
  cr_assert_eq(corun_json_where(&d->p, c), strstr(text, "true") - text);
  cr_assert_eq(corun_json_where(&d->p, dd), strstr(text, "-2.5e3") - text);
  cr_assert_float_eq(dd->valuedouble, -2500, 1e-9);
  doc_free(d);
}

Test(json, where_unknown_node_is_zero)
{
  struct doc *d = parse_ok("[1]");
  cJSON *other = cJSON_CreateNull();

  cr_assert_eq(corun_json_where(&d->p, other), 0);
  cJSON_Delete(other);
  doc_free(d);
}

Test(json, line_col)
{
  const char *t = "ab\ncd\n\n\tx";
  unsigned line, col;

  corun_json_line_col(t, strlen(t), 0, &line, &col);
  cr_assert(line == 1 && col == 1);
  corun_json_line_col(t, strlen(t), 1, &line, &col);
  cr_assert(line == 1 && col == 2);
  /* The newline itself still belongs to its line. */
  corun_json_line_col(t, strlen(t), 2, &line, &col);
  cr_assert(line == 1 && col == 3);
  corun_json_line_col(t, strlen(t), 3, &line, &col);
  cr_assert(line == 2 && col == 1, "%u:%u", line, col);
  corun_json_line_col(t, strlen(t), 6, &line, &col);
  cr_assert(line == 3 && col == 1, "%u:%u", line, col);
  /* Columns count bytes: a tab is one. */
  corun_json_line_col(t, strlen(t), 8, &line, &col);
  cr_assert(line == 4 && col == 2, "%u:%u", line, col);
  /* Past the end clamps to the end. */
  corun_json_line_col(t, strlen(t), 1000, &line, &col);
  cr_assert(line == 4 && col == 3, "%u:%u", line, col);
}

Test(json, line_col_crlf)
{
  const char *t = "{\r\n  \"a\": 1\r\n}";
  unsigned line, col;

  corun_json_line_col(t, strlen(t), (size_t)(strchr(t, '1') - t), &line, &col);
  cr_assert(line == 2 && col == 8, "%u:%u", line, col);
}

Test(json, duplicate_keys_rejected)
{
  /* The error points at the second key, where the reader must look. */
  assert_err("{\"a\": 1, \"a\": 2}", 9, "duplicate key \"a\"");
  assert_err("{\"a\": {\"b\": 1,\n \"b\": 2}}", 16, "duplicate key \"b\"");
  assert_err("[{\"x\": 1, \"y\": 2, \"x\": 3}]", 18, "duplicate key \"x\"");
}

Test(json, duplicate_keys_after_unescaping)
{
  /* Keys compare as decoded strings: "a\u0062" is "ab". */
  assert_err("{\"ab\": 1, \"a\\u0062\": 2}", 10, "duplicate key \"ab\"");
}

Test(json, duplicate_keys_are_case_sensitive)
{
  struct doc *d = parse_ok("{\"kind\": 1, \"Kind\": 2, \"KIND\": 3}");

  cr_assert_eq(cJSON_GetArraySize(d->root), 3);
  doc_free(d);
}

Test(json, same_key_in_different_objects_is_fine)
{
  struct doc *d = parse_ok("{\"a\": {\"a\": {\"a\": 1}}, \"b\": [{\"a\": 1}, "
                           "{\"a\": 2}]}");

  doc_free(d);
}

/* Objects with many members take another path (a hash map) for the check. */
Test(json, duplicate_keys_in_large_objects)
{
  char text[4096];
  size_t n = 0;
  int i, k;
  char m[256];
  struct doc *d;

  for (k = 0; k < 3; k++) {
    int dup = k == 0 ? 3 : k == 1 ? 17 : 39;
    size_t dup_off;

    n = (size_t)snprintf(text, sizeof(text), "{");
    for (i = 0; i < 40; i++)
      n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k%d\": %d, ", i, i);
    dup_off = n;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k%d\": 0}", dup);
    cr_assert_eq(parse_err(text, m, sizeof(m)), dup_off, "dup k%d", dup);
    cr_assert(strstr(m, "duplicate key") != NULL, "%s", m);
  }
  /* And no false alarm in a large object without duplicates. */
  n = (size_t)snprintf(text, sizeof(text), "{");
  for (i = 0; i < 100; i++)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"k%d\": %d",
                          i ? ", " : "", i, i);
  snprintf(text + n, sizeof(text) - n, "}");
  d = parse_ok(text);
  cr_assert_eq(cJSON_GetArraySize(d->root), 100);
  doc_free(d);
}

Test(json, numbers_valid)
{
  static const struct {
    const char *text;
    double want;
  } cases[] = {
      {"0", 0},         {"-0", 0},          {"7", 7},
      {"-12", -12},     {"1.5", 1.5},       {"0.25", 0.25},
      {"1e3", 1000},    {"1E3", 1000},      {"1e+3", 1000},
      {"1e-3", 0.001},  {"-2.5E-1", -0.25}, {"123456789012", 123456789012.0},
      {"1e308", 1e308},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct doc *d = parse_ok(cases[i].text);

    cr_assert(cJSON_IsNumber(d->root), "%s", cases[i].text);
    cr_assert_float_eq(d->root->valuedouble, cases[i].want,
                       1e-9 * (cases[i].want < 0 ? -cases[i].want : 1), "%s",
                       cases[i].text);
    doc_free(d);
  }
}

Test(json, numbers_invalid_grammar)
{
  static const char *const bad[] = {
      "01",  "-",   "1.",   ".5",  "+1",       "1e",        "1e+",   "--1",
      "- 1", "0x1", "1.e3", "NaN", "Infinity", "-Infinity", "1_000", "00",
  };
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char m[256];

    parse_err(bad[i], m, sizeof(m));
  }
  /* Numbers that strtod cannot hold are errors, not infinities. */
  assert_err("1e999", 0, "number out of range");
  assert_err("[1, -1e400]", 4, "number out of range");
  assert_err("[1.]", 1, "invalid number");
  assert_err("[-]", 1, "invalid number");
}

Test(json, long_numbers)
{
  /* Longer than the parser's stack buffer for the digits. */
  char text[300];
  struct doc *d;

  memset(text, '0', sizeof(text) - 1);
  text[0] = '1';
  text[1] = '.';
  text[sizeof(text) - 1] = '\0';
  d = parse_ok(text);
  cr_assert_float_eq(d->root->valuedouble, 1.0, 1e-12);
  doc_free(d);
}

static char *str_of(const char *text)
{
  struct doc *d = parse_ok(text);
  char *s;

  cr_assert(cJSON_IsString(d->root), "%s", text);
  s = strdup(d->root->valuestring);
  doc_free(d);
  return s;
}

#define assert_str(text, want)                                                 \
  do {                                                                         \
    char *s_ = str_of(text);                                                   \
    cr_expect_str_eq(s_, (want), "for %s", (text));                            \
    free(s_);                                                                  \
  } while (0)

Test(json, string_escapes)
{
  assert_str("\"plain\"", "plain");
  assert_str("\"\"", "");
  assert_str("\"a\\\"b\"", "a\"b");
  assert_str("\"a\\\\b\"", "a\\b");
  assert_str("\"a\\/b\"", "a/b");
  assert_str("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t");
  assert_str("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac");
  assert_str("\"\\u007f\"", "\x7f");
}

Test(json, string_surrogate_pairs)
{
  /* U+1F600 written as a pair, and U+10FFFF, the last code point. */
  assert_str("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
  assert_str("\"\\uD83D\\uDE00!\"", "\xf0\x9f\x98\x80!");
  assert_str("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf");
  assert_err("\"\\ud83d\"", 1, "unpaired surrogate in \\u escape");
  assert_err("\"\\ud83dx\"", 1, "unpaired surrogate in \\u escape");
  assert_err("\"ab\\ud83d\\u0041\"", 3, "unpaired surrogate in \\u escape");
  assert_err("\"\\ude00\"", 1, "unpaired surrogate in \\u escape");
}

Test(json, string_nul_escape_rejected)
{
  /* A NUL would silently cut every C string the value is copied into. */
  assert_err("\"ab\\u0000cd\"", 3, "\\u0000 is not allowed in strings");
}

/*
 * A server's body is JSON as RFC 8259 has it: \u0000 and a lone surrogate
 * are allowed there, so checks and captures still read the body, the
 * strings keeping U+FFFD in their place; a surrogate pair still joins.
 */
Test(json, a_body_may_hold_nul_and_lone_surrogate_escapes)
{
  static const char text[] = "{\"e\": \"x\\u0000y\", \"s\": \"a\\ud800b\","
                             " \"t\": \"\\udc00\\ud83d\\ude00\\ud800\\u0041\","
                             " \"a\": 1}";
  cJSON *doc = corun__json_pick(text, strlen(text), NULL, 0, NULL, 0);
  char *out;

  cr_assert_not_null(doc);
  out = cJSON_PrintUnformatted(doc);
  cr_assert_str_eq(out, "{\"e\":\"x\xef\xbf\xbdy\",\"s\":\"a\xef\xbf\xbd"
                        "b\",\"t\":\"\xef\xbf\xbd\xf0\x9f\x98\x80\xef\xbf\xbd"
                        "A\",\"a\":1}");
  free(out);
  cJSON_Delete(doc);
  /* A job file still refuses both. */
  assert_err("\"a\\ud800b\"", 2, "unpaired surrogate in \\u escape");
}

/*
 * A body may say 1e400 (JSON, though no double holds it): a report that
 * carries it stays JSON, 1e400 again, where printf would write "inf".
 */
Test(json, an_infinite_number_is_written_as_json)
{
  static const char text[] = "[1e400, -1e400, 0.5]";
  cJSON *doc = corun__json_pick(text, strlen(text), NULL, 0, NULL, 0);
  struct corun_buf b = CORUN_BUF_INIT;

  cr_assert_not_null(doc);
  corun__json_write(&b, doc, NULL);
  cr_assert_str_eq(corun_buf_str(&b), "[1e400, -1e400, 0.5]");
  corun_buf_free(&b);
  cJSON_Delete(doc);
}

Test(json, string_bad_escapes)
{
  assert_err("\"a\\qb\"", 2, "invalid escape '\\q'");
  assert_err("\"a\\x41\"", 2, "invalid escape '\\x'");
  assert_err("\"\\u12g4\"", 3, "invalid \\u escape");
  assert_err("\"\\u12", 3, "truncated \\u escape");
}

Test(json, string_control_characters_rejected)
{
  assert_err("\"a\tb\"", 2, "control character 0x09 in string (escape it)");
  assert_err("[\"a\nb\"]", 3, "control character 0x0a in string (escape it)");
  assert_err("\"\x01\"", 1, "control character 0x01 in string (escape it)");
}

Test(json, string_raw_nul_byte_rejected)
{
  /* A raw NUL in the text, which strlen-based code would stop at. */
  static const char text[] = "\"ab\0cd\"";

  char m[256];

  cr_assert_eq(parse_err_n(text, sizeof(text) - 1, m, sizeof(m)), 3);
  cr_assert(strstr(m, "control character 0x00") != NULL, "%s", m);
}

Test(json, string_unterminated)
{
  /* Points at the opening quote: the end of input tells the reader little. */
  assert_err("\"abc", 0, "unterminated string");
  assert_err("[1, \"abc\\", 4, "unterminated string");
  assert_err("{\"a\": \"b}", 6, "unterminated string");
}

Test(json, utf8_valid)
{
  assert_str("\"\xc3\xa9\"", "\xc3\xa9");
  assert_str("\"\xe2\x82\xac\"", "\xe2\x82\xac");
  assert_str("\"\xf0\x9f\x98\x80\"", "\xf0\x9f\x98\x80");
  assert_str("\"\xf4\x8f\xbf\xbf\"", "\xf4\x8f\xbf\xbf");
}

Test(json, utf8_invalid)
{
  static const char *const bad[] = {
      "\"a\xff\"",             /* never valid */
      "\"a\x80\"",             /* lone continuation byte */
      "\"a\xc3\"",             /* truncated by the quote */
      "\"a\xc0\x80\"",         /* overlong NUL */
      "\"a\xe0\x80\x80\"",     /* overlong three bytes */
      "\"a\xed\xa0\x80\"",     /* a surrogate encoded directly */
      "\"a\xf4\x90\x80\x80\"", /* above U+10FFFF */
      "\"a\xf5\x80\x80\x80\"",
  };
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char m[256];

    cr_expect_eq(parse_err(bad[i], m, sizeof(m)), 2, "case %zu", i);
    cr_expect_str_eq(m, "invalid UTF-8 in string", "case %zu", i);
  }
  /* Truncated at the very end of the input, with no quote after it. */
  {
    char m[256];

    cr_expect_eq(parse_err_n("\"\xe2\x82", 3, m, sizeof(m)), 1);
  }
}

Test(json, literals)
{
  struct doc *d = parse_ok(" [true, false, null] ");

  cr_assert(cJSON_IsTrue(cJSON_GetArrayItem(d->root, 0)));
  cr_assert(cJSON_IsFalse(cJSON_GetArrayItem(d->root, 1)));
  cr_assert(cJSON_IsNull(cJSON_GetArrayItem(d->root, 2)));
  doc_free(d);
  assert_err("[tru]", 1, "expected a value, found 't'");
  assert_err("nul", 0, "expected a value, found 'n'");
  assert_err("True", 0, "expected a value, found 'T'");
}

Test(json, structural_errors)
{
  assert_err("[1,]", 3, "trailing comma before ']'");
  assert_err("{\"a\": 1,}", 8, "trailing comma before '}'");
  assert_err("{\"a\" 1}", 5, "expected ':', found '1'");
  assert_err("{\"a\": 1 \"b\": 2}", 8, "expected ',' or '}', found '\"'");
  assert_err("[1 2]", 3, "expected ',' or ']', found '2'");
  assert_err("{a: 1}", 1, "expected a member name, found 'a'");
  assert_err("{'a': 1}", 1, "expected a member name, found '''");
  assert_err("[1, 2", 5, "expected ',' or ']', found end of input");
  assert_err("", 0, "expected a value, found end of input");
  assert_err("   ", 3, "expected a value, found end of input");
  assert_err("[1] [2]", 4, "unexpected '[' after the end of the document");
  assert_err("[\x01]", 1, "expected a value, found byte 0x01");
}

Test(json, comments_are_named)
{
  /* Wherever a token is expected, a comment says what is wrong. */
  assert_err("// c\n[]", 0, "JSON has no comments");
  assert_err("/* c */ []", 0, "JSON has no comments");
  assert_err("{\n  // c\n  \"a\": 1}", 4, "JSON has no comments");
  assert_err("{\"a\": /* c */ 1}", 6, "JSON has no comments");
  assert_err("{\"a\": 1 // c\n}", 8, "JSON has no comments");
  assert_err("[1, /* c */ 2]", 4, "JSON has no comments");
  assert_err("{\"a\" /* c */: 1}", 5, "JSON has no comments");
  assert_err("[] // c", 3, "JSON has no comments");
  /* A lone slash is no comment. */
  assert_err("[1 / 2]", 3, "expected ',' or ']', found '/'");
  assert_err("/", 0, "expected a value, found '/'");
  assert_err("[]/", 2, "unexpected '/' after the end of the document");
}

Test(json, leading_bom_is_skipped)
{
  const char *t = "\xef\xbb\xbf{\"a\": [1]}";
  struct doc *d = parse_ok(t);
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(d->root, "a");
  unsigned line, col;

  cr_assert(cJSON_IsArray(a));
  /* Offsets stay in the text as given; columns start after the mark. */
  cr_assert_eq(corun_json_where(&d->p, a), 9);
  corun_json_line_col(t, strlen(t), 9, &line, &col);
  cr_assert(line == 1 && col == 7, "%u:%u", line, col);
  corun_json_line_col("\xef\xbb\xbf{\n x", 7, 6, &line, &col);
  cr_assert(line == 2 && col == 2, "%u:%u", line, col);
  doc_free(d);
  /* Only at the very start: elsewhere it is a stray byte. */
  assert_err(" \xef\xbb\xbf[]", 1, "expected a value, found byte 0xef");
  assert_err("\xef\xbb\xbf\xef\xbb\xbf[]", 3,
             "expected a value, found byte 0xef");
  assert_err("[]\xef\xbb\xbf", 2,
             "unexpected byte 0xef after the end of the document");
  assert_err("\xef\xbb\xbf", 3, "expected a value, found end of input");
  /* Part of a mark is not one. */
  assert_err("\xef\xbb[]", 0, "expected a value, found byte 0xef");
}

Test(json, whitespace_is_only_the_four_json_ones)
{
  struct doc *d = parse_ok(" \t\r\n[ 1 ,\t2\r\n] \n");

  doc_free(d);
  /* Vertical tab and form feed are not JSON white space. */
  assert_err("\v[]", 0, "expected a value, found byte 0x0b");
  assert_err("[]\f", 2, "unexpected byte 0x0c after the end of the document");
}

static char *nested(int depth, char open, char close)
{
  char *s = malloc((size_t)depth * 2 + 1);
  int i;

  cr_assert_not_null(s);
  for (i = 0; i < depth; i++) {
    s[i] = open;
    s[depth * 2 - 1 - i] = close;
  }
  s[depth * 2] = '\0';
  return s;
}

Test(json, depth_limit)
{
  char *ok = nested(CORUN_JSON_MAX_DEPTH, '[', ']');
  char *bad = nested(CORUN_JSON_MAX_DEPTH + 1, '[', ']');
  struct doc *d = parse_ok(ok);
  char m[256];

  doc_free(d);
  parse_err(bad, m, sizeof(m));
  cr_assert(strstr(m, "nesting deeper than") != NULL, "%s", m);
  free(ok);
  free(bad);
}

Test(json, depth_limit_counts_objects_too)
{
  struct corun_buf b = CORUN_BUF_INIT;
  char m[256];
  int i;

  for (i = 0; i < CORUN_JSON_MAX_DEPTH; i++)
    corun_buf_puts(&b, i % 2 ? "[" : "{\"k\":");
  corun_buf_puts(&b, "1");
  for (i = CORUN_JSON_MAX_DEPTH - 1; i >= 0; i--)
    corun_buf_puts(&b, i % 2 ? "]" : "}");
  {
    struct doc *d = parse_ok(corun_buf_str(&b));

    doc_free(d);
  }
  corun_buf_reset(&b);
  for (i = 0; i <= CORUN_JSON_MAX_DEPTH; i++)
    corun_buf_puts(&b, i % 2 ? "[" : "{\"k\":");
  parse_err(corun_buf_str(&b), m, sizeof(m));
  cr_assert(strstr(m, "nesting deeper than") != NULL, "%s", m);
  corun_buf_free(&b);
}

Test(json, very_deep_input_does_not_overflow)
{
  /* Far deeper than any stack could recurse, in both the builder and skip. */
  size_t n = 1000000;
  char *s = malloc(n + 1);
  struct corun_json p;
  char m[256];

  cr_assert_not_null(s);
  memset(s, '[', n);
  s[n] = '\0';
  parse_err_n(s, n, m, sizeof(m));
  cr_assert(strstr(m, "nesting deeper than") != NULL, "%s", m);
  corun_json_init(&p, s, n);
  cr_assert_eq(corun_json_skip(&p), -1);
  cr_assert(strstr(p.err_msg, "nesting deeper than") != NULL, "%s", p.err_msg);
  corun_json_free(&p);
  memset(s, '{', n);
  parse_err_n(s, n, m, sizeof(m));
  cr_assert(strstr(m, "expected a member name") != NULL ||
                strstr(m, "nesting") != NULL,
            "%s", m);
  free(s);
}

Test(json, pull_api_walks_objects_and_arrays)
{
  const char *text = " {\"a\": [1, 2], \"b\": {\"c\": \"x\"}, \"d\": 3} ";
  struct corun_json p;
  int n = 0, m = 0, r;
  const char *key;
  size_t key_off;
  cJSON *v = NULL;

  corun_json_init(&p, text, strlen(text));
  cr_assert_eq(corun_json_peek(&p), '{');
  cr_assert_eq(corun_json_offset(&p), 1);
  cr_assert_eq(corun_json_object_begin(&p), 0);
  cr_assert_eq(corun_json_object_next(&p, &n, &key, &key_off), 1);
  cr_assert_str_eq(key, "a");
  cr_assert_eq(key_off, strstr(text, "\"a\"") - text);
  cr_assert_eq(corun_json_array_begin(&p), 0);
  while ((r = corun_json_array_next(&p, &m)) > 0)
    cr_assert_eq(corun_json_skip(&p), 0);
  cr_assert_eq(r, 0);
  cr_assert_eq(m, 2);
  cr_assert_eq(corun_json_object_next(&p, &n, &key, &key_off), 1);
  cr_assert_str_eq(key, "b");
  cr_assert_eq(corun_json_skip(&p), 0);
  cr_assert_eq(corun_json_object_next(&p, &n, &key, &key_off), 1);
  cr_assert_str_eq(key, "d");
  cr_assert_eq(corun_json_peek(&p), '3');
  cr_assert_eq(corun_json_value(&p, &v), 0);
  cr_assert_eq(corun_json_where(&p, v), strchr(text, '3') - text);
  cJSON_Delete(v);
  cr_assert_eq(corun_json_object_next(&p, &n, &key, &key_off), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(corun_json_end(&p), 0);
  cr_assert_eq(corun_json_peek(&p), 0);
  cr_assert_eq(p.depth, 0);
  corun_json_free(&p);
}

Test(json, skip_validates)
{
  /* Skipping is not a shortcut around the grammar. */
  static const char *const bad[] = {"[1,]", "{\"a\":1,}", "\"\\q\"",
                                    "[01]", "\"a\xff\"",  "{\"a\" 1}"};
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct corun_json p;

    corun_json_init(&p, bad[i], strlen(bad[i]));
    cr_expect_eq(corun_json_skip(&p), -1, "%s", bad[i]);
    corun_json_free(&p);
  }
}

Test(json, first_error_wins)
{
  struct corun_json p;

  corun_json_init(&p, "[1,]", 4);
  cr_assert_eq(corun_json_skip(&p), -1);
  cr_assert_eq(corun_json_fail(&p, 0, "later %d", 2), -1);
  cr_assert_str_eq(p.err_msg, "trailing comma before ']'");
  cr_assert_eq(p.err_off, 3);
  /* After a failure, every call fails at once. */
  cr_assert_eq(corun_json_peek(&p), 0);
  cr_assert_eq(corun_json_end(&p), -1);
  corun_json_free(&p);
}

Test(json, text_need_not_be_nul_terminated)
{
  /* The loader hands in file contents as read, without a terminator. */
  char buf[8] = {'[', '1', ',', '2', ']', 'X', 'X', 'X'};
  struct doc *d = parse_ok_n(buf, 5);

  cr_assert_eq(cJSON_GetArraySize(d->root), 2);
  doc_free(d);
  {
    char m[256];
    char num[3] = {'4', '2', '7'};
    struct doc *e = parse_ok_n(num, 2);

    cr_assert_float_eq(e->root->valuedouble, 42, 1e-9);
    doc_free(e);
    /* A literal cut by the end of the buffer. */
    parse_err_n("truex", 3, m, sizeof(m));
  }
}

#ifdef CAN_FAIL_ALLOCS
/*
 * Whichever allocation fails, a large object with a duplicate key is
 * either rejected for the duplicate or for want of memory, never accepted
 * with the check skipped (the key map is where it used to be lost).
 */
Test(json, out_of_memory_never_skips_the_duplicate_check)
{
  char text[4096];
  size_t n;
  long k;
  int i, failed_once = 0;

  n = (size_t)snprintf(text, sizeof(text), "{");
  for (i = 0; i < 40; i++)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k%d\": %d, ", i, i);
  snprintf(text + n, sizeof(text) - n, "\"k0\": 0}");
  for (k = 0;; k++) {
    struct corun_json p;
    cJSON *v = NULL;
    int r, out;

    corun_json_init(&p, text, strlen(text));
    fail_after = k;
    r = corun_json_value(&p, &v);
    out = fail_after == -2;
    fail_after = -1;
    cr_assert_eq(r, -1, "accepted with allocation %ld failing", k);
    cr_assert_null(v);
    if (out) {
      failed_once = 1;
      cr_assert(strcmp(p.err_msg, "out of memory") == 0 ||
                    strstr(p.err_msg, "duplicate key") != NULL,
                "allocation %ld: %s", k, p.err_msg);
    } else {
      cr_assert(strstr(p.err_msg, "duplicate key \"k0\"") != NULL, "%s",
                p.err_msg);
    }
    corun_json_free(&p);
    if (!out)
      break;
  }
  cr_assert(failed_once);
}

/*
 * A body read for pointers (json/pick.h) with each allocation failing in
 * turn: no document, or the right one; never a wrong one.
 */
Test(json, a_body_read_for_pointers_survives_any_failed_allocation)
{
  static const char text[] = "{\"pad\": \"xx\", \"a\": [1, {\"b\": [true, "
                             "null]}], \"id\": 7, \"id\": 8}";
  static const char *const ptrs[] = {"/a/1/b", "/id", "/a/0"};
  long k;
  int failed_once = 0;

  for (k = 0;; k++) {
    cJSON *doc;
    int out;

    fail_after = k;
    doc = corun__json_pick(text, strlen(text), ptrs, 3, NULL, 0);
    out = fail_after == -2;
    fail_after = -1;
    if (doc) {
      char *s = cJSON_PrintUnformatted(doc);

      cr_assert_str_eq(s, "{\"a\":[1,{\"b\":[true,null]}],\"id\":7}",
                       "allocation %ld", k);
      free(s);
      cJSON_Delete(doc);
    } else {
      cr_assert(out, "refused with nothing failing");
      failed_once = 1;
    }
    if (!out)
      break;
  }
  cr_assert(failed_once);
}
#endif

/*
 * Strings are scanned 16 or 8 bytes at a time up to the first byte that
 * needs a look: that byte, at every place in and around a block, is still
 * seen.
 */
Test(json, every_byte_of_a_string_is_seen_wherever_it_lies)
{
  static const struct {
    const char *in;  /* as written in the JSON text */
    const char *out; /* decoded; NULL: the text is refused */
  } specials[] = {{"\\\"", "\""}, {"\\\\", "\\"}, {"\\n", "\n"},
                  {"\n", NULL},     {"\x1f", NULL},   {"\xc3\xa9", "\xc3\xa9"},
                  {"\xff", NULL},   {"\x7f", "\x7f"},  {"\"", NULL}};
  size_t len, at, k;

  for (k = 0; k < sizeof(specials) / sizeof(specials[0]); k++)
    for (len = 0; len <= 40; len++)
      for (at = 0; at <= len; at++) {
        char text[96], want[96];
        struct corun_json p;
        cJSON *v = NULL;
        int r;

        snprintf(text, sizeof(text), "\"%.*s%s%.*s\"", (int)at,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", specials[k].in,
                 (int)(len - at), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        corun_json_init(&p, text, strlen(text));
        r = corun_json_value(&p, &v);
        if (r == 0)
          r = corun_json_end(&p);
        if (specials[k].out == NULL) {
          cr_assert_eq(r, -1, "accepted: %s", text);
        } else {
          snprintf(want, sizeof(want), "%.*s%s%.*s", (int)at,
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", specials[k].out,
                   (int)(len - at), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
          cr_assert_eq(r, 0, "%s: %s", text, p.err_msg);
          cr_assert_str_eq(v->valuestring, want);
        }
        cJSON_Delete(v);
        corun_json_free(&p);
      }
}
