/* SPDX-License-Identifier: MIT */
/*
 * The reports: the JSON report's exact shape (parsed back with cJSON), the
 * human table, the task dump and --check listing, and secret redaction in
 * all of them.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(report, .timeout = 30);

static cJSON *report_of(struct result *r)
{
  struct corun_buf b = CORUN_BUF_INIT;
  cJSON *j;

  corun_report_json(r->run, &b);
  j = cJSON_Parse(corun_buf_str(&b));
  cr_assert_not_null(j, "report is not JSON:\n%s", corun_buf_str(&b));
  corun_buf_free(&b);
  return j;
}

static cJSON *get(const cJSON *o, const char *k)
{
  cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

  cr_assert_not_null(v, "missing \"%s\"", k);
  return v;
}

Test(report, json_shape_and_order)
{
  struct result *r = run_job(
      "{\"name\": \"demo\", \"limits\": {\"one\": 1}, \"tasks\": ["
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.1, \"message\": "
      "\"A\", \"limit\": \"one\"},"
      "  {\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.1, \"limit\": "
      "\"one\", \"result\": [1]}]},"
      "{\"id\": \"f\", \"kind\": \"sleep\", \"seconds\": 0, \"fail\": "
      "\"nope\"},"
      "{\"id\": \"s\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"f\"]}]}",
      NULL);
  cJSON *rep = report_of(r), *t, *a, *b, *s, *f;
  const char *order[] = {"g", "a", "b", "f", "s"};
  const char *keys[] = {"id",  "kind",     "parent",   "status",
                        "queued", "start", "end",      "duration",
                        "attempts", "result", "error"};
  const char *top[] = {"corun",    "job",     "status", "exit_code",
                       "started_at", "duration", "summary", "tasks"};
  int i = 0;
  size_t k;

  for (k = 0, t = rep->child; t; t = t->next, k++)
    cr_assert_str_eq(t->string, top[k]);
  cr_assert_eq(get(rep, "corun")->valueint, 1);
  cr_assert_str_eq(get(rep, "job")->valuestring, "demo");
  cr_assert_str_eq(get(rep, "status")->valuestring, "failed");
  cr_assert_eq(get(rep, "exit_code")->valueint, 1);
  cr_assert_eq(strlen(get(rep, "started_at")->valuestring), 24);
  cr_assert_eq(get(rep, "started_at")->valuestring[23], 'Z');
  cr_assert_eq(get(get(rep, "summary"), "ok")->valueint, 3);
  cr_assert_eq(get(get(rep, "summary"), "failed")->valueint, 1);
  cr_assert_eq(get(get(rep, "summary"), "skipped")->valueint, 1);
  cJSON_ArrayForEach(t, get(rep, "tasks"))
  {
    cJSON *field;

    cr_assert_str_eq(get(t, "id")->valuestring, order[i++]);
    for (k = 0, field = t->child; field; field = field->next, k++)
      cr_assert_str_eq(field->string, keys[k]);
    cr_assert_eq(k, sizeof(keys) / sizeof(keys[0]));
  }
  cr_assert_eq(i, 5);
  a = report_task(rep, "a");
  b = report_task(rep, "b");
  cr_assert_str_eq(get(a, "parent")->valuestring, "g");
  cr_assert(cJSON_IsNull(get(report_task(rep, "g"), "parent")));
  cr_assert_str_eq(get(a, "result")->valuestring, "A");
  cr_assert(cJSON_IsNull(get(a, "error")));
  cr_assert_eq(get(a, "attempts")->valueint, 1);
  /* b waited for the limit: queued is separate from start..end. */
  cr_assert(get(b, "queued")->valuedouble >= 0.09, "%f",
            get(b, "queued")->valuedouble);
  cr_assert(get(b, "start")->valuedouble >= 0.09);
  cr_assert(get(b, "duration")->valuedouble >= 0.09 &&
            get(b, "duration")->valuedouble < 0.3);
  cr_assert(fabs(get(b, "end")->valuedouble - get(b, "start")->valuedouble -
                 get(b, "duration")->valuedouble) < 0.0015);
  f = report_task(rep, "f");
  cr_assert_str_eq(get(get(f, "error"), "type")->valuestring, "fail");
  cr_assert_str_eq(get(get(f, "error"), "message")->valuestring, "nope");
  cr_assert(cJSON_IsNull(get(f, "result")));
  s = report_task(rep, "s");
  cr_assert_str_eq(get(s, "status")->valuestring, "skipped");
  cr_assert_str_eq(get(get(s, "error"), "type")->valuestring, "skipped");
  cr_assert(cJSON_IsNull(get(s, "start")));
  cr_assert(cJSON_IsNull(get(s, "end")));
  cr_assert(cJSON_IsNull(get(s, "duration")));
  cr_assert_eq(get(s, "attempts")->valueint, 0);
  cr_assert(cJSON_IsArray(get(report_task(rep, "g"), "result")));
  cJSON_Delete(rep);
  result_free(r);
}

Test(report, json_status_cancelled_when_interrupted)
{
  struct run_opts o = {0};
  struct result *r;
  cJSON *rep;

  o.interrupt_after = 0.05;
  r = run_job("{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", "
              "\"seconds\": 5}]}",
              &o);
  rep = report_of(r);
  cr_assert_str_eq(get(rep, "status")->valuestring, "cancelled");
  cr_assert_eq(get(rep, "exit_code")->valueint, 130);
  cr_assert_str_eq(get(get(report_task(rep, "a"), "error"), "type")->valuestring,
                   "cancelled");
  cJSON_Delete(rep);
  result_free(r);
}

