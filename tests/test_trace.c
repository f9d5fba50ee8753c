/* SPDX-License-Identifier: MIT */
/*
 * The Chrome trace: valid JSON with the Trace Event format's fields, every
 * task that ran as a complete event at its start with its duration, lanes
 * that trace viewers can draw (complete events on one lane nest), fetch
 * phases inside the fetch, and pipeline queue lengths as counters.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "server.h"

TestSuite(trace, .timeout = 60);

static cJSON *trace_of(struct result *r)
{
  struct corun_buf b = CORUN_BUF_INIT;
  cJSON *j;

  corun_report_trace(r->run, &b);
  cr_assert(!b.oom);
  j = cJSON_Parse(corun_buf_str(&b));
  cr_assert_not_null(j, "not JSON:\n%s", corun_buf_str(&b));
  corun_buf_free(&b);
  cr_assert(cJSON_IsArray(cJSON_GetObjectItem(j, "traceEvents")));
  return j;
}

static const char *str_of(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItem(o, k);

  return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItem(o, k);

  cr_assert(cJSON_IsNumber(v), "no number \"%s\"", k);
  return v->valuedouble;
}

/* The complete event named name (cat, when given, must match). */
static const cJSON *event(const cJSON *tr, const char *name, const char *cat)
{
  const cJSON *e;

  cJSON_ArrayForEach(e, cJSON_GetObjectItem(tr, "traceEvents"))
  {
    if (strcmp(str_of(e, "ph"), "X") == 0 &&
        strcmp(str_of(e, "name"), name) == 0 &&
        (cat == NULL || strcmp(str_of(e, "cat"), cat) == 0))
      return e;
  }
  return NULL;
}

/* Every event has name, cat, ph, ts (but metadata), pid and tid. */
static void check_fields(const cJSON *tr)
{
  const cJSON *e;

  cJSON_ArrayForEach(e, cJSON_GetObjectItem(tr, "traceEvents"))
  {
    const char *ph = str_of(e, "ph");

    cr_assert(*str_of(e, "name"), "event without a name");
    cr_assert(strcmp(ph, "X") == 0 || strcmp(ph, "M") == 0 ||
                  strcmp(ph, "C") == 0,
              "unexpected ph \"%s\"", ph);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(e, "pid")));
    /* Every event, metadata and counters too (trace models need them). */
    cr_assert(*str_of(e, "cat"), "event \"%s\" without a cat",
              str_of(e, "name"));
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(e, "tid")),
              "event \"%s\" without a tid", str_of(e, "name"));
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(e, "ts")),
              "event \"%s\" without a ts", str_of(e, "name"));
    if (strcmp(ph, "X") == 0) {
      cr_assert(num_of(e, "ts") >= 0);
      cr_assert(num_of(e, "dur") >= 0);
      cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(e, "tid")));
    }
  }
}

/*
 * On each lane, complete events nest: any two are disjoint or one holds
 * the other (what trace viewers need to draw them).
 */
static void check_nesting(const cJSON *tr)
{
  const cJSON *a, *b, *evs = cJSON_GetObjectItem(tr, "traceEvents");

  cJSON_ArrayForEach(a, evs)
  {
    double as, ae;

    if (strcmp(str_of(a, "ph"), "X") != 0)
      continue;
    as = num_of(a, "ts");
    ae = as + num_of(a, "dur");
    cJSON_ArrayForEach(b, evs)
    {
      double bs, be;

      if (a == b || strcmp(str_of(b, "ph"), "X") != 0 ||
          num_of(a, "tid") != num_of(b, "tid"))
        continue;
      bs = num_of(b, "ts");
      be = bs + num_of(b, "dur");
      /* Edges printed to the nanosecond meet exactly; sums may not. */
      const double e = 1e-6;

      cr_assert(ae <= bs + e || be <= as + e ||
                    (as <= bs + e && be <= ae + e) ||
                    (bs <= as + e && ae <= be + e),
                "\"%s\" [%f, %f] and \"%s\" [%f, %f] overlap on lane %g",
                str_of(a, "name"), as, ae, str_of(b, "name"), bs, be,
                num_of(a, "tid"));
    }
  }
}

/* A lane's name, from its metadata event. */
static const char *lane_name(const cJSON *tr, double tid)
{
  const cJSON *e;

  cJSON_ArrayForEach(e, cJSON_GetObjectItem(tr, "traceEvents"))
  {
    if (strcmp(str_of(e, "ph"), "M") == 0 &&
        strcmp(str_of(e, "name"), "thread_name") == 0 &&
        num_of(e, "tid") == tid)
      return str_of(cJSON_GetObjectItem(e, "args"), "name");
  }
  return NULL;
}

