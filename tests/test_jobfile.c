/* SPDX-License-Identifier: MIT */
/*
 * Loading and validating job files (lib/load/ and the kinds' parse).
 *
 * Most of the error messages are data: each fixtures/jobs/bad/NAME.json has
 * a NAME.err holding the first lines corun prints for it, exactly, with the
 * file named "NAME.json". The loader is given the fixture's full path (as
 * the CLI would be), so the directory part is dropped from each line before
 * comparing; the same text is also loaded from memory under the display
 * name "NAME.json" and must give the same lines. Every ok/ file must load.
 *
 * The fixtures rely on two environment variables, set up here:
 * CORUN_FIXTURE_SECRET is set (its value must show as ***), and
 * CORUN_TEST_SURELY_UNSET_5E1D is unset.
 *
 * The rest are behaviours a fixture cannot show: what a loaded job holds
 * (templates, defaults, generated ids), inputs too big to check in, and
 * secrets in run output.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "core/job.h"
#include "core/task.h"
#include "kinds/sleep.h"
#include "load/loader.h"

#define FIXTURE_SECRET "zz-fixture-secret"
#define UNSET_ENV "CORUN_TEST_SURELY_UNSET_5E1D"

static void setup(void)
{
  setenv("CORUN_FIXTURE_SECRET", FIXTURE_SECRET, 1);
  unsetenv(UNSET_ENV);
}

TestSuite(jobfile, .init = setup, .timeout = 60);

/* ---- helpers ---- */

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir ending in suffix, sorted; the caller frees each and the list. */
static char **list_dir(const char *dir, const char *suffix, size_t *count)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char **v = NULL;
  size_t n = 0, cap = 0, sl = strlen(suffix);

  cr_assert_not_null(d, "cannot open %s", dir);
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);

    if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      v = realloc(v, cap * sizeof(*v));
      cr_assert_not_null(v);
    }
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n)
    qsort(v, n, sizeof(*v), cmp_str);
  *count = n;
  return v;
}

static void free_list(char **v, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static size_t count_lines(const char *s)
{
  size_t n = 0;

  for (; *s; s++)
    if (*s == '\n')
      n++;
  return n;
}

/* The first n lines of s (each with its newline), as a new string. */
static char *first_lines(const char *s, size_t n)
{
  const char *p = s;

  while (n > 0 && *p) {
    const char *nl = strchr(p, '\n');

    p = nl ? nl + 1 : p + strlen(p);
    n--;
  }
  return strndup(s, (size_t)(p - s));
}

/* Drops prefix from the start of every line of s that has it. */
static char *strip_prefix(const char *s, const char *prefix)
{
  struct corun_buf b = CORUN_BUF_INIT;
  size_t pl = strlen(prefix);

  while (*s) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);

    if (strncmp(s, prefix, pl) == 0)
      corun_buf_add(&b, s + pl, len - pl);
    else
      corun_buf_add(&b, s, len);
    s += len;
  }
  return b.p ? corun_buf_detach(&b) : strdup("");
}

/* Load text under display name "test.json" with options; returns the code. */
static enum corun_code load_with(const char *text,
                                 const struct corun_load_opts *opts,
                                 struct corun_job **job, char **diag)
{
  struct corun_buf d = CORUN_BUF_INIT;
  struct corun_error err = {0};
  enum corun_code code;

  code = corun_job_load_text(job, text, strlen(text), "test.json", ".", opts,
                             &d, &err);
  *diag = d.p ? corun_buf_detach(&d) : strdup("");
  return code;
}

static struct corun_job *load_opts_ok(const char *text,
                                      const struct corun_load_opts *opts)
{
  struct corun_job *job = NULL;
  char *diag;

  cr_assert_eq(load_with(text, opts, &job, &diag), CORUN_OK, "load failed:\n%s",
               diag);
  cr_assert_not_null(job);
  free(diag);
  return job;
}

/*
 * The task's line in the --check description ("id (kind) after a,b
 * timeout 2s limit api shield"), indentation dropped (static buffer). What
 * --check shows is what the loader understood, without depending on how
 * the task struct stores it.
 */
static const char *described(struct corun_job *job, const char *id)
{
  static char line[1024];
  struct corun_buf b = CORUN_BUF_INIT;
  const char *p;
  size_t idl = strlen(id);

  corun_job_describe(job, &b);
  for (p = corun_buf_str(&b); *p;) {
    const char *nl = strchr(p, '\n'), *q = p;
    size_t len = nl ? (size_t)(nl - p) : strlen(p);

    while (*q == ' ')
      q++;
    if (strncmp(q, id, idl) == 0 && strncmp(q + idl, " (", 2) == 0) {
      snprintf(line, sizeof(line), "%.*s", (int)(len - (size_t)(q - p)), q);
      corun_buf_free(&b);
      return line;
    }
    p += len + (nl ? 1 : 0);
  }
  cr_assert_fail("no task \"%s\" in:\n%s", id, corun_buf_str(&b));
  return NULL;
}

static void out_line(const char *line, void *arg)
{
  corun_buf_puts(arg, line);
  corun_buf_putc(arg, '\n');
}

/*
 * Run a loaded job to its end; returns its output lines and, when report is
 * not NULL, the JSON report. Frees the job.
 */
static char *run_loaded(struct corun_job *job, char **report)
{
  struct corun_buf out = CORUN_BUF_INIT, rep = CORUN_BUF_INIT;
  struct corun_run_opts ro = {0};
  struct corun_error err = {0};
  struct corun_run *run = NULL;
  uv_loop_t loop;

  cr_assert_eq(uv_loop_init(&loop), 0);
  ro.output = out_line;
  ro.log = out_line;
  ro.arg = &out;
  cr_assert_eq(corun_run_new(&run, job, &loop, &ro, &err), CORUN_OK, "%s",
               err.msg);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert(corun_run_done(run));
  if (report) {
    corun_report_json(run, &rep);
    *report = rep.p ? corun_buf_detach(&rep) : strdup("");
  }
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
  corun_job_free(job);
  return out.p ? corun_buf_detach(&out) : strdup("");
}

static char *output_of(const char *text, const struct corun_load_opts *opts)
{
  return run_loaded(load_opts_ok(text, opts), NULL);
}

#define assert_contains(hay, needle)                                           \
  cr_assert(strstr((hay), (needle)) != NULL, "\"%s\" not in:\n%s", (needle),   \
            (hay))
#define assert_lacks(hay, needle)                                              \
  cr_assert(strstr((hay), (needle)) == NULL, "\"%s\" found in:\n%s", (needle), \
            (hay))

/*
 * text must be invalid with diagnostics containing want and, unless NULL,
 * lacking unwanted. Uses cr_expect and frees everything either way, so a
 * failure reports cleanly under LeakSanitizer too.
 */
static void expect_invalid(const char *text, const char *want,
                           const char *unwanted)
{
  struct corun_job *job = NULL;
  enum corun_code code;
  char *diag;

  code = load_with(text, NULL, &job, &diag);
  cr_expect_eq(code, CORUN_EINVAL, "loaded: %s", text);
  corun_job_free(job);
  if (want)
    cr_expect(strstr(diag, want) != NULL, "\"%s\" not in:\n%s", want, diag);
  if (unwanted)
    cr_expect(strstr(diag, unwanted) == NULL, "\"%s\" found in:\n%s", unwanted,
              diag);
  free(diag);
}

/* ---- fixtures ---- */

Test(jobfile, bad_fixtures_fail_with_expected_errors)
{
  const char *dir = CORUN_FIXTURES "/jobs/bad";
  char prefix[4096];
  size_t n, i, checked = 0;
  char **names = list_dir(dir, ".json", &n);

  snprintf(prefix, sizeof(prefix), "%s/", dir);
  /* A broken glob must not pass as "nothing failed". */
  cr_assert_geq(n, 100, "only %zu bad fixtures found in %s", n, dir);
  for (i = 0; i < n; i++) {
    char path[4096], errpath[4096];
    struct corun_buf diag = CORUN_BUF_INIT, diag2 = CORUN_BUF_INIT;
    struct corun_error err = {0};
    struct corun_job *job = NULL;
    char *want, *text, *got, *got_head, *got2_head;
    size_t len = 0, nwant;
    enum corun_code code;

    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    snprintf(errpath, sizeof(errpath), "%s/%.*s.err", dir,
             (int)(strlen(names[i]) - 5), names[i]);
    want = read_file(errpath, NULL);
    cr_expect_not_null(want, "%s has no .err file", names[i]);
    if (want == NULL)
      continue;
    nwant = count_lines(want);
    cr_expect_gt(nwant, 0, "%s: empty .err file", names[i]);

    code = corun_job_load(&job, path, NULL, &diag, &err);
    cr_expect_eq(code, CORUN_EINVAL, "%s: code %d (%s), expected invalid",
                 names[i], code, err.msg);
    cr_expect_null(job, "%s: a job came back", names[i]);
    corun_job_free(job);
    got = strip_prefix(corun_buf_str(&diag), prefix);
    got_head = first_lines(got, nwant);
    cr_expect_str_eq(got_head, want, "%s: diagnostics differ\n--- got:\n%s",
                     names[i], got);

    /* The same bytes from memory, named the way the .err names them. */
    text = read_file(path, &len);
    cr_assert_not_null(text);
    job = NULL;
    code =
        corun_job_load_text(&job, text, len, names[i], ".", NULL, &diag2, &err);
    cr_expect_eq(code, CORUN_EINVAL, "%s (text): code %d", names[i], code);
    corun_job_free(job);
    got2_head = first_lines(corun_buf_str(&diag2), nwant);
    cr_expect_str_eq(got2_head, want, "%s (text): diagnostics differ",
                     names[i]);

    free(got2_head);
    free(text);
    free(got_head);
    free(got);
    free(want);
    corun_buf_free(&diag);
    corun_buf_free(&diag2);
    checked++;
  }
  cr_expect_eq(checked, n);
  free_list(names, n);
}