Test(report, json_default_name_and_ok_status)
{
  struct result *r = run_job("{\"tasks\": [{\"kind\": \"sleep\", "
                             "\"seconds\": 0}]}",
                             NULL);
  cJSON *rep = report_of(r);

  /* load_ok names the input "test.json": the job is its base name. */
  cr_assert_str_eq(get(rep, "job")->valuestring, "test");
  cr_assert_str_eq(get(rep, "status")->valuestring, "ok");
  cr_assert_str_eq(get(report_task(rep, "task1"), "kind")->valuestring, "sleep");
  cJSON_Delete(rep);
  result_free(r);
}

Test(report, a_skip_because_nothing_failed_is_no_failure)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"build\", \"kind\": \"sleep\", "
      "\"seconds\": 0},"
      "{\"id\": \"notify\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"build\"], \"run_if\": \"any_failed\"}]}",
      NULL);
  cJSON *rep = report_of(r), *err;

  cr_assert_str_eq(get(rep, "status")->valuestring, "ok");
  cr_assert_eq(get(get(rep, "summary"), "skipped")->valueint, 1);
  cr_assert_str_eq(get(report_task(rep, "notify"), "status")->valuestring,
                   "skipped");
  err = get(report_task(rep, "notify"), "error");
  cr_assert_str_eq(get(err, "type")->valuestring, "skipped");
  cr_assert_str_eq(get(err, "message")->valuestring, "nothing failed");
  cr_assert_eq(r->exit_code, 0);
  cJSON_Delete(rep);
  result_free(r);
}

Test(report, secrets_never_printed)
{
  struct result *r;
  struct corun_buf b = CORUN_BUF_INIT;

  setenv("CORUN_TEST_SECRET", "hunter2-xyz", 1);
  r = run_job("{\"vars\": {\"tok\": \"${env:CORUN_TEST_SECRET}\"}, "
              "\"tasks\": ["
              "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0, "
              "\"message\": \"token=${tok}\"},"
              "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, "
              "\"fail\": \"bad ${env:CORUN_TEST_SECRET}!\"}]}",
              NULL);
  cr_assert_str_eq(corun_buf_str(&r->out), "token=***\n");
  corun_report_json(r->run, &b);
  corun_report_text(r->run, 0, &b);
  corun_run_dump(r->run, &b);
  cr_assert_null(strstr(corun_buf_str(&b), "hunter2"), "%s",
                 corun_buf_str(&b));
  cr_assert(strstr(corun_buf_str(&b), "token=***"));
  cr_assert(strstr(corun_buf_str(&b), "bad ***!"));
  corun_buf_free(&b);
  result_free(r);
  unsetenv("CORUN_TEST_SECRET");
}

Test(report, text_table_rows_alignment_and_durations)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"group\", \"kind\": \"gather\", \"tasks\": ["
      "{\"id\": \"x\", \"kind\": \"sleep\", \"seconds\": 0.05, \"message\": "
      "\"line\\nbreak\\u001b[31m\"},"
      "{\"id\": \"longer-id\", \"kind\": \"sleep\", \"seconds\": 0}]}]}",
      NULL);
  struct corun_buf b = CORUN_BUF_INIT;
  const char *s;
  const char *status_col;

  corun_report_text(r->run, 0, &b);
  s = corun_buf_str(&b);
  cr_assert(strncmp(s, "ID ", 3) == 0, "%s", s);
  cr_assert(strstr(s, "\n  x "), "children are indented:\n%s", s);
  cr_assert(strstr(s, "ms "), "short durations in ms:\n%s", s);
  /* Control characters from task text are escaped, never raw. */
  cr_assert_null(strchr(s, '\033'));
  cr_assert(strstr(s, "line\\nbreak\\x1b[31m"), "%s", s);
  /* Every row puts STATUS in the same column. */
  status_col = strstr(s, "STATUS");
  {
    size_t col = (size_t)(status_col - s);
    const char *line = strchr(s, '\n') + 1;
    int rows = 0;

    while (*line && strncmp(line, "3 tasks", 7) != 0) {
      cr_assert(strncmp(line + col, "ok", 2) == 0, "misaligned:\n%s", s);
      line = strchr(line, '\n') + 1;
      rows++;
    }
    cr_assert_eq(rows, 3);
  }
  cr_assert(strstr(s, "3 tasks: 3 ok, 0 failed"), "%s", s);
  corun_buf_reset(&b);
  corun_report_text(r->run, 1, &b);
  cr_assert(strstr(corun_buf_str(&b), "\033[32m"), "colour when asked");
  corun_buf_free(&b);
  result_free(r);
}

