/* SPDX-License-Identifier: MIT */
/*
 * --shard K/N: which tasks each part runs (root tasks joined by "after"
 * stay together; groups dealt by count or by an earlier report's
 * durations; a pipeline with "shard": true split by item), --shard auto
 * from each CI system's variables, the report's "shard" object, and what
 * --check and --dry-run show of a part.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(shard, .timeout = 120);

/* Load text as part k of n (timings: a report path, or NULL). */
static struct corun_job *load_part(const char *text, unsigned k, unsigned n,
                                   const char *timings, struct corun_error *err)
{
  struct corun_load_opts lo = CORUN_LOAD_OPTS_INIT;
  struct corun_buf diag = CORUN_BUF_INIT;
  struct corun_job *job = NULL;
  struct corun_error e = {0};
  enum corun_code code;

  lo.shard_index = k;
  lo.shard_total = n;
  lo.shard_timings = timings;
  code = corun_job_load_text(&job, text, strlen(text), "t.json", ".", &lo,
                             &diag, err ? err : &e);
  if (err == NULL)
    cr_assert_eq(code, CORUN_OK, "load failed: %s %s", e.msg,
                 corun_buf_str(&diag));
  corun_buf_free(&diag);
  return job;
}

/* The ids of the part's tasks in order, space-separated (static). */
static const char *ids_of(const struct corun_job *job)
{
  static char s[4096];
  size_t i, used = 0;

  s[0] = '\0';
  for (i = 0; i < job->ntasks; i++)
    used += (size_t)snprintf(s + used, sizeof(s) - used, "%s%s",
                             i ? " " : "", job->tasks[i]->id);
  return s;
}

/* The ids part k of n runs. */
static char *part_ids(const char *text, unsigned k, unsigned n,
                      const char *timings)
{
  struct corun_job *job = load_part(text, k, n, timings, NULL);
  char *s = strdup(ids_of(job));

  corun_job_free(job);
  return s;
}

static void expect_parts(const char *text, unsigned n, const char *timings,
                         const char *const *want)
{
  unsigned k;

  for (k = 1; k <= n; k++) {
    char *got = part_ids(text, k, n, timings);

    cr_expect_str_eq(got, want[k - 1], "part %u of %u: got \"%s\", not \"%s\"",
                     k, n, got, want[k - 1]);
    free(got);
  }
}

/* ---- the command line ---- */

/* Every variable --shard auto reads, cleared, so the CI's own do not leak. */
#define CLEAN_ENV                                                              \
  "env -u CORUN_SHARD -u CORUN_SHARD_TOTAL -u CI_NODE_INDEX -u "               \
  "CI_NODE_TOTAL -u CIRCLE_NODE_INDEX -u CIRCLE_NODE_TOTAL -u "                \
  "BUILDKITE_PARALLEL_JOB -u BUILDKITE_PARALLEL_JOB_COUNT -u "                 \
  "JOB_COMPLETION_INDEX "

static const char *five =
    "{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"e\", \"kind\": \"sleep\", \"seconds\": 0}]}";

/* corun --check with env and args on the five-task job: output and status. */
static char *check_with(const char *env, const char *args, int *status)
{
  char *job = write_temp("five.json", five);
  char cmd[2048];
  char *out;

  snprintf(cmd, sizeof(cmd), CLEAN_ENV "%s %s --check %s %s 2>&1", env,
           CORUN_BIN, args, job);
  out = run_shell(cmd, status);
  free(job);
  return out;
}

Test(shard, k_of_n_forms)
{
  static const char *const bad[] = {"0/3",  "4/3", "x",    "3",   "1/0",
                                    "",     "/3",  "1/",   "-1/3", "1/2/3",
                                    " 1/2", "1/2x", "a/b", "1/9999999"};
  size_t i;
  int status;
  char *out;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char args[64];

    snprintf(args, sizeof(args), "--shard '%s'", bad[i]);
    out = check_with("", args, &status);
    cr_expect_eq(status, 2, "--shard '%s' exited %d: %s", bad[i], status, out);
    cr_expect(strstr(out, "corun: --shard") != NULL,
              "--shard '%s' said: %s", bad[i], out);
    free(out);
  }
  out = check_with("", "--shard 2/3", &status);
  cr_expect_eq(status, 0, "%s", out);
  cr_expect(strstr(out, "shard 2 of 3: 2 of 5 tasks, 2 of 5 root groups\n"),
            "%s", out);
  free(out);
  out = check_with("", "--shard=1/1", &status);
  cr_expect_eq(status, 0, "%s", out);
  cr_expect(strstr(out, "shard 1 of 1: 5 of 5 tasks"), "%s", out);
  free(out);
  /* Timings balance a sharded run only. */
  out = check_with("", "--shard-timings x.json", &status);
  cr_expect_eq(status, 2);
  cr_expect(strstr(out, "--shard-timings") != NULL, "%s", out);
  free(out);
}