Test(trace, every_task_that_ran_with_its_start_and_duration)
{
  struct run_opts o = {0};
  struct result *r;
  cJSON *tr;
  size_t i;

  o.trace = 1;
  r = run_job("{\"name\": \"tr\", \"tasks\": ["
              "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
              "  {\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.1},"
              "  {\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.2},"
              "  {\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0.15}]},"
              "{\"id\": \"x\", \"kind\": \"exec\", \"shell\": \"exit 2\"},"
              "{\"id\": \"y\", \"kind\": \"sleep\", \"seconds\": 0,"
              " \"after\": [\"x\"]},"
              "{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
              "\"first_completed\", \"tasks\": ["
              "  {\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.05},"
              "  {\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 5}]}]}",
              &o);
  tr = trace_of(r);
  check_fields(tr);
  check_nesting(tr);
  for (i = 0; i < r->job->ntasks; i++) {
    const struct corun_task *t = r->job->tasks[i];
    const cJSON *e = event(tr, t->id, t->kind->name);

    if (t->t_start == CORUN_NO_TIME) {
      cr_assert_null(e, "\"%s\" never ran but is in the trace", t->id);
      continue;
    }
    cr_assert_not_null(e, "\"%s\" is missing", t->id);
    cr_assert(fabs(num_of(e, "ts") - (double)t->t_start / 1000.0) < 0.01);
    cr_assert(fabs(num_of(e, "dur") -
                   (double)(t->t_end - t->t_start) / 1000.0) < 0.01);
    cr_assert_str_eq(str_of(cJSON_GetObjectItem(e, "args"), "status"),
                     corun__task_status_name(t->status));
  }
  /* y was skipped, the others ran: the loop above saw both kinds. */
  cr_assert_null(event(tr, "y", NULL));
  cr_assert_str_eq(str_of(cJSON_GetObjectItem(
                              cJSON_GetObjectItem(event(tr, "x", NULL), "args"),
                              "error"),
                          "type"),
                   "exit_status");
  /* The gather's overlapping children need lanes of their own, all named
   * after their root; no lane holds two roots' tasks. */
  {
    double gl = num_of(event(tr, "g", NULL), "tid");
    double la = num_of(event(tr, "a", NULL), "tid");
    double lb = num_of(event(tr, "b", NULL), "tid");
    double lc = num_of(event(tr, "c", NULL), "tid");
    double lx = num_of(event(tr, "x", NULL), "tid");
    double lw = num_of(event(tr, "w", NULL), "tid");

    cr_assert(la != lb && lb != lc && la != lc);
    cr_assert_str_eq(lane_name(tr, gl), "g");
    cr_assert(strncmp(lane_name(tr, la), "g", 1) == 0);
    cr_assert(strncmp(lane_name(tr, lb), "g", 1) == 0);
    cr_assert(lx != gl && lx != la && lx != lb && lx != lc && lx != lw);
    cr_assert_str_eq(lane_name(tr, lx), "x");
  }
  cJSON_Delete(tr);
  result_free(r);
}

/*
 * curl's phases nest inside their fetch, on its lane; a fetch that failed
 * on its answer (a status it did not expect) shows them too.
 */
