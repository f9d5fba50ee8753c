/* SPDX-License-Identifier: MIT */
/*
 * The pipeline kind, end to end: the corun binary on job files (exit code,
 * JSON report, results file, --debug lines, signals), and the library
 * in-process where a test needs the pipeline's result whatever its status
 * or a task dump at a chosen moment.
 *
 * Covered: how many items each source gives (range with steps, items,
 * lines with blank lines and CRLF, empty sources) and that the counts add
 * up; queue maxsizes and back-pressure; fifo/lifo/priority order; rate and
 * produce_delay; on_error continue/cancel; the results file (one valid line
 * per item, written atomically at the end); item templates and hand-off
 * between stages, fetch stages against the test server; interruption,
 * timeouts; a million items in flat memory; load-time errors; the task
 * dump and item task ids.
 *
 * Job texts are written with single quotes for readability: J() turns '
 * into " (and ` into ').
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "helpers.h"
#include "server.h"
#include "kinds/pipeline/pipeline.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- scratch: a directory per test, things freed at the end ---- */

static char dir[64];
static struct test_server srv = {.pid = -1};

struct kid {
  pid_t pid;
  int status; /* exit code; -1 while running; 1000 + signal if killed */
  double t0, tend;
  long maxrss_kb;
};
static struct kid kid;
static pid_t writer = -1; /* a FIFO's writer, see fifo_writer() */

static void **gc_ptr;
static cJSON **gc_js;
static size_t gc_np, gc_nj;

static void *gc(void *p)
{
  if ((gc_np & (gc_np + 1)) == 0 || gc_np == 0) {
    gc_ptr = realloc(gc_ptr, (2 * gc_np + 2) * sizeof(*gc_ptr));
    cr_assert_not_null(gc_ptr);
  }
  gc_ptr[gc_np++] = p;
  return p;
}

static cJSON *gcj(cJSON *j)
{
  if ((gc_nj & (gc_nj + 1)) == 0 || gc_nj == 0) {
    gc_js = realloc(gc_js, (2 * gc_nj + 2) * sizeof(*gc_js));
    cr_assert_not_null(gc_js);
  }
  gc_js[gc_nj++] = j;
  return j;
}

static void setup(void)
{
  snprintf(dir, sizeof(dir), "/tmp/corun-pl.XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  /* In-process jobs resolve relative paths against ".": the same dir. */
  cr_assert_eq(chdir(dir), 0);
  memset(&kid, 0, sizeof(kid));
  srv.pid = -1;
  writer = -1;
}

static void teardown(void)
{
  size_t i;

  if (kid.pid > 0 && kid.status == -1) {
    kill(kid.pid, SIGKILL);
    while (waitpid(kid.pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  if (writer > 0) {
    kill(writer, SIGKILL);
    while (waitpid(writer, NULL, 0) < 0 && errno == EINTR)
      ;
    writer = -1;
  }
  test_server_stop(&srv);
  for (i = 0; i < gc_np; i++)
    free(gc_ptr[i]);
  for (i = 0; i < gc_nj; i++)
    cJSON_Delete(gc_js[i]);
  free(gc_ptr);
  free(gc_js);
  gc_ptr = NULL;
  gc_js = NULL;
  gc_np = gc_nj = 0;
  if (dir[0] && chdir("/") == 0) {
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", dir);
  }
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 120);

#define SC (time_scale())

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A path in the test's directory (kept until teardown). */
static const char *P(const char *name)
{
  char *p = gc(malloc(strlen(dir) + strlen(name) + 2));

  sprintf(p, "%s/%s", dir, name);
  return p;
}

/* printf, then ' becomes " and ` becomes '; kept until teardown. */
static char *J(const char *fmt, ...)
{
  char *c, *out;
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  out = gc(malloc((size_t)n + 1));
  va_start(ap, fmt);
  vsnprintf(out, (size_t)n + 1, fmt, ap);
  va_end(ap);
  for (c = out; *c; c++)
    *c = *c == '\'' ? '"' : *c == '`' ? '\'' : *c;
  return out;
}

static void put_file(const char *name, const char *text, size_t len)
{
  FILE *f = fopen(P(name), "wb");

  cr_assert_not_null(f, "cannot write %s", name);
  cr_assert_eq(fwrite(text, 1, len, f), len);
  fclose(f);
}

/* The file's content (kept until teardown), or NULL when it is absent. */
static char *slurp(const char *path)
{
  char *s = read_file(path, NULL);

  return s ? gc(s) : NULL;
}

/* Names in the test directory containing part (a static count). */
static int count_files(const char *part, char *first, size_t n)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int k = 0;

  cr_assert_not_null(d);
  while ((e = readdir(d)) != NULL) {
    if (strstr(e->d_name, part)) {
      if (k == 0 && first)
        snprintf(first, n, "%s", e->d_name);
      k++;
    }
  }
  closedir(d);
  return k;
}

/* ---- running the corun binary ---- */

/*
 * Start corun ARGS (NULL-terminated) with stdout and stderr going to
 * dir/out and dir/err; env ("NAME=VALUE") is added to its environment.
 */
/* A file for corun's standard input in the next start_corun(); NULL: none. */
static const char *kid_in;

static void start_corun(const char *const *args, const char *env)
{
  struct spawn_opts o = {.free_fds = -1, .env = env, .in = kid_in};

  memset(&kid, 0, sizeof(kid));
  kid.status = -1;
  o.out = P("out");
  o.err = P("err");
  kid.t0 = now_s();
  kid.pid = spawn_cli(args, &o);
}

/* Whether corun has exited (waiting up to secs). */
static int corun_exited(double secs)
{
  double until = now_s() + secs;
  struct rusage ru;
  int st;

  if (kid.status != -1)
    return 1;
  for (;;) {
    pid_t r = wait4(kid.pid, &st, WNOHANG, &ru);

    if (r == kid.pid) {
      kid.tend = now_s();
      kid.status = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
      kid.maxrss_kb = ru.ru_maxrss;
      return 1;
    }
    if (now_s() >= until)
      return 0;
    usleep(5 * 1000);
  }
}

/* Wait for the exit (failing after secs); returns the exit code. */
static int reap(double secs)
{
  char *err;

  if (!corun_exited(secs)) {
    kill(kid.pid, SIGKILL);
    corun_exited(5);
    cr_assert_fail("corun still running after %.1fs; stderr:\n%s", secs,
                   slurp(P("err")));
  }
  cr_assert_lt(kid.status, 1000, "corun died of signal %d: %s",
               kid.status - 1000, slurp(P("err")));
  err = slurp(P("err"));
  cr_assert_null(strstr(err, "Sanitizer"), "%s", err);
  cr_assert_null(strstr(err, "runtime error:"), "%s", err);
  return kid.status;
}

struct outcome {
  int code;
  char *out, *err;
  cJSON *rep; /* NULL when no report was written */
  double wall;
};

/* Write text as dir/job.json and run corun --report R -q EXTRA... on it. */
static struct outcome run(const char *text, const char *const *extra,
                          const char *env, double limit)
{
  const char *args[40];
  struct outcome o;
  char *rep;
  size_t n = 0;

  put_file("job.json", text, strlen(text));
  unlink(P("report.json"));
  args[n++] = "--report";
  args[n++] = P("report.json");
  args[n++] = "-q";
  while (extra && *extra && n < 38)
    args[n++] = *extra++;
  args[n++] = P("job.json");
  args[n] = NULL;
  start_corun(args, env);
  o.code = reap(limit > 0 ? limit : 60 * SC);
  o.wall = kid.tend - kid.t0;
  o.out = slurp(P("out"));
  o.err = slurp(P("err"));
  rep = slurp(P("report.json"));
  o.rep = NULL;
  if (rep) {
    o.rep = gcj(cJSON_Parse(rep));
    cr_assert_not_null(o.rep, "the report is not JSON: %s", rep);
  }
  return o;
}

static const cJSON *get(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

  cr_assert_not_null(v, "no \"%s\" in %s", k,
                     (char *)gc(cJSON_PrintUnformatted(o)));
  return v;
}

static double num(const cJSON *o, const char *k)
{
  const cJSON *v = get(o, k);

  cr_assert(cJSON_IsNumber(v), "\"%s\" is not a number", k);
  return v->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
  const cJSON *v = get(o, k);

  cr_assert(cJSON_IsString(v), "\"%s\" is not a string", k);
  return v->valuestring;
}

static const cJSON *stage(const cJSON *res, int i)
{
  const cJSON *s = cJSON_GetArrayItem(get(res, "stages"), i);

  cr_assert_not_null(s, "no stage %d", i + 1);
  return s;
}

/* items == ok + failed + cancelled, and each count as given. */
static void assert_counts(const cJSON *res, int items, int ok, int failed,
                          int cancelled)
{
  char *s = gc(cJSON_PrintUnformatted(res));

  cr_assert_eq(num(res, "items"), items, "%s", s);
  cr_assert_eq(num(res, "ok"), ok, "%s", s);
  cr_assert_eq(num(res, "failed"), failed, "%s", s);
  cr_assert_eq(num(res, "cancelled"), cancelled, "%s", s);
}

static void assert_stage(const cJSON *res, int i, int processed, int failed)
{
  char *s = gc(cJSON_PrintUnformatted(res));

  cr_assert_eq(num(stage(res, i), "processed"), processed, "stage %d: %s",
               i + 1, s);
  cr_assert_eq(num(stage(res, i), "failed"), failed, "stage %d: %s", i + 1, s);
}

/*
 * The results file, each line checked: a JSON object with index, item,
 * status, "result" (ok) or "error" {type, message} (otherwise), duration;
 * each index once. Returns the lines in file order; *n their number.
 */
static cJSON **results(const char *name, int *n)
{
  char *text = slurp(P(name)), *line, *save = NULL;
  cJSON **v = gc(calloc(1u << 21, sizeof(*v)));
  unsigned char *seen = gc(calloc(1u << 21, 1));
  int k = 0;

  cr_assert_not_null(text, "no results file %s", name);
  cr_assert(text[0] == '\0' || text[strlen(text) - 1] == '\n',
            "the last line is not whole");
  for (line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    cJSON *j = cJSON_Parse(line);
    const char *st;
    double idx;

    cr_assert_not_null(j, "line %d is not JSON: %s", k + 1, line);
    gcj(j);
    cr_assert(cJSON_IsObject(j), "%s", line);
    idx = num(j, "index");
    cr_assert(idx >= 0 && idx < (1u << 21) && idx == (double)(long)idx, "%s",
              line);
    cr_assert_eq(seen[(long)idx], 0, "index %ld twice", (long)idx);
    seen[(long)idx] = 1;
    get(j, "item");
    st = str(j, "status");
    cr_assert(strcmp(st, "ok") == 0 || strcmp(st, "failed") == 0 ||
                  strcmp(st, "timeout") == 0 || strcmp(st, "cancelled") == 0,
              "%s", line);
    if (strcmp(st, "ok") == 0) {
      get(j, "result");
      cr_assert_null(cJSON_GetObjectItem(j, "error"), "%s", line);
    } else {
      const cJSON *e = get(j, "error");

      cr_assert_null(cJSON_GetObjectItem(j, "result"), "%s", line);
      str(e, "type");
      str(e, "message");
    }
    cr_assert(num(j, "duration") >= 0, "%s", line);
    cr_assert_eq(cJSON_GetArraySize(j), 5, "%s", line);
    v[k++] = j;
  }
  *n = k;
  return v;
}

/* Indexes of a results file are exactly 0..n-1. */
static void assert_indexes_dense(cJSON **v, int n)
{
  long sum = 0, i;

  for (i = 0; i < n; i++)
    sum += (long)num(v[i], "index");
  cr_assert_eq(sum, (long)n * (n - 1) / 2, "indexes are not 0..%d", n - 1);
}

static int count_status(cJSON **v, int n, const char *status)
{
  int i, k = 0;

  for (i = 0; i < n; i++)
    k += strcmp(str(v[i], "status"), status) == 0;
  return k;
}

/* The line of the results for index idx. */
static const cJSON *line_of(cJSON **v, int n, int idx)
{
  int i;

  for (i = 0; i < n; i++)
    if ((int)num(v[i], "index") == idx)
      return v[i];
  cr_assert_fail("no results line for index %d", idx);
  return NULL;
}

/* The lines of text starting with prefix, prefix removed, joined by '|'. */
static char *lines_with(const char *text, const char *prefix)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const char *s = text;
  size_t pl = strlen(prefix);

  while (s && *s) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);

    if (len >= pl && strncmp(s, prefix, pl) == 0) {
      if (b.len)
        corun_buf_putc(&b, '|');
      corun_buf_add(&b, s + pl, len - pl);
    }
    s = nl ? nl + 1 : NULL;
  }
  corun_buf_putc(&b, '\0');
  return gc(corun_buf_detach(&b));
}

/*
 * Times (seconds since the run began) at which the --debug lines say the
 * tasks "<id_prefix>N" started running, by N; returns how many were seen.
 */
static int start_times(const char *err, const char *id_prefix, double *t,
                       int max)
{
  const char *s = err;
  int seen = 0, i;

  for (i = 0; i < max; i++)
    t[i] = -1;
  while ((s = strstr(s, "corun: [")) != NULL) {
    double at;
    int idx, used = 0;
    char id[128];

    if (sscanf(s, "corun: [ %lfs] %127[^:]: queued -> running%n", &at, id,
               &used) == 2 &&
        used > 0 && strncmp(id, id_prefix, strlen(id_prefix)) == 0) {
      idx = atoi(id + strlen(id_prefix));
      if (idx >= 0 && idx < max) {
        t[idx] = at;
        seen++;
      }
    }
    s++;
  }
  return seen;
}

/* ---- in-process runs ---- */