Test(shard, auto_from_each_environment)
{
  static const struct {
    const char *env, *want;
  } ok[] = {
      {"CORUN_SHARD=2/3", "shard 2 of 3:"},
      {"CI_NODE_INDEX=2 CI_NODE_TOTAL=3", "shard 2 of 3:"}, /* 1-based */
      {"CI_NODE_INDEX=1 CI_NODE_TOTAL=3", "shard 1 of 3:"},
      {"CIRCLE_NODE_INDEX=1 CIRCLE_NODE_TOTAL=3", "shard 2 of 3:"}, /* 0- */
      {"CIRCLE_NODE_INDEX=0 CIRCLE_NODE_TOTAL=3", "shard 1 of 3:"},
      {"BUILDKITE_PARALLEL_JOB=2 BUILDKITE_PARALLEL_JOB_COUNT=3",
       "shard 3 of 3:"},
      {"JOB_COMPLETION_INDEX=0 CORUN_SHARD_TOTAL=4", "shard 1 of 4:"},
      {"JOB_COMPLETION_INDEX=3 CORUN_SHARD_TOTAL=4", "shard 4 of 4:"},
      /* The first that is set wins. */
      {"CORUN_SHARD=1/2 CI_NODE_INDEX=3 CI_NODE_TOTAL=3", "shard 1 of 2:"},
      {"CI_NODE_INDEX=3 CI_NODE_TOTAL=3 CIRCLE_NODE_INDEX=0 "
       "CIRCLE_NODE_TOTAL=2",
       "shard 3 of 3:"},
      {"CIRCLE_NODE_INDEX=1 CIRCLE_NODE_TOTAL=2 BUILDKITE_PARALLEL_JOB=0 "
       "BUILDKITE_PARALLEL_JOB_COUNT=5",
       "shard 2 of 2:"},
      {"BUILDKITE_PARALLEL_JOB=1 BUILDKITE_PARALLEL_JOB_COUNT=2 "
       "JOB_COMPLETION_INDEX=0 CORUN_SHARD_TOTAL=3",
       "shard 2 of 2:"},
      /* GitLab's total of 1 without parallel: the whole job. */
      {"CI_NODE_TOTAL=1", "shard 1 of 1: 5 of 5 tasks"},
  };
  size_t i;

  for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    int status;
    char *out = check_with(ok[i].env, "--shard auto", &status);

    cr_expect_eq(status, 0, "%s: exit %d: %s", ok[i].env, status, out);
    cr_expect(strstr(out, ok[i].want) != NULL, "%s: wanted \"%s\" in: %s",
              ok[i].env, ok[i].want, out);
    free(out);
  }
}

Test(shard, auto_refuses_what_would_run_everything_everywhere)
{
  static const struct {
    const char *env, *names;
  } bad[] = {
      {"", "CORUN_SHARD"}, /* nothing set: says what to set */
      {"CI_NODE_TOTAL=4", "CI_NODE_INDEX"},
      {"CORUN_SHARD_TOTAL=4", "JOB_COMPLETION_INDEX"},
      {"CIRCLE_NODE_TOTAL=2", "CIRCLE_NODE_INDEX"},
      {"BUILDKITE_PARALLEL_JOB_COUNT=3", "BUILDKITE_PARALLEL_JOB"},
      {"CI_NODE_INDEX=2", "CI_NODE_TOTAL"},
      {"JOB_COMPLETION_INDEX=2", "CORUN_SHARD_TOTAL"},
      {"CI_NODE_INDEX=0 CI_NODE_TOTAL=3", "CI_NODE_INDEX"}, /* 1-based */
      {"CI_NODE_INDEX=4 CI_NODE_TOTAL=3", "CI_NODE_INDEX"},
      {"CIRCLE_NODE_INDEX=3 CIRCLE_NODE_TOTAL=3", "CIRCLE_NODE_INDEX"},
      {"BUILDKITE_PARALLEL_JOB=x BUILDKITE_PARALLEL_JOB_COUNT=3",
       "BUILDKITE_PARALLEL_JOB='x' is not a part number"},
      {"CI_NODE_INDEX=4 CI_NODE_TOTAL=3", "CI_NODE_INDEX='4' is out of range"},
      {"JOB_COMPLETION_INDEX=4 CORUN_SHARD_TOTAL=4", "JOB_COMPLETION_INDEX"},
      {"CI_NODE_INDEX=1 CI_NODE_TOTAL=0", "CI_NODE_TOTAL"},
      {"CORUN_SHARD=5/4", "CORUN_SHARD"},
      {"CORUN_SHARD=two", "CORUN_SHARD"},
  };
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int status;
    char *out = check_with(bad[i].env, "--shard auto", &status);

    cr_expect_eq(status, 2, "'%s': exit %d: %s", bad[i].env, status, out);
    cr_expect(strstr(out, bad[i].names) != NULL, "'%s': wanted %s in: %s",
              bad[i].env, bad[i].names, out);
    cr_expect(strstr(out, "job \"") == NULL, "'%s' printed the job: %s",
              bad[i].env, out);
    free(out);
  }
}

