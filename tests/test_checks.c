/* SPDX-License-Identifier: MIT */
/*
 * A fetch's checks (expect) and captures against the test server: what
 * passes, what fails with type assert and which message, what a saved
 * body becomes when a check fails, sha256 over a streamed body, secret
 * captures hidden in the report, and the load errors of bad checks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "server.h"
#include "util/buf.h"
#include "util/sha256.h"

TestSuite(checks, .timeout = 120);

static struct test_server srv;
static char *dir;

static void setup(void)
{
  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  dir = tmp_dir("checks");
}

static void teardown(void)
{
  test_server_stop(&srv);
  rmdir(dir);
  free(dir);
}

/*
 * The job text with every "@/path" replaced by the server's URL for it;
 * runs it with a report, and returns the report (exit status in *rc).
 */
static cJSON *run(const char *tmpl, int want_exit)
{
  struct corun_buf job = CORUN_BUF_INIT;
  char *jpath = path_join(dir, "job.json");
  char *rpath = path_join(dir, "report.json");
  const char *args[] = {"-q", "--report", rpath, jpath, NULL};
  const char *p;
  struct proc *pr;
  char *text;
  cJSON *r;
  FILE *f;

  for (p = tmpl; *p; p++) {
    if (p[0] == '@' && p[1] == '/') {
      size_t n = strcspn(p + 1, "\"");
      char *path = strndup(p + 1, n);
      char *url = test_server_url(&srv, path);

      corun_buf_puts(&job, url);
      free(url);
      free(path);
      p += n;
    } else {
      corun_buf_putc(&job, *p);
    }
  }
  f = fopen(jpath, "w");
  cr_assert_not_null(f);
  fputs(corun_buf_str(&job), f);
  fclose(f);
  pr = run_cli(NULL, args);
  text = read_file(rpath, NULL);
  cr_assert_not_null(text, "no report (exit %d): %s", pr->status, pr->err);
  cr_expect_eq(pr->status, want_exit, "exit %d: %s\n%s", pr->status, pr->err,
               text);
  r = cJSON_Parse(text);
  cr_assert_not_null(r);
  free(text);
  proc_free(pr);
  unlink(rpath);
  unlink(jpath);
  free(rpath);
  free(jpath);
  corun_buf_free(&job);
  return r;
}

static const char *str(const cJSON *t, const char *a, const char *b)
{
  const cJSON *v = cJSON_GetObjectItem(t, a);

  if (b)
    v = cJSON_GetObjectItem(v, b);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

Test(checks, passing_checks_and_typed_captures, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      "{\"tasks\": [{\"id\": \"echo\", \"kind\": \"fetch\", \"url\": "
      "\"@/echo?x=1\", \"method\": \"POST\", \"json\": {\"token\": "
      "\"tok-1234\", \"ids\": [1, 2, 3]},"
      " \"expect\": {\"status\": [\"2xx\"], \"headers\": {\"content-type\": "
      "{\"contains\": \"json\"}, \"X-Nope\": {\"exists\": false}},"
      " \"json\": {\"/method\": \"POST\", \"/path\": {\"matches\": "
      "\"^/echo$\"}, \"/bytes\": {\"gt\": 10}, \"/headers\": {\"type\": "
      "\"object\"}, \"/query\": {\"count\": {\"ge\": 1}}, \"/nothing\": "
      "{\"exists\": false}},"
      " \"body\": {\"contains\": \"tok-1234\"}, \"bytes\": {\"lt\": 100000}, "
      "\"duration\": \"30s\"},"
      " \"capture\": {\"st\": \"status\", \"method\": {\"json\": "
      "\"/method\"}, \"n\": {\"json\": \"/bytes\"}, \"ct\": {\"header\": "
      "\"Content-Type\"}, \"path\": {\"regex\": \"\\\"path\\\": "
      "?\\\"([^\\\"]+)\\\"\"}}}]}\n",
      0);
  cJSON *t = report_task(r, "echo");
  cJSON *caps = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "result"),
                                    "captures");

  cr_expect_str_eq(str(t, "status", NULL), "ok", "%s",
                   str(t, "error", "message"));
  cr_assert(cJSON_IsObject(caps));
  cr_expect_eq(cJSON_GetObjectItem(caps, "st")->valuedouble, 200);
  cr_expect_str_eq(str(caps, "method", NULL), "POST");
  cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(caps, "n")));
  cr_expect_str_eq(str(caps, "ct", NULL), "application/json");
  cr_expect_str_eq(str(caps, "path", NULL), "/echo");
  cJSON_Delete(r);
}

/*
 * Every failed check in one message, in the order written; the saved body
 * does not appear; a failed check is a failed attempt, tried again while
 * retries are left (a check may hold later: polling).
 */
Test(checks, failed_checks_are_one_assert_error, .init = setup,
     .fini = teardown)
{
  cJSON *r = run("{\"tasks\": [{\"id\": \"t\", \"kind\": \"fetch\", \"url\": "
                 "\"@/status?code=200&body=hello\", \"save\": \"out.txt\", "
                 "\"retries\": 2, \"backoff\": 0.01,"
                 " \"expect\": {\"body\": \"bye\", \"headers\": "
                 "{\"Content-Type\": {\"contains\": \"json\"}}, \"bytes\": "
                 "{\"ge\": 6}, \"json\": {\"/a\": 1}}}]}\n",
                 1);
  cJSON *t = report_task(r, "t");

  cr_expect_str_eq(str(t, "status", NULL), "failed");
  cr_expect_str_eq(str(t, "error", "type"), "assert");
  cr_expect_str_eq(str(t, "error", "message"),
                   "body: expected \"bye\", got \"hello\"; headers "
                   "\"Content-Type\": expected contains \"json\", got "
                   "\"text/plain; charset=utf-8\"; bytes: expected ge 6, got 5; json "
                   "\"/a\": the body is not JSON");
  cr_expect_eq(cJSON_GetObjectItem(t, "attempts")->valuedouble, 3);
  cr_expect_eq(dir_entries(dir), 0, "a file was left in %s", dir);
  cJSON_Delete(r);
}