/* The task's result as JSON, whatever its status (kept until teardown). */
static cJSON *result_of(struct result *r, const char *id)
{
  struct corun_buf b = CORUN_BUF_INIT;
  cJSON *j;

  corun__task_write_result(task_by_id(r, id), &r->job->secrets, &b);
  j = cJSON_Parse(corun_buf_str(&b));
  cr_assert_not_null(j, "result of %s: %s", id, corun_buf_str(&b));
  corun_buf_free(&b);
  return gcj(j);
}

/* ==== counts ==== */

Test(pipeline, counts_range_with_steps_and_negative_steps)
{
  static const struct {
    const char *id, *range, *want;
    int n;
  } c[] = {
      {"a", "[0, 10, 3]", "0=0|1=3|2=6|3=9", 4},
      {"b", "[10, 0, -3]", "0=10|1=7|2=4|3=1", 4},
      {"c", "[-3, 3, 2]", "0=-3|1=-1|2=1", 3},
      {"d", "[0, 5]", "0=0|1=1|2=2|3=3|4=4", 5},
      {"e", "[7, -8, -5]", "0=7|1=2|2=-3", 3},
      {"f", "[5, 0]", "", 0},
      {"g", "[0, 5, -1]", "", 0},
      {"h", "[4, 4, 1]", "", 0},
      {"i", "[0, 1, 100]", "0=0", 1},
  };
  struct corun_buf b = CORUN_BUF_INIT;
  struct outcome o;
  size_t i;

  corun_buf_puts(&b, "{'tasks': [");
  for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
    corun_buf_printf(&b,
                     "%s{'id': '%s', 'kind': 'pipeline', 'source': {'range': "
                     "%s}, 'stages': [{'task': {'kind': 'sleep', 'seconds': "
                     "0, 'message': '%s ${index}=${item}'}}]}",
                     i ? ", " : "", c[i].id, c[i].range, c[i].id);
  corun_buf_puts(&b, "]}");
  o = run(J(corun_buf_str(&b)), NULL, NULL, 0);
  corun_buf_free(&b);
  cr_assert_eq(o.code, 0, "%s", o.err);
  for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    const cJSON *t = report_task(o.rep, c[i].id), *res = get(t, "result");
    char prefix[8];

    snprintf(prefix, sizeof(prefix), "%s ", c[i].id);
    cr_assert_str_eq(str(t, "status"), "ok");
    cr_assert_str_eq(lines_with(o.out, prefix), c[i].want, "range %s",
                     c[i].range);
    assert_counts(res, c[i].n, c[i].n, 0, 0);
    assert_stage(res, 0, c[i].n, 0);
  }
}

Test(pipeline, counts_items_source_keeps_each_item_and_its_type)
{
  const char *items = "[1, 'two', null, true, {'k': [1, 2]}, [3], 2.5, ''";
  struct outcome o;
  cJSON **v, *src;
  int n, i;

  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': "
            "{'items': %s]}, 'stages': [{'workers': 3, 'task': {'kind': "
            "'sleep', 'seconds': 0, 'message': 'm ${index} ${item}'}}], "
            "'results': 'r.jsonl'}]}",
            items),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  assert_counts(get(report_task(o.rep, "p"), "result"), 8, 8, 0, 0);
  src = gcj(cJSON_Parse(J("%s]", items)));
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 8);
  for (i = 0; i < n; i++) {
    const cJSON *it = get(v[i], "item");
    int idx = (int)num(v[i], "index");

    cr_assert(cJSON_Compare(it, cJSON_GetArrayItem(src, idx), 1),
              "index %d: %s", idx, (char *)gc(cJSON_PrintUnformatted(it)));
    cr_assert_str_eq(str(v[i], "status"), "ok");
  }
  /* Inside a longer string: strings as they are, the rest as JSON. */
  cr_assert_not_null(strstr(o.out, "m 1 two\n"), "%s", o.out);
  cr_assert_not_null(strstr(o.out, "m 2 null\n"), "%s", o.out);
  cr_assert_not_null(strstr(o.out, "m 4 {\"k\":[1,2]}\n"), "%s", o.out);
  cr_assert_not_null(strstr(o.out, "m 6 2.5\n"), "%s", o.out);
  cr_assert_not_null(strstr(o.out, "m 7 \n"), "%s", o.out);
}

Test(pipeline, counts_lines_skip_blank_lines_and_strip_cr)
{
  static const char text[] = "a\r\n\r\n\nb\n  \n\r\nsp ace\r\n\n\nlast";
  struct outcome o;
  cJSON **v;
  int n;

  put_file("in.txt", text, sizeof(text) - 1);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': "
            "{'lines': 'in.txt'}, 'stages': [{'task': {'kind': 'sleep', "
            "'seconds': 0, 'message': 'm ${index}:${item}.'}}], 'results': "
            "'r.jsonl'}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_str_eq(lines_with(o.out, "m "),
                   "0:a.|1:b.|2:  .|3:sp ace.|4:last.");
  assert_counts(get(report_task(o.rep, "p"), "result"), 5, 5, 0, 0);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(str(line_of(v, n, 0), "item"), "a");
  cr_assert_str_eq(str(line_of(v, n, 3), "item"), "sp ace");
  cr_assert_str_eq(str(line_of(v, n, 4), "item"), "last");
}

/* Some editors start a file with a UTF-8 byte order mark: it is no item. */
Test(pipeline, lines_skip_a_bom_at_the_start_only)
{
  static const char text[] = "\xef\xbb\xbf" "a\n\xef\xbb\xbf" "b\n";
  struct outcome o;

  put_file("in.txt", text, sizeof(text) - 1);
  put_file("bom.txt", "\xef\xbb\xbf", 3);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': "
            "{'lines': 'in.txt'}, 'stages': [{'task': {'kind': 'sleep', "
            "'seconds': 0, 'message': 'm ${index}:${item}.'}}]},"
            "{'id': 'q', 'kind': 'pipeline', 'source': {'lines': 'bom.txt'}, "
            "'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  /* Only the first: one inside the file is part of its line. */
  cr_assert_str_eq(lines_with(o.out, "m "), "0:a.|1:\xef\xbb\xbf" "b.");
  assert_counts(get(report_task(o.rep, "q"), "result"), 0, 0, 0, 0);
}

Test(pipeline, lines_dash_reads_standard_input)
{
  static const char text[] = "\xef\xbb\xbf" "one\n\ntwo\r\nthree";
  const char *job = J("{'tasks': [{'id': 'p', 'kind': 'pipeline', "
                      "'source': {'lines': '-'}, 'stages': [{'task': "
                      "{'kind': 'sleep', 'seconds': 0, 'message': "
                      "'m ${index}:${item}.'}}]}]}");
  struct outcome o;
  char cmd[1024], *out;
  int status;

  /* From a file... */
  put_file("in.txt", text, sizeof(text) - 1);
  kid_in = P("in.txt");
  o = run(job, NULL, NULL, 0);
  kid_in = NULL;
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_str_eq(lines_with(o.out, "m "), "0:one.|1:two.|2:three.");
  /* ... and from a pipe, which may wait: the loop goes on meanwhile. */
  snprintf(cmd, sizeof(cmd),
           "(printf 'x\\n'; sleep 0.3; printf 'y\\n') | %s -q %s", CORUN_BIN,
           P("job.json"));
  out = gc(run_shell(cmd, &status));
  cr_assert_eq(status, 0, "%s", out);
  cr_assert_str_eq(out, "m 0:x.\nm 1:y.\n");
  /*
   * /dev/null (as under cron or CI) cannot be polled: read as a file, it
   * is an empty source, as is a closed standard input.
   */
  o = run(job, NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  assert_counts(get(report_task(o.rep, "p"), "result"), 0, 0, 0, 0);
  snprintf(cmd, sizeof(cmd), "%s -q %s <&- 2>&1", CORUN_BIN, P("job.json"));
  out = gc(run_shell(cmd, &status));
  cr_assert_eq(status, 0, "%s", out);
  cr_assert_str_empty(out);
}

Test(pipeline, lines_from_a_device_are_read_like_a_file)
{
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'lines': "
        "'/dev/null'}, 'stages': [{'task': {'kind': 'sleep', 'seconds': "
        "0}}]}]}"),
      NULL, NULL, 0);

  cr_assert_eq(o.code, 0, "%s", o.err);
  assert_counts(get(report_task(o.rep, "p"), "result"), 0, 0, 0, 0);
}

Test(pipeline, lines_dash_has_one_reader_and_not_a_job_from_stdin)
{
  const char *job = J("{'tasks': [{'id': 'p', 'kind': 'pipeline', "
                      "'source': {'lines': '-'}, 'stages': [{'task': "
                      "{'kind': 'sleep', 'seconds': 0}}]}]}");
  char cmd[1024], *out;
  int status;

  put_file("job.json", job, strlen(job));
  snprintf(cmd, sizeof(cmd), "%s --check - < %s 2>&1", CORUN_BIN,
           P("job.json"));
  out = gc(run_shell(cmd, &status));
  cr_assert_eq(status, 2, "%s", out);
  cr_assert(strstr(out, "<stdin>:1:"), "%s", out);
  cr_assert(strstr(out, "job file itself came from standard input"), "%s",
            out);
  out = load_err(J("{'tasks': [{'id': 'a', 'kind': 'pipeline', 'source': "
                   "{'lines': '-'}, 'stages': [{'task': {'kind': 'sleep', "
                   "'seconds': 0}}]}, {'id': 'b', 'kind': 'pipeline', "
                   "'source': {'lines': '-'}, 'stages': [{'task': {'kind': "
                   "'sleep', 'seconds': 0}}]}]}"));
  gc(out);
  cr_assert(strstr(out, "task \"b\": \"source\" has \"lines\": \"-\", but "
                        "another pipeline already reads standard input"),
            "%s", out);
}

Test(pipeline, results_creates_missing_parent_directories)
{
  struct outcome o;
  cJSON **v;
  int n;

  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': "
            "{'range': [0, 3]}, 'stages': [{'task': {'kind': 'sleep', "
            "'seconds': 0}}], 'results': 'res/deep/r.jsonl'}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  v = results("res/deep/r.jsonl", &n);
  cr_assert_not_null(v);
  cr_assert_eq(n, 3);
  unlink(P("res/deep/r.jsonl"));
  rmdir(P("res/deep"));
  rmdir(P("res"));
}

Test(pipeline, counts_lines_across_read_chunks_with_several_producers)
{
  struct corun_buf b = CORUN_BUF_INIT;
  struct outcome o;
  cJSON **v;
  int n, i, want = 0;
  char **lines = gc(calloc(40000, sizeof(char *)));
  char *pool = gc(malloc(40000 * 80));

  /* About 1.3 MB: many 64 KiB reads, lines cut at chunk edges. */
  srand(7);
  for (i = 0; i < 40000; i++) {
    int r = rand() % 10;

    if (r == 0) {
      corun_buf_puts(&b, "\n");
    } else if (r == 1) {
      corun_buf_puts(&b, "\r\n");
    } else {
      char *l = pool + i * 80;

      snprintf(l, 80, "line-%d-%.*s", i, rand() % 40,
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
      corun_buf_puts(&b, l);
      corun_buf_puts(&b, r < 5 ? "\r\n" : "\n");
      lines[want++] = l;
    }
  }
  put_file("in.txt", corun_buf_str(&b), b.len);
  corun_buf_free(&b);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'producers': 3, "
            "'source': {'lines': 'in.txt'}, 'stages': [{'workers': 4, "
            "'task': {'kind': 'sleep', 'seconds': 0}}], 'results': "
            "'r.jsonl'}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  assert_counts(get(report_task(o.rep, "p"), "result"), want, want, 0, 0);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, want);
  for (i = 0; i < n; i++) {
    int idx = (int)num(v[i], "index");

    cr_assert_str_eq(str(v[i], "item"), lines[idx], "index %d", idx);
  }
}

Test(pipeline, counts_empty_sources)
{
  struct outcome o;
  const char *names[] = {"a", "b", "c", "d"};
  int i, n;

  put_file("empty.txt", "", 0);
  put_file("blank.txt", "\n\r\n\n", 4);
  o = run(J("{'tasks': ["
            "{'id': 'a', 'kind': 'pipeline', 'source': {'items': []}, "
            "'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}, {'task': "
            "{'kind': 'sleep', 'seconds': 0}}], 'results': 'a.jsonl'},"
            "{'id': 'b', 'kind': 'pipeline', 'source': {'range': [3, 3]}, "
            "'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}], "
            "'results': 'b.jsonl'},"
            "{'id': 'c', 'kind': 'pipeline', 'source': {'lines': "
            "'empty.txt'}, 'stages': [{'task': {'kind': 'sleep', 'seconds': "
            "0}}], 'results': 'c.jsonl'},"
            "{'id': 'd', 'kind': 'pipeline', 'source': {'lines': "
            "'blank.txt'}, 'stages': [{'task': {'kind': 'sleep', 'seconds': "
            "0}}], 'results': 'd.jsonl'}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  for (i = 0; i < 4; i++) {
    const cJSON *res = get(report_task(o.rep, names[i]), "result");
    char f[16];

    assert_counts(res, 0, 0, 0, 0);
    assert_stage(res, 0, 0, 0);
    cr_assert(cJSON_IsNull(get(stage(res, 0), "p50")));
    cr_assert(cJSON_IsNull(get(stage(res, 0), "p90")));
    cr_assert(cJSON_IsNull(get(stage(res, 0), "p99")));
    cr_assert_eq(num(stage(res, 0), "items_per_s"), 0);
    cr_assert_eq(num(stage(res, 0), "queue_max"), 0);
    snprintf(f, sizeof(f), "%s.jsonl", names[i]);
    results(f, &n);
    cr_assert_eq(n, 0);
  }
  cr_assert_eq(
      cJSON_GetArraySize(get(get(report_task(o.rep, "a"), "result"), "stages")), 2);
  cr_assert_eq(count_files(".corun-", NULL, 0), 0);
}

/*
 * Failures at stage 1 (exec exit status) and stage 2 (a template the item
 * cannot fill): each stage counts what ended there, the pipeline adds up.
 */
Test(pipeline, counts_per_stage_add_up)
{
  struct result *r = run_job(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': "
        "[0, 12]}, 'stages': ["
        "{'workers': 3, 'task': {'kind': 'exec', 'shell': 'test $(( "
        "${item} %% 4 )) -ne 1 && printf %%s $(( ${item} == 6 ? -1 : "
        "${item} ))'}},"
        "{'workers': 2, 'task': {'kind': 'sleep', 'seconds': "
        "'${item.stdout}ms'}},"
        "{'task': {'kind': 'sleep', 'seconds': 0}}]}]}"),
      NULL);
  cJSON *res = result_of(r, "p");

  /* Items 1, 5, 9 fail at stage 1; item 6 at stage 2 ("-1ms"). */
  cr_assert_str_eq(status_of(r, "p"), "failed");
  cr_assert_eq(task_by_id(r, "p")->err_type, CORUN_ERR_CHILD);
  assert_counts(res, 12, 8, 4, 0);
  assert_stage(res, 0, 12, 3);
  assert_stage(res, 1, 9, 1);
  assert_stage(res, 2, 8, 0);
  result_free(r);

  r = run_job(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': "
                "{'items': [{'a': {'b': 'x'}}, {'a': {}}, {'a': {'b': "
                "'y'}}, {'a': 3}]}, 'stages': ["
                "{'task': {'kind': 'sleep', 'seconds': 0, 'message': "
                "'v ${item.a.b}'}},"
                "{'task': {'kind': 'sleep', 'seconds': 0}}]}]}"),
              NULL);
  res = result_of(r, "p");
  cr_assert_str_eq(corun_buf_str(&r->out), "v x\nv y\n");
  cr_assert_str_eq(status_of(r, "p"), "failed");
  assert_counts(res, 4, 2, 2, 0);
  assert_stage(res, 0, 4, 2);
  assert_stage(res, 1, 2, 0);
  result_free(r);
}

