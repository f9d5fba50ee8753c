/* SPDX-License-Identifier: MIT */
/*
 * Out of memory where corun builds libcurl's lists and follows redirects:
 * a header, a "resolve" entry, a JSON body or a redirect's target that
 * cannot be kept must be an error, never a request that silently goes
 * without it; a body that cannot be kept must say so, and take nothing
 * from the hop before. This suite is linked with
 * -Wl,--wrap= for curl_slist_append, strdup, realloc, corun_buf_detach,
 * cJSON_AddItemToObject and cJSON_Duplicate, so the library's calls come
 * here first and the test says which fail.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "helpers.h"
#include "server.h"
#include "core/task.h"

struct curl_slist *__real_curl_slist_append(struct curl_slist *l,
                                            const char *data);
struct curl_slist *__wrap_curl_slist_append(struct curl_slist *l,
                                            const char *data);

/* Appends of a line that starts with this fail (NULL: none do). */
static const char *failing;
static int failed;
/* corun's copies of exactly this string fail (NULL: none do). */
static const char *failing_dup;
/* Strings handed out by a corun_buf that start with this fail. */
static const char *failing_detach;

char *__real_corun_buf_detach(struct corun_buf *b);
char *__wrap_corun_buf_detach(struct corun_buf *b);

char *__wrap_corun_buf_detach(struct corun_buf *b)
{
  if (failing_detach && b->p &&
      strncmp(b->p, failing_detach, strlen(failing_detach)) == 0) {
    corun_buf_free(b);
    failed++;
    return NULL;
  }
  return __real_corun_buf_detach(b);
}

/* Adding a member of this name to a JSON object fails (NULL: none do). */
static const char *failing_member;

cJSON_bool __real_cJSON_AddItemToObject(cJSON *o, const char *k, cJSON *v);
cJSON_bool __wrap_cJSON_AddItemToObject(cJSON *o, const char *k, cJSON *v);

cJSON_bool __wrap_cJSON_AddItemToObject(cJSON *o, const char *k, cJSON *v)
{
  if (failing_member && strcmp(k, failing_member) == 0) {
    failed++;
    return 0;
  }
  return __real_cJSON_AddItemToObject(o, k, v);
}

/* The next copy of a JSON tree fails, once (0: none does). */
static int failing_duplicate;

cJSON *__real_cJSON_Duplicate(const cJSON *v, cJSON_bool recurse);
cJSON *__wrap_cJSON_Duplicate(const cJSON *v, cJSON_bool recurse);

cJSON *__wrap_cJSON_Duplicate(const cJSON *v, cJSON_bool recurse)
{
  if (failing_duplicate) {
    failing_duplicate = 0;
    failed++;
    return NULL;
  }
  return __real_cJSON_Duplicate(v, recurse);
}

/* corun's reallocs to at least this many bytes fail (0: none do). */
static size_t failing_from;
/* The next new buffer of exactly this many bytes fails, once (0: none). */
static size_t failing_fresh;

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

/* The next realloc to at least this many bytes fails, once (0: none). */
static size_t failing_from_once;

void *__wrap_realloc(void *p, size_t n)
{
  if ((failing_from && n >= failing_from) ||
      (failing_from_once && n >= failing_from_once) ||
      (failing_fresh && p == NULL && n == failing_fresh)) {
    failing_fresh = failing_from_once = 0;
    failed++;
    return NULL;
  }
  return __real_realloc(p, n);
}

/* The next calloc of exactly this many bytes fails, once (0: none). */
static size_t failing_calloc;

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

void *__wrap_calloc(size_t n, size_t size)
{
  if (failing_calloc && n * size == failing_calloc) {
    failing_calloc = 0;
    failed++;
    return NULL;
  }
  return __real_calloc(n, size);
}

char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);

char *__wrap_strdup(const char *s)
{
  if (failing_dup && strcmp(s, failing_dup) == 0) {
    failed++;
    return NULL;
  }
  return __real_strdup(s);
}