Test(report, text_root_causes_are_the_tasks_that_failed_on_their_own)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"pl\", \"kind\": \"pipeline\", \"source\": {\"items\": [1]},"
      " \"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": 0,"
      " \"fail\": \"item ${item} broke\"}}]},"
      "{\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 5,"
      " \"timeout\": 0.05},"
      "{\"id\": \"next\", \"kind\": \"sleep\", \"seconds\": 0,"
      " \"after\": [\"slow\"]},"
      "{\"id\": \"fine\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"grp\", \"kind\": \"gather\", \"tasks\": ["
      "{\"id\": \"late\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"slow\"]}]}]}",
      NULL);
  struct corun_buf b = CORUN_BUF_INIT;
  const char *s, *rc;

  corun_report_text(r->run, 0, &b);
  s = corun_buf_str(&b);
  rc = strstr(s, "Root causes:\n");
  cr_assert_not_null(rc, "%s", s);
  /* Its items are no tasks of the job: the pipeline itself says why. */
  cr_assert(strstr(rc, "\n  pl (pipeline): child: "), "%s", s);
  cr_assert(strstr(rc, "item 1 broke"), "%s", s);
  cr_assert(strstr(rc, "\n  slow (sleep): timeout: "), "%s", s);
  cr_assert_null(strstr(rc, "next"), "skipped is no root cause:\n%s", s);
  cr_assert_null(strstr(rc, "fine"), "%s", s);
  /* Its child was skipped because of slow, which is the cause. */
  cr_assert_str_eq(status_of(r, "grp"), "failed");
  cr_assert_null(strstr(rc, "grp"), "%s", s);
  /* -q's text: the same causes, and only the rows that are not ok. */
  corun_buf_reset(&b);
  corun_report_text_failures(r->run, 0, &b);
  s = corun_buf_str(&b);
  cr_assert(strstr(s, "\nnext "), "%s", s);
  cr_assert_null(strstr(s, "fine"), "%s", s);
  cr_assert(strstr(s, "Root causes:\n  pl (pipeline)"), "%s", s);
  corun_buf_free(&b);
  result_free(r);
  /* All ok: no root causes, and -q says nothing at all. */
  r = run_job("{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", "
              "\"seconds\": 0}]}",
              NULL);
  corun_report_text(r->run, 0, &b);
  cr_assert_null(strstr(corun_buf_str(&b), "Root causes"));
  corun_buf_reset(&b);
  corun_report_text_failures(r->run, 0, &b);
  cr_assert_eq(b.len, 0, "%s", corun_buf_str(&b));
  corun_buf_free(&b);
  result_free(r);
}

Test(report, duration_formatting)
{
  char buf[32];

  corun__fmt_duration(0.25, buf, sizeof(buf));
  cr_assert_str_eq(buf, "250ms");
  corun__fmt_duration(1.5, buf, sizeof(buf));
  cr_assert_str_eq(buf, "1.50s");
  corun__fmt_duration(123, buf, sizeof(buf));
  cr_assert_str_eq(buf, "2m03s");
  corun__fmt_duration(7322, buf, sizeof(buf));
  cr_assert_str_eq(buf, "2h02m");
}

Test(report, dump_shows_tree_state_and_waits)
{
  struct corun_job *job = load_ok(
      "{\"limits\": {\"one\": 1}, \"tasks\": ["
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"id\": \"s1\", \"kind\": \"sleep\", \"seconds\": 5, \"limit\": "
      "\"one\", \"timeout\": 9},"
      "  {\"id\": \"s2\", \"kind\": \"sleep\", \"seconds\": 5, \"limit\": "
      "\"one\"}]},"
      "{\"id\": \"later\", \"kind\": \"sleep\", \"seconds\": 1, \"after\": "
      "[\"g\"]}]}");
  struct corun_run *run;
  uv_loop_t loop;
  struct corun_buf b = CORUN_BUF_INIT;
  const char *s;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, job, &loop, NULL, NULL), CORUN_OK);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_NOWAIT);
  corun_run_dump(run, &b);
  s = corun_buf_str(&b);
  cr_assert(strstr(s, "task dump"), "%s", s);
  cr_assert(strstr(s, "  g gather running"), "%s", s);
  cr_assert(strstr(s, "2 of 2 children pending"), "%s", s);
  cr_assert(strstr(s, "    s1 sleep running"), "%s", s);
  cr_assert(strstr(s, "s left"), "timer remaining:\n%s", s);
  cr_assert(strstr(s, "timeout in"), "%s", s);
  cr_assert(strstr(s, "s2 sleep queued") && strstr(s, "limit \"one\""),
            "%s", s);
  cr_assert(strstr(s, "later sleep blocked") && strstr(s, "after \"g\""),
            "%s", s);
  corun_run_interrupt(run, 2);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert(corun_run_done(run));
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
  corun_buf_free(&b);
}

Test(report, check_listing)
{
  struct corun_job *job = load_ok(
      "{\"name\": \"n\", \"limits\": {\"api\": {\"concurrency\": 2, \"rate\": "
      "\"5/s\"}}, \"tasks\": ["
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"kind\": \"sleep\", \"seconds\": 1, \"limit\": \"api\", "
      "\"shield\": true}]},"
      "{\"id\": \"z\", \"kind\": \"sleep\", \"seconds\": 1, \"after\": "
      "[\"g\"], \"timeout\": \"1.5s\"}]}");
  struct corun_buf b = CORUN_BUF_INIT;
  const char *s;

  corun_job_describe(job, &b);
  s = corun_buf_str(&b);
  cr_assert(strstr(s, "job \"n\": 3 tasks"), "%s", s);
  cr_assert(strstr(s, "limit \"api\": 2 at once 5/s"), "%s", s);
  cr_assert(strstr(s, "    g.1 (sleep) limit api shield"), "%s", s);
  cr_assert(strstr(s, "  z (sleep) after g timeout 1.5s"), "%s", s);
  corun_buf_free(&b);
  corun_job_free(job);
}