Test(jobfile, every_err_file_has_its_fixture)
{
  const char *dir = CORUN_FIXTURES "/jobs/bad";
  size_t n, i;
  char **errs = list_dir(dir, ".err", &n);

  for (i = 0; i < n; i++) {
    char path[4096];

    snprintf(path, sizeof(path), "%s/%.*s.json", dir,
             (int)(strlen(errs[i]) - 4), errs[i]);
    cr_expect_eq(access(path, R_OK), 0, "%s has no .json file", errs[i]);
  }
  free_list(errs, n);
}

Test(jobfile, ok_fixtures_load)
{
  const char *dir = CORUN_FIXTURES "/jobs/ok";
  size_t n, i;
  char **names = list_dir(dir, ".json", &n);

  cr_assert_geq(n, 5, "only %zu ok fixtures found in %s", n, dir);
  for (i = 0; i < n; i++) {
    char path[4096];
    struct corun_buf diag = CORUN_BUF_INIT;
    struct corun_error err = {0};
    struct corun_job *job = NULL;
    enum corun_code code;

    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    code = corun_job_load(&job, path, NULL, &diag, &err);
    cr_expect_eq(code, CORUN_OK, "%s: %s\n%s", names[i], err.msg,
                 corun_buf_str(&diag));
    cr_expect_eq(diag.len, 0, "%s: diagnostics for a valid file", names[i]);
    if (code == CORUN_OK)
      cr_expect_not_null(job);
    corun_job_free(job);
    corun_buf_free(&diag);
  }
  free_list(names, n);
}

/* ---- files ---- */

Test(jobfile, missing_file)
{
  struct corun_job *job = (struct corun_job *)1;
  struct corun_error err = {0};
  struct corun_buf diag = CORUN_BUF_INIT;

  cr_assert_eq(
      corun_job_load(&job, "/nonexistent-dir/job.json", NULL, &diag, &err),
      CORUN_EIO);
  cr_assert_null(job);
  assert_contains(err.msg, "/nonexistent-dir/job.json");
  assert_contains(err.msg, "No such file");
  corun_buf_free(&diag);
}

Test(jobfile, directory_is_unreadable)
{
  struct corun_job *job = NULL;
  struct corun_error err = {0};
  struct corun_buf diag = CORUN_BUF_INIT;
  enum corun_code code;

  code = corun_job_load(&job, CORUN_FIXTURES, NULL, &diag, &err);
  cr_assert_neq(code, CORUN_OK);
  cr_assert_null(job);
  assert_contains(err.msg, CORUN_FIXTURES);
  corun_buf_free(&diag);
}

Test(jobfile, name_and_dir_come_from_the_path)
{
  char *path = write_temp("nightly-build.json", "{\"tasks\": []}");
  struct corun_job *job = NULL;
  struct corun_error err = {0};
  struct corun_buf diag = CORUN_BUF_INIT;
  char *dir = strdup(path);

  *strrchr(dir, '/') = '\0';
  cr_assert_eq(corun_job_load(&job, path, NULL, &diag, &err), CORUN_OK, "%s",
               err.msg);
  cr_assert_str_eq(job->name, "nightly-build");
  cr_assert_str_eq(job->dir, dir);
  cr_assert_str_eq(job->display, path);
  corun_job_free(job);
  unlink(path);
  *strrchr(path, '/') = '\0';
  rmdir(path);
  free(dir);
  free(path);
  corun_buf_free(&diag);
}

/* Load "-" with stdin reading text; returns the code. */
static enum corun_code load_stdin(const char *text, struct corun_job **job,
                                  struct corun_buf *diag)
{
  char *path = write_temp("stdin.json", text);
  struct corun_error err = {0};
  enum corun_code code;
  int saved = dup(0), fd = open(path, O_RDONLY);

  cr_assert(saved >= 0 && fd >= 0);
  cr_assert_eq(dup2(fd, 0), 0);
  close(fd);
  code = corun_job_load(job, "-", NULL, diag, &err);
  dup2(saved, 0);
  close(saved);
  unlink(path);
  *strrchr(path, '/') = '\0';
  rmdir(path);
  free(path);
  return code;
}

Test(jobfile, stdin)
{
  struct corun_job *job = NULL;
  struct corun_buf diag = CORUN_BUF_INIT;

  cr_assert_eq(load_stdin("{\"tasks\": []}", &job, &diag), CORUN_OK, "%s",
               corun_buf_str(&diag));
  /* Relative paths resolve against the current directory. */
  cr_assert_str_eq(job->dir, ".");
  corun_job_free(job);
  job = NULL;
  cr_assert_eq(load_stdin("{\"tasks\": 1}", &job, &diag), CORUN_EINVAL);
  cr_assert_str_eq(corun_buf_str(&diag),
                   "<stdin>:1:11: error: \"tasks\" must be an array of tasks, "
                   "not a number\n");
  corun_buf_free(&diag);
}

Test(jobfile, name_field_wins_and_expands)
{
  struct corun_job *job =
      load_ok("{\"name\": \"deploy-${env}\", \"vars\": {\"env\": \"prod\"}, "
              "\"tasks\": []}");

  cr_assert_str_eq(job->name, "deploy-prod");
  corun_job_free(job);
}

Test(jobfile, text_need_not_be_nul_terminated)
{
  const char text[] = "{\"tasks\": []}GARBAGE";
  struct corun_job *job = NULL;
  struct corun_buf diag = CORUN_BUF_INIT;
  struct corun_error err = {0};

  cr_assert_eq(
      corun_job_load_text(&job, text, 13, "t.json", ".", NULL, &diag, &err),
      CORUN_OK, "%s", corun_buf_str(&diag));
  corun_job_free(job);
  corun_buf_free(&diag);
}

/*
 * A file that ends with its tasks has them read once, from a guess of
 * where they end (loader.h): whatever shows the guess wrong, a member
 * after them or tasks that do not parse, is found and said as when the
 * file is passed over twice.
 */
Test(jobfile, what_follows_the_tasks_is_still_read)
{
  struct corun_job *job = NULL;
  char *diag, *diag2;

  /* A member after the tasks whose value also ends in ']'. */
  cr_assert_eq(load_with("{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", "
                         "\"seconds\": 0}], \"x\": [1]}",
                         NULL, &job, &diag),
               CORUN_EINVAL);
  cr_assert(strstr(diag, "test.json:1:57: error: unknown field \"x\""), "%s",
            diag);
  free(diag);
  /* "tasks" twice: the second is not taken for the end of the first. */
  cr_assert_eq(load_with("{\"tasks\": [],\n \"tasks\": [{\"id\": \"b\", "
                         "\"kind\": \"sleep\", \"seconds\": 0}]}",
                         NULL, &job, &diag),
               CORUN_EINVAL);
  cr_assert(strstr(diag, "test.json:2:2: error: duplicate key \"tasks\""),
            "%s", diag);
  free(diag);
  /*
   * Tasks that do not parse, after a bad default: the same errors as a
   * file the guess is not made for (another member after the tasks).
   */
  cr_assert_eq(load_with("{\"defaults\": {\"timeout\": \"soon\"}, \"tasks\": [{\"id\": "
                         "\"a\" \"kind\": \"sleep\"}]}",
                         NULL, &job, &diag),
               CORUN_EINVAL);
  cr_assert_eq(load_with("{\"defaults\": {\"timeout\": \"soon\"}, \"tasks\": [{\"id\": "
                         "\"a\" \"kind\": \"sleep\"}], \"name\": \"n\"}",
                         NULL, &job, &diag2),
               CORUN_EINVAL);
  cr_assert(strstr(diag, "expected"), "%s", diag);
  cr_assert_str_eq(diag, diag2);
  free(diag);
  free(diag2);
  /* And a file that ends with them loads as ever. */
  job = load_ok("{\"name\": \"n\",\n\"tasks\": [\n"
                "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},\n"
                "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 1}\n] }\n");
  cr_assert_eq(job->ntasks, 2);
  corun_job_free(job);
}

Test(jobfile, empty_tasks_is_valid)
{
  struct corun_job *job = load_ok("{\"tasks\": []}");

  cr_assert_eq(job->ntasks, 0);
  cr_assert_eq(job->nroots, 0);
  cr_assert_eq(job->concurrency, CORUN_DEFAULT_CONCURRENCY);
  corun_job_free(job);
}

/* ---- syntax and size limits ---- */

static char *repeat(const char *head, const char *unit, size_t n)
{
  size_t hl = strlen(head), ul = strlen(unit), i;
  char *s = malloc(hl + ul * n + 1), *p;

  cr_assert_not_null(s);
  memcpy(s, head, hl);
  p = s + hl;
  for (i = 0; i < n; i++, p += ul)
    memcpy(p, unit, ul);
  *p = '\0';
  return s;
}

static void expect_nesting_error(const char *text)
{
  struct corun_job *job = NULL;
  char *diag;

  cr_assert_eq(load_with(text, NULL, &job, &diag), CORUN_EINVAL);
  cr_assert_null(job);
  assert_contains(diag, "nesting");
  cr_assert_eq(count_lines(diag), 1, "%s", diag);
  free(diag);
}