struct curl_slist *__wrap_curl_slist_append(struct curl_slist *l,
                                            const char *data)
{
  if (failing && strncmp(data, failing, strlen(failing)) == 0) {
    failed++;
    return NULL;
  }
  return __real_curl_slist_append(l, data);
}

static struct test_server srv;

static void setup(void)
{
  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
}

static void teardown(void)
{
  failing = NULL;
  failing_dup = NULL;
  failing_from = failing_fresh = failing_from_once = 0;
  failing_detach = NULL;
  failing_member = NULL;
  failing_duplicate = 0;
  test_server_stop(&srv);
}

TestSuite(oom, .init = setup, .fini = teardown, .timeout = 60);

/* The job's load error with the append of lines starting with which failing. */
static char *load_failing(const char *which, const char *text)
{
  char *diag;

  failing = which;
  failed = 0;
  diag = load_err(text);
  failing = NULL;
  cr_assert_gt(failed, 0, "no append of \"%s\" was made", which);
  return diag;
}

/* Task t failed, saying says. */
static void expect_failed(const struct corun_task *t, const char *says)
{
  cr_expect_eq(t->status, CORUN_STATUS_FAILED, "%s ended with status %d",
               t->id, t->status);
  cr_expect(t->err_msg && strstr(t->err_msg, says), "%s",
            t->err_msg ? t->err_msg : "(no message)");
}

/*
 * Load text, then make *which fail on what (see the __wrap_ functions)
 * while the job runs: its one task must fail, saying says.
 */
static void run_failing_after_load(const char *text, const char **which,
                                   const char *what, const char *says)
{
  struct corun_run_opts ro = CORUN_RUN_OPTS_INIT;
  struct corun_error err = {0};
  struct corun_job *job = load_ok(text);
  struct corun_run *run;
  uv_loop_t loop;

  *which = what;
  failed = 0;
  cr_assert_eq(uv_loop_init(&loop), 0);
  ro.skip_timings = 1;
  cr_assert_eq(corun_run_new(&run, job, &loop, &ro, &err), CORUN_OK, "%s",
               err.msg);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  *which = NULL;
  cr_assert(corun_run_done(run));
  cr_expect_gt(failed, 0, "\"%s\" never came", what);
  cr_assert_eq(job->ntasks, 1);
  expect_failed(job->tasks[0], says);
  run_free(run, &loop);
  uv_loop_close(&loop);
  corun_job_free(job);
}

Test(oom, a_header_that_cannot_be_kept_fails_the_load_naming_it)
{
  char *diag = load_failing(
      "X-Second", "{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
                  "\"http://127.0.0.1:1/\",\n \"headers\": {\"X-First\": "
                  "\"1\", \"X-Second\": \"2\"}}]}");

  cr_expect(strstr(diag, "\"X-Second\" could not be kept: out of memory"),
            "%s", diag);
  cr_expect(strstr(diag, "test.json:2:"),
            "the error names the header's line: %s", diag);
  free(diag);
}

Test(oom, a_json_body_whose_content_type_cannot_be_kept_fails_the_load)
{
  char *diag = load_failing(
      "Content-Type: application/json",
      "{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
      "\"http://127.0.0.1:1/\", \"json\": {\"a\": 1}}]}");

  cr_expect(strstr(diag, "json") && strstr(diag, "out of memory"), "%s", diag);
  free(diag);
}

Test(oom, a_resolve_entry_that_cannot_be_kept_fails_the_load)
{
  char *diag = load_failing(
      "api.test:", "{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
                   "\"http://api.test:1/\", \"resolve\": "
                   "[\"api.test:1:127.0.0.1\"]}]}");

  cr_expect(strstr(diag, "resolve") && strstr(diag, "out of memory"), "%s",
            diag);
  free(diag);
}

/*
 * A 303 turns a POST into a GET and drops the body's Content-Type: the
 * next hop's header list is made anew. If it cannot be, the fetch fails;
 * it does not go on with no headers at all.
 */