/* ---- the split ---- */

Test(shard, one_task_groups_go_round_robin)
{
  static const char *const want3[] = {"a d", "b e", "c"};
  static const char *const want1[] = {"a b c d e"};
  static const char *const want7[] = {"a", "b", "c", "d", "e", "", ""};

  expect_parts(five, 3, NULL, want3);
  expect_parts(five, 1, NULL, want1);
  expect_parts(five, 7, NULL, want7);
}

Test(shard, after_keeps_roots_together_either_way_and_through_children)
{
  /*
   * a <- c (c after a); e's child after d: d, e together; f after g
   * (a later root): f, g together; b alone. Sizes: {a,c} 2, {b} 1,
   * {d,e,e.1,e.2} 4, {f,g} 2.
   */
  const char *text =
      "{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"a\"]},"
      "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"e\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"kind\": \"sleep\", \"seconds\": 0, \"after\": [\"d\"]},"
      "  {\"kind\": \"sleep\", \"seconds\": 0}]},"
      "{\"id\": \"f\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"g\"]},"
      "{\"id\": \"g\", \"kind\": \"sleep\", \"seconds\": 0}]}";
  /* {a,c} -> 1 (2); {b} -> 2 (1); {d,e..} -> 2 (5); {f,g} -> 1 (4). */
  static const char *const want2[] = {"a c f g", "b d e e.1 e.2"};
  /* {a,c} -> 1; {b} -> 2; {d,e..} -> 3; {f,g} -> 2 (1 < 2 < 4). */
  static const char *const want3[] = {"a c", "b f g", "d e e.1 e.2"};

  expect_parts(text, 2, NULL, want2);
  expect_parts(text, 3, NULL, want3);
}

Test(shard, captures_stay_with_their_task)
{
  /* A capture needs an "after" chain: login <- items <- each (from). */
  const char *text =
      "{\"tasks\": ["
      "{\"id\": \"login\", \"kind\": \"fetch\", \"url\": "
      "\"http://127.0.0.1:9/login\", \"capture\": {\"token\": {\"json\": "
      "\"/t\"}}},"
      "{\"id\": \"x\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"items\", \"kind\": \"fetch\", \"after\": [\"login\"], "
      "\"url\": \"http://127.0.0.1:9/i?t=${login.token}\", \"capture\": "
      "{\"list\": {\"json\": \"/items\"}}},"
      "{\"id\": \"y\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"each\", \"kind\": \"pipeline\", \"after\": [\"items\"], "
      "\"source\": {\"from\": \"${items.list}\"}, \"stages\": [{\"task\": "
      "{\"kind\": \"sleep\", \"seconds\": 0, \"message\": "
      "\"${login.token}\"}}]},"
      "{\"id\": \"z\", \"kind\": \"sleep\", \"seconds\": 0}]}";
  static const char *const want2[] = {"login items each", "x y z"};
  static const char *const want4[] = {"login items each", "x", "y", "z"};

  expect_parts(text, 2, NULL, want2);
  expect_parts(text, 4, NULL, want4);
}

