/* SPDX-License-Identifier: MIT */
/*
 * Predicates and JSON Pointers (lib/json/predicate.h) on their own: what
 * compiles and what is refused with which reason, what each operator
 * passes and fails, how a failure is shown, and RFC 6901's own examples.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <strings.h>

#include "json/pick.h"
#include "json/predicate.h"
#include "util/regex.h"

TestSuite(predicate);

static struct corun_pred *compile_ok(const char *spec_text)
{
  cJSON *spec = cJSON_Parse(spec_text);
  struct corun_pred *p = NULL;
  struct corun_buf why = CORUN_BUF_INIT;
  const cJSON *bad = NULL;

  cr_assert_not_null(spec, "bad test JSON %s", spec_text);
  cr_assert_eq(corun__pred_compile(spec, &p, &why, &bad), 0, "%s: %s",
               spec_text, corun_buf_str(&why));
  cJSON_Delete(spec); /* the predicate keeps copies */
  corun_buf_free(&why);
  return p;
}

/* The reason spec_text is refused, and the key of the node it names. */
static void compile_err(const char *spec_text, const char *want,
                        const char *want_key)
{
  cJSON *spec = cJSON_Parse(spec_text);
  struct corun_pred *p = NULL;
  struct corun_buf why = CORUN_BUF_INIT;
  const cJSON *bad = NULL;

  cr_assert_not_null(spec);
  cr_assert_eq(corun__pred_compile(spec, &p, &why, &bad), -1, "%s compiled",
               spec_text);
  cr_expect_null(p);
  cr_expect_str_eq(corun_buf_str(&why), want);
  cr_assert_not_null(bad);
  if (want_key)
    cr_expect_str_eq(bad->string ? bad->string : "(none)", want_key);
  cJSON_Delete(spec);
  corun_buf_free(&why);
}

/* Whether the predicate passes value_text (NULL: an absent value). */
static int passes(const char *spec_text, const char *value_text)
{
  struct corun_pred *p = compile_ok(spec_text);
  cJSON *v = value_text ? cJSON_Parse(value_text) : NULL;
  int r;

  cr_assert(value_text == NULL || v != NULL, "bad value %s", value_text);
  r = corun__pred_test(p, v);
  cJSON_Delete(v);
  corun__pred_free(p);
  return r;
}

Test(predicate, bad_predicates_are_refused_with_a_reason)
{
  compile_err("[1, 2]",
              "must be a JSON scalar or an object with one operator, not an "
              "array",
              NULL);
  compile_err("{}",
              "must have exactly one operator (equals, not_equals, contains, "
              "not_contains, matches, exists, lt, le, gt, ge, type, count), "
              "not 0",
              NULL);
  compile_err("{\"lt\": 1, \"gt\": 0}",
              "must have exactly one operator (equals, not_equals, contains, "
              "not_contains, matches, exists, lt, le, gt, ge, type, count), "
              "not 2",
              NULL);
  compile_err("{\"eqals\": 1}",
              "has unknown operator \"eqals\" (did you mean \"equals\"?)",
              "eqals");
  compile_err("{\"zzzzzz\": 1}", "has unknown operator \"zzzzzz\"", "zzzzzz");
  compile_err("{\"matches\": 5}",
              "has \"matches\" without a string (a POSIX extended regular "
              "expression)",
              "matches");
  compile_err("{\"exists\": \"yes\"}", "has \"exists\" without true or false",
              "exists");
  compile_err("{\"ge\": \"3\"}", "has \"ge\" without a number", "ge");
  compile_err("{\"type\": \"integer\"}",
              "has \"type\" without one of \"string\", \"number\", "
              "\"boolean\", \"null\", \"array\", \"object\"",
              "type");
  /* A count's own predicate is checked the same way, and named. */
  compile_err("{\"count\": {\"lt\": \"x\"}}", "has \"lt\" without a number",
              "lt");
}

Test(predicate, an_invalid_regular_expression_is_refused)
{
  cJSON *spec = cJSON_Parse("{\"matches\": \"a(b\"}");
  struct corun_pred *p = NULL;
  struct corun_buf why = CORUN_BUF_INIT;
  const cJSON *bad = NULL;

  cr_assert_eq(corun__pred_compile(spec, &p, &why, &bad), -1);
  cr_expect_eq(strncmp(corun_buf_str(&why),
                       "has \"matches\" with an invalid regular expression: ",
                       50),
               0, "%s", corun_buf_str(&why));
  cJSON_Delete(spec);
  corun_buf_free(&why);
}

/*
 * glibc's regcomp() writes out every counted repetition, nested counts
 * multiply, and "((a{255}){255}){255}" took gigabytes (the fuzzer found
 * it): such a pattern is refused before it is compiled, in checks and
 * captures alike, and ordinary counts still compile.
 */