Test(report, duration_is_exactly_end_minus_start)
{
  struct result *r = run_job(
      "{\"limits\": {\"one\": 1}, \"tasks\": ["
      "{\"kind\": \"sleep\", \"seconds\": 0.0004, \"limit\": \"one\"},"
      "{\"kind\": \"sleep\", \"seconds\": 0.0013, \"limit\": \"one\"},"
      "{\"kind\": \"sleep\", \"seconds\": 0.0026, \"limit\": \"one\"},"
      "{\"kind\": \"sleep\", \"seconds\": 0.0007, \"limit\": \"one\"},"
      "{\"kind\": \"sleep\", \"seconds\": 0.0019, \"limit\": \"one\"}]}",
      NULL);
  cJSON *rep = report_of(r), *t;

  cJSON_ArrayForEach(t, get(rep, "tasks"))
  {
    double s = get(t, "start")->valuedouble, e = get(t, "end")->valuedouble;
    double d = get(t, "duration")->valuedouble;

    /* Printed with 3 decimals: equal to the last digit. */
    cr_assert(fabs((e - s) - d) < 0.0005, "start %.3f end %.3f duration %.3f",
              s, e, d);
  }
  cJSON_Delete(rep);
  result_free(r);
}

Test(report, dump_and_debug_lines_escape_control_characters)
{
  struct run_opts o = {0};
  struct result *r;
  struct corun_buf b = CORUN_BUF_INIT;

  o.debug = 1;
  r = run_job("{\"tasks\": [{\"id\": \"x\", \"kind\": \"sleep\", \"seconds\": "
              "0, \"fail\": \"\\u001b]0;pwned\\u0007 bad\\nline\"}]}",
              &o);
  corun_run_dump(r->run, &b);
  cr_assert_null(strchr(corun_buf_str(&b), '\033'), "%s", corun_buf_str(&b));
  cr_assert(strstr(corun_buf_str(&b), "\\x1b]0;pwned\\x07 bad\\nline"), "%s",
            corun_buf_str(&b));
  cr_assert_null(strchr(corun_buf_str(&r->log), '\033'));
  corun_buf_free(&b);
  result_free(r);
}

/*
 * Past ASCII, the terminal escape keeps UTF-8 text as it is and escapes
 * what a terminal would act on: the C1 controls (CSI, U+009B, starts an
 * escape sequence on many terminals) and bytes that are not UTF-8.
 */
Test(report, terminal_escape_covers_c1_controls_and_stray_bytes)
{
  struct corun_buf b = CORUN_BUF_INIT;

  corun_buf_escaped(&b, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\x8d", 0);
  cr_assert_str_eq(corun_buf_str(&b),
                   "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\x8d");
  corun_buf_reset(&b);
  corun_buf_escaped(&b, "a\xc2\x9b" "2J b\xc2\x85 c\x9b[31m d\xc3 e\xed\xa0\x80"
                        " f\xc2\xa0", 0);
  cr_assert_str_eq(corun_buf_str(&b),
                   "a\\u009b2J b\\u0085 c\\x9b[31m d\\xc3 e\\xed\\xa0\\x80"
                   " f\xc2\xa0");
  corun_buf_free(&b);
}

struct snap {
  struct corun_run *run;
  struct corun_buf line;
  unsigned width;
};

static void take_snapshot(uv_timer_t *tm)
{
  struct snap *s = tm->data;

  corun_run_progress(s->run, s->width, &s->line);
}

/* The progress line mid-run: counts, time, and a pipeline's items. */
Test(report, progress_line_mid_run)
{
  struct corun_job *job = load_ok(
      "{\"tasks\": ["
      "{\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.05},"
      "{\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0.05, \"fail\": "
      "\"no\"},"
      "{\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 0.6},"
      "{\"id\": \"later\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"slow\"]},"
      "{\"id\": \"crawl\", \"kind\": \"pipeline\", \"source\": {\"range\": "
      "[0, 40]}, \"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": "
      "0.02}}]}]}");
  struct corun_error err = {0};
  struct snap s = {0};
  uv_loop_t loop;
  uv_timer_t tm;
  const char *l;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&s.run, job, &loop, NULL, &err), CORUN_OK);
  uv_timer_init(&loop, &tm);
  tm.data = &s;
  uv_timer_start(&tm, take_snapshot, 300, 0);
  corun_run_start(s.run);
  uv_run(&loop, UV_RUN_DEFAULT);
  l = corun_buf_str(&s.line);
  /* At 0.3 s: fast and bad ended, slow and crawl run, later waits. */
  cr_assert(strncmp(l, "2/5 done, 2 running, 1 failed, 1 waiting, ", 42) == 0,
            "%s", l);
  cr_assert(strstr(l, " | crawl "), "%s", l);
  cr_assert(strstr(l, "/40 items, "), "%s", l);
  cr_assert(strstr(l, "/s, ETA "), "%s", l);
  cr_assert_null(strchr(l, '\n'));
  /* Cut to the terminal's width. */
  corun_buf_reset(&s.line);
  s.width = 20;
  take_snapshot(&tm);
  cr_assert_eq(s.line.len, 20);
  cr_assert_str_eq(corun_buf_str(&s.line), "5/5 done, 0 running,");
  uv_close((uv_handle_t *)&tm, NULL);
  run_free(s.run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
  corun_buf_free(&s.line);
}

/* A sink that collects what it is handed, failing once asked to. */
struct collect {
  struct corun_buf all;
  size_t calls;
  size_t fail_at; /* 0: never */
};

static int collect(void *arg, const char *data, size_t n)
{
  struct collect *c = arg;

  if (++c->calls == c->fail_at)
    return 28; /* ENOSPC */
  corun_buf_add(&c->all, data, n);
  return 0;
}