/* ==== queues ==== */

Test(pipeline, queue_max_reaches_the_maxsize_and_never_more)
{
  static const struct {
    const char *id, *conf;
    int maxsize;
  } c[] = {
      {"q1", "'queue': 1", 1},
      {"q3", "'queue': 3", 3},
      {"w1", "'workers': 1", 2},
      {"w3", "'workers': 3", 6},
      {"q5w2", "'queue': 5, 'workers': 2", 5},
      {"q1w4", "'queue': 1, 'workers': 4", 1},
  };
  struct corun_buf b = CORUN_BUF_INIT;
  struct outcome o;
  size_t i;

  /* The consumer is slow, so every queue fills up. */
  corun_buf_puts(&b, "{'tasks': [");
  for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
    corun_buf_printf(&b,
                     "%s{'id': '%s', 'kind': 'pipeline', 'source': {'range': "
                     "[0, 16]}, 'stages': [{%s, 'task': {'kind': 'sleep', "
                     "'seconds': 0.002}}, {'queue': 2, 'task': {'kind': "
                     "'sleep', 'seconds': 0.01}}]}",
                     i ? ", " : "", c[i].id, c[i].conf);
  corun_buf_puts(&b, "]}");
  o = run(J(corun_buf_str(&b)), NULL, NULL, 0);
  corun_buf_free(&b);
  cr_assert_eq(o.code, 0, "%s", o.err);
  for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    const cJSON *res = get(report_task(o.rep, c[i].id), "result");

    assert_counts(res, 16, 16, 0, 0);
    cr_assert_eq(num(stage(res, 0), "queue_max"), c[i].maxsize, "%s: %s",
                 c[i].id, (char *)gc(cJSON_PrintUnformatted(res)));
    cr_assert_eq(num(stage(res, 1), "queue_max"), 2, "%s: %s", c[i].id,
                 (char *)gc(cJSON_PrintUnformatted(res)));
  }
}

Test(pipeline, queue_zero_is_unbounded)
{
  struct outcome o;
  const cJSON *res;

  /* One slow worker: the first item goes straight to it, 39 wait. */
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': "
            "[0, 40]}, 'stages': [{'queue': 0, 'task': {'kind': 'sleep', "
            "'seconds': 0.001}}]}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  res = get(report_task(o.rep, "p"), "result");
  assert_counts(res, 40, 40, 0, 0);
  cr_assert_eq(num(stage(res, 0), "queue_max"), 39);
}

struct probe {
  uv_timer_t timer;
  struct corun_run *run;
  struct corun_buf dump;
  int interrupt;
};

static void probe_cb(uv_timer_t *h)
{
  struct probe *p = h->data;

  corun_run_dump(p->run, &p->dump);
  if (p->interrupt)
    corun_run_interrupt(p->run, SIGINT);
}

/* Run text in-process, dumping the tasks after secs (then interrupting). */
static struct corun_job *run_probed(const char *text, double secs,
                                    int interrupt, struct probe *p)
{
  struct corun_job *job = load_ok(text);
  uv_loop_t loop;

  memset(p, 0, sizeof(*p));
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&p->run, job, &loop, NULL, NULL), CORUN_OK);
  p->interrupt = interrupt;
  uv_timer_init(&loop, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, probe_cb, (uint64_t)(secs * 1000), 0);
  uv_unref((uv_handle_t *)&p->timer);
  corun_run_start(p->run);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert(corun_run_done(p->run));
  uv_close((uv_handle_t *)&p->timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  run_free(p->run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  return job;
}

/*
 * Back-pressure: with one slow worker and queue 3, the producer gets at
 * most one item ahead of a full queue; the dump shows the queue full.
 */
Test(pipeline, queue_full_holds_the_producer_back)
{
  struct probe p;
  struct corun_job *job;
  const char *line;
  unsigned long in, ok, failed, qlen, qmax, busy, workers, done;

  job = run_probed(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', "
                     "'source': {'range': [0, 1000]}, 'stages': [{'queue': "
                     "3, 'task': {'kind': 'sleep', 'seconds': 0.1}}]}]}"),
                   0.35, 1, &p);
  line = strstr(corun_buf_str(&p.dump), "p pipeline running");
  cr_assert_not_null(line, "%s", corun_buf_str(&p.dump));
  line = strchr(line, ':');
  cr_assert_eq(sscanf(line,
                      ": %lu items in, %lu ok, %lu failed; stage 1: queue "
                      "%lu/%lu, %lu/%lu workers busy, %lu done",
                      &in, &ok, &failed, &qlen, &qmax, &busy, &workers, &done),
               8, "%s", line);
  cr_assert_eq(qmax, 3);
  cr_assert_eq(qlen, 3, "%s", line);
  cr_assert_eq(busy, 1);
  cr_assert_eq(workers, 1);
  cr_assert_geq(done, 1, "%s", line);
  cr_assert_leq(done, 4, "%s", line);
  /* done + the running one + a full queue + the one the producer holds. */
  cr_assert_eq(in, done + 1 + 3 + 1, "%s", line);
  cr_assert_str_eq(
      corun__task_status_name((enum corun_status)job->tasks[0]->status),
      "cancelled");
  corun_buf_free(&p.dump);
  corun_job_free(job);
}

/* ==== order ==== */

/*
 * One slow worker and a producer that fills an unbounded queue at once:
 * the first item goes straight to the worker, the rest leave the queue in
 * the stage's order. The message lines show the order the tasks ran in.
 */
static char *order_msgs; /* the message lines of the last order_of() */

static char *order_of(const char *order, const char *items, const char *msg)
{
  struct outcome o =
      run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'items': "
            "%s}, 'stages': [{'queue': 0, %s 'task': {'kind': 'sleep', "
            "'seconds': 0.005, 'message': 'm %s'}}], 'results': 'r.jsonl'}]}",
            items, order, msg),
          NULL, NULL, 0);
  cJSON **v;
  int n, i;
  struct corun_buf b = CORUN_BUF_INIT;

  cr_assert_eq(o.code, 0, "%s", o.err);
  /* The results file is in completion order: the order they ran in. */
  v = results("r.jsonl", &n);
  for (i = 0; i < n; i++)
    corun_buf_printf(&b, "%s%d", i ? "|" : "", (int)num(v[i], "index"));
  corun_buf_putc(&b, '\0');
  order_msgs = lines_with(o.out, "m ");
  return gc(corun_buf_detach(&b));
}

Test(pipeline, order_fifo_by_default_and_by_name)
{
  cr_assert_str_eq(order_of("", "[5, 3, 9, 1, 7]", "${index}"), "0|1|2|3|4");
  cr_assert_str_eq(order_msgs, "0|1|2|3|4");
  cr_assert_str_eq(order_of("'order': 'fifo',", "[5, 3, 9, 1, 7]", "${item}"),
                   "0|1|2|3|4");
  cr_assert_str_eq(order_msgs, "5|3|9|1|7");
}

Test(pipeline, order_lifo_takes_the_newest_first)
{
  cr_assert_str_eq(
      order_of("'order': 'lifo',", "[10, 11, 12, 13, 14, 15]", "${item}"),
      "0|5|4|3|2|1");
  cr_assert_str_eq(order_msgs, "10|15|14|13|12|11");
}

Test(pipeline, order_priority_numbers_lowest_first_ties_in_arrival_order)
{
  /* 0:5 runs first (it found the worker idle), then by value. */
  cr_assert_str_eq(order_of("'order': 'priority',",
                            "[5, 3, 9, 1, 3, 7, -2, 3.5, 1, 3]", "${index}"),
                   "0|6|3|8|1|4|9|7|5|2");
  cr_assert_str_eq(order_msgs, "0|6|3|8|1|4|9|7|5|2");
}

Test(pipeline, order_priority_objects_by_their_priority_field)
{
  cr_assert_str_eq(
      order_of("'order': 'priority',",
               "[{'priority': 2, 'n': 'a'}, {'priority': 1, 'n': 'b'}, "
               "{'priority': 2, 'n': 'c'}, {'priority': 0, 'n': 'd'}, "
               "{'priority': 1, 'n': 'e'}, {'priority': -1.5, 'n': 'f'}, "
               "{'priority': 0, 'n': 'g'}, {'n': 'h'}]",
               "${item.n}"),
      "0|5|3|6|7|1|4|2");
  /* Without a priority an object counts as 0. */
  cr_assert_str_eq(order_msgs, "a|f|d|g|h|b|e|c");
}

/*
 * At a later stage the key is the previous stage's result: stage 1 turns
 * each item into {"priority": P}, stage 2 (one slow worker) takes them
 * lowest first.
 */
Test(pipeline, order_priority_at_a_later_stage_uses_the_results)
{
  struct outcome o =
      run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'items': "
            "[4, 8, 2, 6, 1, 9, 3]}, 'stages': ["
            "{'task': {'kind': 'sleep', 'seconds': 0, 'result': {'priority': "
            "'${item}', 'v': 'v${item}'}}},"
            "{'queue': 0, 'order': 'priority', 'task': {'kind': 'sleep', "
            "'seconds': 0.02, 'message': 'm ${item.v}'}}]}]}"),
          NULL, NULL, 0);

  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_str_eq(lines_with(o.out, "m "), "v4|v1|v2|v3|v6|v8|v9");
}

/* ==== rate and produce_delay ==== */

/* (Found hanging after the first item; fixed in e4ce266.) */
Test(pipeline, rate_spaces_items_evenly_without_a_burst)
{
  const char *const extra[] = {"--debug", "--timeout", "15s", NULL};
  double t[40];
  struct outcome o;
  int i;

  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'rate': '20/s', "
            "'producers': 3, 'source': {'range': [0, 40]}, 'stages': "
            "[{'workers': 8, 'task': {'kind': 'sleep', 'seconds': 0}}]}]}"),
          extra, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  /* 40 items at 20/s: the first at once, the last 39 intervals later. */
  cr_assert_geq(num(report_task(o.rep, "p"), "duration"), 1.95 * 0.9);
  cr_assert_leq(num(report_task(o.rep, "p"), "duration"), 1.95 * 1.1 + 0.2 * SC);
  cr_assert_eq(start_times(o.err, "p.1.", t, 40), 40, "%s", o.err);
  /* No burst at the start: one token, then one per 50 ms. */
  cr_assert_lt(t[0], 0.05 * SC);
  for (i = 1; i < 40; i++)
    cr_assert_geq(t[i] - t[0], i * 0.05 * 0.9, "item %d at %.3fs", i, t[i]);
  cr_assert_geq(t[1] - t[0], 0.045);
}

Test(pipeline, produce_delay_fixed_comes_before_each_item)
{
  const char *const extra[] = {"--debug", NULL};
  double t[5];
  struct outcome o;
  int i;

  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'produce_delay': "
            "'100ms', 'source': {'range': [0, 5]}, 'stages': [{'workers': "
            "4, 'task': {'kind': 'sleep', 'seconds': 0}}]}]}"),
          extra, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_eq(start_times(o.err, "p.1.", t, 5), 5, "%s", o.err);
  for (i = 0; i < 5; i++) {
    cr_assert_geq(t[i], (i + 1) * 0.1 - 0.005, "item %d at %.3f", i, t[i]);
    if (i)
      cr_assert_geq(t[i] - t[i - 1], 0.095, "item %d", i);
  }
  cr_assert_lt(t[4], 0.5 + 0.3 * SC);
  cr_assert_geq(num(report_task(o.rep, "p"), "duration"), 0.498);
}