Test(shard, the_split_does_not_depend_on_k_or_on_the_run)
{
  /* Loaded twice, each part gives the same tasks; together all, once. */
  const char *text =
      "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "{\"kind\": \"sleep\", \"seconds\": 0}, {\"kind\": \"sleep\", "
      "\"seconds\": 0}, {\"kind\": \"sleep\", \"seconds\": 0}]},"
      "{\"kind\": \"sleep\", \"seconds\": 0},"
      "{\"kind\": \"sleep\", \"seconds\": 0, \"after\": [\"g\"]},"
      "{\"kind\": \"sleep\", \"seconds\": 0}, {\"kind\": \"sleep\", "
      "\"seconds\": 0}]}";
  unsigned k;
  char all[4096] = "";

  for (k = 1; k <= 3; k++) {
    char *one = part_ids(text, k, 3, NULL), *two = part_ids(text, k, 3, NULL);

    cr_expect_str_eq(one, two);
    if (*one) {
      strcat(all, *all ? " " : "");
      strcat(all, one);
    }
    free(one);
    free(two);
  }
  /* {g,g.1..3,task3} 5 -> 1; task2 -> 2; task4 -> 3; task5 -> 2. */
  cr_expect_str_eq(all, "g g.1 g.2 g.3 task3 task2 task5 task4");
}

/* ---- by timings ---- */

static const char *timed =
    "{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
    "[\"c\"]},"
    "{\"id\": \"e\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"f\", \"kind\": \"sleep\", \"seconds\": 0}]}";

Test(shard, timings_balance_longest_first)
{
  /*
   * a 1 s, b 5 s, c 2 s + d 2.5 s (one group, 4.5 s), e 3 s, f missing:
   * the median of the report's roots (1, 2, 2.5, 3, 5, and g's 0.1 that
   * the job no longer has): the lower middle, 2 s. Children do not count.
   * Heaviest first, each to the least loaded: b 5 -> 1, {c,d} 4.5 -> 2,
   * e 3 -> 2 (7.5), f 2 -> 1 (7), a 1 -> 1 (8).
   */
  char *rep = write_temp(
      "timings.json",
      "{\"corun\": 1, \"tasks\": ["
      "{\"id\": \"a\", \"parent\": null, \"duration\": 1.000},"
      "{\"id\": \"b\", \"parent\": null, \"duration\": 5.000},"
      "{\"id\": \"b.1\", \"parent\": \"b\", \"duration\": 50.0},"
      "{\"id\": \"c\", \"parent\": null, \"duration\": 2.000},"
      "{\"id\": \"d\", \"parent\": null, \"duration\": 2.500},"
      "{\"id\": \"e\", \"parent\": null, \"duration\": 3.000},"
      "{\"id\": \"g\", \"parent\": null, \"duration\": 0.100}]}");
  static const char *const want2[] = {"a b f", "c d e"};
  /* 3 parts: b -> 1, {c,d} -> 2, e -> 3, f 2 -> 3 (5), a 1 -> 2 (5.5). */
  static const char *const want3[] = {"b", "a c d", "e f"};

  expect_parts(timed, 2, rep, want2);
  expect_parts(timed, 3, rep, want3);
  free(rep);
}

Test(shard, timings_without_roots_fall_back_to_one_second_each)
{
  /* Nothing known: every root 1 s, so count and time agree. */
  char *rep = write_temp("empty.json", "{\"tasks\": []}");
  /* Groups a, b, {c,d} (2 s), e, f: {c,d} first -> 1, then a -> 2, b -> 3,
   * e -> 2 (tie 1 s with 3: 2 has 1 task, 3 has 1: lowest), f -> 3. */
  static const char *const want3[] = {"c d", "a e", "b f"};

  expect_parts(timed, 3, rep, want3);
  free(rep);
}

Test(shard, timings_that_do_not_parse_are_a_usage_error)
{
  static const char *const bad[] = {"{\"tasks\": [", "[1, 2]",
                                    "{\"job\": \"x\"}", "not json"};
  size_t i;
  struct corun_error err;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *rep = write_temp("bad-report.json", bad[i]);
    struct corun_job *job;

    memset(&err, 0, sizeof(err));
    job = load_part(timed, 1, 2, rep, &err);
    cr_expect_null(job);
    cr_expect_eq(err.code, CORUN_EUSAGE, "%s: %d", bad[i], err.code);
    cr_expect(strstr(err.msg, "bad-report.json") != NULL, "%s", err.msg);
    corun_job_free(job);
    free(rep);
  }
  memset(&err, 0, sizeof(err));
  cr_expect_null(load_part(timed, 1, 2, "/nonexistent/r.json", &err));
  cr_expect_eq(err.code, CORUN_EUSAGE);
  cr_expect(strstr(err.msg, "/nonexistent/r.json") != NULL, "%s", err.msg);
  {
    /* Through the command: exit 2, the file named. */
    char *rep = write_temp("broken.json", "{");
    char *job = write_temp("five.json", five);
    const char *args[] = {"--shard", "1/2", "--shard-timings", rep, job,
                          NULL};
    struct proc *p = run_cli(NULL, args);

    cr_expect_eq(p->status, 2);
    cr_expect(strstr(p->err, "broken.json") != NULL, "%s", p->err);
    proc_free(p);
    free(rep);
    free(job);
  }
}

/* ---- "shard": true on a pipeline ---- */