Test(oom, a_redirect_whose_headers_cannot_be_copied_fails_the_fetch)
{
  char text[1024];
  char *echo = test_server_url(&srv, "/echo");
  char *url = test_server_url(&srv, "/redirect-to?code=303&url=");

  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
           "\"%s%s\", \"json\": {\"a\": 1}, \"headers\": {\"X-Api-Key\": "
           "\"k\"}}]}",
           url, echo);
  /* Loaded whole; from then on the hop's copy of X-Api-Key cannot be made. */
  run_failing_after_load(text, &failing, "X-Api-Key",
                         "out of memory following a redirect");
  free(echo);
  free(url);
}

/* A redirect whose target cannot be copied is not its own final answer. */
Test(oom, a_redirect_whose_target_cannot_be_kept_fails_the_fetch)
{
  char *echo = test_server_url(&srv, "/echo?n=target");
  char *url = test_server_url(&srv, "/redirect-to?code=302&url=");
  char text[1024];
  struct result *r;

  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
           "\"%s%s\"}]}",
           url, echo);
  failing_dup = echo;
  failed = 0;
  r = run_job(text, NULL);
  failing_dup = NULL;
  cr_expect_gt(failed, 0, "the redirect's target was never copied");
  /* Not ok with the 302 as its answer. */
  expect_failed(task_by_id(r, "f"), "out of memory following a redirect");
  result_free(r);
  free(echo);
  free(url);
}

/*
 * Run a job of one fetch "f" of url (with the fields extra adds) while
 * *which is n (failing_from or failing_fresh); failed counts what failed.
 */
static struct result *fetch_failing(const char *url, const char *extra,
                                    size_t *which, size_t n)
{
  char text[8192];
  struct result *r;

  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
           "\"%s\"%s}]}",
           url, extra);
  *which = n;
  failed = 0;
  r = run_job(text, NULL);
  *which = 0;
  return r;
}

/* A body a check needs but memory cannot hold: said as such. */
Test(oom, a_body_too_big_for_memory_says_so)
{
  char *url = test_server_url(&srv, "/bytes?n=3000000");
  /* The whole body is kept for the check: its buffer passes 2 MiB. */
  struct result *r =
      fetch_failing(url, ", \"expect\": {\"body\": {\"contains\": \"zz\"}}",
                    &failing_from, (size_t)2 << 20);

  cr_expect_gt(failed, 0, "the body's buffer never grew that far");
  expect_failed(task_by_id(r, "f"), "out of memory keeping the body");
  cr_expect_eq(task_by_id(r, "f")->err_type, CORUN_ERR_IO);
  result_free(r);
  free(url);
}

/*
 * The first 4 KiB of a 503's body could not be kept: the retry starts with
 * an empty buffer that may grow again, and the answer it gets shows.
 */
Test(oom, a_body_lost_before_a_retry_does_not_lose_the_retrys)
{
  char *url = test_server_url(&srv, "/flaky?id=oom-retry&fail=1&n=6000");
  /*
   * The kept start of the 503's body: 4 KiB at once (the server sends the
   * answer in one piece over loopback), a new buffer of 8. Were it split,
   * the buffer would not be new and "failed" would say so.
   */
  struct result *r =
      fetch_failing(url, ", \"retries\": 1, \"backoff\": \"10ms\"",
                    &failing_fresh, 8192);
  const char *res;

  cr_expect_eq(failed, 1, "the 503's body never asked for a buffer of 8 KiB");
  cr_expect_str_eq(status_of(r, "f"), "ok");
  res = result_json(r, "f");
  cr_expect(strstr(res, "\"body\": \"ok\""),
            "the retry's body is not in the result: %s", res);
  result_free(r);
  free(url);
}

static int count_sink(void *arg, const char *data, size_t n)
{
  (void)data;
  *(size_t *)arg += n;
  return 0;
}