Test(pipeline, produce_delay_range_is_uniform_between_min_and_max)
{
  const char *const extra[] = {"--debug", NULL};
  double t[30], lo = 1e9, hi = 0;
  struct outcome o;
  int i;

  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'produce_delay': "
            "['20ms', '60ms'], 'source': {'range': [0, 30]}, 'stages': "
            "[{'workers': 4, 'task': {'kind': 'sleep', 'seconds': 0}}]}]}"),
          extra, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_eq(start_times(o.err, "p.1.", t, 30), 30, "%s", o.err);
  cr_assert_geq(t[0], 0.019);
  for (i = 1; i < 30; i++) {
    double gap = t[i] - t[i - 1];

    cr_assert_geq(gap, 0.019, "gap before item %d: %.3f", i, gap);
    lo = gap < lo ? gap : lo;
    hi = gap > hi ? gap : hi;
  }
  /* Spread over the range, not one fixed delay. */
  cr_assert_gt(hi - lo, 0.01, "gaps %.3f..%.3f", lo, hi);
  /* 30 delays of 40 ms on average: 1.2 s, and at most 1.8 s. */
  cr_assert_geq(t[29], 30 * 0.02);
  cr_assert_leq(t[29], 30 * 0.06 + 0.3 * SC);
}

/* ==== on_error ==== */

Test(pipeline, on_error_continue_records_the_failure_and_goes_on)
{
  const char *job =
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, "
        "8]}, 'stages': [{'workers': 2, 'task': {'kind': 'exec', 'shell': "
        "'test ${item} -ne 3 && echo ${item}'}}, {'task': {'kind': 'sleep', "
        "'seconds': 0, 'result': 'r${item.stdout}'}}], 'results': "
        "'r.jsonl'}, {'id': 'after', 'kind': 'sleep', 'seconds': 0, "
        "'message': 'after ran'}]}");
  struct outcome o = run(job, NULL, NULL, 0);
  const cJSON *t = report_task(o.rep, "p"), *l;
  struct result *r;
  cJSON **v, *res;
  int n, i;

  cr_assert_eq(o.code, 1, "%s", o.err);
  cr_assert_str_eq(str(t, "status"), "failed");
  cr_assert_str_eq(str(get(t, "error"), "type"), "child");
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 8);
  for (i = 0; i < 8; i++) {
    l = line_of(v, n, i);
    if (i == 3) {
      cr_assert_str_eq(str(l, "status"), "failed");
      cr_assert_str_eq(str(get(l, "error"), "type"), "exit_status");
    } else {
      cr_assert_str_eq(str(l, "status"), "ok");
      cr_assert_str_eq(str(l, "result"), J("r%d\n", i));
    }
  }
  /* The counts, in-process (whatever the report shows of a failure). */
  r = run_job(job, NULL);
  res = result_of(r, "p");
  cr_assert_str_eq(status_of(r, "p"), "failed");
  assert_counts(res, 8, 7, 1, 0);
  assert_stage(res, 0, 8, 1);
  assert_stage(res, 1, 7, 0);
  result_free(r);
}

Test(pipeline, on_error_cancel_stops_at_the_first_failure)
{
  const char *job =
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'on_error': 'cancel', "
        "'source': {'range': [0, 50]}, 'stages': [{'task': {'kind': 'exec', "
        "'shell': 'test ${item} -ne 3'}}, {'task': {'kind': 'sleep', "
        "'seconds': 0}}], 'results': 'r.jsonl'}]}");
  struct outcome o = run(job, NULL, NULL, 0);
  const cJSON *t = report_task(o.rep, "p");
  struct result *r;
  cJSON **v, *res;
  int n, i, items;

  cr_assert_eq(o.code, 1, "%s", o.err);
  cr_assert_str_eq(str(t, "status"), "failed");
  cr_assert_str_eq(str(get(t, "error"), "type"), "child");
  cr_assert_not_null(strstr(str(get(t, "error"), "message"), "item 3"), "%s",
                     str(get(t, "error"), "message"));
  v = results("r.jsonl", &n);
  assert_indexes_dense(v, n);
  /* 0-2 made it, 3 failed, the rest that entered were cancelled. */
  cr_assert_lt(n, 50, "nothing was cancelled");
  cr_assert_eq(count_status(v, n, "ok"), 3);
  cr_assert_eq(count_status(v, n, "failed"), 1);
  cr_assert_eq(count_status(v, n, "cancelled"), n - 4);
  cr_assert_geq(n - 4, 1);
  for (i = 0; i < n; i++)
    if ((int)num(v[i], "index") > 3)
      cr_assert_str_eq(str(v[i], "status"), "cancelled");

  r = run_job(job, NULL);
  res = result_of(r, "p");
  cr_assert_str_eq(status_of(r, "p"), "failed");
  cr_assert_eq(task_by_id(r, "p")->err_type, CORUN_ERR_CHILD);
  items = (int)num(res, "items");
  assert_counts(res, items, 3, 1, items - 4);
  cr_assert_lt(items, 50);
  assert_stage(res, 0, 4, 1);
  assert_stage(res, 1, 3, 0);
  result_free(r);
}

Test(pipeline, on_error_with_fetch_status_codes)
{
  const char *job;
  char *base;
  struct result *r;
  cJSON *res, **v;
  int n, i;

  cr_assert_eq(test_server_start(&srv), 0);
  base = gc(test_server_url(&srv, ""));
  base[strlen(base) - 1] = '\0';
  job = J("{'vars': {'base': '%s'}, 'tasks': [{'id': 'p', 'kind': "
          "'pipeline', 'source': {'items': [200, 404, 204, 503, 201]}, "
          "'stages': [{'task': {'kind': 'fetch', 'url': "
          "'${base}/status?code=${item}'}}], 'results': 'r.jsonl'}]}",
          base);
  r = run_job(job, NULL);
  res = result_of(r, "p");
  cr_assert_str_eq(status_of(r, "p"), "failed");
  assert_counts(res, 5, 3, 2, 0);
  assert_stage(res, 0, 5, 2);
  result_free(r);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(str(get(line_of(v, n, 1), "error"), "type"), "http_status");
  cr_assert_str_eq(str(get(line_of(v, n, 3), "error"), "type"), "http_status");
  cr_assert_eq(num(get(line_of(v, n, 2), "result"), "status"), 204);

  /* cancel: one worker, so 200 passes, 404 stops the rest. */
  r = run_job(J("{'vars': {'base': '%s'}, 'tasks': [{'id': 'p', 'kind': "
                "'pipeline', 'on_error': 'cancel', 'source': {'items': "
                "[200, 404, 204, 503, 201]}, 'stages': [{'queue': 1, "
                "'task': {'kind': 'fetch', 'url': "
                "'${base}/status?code=${item}'}}], 'results': 'r.jsonl'}]}",
                base),
              NULL);
  res = result_of(r, "p");
  cr_assert_str_eq(status_of(r, "p"), "failed");
  cr_assert_eq(task_by_id(r, "p")->err_type, CORUN_ERR_CHILD);
  assert_counts(res, (int)num(res, "items"), 1, 1, (int)num(res, "items") - 2);
  cr_assert_geq(num(res, "items"), 3);
  n = (int)num(res, "items");
  result_free(r);
  v = results("r.jsonl", &i);
  cr_assert_eq(i, n, "%s", slurp(P("r.jsonl")));
  assert_indexes_dense(v, n);
  cr_assert_str_eq(str(line_of(v, n, 0), "status"), "ok");
  cr_assert_str_eq(str(line_of(v, n, 1), "status"), "failed");
  cr_assert_str_eq(str(line_of(v, n, 2), "status"), "cancelled");
}

Test(pipeline, item_whose_task_cannot_be_made_fails_with_type_fail)
{
  const char *job =
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'items': "
        "['abc', 0.01, {'a': 1}, '-1', '20ms']}, 'stages': [{'task': {'kind': "
        "'sleep', 'seconds': '${item}'}}], 'results': 'r.jsonl'}]}");
  struct outcome o = run(job, NULL, NULL, 0);
  cJSON **v;
  int n, i;

  cr_assert_eq(o.code, 1, "%s", o.err);
  cr_assert_str_eq(str(report_task(o.rep, "p"), "status"), "failed");
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 5);
  for (i = 0; i < 5; i++) {
    const cJSON *l = line_of(v, n, i);

    if (i == 1 || i == 4) {
      cr_assert_str_eq(str(l, "status"), "ok", "item %d", i);
      continue;
    }
    cr_assert_str_eq(str(l, "status"), "failed", "item %d", i);
    cr_assert_str_eq(str(get(l, "error"), "type"), "fail", "item %d", i);
    cr_assert_not_null(strstr(str(get(l, "error"), "message"), "seconds"), "%s",
                       str(get(l, "error"), "message"));
  }

  /* A nested field missing at run time, with on_error cancel. */
  {
    struct result *r = run_job(
        J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'on_error': "
          "'cancel', 'source': {'items': [{'a': {'b': 'x'}}, {'a': {'c': "
          "1}}, {'a': {'b': 'y'}}]}, 'stages': [{'task': {'kind': 'sleep', "
          "'seconds': 0, 'message': 'v ${item.a.b}'}}]}]}"),
        NULL);
    struct corun_task *t = task_by_id(r, "p");
    cJSON *res = result_of(r, "p");

    cr_assert_str_eq(status_of(r, "p"), "failed");
    cr_assert_eq(t->err_type, CORUN_ERR_CHILD);
    cr_assert_not_null(strstr(t->err_msg, "item 1"), "%s", t->err_msg);
    cr_assert_not_null(strstr(t->err_msg, "\"b\""), "%s", t->err_msg);
    cr_assert_str_eq(corun_buf_str(&r->out), "v x\n");
    assert_counts(res, 3, 1, 1, 1);
    result_free(r);
  }
}

Test(pipeline, item_timeout_counts_as_failed_with_status_timeout)
{
  struct result *r;
  cJSON *res, **v;
  const cJSON *l;
  int n;

  r = run_job(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': "
                "{'items': [0.01, 5, 0.02]}, 'stages': [{'workers': 3, "
                "'task': {'kind': 'sleep', 'seconds': '${item}', 'timeout': "
                "'150ms'}}], 'results': 'r.jsonl'}]}"),
              NULL);
  res = result_of(r, "p");
  cr_assert_str_eq(status_of(r, "p"), "failed");
  cr_assert_lt(r->wall, 0.15 + 1.0 * SC);
  assert_counts(res, 3, 2, 1, 0);
  assert_stage(res, 0, 3, 1);
  result_free(r);
  v = results("r.jsonl", &n);
  l = line_of(v, n, 1);
  cr_assert_str_eq(str(l, "status"), "timeout");
  cr_assert_str_eq(str(get(l, "error"), "type"), "timeout");
  cr_assert_geq(num(l, "duration"), 0.149);
}

/* The report keeps the counts of a pipeline that did not end ok. */
Test(pipeline, report_keeps_the_result_of_a_failed_pipeline)
{
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, "
        "4]}, 'stages': [{'task': {'kind': 'exec', 'shell': 'test ${item} "
        "-ne 2'}}]}, {'id': 'q', 'kind': 'pipeline', 'timeout': '0.2s', "
        "'source': {'range': [0, 4]}, 'stages': [{'task': {'kind': 'sleep', "
        "'seconds': 5}}]}]}"),
      NULL, NULL, 0);
  const cJSON *res;

  cr_assert_eq(o.code, 1, "%s", o.err);
  cr_assert_str_eq(str(report_task(o.rep, "p"), "status"), "failed");
  res = get(report_task(o.rep, "p"), "result");
  cr_assert(cJSON_IsObject(res), "result is %s",
            (char *)gc(cJSON_PrintUnformatted(res)));
  assert_counts(res, 4, 3, 1, 0);
  assert_stage(res, 0, 4, 1);
  cr_assert_str_eq(str(report_task(o.rep, "q"), "status"), "timeout");
  res = get(report_task(o.rep, "q"), "result");
  cr_assert(cJSON_IsObject(res));
  assert_counts(res, (int)num(res, "items"), 0, 0, (int)num(res, "items"));
}

/* ==== results file ==== */

Test(pipeline, results_file_one_valid_line_per_item_in_completion_order)
{
  const char *job =
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'items': "
        "['a', 'b', 'c', {'s': 1}]}, 'stages': [{'workers': 4, 'task': "
        "{'kind': 'sleep', 'seconds': 0, 'result': 'x${index}'}}, "
        "{'workers': 4, 'task': {'kind': 'exec', 'shell': 'sleep 0.$(( (3 "
        "- ${index}) * 2 )); echo ${item}'}}], 'results': 'res/r.jsonl'}]}");
  struct outcome o = run(job, NULL, NULL, 0);
  cJSON **v;
  int n;

  /* The path is relative to the job file; its directory is made. */
  cr_assert_eq(o.code, 0, "%s", o.err);
  v = results("res/r.jsonl", &n);
  cr_assert_eq(n, 4);
  /* Item 3 sleeps 0 s at stage 2, item 0 sleeps 0.6 s: reverse order. */
  cr_assert_eq(num(v[0], "index"), 3);
  cr_assert_eq(num(v[1], "index"), 2);
  cr_assert_eq(num(v[2], "index"), 1);
  cr_assert_eq(num(v[3], "index"), 0);
  /* "item" is the source's item, "result" the last stage's result. */
  cr_assert_str_eq(str(v[3], "item"), "a");
  cr_assert_eq(num(get(v[0], "item"), "s"), 1);
  cr_assert_str_eq(str(get(v[3], "result"), "stdout"), "x0\n");
  cr_assert_eq(num(get(v[3], "result"), "exit_code"), 0);
  /* duration: the time its tasks took. */
  cr_assert_geq(num(v[3], "duration"), 0.59);
  cr_assert_lt(num(v[3], "duration"), 0.6 + 0.5 * SC);
  cr_assert_lt(num(v[0], "duration"), 0.2 * SC);
  cr_assert_eq(count_files(".corun-", NULL, 0), 0);
}

