/* SPDX-License-Identifier: MIT */
/*
 * --journal: a rerun takes the tasks an earlier run ended ok from the
 * journal (results reused, "resumed" in the report) and runs the rest,
 * also after the first run was killed with SIGKILL; a journal of another
 * job is refused.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "server.h"

TestSuite(journal, .timeout = 60);

/* The directory of a path from write_temp(), as a new string. */
static char *dir_of(const char *path)
{
  char *d = strdup(path), *slash = strrchr(d, '/');

  *slash = '\0';
  return d;
}

/* How many lines the file holds (0 when it does not exist). */
static int lines_in(const char *path)
{
  FILE *f = fopen(path, "r");
  int n = 0, c;

  if (f == NULL)
    return 0;
  while ((c = fgetc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  return n;
}

/*
 * Each exec appends a line to its own file in the job's directory, so the
 * test can count how often each really ran. "b" fails until flag exists.
 */
static const char *job_text =
    "{\"tasks\": ["
    "{\"id\": \"a\", \"kind\": \"exec\", \"shell\": \"echo run >> a.runs; "
    "echo result-a\"},"
    "{\"id\": \"b\", \"kind\": \"exec\", \"shell\": \"echo run >> b.runs; "
    "test -f flag\", \"after\": [\"a\"]},"
    "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
    "  {\"id\": \"c\", \"kind\": \"exec\", \"shell\": \"echo run >> c.runs\"},"
    "  {\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0, \"result\": "
    "{\"n\": 4}}]}]}";

Test(journal, rerun_skips_what_ended_ok_and_runs_the_rest)
{
  char *job = write_temp("job.json", job_text), *dir = dir_of(job);
  char *jnl = path_join(dir, "run.journal"), *flag = path_join(dir, "flag");
  char *ra = path_join(dir, "a.runs"), *rb = path_join(dir, "b.runs");
  char *rc = path_join(dir, "c.runs");
  struct proc *p;
  cJSON *rep, *t;

  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "-q", job, NULL});
  cr_assert_eq(p->status, 1, "%s", p->err);
  proc_free(p);
  cr_assert_eq(lines_in(ra), 1);
  cr_assert_eq(lines_in(rb), 1);
  /* A header and a line per task that ended (a, b, c, d, g). */
  cr_assert_eq(lines_in(jnl), 6);

  fclose(fopen(flag, "w"));
  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "--report", "-",
                                          "-q", job, NULL});
  cr_assert_eq(p->status, 0, "%s", p->err);
  /* a and c ended ok before: not run again; b failed: run again. */
  cr_assert_eq(lines_in(ra), 1);
  cr_assert_eq(lines_in(rc), 1);
  cr_assert_eq(lines_in(rb), 2);
  rep = cJSON_Parse(p->out);
  cr_assert_not_null(rep, "%s", p->out);
  t = report_task(rep, "a");
  cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(t, "resumed")));
  cr_assert_str_eq(cJSON_GetObjectItem(t, "status")->valuestring, "ok");
  cr_assert_str_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(t, "result"), "stdout")
          ->valuestring,
      "result-a\n");
  cr_assert_eq(cJSON_GetObjectItem(t, "attempts")->valueint, 0);
  cr_assert_null(cJSON_GetObjectItem(report_task(rep, "b"), "resumed"));
  cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(report_task(rep, "d"), "resumed")));
  /* The gather runs again over its resumed children, with their results. */
  t = report_task(rep, "g");
  cr_assert_null(cJSON_GetObjectItem(t, "resumed"));
  cr_assert_eq(
      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "result"),
                                             1),
                          "n")
          ->valueint,
      4);
  cJSON_Delete(rep);
  proc_free(p);
  /* Appended: b's new end and the gather's; resumed tasks add nothing. */
  cr_assert_eq(lines_in(jnl), 8);
  free(job);
  free(dir);
  free(jnl);
  free(flag);
  free(ra);
  free(rb);
  free(rc);
}