/*
 * A check that does not hold yet holds on a later attempt: polling a
 * server until it says what is wanted. A POST is not sent again once it
 * was sent (its check failed) unless retry_unsafe says it may be.
 */
Test(checks, a_check_that_holds_later_passes_on_a_retry, .init = setup,
     .fini = teardown)
{
  cJSON *r = run("{\"tasks\": ["
                 "{\"id\": \"poll\", \"kind\": \"fetch\", \"url\": "
                 "\"@/flaky?id=ck1&fail=2&code=200\", \"retries\": 3, "
                 "\"backoff\": \"10ms\", \"expect\": {\"body\": \"ok\"}},"
                 "{\"id\": \"post\", \"kind\": \"fetch\", \"method\": \"POST\", "
                 "\"url\": \"@/flaky?id=ck2&fail=2&code=200\", \"retries\": 3, "
                 "\"backoff\": \"10ms\", \"expect\": {\"body\": \"ok\"}},"
                 "{\"id\": \"unsafe\", \"kind\": \"fetch\", \"method\": "
                 "\"POST\", \"url\": \"@/flaky?id=ck3&fail=2&code=200\", "
                 "\"retries\": 3, \"backoff\": \"10ms\", \"retry_unsafe\": true, "
                 "\"expect\": {\"body\": \"ok\"}}]}\n",
                 1);

  static const struct {
    const char *id, *status;
    double attempts;
  } want[] = {{"poll", "ok", 3}, {"post", "failed", 1}, {"unsafe", "ok", 3}};
  size_t i;

  for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    cJSON *t = report_task(r, want[i].id);

    cr_expect_str_eq(str(t, "status", NULL), want[i].status, "%s",
                     want[i].id);
    cr_expect_eq(cJSON_GetObjectItem(t, "attempts")->valuedouble,
                 want[i].attempts, "%s", want[i].id);
  }
  cr_expect_str_eq(str(report_task(r, "post"), "error", "type"), "assert");
  cJSON_Delete(r);
}

/* A status the job does not expect is http_status; its checks are moot. */
Test(checks, an_unexpected_status_is_http_status_not_assert, .init = setup,
     .fini = teardown)
{
  cJSON *r = run("{\"tasks\": [{\"id\": \"t\", \"kind\": \"fetch\", \"url\": "
                 "\"@/status?code=404&body=gone\", \"expect\": {\"body\": "
                 "\"x\"}, \"capture\": {\"b\": \"body\"}}]}\n",
                 1);

  cr_expect_str_eq(str(report_task(r, "t"), "error", "type"), "http_status");
  cJSON_Delete(r);
}

/* sha256 and bytes over a saved 3 MB body, without keeping it. */
Test(checks, sha256_of_a_streamed_body, .init = setup, .fini = teardown)
{
  struct corun_sha256 s;
  char hex[65], job[1024], *out;
  size_t i, n = 3000000;
  cJSON *r;

  corun__sha256_init(&s);
  for (i = 0; i < n; i++) {
    char b = TEST_SERVER_BYTE(i);

    corun__sha256_add(&s, &b, 1);
  }
  corun__sha256_hex(&s, hex);
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"ok\", \"kind\": \"fetch\", \"url\": "
           "\"@/bytes?n=3000000&gzip=1\", \"save\": \"ok.bin\", \"expect\": "
           "{\"sha256\": \"%s\", \"bytes\": 3000000}},"
           " {\"id\": \"bad\", \"kind\": \"fetch\", \"url\": "
           "\"@/bytes?n=2999999\", \"save\": \"bad.bin\", \"expect\": "
           "{\"sha256\": \"%s\"}}]}\n",
           hex, hex);
  r = run(job, 1);
  cr_expect_str_eq(str(report_task(r, "ok"), "status", NULL), "ok", "%s",
                   str(report_task(r, "ok"), "error", "message"));
  cr_expect_str_eq(str(report_task(r, "bad"), "error", "type"), "assert");
  cr_expect_eq(strncmp(str(report_task(r, "bad"), "error", "message"),
                       "sha256: expected ", 17),
               0);
  out = path_join(dir, "ok.bin");
  cr_expect_eq(access(out, F_OK), 0);
  unlink(out);
  free(out);
  cr_expect_eq(dir_entries(dir), 0);
  cJSON_Delete(r);
}

/* A secret capture shows as *** in the report; cookies are captured. */
Test(checks, secret_captures_are_hidden_and_cookies_found, .init = setup,
     .fini = teardown)
{
  cJSON *r = run("{\"tasks\": [{\"id\": \"login\", \"kind\": \"fetch\", "
                 "\"url\": \"@/cookie?name=sid&value=s3cr3t-v4lue\","
                 " \"capture\": {\"sid\": {\"cookie\": \"sid\", \"secret\": "
                 "true}, \"seen\": {\"cookie\": \"seen\"}, \"body\": "
                 "\"body\"}}]}\n",
                 0);
  cJSON *caps = cJSON_GetObjectItem(
      cJSON_GetObjectItem(report_task(r, "login"), "result"), "captures");
  char *all = cJSON_PrintUnformatted(r);

  cr_expect_str_eq(str(caps, "sid", NULL), "***");
  cr_expect_str_eq(str(caps, "seen", NULL), "1");
  cr_expect_str_eq(str(caps, "body", NULL), "ok\n");
  cr_expect_null(strstr(all, "s3cr3t-v4lue"), "the secret shows: %s", all);
  free(all);
  cJSON_Delete(r);
}