Test(predicate, a_regular_expression_that_repeats_too_much_is_refused)
{
  static const char *const heavy[] = {
    "((a{255}){255}){255}", "x{32767}", "(a{100}){100}", "(a+){5001}",
    "((((((((((((((((a|b)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+){2}",
    "[[:alpha:]]{3,20000}"};
  static const char *const light[] = {
    "^[0-9a-f]{64}$", ".{0,5000}", "(ab|cd){3,9}x+", "a{,5}", "{1}",
    "[]{]{9999}", "\\{99999}x", "(a{98}){98}"};
  size_t i;

  for (i = 0; i < sizeof(heavy) / sizeof(heavy[0]); i++) {
    cJSON *spec = cJSON_CreateObject();
    struct corun_pred *p = NULL;
    struct corun_buf why = CORUN_BUF_INIT;
    const cJSON *bad = NULL;

    cJSON_AddStringToObject(spec, "matches", heavy[i]);
    cr_expect_gt(corun__regex_pieces(heavy[i]), CORUN_REGEX_MAX_PIECES, "%s",
                 heavy[i]);
    cr_assert_eq(corun__pred_compile(spec, &p, &why, &bad), -1, "%s",
                 heavy[i]);
    cr_expect_not_null(strstr(corun_buf_str(&why), "repeats too much"),
                       "%s: %s", heavy[i], corun_buf_str(&why));
    cJSON_Delete(spec);
    corun_buf_free(&why);
  }
  for (i = 0; i < sizeof(light) / sizeof(light[0]); i++) {
    regex_t re;
    struct corun_buf why = CORUN_BUF_INIT;

    cr_expect_leq(corun__regex_pieces(light[i]), CORUN_REGEX_MAX_PIECES,
                  "%s", light[i]);
    if (corun__regex_compile(&re, light[i], 0, &why) == 0)
      regfree(&re);
    else
      cr_expect_null(strstr(corun_buf_str(&why), "repeats too much"),
                     "%s: %s", light[i], corun_buf_str(&why));
    corun_buf_free(&why);
  }
}

Test(predicate, scalars_and_equals_compare_numbers_as_numbers)
{
  cr_expect(passes("200", "200"));
  cr_expect(passes("200", "200.0"));
  cr_expect(passes("2e2", "200"));
  cr_expect_not(passes("200", "\"200\""));
  cr_expect(passes("\"ok\"", "\"ok\""));
  cr_expect_not(passes("\"ok\"", "\"OK\""));
  cr_expect(passes("true", "true"));
  cr_expect_not(passes("true", "1"));
  cr_expect(passes("{\"equals\": {\"a\": [1, 2]}}", "{\"a\": [1, 2.0]}"));
  cr_expect(passes("{\"equals\": {\"a\": 1, \"b\": 2}}",
                   "{\"b\": 2, \"a\": 1}"));
  cr_expect_not(passes("{\"equals\": [1, 2]}", "[2, 1]"));
  cr_expect(passes("{\"not_equals\": 3}", "4"));
  cr_expect_not(passes("{\"not_equals\": 3}", "3"));
}

Test(predicate, an_absent_value_is_null)
{
  cr_expect(passes("null", NULL));
  cr_expect(passes("{\"equals\": null}", NULL));
  cr_expect(passes("{\"type\": \"null\"}", NULL));
  cr_expect(passes("{\"exists\": false}", NULL));
  cr_expect_not(passes("{\"exists\": true}", NULL));
  cr_expect_not(passes("\"x\"", NULL));
  cr_expect_not(passes("{\"contains\": \"x\"}", NULL));
  cr_expect(passes("{\"not_contains\": \"x\"}", NULL));
  cr_expect(passes("{\"not_equals\": \"x\"}", NULL));
  cr_expect_not(passes("{\"matches\": \".*\"}", NULL));
  cr_expect_not(passes("{\"count\": 0}", NULL));
  cr_expect_not(passes("{\"lt\": 1}", NULL));
  /* A null that is there exists. */
  cr_expect(passes("{\"exists\": true}", "null"));
}

Test(predicate, contains_on_strings_and_arrays)
{
  cr_expect(passes("{\"contains\": \"json\"}",
                   "\"application/json; charset=utf-8\""));
  cr_expect_not(passes("{\"contains\": \"xml\"}", "\"application/json\""));
  cr_expect(passes("{\"contains\": 2}", "[1, 2, 3]"));
  cr_expect(passes("{\"contains\": {\"id\": 7}}", "[{\"id\": 6}, {\"id\": 7}]"));
  cr_expect_not(passes("{\"contains\": \"2\"}", "[1, 2, 3]"));
  cr_expect_not(passes("{\"contains\": \"a\"}", "{\"a\": 1}"));
  cr_expect(passes("{\"not_contains\": \"error\"}", "\"all fine\""));
  cr_expect_not(passes("{\"not_contains\": 1}", "[1]"));
}