/* Waits until dir holds a "<name>.corun-XXXXXX" file; returns its name. */
static char *wait_temp(const char *name)
{
  double until = now_s() + 10 * SC;
  char *found = gc(malloc(256)), part[128];

  snprintf(part, sizeof(part), "%s.corun-", name);
  for (;;) {
    if (count_files(part, found, 256) == 1)
      return found;
    cr_assert(!corun_exited(0), "corun exited (%d) before the temp file: %s",
              kid.status, slurp(P("err")));
    cr_assert_lt(now_s(), until, "no temp file appeared");
    usleep(5 * 1000);
  }
}

static void check_appears_at_the_end(int existing)
{
  const char *args[] = {"-q", P("job.json"), NULL};
  const char *job = J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': "
                      "{'range': [0, 6]}, 'stages': [{'task': {'kind': "
                      "'sleep', 'seconds': 0.15}}], 'results': "
                      "'r.jsonl'}]}");
  char *tmp, *now;
  cJSON **v;
  int n;

  put_file("job.json", job, strlen(job));
  if (existing)
    put_file("r.jsonl", "old\n", 4);
  start_corun(args, NULL);
  tmp = wait_temp("r.jsonl");
  cr_assert_eq(strspn(tmp + strlen("r.jsonl.corun-"),
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789"),
               6, "%s", tmp);
  usleep(300 * 1000);
  /* Items have finished by now, yet the target is untouched. */
  cr_assert(!corun_exited(0), "corun ended too soon");
  now = slurp(P("r.jsonl"));
  if (existing)
    cr_assert_str_eq(now, "old\n");
  else
    cr_assert_null(now, "the target exists mid-run: %s", now);
  cr_assert_eq(reap(10 * SC), 0);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 6);
  assert_indexes_dense(v, n);
  cr_assert_eq(count_files(".corun-", NULL, 0), 0, "a temp file is left");
}

Test(pipeline, results_file_appears_only_at_the_end)
{
  check_appears_at_the_end(0);
}

Test(pipeline, results_file_replaces_an_existing_one_only_at_the_end)
{
  check_appears_at_the_end(1);
}

Test(pipeline, results_file_is_written_when_the_pipeline_fails)
{
  struct outcome o;
  cJSON **v;
  int n;

  put_file("r.jsonl", "old\n", 4);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'on_error': "
            "'cancel', 'source': {'range': [0, 100]}, 'stages': "
            "[{'task': {'kind': 'exec', 'shell': 'test ${item} -lt 5'}}], "
            "'results': 'r.jsonl'}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 1, "%s", o.err);
  v = results("r.jsonl", &n);
  assert_indexes_dense(v, n);
  cr_assert_eq(count_status(v, n, "failed"), 1);
  cr_assert_eq(count_status(v, n, "ok"), 5);
  cr_assert_eq(count_status(v, n, "cancelled"), n - 6);
  cr_assert_str_eq(str(line_of(v, n, 5), "status"), "failed");
  cr_assert_eq(count_files(".corun-", NULL, 0), 0);
}

/* ==== templates and hand-off ==== */

Test(pipeline, template_item_fields_index_and_typed_whole_references)
{
  struct outcome o;
  cJSON **v;
  const cJSON *r0;
  int n;

  /*
   * LeakSanitizer is off for this run: whole "${item.FIELD}" references
   * leak (see template_field_references_do_not_leak).
   */
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'items': "
            "[{'s': 0.05, 'a': {'b': {'c': 'deep'}}, 'n': 'x'}, {'s': 0, "
            "'a': {'b': {'c': 7}}, 'n': 'y'}]}, 'stages': [{'workers': 2, "
            "'task': {'kind': 'sleep', 'seconds': '${item.s}', 'message': "
            "'m ${index} ${item.n} ${item.a.b.c} ${item.a}', 'result': "
            "{'whole': '${item}', 'c': '${item.a.b.c}', 'b': '${item.a.b}', "
            "'i': '${index}', 'text': 'i${index}', 'list': ['${item.s}', "
            "'${item.n}']}}}], 'results': 'r.jsonl'}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_str_eq(lines_with(o.out, "m "),
                   "1 y 7 {\"b\":{\"c\":7}}|0 x deep {\"b\":{\"c\":\"deep\"}}");
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 2);
  r0 = get(line_of(v, n, 0), "result");
  cr_assert(cJSON_Compare(get(r0, "whole"), get(line_of(v, n, 0), "item"), 1));
  cr_assert_str_eq(str(r0, "c"), "deep");
  cr_assert_str_eq(str(get(r0, "b"), "c"), "deep");
  cr_assert_eq(num(r0, "i"), 0);
  cr_assert_str_eq(str(r0, "text"), "i0");
  cr_assert(cJSON_IsNumber(cJSON_GetArrayItem(get(r0, "list"), 0)));
  cr_assert_eq(cJSON_GetArrayItem(get(r0, "list"), 0)->valuedouble, 0.05);
  cr_assert_str_eq(cJSON_GetArrayItem(get(r0, "list"), 1)->valuestring, "x");
  cr_assert_eq(num(get(line_of(v, n, 1), "result"), "c"), 7);
  cr_assert_eq(num(get(line_of(v, n, 1), "result"), "i"), 1);
  /* The sleep took "seconds" from the item, as a number. */
  cr_assert_geq(num(line_of(v, n, 0), "duration"), 0.049);
}

/*
 * Regression: a whole reference to a value that has a key leaked the key once per
 * item: expand() in lib/core/instance.c duplicates the value with
 * cJSON_Duplicate(), which copies its key, then overwrites copy->string
 * with strdup(v->string) without freeing the copied key. Values with a
 * key: "${item.FIELD}" (the field's name), and "${item}" when the item is
 * a sleep's result (its "result" member). Memory grows with the number of
 * items (LeakSanitizer reports it under ASan).
 */
Test(pipeline, template_field_references_do_not_leak)
{
  const char *key = "a_field_with_a_rather_long_name_so_that_a_leak_of_it_"
                    "shows_in_the_peak_rss_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
  int items = UNDER_ASAN ? 100000 : 1000000;
  struct outcome o;

  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': "
            "[0, %d]}, 'stages': [{'workers': 4, 'task': {'kind': 'sleep', "
            "'seconds': 0, 'result': {'%s': 0}}}, {'workers': 4, 'task': "
            "{'kind': 'sleep', 'seconds': '${item.%s}'}}]}]}",
            items, key, key),
          NULL, "ASAN_OPTIONS=quarantine_size_mb=0:detect_leaks=1", 120 * SC);
  cr_assert_eq(o.code, 0, "%s", o.err);
  assert_counts(get(report_task(o.rep, "p"), "result"), items, items, 0, 0);
  cr_assert_lt(kid.maxrss_kb, 60 * 1024, "peak RSS %ld KB", kid.maxrss_kb);
  /* "${item}" of a sleep's result: LeakSanitizer sees it (reap() fails). */
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': "
            "[0, 100]}, 'stages': [{'task': {'kind': 'sleep', 'seconds': 0, "
            "'result': '${index}'}}, {'task': {'kind': 'sleep', 'seconds': "
            "0, 'result': '${item}'}}]}]}"),
          NULL, "ASAN_OPTIONS=detect_leaks=1", 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
}

/*
 * A whole reference where the kind wants a string goes in as text, so
 * "argv": ["echo", "${item}"] works over a range. (Found failing every
 * item; fixed in 944256f.)
 */
Test(pipeline, template_whole_reference_in_a_string_field_is_text)
{
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, "
        "3]}, 'stages': [{'task': {'kind': 'exec', 'argv': ['sh', '-c', "
        "'echo $0 $N', '${item}'], 'env': {'N': '${index}'}}}, {'task': "
        "{'kind': 'sleep', 'seconds': 0, 'message': '${index}'}}, {'task': "
        "{'kind': 'sleep', 'seconds': 0, 'message': 'm ${item}'}}]}]}"),
      NULL, NULL, 0);

  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_str_eq(lines_with(o.out, ""), "0|m 0|1|m 1|2|m 2");
}

/*
 * Regression: integers of 1e15 and more came out in exponent form in templates
 * (cJSON_PrintUnformatted in put_item(), lib/core/instance.c): a range item
 * 1000000000000000 becomes "1e+15" in "id=${item}", and -9007199254740992
 * becomes "-9.00719925474099e+15", which is not even the same number.
 */
Test(pipeline, template_large_integers_stay_integers)
{
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': "
        "[999999999999999, 1000000000000002]}, 'stages': [{'task': {'kind': "
        "'sleep', 'seconds': 0, 'message': 'id=${item}'}}]}, {'id': 'q', "
        "'kind': 'pipeline', 'source': {'range': [-9007199254740992, "
        "-9007199254740991]}, 'stages': [{'task': {'kind': 'sleep', "
        "'seconds': 0, 'message': 'q=${item}'}}]}]}"),
      NULL, NULL, 0);

  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_str_eq(lines_with(o.out, "id="),
                   "999999999999999|1000000000000000|1000000000000001");
  cr_assert_str_eq(lines_with(o.out, "q="), "-9007199254740992");
}

Test(pipeline, stage_two_sees_stage_one_result)
{
  struct outcome o;
  cJSON **v;
  int n;

  put_file("in.txt", "abc\nhello\n", 10);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'lines': "
            "'in.txt'}, 'stages': [{'workers': 2, 'task': {'kind': 'exec', "
            "'argv': ['sh', '-c', 'printf %%s $1 | tr a-z A-Z', 'sh', "
            "'${item}']}}, {'task': {'kind': 'exec', 'stdin': "
            "'${item.stdout}', 'shell': 'rev'}}, {'task': {'kind': 'sleep', "
            "'seconds': 0, 'message': 'got ${item.stdout}'}}], 'results': "
            "'r.jsonl'}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_not_null(strstr(o.out, "got CBA\n"), "%s", o.out);
  cr_assert_not_null(strstr(o.out, "got OLLEH\n"), "%s", o.out);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(str(line_of(v, n, 1), "item"), "hello");
  cr_assert_str_eq(str(line_of(v, n, 1), "result"), "got OLLEH");
  assert_stage(get(report_task(o.rep, "p"), "result"), 2, 2, 0);
}

Test(pipeline, fetch_stage_against_the_test_server)
{
  const char *job;
  struct outcome o;
  char *base, varg[128];
  const char *const args[] = {"-q", "--var", varg, P("job.json"), NULL};
  cJSON **v;
  int n;

  cr_assert_eq(test_server_start(&srv), 0);
  base = gc(test_server_url(&srv, ""));
  base[strlen(base) - 1] = '\0';
  snprintf(varg, sizeof(varg), "base=%s", base);
  job = J("{'vars': {'base': 'http://invalid.'}, 'tasks': [{'id': 'p', "
          "'kind': 'pipeline', 'source': {'items': [10, 300, 0]}, "
          "'stages': [{'workers': 2, 'task': {'kind': 'fetch', 'url': "
          "'${base}/bytes?n=${item}&type=text/plain'}}, {'task': {'kind': "
          "'sleep', 'seconds': 0, 'message': 'got ${index} "
          "${item.status} ${item.bytes} [${item.body}]'}}]}]}");
  put_file("job.json", job, strlen(job));
  /* No --report and no results file: the next stage still sees bodies. */
  start_corun(args, NULL);
  cr_assert_eq(reap(30 * SC), 0, "%s", slurp(P("err")));
  o.out = slurp(P("out"));
  cr_assert_not_null(strstr(o.out, "got 0 200 10 [0123456789]\n"), "%s", o.out);
  cr_assert_not_null(strstr(o.out, "got 2 200 0 []\n"), "%s", o.out);
  cr_assert_not_null(
      strstr(o.out, J("got 1 200 300 [%.63s\\n", TEST_SERVER_PATTERN)), "%s",
      o.out);

  /* With a results file and report: the fetch result, body over 4 KiB. */
  o = run(J("{'vars': {'base': '%s'}, 'tasks': [{'id': 'p', 'kind': "
            "'pipeline', 'source': {'items': [0, 2500, 5000, 7500]}, "
            "'stages': "
            "[{'workers': 3, 'task': {'kind': 'fetch', 'url': "
            "'${base}/bytes?n=${item}&type=text/plain'}}], 'results': "
            "'r.jsonl'}]}",
            base),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 4);
  cr_assert_eq(num(get(line_of(v, n, 1), "result"), "status"), 200);
  cr_assert_eq(num(get(line_of(v, n, 1), "result"), "bytes"), 2500);
  cr_assert_eq(strlen(str(get(line_of(v, n, 1), "result"), "body")), 2500);
  cr_assert_null(cJSON_GetObjectItem(get(line_of(v, n, 2), "result"), "body"));
  cr_assert_eq(num(get(line_of(v, n, 3), "result"), "bytes"), 7500);
  assert_counts(get(report_task(o.rep, "p"), "result"), 4, 4, 0, 0);
}

/* ==== interruption and timeouts ==== */

/* Waits until path has at least k lines. */
static void wait_lines(const char *path, int k)
{
  double until = now_s() + 10 * SC;

  for (;;) {
    char *s = slurp(path);
    int n = 0;

    for (; s && *s; s++)
      n += *s == '\n';
    if (n >= k)
      return;
    cr_assert(!corun_exited(0), "corun exited (%d): %s", kid.status,
              slurp(P("err")));
    cr_assert_lt(now_s(), until, "only %d of %d lines in %s", n, k, path);
    usleep(5 * 1000);
  }
}