Test(report, buffer_with_a_sink_streams_through_a_fixed_size)
{
  struct corun_buf b = CORUN_BUF_INIT, want = CORUN_BUF_INIT;
  struct collect c = {CORUN_BUF_INIT, 0, 0};
  int i;

  /* 64 bytes, and it must never grow. */
  corun_buf_stream(&b, 64, collect, &c);
  for (i = 0; i < 2000; i++) {
    corun_buf_printf(&b, "line %d\n", i);
    corun_buf_printf(&want, "line %d\n", i);
    /* Escaping counts what it wrote, not how the buffer grew. */
    corun_buf_escaped(&b, "ab\ncd\x01" "efghijklmnop", 10);
    corun_buf_escaped(&want, "ab\ncd\x01" "efghijklmnop", 10);
    corun_buf_json_str(&b, "q\"x", 3);
    corun_buf_json_str(&want, "q\"x", 3);
  }
  cr_assert_eq(corun_buf_flush(&b), 0);
  cr_assert_eq(b.cap, 64, "the buffer grew to %zu", b.cap);
  cr_assert_gt(c.calls, 100);
  cr_assert_eq(c.all.len, want.len);
  cr_assert_eq(memcmp(c.all.p, want.p, want.len), 0);
  corun_buf_free(&b);
  corun_buf_free(&want);
  corun_buf_free(&c.all);
}

Test(report, buffer_sink_error_is_kept_and_later_output_dropped)
{
  struct corun_buf b = CORUN_BUF_INIT;
  struct collect c = {CORUN_BUF_INIT, 0, 2};
  int i;

  corun_buf_stream(&b, 64, collect, &c);
  for (i = 0; i < 100; i++)
    corun_buf_puts(&b, "0123456789");
  cr_assert_eq(corun_buf_flush(&b), 28);
  /* Only what the first call took reached the sink. */
  cr_assert_eq(b.cap, 64);
  cr_assert_lt(c.all.len, 64);
  corun_buf_free(&b);
  corun_buf_free(&c.all);
}

/* The streamed report (in 256 KiB pieces) is the report made in memory. */
Test(report, report_written_in_pieces_equals_the_one_in_memory)
{
  struct corun_buf job = CORUN_BUF_INIT, mem = CORUN_BUF_INIT;
  corun_report_fn fns[] = {corun_report_json, corun_report_junit,
                           corun_report_trace};
  char *dir = write_temp("x", ""), path[512], *slash;
  struct corun_error err = {0};
  struct result *r;
  size_t i, len;
  char *text;

  corun_buf_puts(&job, "{\"tasks\": [");
  for (i = 0; i < 8000; i++)
    corun_buf_printf(&job,
                     "%s{\"id\": \"t%zu\", \"kind\": \"sleep\", \"seconds\": "
                     "0, \"result\": \"%0200zu\"}",
                     i ? "," : "", i, i);
  corun_buf_puts(&job, "]}");
  r = run_job(corun_buf_str(&job), NULL);
  slash = strrchr(dir, '/');
  *slash = '\0';
  snprintf(path, sizeof(path), "%s/report", dir);
  for (i = 0; i < 3; i++) {
    corun_buf_reset(&mem);
    fns[i](r->run, &mem);
    cr_assert_gt(mem.len, 300 * 1024,
                 "report %zu: %zu bytes, too small to need pieces", i, mem.len);
    cr_assert_eq(corun_report_write(path, fns[i], r->run, &err), CORUN_OK,
                 "%s", err.msg);
    text = read_file(path, &len);
    cr_assert_not_null(text);
    cr_assert_eq(len, mem.len);
    cr_assert_eq(memcmp(text, mem.p, len), 0, "report %zu differs", i);
    free(text);
  }
  /* A write that fails part way says why. */
  cr_assert_eq(corun_report_write("/dev/full", fns[0], r->run, &err),
               CORUN_EIO);
  cr_assert(strstr(err.msg, "No space left on device"), "%s", err.msg);
  unlink(path);
  snprintf(path, sizeof(path), "%s/x", dir);
  unlink(path);
  rmdir(dir);
  free(dir);
  corun_buf_free(&mem);
  corun_buf_free(&job);
  result_free(r);
}

/*
 * A report file is made 0644 whatever the umask, as it always was, and
 * through the one atomic writer (outfile.h): nothing but the file is left
 * beside it, and a link to a file not there yet stays a link.
 */
Test(report, report_file_mode_is_0644_and_nothing_is_left_beside_it)
{
  static const mode_t masks[] = {022, 077, 0};
  char *dir = tmp_dir("report-mode"), path[512], link[512];
  struct corun_error err = {0};
  struct stat st;
  struct dirent *e;
  size_t i;
  DIR *d;

  snprintf(path, sizeof(path), "%s/r.json", dir);
  for (i = 0; i < sizeof(masks) / sizeof(*masks); i++) {
    mode_t old = umask(masks[i]);
    enum corun_code code = corun_write_atomic(path, "{}\n", 3, &err);

    umask(old);
    cr_assert_eq(code, CORUN_OK, "%s", err.msg);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644, "umask %03o: mode %03o",
                 (unsigned)masks[i], (unsigned)(st.st_mode & 07777));
  }
  cr_assert_eq(corun_probe_writable(path, &err), CORUN_OK, "%s", err.msg);
  d = opendir(dir);
  cr_assert_not_null(d);
  while ((e = readdir(d)) != NULL)
    cr_assert(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                  strcmp(e->d_name, "r.json") == 0,
              "left behind: %s", e->d_name);
  closedir(d);
  snprintf(link, sizeof(link), "%s/l.json", dir);
  cr_assert_eq(symlink("later.json", link), 0);
  cr_assert_eq(corun_write_atomic(link, "[]\n", 3, &err), CORUN_OK, "%s",
               err.msg);
  cr_assert_eq(lstat(link, &st), 0);
  cr_assert(S_ISLNK(st.st_mode), "the link was replaced");
  snprintf(link, sizeof(link), "%s/later.json", dir);
  cr_assert_eq(stat(link, &st), 0);
  cr_assert_eq(st.st_mode & 07777, 0644);
  unlink(link);
  snprintf(link, sizeof(link), "%s/l.json", dir);
  unlink(link);
  unlink(path);
  cr_assert_eq(rmdir(dir), 0);
  free(dir);
}