/*
 * A report streams through a fixed buffer; a secret-bearing string is
 * redacted in a buffer of its own first. If that one cannot grow, the
 * report is not whole, and its buffer must say so: the command then
 * refuses to put the file in place.
 */
Test(oom, a_report_string_that_cannot_be_redacted_marks_the_report_incomplete)
{
  void (*const reports[])(const struct corun_run *, struct corun_buf *) = {
      corun_report_json, corun_report_junit};
  struct result *r;
  size_t i;

  cr_assert_eq(setenv("CORUN_OOM_SECRET", "s3cret-value", 1), 0);
  r = run_job("{\"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", \"argv\": "
              "[\"sh\", \"-c\", \"head -c 60000 /dev/zero | tr '\\\\0' x; "
              "echo ${env:CORUN_OOM_SECRET}\"]}]}",
              NULL);
  cr_assert_str_eq(status_of(r, "e"), "ok");
  for (i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
    struct corun_buf out;
    size_t written = 0;

    corun_buf_stream(&out, 16384, count_sink, &written);
    cr_assert(!out.oom);
    /* The 60 KB output's redacted copy grows past 32 KiB: it fails. */
    failing_from = 32768;
    failed = 0;
    reports[i](r->run, &out);
    failing_from = 0;
    corun_buf_flush(&out);
    cr_expect_gt(failed, 0, "report %zu made no buffer of 32 KiB", i);
    cr_expect(out.oom, "report %zu looks whole without the task's output", i);
    corun_buf_free(&out);
  }
  result_free(r);
}

/*
 * The task dump (corun ps, SIGUSR1) and the job's listings (--check,
 * --dry-run, --graph) are built in buffers of their own, each id redacted
 * in another: if one cannot grow, the view is not whole, and the buffer it
 * goes to must say so. Job 0 has a 40,000-byte name (the listings' copy
 * of it fails) and a command that failed saying 40,000 bytes (the dump's
 * copy of why it ended fails); job 1 has 3,000 tasks (the view's own
 * buffer fails; the graph has none, it writes straight out); job 2's
 * command has a 40,000-byte argument (the dry run's redacted copy of it
 * fails; only the dry run shows it).
 */
Test(oom, a_dump_or_listing_cut_short_says_it_is_incomplete)
{
  void (*const runs[])(const struct corun_run *, struct corun_buf *) = {
      corun_run_dump, corun_run_dump_json};
  void (*const jobs[])(const struct corun_job *, struct corun_buf *) = {
      corun_job_describe, corun_job_dry_run, corun_job_graph};
  struct corun_buf text = CORUN_BUF_INIT;
  struct result *r[3];
  size_t i, k, v;

  corun_buf_puts(&text, "{\"name\": \"");
  for (i = 0; i < 40000; i++)
    corun_buf_putc(&text, 'x');
  corun_buf_puts(&text, "\", \"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", "
                        "\"argv\": [\"sh\", \"-c\", \"head -c 40000 /dev/zero "
                        "| tr '\\\\0' x >&2; exit 1\"]}]}");
  r[0] = run_job(corun_buf_str(&text), NULL);
  cr_assert_str_eq(status_of(r[0], "e"), "failed");
  cr_assert_gt(strlen(task_by_id(r[0], "e")->err_msg), 40000);
  corun_buf_reset(&text);
  corun_buf_puts(&text, "{\"tasks\": [");
  for (i = 0; i < 3000; i++)
    corun_buf_printf(&text, "%s{\"kind\": \"sleep\", \"seconds\": 0}",
                     i ? ", " : "");
  corun_buf_puts(&text, "]}");
  r[1] = run_job(corun_buf_str(&text), NULL);
  corun_buf_reset(&text);
  corun_buf_puts(&text, "{\"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", "
                        "\"argv\": [\"true\", \"");
  for (i = 0; i < 40000; i++)
    corun_buf_putc(&text, 'a');
  corun_buf_puts(&text, "\"]}]}");
  r[2] = run_job(corun_buf_str(&text), NULL);
  corun_buf_free(&text);
  for (k = 0; k < 3; k++) {
    for (v = 0; v < 5; v++) {
      struct corun_buf out;
      size_t written = 0;

      if ((k == 1 && v == 4) || (k == 2 && v != 3))
        continue;
      corun_buf_stream(&out, 16384, count_sink, &written);
      failing_from = 32768;
      failed = 0;
      if (v < 2)
        runs[v](r[k]->run, &out);
      else
        jobs[v - 2](r[k]->job, &out);
      failing_from = 0;
      corun_buf_flush(&out);
      cr_expect_gt(failed, 0, "job %zu, view %zu made no buffer of 32 KiB", k,
                   v);
      cr_expect(out.oom, "job %zu, view %zu looks whole", k, v);
      corun_buf_free(&out);
    }
    result_free(r[k]);
  }
}