Test(shard, split_pipeline_must_be_a_lone_root)
{
  char *e;

  e = load_err("{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", "
               "\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
               "\"shard\": true, \"source\": {\"range\": [0, 3]}, "
               "\"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": "
               "0}}]}]}]}");
  cr_expect(strstr(e, "t.json:1:") || strstr(e, ":1:"), "%s", e);
  cr_expect(strstr(e, "task \"p\": \"shard\": only a root task") != NULL,
            "%s", e);
  free(e);
  e = load_err("{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", "
               "\"seconds\": 0}, {\"id\": \"p\", \"kind\": \"pipeline\", "
               "\"after\": [\"a\"], \"shard\": true, \"source\": {\"range\": "
               "[0, 3]}, \"stages\": [{\"task\": {\"kind\": \"sleep\", "
               "\"seconds\": 0}}]}]}");
  cr_expect(strstr(e, "task \"p\": \"shard\": a split pipeline runs in every "
                      "shard, but \"after\" joins it to \"a\"") != NULL,
            "%s", e);
  free(e);
  e = load_err("{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
               "\"shard\": true, \"source\": {\"range\": [0, 3]}, "
               "\"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": "
               "0}}]}, {\"id\": \"z\", \"kind\": \"sleep\", \"seconds\": 0, "
               "\"after\": [\"p\"]}]}");
  cr_expect(strstr(e, "joins it to \"z\"") != NULL, "%s", e);
  free(e);
}

Test(shard, shard_field_must_be_a_boolean)
{
  char *e = load_err("{\"tasks\": [\n{\"id\": \"p\", \"kind\": \"pipeline\", "
                     "\"shard\": \"yes\", \"source\": {\"range\": [0, 3]}, "
                     "\"stages\": [{\"task\": {\"kind\": \"sleep\", "
                     "\"seconds\": 0}}]}]}");

  /* Line 2, the column of the value. */
  cr_expect(strstr(e, ":2:42: error: task \"p\": \"shard\" must be true or "
                      "false, not a string") != NULL,
            "%s", e);
  free(e);
}

/* corun with args in dir; the exit status must be want. */
static struct proc *corun_in(const char *const *args, int want)
{
  struct proc *p = run_cli(NULL, args);

  cr_expect_eq(p->status, want, "exit %d: %s", p->status, p->err);
  return p;
}

/* The "index" of every line of a results file, in a 0/1 table. */
static int count_lines(const char *path, int *seen, int n, unsigned k,
                       unsigned parts)
{
  char *text = read_file(path, NULL), *line, *save = NULL;
  int lines = 0;

  cr_assert_not_null(text, "no results file %s", path);
  for (line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    cJSON *j = cJSON_Parse(line);
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");

    cr_assert(cJSON_IsNumber(ix), "%s", line);
    cr_expect(ix->valueint >= 0 && ix->valueint < n);
    cr_expect_eq((unsigned)ix->valueint % parts, k - 1,
                 "item %d in part %u of %u", ix->valueint, k, parts);
    if (ix->valueint >= 0 && ix->valueint < n)
      seen[ix->valueint]++;
    lines++;
    cJSON_Delete(j);
  }
  free(text);
  return lines;
}

Test(shard, a_split_pipeline_takes_every_nth_item_once)
{
  static const char *const sources[] = {
      "{\"range\": [100, 123]}",
      "{\"items\": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, "
      "16, 17, 18, 19, 20, 21, 22]}",
      "{\"lines\": \"lines.txt\"}",
  };
  char *dir = tmp_dir("shard-pl");
  char *lines = path_join(dir, "lines.txt");
  FILE *f = fopen(lines, "w");
  size_t s;
  int i;

  cr_assert_not_null(f);
  for (i = 0; i < 23; i++)
    fprintf(f, "line %d\n%s", i, i % 5 == 0 ? "\n" : ""); /* empty ones too */
  fclose(f);
  for (s = 0; s < sizeof(sources) / sizeof(sources[0]); s++) {
    unsigned parts[] = {1, 2, 3, 7}, pi;

    for (pi = 0; pi < 4; pi++) {
      unsigned n = parts[pi], k;
      int seen[23] = {0}, total = 0;

      for (k = 1; k <= n; k++) {
        char text[1024], *job, kv[32], res[64], *rpath;
        struct proc *p;

        snprintf(text, sizeof(text),
                 "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
                 "\"shard\": true, \"source\": %s, \"stages\": [{\"workers\": "
                 "3, \"task\": {\"kind\": \"sleep\", \"seconds\": 0, "
                 "\"result\": \"${item}\"}}], \"results\": "
                 "\"out-${k}.jsonl\"}]}",
                 sources[s]);
        job = path_join(dir, "job.json");
        f = fopen(job, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
        snprintf(kv, sizeof(kv), "k=%u", k);
        snprintf(res, sizeof(res), "out-%u.jsonl", k);
        {
          char shard[32];
          const char *args[] = {"-q", "--shard", shard, "--var", kv, job,
                                NULL};

          snprintf(shard, sizeof(shard), "%u/%u", k, n);
          p = corun_in(args, 0);
        }
        rpath = path_join(dir, res);
        total += count_lines(rpath, seen, 23, k, n);
        remove(rpath);
        free(rpath);
        proc_free(p);
        free(job);
      }
      cr_expect_eq(total, 23, "source %zu, %u parts: %d lines", s, n, total);
      for (i = 0; i < 23; i++)
        cr_expect_eq(seen[i], 1, "source %zu, %u parts: item %d seen %d times",
                     s, n, i, seen[i]);
    }
  }
  free(lines);
  free(dir);
}

/* ---- the parts' reports together ---- */

static const char *mixed =
    "{\"name\": \"mixed\", \"tasks\": ["
    "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
    "[\"a\"]},"
    "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
    "  {\"kind\": \"sleep\", \"seconds\": 0},"
    "  {\"kind\": \"wait\", \"tasks\": [{\"kind\": \"sleep\", \"seconds\": "
    "0}]}]},"
    "{\"id\": \"p\", \"kind\": \"pipeline\", \"shard\": true, \"source\": "
    "{\"range\": [0, 11]}, \"stages\": [{\"task\": {\"kind\": \"sleep\", "
    "\"seconds\": 0}}]},"
    "{\"id\": \"q\", \"kind\": \"pipeline\", \"source\": {\"range\": [0, 4]}, "
    "\"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": 0}}]},"
    "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
    "[\"e\"]},"
    "{\"id\": \"e\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"f\", \"kind\": \"sleep\", \"seconds\": 0},"
    "{\"id\": \"h\", \"kind\": \"exec\", \"argv\": [\"true\"]}]}";