Test(predicate, matches_is_a_posix_extended_search)
{
  cr_expect(passes("{\"matches\": \"^[0-9]+(\\\\.[0-9]+)?$\"}", "\"12.5\""));
  cr_expect_not(passes("{\"matches\": \"^[0-9]+$\"}", "\"12.5\""));
  cr_expect(passes("{\"matches\": \"wor\"}", "\"hello world\""));
  cr_expect_not(passes("{\"matches\": \"1\"}", "1"));
}

Test(predicate, numbers_types_and_counts)
{
  cr_expect(passes("{\"lt\": 5}", "4.9"));
  cr_expect_not(passes("{\"lt\": 5}", "5"));
  cr_expect(passes("{\"le\": 5}", "5"));
  cr_expect(passes("{\"gt\": -1}", "0"));
  cr_expect(passes("{\"ge\": 0.5}", "0.5"));
  cr_expect_not(passes("{\"ge\": 0}", "\"7\""));
  cr_expect(passes("{\"type\": \"string\"}", "\"\""));
  cr_expect(passes("{\"type\": \"number\"}", "1e3"));
  cr_expect(passes("{\"type\": \"boolean\"}", "false"));
  cr_expect(passes("{\"type\": \"boolean\"}", "true"));
  cr_expect(passes("{\"type\": \"array\"}", "[]"));
  cr_expect(passes("{\"type\": \"object\"}", "{}"));
  cr_expect_not(passes("{\"type\": \"object\"}", "[]"));
  cr_expect_not(passes("{\"type\": \"null\"}", "0"));
  cr_expect(passes("{\"count\": 3}", "[1, [2], {}]"));
  cr_expect(passes("{\"count\": 2}", "{\"a\": 1, \"b\": 2}"));
  /* A string's length in characters, not bytes. */
  cr_expect(passes("{\"count\": 5}", "\"h\\u00e9llo\""));
  cr_expect(passes("{\"count\": {\"ge\": 1}}", "[0]"));
  cr_expect_not(passes("{\"count\": {\"ge\": 1}}", "[]"));
  cr_expect(passes("{\"count\": {\"count\": 1}}", "[]") == 0);
  cr_expect_not(passes("{\"count\": 1}", "1"));
}

Test(predicate, describe_and_show_say_what_was_expected_and_what_came)
{
  static const char *const cases[][2] = {
      {"3", "3"},
      {"\"ok\"", "\"ok\""},
      {"{\"equals\": [1, 2]}", "equals [1,2]"},
      {"{\"contains\": \"a\\\"b\"}", "contains \"a\\\"b\""},
      {"{\"exists\": false}", "exists false"},
      {"{\"type\": \"array\"}", "type array"},
      {"{\"count\": {\"lt\": 5}}", "count lt 5"},
      {"{\"count\": 2}", "count 2"},
      {"{\"matches\": \"^a\"}", "matches \"^a\""},
  };
  struct corun_buf out = CORUN_BUF_INIT;
  size_t i;
  cJSON *v;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct corun_pred *p = compile_ok(cases[i][0]);

    corun_buf_reset(&out);
    corun__pred_describe(p, &out);
    cr_expect_str_eq(corun_buf_str(&out), cases[i][1]);
    corun__pred_free(p);
  }
  corun_buf_reset(&out);
  corun__pred_show(NULL, 200, &out);
  cr_expect_str_eq(corun_buf_str(&out), "nothing");
  /* Cut to the bound in characters, not bytes, with "..." after. */
  v = cJSON_CreateString("ab\xc3\xa9" "cd\n");
  corun_buf_reset(&out);
  corun__pred_show(v, 3, &out);
  cr_expect_str_eq(corun_buf_str(&out), "\"ab\xc3\xa9\"...");
  corun_buf_reset(&out);
  corun__pred_show(v, 2, &out);
  cr_expect_str_eq(corun_buf_str(&out), "\"ab\"...");
  corun_buf_reset(&out);
  corun__pred_show(v, 200, &out);
  cr_expect_str_eq(corun_buf_str(&out), "\"ab\xc3\xa9" "cd\\n\"");
  cJSON_Delete(v);
  v = cJSON_CreateString("\xc3\xa9\xc3\xa9\xc3\xa9");
  corun_buf_reset(&out);
  corun__pred_show(v, 2, &out);
  cr_expect_str_eq(corun_buf_str(&out), "\"\xc3\xa9\xc3\xa9\"...");
  corun_buf_reset(&out);
  corun__pred_show(v, 3, &out);
  cr_expect_str_eq(corun_buf_str(&out), "\"\xc3\xa9\xc3\xa9\xc3\xa9\"");
  cJSON_Delete(v);
  /* Bytes that are no UTF-8 (a binary body) count one each. */
  v = cJSON_CreateString("\x80\x80" "ab");
  corun_buf_reset(&out);
  corun__pred_show(v, 2, &out);
  cr_expect_str_eq(corun_buf_str(&out), "\"\x80\x80\"...");
  corun_buf_reset(&out);
  corun__pred_show(v, 0, &out);
  cr_expect_str_eq(corun_buf_str(&out), "\"\"...");
  cJSON_Delete(v);
  {
    char stray[301];

    memset(stray, 0x80, 300);
    stray[300] = '\0';
    v = cJSON_CreateString(stray);
    corun_buf_reset(&out);
    corun__pred_show(v, 200, &out);
    cr_expect_eq(out.len, 200 + 5, "%zu", out.len); /* the quotes, "..." */
    cJSON_Delete(v);
  }
  v = cJSON_Parse("[1,2,3,4,5,6]");
  corun_buf_reset(&out);
  corun__pred_show(v, 5, &out);
  cr_expect_str_eq(corun_buf_str(&out), "[1,2,...");
  cJSON_Delete(v);
  corun_buf_free(&out);
}