Test(pipeline, sigint_mid_run_exits_130_writes_results_and_kills_processes)
{
  const char *job =
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, "
        "30]}, 'stages': [{'workers': 2, 'task': {'kind': 'sleep', "
        "'seconds': 0}}, {'workers': 3, 'queue': 2, 'task': {'kind': "
        "'exec', 'shell': 'echo $$ >> pids; exec sleep 30'}}], 'results': "
        "'r.jsonl'}]}");
  const char *args[] = {"--report", P("report.json"), "-q", P("job.json"),
                        NULL};
  double sent;
  cJSON **v, *rep;
  char *pids, *s;
  int n, i;

  put_file("job.json", job, strlen(job));
  start_corun(args, NULL);
  wait_lines(P("pids"), 3);
  sent = now_s();
  kill(kid.pid, SIGINT);
  cr_assert_eq(reap(5 * SC), 130);
  cr_assert_lt(kid.tend - sent, 3 * SC, "slow to stop");
  rep = gcj(cJSON_Parse(slurp(P("report.json"))));
  cr_assert_str_eq(str(rep, "status"), "cancelled");
  cr_assert_str_eq(str(report_task(rep, "p"), "status"), "cancelled");
  cr_assert_eq(cJSON_GetArraySize(get(rep, "tasks")), 1);
  v = results("r.jsonl", &n);
  assert_indexes_dense(v, n);
  /* 3 running, 2 queued at stage 2, 4 at stage 1, and more held. */
  cr_assert_geq(n, 3 + 2, "%s", slurp(P("r.jsonl")));
  cr_assert_lt(n, 30);
  cr_assert_eq(count_status(v, n, "cancelled"), n);
  for (i = 0; i < n; i++)
    cr_assert_str_eq(str(get(v[i], "error"), "type"), "cancelled");
  cr_assert_eq(count_files(".corun-", NULL, 0), 0, "a temp file is left");
  /* Every command corun started is gone. */
  pids = slurp(P("pids"));
  for (s = pids; *s;) {
    pid_t pid = (pid_t)strtol(s, &s, 10);
    double until = now_s() + 2 * SC;

    while (*s == '\n')
      s++;
    if (pid <= 0)
      continue;
    while (kill(pid, 0) == 0 && now_s() < until)
      usleep(10 * 1000);
    cr_assert_eq(kill(pid, 0), -1, "process %d still runs", (int)pid);
  }
}

Test(pipeline, interrupt_counts_add_up)
{
  struct run_opts ro = {.interrupt_after = 0.3};
  struct result *r = run_job(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'producers': 2, "
        "'produce_delay': '1ms', 'source': {'range': [0, 100000]}, "
        "'stages': [{'workers': 3, 'queue': 4, 'task': {'kind': 'sleep', "
        "'seconds': 0.01}}, {'workers': 2, 'queue': 1, 'order': 'lifo', "
        "'task': {'kind': 'sleep', 'seconds': 0.05}}], 'results': "
        "'r.jsonl'}]}"),
      &ro);
  cJSON *res = result_of(r, "p"), **v;
  int items, n;

  cr_assert_eq(r->exit_code, 130);
  cr_assert_str_eq(status_of(r, "p"), "cancelled");
  items = (int)num(res, "items");
  cr_assert_gt(items, 0);
  cr_assert_eq(num(res, "ok") + num(res, "failed") + num(res, "cancelled"),
               items, "%s", (char *)gc(cJSON_PrintUnformatted(res)));
  cr_assert_gt(num(res, "cancelled"), 0);
  cr_assert_eq(num(res, "failed"), 0);
  cr_assert_eq(num(stage(res, 1), "processed"), num(res, "ok"));
  result_free(r);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, items);
  assert_indexes_dense(v, n);
  cr_assert_eq(count_status(v, n, "ok"), (int)num(res, "ok"));
}

Test(pipeline, pipeline_timeout_ends_timeout)
{
  struct outcome o =
      run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'timeout': '0.3s', "
            "'source': {'range': [0, 20]}, 'stages': [{'workers': 2, 'task': "
            "{'kind': 'exec', 'shell': 'exec sleep 10'}}], 'results': "
            "'r.jsonl'}, {'id': 'next', 'kind': 'sleep', 'seconds': 0, "
            "'after': ['p'], 'message': 'never'}]}"),
          NULL, NULL, 0);
  const cJSON *t = report_task(o.rep, "p");
  cJSON **v;
  int n;

  cr_assert_eq(o.code, 1, "%s", o.err);
  cr_assert_str_eq(str(t, "status"), "timeout");
  cr_assert_str_eq(str(get(t, "error"), "type"), "timeout");
  cr_assert_geq(num(t, "duration"), 0.299);
  cr_assert_lt(num(t, "duration"), 0.3 + 1.0 * SC);
  cr_assert_str_eq(str(report_task(o.rep, "next"), "status"), "skipped");
  cr_assert_str_eq(o.out, "");
  v = results("r.jsonl", &n);
  assert_indexes_dense(v, n);
  cr_assert_eq(count_status(v, n, "cancelled"), n);
  cr_assert_geq(n, 2 + 4);
}

Test(pipeline, whole_run_timeout_exits_124)
{
  const char *const extra[] = {"--timeout", "0.3s", NULL};
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, "
        "20]}, 'stages': [{'task': {'kind': 'sleep', 'seconds': 0.2}}], "
        "'results': 'r.jsonl'}]}"),
      extra, NULL, 0);
  cJSON **v;
  int n;

  cr_assert_eq(o.code, 124, "%s", o.err);
  cr_assert_lt(o.wall, 0.3 + 1.5 * SC);
  cr_assert_str_eq(str(o.rep, "status"), "cancelled");
  cr_assert_str_eq(str(report_task(o.rep, "p"), "status"), "cancelled");
  v = results("r.jsonl", &n);
  assert_indexes_dense(v, n);
  cr_assert_geq(count_status(v, n, "ok"), 1, "%s", slurp(P("r.jsonl")));
  cr_assert_geq(count_status(v, n, "cancelled"), 1);
  cr_assert_eq(count_status(v, n, "cancelled") + count_status(v, n, "ok"), n);
  cr_assert_eq(count_files(".corun-", NULL, 0), 0);
}

/*
 * A child that opens the FIFO dir/name for writing, writes n lines
 * "l<k>" gap seconds apart, then keeps it open for hold seconds.
 */
static void fifo_writer(const char *name, int n, double gap, double hold)
{
  pid_t parent = getpid();

  cr_assert_eq(mkfifo(P(name), 0644), 0);
  writer = fork();
  cr_assert(writer >= 0);
  if (writer == 0) {
    int fd, k;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    fd = open(P(name), O_WRONLY);
    for (k = 1; fd >= 0 && k <= n; k++) {
      char line[16];
      int len = snprintf(line, sizeof(line), "l%d\n", k);

      if (k > 1)
        usleep((useconds_t)(gap * 1e6));
      if (write(fd, line, (size_t)len) != len)
        _exit(1);
    }
    usleep((useconds_t)(hold * 1e6));
    _exit(0);
  }
}

/* A lines source that is a FIFO: items go through as the lines come. */
Test(pipeline, lines_from_a_fifo_go_through_as_they_come)
{
  const char *const extra[] = {"--debug", NULL};
  struct outcome o;
  double t[3];

  fifo_writer("fifo", 3, 0.3, 0);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'lines': "
            "'fifo'}, 'stages': [{'task': {'kind': 'sleep', 'seconds': 0, "
            "'message': 'got ${item}'}}]}]}"),
          extra, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_str_eq(o.out, "got l1\ngot l2\ngot l3\n");
  cr_assert_eq(start_times(o.err, "p.1.", t, 3), 3, "%s", o.err);
  cr_assert_geq(t[1] - t[0], 0.25, "%s", o.err);
  cr_assert_geq(t[2] - t[1], 0.25, "%s", o.err);
  assert_counts(get(report_task(o.rep, "p"), "result"), 3, 3, 0, 0);
}

/*
 * Regression: while the lines source waited on a read that does not return (a
 * FIFO or pipe whose writer is quiet), nothing stops the pipeline:
 * maybe_end() waits for the uv_fs_read in flight (lines.busy), which the
 * thread pool cannot cancel. SIGINT, a second SIGINT, the pipeline's
 * timeout and --timeout all take effect only when the writer writes or
 * closes (never, if it does not): a pipeline with "timeout": "0.5s" ends
 * "timeout" after the writer's 6 s.
 */
Test(pipeline, a_quiet_fifo_does_not_hold_up_cancellation)
{
  const char *job =
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'lines': "
        "'fifo'}, 'stages': [{'task': {'kind': 'sleep', 'seconds': 0, "
        "'message': 'got ${item}'}}], 'results': 'r.jsonl'}]}");
  const char *args[] = {"--report", P("report.json"), "-q", P("job.json"),
                        NULL};
  double sent;
  struct outcome o;
  cJSON **v;
  int n;

  put_file("job.json", job, strlen(job));
  fifo_writer("fifo", 1, 0, 30);
  start_corun(args, NULL);
  wait_lines(P("out"), 1);
  sent = now_s();
  kill(kid.pid, SIGINT);
  cr_assert_eq(reap(10 * SC), 130);
  cr_assert_lt(kid.tend - sent, 2 * SC, "took %.1fs to stop", kid.tend - sent);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(str(v[0], "status"), "ok");
  kill(writer, SIGKILL);
  waitpid(writer, NULL, 0);
  writer = -1;
  unlink(P("fifo"));

  /* The pipeline's own timeout. */
  fifo_writer("fifo", 1, 0, 30);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'timeout': "
            "'0.5s', 'source': {'lines': 'fifo'}, 'stages': [{'task': "
            "{'kind': 'sleep', 'seconds': 0}}]}]}"),
          NULL, NULL, 10 * SC);
  cr_assert_eq(o.code, 1);
  cr_assert_str_eq(str(report_task(o.rep, "p"), "status"), "timeout");
  cr_assert_lt(num(report_task(o.rep, "p"), "duration"), 0.5 + 1.5 * SC);
}

/*
 * Regression: a default "limit" applied to the pipeline itself as well as to its
 * item tasks (the exemption in lib/load/tasks.c, "a default limit is for the
 * work itself, not for the gathers and waits around it", tests
 * kind->parent, which a pipeline does not set): with a limit of 1 the
 * pipeline holds the slot its items wait for, and the run stalls ("the
 * run stalled: these tasks wait on each other's limit slots"), exit 1.
 * Expected as for a gather: the items take the default, the pipeline not.
 */
Test(pipeline, a_default_limit_is_for_the_items_not_the_pipeline)
{
  const char *const extra[] = {"--timeout", "10s", NULL};
  struct outcome o =
      run(J("{'limits': {'one': 1}, 'defaults': {'limit': 'one'}, 'tasks': "
            "[{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, 3]}, "
            "'stages': [{'workers': 3, 'task': {'kind': 'sleep', 'seconds': "
            "0.1}}]}]}"),
          extra, NULL, 0);

  cr_assert_eq(o.code, 0, "%s", o.err);
  assert_counts(get(report_task(o.rep, "p"), "result"), 3, 3, 0, 0);
  /* One at a time: the items share the one slot. */
  cr_assert_geq(num(report_task(o.rep, "p"), "duration"), 0.299);
}

/*
 * Regression: a stage's task naming the limit its pipeline holds was not caught
 * when the job is loaded (a gather's child doing the same is: '"limit"
 * "one" is already held by its ancestor "g": waiting for another slot
 * inside it could wait for ever'); it runs, stalls at once and exits 1.
 */
Test(pipeline, a_stage_task_cannot_take_the_limit_its_pipeline_holds)
{
  const char *const extra[] = {"--timeout", "10s", NULL};
  struct outcome o =
      run(J("{'limits': {'one': 1}, 'tasks': [{'id': 'p', 'kind': 'pipeline', "
            "'limit': 'one', 'source': {'range': [0, 3]}, 'stages': [{'task': "
            "{'kind': 'sleep', 'seconds': 0, 'limit': 'one'}}]}]}"),
          extra, NULL, 0);

  cr_assert_eq(o.code, 2, "%s", o.err);
  cr_assert_not_null(strstr(o.err, "already held by its ancestor \"p\""), "%s",
                     o.err);
}

/* ==== scale ==== */

Test(pipeline, a_million_items_in_flat_memory)
{
  int items = UNDER_ASAN ? 200000 : 1000000;
  struct outcome o;
  const cJSON *res;

  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': "
            "[0, %d]}, 'stages': [{'workers': 4, 'task': {'kind': 'sleep', "
            "'seconds': 0, 'result': '${index}'}}, {'workers': 2, 'task': "
            "{'kind': 'sleep', 'seconds': 0, 'result': 'v${item}'}}]}]}",
            items),
          NULL, "ASAN_OPTIONS=quarantine_size_mb=0:detect_leaks=1", 60 * SC);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_lt(o.wall, 30 * SC, "took %.1fs", o.wall);
  res = get(report_task(o.rep, "p"), "result");
  assert_counts(res, items, items, 0, 0);
  assert_stage(res, 1, items, 0);
  cr_assert_lt(kid.maxrss_kb, 60 * 1024, "peak RSS %ld KB", kid.maxrss_kb);
  /* The report lists the pipeline only, never its item tasks. */
  cr_assert_eq(cJSON_GetArraySize(get(o.rep, "tasks")), 1);
}

/* ==== load-time errors ==== */

struct bad {
  const char *job;  /* ' for ", lines split with \n */
  const char *want; /* after "job.json:" */
};