/*
 * JUnit's classname (the job's name and the ancestors' ids) and failure
 * message (the error and what the kind adds) are put together in buffers
 * of their own before they are escaped. Sizes are chosen so that only
 * that buffer passes 32 KiB (to 64 KiB, where reallocs fail): the name
 * alone, or the command's stderr alone, still fits.
 */
Test(oom, a_junit_case_put_together_short_marks_the_report_incomplete)
{
  struct corun_buf text = CORUN_BUF_INIT;
  struct result *r[2];
  size_t i, k;

  corun_buf_puts(&text, "{\"name\": \"");
  for (i = 0; i < 32740; i++)
    corun_buf_putc(&text, 'n');
  corun_buf_puts(&text, "\", \"tasks\": [{\"id\": \"");
  for (i = 0; i < 40; i++)
    corun_buf_putc(&text, 'g');
  corun_buf_puts(&text, "\", \"kind\": \"gather\", \"tasks\": [{\"id\": \"t\", "
                        "\"kind\": \"sleep\", \"seconds\": 0}]}]}");
  r[0] = run_job(corun_buf_str(&text), NULL);
  corun_buf_free(&text);
  r[1] = run_job("{\"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", \"argv\": "
                 "[\"sh\", \"-c\", \"head -c 32760 /dev/zero | tr '\\\\0' y >&2; "
                 "exit 1\"]}]}",
                 NULL);
  cr_assert_str_eq(status_of(r[1], "e"), "failed");
  for (k = 0; k < 2; k++) {
    struct corun_buf out;
    size_t written = 0;

    corun_buf_stream(&out, 16384, count_sink, &written);
    failing_from = 65536;
    failed = 0;
    corun_report_junit(r[k]->run, &out);
    failing_from = 0;
    corun_buf_flush(&out);
    cr_expect_gt(failed, 0, "job %zu made no buffer of 64 KiB", k);
    cr_expect(out.oom, "job %zu: the report looks whole", k);
    corun_buf_free(&out);
    result_free(r[k]);
  }
}

/*
 * The trace names its process "corun NAME", put together before it is
 * escaped: a 32,764-byte name fits alone (to 32 KiB), not with "corun ".
 */
Test(oom, a_trace_name_put_together_short_marks_the_trace_incomplete)
{
  struct corun_buf text = CORUN_BUF_INIT, out;
  struct result *r;
  size_t i, written = 0;

  corun_buf_puts(&text, "{\"name\": \"");
  for (i = 0; i < 32764; i++)
    corun_buf_putc(&text, 'n');
  corun_buf_puts(&text, "\", \"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}]}");
  r = run_job(corun_buf_str(&text), NULL);
  corun_buf_free(&text);
  corun_buf_stream(&out, 16384, count_sink, &written);
  failing_from = 65536;
  failed = 0;
  corun_report_trace(r->run, &out);
  failing_from = 0;
  corun_buf_flush(&out);
  cr_expect_gt(failed, 0, "no buffer of 64 KiB was made");
  cr_expect(out.oom, "the trace looks whole");
  corun_buf_free(&out);
  result_free(r);
}