/* RFC 6901 section 5, every example; then what finds nothing. */
Test(predicate, json_pointers_find_what_rfc_6901_says)
{
  cJSON *doc = cJSON_Parse(
      "{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, "
      "\"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, "
      "\"m~n\": 8}");
  static const struct {
    const char *ptr;
    double want;
  } nums[] = {{"/", 0},    {"/a~1b", 1}, {"/c%d", 2}, {"/e^f", 3},
              {"/g|h", 4}, {"/i\\j", 5}, {"/k\"l", 6}, {"/ ", 7},
              {"/m~0n", 8}};
  static const char *const none[] = {"/foo/2",   "/foo/01", "/foo/-",
                                     "/x",       "/foo/0/x", "/foo/",
                                     "/m~1n",    "/foo/1e0"};
  struct corun_buf why = CORUN_BUF_INIT;
  const cJSON *v;
  size_t i;

  cr_assert_not_null(doc);
  cr_expect_eq(corun__pointer_get(doc, ""), doc);
  v = corun__pointer_get(doc, "/foo");
  cr_expect(cJSON_IsArray(v));
  v = corun__pointer_get(doc, "/foo/0");
  cr_expect(cJSON_IsString(v) && strcmp(v->valuestring, "bar") == 0);
  v = corun__pointer_get(doc, "/foo/1");
  cr_expect(cJSON_IsString(v) && strcmp(v->valuestring, "baz") == 0);
  for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
    v = corun__pointer_get(doc, nums[i].ptr);
    cr_expect(cJSON_IsNumber(v) && v->valuedouble == nums[i].want, "%s",
              nums[i].ptr);
  }
  for (i = 0; i < sizeof(none) / sizeof(none[0]); i++)
    cr_expect_null(corun__pointer_get(doc, none[i]), "%s found something",
                   none[i]);
  cr_expect(corun__pointer_valid("", &why));
  cr_expect(corun__pointer_valid("/a~0~1", &why));
  cr_expect_not(corun__pointer_valid("a/b", &why));
  cr_expect_str_eq(corun_buf_str(&why),
                   "\"a/b\" is not a JSON Pointer: it must be \"\" or start "
                   "with \"/\"");
  corun_buf_reset(&why);
  cr_expect_not(corun__pointer_valid("/a~2", &why));
  cr_expect_str_eq(corun_buf_str(&why),
                   "\"/a~2\" is not a JSON Pointer: \"~\" must be followed "
                   "by 0 or 1 (\"~0\" is \"~\", \"~1\" is \"/\")");
  corun_buf_free(&why);
  cJSON_Delete(doc);
}

/* ---- SHA-256, for the sha256 check ---- */

#include "util/sha256.h"

static void sha_of(const char *data, size_t n, size_t step, char hex[65])
{
  struct corun_sha256 s;
  size_t i;

  corun__sha256_init(&s);
  for (i = 0; i < n; i += step)
    corun__sha256_add(&s, data + i, n - i < step ? n - i : step);
  corun__sha256_hex(&s, hex);
}