Test(checks, a_capture_that_finds_nothing_fails_assert, .init = setup,
     .fini = teardown)
{
  cJSON *r = run("{\"tasks\": [{\"id\": \"t\", \"kind\": \"fetch\", \"url\": "
                 "\"@/echo\", \"capture\": {\"x\": {\"json\": \"/nope\"}, "
                 "\"y\": {\"header\": \"X-Nope\"}}}]}\n",
                 1);
  cJSON *t = report_task(r, "t");

  cr_expect_str_eq(str(t, "error", "type"), "assert");
  cr_expect_str_eq(str(t, "error", "message"),
                   "capture \"x\": nothing at \"/nope\"; capture \"y\": no "
                   "header \"X-Nope\"");
  cJSON_Delete(r);
}

/* Bad checks and captures are load errors that point at the value. */
Test(checks, bad_checks_are_load_errors_with_positions)
{
  char *d = load_err(
      "{\"tasks\": [\n"
      "  {\"id\": \"t\", \"kind\": \"fetch\", \"url\": \"http://a/\",\n"
      "   \"expect\": {\"json\": {\"/ok\": {\"eqals\": 1}}},\n"
      "   \"capture\": {\"tok\": {\"jsn\": \"/a\"}}}\n"
      "]}\n");

  cr_expect_not_null(strstr(d, ":3:41: error: task \"t\": "
                               "\"expect.json[/ok]\" has unknown operator "
                               "\"eqals\" (did you mean \"equals\"?)"),
                     "%s", d);
  cr_expect_not_null(strstr(d, ":4:31: error: task \"t\": \"capture.tok\" has "
                               "unknown field \"jsn\" (did you mean "
                               "\"json\"?)"),
                     "%s", d);
  free(d);
}

/*
 * A check that could only ever pass or only ever fail for what it reads
 * (text, or the body's size) is refused where it is written.
 */
Test(checks, checks_that_cannot_apply_are_load_errors)
{
  char *d = load_err(
      "{\"tasks\": [\n"
      "  {\"id\": \"t\", \"kind\": \"fetch\", \"url\": \"http://a/\",\n"
      "   \"expect\": {\"body\": {\"not_contains\": 1},\n"
      "    \"bytes\": {\"not_equals\": \"big\"},\n"
      "    \"headers\": {\"A\": true, \"B\": {\"type\": \"number\"}}}}\n"
      "]}\n");

  cr_expect_not_null(strstr(d, ":3:40: error: task \"t\": \"expect.body\" has "
                               "\"not_contains\" with a number: the value is "
                               "text"),
                     "%s", d);
  cr_expect_not_null(strstr(d, ":4:29: error: task \"t\": \"expect.bytes\" "
                               "has \"not_equals\" with a string: the value "
                               "is a number"),
                     "%s", d);
  cr_expect_not_null(strstr(d, ":5:22: error: task \"t\": \"expect.headers[A]\" "
                               "is a boolean: the value is text"),
                     "%s", d);
  cr_expect_not_null(strstr(d, "\"expect.headers[B]\" has \"type\" "
                               "\"number\": the value is text"),
                     "%s", d);
  free(d);
}

/* Text that is a number is compared as one with a number: "12" gt 5. */
Test(checks, text_that_is_a_number_compares_as_one, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      "{\"defaults\": {\"url\": \"@/status?code=200&body=%2012%0A\"}, "
      "\"tasks\": [\n"
      " {\"id\": \"yes\", \"kind\": \"fetch\", \"expect\": {\"body\": "
      "{\"gt\": 5}, \"headers\": {\"Content-Length\": 4, \"X-None\": null}}},\n"
      " {\"id\": \"text\", \"kind\": \"fetch\", \"expect\": {\"body\": "
      "\" 12\\n\", \"headers\": {\"Content-Length\": \"4\"}}},\n"
      " {\"id\": \"no\", \"kind\": \"fetch\", \"expect\": {\"headers\": "
      "{\"Content-Length\": {\"lt\": 4}}}},\n"
      " {\"id\": \"word\", \"kind\": \"fetch\", "
      "\"url\": \"@/status?code=200&body=12x\", \"expect\": {\"body\": 12}}\n"
      "]}\n",
      1);

  cr_expect_str_eq(str(report_task(r, "yes"), "status", NULL), "ok", "%s",
                   str(report_task(r, "yes"), "error", "message"));
  cr_expect_str_eq(str(report_task(r, "text"), "status", NULL), "ok", "%s",
                   str(report_task(r, "text"), "error", "message"));
  cr_expect_str_eq(str(report_task(r, "no"), "error", "message"),
                   "headers \"Content-Length\": expected lt 4, got 4");
  cr_expect_str_eq(str(report_task(r, "word"), "error", "message"),
                   "body: expected 12, got \"12x\"");
  cJSON_Delete(r);
}

/*
 * A fetch that fails on its status or a check keeps what came back:
 * error.response with the status, the content type and the first 4 KiB
 * of a text body; the summary's root causes and JUnit show its start.
 */