/*
 * A pipeline stage's task that takes nothing from its item is copied from
 * the stage's prototype, its timeout too: an item whose timeout cannot be
 * kept fails, rather than running without its bound.
 */
Test(oom, an_items_timeout_that_cannot_be_kept_fails_the_item)
{
  struct corun_run_opts ro = CORUN_RUN_OPTS_INIT;
  struct corun_error err = {0};
  struct corun_job *job = load_ok(
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": "
      "{\"items\": [1]}, \"stages\": [{\"task\": {\"kind\": \"sleep\", "
      "\"seconds\": 0, \"timeout\": 60}}]}]}");
  struct corun_run *run;
  uv_loop_t loop;

  cr_assert_eq(uv_loop_init(&loop), 0);
  ro.skip_timings = 1;
  cr_assert_eq(corun_run_new(&run, job, &loop, &ro, &err), CORUN_OK, "%s",
               err.msg);
  failing_calloc = sizeof(struct corun_timeout);
  failed = 0;
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  failing_calloc = 0;
  cr_assert(corun_run_done(run));
  cr_expect_eq(failed, 1, "no timeout was made for the item");
  expect_failed(job->tasks[0], "1 of 1 items failed");
  cr_expect(strstr(job->tasks[0]->err_msg, "out of memory"), "%s",
            job->tasks[0]->err_msg);
  run_free(run, &loop);
  uv_loop_close(&loop);
  corun_job_free(job);
}

/* A command's output that memory cannot hold: said, not shown short. */
Test(oom, a_commands_output_that_cannot_be_kept_fails_the_command)
{
  struct result *r;

  /* The run's one buffer past 32 KiB is the 60 KB output's tail. */
  failing_from = 32768;
  failed = 0;
  r = run_job("{\"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", \"argv\": "
              "[\"sh\", \"-c\", \"head -c 60000 /dev/zero | tr '\\\\0' x\"]}]}",
              NULL);
  failing_from = 0;
  cr_expect_gt(failed, 0, "the output's buffer never grew past 32 KiB");
  expect_failed(task_by_id(r, "e"), "out of memory reading what sh printed");
  result_free(r);
}

/* A response body the result would show, whose buffer cannot be made. */
Test(oom, a_body_that_cannot_be_kept_is_not_shown_short)
{
  char path[3200];
  struct result *r;
  char *url;

  strcpy(path, "/status?code=200&body=");
  memset(path + strlen(path), 'a', 3000);
  path[strlen("/status?code=200&body=") + 3000] = '\0';
  url = test_server_url(&srv, path);
  /*
   * 3,000 bytes at once (one piece over loopback) into the body's empty
   * buffer: it asks 4 KiB. Split, it would not, and "failed" would say so.
   */
  r = fetch_failing(url, "", &failing_fresh, 4096);
  cr_expect_eq(failed, 1, "the body's buffer was never made");
  expect_failed(task_by_id(r, "f"), "out of memory keeping the response");
  result_free(r);
  free(url);
}

/* A new directory under /tmp for a test's files (free it). */
static char *scratch_dir(void)
{
  char *d = strdup("/tmp/corun-oom-XXXXXX");

  cr_assert_not_null(d);
  cr_assert_not_null(mkdtemp(d));
  return d;
}

/* Write before, n bytes of 'x' and after to path. */
static void write_xs(const char *path, const char *before, size_t n,
                     const char *after)
{
  FILE *f = fopen(path, "w");

  cr_assert_not_null(f);
  fputs(before, f);
  while (n-- > 0)
    fputc('x', f);
  fputs(after, f);
  cr_assert_eq(fclose(f), 0);
}

/*
 * A pipeline's lines that memory cannot hold: a failure, not lost items;
 * and still a failure when even the reason cannot be kept (why: NULL).
 */