Test(jobfile, deep_nesting_does_not_crash)
{
  /* Each would overflow the stack in a recursive parser without a bound. */
  char *top = repeat("", "[", 100000);
  char *tasks = repeat("{\"tasks\": ", "[", 100000);
  char *result = repeat(
      "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, \"result\": ", "[",
      100000);
  char *vars = repeat("{\"tasks\": [], \"vars\": ", "{\"a\": ", 100000);
  char *gathers =
      repeat("{\"tasks\": [", "{\"kind\": \"gather\", \"tasks\": [", 100000);

  expect_nesting_error(top);
  expect_nesting_error(tasks);
  expect_nesting_error(result);
  expect_nesting_error(vars);
  expect_nesting_error(gathers);
  free(top);
  free(tasks);
  free(result);
  free(vars);
  free(gathers);
}

Test(jobfile, deep_but_legal_gather_tree_loads)
{
  /* 40 gathers deep is 80 levels of JSON: within the bound, so valid. */
  struct corun_buf b = CORUN_BUF_INIT;
  struct corun_job *job;
  int i;

  corun_buf_puts(&b, "{\"tasks\": [");
  for (i = 0; i < 40; i++)
    corun_buf_puts(&b, "{\"kind\": \"gather\", \"tasks\": [");
  corun_buf_puts(&b, "{\"kind\": \"sleep\", \"seconds\": 0}");
  for (i = 0; i < 40; i++)
    corun_buf_puts(&b, "]}");
  corun_buf_puts(&b, "]}");
  job = load_ok(corun_buf_str(&b));
  cr_assert_eq(job->ntasks, 41);
  cr_assert_str_eq(
      job->tasks[40]->id,
      "task1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1."
      "1.1.1.1.1.1.1.1.1.1.1.1.1");
  corun_job_free(job);
  corun_buf_free(&b);
}

Test(jobfile, nesting_error_points_at_the_too_deep_value)
{
  /*
   * The job's object, "tasks" and the task are 3 levels; the 94th '[' of
   * the result is level 97, one past CORUN_JSON_MAX_DEPTH (96). The error
   * should name that bracket's column, as every other error names the
   * first character of the offending value.
   */
  const char *head = "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, "
                     "\"result\": ";
  char *text = repeat(head, "[", 200);
  struct corun_job *job = NULL;
  char want[128], *diag;

  snprintf(want, sizeof(want), "test.json:1:%zu: error: nesting deeper than",
           strlen(head) + 93 + 1);
  cr_assert_eq(load_with(text, NULL, &job, &diag), CORUN_EINVAL);
  cr_expect(strncmp(diag, want, strlen(want)) == 0, "want \"%s...\", got %s",
            want, diag);
  free(diag);
  free(text);
}

Test(jobfile, leading_zero_is_a_syntax_error_only)
{
  /*
   * "04" is not a JSON number. The loader must not first validate the "0"
   * it read as if the user had written 0 ("must be a positive integer"),
   * which sends the user after the wrong problem.
   */
  expect_invalid("{\"concurrency\": 04, \"tasks\": []}", "test.json:1:1",
                 "must be a positive integer");
}

Test(jobfile, huge_input_loads)
{
  /* 100000 tasks with ids and "after": loading stays linear. */
  struct corun_buf b = CORUN_BUF_INIT;
  struct corun_job *job;
  struct timespec t0, t1;
  double secs;
  int i;

  corun_buf_puts(&b, "{\"tasks\": [{\"kind\": \"gather\", \"tasks\": [");
  for (i = 0; i < 100000; i++)
    corun_buf_printf(
        &b, "%s{\"id\": \"t%d\", \"kind\": \"sleep\", \"seconds\": 1%s}",
        i ? "," : "", i, i % 100 == 99 ? ", \"after\": [\"t0\"]" : "");
  corun_buf_puts(&b, "]}]}");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  job = load_ok(corun_buf_str(&b));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs =
      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  cr_assert_eq(job->ntasks, 100001);
  cr_assert_eq(job->nedges, 1000);
  /* Generous: it takes a fraction of this even under sanitizers. */
  cr_expect_lt(secs, 20 * time_scale(), "loading took %.2fs", secs);
  corun_job_free(job);
  corun_buf_free(&b);
}

Test(jobfile, huge_string_value_loads)
{
  size_t n = 4 * 1024 * 1024;
  char *msg = malloc(n + 1);
  struct corun_buf b = CORUN_BUF_INIT;
  struct corun_job *job;

  cr_assert_not_null(msg);
  memset(msg, 'x', n);
  msg[n] = '\0';
  corun_buf_printf(&b,
                   "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, "
                   "\"message\": \"%s\"}]}",
                   msg);
  job = load_ok(corun_buf_str(&b));
  corun_job_free(job);
  corun_buf_free(&b);
  free(msg);
}

Test(jobfile, many_errors_do_not_blow_up)
{
  /* 20000 broken tasks: every one is an error, the output stays bounded. */
  struct corun_buf b = CORUN_BUF_INIT;
  struct corun_job *job = NULL;
  char *diag;
  int i;

  corun_buf_puts(&b, "{\"tasks\": [");
  for (i = 0; i < 20000; i++)
    corun_buf_printf(&b, "%s{\"kind\": \"slep\"}", i ? ",\n" : "");
  corun_buf_puts(&b, "]}");
  cr_assert_eq(load_with(corun_buf_str(&b), NULL, &job, &diag), CORUN_EINVAL);
  cr_assert_null(job);
  /* At most 1000, as the man page says, and a line for the rest. */
  cr_assert_geq(count_lines(diag), 100);
  cr_assert_leq(count_lines(diag), 1001);
  cr_assert(strstr(diag, "test.json: and 19000 more errors, not shown\n"),
            "%s", diag + strlen(diag) - (strlen(diag) > 200 ? 200 : 0));
  /* Errors come in file order. */
  cr_assert(
      strncmp(diag, "test.json:1:21: error: task \"task1\": \"kind\"", 40) == 0,
      "%.200s", diag);
  free(diag);
  corun_buf_free(&b);
}

/* ---- integers ---- */

Test(jobfile, concurrency_bounds)
{
  struct corun_job *job = load_ok("{\"concurrency\": 1000000, \"tasks\": []}");
  char *diag;

  cr_assert_eq(job->concurrency, 1000000);
  corun_job_free(job);
  job = load_ok("{\"concurrency\": 1, \"tasks\": []}");
  cr_assert_eq(job->concurrency, 1);
  corun_job_free(job);
  /* An integral double is an integer: 4.0 is 4. */
  job = load_ok("{\"concurrency\": 4.0, \"tasks\": []}");
  cr_assert_eq(job->concurrency, 4);
  corun_job_free(job);
  diag = load_err("{\"concurrency\": 1000001, \"tasks\": []}");
  assert_contains(diag, "\"concurrency\" must be a positive integer");
  free(diag);
  /* Past 2^53 doubles skip integers; still not accepted. */
  diag = load_err("{\"concurrency\": 9007199254740993, \"tasks\": []}");
  assert_contains(diag, "\"concurrency\"");
  free(diag);
}

Test(jobfile, jobs_option_overrides_concurrency)
{
  struct corun_load_opts o = {.jobs = 3};
  struct corun_job *job =
      load_opts_ok("{\"concurrency\": 10, \"tasks\": []}", &o);

  cr_assert_eq(job->concurrency, 3);
  corun_job_free(job);
}

Test(jobfile, version_message_shows_the_value_written)
{
  /*
   * %g-style formatting turns 1.0000001 into "1", giving the
   * self-contradicting "unsupported format version 1 (... must be 1)".
   */
  expect_invalid("{\"corun\": 1.0000001, \"tasks\": []}", "1.0000001",
                 "version 1 (");
  expect_invalid("{\"corun\": 4294967297, \"tasks\": []}", "4294967297", NULL);
}

Test(jobfile, version_one_forms)
{
  struct corun_job *job = load_ok("{\"corun\": 1, \"tasks\": []}");

  corun_job_free(job);
  job = load_ok("{\"corun\": 1.0, \"tasks\": []}");
  corun_job_free(job);
  job = load_ok("{\"corun\": 1e0, \"tasks\": []}");
  corun_job_free(job);
}

/* ---- unknown and misspelt fields ---- */

Test(jobfile, unknown_fields_reported_even_without_kind)
{
  /*
   * Keys match case-sensitively, so "Kind" is not "kind". Saying only
   * "missing required field \"kind\"" hides why: the misspelt field must
   * be reported, with its suggestion, as everywhere else. The suggestion
   * says the field is missing, so that line is not repeated.
   */
  const char *text = "{\"tasks\": [{\"Kind\": \"sleep\", \"seconds\": 0}]}";

  expect_invalid(text, "unknown field \"Kind\" (did you mean \"kind\"?)",
                 "missing required field");
  /* A typo suggesting another field leaves the missing one reported. */
  expect_invalid("{\"tasks\": [{\"kind\": \"sleep\", \"tiemout\": 1}]}",
                 "missing required field \"seconds\"", NULL);
  /* Nor does one task's typo hide another task's missing field. */
  expect_invalid(
      "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 1},"
      " {\"kind\": \"sleep\"}, {\"kind\": \"sleep\", \"secnds\": 1}]}",
      "task \"task2\": missing required field \"seconds\"",
      "task \"task3\": missing");
  /* In a pipeline stage's task too. */
  expect_invalid("{\"tasks\": [{\"kind\": \"pipeline\", \"source\": "
                 "{\"range\": [0, 2]}, \"stages\": [{\"task\": "
                 "{\"kind\": \"sleep\", \"secnds\": 1}}]}]}",
                 "(did you mean \"seconds\"?)", "missing required field");
}