Test(checks, a_failed_fetch_shows_the_response_that_failed, .init = setup,
     .fini = teardown)
{
  char *jpath = path_join(dir, "job.json"), *jx = path_join(dir, "j.xml");
  char *rpath = path_join(dir, "r.json"), *url500, *urlbig, *urlbin, *xml;
  const char *args[] = {"--report", rpath, "--junit", jx, jpath, NULL};
  struct proc *p;
  cJSON *r, *resp;
  FILE *f;

  url500 = test_server_url(&srv, "/status?code=500&body=oops%0Asecond");
  urlbig = test_server_url(&srv, "/bytes?n=10000&type=text/plain");
  urlbin = test_server_url(&srv, "/binary");
  f = fopen(jpath, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "{\"tasks\": [{\"id\": \"s500\", \"kind\": \"fetch\", \"url\": "
          "\"%s\"}, {\"id\": \"big\", \"kind\": \"fetch\", \"url\": \"%s\", "
          "\"expect\": {\"bytes\": 1}}, {\"id\": \"bigbody\", \"kind\": "
          "\"fetch\", \"url\": \"%s\", \"expect\": {\"body\": {\"contains\": "
          "\"nowhere\"}}}, {\"id\": \"bin\", \"kind\": "
          "\"fetch\", \"url\": \"%s\", \"expect\": {\"status\": [201]}}, "
          "{\"id\": \"conn\", \"kind\": \"fetch\", \"url\": "
          "\"http://127.0.0.1:1/\"}]}\n",
          url500, urlbig, urlbig, urlbin);
  fclose(f);
  p = run_cli(NULL, args);
  cr_expect_eq(p->status, 1);
  {
    char *text = read_file(rpath, NULL);

    cr_assert_not_null(text);
    r = cJSON_Parse(text);
    free(text);
  }
  cr_assert_not_null(r);
  resp = cJSON_GetObjectItem(cJSON_GetObjectItem(report_task(r, "s500"),
                                                 "error"),
                             "response");
  cr_assert(cJSON_IsObject(resp));
  cr_expect_eq(cJSON_GetObjectItem(resp, "status")->valuedouble, 500);
  cr_expect_str_eq(str(resp, "content_type", NULL),
                   "text/plain; charset=utf-8");
  cr_expect_str_eq(str(resp, "body", NULL), "oops\nsecond");
  resp = cJSON_GetObjectItem(cJSON_GetObjectItem(report_task(r, "big"),
                                                 "error"),
                             "response");
  cr_expect_eq(strlen(str(resp, "body", NULL)), 4096,
               "a body over 4 KiB shows its first 4 KiB");
  /* The same when a check kept all of it. */
  resp = cJSON_GetObjectItem(cJSON_GetObjectItem(report_task(r, "bigbody"),
                                                 "error"),
                             "response");
  cr_expect_eq(strlen(str(resp, "body", NULL)), 4096,
               "a body a check kept whole shows its first 4 KiB");
  resp = cJSON_GetObjectItem(cJSON_GetObjectItem(report_task(r, "bin"),
                                                 "error"),
                             "response");
  cr_expect_str_eq(str(resp, "content_type", NULL), "application/octet-stream");
  cr_expect_null(cJSON_GetObjectItem(resp, "body"), "a binary body shows");
  cr_expect_null(cJSON_GetObjectItem(cJSON_GetObjectItem(report_task(r, "conn"),
                                                         "error"),
                                     "response"),
                 "a connection that failed got no answer");
  cr_expect_not_null(strstr(p->err, "    response: HTTP 500 "
                                    "(text/plain; charset=utf-8): "
                                    "oops\\nsecond\n"),
                     "out:\n%s\nerr:\n%s", p->out, p->err);
  xml = read_file(jx, NULL);
  cr_assert_not_null(xml);
  cr_expect_not_null(strstr(xml, "response: HTTP 500 (text/plain; "
                                 "charset=utf-8)\noops\nsecond</failure>"),
                     "%s", xml);
  free(xml);
  cJSON_Delete(r);
  proc_free(p);
  unlink(jpath);
  unlink(jx);
  unlink(rpath);
  free(jpath);
  free(jx);
  free(rpath);
  free(url500);
  free(urlbig);
  free(urlbin);
}

/*
 * "cookies": true shares one jar among the run's fetches that set it: a
 * cookie one of them got is sent by the next; a fetch without it neither
 * sends nor keeps any.
 */
Test(checks, cookies_go_from_fetch_to_fetch_in_one_jar, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      "{\"tasks\": ["
      "{\"id\": \"plain\", \"kind\": \"fetch\", \"url\": "
      "\"@/cookie?name=other&value=x1\"},"
      "{\"id\": \"login\", \"kind\": \"fetch\", \"url\": "
      "\"@/cookie?name=sid&value=abc123\", \"cookies\": true, \"after\": "
      "[\"plain\"]},"
      "{\"id\": \"with\", \"kind\": \"fetch\", \"url\": \"@/echo\", "
      "\"cookies\": true, \"after\": [\"login\"], \"capture\": {\"cookie\": "
      "{\"json\": \"/headers/cookie\"}}},"
      "{\"id\": \"without\", \"kind\": \"fetch\", \"url\": \"@/echo\", "
      "\"after\": [\"login\"], \"expect\": {\"json\": {\"/headers/cookie\": "
      "{\"exists\": false}}}}]}\n",
      0);
  const char *got = str(
      cJSON_GetObjectItem(cJSON_GetObjectItem(report_task(r, "with"), "result"),
                          "captures"),
      "cookie", NULL);

  cr_expect_not_null(strstr(got, "sid=abc123"), "cookie header: %s", got);
  cr_expect_not_null(strstr(got, "seen=1"), "cookie header: %s", got);
  cr_expect_null(strstr(got, "other="), "a fetch without cookies kept one: %s",
                 got);
  cr_expect_str_eq(str(report_task(r, "without"), "status", NULL), "ok");
  cJSON_Delete(r);
}

/*
 * ${ID.NAME}: a capture reaches the tasks that run after its task, in any
 * kind's fields; a field that is one reference keeps the value's type; a
 * secret stays hidden in the report; $${ stays literal.
 */