static void line_too_long(const char *why)
{
  char *dir = scratch_dir();
  char path[256], text[1024];
  struct result *r;

  snprintf(path, sizeof(path), "%s/in.txt", dir);
  write_xs(path, "first\n", 300000, "\nlast\n");
  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
           "\"source\": {\"lines\": \"%s\"}, \"stages\": [{\"workers\": 1, "
           "\"task\": {\"kind\": \"sleep\", \"seconds\": 0}}]}]}",
           path);
  /* The 300 KB line, read 64 KiB at a time: its buffer asks 256 KiB. */
  failing_from = (size_t)200 << 10;
  failing_detach = why ? NULL : "cannot read";
  failed = 0;
  r = run_job(text, NULL);
  failing_from = 0;
  cr_expect_geq(failed, why ? 1 : 2, "the lines' buffer never grew that far");
  failing_detach = NULL;
  expect_failed(task_by_id(r, "p"),
                why ? why : "out of memory saying why it stopped");
  cr_expect(!why || strstr(task_by_id(r, "p")->err_msg, "memory"), "%s",
            task_by_id(r, "p")->err_msg);
  result_free(r);
  unlink(path);
  rmdir(dir);
  free(dir);
}

Test(oom, a_line_that_cannot_be_kept_fails_the_pipeline)
{
  line_too_long("cannot read");
}

Test(oom, a_pipeline_that_cannot_keep_why_it_stopped_still_fails)
{
  line_too_long(NULL);
}

/* A results line that memory cannot hold: no results file put in place. */
Test(oom, a_results_line_that_cannot_be_kept_keeps_the_file_out)
{
  char *dir = scratch_dir();
  char path[256], out[256], text[1024];
  struct result *r;

  snprintf(path, sizeof(path), "%s/in.txt", dir);
  snprintf(out, sizeof(out), "%s/results.jsonl", dir);
  write_xs(path, "", 70000, "\n");
  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
           "\"source\": {\"lines\": \"%s\"}, \"results\": \"%s\", "
           "\"stages\": [{\"workers\": 1, \"task\": {\"kind\": \"sleep\", "
           "\"seconds\": 0, \"result\": \"${item}\"}}]}]}",
           path, out);
  /*
   * The 70 KB item and the same as its result make a line of 140 KB: the
   * results' buffer is the one that asks 256 KiB (the line's own, 128).
   */
  failing_from = (size_t)200 << 10;
  failed = 0;
  r = run_job(text, NULL);
  failing_from = 0;
  cr_expect_gt(failed, 0, "the results' buffer never grew that far");
  expect_failed(task_by_id(r, "p"), "cannot write");
  cr_expect_neq(access(out, F_OK), 0, "an incomplete %s was put in place", out);
  result_free(r);
  unlink(out);
  unlink(path);
  rmdir(dir);
  free(dir);
}

/* A capture found but not kept: the fetch fails, naming it. */
Test(oom, a_capture_that_cannot_be_kept_fails_the_fetch)
{
  char *url = test_server_url(&srv, "/echo");
  char text[1024];

  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
           "\"%s\", \"capture\": {\"where\": {\"json\": \"/path\"}}}]}",
           url);
  /* The load reads the capture's spec into an object too: after it. */
  run_failing_after_load(text, &failing_member, "where",
                         "capture \"where\": out of memory keeping it");
  free(url);
}