Test(jobfile, case_sensitive_keys_everywhere)
{
  char *diag = load_err("{\"tasks\": [], \"Name\": \"x\"}");

  assert_contains(diag, "unknown field \"Name\" (did you mean \"name\"?)");
  free(diag);
  diag = load_err("{\"tasks\": [], \"defaults\": {\"Timeout\": 1}}");
  assert_contains(diag, "\"defaults\": unknown field \"Timeout\"");
  free(diag);
  diag = load_err("{\"tasks\": [{\"kind\": \"sleep\", \"Seconds\": 1}]}");
  assert_contains(diag,
                  "unknown field \"Seconds\" (did you mean \"seconds\"?)");
  free(diag);
}

Test(jobfile, every_error_is_reported)
{
  /* Not just the first: all four problems, in file order. */
  char *diag = load_err("{\"tasks\": [\n"
                        "{\"kind\": \"sleep\", \"seconds\": -1},\n"
                        "{\"kind\": \"sleep\", \"seconds\": 0, \"x\": 1},\n"
                        "{\"kind\": \"gather\"},\n"
                        "{\"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
                        "\"nope\"}]}");

  cr_assert_eq(count_lines(diag), 4, "%s", diag);
  cr_assert(strstr(diag, "test.json:2:") < strstr(diag, "test.json:3:"));
  cr_assert(strstr(diag, "test.json:3:") < strstr(diag, "test.json:4:"));
  cr_assert(strstr(diag, "test.json:4:") < strstr(diag, "test.json:5:"));
  free(diag);
}

/* ---- templates and vars ---- */

Test(jobfile, vars_substitute)
{
  char *out = output_of("{\"vars\": {\"who\": \"World\", \"n\": \"2\"}, "
                        "\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, "
                        "\"message\": \"Hello, ${who} x${n}\"}]}",
                        NULL);

  cr_assert_str_eq(out, "Hello, World x2\n");
  free(out);
}

Test(jobfile, templates_in_every_string_field)
{
  /* ids, "after" entries, "limit" and durations are strings too. */
  struct corun_job *job = load_ok(
      "{\"vars\": {\"p\": \"build\", \"d\": \"2s\", \"l\": \"api\"},"
      " \"limits\": {\"api\": 1},"
      " \"tasks\": [{\"id\": \"${p}-1\", \"kind\": \"sleep\", \"seconds\": 0},"
      "  {\"id\": \"${p}-2\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"${p}-1\"], \"timeout\": \"${d}\", \"limit\": \"${l}\"}]}");

  cr_assert_str_eq(described(job, "build-2"),
                   "build-2 (sleep) after build-1 timeout 2s limit api");
  corun_job_free(job);
}

Test(jobfile, templates_in_nested_values)
{
  char *out;
  char *report = NULL;

  out = run_loaded(
      load_ok("{\"vars\": {\"v\": \"deep\"}, \"tasks\": [{\"id\": \"r\", "
              "\"kind\": \"sleep\", \"seconds\": 0, \"result\": {\"a\": "
              "[\"${v}\", {\"b\": \"x${v}\"}], \"${v}\": 1}}]}"),
      &report);
  assert_contains(report, "\"result\": {\"a\": [\"deep\", {\"b\": \"xdeep\"}]");
  free(report);
  free(out);
}

Test(jobfile, var_overrides)
{
  static const char *const vars[] = {"who=CLI", "extra=new=value"};
  struct corun_load_opts o = {.vars = vars, .nvars = 2};
  char *out = output_of(
      "{\"vars\": {\"who\": \"file\"}, \"tasks\": [{\"kind\": \"sleep\", "
      "\"seconds\": 0, \"message\": \"${who} ${extra}\"}]}",
      &o);

  /* Overrides win; a name the file lacks is added; "=" may be in values. */
  cr_assert_str_eq(out, "CLI new=value\n");
  free(out);
}

Test(jobfile, var_overrides_without_vars_in_file)
{
  static const char *const vars[] = {"who=CLI"};
  struct corun_load_opts o = {.vars = vars, .nvars = 1};
  char *out = output_of("{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, "
                        "\"message\": \"${who}\"}]}",
                        &o);

  cr_assert_str_eq(out, "CLI\n");
  free(out);
}

Test(jobfile, var_override_replaces_before_expansion)
{
  /* The file's value (an unset env) is never used, so it is no error. */
  static const char *const vars[] = {"k=given"};
  struct corun_load_opts o = {.vars = vars, .nvars = 1};
  char *out = output_of("{\"vars\": {\"k\": \"${env:" UNSET_ENV "}\"}, "
                        "\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, "
                        "\"message\": \"${k}\"}]}",
                        &o);

  cr_assert_str_eq(out, "given\n");
  free(out);
}

Test(jobfile, var_override_must_be_name_equals_value)
{
  static const char *const novalue[] = {"who"};
  static const char *const noname[] = {"=x"};
  struct corun_load_opts o = {.vars = novalue, .nvars = 1};
  struct corun_job *job = NULL;
  char *diag;

  cr_assert_eq(load_with("{\"tasks\": []}", &o, &job, &diag), CORUN_EUSAGE);
  cr_assert_null(job);
  free(diag);
  o.vars = noname;
  cr_assert_eq(load_with("{\"tasks\": []}", &o, &job, &diag), CORUN_EUSAGE);
  cr_assert_null(job);
  free(diag);
}

Test(jobfile, literal_dollar_brace)
{
  char *out = output_of(
      "{\"vars\": {\"a\": \"A\", \"lit\": \"$${x}\"}, \"tasks\": [{\"kind\": "
      "\"sleep\", \"seconds\": 0, \"message\": \"$${a} ${a} ${lit}\"}]}",
      NULL);

  /* Also inside a var: its "${x}" stays literal when used. */
  cr_assert_str_eq(out, "${a} A ${x}\n");
  free(out);
}

Test(jobfile, env_fallback_when_unset)
{
  char *out = output_of("{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, "
                        "\"message\": \"${env:" UNSET_ENV ":-plan B}\"}]}",
                        NULL);

  cr_assert_str_eq(out, "plan B\n");
  free(out);
}

Test(jobfile, env_unset_is_an_error_naming_it)
{
  char *diag = load_err("{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, "
                        "\"message\": \"${env:" UNSET_ENV "}\"}]}");

  assert_contains(diag, "test.json:1:");
  assert_contains(diag, "task \"task1\": \"message\"");
  assert_contains(diag, UNSET_ENV " is not set");
  free(diag);
}

Test(jobfile, template_error_in_name_names_the_field)
{
  /* Every other template error says which field it is in. */
  const char *text = "{\"name\": \"${nope}\", \"tasks\": []}";

  expect_invalid(text, "unknown variable \"${nope}\"", NULL);
  expect_invalid(text, "\"name\"", NULL);
}

Test(jobfile, vars_may_use_env_but_not_vars)
{
  char *out, *diag;

  setenv("CORUN_TEST_JF_TOKEN", "tok-123", 1);
  out = output_of("{\"vars\": {\"t\": \"Bearer ${env:CORUN_TEST_JF_TOKEN}\"}, "
                  "\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, "
                  "\"message\": \"len ${t}\"}]}",
                  NULL);
  /* The value came from the environment, so even task output hides it. */
  cr_assert_str_eq(out, "len Bearer ***\n");
  free(out);
  diag = load_err("{\"vars\": {\"a\": \"x\", \"b\": \"${a}\"}, \"tasks\": []}");
  assert_contains(diag, "may only use ${env:...}");
  free(diag);
}

Test(jobfile, env_values_are_secrets)
{
  struct corun_job *job;
  struct corun_buf b = CORUN_BUF_INIT;
  char *out, *report = NULL;

  setenv("CORUN_TEST_JF_SECRET", "p4ss-w0rd", 1);
  job = load_ok("{\"name\": \"job-${env:CORUN_TEST_JF_SECRET}\", "
                "\"vars\": {\"pw\": \"${env:CORUN_TEST_JF_SECRET}\"}, "
                "\"tasks\": ["
                "{\"id\": \"ok\", \"kind\": \"sleep\", \"seconds\": 0, "
                "\"message\": \"pw=${pw}\", \"result\": {\"k\": \"${pw}\"}},"
                "{\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0, "
                "\"fail\": \"denied for ${env:CORUN_TEST_JF_SECRET}\"}]}");
  corun_job_redact(job, "say p4ss-w0rd twice: p4ss-w0rd", &b);
  cr_assert_str_eq(corun_buf_str(&b), "say *** twice: ***");
  corun_buf_free(&b);
  out = run_loaded(job, &report);
  cr_assert_str_eq(out, "pw=***\n");
  assert_lacks(report, "p4ss-w0rd");
  assert_contains(report, "\"job\": \"job-***\"");
  assert_contains(report, "\"result\": {\"k\": \"***\"}");
  assert_contains(report, "\"message\": \"denied for ***\"");
  free(out);
  free(report);
}

Test(jobfile, secrets_redacted_in_diagnostics)
{
  char *diag;

  setenv("CORUN_TEST_JF_SECRET", "p4ss-w0rd", 1);
  diag = load_err("{\"tasks\": [{\"id\": \"${env:CORUN_TEST_JF_SECRET}!\", "
                  "\"kind\": \"sleep\", \"seconds\": 0}]}");
  assert_lacks(diag, "p4ss-w0rd");
  assert_contains(diag, "***");
  free(diag);
}