/*
 * "name": the report's entry carries it only when set, the table shows it
 * instead of the id (escaped, redacted), and so do the root causes;
 * templates fill it; a name need not be unique.
 */
Test(report, name_replaces_the_id_where_people_read)
{
  struct result *r;
  struct corun_buf b = CORUN_BUF_INIT;
  cJSON *rep, *tasks;
  const char *s;

  setenv("REPORT_NAME_SECRET", "s3cr3t-nm", 1);
  r = run_job(
      "{\"vars\": {\"who\": \"world\"}, \"tasks\": ["
      "{\"id\": \"g\", \"kind\": \"gather\", \"name\": \"the group\","
      " \"tasks\": ["
      "  {\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0,"
      "   \"name\": \"greet ${who}\"},"
      "  {\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0,"
      "   \"name\": \"greet ${who}\"}]},"
      "{\"id\": \"f\", \"kind\": \"sleep\", \"seconds\": 0, \"fail\": \"no\","
      " \"name\": \"bad\\u001b[31m one\"},"
      "{\"id\": \"k\", \"kind\": \"sleep\", \"seconds\": 0,"
      " \"name\": \"key ${env:REPORT_NAME_SECRET}\"},"
      "{\"id\": \"plain\", \"kind\": \"sleep\", \"seconds\": 0}]}",
      NULL);
  rep = report_of(r);
  tasks = get(rep, "tasks");
  cr_assert_str_eq(get(cJSON_GetArrayItem(tasks, 0), "name")->valuestring,
                   "the group");
  cr_assert_str_eq(get(cJSON_GetArrayItem(tasks, 1), "name")->valuestring,
                   "greet world");
  cr_assert_str_eq(get(cJSON_GetArrayItem(tasks, 2), "name")->valuestring,
                   "greet world");
  cr_assert_str_eq(get(cJSON_GetArrayItem(tasks, 4), "name")->valuestring,
                   "key ***");
  cr_assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(tasks, 5), "name"),
                 "no name: no \"name\" member");
  cr_assert_str_eq(get(cJSON_GetArrayItem(tasks, 5), "id")->valuestring,
                   "plain");
  corun_report_text(r->run, 0, &b);
  s = corun_buf_str(&b);
  cr_assert(strstr(s, "\nthe group "), "%s", s);
  cr_assert(strstr(s, "\n  greet world "), "indented by depth:\n%s", s);
  cr_assert(strstr(s, "\nbad\\x1b[31m one "), "escaped:\n%s", s);
  cr_assert(strstr(s, "\nkey *** "), "redacted:\n%s", s);
  cr_assert(strstr(s, "\nplain "), "%s", s);
  cr_assert_null(strstr(s, "s3cr3t-nm"), "%s", s);
  cr_assert_null(strstr(s, "\n  a "), "the id is not shown:\n%s", s);
  cr_assert(strstr(s, "Root causes:\n  bad\\x1b[31m one (sleep): fail: no"),
            "%s", s);
  corun_buf_free(&b);
  cJSON_Delete(rep);
  result_free(r);
  unsetenv("REPORT_NAME_SECRET");
}

Test(report, name_errors)
{
  char *e = load_err("{\"defaults\": {\"name\": \"x\"}, \"tasks\": ["
                     "{\"kind\": \"sleep\", \"seconds\": 0, \"name\": \"\"},"
                     "{\"kind\": \"sleep\", \"seconds\": 0, \"name\": 3},"
                     "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0,"
                     " \"nmae\": \"x\"}]}");

  cr_assert(strstr(e, "\"name\" cannot have a default"), "%s", e);
  cr_assert(strstr(e, "\"name\" must not be empty"), "%s", e);
  cr_assert(strstr(e, "\"name\" must be a string, not a number"), "%s", e);
  cr_assert(strstr(e, "did you mean \"name\""), "%s", e);
  free(e);
}

/* The HTML report of r, NUL-terminated (free it). */
static char *html_of(struct result *r)
{
  struct corun_buf b = CORUN_BUF_INIT;

  corun_report_html(r->run, &b);
  cr_assert_not(b.oom);
  return corun_buf_detach(&b);
}

/* The part of s from the element with id="id" to the next "</section>". */
static char *html_section(const char *s, const char *id)
{
  char want[64];
  const char *a, *z;

  snprintf(want, sizeof(want), "<section id=\"%s\"", id);
  a = strstr(s, want);
  cr_assert_not_null(a, "no section %s in:\n%s", id, s);
  z = strstr(a, "</section>");
  cr_assert_not_null(z);
  return strndup(a, (size_t)(z - a));
}

static size_t count_of(const char *s, const char *what)
{
  size_t n = 0;

  for (s = strstr(s, what); s; s = strstr(s + 1, what))
    n++;
  return n;
}