Test(checks, captures_fill_in_later_tasks, .init = setup, .fini = teardown)
{
  cJSON *r = run(
      "{\"tasks\": [\n"
      " {\"id\": \"login\", \"kind\": \"fetch\", \"url\": \"@/echo\", "
      "\"method\": \"POST\", \"json\": {\"token\": \"tok-5678\", \"n\": 7, "
      "\"obj\": {\"a\": [1, 2]}},\n"
      "  \"capture\": {\"method\": {\"json\": \"/method\"}, \"body\": "
      "\"body\", \"tok\": {\"regex\": \"(tok-[0-9]+)\", \"secret\": true}}},\n"
      " {\"id\": \"parse\", \"kind\": \"fetch\", \"after\": [\"login\"], "
      "\"url\": \"@/echo\", \"method\": \"POST\", \"body\": \"${login.body}\",\n"
      "  \"capture\": {\"n\": {\"json\": \"/bytes\"}, \"sent\": {\"json\": "
      "\"/body\"}}},\n"
      " {\"id\": \"c.1\", \"kind\": \"fetch\", \"after\": [\"parse\"], "
      "\"url\": \"@/echo?m=${login.method}\", \"method\": \"PUT\",\n"
      "  \"headers\": {\"Authorization\": \"Bearer ${login.tok}\"},\n"
      "  \"json\": {\"n\": \"${parse.n}\", \"text\": \"n=${parse.n}\", "
      "\"lit\": \"$${login.tok}\"},\n"
      "  \"expect\": {\"json\": {\"/query\": \"m=POST\", "
      "\"/headers/authorization\": \"Bearer tok-5678\", \"/body\": "
      "{\"matches\": \"^\\\\{\\\"n\\\":[0-9]+,\\\"text\\\":\\\"n=[0-9]+\\\","
      "\\\"lit\\\":\\\"\\\\$\\\\{login.tok\\\\}\\\"\\\\}$\"}}},\n"
      "  \"capture\": {\"m\": {\"json\": \"/method\"}}},\n"
      " {\"id\": \"say\", \"kind\": \"exec\", \"after\": [\"c.1\"], "
      "\"argv\": [\"printf\", \"%s\", \"${c.1.m}\"]}\n"
      "]}\n",
      0);
  cJSON *t = report_task(r, "c.1");
  cJSON *say = report_task(r, "say");
  char *text = cJSON_PrintUnformatted(r);

  cr_expect_str_eq(str(t, "status", NULL), "ok", "%s",
                   str(t, "error", "message"));
  cr_expect_str_eq(str(say, "status", NULL), "ok", "%s",
                   str(say, "error", "message"));
  cr_expect_str_eq(str(cJSON_GetObjectItem(say, "result"), "stdout", NULL),
                   "PUT");
  /* The token went out, and shows nowhere in the report. */
  cr_expect_null(strstr(text, "tok-5678"), "%s", text);
  free(text);
  cJSON_Delete(r);
}

/*
 * A secret capture is a secret whatever it holds: in the report's
 * captures it is *** (an array, an object, a number, a string too short
 * for the text search), and each value inside an array or object is
 * hidden where it shows alone: the response body, and a pipeline whose
 * items are that array.
 */
Test(checks, a_secret_capture_of_any_type_stays_hidden, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      "{\"tasks\": [\n"
      " {\"id\": \"deep\", \"kind\": \"fetch\", "
      "\"url\": \"@/status?code=200&body=%7B%22keys%22%3A%5B%22key-alpha%22%2C"
      "%22key-bravo%22%5D%2C%22acct%22%3A%7B%22pin%22%3A90817%2C%22owner%22%3A"
      "%22owner-zulu%22%7D%2C%22short%22%3A%22q7%22%7D\",\n"
      "  \"capture\": {\"arr\": {\"json\": \"/keys\", \"secret\": true}, "
      "\"obj\": {\"json\": \"/acct\", \"secret\": true}, \"pin\": {\"json\": "
      "\"/acct/pin\", \"secret\": true}, \"short\": {\"json\": \"/short\", "
      "\"secret\": true}, \"open\": {\"json\": \"/acct/owner\"}}},\n"
      " {\"id\": \"each\", \"kind\": \"pipeline\", \"after\": [\"deep\"], "
      "\"source\": {\"from\": \"${deep.arr}\"},\n"
      "  \"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": 0, "
      "\"name\": \"k ${item}\", \"result\": \"${item}\"}}]}\n"
      "]}\n",
      0);
  cJSON *deep = cJSON_GetObjectItem(report_task(r, "deep"), "result");
  cJSON *caps = cJSON_GetObjectItem(deep, "captures");
  char *text = cJSON_PrintUnformatted(r);
  static const char *const hidden[] = {"arr", "obj", "pin", "short"};
  size_t i;

  cr_assert_str_eq(str(report_task(r, "each"), "status", NULL), "ok", "%s",
                   str(report_task(r, "each"), "error", "message"));
  for (i = 0; i < 4; i++)
    cr_expect_str_eq(str(caps, hidden[i], NULL), "***", "%s", hidden[i]);
  cr_expect_null(strstr(text, "key-alpha"), "%s", text);
  cr_expect_null(strstr(text, "key-bravo"), "%s", text);
  cr_expect_null(strstr(text, "90817"), "%s", text);
  /* A value inside a secret object is secret too, however it is reached. */
  cr_expect_null(strstr(text, "owner-zulu"), "%s", text);
  free(text);
  cJSON_Delete(r);
}

/*
 * Numbers compare exactly, and go out as they are: two doubles a rounding
 * apart are not equal, and a request body or a filled-in capture keeps
 * every digit (cJSON's compare and printer both round).
 */