Test(jobfile, fallback_values_are_not_secrets)
{
  struct corun_job *job =
      load_ok("{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0, \"message\": "
              "\"${env:" UNSET_ENV ":-public}\"}]}");
  struct corun_buf b = CORUN_BUF_INIT;

  corun_job_redact(job, "public", &b);
  cr_assert_str_eq(corun_buf_str(&b), "public");
  corun_buf_free(&b);
  corun_job_free(job);
}

/* ---- defaults ---- */

Test(jobfile, defaults_apply_where_unset)
{
  struct corun_job *job = load_ok(
      "{\"defaults\": {\"timeout\": \"2s\"}, \"tasks\": ["
      "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"own\", \"kind\": \"sleep\", \"seconds\": 0, \"timeout\": "
      "0.25},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": [{\"id\": \"c\", "
      "\"kind\": \"sleep\", \"seconds\": 0}]}]}");

  cr_assert_str_eq(described(job, "d"), "d (sleep) timeout 2s");
  /* A task's own value wins. */
  cr_assert_str_eq(described(job, "own"), "own (sleep) timeout 0.25s");
  /* Parents and children alike. */
  cr_assert_str_eq(described(job, "g"), "g (gather) timeout 2s");
  cr_assert_str_eq(described(job, "c"), "c (sleep) timeout 2s");
  corun_job_free(job);
}

Test(jobfile, no_defaults_no_timeout)
{
  struct corun_job *job = load_ok(
      "{\"tasks\": [{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0}]}");

  cr_assert_str_eq(described(job, "d"), "d (sleep)");
  corun_job_free(job);
}

Test(jobfile, defaults_for_kind_fields)
{
  /* "seconds" and "message" reach sleeps; the gather ignores them. */
  char *out = output_of("{\"defaults\": {\"seconds\": 0, \"message\": \"hi\", "
                        "\"return_when\": \"first_completed\"}, \"tasks\": ["
                        "{\"kind\": \"gather\", \"tasks\": ["
                        "{\"kind\": \"sleep\"},"
                        "{\"kind\": \"sleep\", \"message\": \"own\"}]}]}",
                        NULL);

  cr_assert_str_eq(out, "hi\nown\n");
  free(out);
}

Test(jobfile, defaults_limit)
{
  struct corun_job *job =
      load_ok("{\"limits\": {\"api\": 2, \"db\": 1}, \"defaults\": {\"limit\": "
              "\"api\"}, \"tasks\": ["
              "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},"
              "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
              "\"db\"}]}");

  cr_assert_str_eq(described(job, "a"), "a (sleep) limit api");
  cr_assert_str_eq(described(job, "b"), "b (sleep) limit db");
  corun_job_free(job);
}

Test(jobfile, defaults_unknown_field)
{
  char *diag = load_err("{\"defaults\": {\"retires\": 1}, \"tasks\": []}");

  assert_contains(diag, "\"defaults\": unknown field \"retires\"");
  free(diag);
}

Test(jobfile, defaults_values_are_checked_even_if_unused)
{
  /*
   * The whole file is validated before anything runs: a bad default is an
   * error in the file whether or not some task happens to take it.
   */
  expect_invalid("{\"defaults\": {\"timeout\": \"bogus\"}, \"tasks\": []}",
                 "\"defaults\": \"timeout\"", NULL);
  expect_invalid("{\"defaults\": {\"return_when\": \"whenever\"}, "
                 "\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}]}",
                 "\"return_when\"", NULL);
}

Test(jobfile, defaults_templates_expand)
{
  char *out = output_of("{\"vars\": {\"w\": \"there\"}, \"defaults\": "
                        "{\"message\": \"hi ${w}\"}, \"tasks\": "
                        "[{\"kind\": \"sleep\", \"seconds\": 0}]}",
                        NULL);

  cr_assert_str_eq(out, "hi there\n");
  free(out);
}

/* ---- generated ids ---- */

Test(jobfile, generated_ids)
{
  struct corun_job *job = load_ok(
      "{\"tasks\": ["
      "{\"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"named\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"kind\": \"gather\", \"tasks\": ["
      "  {\"kind\": \"sleep\", \"seconds\": 0},"
      "  {\"kind\": \"wait\", \"tasks\": [{\"kind\": \"sleep\", \"seconds\": "
      "0}]}]},"
      "{\"kind\": \"sleep\", \"seconds\": 0}]}");
  static const char *const want[] = {"task1",   "named",     "task3", "task3.1",
                                     "task3.2", "task3.2.1", "task4"};
  size_t i;

  /* N counts root tasks, named or not, never children. */
  cr_assert_eq(job->ntasks, 7);
  for (i = 0; i < 7; i++)
    cr_expect_str_eq(job->tasks[i]->id, want[i], "task %zu", i);
  cr_assert_eq(job->nroots, 4);
  cr_assert_str_eq(job->roots[3]->id, "task4");
  corun_job_free(job);
}

Test(jobfile, generated_ids_use_a_parent_id_given_after_tasks)
{
  /* The parent's "id" comes after its "tasks" in the object. */
  struct corun_job *job = load_ok(
      "{\"tasks\": [{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}, "
      "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}], \"kind\": "
      "\"gather\", \"id\": \"inner\"}], \"kind\": \"gather\", \"id\": "
      "\"outer\"}]}");

  cr_assert_str_eq(job->tasks[0]->id, "outer");
  cr_assert_str_eq(job->tasks[1]->id, "outer.1");
  cr_assert_str_eq(job->tasks[2]->id, "inner");
  cr_assert_str_eq(job->tasks[3]->id, "inner.1");
  cr_assert_eq(job->tasks[3]->parent, job->tasks[2]);
  cr_assert_eq(job->tasks[2]->parent, job->tasks[0]);
  corun_job_free(job);
}

Test(jobfile, after_may_name_generated_ids)
{
  struct corun_job *job = load_ok(
      "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0},"
      "{\"kind\": \"gather\", \"tasks\": [{\"kind\": \"sleep\", \"seconds\": "
      "0}]},"
      "{\"id\": \"last\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"task1\", \"task2.1\"]}]}");

  cr_assert_str_eq(described(job, "last"), "last (sleep) after task1,task2.1");
  corun_job_free(job);
}

Test(jobfile, error_messages_use_generated_ids)
{
  char *diag = load_err(
      "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0},"
      "{\"kind\": \"gather\", \"tasks\": [{\"kind\": \"sleep\", \"seconds\": "
      "\"x\"}]}]}");

  assert_contains(diag, "task \"task2.1\": \"seconds\"");
  free(diag);
}

Test(jobfile, duplicate_ids_whichever_comes_first)
{
  /* An explicit id may clash with a generated one before or after it. */
  expect_invalid("{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}, "
                 "{\"id\": \"task1\", \"kind\": \"sleep\", \"seconds\": 0}]}",
                 "duplicate task id \"task1\"", NULL);
  expect_invalid("{\"tasks\": [{\"id\": \"task2\", \"kind\": \"sleep\", "
                 "\"seconds\": 0}, {\"kind\": \"sleep\", \"seconds\": 0}]}",
                 "duplicate task id \"task2\" (generated", NULL);
  expect_invalid(
      "{\"tasks\": [{\"kind\": \"gather\", \"tasks\": [{\"kind\": \"sleep\", "
      "\"seconds\": 0}]}, {\"id\": \"task1.1\", \"kind\": \"sleep\", "
      "\"seconds\": 0}]}",
      "duplicate task id \"task1.1\"", NULL);
  /* With "after" in the file too, which some loaders treat differently. */
  expect_invalid("{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}, "
                 "{\"id\": \"task1\", \"kind\": \"sleep\", \"seconds\": 0, "
                 "\"after\": [\"task1\"]}]}",
                 "duplicate task id \"task1\"", NULL);
}

/* ---- after ---- */

Test(jobfile, after_builds_the_graph)
{
  struct corun_job *job = load_ok(
      "{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"a\", \"a\"]},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"d\", \"b\"]},"
      "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0}]}");

  /* Naming a task twice means once; forward references are fine. */
  cr_assert_str_eq(described(job, "b"), "b (sleep) after a");
  cr_assert_str_eq(described(job, "c"), "c (sleep) after d,b");
  cr_assert_eq(job->nedges, 3);
  corun_job_free(job);
}

Test(jobfile, cycle_message_lists_the_cycle)
{
  char *diag = load_err(
      "{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"b\"]}, {\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": "
      "0, \"after\": [\"a\"]}, {\"id\": \"free\", \"kind\": \"sleep\", "
      "\"seconds\": 0}]}");

  assert_contains(diag, "forms a cycle");
  assert_contains(diag, "\"a\" runs after \"b\"");
  assert_contains(diag, "\"b\" runs after \"a\"");
  assert_lacks(diag, "\"free\"");
  cr_assert_eq(count_lines(diag), 1, "%s", diag);
  free(diag);
}

/* ---- regressions from review ---- */

Test(jobfile, nested_use_of_one_limit_is_an_error)
{
  expect_invalid("{\"limits\": {\"L\": 1}, \"tasks\": [{\"id\": \"g\", "
                 "\"kind\": \"gather\", \"limit\": \"L\", \"tasks\": [{\"id\": "
                 "\"c\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
                 "\"L\"}]}]}",
                 "test.json:1:138: error: task \"c\": \"limit\" \"L\" is "
                 "already held by its ancestor \"g\"",
                 NULL);
}

Test(jobfile, non_string_var_is_an_error_not_a_crash)
{
  expect_invalid("{\"vars\": {\"x\": 1}, \"tasks\": [{\"kind\": \"sleep\", "
                 "\"seconds\": 0, \"message\": \"${x}\"}]}",
                 "variable \"x\" is not a string", NULL);
  expect_invalid("{\"vars\": {\"x\": null}, \"tasks\": [{\"kind\": \"sleep\", "
                 "\"seconds\": 0, \"message\": \"${x}\"}]}",
                 "\"vars\": \"x\" must be a string", NULL);
}

Test(jobfile, var_option_with_a_bad_vars_field_frees_everything)
{
  /* Under LeakSanitizer this failed: the --var object was never freed. */
  const char *vars[] = {"a=b"};
  struct corun_load_opts o = {.vars = vars, .nvars = 1};
  struct corun_job *job = NULL;
  char *diag = NULL;

  cr_assert_eq(load_with("{\"vars\": [], \"tasks\": []}", &o, &job, &diag),
               CORUN_EINVAL);
  cr_assert_not_null(strstr(diag, "\"vars\" must be an object"));
  free(diag);
}

Test(jobfile, limit_rate_may_be_a_template)
{
  struct corun_job *job =
      load_opts_ok("{\"vars\": {\"r\": \"5/s\"}, \"limits\": {\"L\": "
                   "{\"rate\": \"${r}\"}}, \"tasks\": []}",
                   NULL);

  cr_assert_eq(job->nlimits, 1);
  cr_assert_float_eq(job->limits[0]->rate.interval_ms, 200.0, 1e-9);
  corun_job_free(job);
  expect_invalid("{\"limits\": {\"L\": {\"rate\": \"1e-12/s\"}}, "
                 "\"tasks\": []}",
                 "\"rate\" is too slow", NULL);
}

Test(jobfile, defaults_suggest_fields_of_every_kind)
{
  /* The candidates come from the kind table, fetch and exec included. */
  expect_invalid("{\"defaults\": {\"retires\": 2}, \"tasks\": []}",
                 "\"defaults\": unknown field \"retires\" (did you mean "
                 "\"retries\"?)",
                 NULL);
  expect_invalid("{\"defaults\": {\"kil_grace\": 1}, \"tasks\": []}",
                 "(did you mean \"kill_grace\"?)", NULL);
}

/* ---- what can be checked before the run ---- */

Test(jobfile, missing_cwd_lines_and_program_are_load_errors)
{
  char *dir = tmp_dir("jobfile"), *script = path_join(dir, "script.sh");
  char text[4096], *diag;
  FILE *f = fopen(script, "w");

  cr_assert_not_null(f);
  fputs("#!/bin/sh\n", f);
  fclose(f); /* not executable */
  snprintf(text, sizeof(text),
           "{\"tasks\": [\n"
           "{\"id\": \"c\", \"kind\": \"exec\", \"argv\": [\"true\"], "
           "\"cwd\": \"%s/nope\"},\n"
           "{\"id\": \"l\", \"kind\": \"pipeline\", \"source\": {\"lines\": "
           "\"%s/nope.txt\"}, \"stages\": [{\"task\": {\"kind\": \"sleep\", "
           "\"seconds\": 0}}]},\n"
           "{\"id\": \"p\", \"kind\": \"exec\", \"argv\": "
           "[\"corun-no-such-program\"]},\n"
           "{\"id\": \"e\", \"kind\": \"exec\", \"argv\": [\"true\"], "
           "\"env\": {\"PATH\": \"%s\"}},\n"
           "{\"id\": \"x\", \"kind\": \"exec\", \"argv\": [\"%s\"]},\n"
           "{\"id\": \"f\", \"kind\": \"exec\", \"argv\": [\"true\"], "
           "\"cwd\": \"%s\"}]}",
           dir, dir, dir, script, script);
  diag = load_err(text);
  cr_assert(strstr(diag, "test.json:2:"), "%s", diag);
  cr_assert(strstr(diag, "task \"c\": \"cwd\" \"") &&
                strstr(diag, "/nope\": no such directory"),
            "%s", diag);
  cr_assert(strstr(diag, "test.json:3:"), "%s", diag);
  cr_assert(strstr(diag, "task \"l\": \"source\": lines file \"") &&
                strstr(diag, "/nope.txt\": no such file"),
            "%s", diag);
  cr_assert(strstr(diag, "test.json:4:") &&
                strstr(diag, "task \"p\": \"argv\": program "
                             "\"corun-no-such-program\" is not found in PATH"),
            "%s", diag);
  /* The task's own PATH is where it is looked up. */
  cr_assert(strstr(diag, "task \"e\": \"argv\": program \"true\" is not "
                         "found in the PATH set by \"env\""),
            "%s", diag);
  cr_assert(strstr(diag, "task \"x\": \"argv\": program \"") &&
                strstr(diag, "\" is not an executable file"),
            "%s", diag);
  cr_assert(strstr(diag, "task \"f\": \"cwd\" \"") &&
                strstr(diag, "\" is not a directory"),
            "%s", diag);
  free(diag);
  unlink(script);
  rmdir(dir);
  free(script);
  free(dir);
}

/* Never refuse a job where something that runs first could make the thing. */
Test(jobfile, checks_before_the_run_leave_what_the_job_may_make)
{
  char text[4096];
  struct corun_job *job;

  snprintf(text, sizeof(text),
           "{\"tasks\": ["
           "{\"id\": \"mk\", \"kind\": \"exec\", \"shell\": "
           "\"corun-no-such-program\"},"
           /* after another task, itself or through its container */
           "{\"id\": \"a\", \"kind\": \"exec\", \"argv\": "
           "[\"corun-no-such-program\"], \"cwd\": \"/nonexistent-corun\", "
           "\"after\": [\"mk\"]},"
           "{\"id\": \"g\", \"kind\": \"gather\", \"after\": [\"mk\"], "
           "\"tasks\": [{\"kind\": \"pipeline\", \"source\": {\"lines\": "
           "\"/nonexistent-corun/in.txt\"}, \"stages\": [{\"task\": "
           "{\"kind\": \"sleep\", \"seconds\": 0}}]}]},"
           /* written by another task: a save makes its directories */
           "{\"id\": \"dl\", \"kind\": \"fetch\", \"url\": "
           "\"http://127.0.0.1:1/\", \"save\": "
           "\"/nonexistent-corun/made/./list.txt\"},"
           "{\"id\": \"l\", \"kind\": \"pipeline\", \"source\": {\"lines\": "
           "\"/nonexistent-corun/made/list.txt\"}, \"stages\": [{\"task\": "
           "{\"kind\": \"sleep\", \"seconds\": 0}}]},"
           "{\"id\": \"c\", \"kind\": \"exec\", \"argv\": [\"./run.sh\"], "
           "\"cwd\": \"/nonexistent-corun/made\"},"
           /* per item, so not known before the run */
           "{\"id\": \"s\", \"kind\": \"pipeline\", \"source\": {\"items\": "
           "[1]}, \"stages\": [{\"task\": {\"kind\": \"exec\", \"argv\": "
           "[\"corun-no-such-${item}\"], \"cwd\": "
           "\"/nonexistent-corun/${item}\"}}]}]}");
  job = load_ok(text);
  corun_job_free(job);
}

/* A relative PATH entry is where the program starts: its cwd. */
Test(jobfile, program_found_through_a_relative_path_entry_of_env)
{
  char *dir = tmp_dir("jobfile"), *bin = path_join(dir, "bin");
  char *prog = path_join(bin, "corun-test-prog"), text[2048];
  struct corun_job *job;
  FILE *f;

  cr_assert_eq(mkdir(bin, 0755), 0);
  f = fopen(prog, "w");
  cr_assert_not_null(f);
  fputs("#!/bin/sh\n", f);
  fclose(f);
  cr_assert_eq(chmod(prog, 0755), 0);
  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"kind\": \"exec\", \"argv\": "
           "[\"corun-test-prog\"], \"cwd\": \"%s\", \"env\": {\"PATH\": "
           "\"/nonexistent-corun:bin\"}}]}",
           dir);
  job = load_ok(text);
  corun_job_free(job);
  unlink(prog);
  rmdir(bin);
  rmdir(dir);
  free(prog);
  free(bin);
  free(dir);
}

/*
 * What a template's task may not take from the item comes from the kind's
 * table (a wait's "cancel_pending"); a field its kind does not have is
 * said to be one, in a stage's task as anywhere.
 */
Test(jobfile, stage_task_fields_follow_the_kind_table)
{
  expect_invalid("{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
                 "\"source\": {\"items\": [true]}, \"stages\": [{\"task\": "
                 "{\"kind\": \"wait\", \"cancel_pending\": \"${item}\", "
                 "\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}]}}]}]}",
                 "task \"p\": stage 1 task: \"cancel_pending\" must be true "
                 "or false, not a string",
                 NULL);
  expect_invalid("{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
                 "\"source\": {\"range\": [0, 2]}, \"stages\": [{\"task\": "
                 "{\"kind\": \"gather\", \"cancel_pending\": true, "
                 "\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}]}}]}]}",
                 "task \"p\": field \"cancel_pending\" does not apply to "
                 "kind \"gather\"",
                 NULL);
}

/* "$schema" (how editors find a schema) is taken and ignored; a string. */
Test(jobfile, a_schema_key_is_accepted_and_ignored)
{
  struct corun_job *job = load_ok(
      "{\"$schema\": \"https://example.invalid/corun.schema.json\", "
      "\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}]}");
  char *d = load_err("{\"$schema\": 1, \"tasks\": []}");

  cr_expect_eq(job->ntasks, 1);
  cr_expect_not_null(strstr(d, ":1:13: error: \"$schema\" must be a string"),
                     "%s", d);
  corun_job_free(job);
  free(d);
}

/*
 * A job file is mapped, and the task reader gives back the pages it has
 * passed: a big file is not resident beside the tasks made of it. Two
 * children load the same tasks, one file padded with 64 MiB of spaces
 * between them: the padded one must not be as much bigger.
 */
static char *write_padded_job(size_t pad)
{
  char path[] = "/tmp/corun-test-pad-XXXXXX";
  int fd = mkstemp(path);
  FILE *f;
  char *spaces = malloc(pad + 1);
  int i;

  cr_assert_geq(fd, 0);
  cr_assert_not_null(spaces);
  memset(spaces, ' ', pad);
  spaces[pad] = '\0';
  f = fdopen(fd, "w");
  cr_assert_not_null(f);
  fputs("{\"tasks\":[\n", f);
  for (i = 0; i < 1024; i++)
    fprintf(f, "%s{\"kind\":\"sleep\",\"seconds\":0}%s", i ? "," : "",
            spaces);
  fputs("\n]}\n", f);
  cr_assert_eq(fclose(f), 0);
  free(spaces);
  return strdup(path);
}

static long load_in_child_kb(const char *path)
{
  struct rusage ru;
  int status;
  pid_t pid = fork();

  cr_assert_geq(pid, 0);
  if (pid == 0) {
    struct corun_job *job = NULL;
    struct corun_error err = {0};
    enum corun_code code = corun_job_load(&job, path, NULL, NULL, &err);

    corun_job_free(job);
    _exit(code == CORUN_OK ? 0 : 1);
  }
  cr_assert_eq(wait4(pid, &status, 0, &ru), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return ru.ru_maxrss;
}

Test(jobfile, a_mapped_file_is_given_back_as_it_is_read)
{
  char *plain = write_padded_job(0), *padded = write_padded_job(64 << 10);
  long plain_kb, padded_kb;

  plain_kb = load_in_child_kb(plain);
  unlink(plain);
  padded_kb = load_in_child_kb(padded);
  unlink(padded);
  free(plain);
  free(padded);
  /* Resident whole, the padding would add 64 MiB. */
  cr_assert_lt(padded_kb, plain_kb + 24 * 1024, "%ld KiB against %ld KiB",
               padded_kb, plain_kb);
}

/* Messages still place what the reader had passed, from the file again. */
Test(jobfile, messages_place_text_given_back)
{
  char path[] = "/tmp/corun-test-pad-XXXXXX";
  int fd = mkstemp(path);
  FILE *f;
  struct corun_job *job = NULL;
  struct corun_error err = {0};
  struct corun_buf diag = CORUN_BUF_INIT;
  enum corun_code code;
  char want[200];
  int i;

  cr_assert_geq(fd, 0);
  f = fdopen(fd, "w");
  cr_assert_not_null(f);
  fputs("{\"tasks\":[\n{\"id\":\"x\",\"kind\":\"sleep\",\"seconds\":0}", f);
  /* 16 MiB of tasks on line 2, then the clash on line 3. */
  for (i = 0; i < (16 << 20) / 32; i++)
    fputs(",{\"kind\":\"sleep\",\"seconds\":0}  ", f);
  fputs(",\n  {\"id\":\"x\",\"kind\":\"sleep\",\"seconds\":0}]}\n", f);
  cr_assert_eq(fclose(f), 0);
  code = corun_job_load(&job, path, NULL, &diag, &err);
  unlink(path);
  cr_assert_eq(code, CORUN_EINVAL);
  snprintf(want, sizeof(want),
           "%s:3:9: error: duplicate task id \"x\" (first used at line 2)",
           path);
  assert_contains(corun_buf_str(&diag), want);
  corun_buf_free(&diag);
}

/*
 * Children that are the tasks right after their parent, none with children
 * of their own, are that run of the job's task array (no array of their
 * own: 8 bytes a child of a million-task gather); others keep their own.
 */
Test(jobfile, flat_children_are_the_task_array)
{
  struct corun_job *job = load_ok(
      "{\"tasks\": [{\"id\": \"flat\", \"kind\": \"gather\", \"tasks\": ["
      "{\"kind\": \"sleep\", \"seconds\": 0}, {\"kind\": \"sleep\", "
      "\"seconds\": 0}]}, {\"id\": \"nested\", \"kind\": \"gather\", "
      "\"tasks\": [{\"kind\": \"gather\", \"tasks\": [{\"kind\": \"sleep\", "
      "\"seconds\": 0}]}, {\"kind\": \"sleep\", \"seconds\": 0}]}]}");
  struct corun_task *flat = job->tasks[0], *nested = job->tasks[3];

  cr_assert_str_eq(flat->id, "flat");
  cr_assert_eq(flat->nchildren, 2);
  cr_assert_eq(flat->children, &job->tasks[1]);
  cr_assert_str_eq(flat->children[1]->id, "flat.2");
  cr_assert_eq(flat->children[1]->parent, flat);
  cr_assert_str_eq(nested->id, "nested");
  cr_assert_eq(nested->nchildren, 2);
  /* Its second child comes after its first one's child: not a run. */
  cr_assert(nested->children < job->tasks ||
            nested->children >= job->tasks + job->ntasks);
  cr_assert_str_eq(nested->children[1]->id, "nested.2");
  /* The inner gather's one child is the task right after it. */
  cr_assert_eq(nested->children[0]->children, &job->tasks[5]);
  corun_job_free(job);
}

/*
 * Plain sleeps ({"kind": "sleep", "seconds": N}) are read straight from
 * the text (load/tasks.c); everything else the general way. Both must
 * make the same job and say the same errors: each text here is loaded
 * both ways and the results compared, task by task.
 */
struct both_ways {
  enum corun_code code;
  char *diag;
  char *dry;
  struct corun_job *job;
};

static void load_one_way(const char *text, int plain, struct both_ways *out)
{
  struct corun_buf diag = CORUN_BUF_INIT, dry = CORUN_BUF_INIT;
  struct corun_error err = {0};

  corun__load_plain_sleeps = plain;
  out->code = corun_job_load_text(&out->job, text, strlen(text), "test.json",
                                  ".", NULL, &diag, &err);
  corun__load_plain_sleeps = 1;
  if (out->job)
    corun_job_dry_run(out->job, &dry);
  out->diag = corun_buf_detach(&diag);
  out->dry = corun_buf_detach(&dry);
}

static long index_of(const struct corun_task *t)
{
  return t ? (long)t->index : -1;
}

static void assert_same_both_ways(const char *text)
{
  struct both_ways a = {0}, b = {0};
  size_t i;

  load_one_way(text, 1, &a);
  load_one_way(text, 0, &b);
  cr_assert_eq(a.code, b.code, "%s", text);
  cr_assert_str_eq(a.diag ? a.diag : "", b.diag ? b.diag : "", "%s", text);
  cr_assert_str_eq(a.dry ? a.dry : "", b.dry ? b.dry : "", "%s", text);
  cr_assert_eq(a.job == NULL, b.job == NULL, "%s", text);
  if (a.job) {
    cr_assert_eq(a.job->ntasks, b.job->ntasks, "%s", text);
    cr_assert_eq(a.job->nroots, b.job->nroots, "%s", text);
    for (i = 0; i < a.job->ntasks; i++) {
      const struct corun_task *x = a.job->tasks[i], *y = b.job->tasks[i];

      cr_assert_eq(x->kind, y->kind, "%s: task %zu", text, i);
      cr_assert_str_eq(x->id, y->id, "%s: task %zu", text, i);
      cr_assert_eq(x->index, y->index, "%s: task %zu", text, i);
      cr_assert_eq(index_of(x->parent), index_of(y->parent), "%s", text);
      cr_assert_eq(x->nchildren, y->nchildren, "%s: task %zu", text, i);
      cr_assert_eq(x->flags, y->flags, "%s: task %zu", text, i);
      cr_assert_eq(x->state, y->state, "%s: task %zu", text, i);
      cr_assert_eq(x->timeout == NULL, y->timeout == NULL, "%s", text);
      cr_assert_eq(x->deps == NULL, y->deps == NULL, "%s", text);
      cr_assert_eq(x->limit == NULL, y->limit == NULL, "%s", text);
      cr_assert_eq(x->t_ready, y->t_ready, "%s: task %zu", text, i);
      /* A sleep's own part: no extras (a NULL pointer), then its length. */
      if (x->kind == &corun_kind_sleep) {
        void *xe, *ye;

        memcpy(&xe, x + 1, sizeof(xe));
        memcpy(&ye, y + 1, sizeof(ye));
        cr_assert_eq(xe == NULL, ye == NULL, "%s: task %zu", text, i);
        if (xe == NULL)
          cr_assert_eq(memcmp(x + 1, y + 1, x->kind->size - sizeof(*x)), 0,
                       "%s: task %zu", text, i);
      }
    }
  }
  free(a.diag);
  free(b.diag);
  free(a.dry);
  free(b.dry);
  corun_job_free(a.job);
  corun_job_free(b.job);
}

Test(jobfile, plain_sleeps_load_as_the_general_way_does)
{
  static const char *const sleeps[] = {
      /* plain, in either order, any white space */
      "{\"kind\": \"sleep\", \"seconds\": 1}",
      "{\"seconds\":2,\"kind\":\"sleep\"}",
      " {\n\t\"kind\" :\r\n \"sleep\" , \"seconds\" : 0 } ",
      "{\"kind\": \"sleep\", \"seconds\": 1000000000}",
      "{\"kind\": \"sleep\", \"seconds\": 999999999999999}",
      "{\"kind\": \"sleep\", \"seconds\": 1000000000000000}",
      "{\"kind\": \"sleep\", \"seconds\": 1000000001}",
      /* numbers that are not plain whole ones */
      "{\"kind\": \"sleep\", \"seconds\": 1.5}",
      "{\"kind\": \"sleep\", \"seconds\": 0.0004}",
      "{\"kind\": \"sleep\", \"seconds\": 1e3}",
      "{\"kind\": \"sleep\", \"seconds\": 1E-3}",
      "{\"kind\": \"sleep\", \"seconds\": -1}",
      "{\"kind\": \"sleep\", \"seconds\": -0}",
      "{\"kind\": \"sleep\", \"seconds\": 01}",
      "{\"kind\": \"sleep\", \"seconds\": 1x}",
      "{\"kind\": \"sleep\", \"seconds\": 1e999}",
      "{\"kind\": \"sleep\", \"seconds\": \"1.5s\"}",
      "{\"kind\": \"sleep\", \"seconds\": \"2m\"}",
      "{\"kind\": \"sleep\", \"seconds\": \"x\"}",
      "{\"kind\": \"sleep\", \"seconds\": true}",
      "{\"kind\": \"sleep\", \"seconds\": null}",
      "{\"kind\": \"sleep\", \"seconds\": [1]}",
      /* missing, duplicate, misspelt, escaped */
      "{\"kind\": \"sleep\"}",
      "{\"seconds\": 1}",
      "{}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"seconds\": 1}",
      "{\"kind\": \"sleep\", \"kind\": \"sleep\", \"seconds\": 1}",
      "{\"kind\": \"sleeep\", \"seconds\": 1}",
      "{\"kind\": \"Sleep\", \"seconds\": 1}",
      "{\"kind\": \"sl\\u0065ep\", \"seconds\": 1}",
      "{\"k\\u0069nd\": \"sleep\", \"seconds\": 1}",
      "{\"kind\": \"sleep\", \"secs\": 1}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"foo\": 2}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"url\": \"http://x\"}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"tasks\": []}",
      "{\"kind\": \"fetch\", \"seconds\": 1}",
      "{\"kind\": 7, \"seconds\": 1}",
      /* the other fields a sleep may have */
      "{\"id\": \"s1\", \"kind\": \"sleep\", \"seconds\": 1}",
      "{\"id\": \"bad id\", \"kind\": \"sleep\", \"seconds\": 1}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"id\": \"s2\"}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"message\": \"hi\"}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"result\": {\"a\": 1}}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"fail\": \"no\"}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"timeout\": 5}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"limit\": \"two\"}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"limit\": \"tow\"}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"after\": [\"s1\"]}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"after\": [\"nope\"]}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"name\": \"n\"}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"shield\": true}",
      "{\"kind\": \"sleep\", \"seconds\": 1, \"retries\": 2}",
      "{\"kind\": \"sleep\", \"seconds\": \"${s}\"}",
      "{\"kind\": \"${k}\", \"seconds\": 1}",
      "{\"kind\": \"sleep\", \"seconds\": \"${nope}\"}",
      "{\"kind\": \"sleep\", \"seconds\": \"${s1.x}\"}",
      /* not a task, or not JSON */
      "7",
      "[]",
      "{\"kind\": \"sleep\", \"seconds\": 1,}",
      "{\"kind\": \"sleep\" \"seconds\": 1}",
      "{\"kind\": \"sleep\", \"seconds\" 1}",
      "{\"kind\" \"sleep\", \"seconds\": 1}",
      "{\"kind\": \"sleep\", \"seconds\": 1 /* c */}",
      "{\"kind\": \"sleep\", \"seconds\": 1",
      "{\"kind\": \"sleep\", \"seconds\": ",
      "{\"kind\": \"sleep\", ",
      "{\"kind\": \"sle",
  };
  static const char *const heads[] = {
      "{\"tasks\": [",
      "{\"vars\": {\"s\": \"3\", \"k\": \"sleep\"}, \"limits\": {\"two\": 2}, "
      "\"tasks\": [",
      "{\"defaults\": {\"timeout\": 9}, \"tasks\": [",
      "{\"defaults\": {\"message\": \"d\"}, \"tasks\": [",
      "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": [",
      "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 1}, {\"id\": \"g\", "
      "\"kind\": \"race\", \"tasks\": [",
      /* what the tasks need may come after them */
      "{\"tasks\": [{\"kind\": \"gather\", \"tasks\": [",
      "{\"tasks\": [",
  };
  static const char *const tails[] = {
      "]}",
      "]}",
      "]}",
      "]}",
      "]}]}",
      "]}]}",
      "]}], \"vars\": {\"s\": \"3\", \"k\": \"sleep\"}, \"limits\": "
      "{\"two\": 2}}",
      "], \"defaults\": {\"timeout\": 9}}",
  };
  struct corun_buf text = CORUN_BUF_INIT;
  size_t h, i, j;

  for (h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
    /* Each alone, between plain ones, and all of them at once. */
    for (i = 0; i < sizeof(sleeps) / sizeof(sleeps[0]); i++) {
      corun_buf_reset(&text);
      corun_buf_printf(&text, "%s%s%s", heads[h], sleeps[i], tails[h]);
      assert_same_both_ways(corun_buf_str(&text));
      corun_buf_reset(&text);
      corun_buf_printf(&text,
                       "%s{\"id\": \"s1\", \"kind\": \"sleep\", \"seconds\": "
                       "1}, %s, {\"kind\": \"sleep\", \"seconds\": 2}%s",
                       heads[h], sleeps[i], tails[h]);
      assert_same_both_ways(corun_buf_str(&text));
    }
    corun_buf_reset(&text);
    corun_buf_puts(&text, heads[h]);
    for (i = 0, j = 0; i < sizeof(sleeps) / sizeof(sleeps[0]); i++)
      if (strchr(sleeps[i], '{') && sleeps[i][strlen(sleeps[i]) - 1] == '}')
        corun_buf_printf(&text, "%s%s", j++ ? ", " : "", sleeps[i]);
    corun_buf_puts(&text, tails[h]);
    assert_same_both_ways(corun_buf_str(&text));
  }
  corun_buf_free(&text);
}

/* At the nesting limit, and one past it, both ways agree. */
Test(jobfile, plain_sleeps_at_the_nesting_limit)
{
  struct corun_buf text = CORUN_BUF_INIT;
  int depth, i;

  for (depth = 44; depth <= 48; depth++) {
    corun_buf_reset(&text);
    corun_buf_puts(&text, "{\"tasks\": [");
    for (i = 0; i < depth; i++)
      corun_buf_puts(&text, "{\"kind\": \"gather\", \"tasks\": [");
    corun_buf_puts(&text, "{\"kind\": \"sleep\", \"seconds\": 1}");
    for (i = 0; i < depth; i++)
      corun_buf_puts(&text, "]}");
    corun_buf_puts(&text, "]}");
    assert_same_both_ways(corun_buf_str(&text));
  }
  corun_buf_free(&text);
}

/* A pipeline's stage task is a template, read from its cJSON object. */
Test(jobfile, plain_sleeps_in_templates_load_as_the_general_way_does)
{
  assert_same_both_ways(
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": "
      "{\"items\": [1, 2]}, \"stages\": [{\"task\": {\"kind\": \"sleep\", "
      "\"seconds\": 1}}]}, {\"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"p\"]}]}");
  assert_same_both_ways(
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": "
      "{\"items\": [1, 2]}, \"stages\": [{\"task\": {\"kind\": \"sleep\", "
      "\"seconds\": \"${item}\"}}]}, {\"kind\": \"sleep\", \"seconds\": 1, "
      "\"seconds\": 2}]}");
}

/* An explicit id may be a generated one ("task1", "g.1"): an error. */
Test(jobfile, an_explicit_id_clashing_with_a_generated_one_is_an_error)
{
  char *msg = load_err(
      "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0},\n"
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": [\n"
      "{\"kind\": \"sleep\", \"seconds\": 0}]},\n"
      "{\"id\": \"g.1\", \"kind\": \"sleep\", \"seconds\": 0},\n"
      "{\"id\": \"task1\", \"kind\": \"sleep\", \"seconds\": 0}]}");

  cr_assert(strstr(msg, "duplicate task id \"g.1\"") != NULL, "%s", msg);
  cr_assert(strstr(msg, "duplicate task id \"task1\"") != NULL, "%s", msg);
  free(msg);
  corun_job_free(load_ok("{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", "
                         "\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}]},"
                         "{\"id\": \"g.1x\", \"kind\": \"sleep\", "
                         "\"seconds\": 0}]}"));
}

/* Generated ids number the children from 1, across every carry. */
Test(jobfile, generated_ids_count_up_across_carries)
{
  struct corun_buf text = CORUN_BUF_INIT;
  struct corun_job *jb;
  int i;

  corun_buf_puts(&text, "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", "
                        "\"tasks\": [");
  for (i = 1; i <= 1001; i++)
    corun_buf_printf(&text, "%s{%s\"kind\": \"sleep\", \"seconds\": 0}",
                     i > 1 ? ", " : "", i == 100 ? "\"id\": \"own\", " : "");
  corun_buf_puts(&text, "]}]}");
  jb = load_ok(corun_buf_str(&text));
  cr_assert_eq(jb->ntasks, 1002);
  for (i = 1; i <= 1001; i++) {
    char want[16];

    snprintf(want, sizeof(want), "g.%d", i);
    cr_assert_str_eq(jb->tasks[i]->id, i == 100 ? "own" : want);
  }
  corun_job_free(jb);
  corun_buf_free(&text);
}