static const struct bad bad[] = {
    {"{'tasks': [\n"
     "  {'id': 'p', 'kind': 'pipeline',\n"
     "   'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "2:3: error: task \"p\": missing required field \"source\""},
    {"{'tasks': [\n"
     "  {'id': 'p', 'kind': 'pipeline',\n"
     "   'source': {'range': [0, 3]}}]}",
     "2:3: error: task \"p\": missing required field \"stages\""},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3], 'items': [1]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "2:13: error: task \"p\": \"source\" must hold exactly one of"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "2:13: error: task \"p\": \"source\" must hold exactly one of"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3, 0]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "2:23: error: task \"p\": \"source\" \"range\" must be [start, stop]"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 1.5]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "2:23: error: task \"p\": \"source\" \"range\" must be"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [5]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "2:23: error: task \"p\": \"source\" \"range\" must be"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'rnage': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "2:23: error: task \"p\": \"source\" has unknown field \"rnage\" (did "
     "you mean \"range\"?)"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [\n"
     "    {'workers': 1,\n"
     "     'wokers': 2,\n"
     "     'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "5:16: error: task \"p\": \"stages\" stage 1: unknown field \"wokers\" "
     "(did you mean \"workers\"?)"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}},\n"
     "             {'order': 'random', 'task': {'kind': 'sleep', "
     "'seconds': 0}}]}]}",
     "4:24: error: task \"p\": \"stages\" stage 2: \"order\" must be "
     "\"fifo\", \"lifo\" or \"priority\""},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep',\n"
     "                      'seconds': '${item.x}'}}]}]}",
     "4:34: error: task \"p\": \"stages\" stage 1 task: \"${item.x}\": the "
     "items of a \"range\" source are numbers, not objects"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'lines': 'in.txt'},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0,\n"
     "                      'message': 'a ${item.x}'}}]}]}",
     "4:34: error: task \"p\": \"stages\" stage 1 task: \"${item.x}\": the "
     "items of a \"lines\" source are strings, not objects"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'items': [{'a': 1, 'm': 2}, {'a': 2}]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0,\n"
     "                      'message': '${item.a} ${item.m}'}}]}]}",
     "4:34: error: task \"p\": \"stages\" stage 1 task: \"${item.m}\": item 1 "
     "has no such field"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'exec', 'shell': 'true'}},\n"
     "             {'task': {'kind': 'sleep', 'seconds': 0,\n"
     "                       'message': '${item.stdot}'}}]}]}",
     "5:35: error: task \"p\": \"stages\" stage 2 task: \"${item.stdot}\": "
     "the items of this stage are the results of a exec task, which have no "
     "field \"stdot\""},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'pipeline', 'source': {'range': [0, 1]},"
     " 'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}}]}]}",
     "3:32: error: task \"p\": stage 1 task: \"kind\" \"pipeline\" cannot be "
     "a stage's task"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'wait', 'cancel_pending': false,\n"
     "                       'tasks': [{'kind': 'sleep', 'seconds': 0}]}}]}]}",
     "3:58: error: task \"p\": stage 1 task: \"cancel_pending\" cannot be "
     "false in a stage's task"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'gather', 'tasks': [\n"
     "    {'kind': 'sleep', 'seconds': 0, 'id': 'kid'}]}}]}]}",
     "4:43: error: task \"p\": stage 1 task, child 1: \"id\" cannot be set "
     "on a stage's task"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'id': 'x', 'kind': 'sleep', 'seconds': 0}}]}]}",
     "3:30: error: task \"p\": stage 1 task: \"id\" cannot be set on a "
     "stage's task"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0,\n"
     "                       'after': ['y']}}]},\n"
     "  {'id': 'y', 'kind': 'sleep', 'seconds': 0}]}",
     "4:33: error: task \"p\": stage 1 task: \"after\" cannot be set on a "
     "stage's task"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0,\n"
     "                       'shield': true}}]}]}",
     "4:34: error: task \"p\": stage 1 task: \"shield\" cannot be set on a "
     "stage's task"},
    {"{'vars': {'x': '1'}, 'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0,\n"
     "                      'message': '${itme}'}}]}]}",
     "4:34: error: task \"p\": \"message\": unknown variable \"${itme}\" "
     "(did you mean \"${item}\"?)"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': []}]}",
     "3:13: error: task \"p\": \"stages\" must be an array of 1 to 1000 "
     "stages"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline', 'on_error': 'stop',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "1:56: error: task \"p\": \"on_error\" must be one of \"continue\", "
     "\"cancel\""},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline', 'rate': 'fast',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "1:52: error: task \"p\": \"rate\" must be a rate like"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'produce_delay': ['2s', '1s'],\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "2:20: error: task \"p\": \"produce_delay\" must be a duration or [min, "
     "max]"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline', 'sources': 1,\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}]}]}",
     "1:55: error: task \"p\": unknown field \"sources\" (did you mean "
     "\"source\"?)"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'workers': 0, 'task': {'kind': 'sleep', 'seconds': "
     "0}}]}]}",
     "3:26: error: task \"p\": \"stages\" stage 1: \"workers\" must be an "
     "integer from 1 to 100000"},
    {"{'tasks': [{'id': 'p', 'kind': 'pipeline',\n"
     "  'source': {'range': [0, 3]},\n"
     "  'stages': [{'task': {'kind': 'sleeep', 'seconds': 0}}]}]}",
     "3:32: error: task \"p\": stage 1 task: \"kind\" names unknown kind "
     "\"sleeep\" "
     "(did you mean \"sleep\"?)"},
    {"{'tasks': [{'kind': 'sleep', 'seconds': 0,\n"
     "  'message': '${item}'}]}",
     "2:14: error: task \"task1\": \"message\": \"${item}\" is only known "
     "inside a pipeline stage's task"},
};

Test(pipeline, load_errors_name_the_field_at_its_line_and_column)
{
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *d = load_err(J(bad[i].job)), want[512];

    snprintf(want, sizeof(want), "test.json:%s", bad[i].want);
    cr_assert_not_null(strstr(d, want), "case %zu: want\n%s\ngot\n%s", i, want,
                       d);
    free(d);
  }
}

/* The binary: every error, exit 2, nothing runs, no report. */
Test(pipeline, load_errors_exit_2_before_anything_runs)
{
  size_t i, k;

  for (k = 0; k < 3; k++) {
    /* A sibling that would print if anything ran. */
    char *text, want[512];
    struct outcome o;

    i = k * (sizeof(bad) / sizeof(bad[0]) - 1) / 2;
    text = J(bad[i].job);
    text[strlen(text) - 2] = '\0';
    o = run(J("%s, {'kind': 'sleep', 'seconds': 0, 'message': 'ran'}]}", text),
            NULL, NULL, 0);
    snprintf(want, sizeof(want), "job.json:%s", bad[i].want);
    cr_assert_eq(o.code, 2, "case %zu: exit %d: %s", i, o.code, o.err);
    cr_assert_not_null(strstr(o.err, want), "case %zu: want\n%s\ngot\n%s", i,
                       want, o.err);
    cr_assert_str_eq(o.out, "", "case %zu", i);
    cr_assert_null(o.rep, "case %zu: a report was written", i);
  }
  /* Several problems in one file: all of them. */
  {
    struct outcome o =
        run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': "
              "[0]}, 'stages': [{'wokers': 1, 'task': {'kind': 'sleep', "
              "'seconds': 0}}]}, {'id': 'q', 'kind': 'pipeline', 'source': "
              "{'items': [1]}, 'order': 'lifo', 'stages': [{'task': {'kind': "
              "'sleep', 'seconds': 0}}]}]}"),
            NULL, NULL, 0);

    cr_assert_eq(o.code, 2);
    cr_assert_not_null(strstr(o.err, "\"range\" must be"), "%s", o.err);
    cr_assert_not_null(strstr(o.err, "unknown field \"wokers\""), "%s", o.err);
    cr_assert_not_null(strstr(o.err, "task \"q\": unknown field \"order\""),
                       "%s", o.err);
  }
}

/*
 * A misspelt item name inside a stage's task is suggested its right name.
 * (Found with no suggestion; fixed in 23fd835.)
 */
Test(pipeline, load_error_misspelt_item_suggests_item)
{
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, "
        "3]}, 'stages': [{'task': {'kind': 'sleep', 'seconds': 0, 'message': "
        "'${itme}', 'result': 'x ${indx}'}}]}]}"),
      NULL, NULL, 0);

  cr_assert_eq(o.code, 2);
  cr_assert_str_eq(o.out, "");
  cr_assert_not_null(strstr(o.err, "job.json:1:136: error: task \"p\": "
                                   "\"message\": unknown variable "
                                   "\"${itme}\" (did you mean \"${item}\"?)"),
                     "%s", o.err);
  cr_assert_not_null(strstr(o.err, "unknown variable \"${indx}\" (did you "
                                   "mean \"${index}\"?)"),
                     "%s", o.err);
}

/* ==== debugging ==== */

Test(pipeline, sigusr1_dump_shows_queues_workers_and_items_done)
{
  const char *job =
      J("{'tasks': [{'id': 'ready', 'kind': 'sleep', 'seconds': 0, "
        "'message': 'ready'}, {'id': 'p', 'kind': 'pipeline', 'source': "
        "{'range': [0, 40]}, 'stages': [{'workers': 2, 'queue': 3, 'task': "
        "{'kind': 'sleep', 'seconds': 0.1}}, {'workers': 3, 'queue': 0, "
        "'task': {'kind': 'exec', 'shell': 'exec sleep 10'}}]}]}");
  const char *args[] = {"-q", P("job.json"), NULL};
  const char *line;
  char *err = NULL;
  double until;
  unsigned long in, ok, failed, q1, m1, b1, w1, d1, q2, b2, w2, d2;

  put_file("job.json", job, strlen(job));
  start_corun(args, NULL);
  wait_lines(P("out"), 1);
  usleep(450 * 1000);
  kill(kid.pid, SIGUSR1);
  until = now_s() + 5 * SC;
  for (;;) {
    err = slurp(P("err"));
    if (strstr(err, "task dump"))
      break;
    cr_assert_lt(now_s(), until, "no dump: %s", err);
    usleep(10 * 1000);
  }
  cr_assert(!corun_exited(0), "SIGUSR1 ended the run");
  kill(kid.pid, SIGINT);
  cr_assert_eq(reap(5 * SC), 130);
  err = slurp(P("err"));
  line = strstr(err, "p pipeline running");
  cr_assert_not_null(line, "%s", err);
  line = strchr(line, ':');
  cr_assert_eq(sscanf(line,
                      ": %lu items in, %lu ok, %lu failed; stage 1: queue "
                      "%lu/%lu, %lu/%lu workers busy, %lu done; stage 2: "
                      "queue %lu/unbounded, %lu/%lu workers busy, %lu done",
                      &in, &ok, &failed, &q1, &m1, &b1, &w1, &d1, &q2, &b2, &w2,
                      &d2),
               12, "%s", line);
  cr_assert_eq(m1, 3);
  cr_assert_eq(w1, 2);
  cr_assert_eq(w2, 3);
  cr_assert_eq(b1, 2, "%s", line);
  cr_assert_eq(q1, 3, "%s", line);
  cr_assert_geq(d1, 4, "%s", line);
  cr_assert_eq(b2, 3, "%s", line);
  cr_assert_eq(d2, 0, "%s", line);
  cr_assert_eq(q2, d1 - 3, "%s", line);
  cr_assert_eq(ok, 0);
  cr_assert_eq(failed, 0);
  /* Every item that entered is somewhere. */
  cr_assert_eq(in, d1 + b1 + q1 + 1, "%s", line);
}

Test(pipeline, item_task_ids_in_debug_lines_and_stream_prefixes)
{
  const char *const extra[] = {"--debug", NULL};
  struct outcome o =
      run(J("{'tasks': [{'id': 'pl-1', 'kind': 'pipeline', 'source': {'range': "
            "[0, 3]}, 'stages': [{'task': {'kind': 'sleep', 'seconds': 0, "
            "'result': 'r${index}'}}, {'workers': 2, 'task': {'kind': 'exec', "
            "'stream': true, 'shell': 'echo out ${item}; echo err ${item} "
            ">&2'}}]}]}"),
          extra, NULL, 0);
  int i;

  cr_assert_eq(o.code, 0, "%s", o.err);
  for (i = 0; i < 3; i++) {
    cr_assert_not_null(strstr(o.out, J("[pl-1.2.%d] out r%d\n", i, i)), "%s",
                       o.out);
    cr_assert_not_null(strstr(o.err, J("[pl-1.2.%d] err r%d\n", i, i)), "%s",
                       o.err);
    cr_assert_not_null(strstr(o.err, J("pl-1.1.%d: queued -> running", i)),
                       "%s", o.err);
    cr_assert_not_null(strstr(o.err, J("pl-1.2.%d: running -> done (ok)", i)),
                       "%s", o.err);
  }
  cr_assert_null(strstr(o.err, "pl-1.1.3"), "%s", o.err);
  cr_assert_eq(cJSON_GetArraySize(get(o.rep, "tasks")), 1);
  cr_assert_str_eq(str(report_task(o.rep, "pl-1"), "status"), "ok");
}

/* ==== statistics ==== */

Test(pipeline, percentiles_are_nearest_rank_and_items_per_s)
{
  struct outcome o =
      run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'items': "
            "[0.05, 0.05, 0.05, 1.0, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]}, "
            "'stages': [{'workers': 10, 'task': {'kind': 'sleep', 'seconds': "
            "'${item}'}}, {'task': {'kind': 'sleep', 'seconds': 0}}]}]}"),
          NULL, NULL, 0);
  const cJSON *t = report_task(o.rep, "p"), *s, *res = get(t, "result");
  double p90;

  cr_assert_eq(o.code, 0, "%s", o.err);
  s = stage(res, 0);
  /* 9 of 0.05 s and one of 1 s: p50 and p90 (9th) 0.05, p99 (10th) 1. */
  cr_assert_geq(num(s, "p50"), 0.0495);
  cr_assert_lt(num(s, "p50"), 0.05 + 0.15 * SC);
  p90 = num(s, "p90");
  cr_assert_geq(p90, 0.0495);
  cr_assert_lt(p90, 0.05 + 0.15 * SC, "p90 %.3f: interpolated?", p90);
  cr_assert_geq(num(s, "p99"), 0.999);
  cr_assert_lt(num(s, "p99"), 1.0 + 0.3 * SC);
  cr_assert_leq(num(s, "p50"), p90);
  cr_assert_lt(num(stage(res, 1), "p99"), 0.05 * SC);
}