Test(checks, numbers_compare_and_travel_exactly, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      "{\"defaults\": {\"url\": \"@/status?code=200&body=%7B%22id%22%3A1800000000000000256%2C%22f%22%3A0.30000000000000004%2C%22a%22%3A%5B9007199254740991%5D%7D\"}, \"tasks\": [\n"
      " {\"id\": \"near\", \"kind\": \"fetch\", "
      "\"expect\": {\"json\": {\"/id\": 1800000000000000000}}},\n"
      " {\"id\": \"near2\", \"kind\": \"fetch\", "
      "\"expect\": {\"json\": {\"/f\": 0.3}}},\n"
      " {\"id\": \"exact\", \"kind\": \"fetch\", \"expect\": {\"json\": "
      "{\"/id\": 1800000000000000256, \"/f\": 0.30000000000000004, "
      "\"/f \": {\"exists\": false}, \"/a\": {\"contains\": 9007199254740991}}},"
      " \"capture\": {\"arr\": {\"json\": \"/a\"}}},\n"
      " {\"id\": \"other\", \"kind\": \"fetch\", \"expect\": {\"json\": "
      "{\"/a\": {\"contains\": 9007199254740992}}}},\n"
      " {\"id\": \"sent\", \"kind\": \"fetch\", \"url\": \"@/echo\", "
      "\"json\": [9007199254740991, 9007199254740992, 0.30000000000000004],"
      " \"capture\": {\"b\": {\"json\": \"/body\"}}},\n"
      " {\"id\": \"use\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"exact\"], \"result\": \"v=${exact.arr}\"}\n"
      "]}\n",
      1);
  const cJSON *caps;

  cr_expect_str_eq(str(report_task(r, "near"), "status", NULL), "failed");
  cr_expect_str_eq(str(report_task(r, "near2"), "status", NULL), "failed");
  cr_expect_not_null(strstr(str(report_task(r, "near2"), "error", "message"),
                            "0.30000000000000004"),
                     "%s", str(report_task(r, "near2"), "error", "message"));
  cr_expect_str_eq(str(report_task(r, "other"), "status", NULL), "failed");
  cr_expect_str_eq(str(report_task(r, "exact"), "status", NULL), "ok", "%s",
                   str(report_task(r, "exact"), "error", "message"));
  cr_expect_str_eq(str(report_task(r, "sent"), "status", NULL), "ok");
  caps = cJSON_GetObjectItem(
      cJSON_GetObjectItem(report_task(r, "sent"), "result"), "captures");
  cr_expect_str_eq(str(caps, "b", NULL),
                   "[9007199254740991,9007199254740992,0.30000000000000004]");
  cr_expect_str_eq(str(report_task(r, "use"), "result", NULL),
                   "v=[9007199254740991]");
  cJSON_Delete(r);
}

/*
 * A body with a NUL byte is checked whole: the byte reads as U+FFFD, one
 * character, where the checks saw the body end at it.
 */
Test(checks, a_nul_byte_does_not_end_the_body, .init = setup,
     .fini = teardown)
{
  char *path = path_join(dir, "nul.bin"), *jpath = path_join(dir, "nul.json");
  char tmpl[2048];
  FILE *f = fopen(path, "wb");
  cJSON *r;

  cr_assert_not_null(f);
  fwrite("ab\0cd", 1, 5, f);
  fclose(f);
  /* A raw NUL in a string is no JSON: its checks fail as for any such. */
  f = fopen(jpath, "wb");
  cr_assert_not_null(f);
  {
    static const char doc[] = "{\"a\":\"x\0y\"}";

    fwrite(doc, 1, sizeof(doc) - 1, f);
  }
  fclose(f);
  snprintf(tmpl, sizeof(tmpl),
           "{\"tasks\": [{\"id\": \"n\", \"kind\": \"fetch\", \"url\": "
           "\"@/file?path=%s\", \"expect\": {\"body\": {\"count\": 5}, "
           "\"bytes\": 5},\n \"capture\": {\"tail\": {\"regex\": \"c(d)$\"}, "
           "\"all\": \"body\"}},\n"
           " {\"id\": \"j\", \"kind\": \"fetch\", \"url\": \"@/file?path=%s\","
           " \"expect\": {\"json\": {\"/a\": {\"type\": \"string\"}}}}]}\n",
           path, jpath);
  r = run(tmpl, 1);
  cr_expect_str_eq(str(report_task(r, "n"), "status", NULL), "ok", "%s",
                   str(report_task(r, "n"), "error", "message"));
  cr_expect_str_eq(str(report_task(r, "j"), "status", NULL), "failed");
  cr_expect_not_null(strstr(str(report_task(r, "j"), "error", "message"),
                            "not JSON"),
                     "%s", str(report_task(r, "j"), "error", "message"));
  cr_expect_str_eq(str(cJSON_GetObjectItem(report_task(r, "n"), "result"),
                       "captures", "all"),
                   "ab\xef\xbf\xbd" "cd");
  cJSON_Delete(r);
  unlink(path);
  unlink(jpath);
  free(path);
  free(jpath);
}

/*
 * Captures inside a pipeline's "source.items" are filled in when it
 * starts: a whole reference keeps the value's type, one inside a string
 * or an object is text; $${ stays a literal ${; vars were filled at load.
 */