/* Run job (a path) as part k of n (n 0: whole); the parsed report. */
static cJSON *run_report(const char *dir, const char *job, unsigned k,
                         unsigned n)
{
  char *rep = path_join(dir, "report.json"), shard[32];
  const char *whole[] = {"-q", "--report", rep, job, NULL};
  const char *part[] = {"-q", "--shard", shard, "--report", rep, job, NULL};
  struct proc *p;
  char *text;
  cJSON *j;

  snprintf(shard, sizeof(shard), "%u/%u", k, n);
  p = corun_in(n ? part : whole, 0);
  text = read_file(rep, NULL);
  cr_assert_not_null(text);
  j = cJSON_Parse(text);
  cr_assert_not_null(j);
  free(text);
  remove(rep);
  free(rep);
  proc_free(p);
  return j;
}

Test(shard, the_parts_together_are_the_whole_job_once)
{
  char *dir = tmp_dir("shard-union");
  char *job = path_join(dir, "mixed.json");
  FILE *f = fopen(job, "w");
  cJSON *whole, *t;
  unsigned parts[] = {1, 2, 3, 7}, pi;
  const char *roots[16];
  int nroots = 0, nwhole = 0;

  cr_assert_not_null(f);
  fputs(mixed, f);
  fclose(f);
  whole = run_report(dir, job, 0, 0);
  cr_expect_null(cJSON_GetObjectItemCaseSensitive(whole, "shard"),
                 "an unsharded report has no \"shard\"");
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(whole, "tasks"))
  {
    nwhole++;
    if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(t, "parent")))
      roots[nroots++] = cJSON_GetObjectItemCaseSensitive(t, "id")->valuestring;
  }
  for (pi = 0; pi < 4; pi++) {
    unsigned n = parts[pi], k;
    int count[64] = {0}, items = 0;
    char *hash = NULL;

    for (k = 1; k <= n; k++) {
      cJSON *rep = run_report(dir, job, k, n);
      cJSON *sh = cJSON_GetObjectItemCaseSensitive(rep, "shard");
      cJSON *rs = cJSON_GetObjectItemCaseSensitive(sh, "roots"), *r;
      cJSON *tasks = cJSON_GetObjectItemCaseSensitive(rep, "tasks");
      int at = 0, ri = 0;

      cr_assert_not_null(sh, "part %u of %u: no \"shard\"", k, n);
      cr_expect_eq(cJSON_GetObjectItemCaseSensitive(sh, "index")->valueint,
                   (int)k);
      cr_expect_eq(cJSON_GetObjectItemCaseSensitive(sh, "total")->valueint,
                   (int)n);
      if (hash == NULL)
        hash = strdup(
            cJSON_GetObjectItemCaseSensitive(sh, "job_hash")->valuestring);
      cr_expect_str_eq(
          cJSON_GetObjectItemCaseSensitive(sh, "job_hash")->valuestring, hash);
      /* Each listed root comes in "tasks" in order, its subtree after it. */
      cJSON_ArrayForEach(t, tasks)
      {
        const char *id = cJSON_GetObjectItemCaseSensitive(t, "id")->valuestring;
        cJSON *w;
        int wi = 0;

        if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(t, "parent"))) {
          r = cJSON_GetArrayItem(rs, ri++);
          cr_assert_not_null(r, "part %u of %u: root %s not in roots", k, n,
                             id);
          cr_expect_str_eq(roots[r->valueint], id);
        }
        cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(whole, "tasks"))
        {
          if (strcmp(cJSON_GetObjectItemCaseSensitive(w, "id")->valuestring,
                     id) == 0)
            break;
          wi++;
        }
        cr_assert_lt(wi, nwhole, "part %u of %u ran %s, not in the job", k, n,
                     id);
        count[wi]++;
        if (strcmp(id, "p") == 0)
          items += cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(t, "result"), "items")
                       ->valueint;
        at++;
      }
      cr_expect_eq(ri, cJSON_GetArraySize(rs));
      cr_expect_eq(cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(rep, "summary"), "ok")
                       ->valueint,
                   at, "the summary counts this part's tasks");
      cJSON_Delete(rep);
    }
    /* Every task once, but the split pipeline, in every part. */
    for (int i = 0; i < nwhole; i++) {
      cJSON *w = cJSON_GetArrayItem(
          cJSON_GetObjectItemCaseSensitive(whole, "tasks"), i);
      const char *id = cJSON_GetObjectItemCaseSensitive(w, "id")->valuestring;

      cr_expect_eq(count[i], strcmp(id, "p") == 0 ? (int)n : 1,
                   "%u parts: %s ran %d times", n, id, count[i]);
    }
    cr_expect_eq(items, 11, "%u parts: %d items of p", n, items);
    free(hash);
  }
  cJSON_Delete(whole);
  free(job);
  free(dir);
}

