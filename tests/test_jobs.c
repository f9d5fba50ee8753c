/* SPDX-License-Identifier: MIT */
/*
 * Every example in jobs/ loads, and each behaves as its comment-free name
 * promises: hello mirrors asyncio's say_after program, the others show
 * fail-fast, timeout, first_completed, shield and after; the fetch ones run
 * against the test server.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "server.h"

TestSuite(jobs, .timeout = 60);

static char *slurp(const char *path)
{
  char *s = read_file(path, NULL);

  cr_assert_not_null(s, "cannot open %s", path);
  return s;
}

static struct result *run_example(const char *name)
{
  char path[512];
  char *text;
  struct result *r;

  snprintf(path, sizeof(path), "%s/jobs/%s", CORUN_SRC_DIR, name);
  text = slurp(path);
  r = run_job(text, NULL);
  free(text);
  return r;
}

Test(jobs, every_example_loads)
{
  char dirpath[512];
  DIR *d;
  struct dirent *e;
  int n = 0;

  snprintf(dirpath, sizeof(dirpath), "%s/jobs", CORUN_SRC_DIR);
  d = opendir(dirpath);
  cr_assert_not_null(d);
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    struct corun_job *job = NULL;
    struct corun_buf diag = CORUN_BUF_INIT;
    char path[1024];

    if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
    cr_expect_eq(corun_job_load(&job, path, NULL, &diag, NULL), CORUN_OK,
                 "%s:\n%s", path, corun_buf_str(&diag));
    corun_job_free(job);
    corun_buf_free(&diag);
    n++;
  }
  closedir(d);
  cr_assert(n >= 6, "only %d examples", n);
}

Test(jobs, hello_mirrors_say_after)
{
  struct result *r = run_example("hello.json");

  cr_assert_str_eq(corun_buf_str(&r->out),
                   "Started tasks\nHello\nWorld\nAll tasks completed\n");
  /* About 2 s in all: the two sleeps overlap. */
  cr_assert(r->wall >= 1.95 && r->wall < 2.0 + 0.5 * time_scale(), "%f",
            r->wall);
  cr_assert(end_of(r, "task1") >= 0.99 && end_of(r, "task1") < 1.4);
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(jobs, fail_fast_example)
{
  struct result *r = run_example("fail-fast.json");

  cr_assert_str_eq(status_of(r, "group"), "failed");
  cr_assert_str_eq(status_of(r, "quick"), "ok");
  cr_assert_str_eq(status_of(r, "broken"), "failed");
  cr_assert_str_eq(status_of(r, "slow"), "cancelled");
  cr_assert(r->wall < 0.5 + 0.5 * time_scale());
  cr_assert_eq(r->exit_code, 1);
  result_free(r);
}

Test(jobs, timeout_example)
{
  struct result *r = run_example("timeout.json");

  cr_assert_str_eq(status_of(r, "too-slow"), "timeout");
  cr_assert_str_eq(status_of(r, "bounded-group"), "timeout");
  cr_assert_str_eq(status_of(r, "fits"), "ok");
  cr_assert_str_eq(status_of(r, "does-not"), "cancelled");
  result_free(r);
}