Test(journal, another_job_or_other_vars_are_refused)
{
  char *job = write_temp("job.json", job_text), *dir = dir_of(job);
  char *jnl = path_join(dir, "run.journal"), *other = path_join(dir, "other.json");
  FILE *f;
  struct proc *p;

  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "-q", job, NULL});
  proc_free(p);
  f = fopen(other, "w");
  fputs("{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0}]}",
        f);
  fclose(f);
  p = run_cli(NULL,
              (const char *const[]){"--journal", jnl, "-q", other, NULL});
  cr_assert_eq(p->status, 2);
  cr_assert_not_null(strstr(p->err, "written for a different job"), "%s",
                     p->err);
  proc_free(p);
  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "--var", "x=1",
                                          "-q", job, NULL});
  cr_assert_eq(p->status, 2, "--var values are part of the job");
  proc_free(p);
  /* Not a journal at all. */
  p = run_cli(NULL,
              (const char *const[]){"--journal", other, "-q", job, NULL});
  cr_assert_eq(p->status, 2);
  cr_assert_not_null(strstr(p->err, "not a corun journal"), "%s", p->err);
  proc_free(p);
  /* And it was left as it was: nothing appended to someone's file. */
  cr_assert_eq(lines_in(other), 0);
  free(job);
  free(dir);
  free(jnl);
  free(other);
}

/*
 * A run killed with SIGKILL part way: the rerun does only what had not
 * ended ok, even with the journal's last line cut short.
 */
Test(journal, resumes_after_sigkill_at_any_point)
{
  struct corun_buf text = CORUN_BUF_INIT;
  char *job, *dir, *jnl;
  struct proc *p;
  int i, k;

  /* Twenty tasks one after the other, 50 ms each. */
  corun_buf_puts(&text, "{\"tasks\": [");
  for (i = 0; i < 20; i++) {
    corun_buf_printf(&text,
                     "%s{\"id\": \"t%d\", \"kind\": \"exec\", \"shell\": "
                     "\"echo run >> t%d.runs; sleep 0.05\"",
                     i ? "," : "", i, i);
    if (i)
      corun_buf_printf(&text, ", \"after\": [\"t%d\"]", i - 1);
    corun_buf_putc(&text, '}');
  }
  corun_buf_puts(&text, "]}");
  job = write_temp("job.json", corun_buf_str(&text));
  dir = dir_of(job);
  jnl = path_join(dir, "run.journal");
  for (k = 0; k < 3; k++) {
    /* Kill at a different point each time; the last run completes. */
    pid_t pid = fork();
    int st;

    cr_assert(pid >= 0);
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);

      dup2(null, 1);
      dup2(null, 2);
      execl(CORUN_BIN, CORUN_BIN, "--journal", jnl, "-q", job, (char *)NULL);
      _exit(127);
    }
    /*
     * Kill once the journal has grown past where the last kill left it
     * (a few more tasks ended), not after a fixed time: under a loaded
     * machine or the sanitizers a fixed time may catch no task ending.
     */
    {
      int want = lines_in(jnl) + 2 + k, waited = 0;

      while (lines_in(jnl) < want && waited < (int)(30000 * time_scale())) {
        usleep(10000);
        waited += 10;
      }
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st), "corun ended before the kill");
    if (k == 1) {
      /* Cut the last line short, as a crash in mid-write would. */
      struct stat sb;

      cr_assert_eq(stat(jnl, &sb), 0);
      cr_assert_eq(truncate(jnl, sb.st_size - 5), 0);
    }
  }
  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "-q", job, NULL});
  cr_assert_eq(p->status, 0, "%s", p->err);
  proc_free(p);
  /*
   * Every task ran to its end exactly once, except one the kill caught
   * running (it ran again) and the one whose journal line was cut.
   */
  {
    int twice = 0;

    for (i = 0; i < 20; i++) {
      char name[32], *path;
      int n;

      snprintf(name, sizeof(name), "t%d.runs", i);
      path = path_join(dir, name);
      n = lines_in(path);
      cr_assert(n >= 1 && n <= 2, "t%d ran %d times", i, n);
      twice += n == 2;
      free(path);
    }
    cr_assert_leq(twice, 4, "%d tasks ran twice: the journal was not used",
                  twice);
  }
  corun_buf_free(&text);
  free(job);
  free(dir);
  free(jnl);
}