Test(checks, captures_fill_in_a_pipeline_s_items, .init = setup,
     .fini = teardown)
{
  char *res = path_join(dir, "items.jsonl");
  char *text;
  cJSON *r = run(
      "{\"vars\": {\"v\": \"VAR\"}, \"tasks\": [\n"
      " {\"id\": \"get\", \"kind\": \"fetch\", \"url\": \"@/echo\", "
      "\"method\": \"POST\", \"json\": {\"n\": 7, \"who\": \"ann\"},\n"
      "  \"capture\": {\"n\": {\"json\": \"/bytes\"}, \"who\": {\"regex\": "
      "\"who[^a-z]+([a-z]+)\"}}},\n"
      " {\"id\": \"each\", \"kind\": \"pipeline\", \"after\": [\"get\"], "
      "\"results\": \"items.jsonl\", \"source\": {\"items\": [\"${get.n}\", "
      "\"x-${get.who}-y\", {\"k\": \"${get.who}\"}, \"${v}\", "
      "\"lit $${get.who}\"]},\n"
      "  \"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": 0, "
      "\"result\": \"${item}\"}}]}\n"
      "]}\n",
      0);
  char *line, *save = NULL;
  int n = 0;
  static const char *const want[] = {"19", "\"x-ann-y\"", "{\"k\":\"ann\"}",
                                     "\"VAR\"", "\"lit ${get.who}\""};

  cr_assert_str_eq(str(report_task(r, "each"), "status", NULL), "ok", "%s",
                   str(report_task(r, "each"), "error", "message"));
  text = read_file(res, NULL);
  cr_assert_not_null(text);
  for (line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    cJSON *l = cJSON_Parse(line);
    int index = (int)cJSON_GetObjectItem(l, "index")->valuedouble;
    char *item = cJSON_PrintUnformatted(cJSON_GetObjectItem(l, "item"));

    cr_assert(index >= 0 && index < 5);
    cr_expect_str_eq(item, want[index], "item %d", index);
    free(item);
    cJSON_Delete(l);
    n++;
  }
  cr_expect_eq(n, 5);
  free(text);
  unlink(res);
  free(res);
  cJSON_Delete(r);
}

/*
 * Fan-out: a pipeline over the array a fetch captured, its stage task
 * using the item and another capture; an array that is not one fails the
 * pipeline, saying what it is.
 */
Test(checks, a_pipeline_runs_over_a_captured_array, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      "{\"tasks\": [\n"
      " {\"id\": \"list\", \"kind\": \"fetch\", \"url\": "
      "\"@/status?code=200&body=%7B%22items%22%3A%5B%7B%22id%22%3A4%7D%2C"
      "%7B%22id%22%3A5%7D%2C%7B%22id%22%3A6%7D%5D%7D\",\n"
      "  \"capture\": {\"ids\": {\"json\": \"/items\"}, \"first\": {\"json\": "
      "\"/items/0/id\"}}},\n"
      " {\"id\": \"each\", \"kind\": \"pipeline\", \"after\": [\"list\"], "
      "\"source\": {\"from\": \"${list.ids}\"},\n"
      "  \"stages\": [{\"workers\": 2, \"task\": {\"kind\": \"fetch\", "
      "\"url\": \"@/echo?id=${item.id}&first=${list.first}\",\n"
      "   \"expect\": {\"json\": {\"/query\": {\"matches\": "
      "\"^id=[456]&first=4$\"}}}}}]},\n"
      " {\"id\": \"bad\", \"kind\": \"pipeline\", \"after\": [\"list\"], "
      "\"source\": {\"items\": \"${list.first}\"},\n"
      "  \"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": 0}}]}\n"
      "]}\n",
      1);
  cJSON *each = report_task(r, "each");
  cJSON *bad = report_task(r, "bad");
  cJSON *res = cJSON_GetObjectItem(each, "result");

  cr_expect_str_eq(str(each, "status", NULL), "ok", "%s",
                   str(each, "error", "message"));
  cr_expect_eq(cJSON_GetObjectItem(res, "items")->valuedouble, 3);
  cr_expect_eq(cJSON_GetObjectItem(res, "ok")->valuedouble, 3);
  cr_expect_str_eq(str(bad, "status", NULL), "failed");
  cr_expect_str_eq(str(bad, "error", "type"), "fail");
  cr_expect_str_eq(str(bad, "error", "message"),
                   "\"source\": \"${list.first}\" is not an array but a "
                   "number");
  cJSON_Delete(r);
}

/*
 * What a capture may not be: of a task that is not there, a name the
 * task does not capture, from a task that may not have ended, in a field
 * read before the run, or outside tasks.
 */
Test(checks, bad_captures_are_load_errors)
{
  char *d = load_err(
      "{\"limits\": {\"l\": \"${login.n}\"},\n"
      " \"tasks\": [\n"
      "  {\"id\": \"login\", \"kind\": \"fetch\", \"url\": \"http://a/\",\n"
      "   \"capture\": {\"token\": \"body\"}},\n"
      "  {\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"http://a/${logn.token}\","
      " \"after\": [\"login\"]},\n"
      "  {\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"http://a/${login.tokn}\","
      " \"after\": [\"login\"]},\n"
      "  {\"id\": \"c\", \"kind\": \"fetch\", \"url\": \"http://a/${login.token}\"},\n"
      "  {\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 1, \"after\": [\"login\"],"
      " \"timeout\": \"${login.token}\"},\n"
      "  {\"id\": \"e\", \"kind\": \"sleep\", \"seconds\": \"${d.x}\", "
      "\"after\": [\"d\"]},\n"
      "  {\"id\": \"f\", \"kind\": \"pipeline\", \"after\": [\"login\"], "
      "\"source\": {\"from\": \"x${login.token}\"},\n"
      "   \"results\": \"${login.token}.jsonl\", \"stages\": [{\"task\": "
      "{\"kind\": \"sleep\", \"seconds\": 0}}]}\n"
      "]}\n");

  cr_expect_not_null(strstr(d, ":1:18: error: \"limits\": \"l\": "
                               "\"${login.n}\" is a capture: only a task's "
                               "fields can use one"),
                     "%s", d);
  cr_expect_not_null(strstr(d, "error: task \"a\": \"${logn.token}\": no task "
                               "has the id \"logn\" (did you mean "
                               "\"login\"?)"),
                     "%s", d);
  cr_expect_not_null(strstr(d, "error: task \"b\": \"${login.tokn}\": task "
                               "\"login\" has no capture \"tokn\" (did you "
                               "mean \"token\"?)"),
                     "%s", d);
  cr_expect_not_null(strstr(d, ":7:39: error: task \"c\": \"${login.token}\": "
                               "this task does not run after \"login\""),
                     "%s", d);
  cr_expect_not_null(strstr(d, "error: task \"d\": \"timeout\" cannot use a "
                               "capture (\"${login.token}\")"),
                     "%s", d);
  cr_expect_not_null(strstr(d, "error: task \"e\": \"${d.x}\": task \"d\" "
                               "captures nothing"),
                     "%s", d);
  cr_expect_not_null(strstr(d, "error: task \"f\": \"source\" \"from\" must "
                               "be one capture"),
                     "%s", d);
  cr_expect_not_null(strstr(d, "error: task \"f\": \"results\" cannot use a "
                               "capture (\"${login.token}\")"),
                     "%s", d);
  /* Nothing said twice: a refused field is not also a bad duration. */
  cr_expect_null(strstr(d, "\"timeout\" is not"), "%s", d);
  free(d);
}