/* One run of text with journal path: the task "e"'s result, and resumed. */
static char *journaled_run(const char *text, const char *path, int fail_copy,
                           int *resumed)
{
  struct corun_run_opts ro = CORUN_RUN_OPTS_INIT;
  struct corun_error err = {0};
  struct corun_job *job = load_ok(text);
  struct corun_journal *j;
  struct corun_run *run;
  uv_loop_t loop;
  char *res;

  cr_assert_eq(corun_journal_open(&j, path, job, &err), CORUN_OK, "%s",
               err.msg);
  cr_assert_eq(uv_loop_init(&loop), 0);
  ro.journal = j;
  cr_assert_eq(corun_run_new(&run, job, &loop, &ro, &err), CORUN_OK, "%s",
               err.msg);
  failing_duplicate = fail_copy;
  failed = 0;
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  failing_duplicate = 0;
  cr_assert(corun_run_done(run));
  cr_expect_eq(failed, fail_copy, "the journal's result was never copied");
  cr_assert_eq(job->ntasks, 1);
  cr_expect_eq(job->tasks[0]->status, CORUN_STATUS_OK);
  *resumed = (job->tasks[0]->flags & CORUN_TF_RESUMED) != 0;
  res = job->tasks[0]->result ? cJSON_PrintUnformatted(job->tasks[0]->result)
                              : strdup("(none)");
  run_free(run, &loop);
  uv_loop_close(&loop);
  corun_journal_close(j);
  corun_job_free(job);
  return res;
}

/* A journal's result that cannot be copied: the task runs again. */
Test(oom, a_journaled_result_that_cannot_be_copied_is_run_again)
{
  const char *text = "{\"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", "
                     "\"argv\": [\"echo\", \"hi\"]}]}";
  char *dir = scratch_dir(), path[256], *res;
  int resumed;

  snprintf(path, sizeof(path), "%s/run.journal", dir);
  res = journaled_run(text, path, 0, &resumed);
  cr_expect(strstr(res, "\"stdout\":\"hi\\n\""), "%s", res);
  free(res);
  /* The rerun would take it from the journal, but its copy fails. */
  res = journaled_run(text, path, 1, &resumed);
  cr_expect(!resumed, "resumed without its result");
  cr_expect(strstr(res, "\"stdout\":\"hi\\n\""), "%s", res);
  free(res);
  unlink(path);
  rmdir(dir);
  free(dir);
}

/* A command that fails anyway keeps its own failure; the cut is said. */
Test(oom, a_failed_commands_cut_output_keeps_its_failure)
{
  struct result *r;
  const struct corun_task *t;

  failing_from = 32768;
  failed = 0;
  r = run_job("{\"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", \"argv\": "
              "[\"sh\", \"-c\", \"head -c 60000 /dev/zero | tr '\\\\0' x; "
              "exit 3\"]}]}",
              NULL);
  failing_from = 0;
  cr_expect_gt(failed, 0, "the output's buffer never grew past 32 KiB");
  t = task_by_id(r, "e");
  expect_failed(t, "exit status 3");
  cr_expect_eq(t->err_type, CORUN_ERR_EXIT_STATUS);
  cr_expect(strstr(t->err_msg, "output incomplete: out of memory"), "%s",
            t->err_msg);
  result_free(r);
}

/* The attempt after one whose output did not fit keeps all of its own. */
Test(oom, a_retry_after_lost_output_keeps_its_own)
{
  char *dir = scratch_dir(), flag[256], text[1024];
  struct result *r;
  const char *res;

  snprintf(flag, sizeof(flag), "%s/tried", dir);
  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", "
           "\"retries\": 1, \"backoff\": \"10ms\", \"argv\": [\"sh\", \"-c\", "
           "\"head -c 60000 /dev/zero | tr '\\\\0' x; "
           "test -e %s && exit 0; touch %s; exit 1\"]}]}",
           flag, flag);
  /* Only the first attempt's output buffer fails to grow. */
  failing_from_once = 32768;
  failed = 0;
  r = run_job(text, NULL);
  failing_from_once = 0;
  cr_expect_eq(failed, 1, "the first attempt's buffer never grew past 32 KiB");
  cr_expect_str_eq(status_of(r, "e"), "ok", "%s",
                   task_by_id(r, "e")->err_msg ? task_by_id(r, "e")->err_msg
                                                : "");
  res = result_json(r, "e");
  cr_expect(strstr(res, "xxxxxxxxxx"), "the retry's output is missing");
  result_free(r);
  unlink(flag);
  rmdir(dir);
  free(dir);
}