/* FIPS 180-4's examples and the million a's, in pieces of every kind. */
Test(predicate, sha256_gives_the_published_digests)
{
  static const char two_blocks[] =
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  static const size_t steps[] = {1, 3, 63, 64, 65, 1000000};
  char hex[65], *million = malloc(1000000);
  size_t i;

  cr_assert_not_null(million);
  memset(million, 'a', 1000000);
  for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    sha_of("", 0, steps[i], hex);
    cr_expect_str_eq(
        hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_of("abc", 3, steps[i], hex);
    cr_expect_str_eq(
        hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha_of(two_blocks, strlen(two_blocks), steps[i], hex);
    cr_expect_str_eq(
        hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha_of(million, 1000000, steps[i] == 1 ? 4096 : steps[i], hex);
    cr_expect_str_eq(
        hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
  free(million);
}

/* ---- expect: reading and checking a response ---- */

#include "json/expect.h"

struct fails {
  struct corun_buf all;
};

static void collect(void *ctx, const char *field, const cJSON *node,
                    const char *msg)
{
  struct fails *f = ctx;

  (void)node;
  corun_buf_printf(&f->all, "[%s] %s\n", field, msg);
}

/* Reads expect_text; returns what was said ("" when it read clean). */
static char *read_expect(const char *expect_text, struct corun_expect *e)
{
  cJSON *v = cJSON_Parse(expect_text);
  struct fails f = {CORUN_BUF_INIT};
  int r;

  cr_assert_not_null(v, "bad test JSON %s", expect_text);
  r = corun__expect_read(v, e, collect, &f);
  cr_expect_eq(r == 0, f.all.len == 0, "%s", corun_buf_str(&f.all));
  cJSON_Delete(v);
  corun_buf_putc(&f.all, '\0');
  return corun_buf_detach(&f.all);
}

Test(predicate, expect_says_what_is_wrong_with_each_part)
{
  struct corun_expect e = CORUN_EXPECT_INIT;
  char *said = read_expect(
      "{\"status\": [200, \"6xx\"], \"headers\": {\"bad name\": 1, "
      "\"X-A\": {\"lt\": \"1\"}}, \"json\": {\"id\": 1, \"/ok\": {\"eqals\": "
      "1}}, \"bytes\": {\"count\": []}, \"duration\": \"soon\", \"sha256\": "
      "\"ABC\", \"bodi\": 1}",
      &e);

  cr_expect_str_eq(
      said,
      "[expect.status[1]] is \"6xx\", not a status code (100-599) or a class "
      "like \"2xx\"\n"
      "[expect.headers] \"bad name\" is not a header name\n"
      "[expect.headers[X-A]] has \"lt\" without a number\n"
      "[expect.json] \"id\" is not a JSON Pointer: it must be \"\" or start "
      "with \"/\"\n"
      "[expect.json[/ok]] has unknown operator \"eqals\" (did you mean "
      "\"equals\"?)\n"
      "[expect.bytes] must be a JSON scalar or an object with one operator, "
      "not an array\n"
      "[expect.duration] is not a duration (use seconds, or a string like "
      "\"250ms\", \"1.5s\", \"2m\", \"1h\", \"1m30s\")\n"
      "[expect.sha256] must be 64 lowercase hexadecimal digits (a SHA-256 "
      "digest)\n"
      "[expect] has unknown field \"bodi\" (did you mean \"body\"?) (one of "
      "status, headers, body, json, bytes, duration, sha256)\n");
  free(said);
  corun__expect_free(&e);
}

static const char *hdr(void *ctx, const char *name)
{
  (void)ctx;
  return strcasecmp(name, "content-type") == 0 ? "application/json" : NULL;
}

Test(predicate, every_failed_check_is_listed_in_one_message)
{
  struct corun_expect e = CORUN_EXPECT_INIT;
  static const char body[] =
      "{\"id\": 7, \"items\": [1, 2], \"name\": \"caf\xc3\xa9\"}";
  struct corun_response r = {
      .header = hdr,
      .body = body,
      .body_len = sizeof(body) - 1,
      .bytes = sizeof(body) - 1,
      .total = 0.75,
      .sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
  struct corun_buf msg = CORUN_BUF_INIT;
  char *said = read_expect(
      "{\"status\": [\"2xx\"], \"headers\": {\"Content-Type\": {\"contains\": "
      "\"json\"}, \"X-Missing\": {\"exists\": false}, \"ETag\": \"x\"}, "
      "\"json\": {\"/id\": 7, \"/items\": {\"count\": 3}, \"/gone\": "
      "{\"exists\": false}, \"/nope\": 1, \"/name\": {\"matches\": \"^caf\"}}, "
      "\"body\": {\"contains\": \"items\"}, \"bytes\": {\"lt\": 10}, "
      "\"duration\": \"500ms\", \"sha256\": "
      "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
      &e);

  cr_assert_str_eq(said, "");
  free(said);
  cr_expect(e.wants_body);
  cr_expect(corun__expect_status(&e, 204));
  cr_expect_not(corun__expect_status(&e, 301));
  cr_expect_eq(corun__expect_check(&e, &r, &msg), 6);
  cr_expect_str_eq(
      corun_buf_str(&msg),
      "headers \"ETag\": expected \"x\", got nothing; "
      "json \"/items\": expected count 3, got [1,2]; "
      "json \"/nope\": expected 1, found nothing; "
      "bytes: expected lt 10, got 43; "
      "duration: expected at most 0.5 s, took 0.75 s; "
      "sha256: expected "
      "0000000000000000000000000000000000000000000000000000000000000000, got "
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  corun__expect_free(&e);
  corun_buf_free(&msg);
  cJSON_Delete(r.json);
}

Test(predicate, json_checks_on_a_body_that_is_not_json_say_so)
{
  struct corun_expect e = CORUN_EXPECT_INIT;
  struct corun_response r = {
      .body = "<html>", .body_len = 6, .bytes = 6, .total = 0.1};
  struct corun_buf msg = CORUN_BUF_INIT;
  char *said = read_expect("{\"json\": {\"/a\": 1, \"\": {\"type\": "
                           "\"object\"}}}",
                           &e);

  cr_assert_str_eq(said, "");
  free(said);
  cr_expect_eq(corun__expect_check(&e, &r, &msg), 2);
  cr_expect_str_eq(corun_buf_str(&msg),
                   "json \"/a\": the body is not JSON; json \"\": the body is "
                   "not JSON");
  corun__expect_free(&e);
  corun_buf_free(&msg);
  cJSON_Delete(r.json);
}

Test(predicate, a_response_that_meets_every_check_passes)
{
  struct corun_expect e = CORUN_EXPECT_INIT;
  struct corun_response r = {.header = hdr,
                             .body = "[1,2,3]",
                             .body_len = 7,
                             .bytes = 7,
                             .total = 0.01};
  struct corun_buf msg = CORUN_BUF_INIT;
  char *said = read_expect(
      "{\"headers\": {\"content-type\": \"application/json\"}, \"json\": "
      "{\"\": {\"count\": 3}, \"/0\": {\"le\": 1}}, \"body\": {\"matches\": "
      "\"^\\\\[\"}, \"bytes\": 7, \"duration\": 1}",
      &e);

  cr_assert_str_eq(said, "");
  free(said);
  cr_expect_eq(corun__expect_check(&e, &r, &msg), 0, "%s",
               corun_buf_str(&msg));
  corun__expect_free(&e);
  corun_buf_free(&msg);
  cJSON_Delete(r.json);
}

/* ---- captures ---- */

#include "json/capture.h"

static const char *cookie_of(void *ctx, const char *name)
{
  (void)ctx;
  return strcmp(name, "sid") == 0 ? "abc123" : NULL;
}

static char *read_captures(const char *text, struct corun_captures *c)
{
  cJSON *v = cJSON_Parse(text);
  struct fails f = {CORUN_BUF_INIT};

  cr_assert_not_null(v, "bad test JSON %s", text);
  corun__captures_read(v, c, collect, &f);
  cJSON_Delete(v);
  corun_buf_putc(&f.all, '\0');
  return corun_buf_detach(&f.all);
}

Test(predicate, captures_take_typed_values_from_every_source)
{
  struct corun_captures c = CORUN_CAPTURES_INIT;
  static const char body[] =
      "{\"token\": \"t0k\", \"ids\": [3, 4], \"n\": 2.5, \"ok\": true}";
  struct corun_response r = {.status = 201,
                             .url = "http://127.0.0.1:1/login",
                             .header = hdr,
                             .cookie = cookie_of,
                             .body = body,
                             .body_len = sizeof(body) - 1};
  struct corun_buf msg = CORUN_BUF_INIT;
  char *said = read_captures(
      "{\"st\": \"status\", \"where\": \"url\", \"all\": \"body\", "
      "\"tok\": {\"json\": \"/token\", \"secret\": true}, \"ids\": {\"json\": "
      "\"/ids\"}, \"n\": {\"json\": \"/n\"}, \"ok\": {\"json\": \"/ok\"}, "
      "\"ct\": {\"header\": \"Content-Type\"}, \"sid\": {\"cookie\": \"sid\"}, "
      "\"grp\": {\"regex\": \"\\\"token\\\": \\\"([a-z0-9]+)\\\"\"}, "
      "\"whole\": {\"regex\": \"[0-9]\\\\.[0-9]\"}}",
      &c);
  cJSON *got;
  char *text;

  cr_assert_str_eq(said, "");
  free(said);
  cr_expect(c.wants_body);
  cr_expect(c.secret);
  got = corun__captures_take(&c, &r, &msg);
  cr_assert_not_null(got, "%s", corun_buf_str(&msg));
  text = cJSON_PrintUnformatted(got);
  cr_expect_str_eq(text,
                   "{\"st\":201,\"where\":\"http://127.0.0.1:1/login\","
                   "\"all\":\"{\\\"token\\\": \\\"t0k\\\", \\\"ids\\\": [3, "
                   "4], \\\"n\\\": 2.5, \\\"ok\\\": true}\",\"tok\":\"t0k\","
                   "\"ids\":[3,4],\"n\":2.5,\"ok\":true,"
                   "\"ct\":\"application/json\",\"sid\":\"abc123\","
                   "\"grp\":\"t0k\",\"whole\":\"2.5\"}");
  free(text);
  cJSON_Delete(got);
  corun__captures_free(&c);
  corun_buf_free(&msg);
  cJSON_Delete(r.json);
}

Test(predicate, a_capture_that_finds_nothing_is_named)
{
  struct corun_captures c = CORUN_CAPTURES_INIT;
  struct corun_response r = {.status = 200, .header = hdr, .cookie = cookie_of,
                             .body = "plain", .body_len = 5};
  struct corun_buf msg = CORUN_BUF_INIT;
  char *said = read_captures(
      "{\"a\": {\"json\": \"/x\"}, \"b\": {\"header\": \"X-None\"}, \"c\": "
      "{\"cookie\": \"other\"}, \"d\": {\"regex\": \"z+\"}, \"e\": \"status\"}",
      &c);

  cr_assert_str_eq(said, "");
  free(said);
  cr_expect_null(corun__captures_take(&c, &r, &msg));
  cr_expect_str_eq(corun_buf_str(&msg),
                   "capture \"a\": the body is not JSON; capture \"b\": no "
                   "header \"X-None\"; capture \"c\": no cookie \"other\"; "
                   "capture \"d\": \"z+\" does not match the body");
  corun__captures_free(&c);
  corun_buf_free(&msg);
  cJSON_Delete(r.json);
}

Test(predicate, bad_captures_are_refused_at_load)
{
  struct corun_captures c = CORUN_CAPTURES_INIT;
  char *said = read_captures(
      "{\"1st\": \"status\", \"a\": \"stauts\", \"b\": {\"jsn\": \"/x\"}, "
      "\"c\": {\"json\": \"x\"}, \"d\": {\"regex\": \"(\"}, \"e\": {\"json\": "
      "\"/a\", \"header\": \"h\"}, \"f\": {\"secret\": true}, \"g\": 5, "
      "\"h\": {\"header\": \"\"}, \"i\": {\"json\": \"/a\", \"secret\": 1}}",
      &c);

  cr_expect_eq(strncmp(said,
                       "[capture] has \"1st\", not a name (letters, digits and "
                       "_, not starting with a digit)\n"
                       "[capture.a] is \"stauts\" (did you mean \"status\"?), "
                       "not a source (\"status\", \"url\", \"body\", or an "
                       "object with json, header, regex or cookie)\n"
                       "[capture.b] has unknown field \"jsn\" (did you mean "
                       "\"json\"?) (one of json, header, regex, cookie, and "
                       "secret)\n"
                       "[capture.c] \"x\" is not a JSON Pointer: it must be "
                       "\"\" or start with \"/\"\n"
                       "[capture.d] has an invalid regular expression: ",
                       strlen("[capture] has \"1st\", not a name (letters, "
                              "digits and _, not starting with a digit)\n"
                              "[capture.a] is \"stauts\" (did you mean "
                              "\"status\"?), not a source (\"status\", "
                              "\"url\", \"body\", or an object with json, "
                              "header, regex or cookie)\n"
                              "[capture.b] has unknown field \"jsn\" (did you "
                              "mean \"json\"?) (one of json, header, regex, "
                              "cookie, and secret)\n"
                              "[capture.c] \"x\" is not a JSON Pointer: it "
                              "must be \"\" or start with \"/\"\n"
                              "[capture.d] has an invalid regular "
                              "expression: ")),
               0, "%s", said);
  cr_expect_not_null(strstr(said, "[capture.e] has both \"json\" and "
                                  "\"header\": one source each\n"
                                  "[capture.f] needs one of json, header, "
                                  "regex or cookie\n"
                                  "[capture.g] must be \"status\", \"url\", "
                                  "\"body\" or an object like {\"json\": "
                                  "\"/token\"}\n"
                                  "[capture.h] has an empty header name\n"
                                  "[capture.i] has \"secret\" that is not "
                                  "true or false\n"),
                     "%s", said);
  cr_expect_eq(c.n, 0);
  free(said);
  corun__captures_free(&c);
}

/* ---- A body read for a few pointers (json/pick.h) ---- */

static const cJSON *pick_get(cJSON *doc, const char *ptr)
{
  return doc ? corun__pointer_get(doc, ptr) : NULL;
}

/*
 * Printed, so that repeated names count (cJSON_Compare looks each name of
 * one object up in the other: a repeat always finds the first).
 */
static int same_json(const cJSON *a, const cJSON *b)
{
  char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
  int same = x && y && strcmp(x, y) == 0;

  free(x);
  free(y);
  return same;
}

/* What each pointer finds is what it finds in cJSON's whole document. */
static void picks_like_cjson(const char *text, const char *const *ptrs,
                             size_t n)
{
  cJSON *whole = cJSON_Parse(text);
  cJSON *picked = corun__json_pick(text, strlen(text), ptrs, n, NULL, 0);
  cJSON *all = corun__json_pick(text, strlen(text), NULL, 0, NULL, 0);
  size_t i;

  cr_assert_not_null(whole, "bad test JSON %s", text);
  cr_assert_not_null(picked, "%s was refused", text);
  cr_assert(same_json(all, whole), "whole %s differs", text);
  for (i = 0; i < n; i++) {
    const cJSON *a = pick_get(whole, ptrs[i]), *b = pick_get(picked, ptrs[i]);

    cr_assert_eq(a == NULL, b == NULL, "%s in %s: found in one only", ptrs[i],
                 text);
    if (a)
      cr_assert(same_json(a, b), "%s in %s: differs", ptrs[i], text);
    if (a && cJSON_IsNumber(a))
      cr_assert_eq(a->valueint, b->valueint, "%s in %s: valueint", ptrs[i],
                   text);
  }
  cJSON_Delete(whole);
  cJSON_Delete(picked);
  cJSON_Delete(all);
}

Test(predicate, a_body_read_for_pointers_finds_what_the_whole_document_has)
{
  static const char *const ptrs[] = {
      "/id",  "/ok",     "/items/2/name", "/items/0", "/items/9",
      "/a~1b", "/m~0n",  "/",             "/o/k",     "/items/01",
      "/items/-", "/n/x", "/deep/0/0/0", "/dup", "/o", "/pad"};
  static const char *const docs[] = {
      "{\"id\": 7, \"ok\": true, \"pad\": \"xxxxxxxxxxxxxxxx\", \"items\": "
      "[{\"name\": \"a\"}, 2, {\"name\": \"c\", \"more\": [1, 2]}], \"a/b\": "
      "1.5, \"m~n\": null, \"\": \"empty\", \"o\": {\"k\": [true, false]}, "
      "\"n\": 3, \"deep\": [[[\"x\"]]], \"dup\": 1, \"dup\": 2}",
      "[1, 2, 3]",
      "\"just a string\"",
      "{\"o\": {\"k\": 1, \"k\": 2}, \"dup\": {\"z\": 1}, \"dup\": 3}",
      "{\"items\": [], \"id\": -1e400}",
      "{\"id\": 3000000000, \"ok\": \"\\u00e9\\ud83d\\ude00\\n\"}",
  };
  size_t i, k;

  for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    /* All pointers at once, and each on its own. */
    picks_like_cjson(docs[i], ptrs, sizeof(ptrs) / sizeof(ptrs[0]));
    for (k = 0; k < sizeof(ptrs) / sizeof(ptrs[0]); k++)
      picks_like_cjson(docs[i], &ptrs[k], 1);
  }
}

Test(predicate, a_body_read_for_pointers_builds_only_what_they_reach)
{
  static const char text[] =
      "{\"pad\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"list\": [{\"a\": 1}, "
      "{\"a\": 2, \"b\": [1, 2, 3]}, {\"a\": 3}, {\"a\": 4}], \"id\": 9}";
  static const char *const ptrs[] = {"/list/1/b", "/id"};
  cJSON *doc = corun__json_pick(text, strlen(text), ptrs, 2, NULL, 0);
  const cJSON *list;

  cr_assert_not_null(doc);
  cr_assert_null(cJSON_GetObjectItem(doc, "pad"));
  list = cJSON_GetObjectItem(doc, "list");
  /* The element before the target keeps its place; none after it. */
  cr_assert_eq(cJSON_GetArraySize(list), 2);
  cr_assert(cJSON_IsNull(cJSON_GetArrayItem(list, 0)));
  cr_assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "a"));
  cr_assert_eq(cJSON_GetArraySize(corun__pointer_get(doc, "/list/1/b")), 3);
  cr_assert_eq(corun__pointer_get(doc, "/id")->valuedouble, 9);
  cJSON_Delete(doc);
}

Test(predicate, a_body_read_for_pointers_is_still_checked_whole)
{
  static const char *const bad[] = {
      "",          "   ",           "{\"id\": 1} trailing", "{\"id\": 1,}",
      "{\"id\": 1, \"x\": [}",      "{\"id\": 1, \"x\": \"\x01\"}",
      "{\"id\": 1, \"x\": \"\xff\"}", "{\"id\": 01}", "[1, 2", "{'id': 1}",
      "<html>not json</html>", "{\"id\": 1} /* c */"};
  static const char *const ptrs[] = {"/id"};
  char why[160];
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    why[0] = '\0';
    cr_assert_null(corun__json_pick(bad[i], strlen(bad[i]), ptrs, 1, why,
                                    sizeof(why)),
                   "accepted: %s", bad[i]);
    cr_assert(strstr(why, "at byte"), "%s: %s", bad[i], why);
  }
}

Test(predicate, a_body_may_nest_as_deep_as_cjson_allows)
{
  static const char *const ptrs[] = {"/0"};
  size_t depth[] = {999, 1001}, i, k;

  for (i = 0; i < 2; i++) {
    char *text = malloc(2 * depth[i] + 1);
    cJSON *doc;

    cr_assert_not_null(text);
    for (k = 0; k < depth[i]; k++) {
      text[k] = '[';
      text[2 * depth[i] - 1 - k] = ']';
    }
    text[2 * depth[i]] = '\0';
    doc = corun__json_pick(text, 2 * depth[i], ptrs, 1, NULL, 0);
    if (i == 0)
      cr_assert_not_null(doc, "%zu levels refused", depth[i]);
    else
      cr_assert_null(doc, "%zu levels accepted", depth[i]);
    cJSON_Delete(doc);
    free(text);
  }
}