/*
 * items_per_s is processed items over the time the stage's tasks ran
 * (first start to last end): stage 1 runs 10 items of 0.05 s side by side
 * in [0, 0.05] (200/s), stage 2 10 of 0.5 s side by side in [0.05, 0.55]
 * (20/s), though the pipeline took 0.55 s (18/s).
 */
Test(pipeline, items_per_s_is_over_the_time_each_stage_ran)
{
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, "
        "10]}, 'stages': [{'workers': 10, 'task': {'kind': 'sleep', "
        "'seconds': 0.05}}, {'workers': 10, 'task': {'kind': 'sleep', "
        "'seconds': 0.5}}]}]}"),
      NULL, NULL, 0);
  const cJSON *t = report_task(o.rep, "p"), *res = get(t, "result");
  double r1 = num(stage(res, 0), "items_per_s");
  double r2 = num(stage(res, 1), "items_per_s");

  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_geq(num(t, "duration"), 0.549);
  cr_assert(r1 <= 200.1 && r1 > 200 / (1 + 3 * SC), "stage 1: %f", r1);
  cr_assert(r2 <= 20.01 && r2 > 20 / (1 + 0.5 * SC), "stage 2: %f", r2);
  assert_stage(res, 1, 10, 0);
}

/*
 * A stage's task may be a gather or a wait: each item gets its own
 * children, named <item-task>.<n>; a failed child fails the item.
 */
Test(pipeline, gather_and_wait_as_stage_tasks)
{
  const char *const extra[] = {"--debug", NULL};
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': [0, "
        "4]}, 'stages': ["
        "{'workers': 2, 'task': {'kind': 'gather', 'tasks': [{'kind': "
        "'sleep', 'seconds': 0.02, 'result': '${item}'}, {'kind': 'exec', "
        "'shell': 'test ${item} -ne 2 && echo i${index}'}]}},"
        "{'task': {'kind': 'wait', 'return_when': 'first_completed', "
        "'tasks': [{'kind': 'exec', 'shell': 'exec sleep 30'}, {'kind': "
        "'sleep', 'seconds': 0, 'message': 'got ${item}'}]}}], 'results': "
        "'r.jsonl'}]}"),
      extra, NULL, 0);
  const cJSON *l;
  cJSON **v;
  int n, i;

  cr_assert_eq(o.code, 1, "%s", o.err);
  cr_assert_lt(o.wall, 10, "a pending child held the run");
  cr_assert_str_eq(str(get(report_task(o.rep, "p"), "error"), "type"), "child");
  assert_counts(get(report_task(o.rep, "p"), "result"), 4, 3, 1, 0);
  v = results("r.jsonl", &n);
  cr_assert_eq(n, 4);
  l = line_of(v, n, 2);
  cr_assert_str_eq(str(l, "status"), "failed");
  cr_assert_str_eq(str(get(l, "error"), "type"), "child");
  for (i = 0; i < 4; i++) {
    if (i == 2)
      continue;
    l = line_of(v, n, i);
    cr_assert(cJSON_Compare(get(get(l, "result"), "done"),
                            gcj(cJSON_Parse(J("['p.2.%d.2']", i))), 1),
              "%s", (char *)gc(cJSON_PrintUnformatted(l)));
    cr_assert_not_null(
        strstr(o.out, J("got [%d,{'exit_code':0,'signal':null,'stdout':'i%d"
                        "\\n',",
                        i, i)),
        "%s", o.out);
    cr_assert_not_null(strstr(o.err, J("p.1.%d.1: running -> done (ok)", i)),
                       "%s", o.err);
    cr_assert_not_null(
        strstr(o.err, J("p.2.%d.1: running -> done (cancelled)", i)), "%s",
        o.err);
  }
  cr_assert_eq(cJSON_GetArraySize(get(o.rep, "tasks")), 1);
}

/* Past 4096 samples the percentiles come from a histogram (~3%). */
Test(pipeline, percentiles_of_many_items)
{
  struct corun_buf b = CORUN_BUF_INIT;
  struct outcome o;
  const cJSON *s;
  int i;

  for (i = 0; i < 5000; i++)
    corun_buf_printf(&b, "%s%s", i ? ", " : "", i % 5 == 2 ? "0.08" : "0");
  corun_buf_putc(&b, '\0');
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'items': "
            "[%s]}, 'stages': [{'workers': 1000, 'task': {'kind': 'sleep', "
            "'seconds': '${item}'}}]}]}",
            corun_buf_str(&b)),
          NULL, NULL, 0);
  corun_buf_free(&b);
  cr_assert_eq(o.code, 0, "%s", o.err);
  s = stage(get(report_task(o.rep, "p"), "result"), 0);
  /*
   * 4000 yields and 1000 of 0.08 s: p50 a yield (one turn of a busy
   * loop), p90 and p99 0.08 s.
   */
  cr_assert_lt(num(s, "p50"), 0.03);
  cr_assert_geq(num(s, "p90"), 0.08 * 0.96);
  cr_assert_lt(num(s, "p90"), 0.08 + 0.3 * SC);
  cr_assert_geq(num(s, "p99"), num(s, "p90"));
  cr_assert_lt(num(s, "p99"), 0.08 + 0.5 * SC);
  cr_assert_eq(num(s, "processed"), 5000);
}

/* ==== review findings (each failed before its fix) ==== */

/* "cancel_pending": false from "defaults" let a wait item outlive itself. */
Test(pipeline, default_cancel_pending_false_is_refused_for_stage_tasks)
{
  struct outcome o = run(
      J("{'defaults': {'cancel_pending': false}, 'tasks': [{'id': 'p', "
        "'kind': 'pipeline', 'source': {'range': [0, 6]}, 'stages': [{'task': "
        "{'kind': 'wait', 'return_when': 'first_completed', 'tasks': [{'kind': "
        "'sleep', 'seconds': 0.01}, {'kind': 'sleep', 'seconds': 0.2}]}}]}]}"),
      NULL, NULL, 0);

  cr_assert_eq(o.code, 2, "%s", o.err);
  cr_assert_not_null(strstr(o.err, "\"cancel_pending\" false (from "
                                   "\"defaults\")"),
                     "%s", o.err);
}

/* A FIFO nobody reads as the results file held the whole loop in open(). */
Test(pipeline, results_fifo_without_a_reader_fails_the_pipeline_not_the_run)
{
  struct outcome o;

  cr_assert_eq(mkfifo(P("fifo"), 0600), 0);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'results': '%s', "
            "'source': {'range': [0, 3]}, 'stages': [{'task': {'kind': "
            "'sleep', 'seconds': 0}}]}, {'id': 's', 'kind': 'sleep', "
            "'seconds': 0.05, 'message': 'other ran'}]}",
            P("fifo")),
          NULL, NULL, 10 * SC);
  cr_assert_eq(o.code, 1);
  cr_assert_str_eq(str(report_task(o.rep, "p"), "status"), "failed");
  cr_assert_not_null(strstr(o.out, "other ran"));
}

/* Items failing before they are tasks never gave the loop a turn. */
Test(pipeline, failing_items_do_not_starve_signals_and_timers)
{
  const char *const extra[] = {"--timeout", "1", NULL};
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'source': {'range': "
        "[-1000000, 0]}, 'stages': [{'workers': 4, 'task': {'kind': "
        "'sleep', 'seconds': '${item}'}}]}]}"),
      extra, NULL, 30 * SC);

  cr_assert_eq(o.code, 124, "%s", o.err);
  cr_assert_lt(o.wall, 1.0 + 2.0 * SC, "took %.2fs", o.wall);
}

/* A limit taken inside a stage's own template tree, where it is held. */
Test(pipeline, nested_limit_inside_a_stage_template_is_a_load_error)
{
  struct outcome o = run(
      J("{'limits': {'x': 1}, 'tasks': [{'id': 'p', 'kind': 'pipeline', "
        "'source': {'range': [0, 2]}, 'stages': [{'task': {'kind': 'gather', "
        "'limit': 'x', 'tasks': [{'kind': 'sleep', 'seconds': 0.1, "
        "'limit': 'x'}]}}]}]}"),
      NULL, NULL, 0);

  cr_assert_eq(o.code, 2, "%s", o.err);
  cr_assert_not_null(strstr(o.err, "already holds it"), "%s", o.err);
}

/* An items source walked its list from the start for every item. */
Test(pipeline, a_long_items_source_is_linear)
{
  struct corun_buf b = CORUN_BUF_INIT;
  struct outcome o;
  int i;

  corun_buf_puts(&b, "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
                     "\"source\": {\"items\": [");
  for (i = 0; i < 100000; i++)
    corun_buf_printf(&b, "%s%d", i ? "," : "", i);
  corun_buf_puts(&b, "]}, \"stages\": [{\"workers\": 4, \"task\": {\"kind\": "
                     "\"sleep\", \"seconds\": 0}}]}]}");
  o = run(corun_buf_str(&b), NULL, NULL, 0);
  corun_buf_free(&b);
  cr_assert_eq(o.code, 0, "%s", o.err);
  assert_counts(get(report_task(o.rep, "p"), "result"), 100000, 100000, 0, 0);
  /* Quadratic, this took minutes. */
  cr_assert_lt(o.wall, 10 * SC, "took %.1fs", o.wall);
}

/* Rates finer than the timer's millisecond were not reached. */
Test(pipeline, a_fast_rate_is_reached)
{
  struct outcome o = run(
      J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'rate': '2000/s', "
        "'producers': 2, 'source': {'range': [0, 2000]}, 'stages': "
        "[{'workers': 4, 'task': {'kind': 'sleep', 'seconds': 0}}]}]}"),
      NULL, NULL, 0);

  cr_assert_eq(o.code, 0, "%s", o.err);
  /* 2000 items at 2000/s: about a second, not several. */
  cr_assert_gt(num(report_task(o.rep, "p"), "duration"), 0.9);
  cr_assert_lt(num(report_task(o.rep, "p"), "duration"), 1.25 + 0.5 * SC);
}

/* A results file reached through a symbolic link keeps the link. */
Test(pipeline, results_through_a_symlink_keeps_the_link)
{
  struct outcome o;
  struct stat st;

  put_file("real.jsonl", "old\n", 4);
  cr_assert_eq(symlink(P("real.jsonl"), P("link.jsonl")), 0);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'results': "
            "'link.jsonl', 'source': {'range': [0, 2]}, 'stages': [{'task': "
            "{'kind': 'sleep', 'seconds': 0}}]}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_eq(lstat(P("link.jsonl"), &st), 0);
  cr_assert(S_ISLNK(st.st_mode), "the link was replaced by a file");
  cr_assert_not_null(strstr(slurp(P("real.jsonl")), "\"index\": 1"));
}

/* A link to a results file not there yet stays a link: the file is made. */
Test(pipeline, results_through_a_dangling_symlink_keeps_the_link)
{
  struct outcome o;
  struct stat st;

  cr_assert_eq(symlink("later.jsonl", P("link.jsonl")), 0);
  o = run(J("{'tasks': [{'id': 'p', 'kind': 'pipeline', 'results': "
            "'link.jsonl', 'source': {'range': [0, 2]}, 'stages': [{'task': "
            "{'kind': 'sleep', 'seconds': 0}}]}]}"),
          NULL, NULL, 0);
  cr_assert_eq(o.code, 0, "%s", o.err);
  cr_assert_eq(lstat(P("link.jsonl"), &st), 0);
  cr_assert(S_ISLNK(st.st_mode), "the link was replaced by a file");
  cr_assert_not_null(strstr(slurp(P("later.jsonl")), "\"index\": 1"));
}

/* ==== the runtime's rooms, driven without a job ==== */

/* Durations: exact percentiles up to EXACT_MAX samples, ~3% past it. */
Test(pipeline, stats_histogram_percentiles)
{
  struct hist h;
  uint64_t i;

  memset(&h, 0, sizeof(h));
  for (i = 100; i >= 1; i--)
    corun__pl_hist_add(&h, i * 1000);
  cr_assert_eq(h.n, 100);
  cr_assert_float_eq(corun__pl_hist_pct(&h, 50), 50e-6, 1e-12);
  cr_assert_float_eq(corun__pl_hist_pct(&h, 90), 90e-6, 1e-12);
  cr_assert_float_eq(corun__pl_hist_pct(&h, 99), 99e-6, 1e-12);
  cr_assert_float_eq(corun__pl_hist_pct(&h, 0), 1e-6, 1e-12, "nearest rank");
  corun__pl_hist_free(&h);

  memset(&h, 0, sizeof(h));
  for (i = 1; i <= 4 * EXACT_MAX; i++)
    corun__pl_hist_add(&h, i * 1000000);
  cr_assert_eq(h.n, 4 * EXACT_MAX);
  /* Past the exact samples: a bucket's middle, within its 3% width. */
  cr_assert_float_eq(corun__pl_hist_pct(&h, 50), 2 * EXACT_MAX * 1e-3,
                     0.032 * 2 * EXACT_MAX * 1e-3);
  cr_assert_float_eq(corun__pl_hist_pct(&h, 99), 0.99 * 4 * EXACT_MAX * 1e-3,
                     0.032 * 4 * EXACT_MAX * 1e-3);
  corun__pl_hist_free(&h);
  cr_assert_null(h.exact);
  cr_assert_null(h.bucket);
}