/*
 * Two coruns on one journal would both run everything: the second is
 * refused (exit 2, saying why) while the first holds it, and the journal
 * is free again once the first has ended, even by SIGKILL.
 */
Test(journal, a_second_run_on_a_journal_in_use_is_refused)
{
  char *job = write_temp("job.json",
                         "{\"tasks\": [{\"id\": \"s\", \"kind\": \"sleep\", "
                         "\"seconds\": 30}]}");
  char *dir = dir_of(job), *jnl = path_join(dir, "run.journal");
  const char *args[] = {"--journal", jnl, "-q", job, NULL};
  pid_t first = spawn_cli(args, &(struct spawn_opts){0});
  struct proc *p = NULL;
  int i;

  /* The first has the journal once it has written its header. */
  for (i = 0; i < 500 && lines_in(jnl) < 1; i++)
    usleep(10000);
  cr_assert_eq(lines_in(jnl), 1, "the first run never opened the journal");
  p = run_cli(NULL, args);
  cr_expect_eq(p->status, 2, "second run: exit %d", p->status);
  cr_expect_not_null(strstr(p->err, "another corun is using this journal"),
                     "%s", p->err);
  proc_free(p);
  /* Only the first's header: the second wrote nothing. */
  cr_expect_eq(lines_in(jnl), 1);
  kill(first, SIGKILL);
  reap_cli(first, 10, NULL);
  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "-q", "--timeout",
                                          "100ms", job, NULL});
  cr_expect_eq(p->status, 124, "after the first died: exit %d: %s",
               p->status, p->err);
  proc_free(p);
  free(jnl);
  free(dir);
  free(job);
}

/*
 * Captures across a resumed run: a capturer restored from the journal
 * gives the captures its record holds; one with a secret capture (held
 * there as "***") runs again, so the task using it gets the real value.
 */
Test(journal, captures_come_from_the_record_unless_secret)
{
  struct test_server srv;
  char *url, *text, *job, *dir, *jnl, *flag, *runs, *got;
  struct proc *p;
  cJSON *rep;

  cr_assert_eq(test_server_start(&srv), 0);
  url = test_server_url(&srv, "/echo");
  text = malloc(strlen(url) * 3 + 1024);
  sprintf(text,
          "{\"tasks\": ["
          "{\"id\": \"plain\", \"kind\": \"fetch\", \"url\": \"%s?a=1\", "
          "\"capture\": {\"q\": {\"json\": \"/query\"}}},"
          "{\"id\": \"login\", \"kind\": \"fetch\", \"url\": \"%s?tok-42\", "
          "\"capture\": {\"tok\": {\"json\": \"/query\", \"secret\": true}}},"
          "{\"id\": \"envy\", \"kind\": \"fetch\", \"url\": "
          "\"%s?${env:JNL_KEY}\", \"capture\": {\"q\": {\"json\": \"/query\"}}},"
          "{\"id\": \"use\", \"kind\": \"exec\", \"after\": [\"plain\", "
          "\"login\", \"envy\"], \"shell\": \"echo ${plain.q} ${login.tok} "
          "${envy.q} >> use.runs; test -f flag\"}]}",
          url, url, url);
  /*
   * envy's capture is not secret, but holds an env secret's text: the
   * journal has it masked, so envy runs again rather than hand on "***".
   */
  setenv("JNL_KEY", "envkey-9876", 1);
  job = write_temp("job.json", text);
  dir = dir_of(job);
  jnl = path_join(dir, "run.journal");
  flag = path_join(dir, "flag");
  runs = path_join(dir, "use.runs");
  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "-q", job, NULL});
  cr_assert_eq(p->status, 1, "%s", p->err);
  proc_free(p);
  fclose(fopen(flag, "w"));
  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "--report", "-",
                                          "-q", job, NULL});
  cr_assert_eq(p->status, 0, "%s", p->err);
  rep = cJSON_Parse(p->out);
  cr_assert_not_null(rep, "%s", p->out);
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(report_task(rep, "plain"),
                                             "resumed")));
  cr_expect_null(cJSON_GetObjectItem(report_task(rep, "login"), "resumed"));
  cr_expect_null(cJSON_GetObjectItem(report_task(rep, "envy"), "resumed"));
  got = read_file(runs, NULL);
  cr_assert_not_null(got);
  cr_expect_str_eq(got, "a=1 tok-42 envkey-9876\na=1 tok-42 envkey-9876\n");
  free(got);
  cJSON_Delete(rep);
  proc_free(p);
  test_server_stop(&srv);
  free(url);
  free(text);
  free(job);
  free(dir);
  free(jnl);
  free(flag);
  free(runs);
}