Test(report, html_is_one_page_with_the_root_causes_first)
{
  struct result *r = run_job(
      "{\"name\": \"ship <it> & \\\"go\\\"\", \"tasks\": ["
      "{\"id\": \"build\", \"kind\": \"sleep\", \"seconds\": 0.05},"
      "{\"id\": \"test\", \"kind\": \"sleep\", \"seconds\": 0.05,"
      " \"after\": [\"build\"], \"fail\": \"3 of 9 <failed> & \\\"said\\\" "
      "'so'\\nsecond line\"},"
      "{\"id\": \"deploy\", \"kind\": \"sleep\", \"seconds\": 0,"
      " \"after\": [\"test\"]},"
      "{\"id\": \"side\", \"kind\": \"sleep\", \"seconds\": 0}]}",
      NULL);
  char *s = html_of(r), *causes, *fails;
  const char *at;

  cr_assert(strncmp(s, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0, "%s",
            s);
  cr_assert(strstr(s, "</body>\n</html>\n"), "%s", s);
  /* Self-contained: nothing is fetched from anywhere. */
  cr_assert_null(strstr(s, "src="), "%s", s);
  cr_assert_null(strstr(s, "href=\"http"), "%s", s);
  cr_assert_null(strstr(s, "<link"), "%s", s);
  cr_assert_null(strstr(s, "@import"), "%s", s);
  cr_assert_null(strstr(s, "url("), "%s", s);
  /* The job's name and the message escaped, never as markup. */
  cr_assert(strstr(s, "<title>corun: ship &lt;it&gt; &amp; &quot;go&quot; "
                      "(failed)</title>"),
            "%s", s);
  cr_assert_null(strstr(s, "<failed>"), "%s", s);
  cr_assert_null(strstr(s, "<it>"), "%s", s);
  /* Summary counts. */
  cr_assert(strstr(s, "<td class=\"n\" data-status=\"ok\">2</td>"), "%s", s);
  cr_assert(strstr(s, "<td class=\"n\" data-status=\"failed\">1</td>"), "%s",
            s);
  cr_assert(strstr(s, "<td class=\"n\" data-status=\"skipped\">1</td>"), "%s",
            s);
  /* The root cause with its whole message, before anything else. */
  causes = html_section(s, "causes");
  cr_assert(strstr(causes, ">test</b> (sleep)"), "%s", causes);
  cr_assert(strstr(causes, "3 of 9 &lt;failed&gt; &amp; &quot;said&quot; "
                           "&#39;so&#39;\nsecond line</pre>"),
            "%s", causes);
  cr_assert_null(strstr(causes, "deploy"), "a skip is no root cause:\n%s",
                 causes);
  at = strstr(s, "<section id=\"causes\"");
  cr_assert(at < strstr(s, "<section id=\"timeline\""));
  cr_assert(at < strstr(s, "<section id=\"failures\""));
  /* Every task not ok in the static table. */
  fails = html_section(s, "failures");
  cr_assert(strstr(fails, ">test</td>") && strstr(fails, ">deploy</td>"),
            "%s", fails);
  cr_assert_null(strstr(fails, ">side</td>"), "%s", fails);
  /* Every task in the timeline's data, the message \u-escaped there. */
  cr_assert(strstr(s, "[\"build\",\"sleep\",-1,\"ok\","), "%s", s);
  cr_assert(strstr(s, "[\"deploy\",\"sleep\",-1,\"skipped\","), "%s", s);
  cr_assert(strstr(s, "[\"side\",\"sleep\","), "%s", s);
  cr_assert(strstr(s, "\\u003cfailed\\u003e \\u0026 \\\"said\\\""), "%s", s);
  /* Filters by status and a search box. */
  cr_assert(strstr(s, "<input type=\"checkbox\" data-status=\"failed\""));
  cr_assert(strstr(s, "<input type=\"search\" id=\"tl-search\""));
  free(causes);
  free(fails);
  free(s);
  result_free(r);
}

Test(report, html_text_cannot_end_its_script)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"x\", \"kind\": \"sleep\", \"seconds\": 0,"
      " \"fail\": \"</script><script>alert(1)</script><!--\"}]}",
      NULL);
  char *s = html_of(r);

  cr_assert_null(strstr(s, "<script>alert"), "%s", s);
  cr_assert_null(strstr(s, "<!--"), "%s", s);
  /* Only its own two: the data and the code. */
  cr_assert_eq(count_of(s, "</script>"), 2, "%s", s);
  cr_assert_eq(count_of(s, "<script"), 2, "%s", s);
  cr_assert(strstr(s, "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"),
            "%s", s);
  free(s);
  result_free(r);
}

Test(report, html_masks_secrets_as_the_json_report_does)
{
  struct result *r;
  struct corun_buf json = CORUN_BUF_INIT;
  char *s;

  setenv("CORUN_TEST_SECRET", "hunter2-xyz", 1);
  r = run_job("{\"name\": \"job ${env:CORUN_TEST_SECRET}\", \"tasks\": ["
              "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0, "
              "\"fail\": \"bad ${env:CORUN_TEST_SECRET}!\"}]}",
              NULL);
  s = html_of(r);
  corun_report_json(r->run, &json);
  cr_assert_null(strstr(corun_buf_str(&json), "hunter2"));
  cr_assert_null(strstr(s, "hunter2"), "%s", s);
  cr_assert(strstr(s, "bad ***!</pre>"), "%s", s);
  cr_assert(strstr(s, "\"bad ***!\""), "%s", s);
  corun_buf_free(&json);
  free(s);
  result_free(r);
  unsetenv("CORUN_TEST_SECRET");
}