/*
 * "Runs after" goes through chains of "after" and through the tasks that
 * hold a task.
 */
Test(checks, a_capture_may_be_used_after_a_chain_or_inside_a_group)
{
  char *d = load_err(
      "{\"tasks\": [\n"
      "  {\"id\": \"login\", \"kind\": \"fetch\", \"url\": \"http://a/\",\n"
      "   \"capture\": {\"token\": \"body\"}},\n"
      "  {\"id\": \"mid\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"login\"]},\n"
      "  {\"id\": \"g\", \"kind\": \"gather\", \"after\": [\"mid\"], "
      "\"tasks\": [\n"
      "    {\"id\": \"in\", \"kind\": \"fetch\", \"url\": "
      "\"http://a/${login.token}\"}]},\n"
      "  {\"id\": \"z\", \"kind\": \"fetch\", \"url\": \"http://a/${in.x}\", "
      "\"after\": [\"g\"]}\n"
      "]}\n");

  /* Only the deliberate mistake: "in" captures nothing. */
  cr_expect_not_null(strstr(d, "task \"z\": \"${in.x}\": task \"in\" "
                               "captures nothing"),
                     "%s", d);
  cr_expect_null(strstr(d, "login.token"), "%s", d);
  free(d);
}

/* A variable whose name has a dot stays a variable where "vars" has it. */
Test(checks, a_dotted_variable_is_still_a_variable)
{
  struct corun_job *job = load_ok(
      "{\"vars\": {\"a.b\": \"x\"}, \"tasks\": [{\"kind\": \"exec\", "
      "\"argv\": [\"echo\", \"${a.b}\"]}]}");
  char *d = load_err("{\"vars\": {\"a.b\": \"x\"}, \"tasks\": [{\"kind\": "
                     "\"exec\", \"argv\": [\"echo\", \"${a.c}\"]}]}");

  cr_expect_not_null(strstr(d, "\"${a.c}\": no task has the id \"a\""), "%s",
                     d);
  free(d);
  corun_job_free(job);
}

/*
 * Tasks whose "expect" or "capture" repeats the one before share one
 * reading of it (fetch.c's memo); each task still checks and captures
 * what its own fields say, whatever came before it.
 */
Test(checks, repeated_checks_are_read_once_and_still_apply_to_each_task,
     .init = setup, .fini = teardown)
{
  static const char same[] =
      "\"expect\": {\"json\": {\"/method\": \"GET\"}}, \"capture\": {\"m\": "
      "{\"json\": \"/method\"}}";
  char tmpl[2048];
  cJSON *r, *t;
  int i;

  snprintf(tmpl, sizeof(tmpl),
           "{\"tasks\": ["
           "{\"id\": \"a1\", \"kind\": \"fetch\", \"url\": \"@/echo\", %s},"
           "{\"id\": \"a2\", \"kind\": \"fetch\", \"url\": \"@/echo\", %s},"
           "{\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"@/echo\", "
           "\"expect\": {\"json\": {\"/method\": \"POST\"}}, \"capture\": "
           "{\"p\": {\"json\": \"/path\"}}},"
           "{\"id\": \"a3\", \"kind\": \"fetch\", \"url\": \"@/echo\", %s},"
           "{\"id\": \"c\", \"kind\": \"fetch\", \"url\": \"@/echo\", "
           "\"capture\": {\"m\": {\"json\": \"/method\"}}}]}\n",
           same, same, same);
  r = run(tmpl, 1);
  for (i = 0; i < 3; i++) {
    const char *id = i == 0 ? "a1" : i == 1 ? "a2" : "a3";

    t = report_task(r, id);
    cr_expect_str_eq(str(t, "status", NULL), "ok", "%s", id);
    cr_expect_str_eq(str(cJSON_GetObjectItem(t, "result"), "captures", "m"),
                     "GET", "%s", id);
  }
  t = report_task(r, "b");
  cr_expect_str_eq(str(t, "status", NULL), "failed");
  cr_expect_str_eq(str(t, "error", "type"), "assert");
  t = report_task(r, "c");
  cr_expect_str_eq(str(t, "status", NULL), "ok");
  cr_expect_str_eq(str(cJSON_GetObjectItem(t, "result"), "captures", "m"),
                   "GET");
  cJSON_Delete(r);
}