/*
 * The header's job_hash is FNV-1a over the file's bytes: journals written
 * by earlier builds stay resumable only while it does not change.
 */
Test(journal, the_job_hash_is_fnv1a_of_the_file)
{
  const char *text = "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}]}";
  char *job = write_temp("job.json", text), *dir = dir_of(job);
  char *jnl = path_join(dir, "run.journal"), *head, want[64];
  uint64_t h = 0xcbf29ce484222325ULL;
  struct proc *p;
  size_t i;

  for (i = 0; text[i]; i++)
    h = (h ^ (unsigned char)text[i]) * 0x100000001b3ULL;
  snprintf(want, sizeof(want), "\"job_hash\": \"%016llx\"",
           (unsigned long long)h);
  p = run_cli(NULL, (const char *const[]){"--journal", jnl, "-q", job, NULL});
  cr_assert_eq(p->status, 0, "%s", p->err);
  proc_free(p);
  head = read_file(jnl, NULL);
  cr_assert(strstr(head, want) != NULL, "%s", head);
  free(head);
  free(jnl);
  free(dir);
  free(job);
}

/* Loaded without a journal in mind, the job is not hashed: none opens. */
Test(journal, a_job_loaded_with_no_journal_is_refused)
{
  const char *text = "{\"tasks\": [{\"kind\": \"sleep\", \"seconds\": 0}]}";
  char *job = write_temp("job.json", text), *dir = dir_of(job);
  char *jnl = path_join(dir, "run.journal");
  struct corun_load_opts lo = CORUN_LOAD_OPTS_INIT;
  struct corun_journal *j = NULL;
  struct corun_error err = {0};
  struct corun_job *loaded = NULL;

  lo.no_journal = 1;
  cr_assert_eq(corun_job_load_text(&loaded, text, strlen(text), "job.json",
                                   dir, &lo, NULL, &err),
               CORUN_OK, "%s", err.msg);
  cr_assert_eq(corun_journal_open(&j, jnl, loaded, &err), CORUN_EUSAGE);
  cr_assert(strstr(err.msg, "no_journal") != NULL, "%s", err.msg);
  cr_assert_null(j);
  corun_job_free(loaded);
  lo.no_journal = 0;
  cr_assert_eq(corun_job_load_text(&loaded, text, strlen(text), "job.json",
                                   dir, &lo, NULL, &err),
               CORUN_OK, "%s", err.msg);
  cr_assert_eq(corun_journal_open(&j, jnl, loaded, &err), CORUN_OK, "%s",
               err.msg);
  corun_journal_close(j);
  corun_job_free(loaded);
  free(jnl);
  free(dir);
  free(job);
}