Test(jobs, first_completed_example)
{
  struct result *r = run_example("first-completed.json");

  cr_assert_str_eq(status_of(r, "race"), "ok");
  cr_assert_str_eq(status_of(r, "mirror-b"), "ok");
  cr_assert_str_eq(status_of(r, "mirror-a"), "cancelled");
  cr_assert_str_eq(result_json(r, "race"),
                   "{\"done\": [\"mirror-b\"], \"pending\": [\"mirror-a\", "
                   "\"mirror-c\"]}");
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(jobs, shield_example)
{
  struct result *r = run_example("shield.json");

  cr_assert_str_eq(status_of(r, "deploy"), "failed");
  cr_assert_str_eq(status_of(r, "write-audit-log"), "ok");
  cr_assert_str_eq(status_of(r, "upload"), "cancelled");
  cr_assert(end_of(r, "deploy") < end_of(r, "write-audit-log"));
  result_free(r);
}

Test(jobs, after_example)
{
  struct result *r = run_example("after.json");

  cr_assert_str_eq(status_of(r, "announce"), "skipped");
  cr_assert_str_eq(status_of(r, "smoke-test"), "failed");
  /* The db limit of 1 runs migrate and seed one after the other. */
  cr_assert(start_of(r, "seed") >= end_of(r, "migrate") ||
            start_of(r, "migrate") >= end_of(r, "seed"));
  cr_assert(strstr(corun_buf_str(&r->out), "built for staging\n"));
  result_free(r);
}

/*
 * The seed's bounded producer/consumer: 3 producers of 10 items, 2
 * consumers, a queue of 5. Every item is consumed once, the queue never
 * holds more than 5, and "All done!" comes after the last consumer line.
 */
Test(jobs, pipeline_mirrors_producer_consumer, .timeout = 60)
{
  struct result *r = run_example("pipeline.json");
  const char *out = corun_buf_str(&r->out), *res;
  char want[64];
  int p, i, lines = 0;
  const char *s;

  cr_assert_eq(r->exit_code, 0);
  for (p = 0; p < 3; p++)
    for (i = 0; i < 10; i++) {
      snprintf(want, sizeof(want), "Consumer got: Producer %d: Item %d\n", p,
               i);
      cr_assert(strstr(out, want), "missing line: %s", want);
    }
  for (s = out; (s = strstr(s, "Consumer got: ")) != NULL; s++)
    lines++;
  cr_assert_eq(lines, 30);
  s = strstr(out, "All done!\n");
  cr_assert(s && s[10] == '\0', "All done! must be the last line:\n%s", out);
  res = result_json(r, "produce_consume");
  cr_assert(strstr(res, "\"items\": 30, \"ok\": 30, \"failed\": 0, "
                        "\"cancelled\": 0"),
            "%s", res);
  {
    const char *q = strstr(res, "\"queue_max\": ");

    cr_assert(q && atoi(q + 13) <= 5 && atoi(q + 13) >= 1, "%s", res);
  }
  /* Two consumers share about 13.5 s of work: well over 5 s together. */
  cr_assert(r->wall > 5.0, "took %.2fs", r->wall);
  result_free(r);
}

/*
 * The fetch pipeline example, offline against the test server: every URL
 * of urls.txt fetched, one results line each, written atomically.
 */
Test(jobs, fetch_pipeline_example, .timeout = 60)
{
  struct test_server srv;
  char job[512], var[300], out_var[700], dir[] = "/tmp/corun-jobs-XXXXXX";
  char results[600];
  const char *args[9];
  struct proc *pr;
  FILE *f;
  char line[8192];
  int n = 0, urls = 0;

  cr_assert_eq(test_server_start(&srv), 0);
  cr_assert_not_null(mkdtemp(dir));
  snprintf(job, sizeof(job), "%s/jobs/fetch-pipeline.json", CORUN_SRC_DIR);
  snprintf(var, sizeof(var), "base=http://127.0.0.1:%d", srv.port);
  snprintf(results, sizeof(results), "%s/results.jsonl", dir);
  snprintf(out_var, sizeof(out_var), "results=%s", results);
  args[0] = "--var";
  args[1] = var;
  args[2] = "--var";
  args[3] = out_var;
  args[4] = "-q";
  args[5] = job;
  args[6] = NULL;
  pr = run_cli(NULL, args);
  test_server_stop(&srv);
  cr_assert_eq(pr->status, 0, "stderr: %s", pr->err);
  snprintf(line, sizeof(line), "%s/jobs/urls.txt", CORUN_SRC_DIR);
  f = fopen(line, "r");
  cr_assert_not_null(f);
  while (fgets(line, sizeof(line), f))
    if (line[0] != '\n')
      urls++;
  fclose(f);
  f = fopen(results, "r");
  cr_assert_not_null(f, "no results file");
  while (fgets(line, sizeof(line), f)) {
    cr_assert(strstr(line, "\"status\": \"ok\""), "%s", line);
    cr_assert(strstr(line, "\"result\": {\"status\": 200"), "%s", line);
    n++;
  }
  fclose(f);
  cr_assert_eq(n, urls);
  cr_assert(urls >= 50);
  unlink(results);
  cr_assert_eq(rmdir(dir), 0, "a temporary file was left in %s", dir);
  proc_free(pr);
}

/*
 * The API smoke test, offline against the test server: a login whose token
 * the later requests send, a pipeline over the list it fetched, a request
 * without the token refused; the token is shown nowhere. A wrong password
 * (API_PASSWORD) fails the login and skips what needs its token.
 */
Test(jobs, api_smoke_example_keeps_its_token_secret, .timeout = 60)
{
  struct test_server srv;
  char job[512], var[300];
  const char *args[] = {"--var", var, "--report", "-", job, NULL};
  struct proc *pr;
  cJSON *rep, *each, *login;
  const char *json;

  cr_assert_eq(test_server_start(&srv), 0);
  snprintf(job, sizeof(job), "%s/jobs/api-smoke.json", CORUN_SRC_DIR);
  snprintf(var, sizeof(var), "base=http://127.0.0.1:%d", srv.port);
  unsetenv("API_PASSWORD");
  pr = run_cli(NULL, args);
  cr_assert_eq(pr->status, 0, "stdout: %s\nstderr: %s", pr->out, pr->err);
  /* A fresh server's first token is t-1-<hex>: it may show nowhere. */
  cr_expect_null(strstr(pr->out, "t-1-"), "%s", pr->out);
  cr_expect_null(strstr(pr->err, "t-1-"), "%s", pr->err);
  cr_expect_null(strstr(pr->out, "hunter2"), "%s", pr->out);
  json = strchr(pr->out, '{');
  cr_assert_not_null(json, "no report: %s", pr->out);
  rep = cJSON_ParseWithOpts(json, NULL, 0);
  cr_assert_not_null(rep, "%s", pr->out);
  each = cJSON_GetObjectItem(report_task(rep, "each-item"), "result");
  login = cJSON_GetObjectItem(report_task(rep, "login"), "result");
  cr_expect_eq(cJSON_GetObjectItem(each, "ok")->valuedouble, 3);
  cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
                       cJSON_GetObjectItem(login, "captures"), "token")),
                   "***");
  cJSON_Delete(rep);
  proc_free(pr);

  setenv("API_PASSWORD", "hunter3", 1);
  pr = run_cli(NULL, args);
  test_server_stop(&srv);
  cr_assert_eq(pr->status, 1, "stdout: %s\nstderr: %s", pr->out, pr->err);
  cr_expect_not_null(strstr(pr->out, "\"summary\": {\"ok\": 1, \"failed\": 1, "
                                     "\"timeout\": 0, \"cancelled\": 0, "
                                     "\"skipped\": 2}"),
                     "%s", pr->out);
  cr_expect_null(strstr(pr->out, "hunter3"), "%s", pr->out);
  proc_free(pr);
}