Test(report, html_critical_path_and_pipeline_stages)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"first\", \"kind\": \"sleep\", \"seconds\": 0.05},"
      "{\"id\": \"grp\", \"kind\": \"gather\", \"after\": [\"first\"],"
      " \"tasks\": ["
      "  {\"id\": \"quick\", \"kind\": \"sleep\", \"seconds\": 0},"
      "  {\"id\": \"long\", \"kind\": \"sleep\", \"seconds\": 0.1}]},"
      "{\"id\": \"last\", \"kind\": \"sleep\", \"seconds\": 0.02,"
      " \"after\": [\"grp\"]},"
      "{\"id\": \"aside\", \"kind\": \"sleep\", \"seconds\": 0.02},"
      "{\"id\": \"pl\", \"kind\": \"pipeline\", \"source\": {\"range\": [0, 6]},"
      " \"stages\": [{\"workers\": 2, \"task\": {\"kind\": \"sleep\","
      " \"seconds\": 0}}, {\"task\": {\"kind\": \"sleep\", \"seconds\": 0}}]}"
      "]}",
      NULL);
  char *s = html_of(r), *crit = html_section(s, "critical"),
       *pl = html_section(s, "pipelines");
  const char *a, *b, *c, *d;

  /*
   * last ended last, after grp, which ended with long; long started with
   * grp, which ran after first.
   */
  a = strstr(crit, ">first</b>");
  b = strstr(crit, ">grp</b>");
  c = strstr(crit, ">long</b>");
  d = strstr(crit, ">last</b>");
  cr_assert(a && b && c && d && a < b && b < c && c < d, "%s", crit);
  cr_assert(strstr(b, "after first"), "%s", crit);
  cr_assert(strstr(c, "started by grp"), "%s", crit);
  cr_assert(strstr(d, "after grp"), "%s", crit);
  cr_assert_null(strstr(crit, "quick"), "%s", crit);
  cr_assert_null(strstr(crit, "aside"), "%s", crit);
  /* The pipeline as its counts and one row per stage. */
  cr_assert(strstr(pl, "6 items: 6 ok, 0 failed, 0 cancelled"), "%s", pl);
  cr_assert_eq(count_of(pl, "<tr><td>"), 2, "%s", pl);
  cr_assert(strstr(pl, "<tr><td>1</td><td class=\"n\">6</td>"), "%s", pl);
  free(crit);
  free(pl);
  free(s);
  result_free(r);
}

/*
 * A race's loser in its kill grace ends after the race: the race did not
 * wait for it, so the path to "use" (after the race) runs through the
 * winner, not the loser.
 */
Test(report, html_critical_path_skips_a_child_the_race_let_go)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"race\", \"kind\": \"wait\", \"return_when\": \"first_ok\", "
      "\"tasks\": ["
      " {\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.05},"
      " {\"id\": \"slow\", \"kind\": \"exec\", \"kill_grace\": \"0.2s\", "
      "\"shell\": \"trap '' TERM; sleep 10\"}]},"
      "{\"id\": \"use\", \"kind\": \"sleep\", \"seconds\": 0.6, "
      "\"after\": [\"race\"]}]}",
      NULL);
  char *s = html_of(r), *crit = html_section(s, "critical");

  cr_assert_lt(end_of(r, "slow"), end_of(r, "use"));
  cr_assert_gt(end_of(r, "slow"), end_of(r, "race"));
  cr_assert(strstr(crit, ">fast</b>") && strstr(crit, ">use</b>"), "%s",
            crit);
  cr_assert_null(strstr(crit, ">slow</b>"), "%s", crit);
  free(crit);
  free(s);
  result_free(r);
}

Test(report, html_file_appears_only_complete)
{
  struct result *r = run_job("{\"tasks\": [{\"id\": \"a\", \"kind\": "
                             "\"sleep\", \"seconds\": 0}]}",
                             NULL);
  char *dir = tmp_dir("html"), *path = path_join(dir, "run.html"), *s;
  struct corun_error err = {0};
  struct rlimit small = {4096, 4096};
  FILE *f;

  cr_assert_eq(corun_report_write(path, corun_report_html, r->run, &err),
               CORUN_OK, "%s", err.msg);
  s = read_file(path, NULL);
  cr_assert(strstr(s, "</html>\n"), "%s", s);
  cr_assert_eq(dir_entries(dir), 1);
  free(s);
  /* A write cut short (here by a file-size limit) leaves the old file. */
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("old", f);
  cr_assert_eq(fclose(f), 0);
  signal(SIGXFSZ, SIG_IGN);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
  cr_assert_neq(corun_report_write(path, corun_report_html, r->run, &err),
                CORUN_OK);
  s = read_file(path, NULL);
  cr_assert_str_eq(s, "old");
  cr_assert_eq(dir_entries(dir), 1, "a temporary file was left behind");
  free(s);
  unlink(path);
  rmdir(dir);
  free(path);
  free(dir);
  result_free(r);
}

/* The HTML report shows a task's "name" where it has one, its id else. */
Test(report, html_shows_names)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"t1\", \"name\": \"Login <page>\", \"kind\": "
      "\"exec\", \"shell\": \"exit 2\"}, {\"id\": \"t2\", \"kind\": "
      "\"exec\", \"shell\": \"exit 3\"}]}",
      NULL);
  char *h = html_of(r);

  cr_expect_not_null(strstr(h, "Login &lt;page&gt;"), "no name");
  cr_expect_not_null(strstr(h, "t2</b>"), "no id for the unnamed task");
  free(h);
  result_free(r);
}