Test(trace, fetch_phases_nest_inside_the_fetch)
{
  struct test_server srv;
  struct run_opts o = {0};
  struct corun_buf job = CORUN_BUF_INIT;
  struct result *r;
  const cJSON *f, *e;
  cJSON *tr;
  static const char *const ids[] = {"get", "bad"};
  int k;

  cr_assert_eq(test_server_start(&srv), 0);
  corun_buf_printf(&job,
                   "{\"tasks\": [{\"id\": \"get\", \"kind\": \"fetch\", "
                   "\"url\": \"http://127.0.0.1:%d/delay?ms=50&n=20000\"},"
                   " {\"id\": \"bad\", \"kind\": \"fetch\", \"url\": "
                   "\"http://127.0.0.1:%d/delay?ms=50\", \"expect\": "
                   "{\"status\": [201]}}]}",
                   srv.port, srv.port);
  o.trace = 1;
  r = run_job(corun_buf_str(&job), &o);
  test_server_stop(&srv);
  cr_assert_str_eq(status_of(r, "get"), "ok");
  cr_assert_str_eq(status_of(r, "bad"), "failed");
  tr = trace_of(r);
  check_nesting(tr);
  for (k = 0; k < 2; k++) {
    int phases = 0;
    double wait = 0;

    f = event(tr, ids[k], "fetch");
    cr_assert_not_null(f, "%s", ids[k]);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(tr, "traceEvents"))
    {
      if (strcmp(str_of(e, "cat"), "fetch") != 0 || e == f ||
          num_of(e, "tid") != num_of(f, "tid"))
        continue;
      phases++;
      cr_assert(num_of(e, "ts") >= num_of(f, "ts") - 0.001);
      cr_assert(num_of(e, "ts") + num_of(e, "dur") <=
                num_of(f, "ts") + num_of(f, "dur") + 0.001);
      if (strcmp(str_of(e, "name"), "wait") == 0)
        wait = num_of(e, "dur");
    }
    /* The server waits 50 ms before answering: that is the wait phase. */
    cr_assert_geq(phases, 3, "%s", ids[k]);
    cr_assert(wait >= 40000, "%s: wait %g us", ids[k], wait);
  }
  {
    /* The HTML timeline's row of the failed fetch has its phases too. */
    struct corun_buf h = CORUN_BUF_INIT;
    const char *row, *next, *arr;

    corun_report_html(r->run, &h);
    row = strstr(corun_buf_str(&h), "[\"bad\",\"fetch\",");
    cr_assert_not_null(row);
    next = strstr(row + 1, "[\"");
    arr = strstr(row + 1, ",[");
    cr_assert(arr && (next == NULL || arr < next), "no phases: %.200s", row);
    corun_buf_free(&h);
  }
  cJSON_Delete(tr);
  corun_buf_free(&job);
  result_free(r);
}

Test(trace, pipeline_queue_lengths_as_counters)
{
  struct run_opts o = {0};
  struct result *r;
  const cJSON *e;
  cJSON *tr;
  int samples = 0, max = 0;

  o.trace = 1;
  r = run_job("{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
              "\"source\": {\"range\": [0, 12]}, \"stages\": [{\"workers\": 1, "
              "\"queue\": 4, \"task\": {\"kind\": \"sleep\", \"seconds\": "
              "0.03}}]}]}",
              &o);
  cr_assert_str_eq(status_of(r, "p"), "ok");
  tr = trace_of(r);
  check_fields(tr);
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(tr, "traceEvents"))
  {
    int len;

    if (strcmp(str_of(e, "ph"), "C") != 0)
      continue;
    cr_assert_str_eq(str_of(e, "name"), "p stage 1 queue");
    len = (int)num_of(cJSON_GetObjectItem(e, "args"), "length");
    cr_assert(len >= 0 && len <= 4, "length %d above the queue's 4", len);
    if (len > max)
      max = len;
    samples++;
  }
  /* About 360 ms sampled every 10 ms; the slow worker fills the queue. */
  cr_assert_geq(samples, 10);
  cr_assert_eq(max, 4);
  /* The item tasks are not in the trace, only the pipeline. */
  cr_assert_not_null(event(tr, "p", "pipeline"));
  cr_assert_null(event(tr, "p.1.0", NULL));
  cJSON_Delete(tr);
  result_free(r);
}

Test(trace, no_samples_without_trace)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": "
      "{\"range\": [0, 3]}, \"stages\": [{\"task\": {\"kind\": \"sleep\", "
      "\"seconds\": 0.02}}]}]}",
      NULL);
  cJSON *tr = trace_of(r);
  const cJSON *e;

  cJSON_ArrayForEach(e, cJSON_GetObjectItem(tr, "traceEvents"))
  cr_assert_str_neq(str_of(e, "ph"), "C");
  cJSON_Delete(tr);
  result_free(r);
}

/*
 * A task's "name" names its event (and its lane, for a root), the id
 * staying in args; a command's event carries the pid it ran as.
 */
Test(trace, names_and_pids)
{
  struct run_opts o = {.trace = 1};
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"t1\", \"name\": \"Build it\", \"kind\": "
      "\"exec\", \"argv\": [\"true\"]}, {\"id\": \"t2\", \"kind\": "
      "\"sleep\", \"seconds\": 0}]}",
      &o);
  cJSON *tr = trace_of(r);
  const cJSON *e = event(tr, "Build it", "exec"), *args;

  cr_assert_not_null(e, "no event named by the task's name");
  args = cJSON_GetObjectItem(e, "args");
  cr_expect_str_eq(str_of(args, "id"), "t1");
  cr_expect_gt(num_of(args, "pid"), 0);
  cr_expect_str_eq(lane_name(tr, num_of(e, "tid")), "Build it");
  e = event(tr, "t2", "sleep");
  cr_assert_not_null(e);
  cr_expect_null(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "args"), "id"));
  cr_expect_null(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "args"), "pid"));
  cJSON_Delete(tr);
  result_free(r);
}