Test(shard, job_hash_is_the_sha256_of_the_file_and_vars)
{
  char *dir = tmp_dir("shard-hash");
  char *job = path_join(dir, "five.json"), *rep = path_join(dir, "r.json");
  const char *args[] = {"-q",         "--shard", "2/2",       "--var",
                        "x=1",        "--var",   "y=two",     "--report",
                        rep,          job,       NULL};
  FILE *f = fopen(job, "w");
  char cmd[1024], *want, *text;
  cJSON *j;
  int status;
  struct proc *p;

  cr_assert_not_null(f);
  /* vars the job uses, so --var is not refused as unused */
  fputs("{\"vars\": {\"x\": \"0\", \"y\": \"0\"}, \"tasks\": [{\"kind\": "
        "\"sleep\", \"seconds\": 0, \"message\": \"${x}${y}\"}]}",
        f);
  fclose(f);
  p = corun_in(args, 0);
  proc_free(p);
  snprintf(cmd, sizeof(cmd),
           "(cat '%s'; printf '\\000x=1\\000y=two') | sha256sum | cut -c1-64",
           job);
  want = run_shell(cmd, &status);
  cr_assert_eq(status, 0);
  want[64] = '\0';
  text = read_file(rep, NULL);
  cr_assert_not_null(text);
  j = cJSON_Parse(text);
  cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(j, "shard"), "job_hash")
                       ->valuestring,
                   want);
  /* Part 2 of 2 of a one-task job runs nothing and says so. */
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                   cJSON_GetObjectItemCaseSensitive(j, "shard"), "roots")),
               0);
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "tasks")),
               0);
  cJSON_Delete(j);
  free(text);
  free(want);
  free(rep);
  free(job);
  free(dir);
}

/* ---- --check and --dry-run ---- */

Test(shard, check_and_dry_run_show_the_part)
{
  char *job = write_temp("mixed.json", mixed);
  const char *check[] = {"--check", "--shard", "2/3", job, NULL};
  const char *dry[] = {"--dry-run", "--shard", "2/3", job, NULL};
  struct proc *p = corun_in(check, 0);

  /*
   * Groups by count, each to the part with the fewest tasks: {a,b} 2 -> 1,
   * {g,...} 4 -> 2, q -> 3, c -> 3 (2, 4, 1), {d,e} -> 1 (2, 4, 2), f -> 3
   * (4, 4, 2), h -> 3 (4, 4, 3). Part 2: g and the split p.
   */
  cr_expect_str_eq(p->out,
                   "job \"mixed\": 5 tasks, concurrency 64\n"
                   "shard 2 of 3: 5 of 13 tasks, 1 of 7 root groups\n"
                   "shard p (pipeline): in every shard, 4 of 11 items (item "
                   "i when i % 3 is 1)\n"
                   "  g (gather)\n"
                   "    g.1 (sleep)\n"
                   "    g.2 (wait)\n"
                   "      g.2.1 (sleep)\n"
                   "  p (pipeline)\n");
  proc_free(p);
  p = corun_in(dry, 0);
  cr_expect(strstr(p->out, "shard 2 of 3: 5 of 13 tasks") != NULL, "%s",
            p->out);
  cr_expect(strstr(p->out, "      source: range [0, 11, 1] (4 of 11: shard 2 of "
                           "3 takes item i when i % 3 is 1)\n"
                           "        item 1: 1\n"
                           "        item 4: 4\n"
                           "        item 7: 7\n"
                           "        item 10: 10\n"
                           "      producers: 1\n") != NULL,
            "%s", p->out);
  cr_expect(strstr(p->out, "  a (sleep)") == NULL, "%s", p->out);
  cr_expect(strstr(p->out, "  q (pipeline)") == NULL, "%s", p->out);
  proc_free(p);
  free(job);
}

Test(shard, dry_run_shows_ten_items_of_the_part)
{
  char *job = write_temp(
      "many.json",
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", \"shard\": true, "
      "\"source\": {\"items\": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, "
      "14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]}, \"stages\": "
      "[{\"task\": {\"kind\": \"sleep\", \"seconds\": 0}}]}]}");
  const char *dry[] = {"--dry-run", "--shard", "1/2", job, NULL};
  struct proc *p = corun_in(dry, 0);

  cr_expect(strstr(p->out, "source: items (13 of 26: shard 1 of 2 takes item "
                           "i when i % 2 is 0)\n"
                           "        item 0: 0\n") != NULL,
            "%s", p->out);
  cr_expect(strstr(p->out, "        item 18: 18\n"
                           "        (3 more)\n") != NULL,
            "%s", p->out);
  cr_expect(strstr(p->out, "item 1:") == NULL, "%s", p->out);
  cr_expect(strstr(p->out, "item 20:") == NULL, "%s", p->out);
  proc_free(p);
  free(job);
}

/* ---- what a part needs of its machine ---- */

Test(shard, a_part_checks_only_its_own_programs)
{
  char *job = write_temp(
      "prog.json",
      "{\"tasks\": [{\"id\": \"x\", \"kind\": \"exec\", \"argv\": "
      "[\"/nonexistent/tool\"]}, {\"id\": \"y\", \"kind\": \"sleep\", "
      "\"seconds\": 0}]}");
  const char *one[] = {"--check", "--shard", "1/2", job, NULL};
  const char *two[] = {"--check", "--shard", "2/2", job, NULL};
  struct proc *p = corun_in(one, 2);

  cr_expect(strstr(p->err, "/nonexistent/tool") != NULL, "%s", p->err);
  proc_free(p);
  p = corun_in(two, 0);
  cr_expect(strstr(p->out, "  y (sleep)\n") != NULL, "%s", p->out);
  proc_free(p);
  free(job);
}

Test(shard, a_journal_belongs_to_one_part)
{
  char *dir = tmp_dir("shard-journal");
  char *job = path_join(dir, "five.json"), *jn = path_join(dir, "j.log");
  const char *one[] = {"-q", "--shard", "1/2", "--journal", jn, job, NULL};
  const char *two[] = {"-q", "--shard", "2/2", "--journal", jn, job, NULL};
  FILE *f = fopen(job, "w");
  struct proc *p;

  cr_assert_not_null(f);
  fputs(five, f);
  fclose(f);
  p = corun_in(one, 0);
  proc_free(p);
  p = corun_in(one, 0); /* the same part again: resumes */
  proc_free(p);
  p = corun_in(two, 2);
  cr_expect(strstr(p->err, "journal") != NULL, "%s", p->err);
  proc_free(p);
  free(jn);
  free(job);
  free(dir);
}

Test(shard, lines_from_standard_input_are_split_too)
{
  char *job = write_temp(
      "stdin.json",
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", \"shard\": true, "
      "\"source\": {\"lines\": \"-\"}, \"stages\": [{\"task\": {\"kind\": "
      "\"sleep\", \"seconds\": 0, \"message\": \"${index}:${item}\"}}]}]}");
  const char *args[] = {"-q", "--shard", "2/3", job, NULL};
  const char *dry[] = {"--dry-run", "--shard", "2/3", job, NULL};
  struct proc *p = run_cli("a\nb\n\nc\nd\ne\nf\ng\n", args);

  /* Empty lines are no items: b and e are items 1 and 4. */
  cr_expect_eq(p->status, 0, "%s", p->err);
  cr_expect_str_eq(p->out, "1:b\n4:e\n");
  proc_free(p);
  p = run_cli("x\n", dry);
  cr_expect(strstr(p->out, "source: lines (standard input)\n"
                           "        (shard 2 of 3 takes item i when i % 3 is "
                           "1)\n") != NULL,
            "%s", p->out);
  proc_free(p);
  free(job);
}
