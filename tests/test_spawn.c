/* SPDX-License-Identifier: MIT */
/*
 * How exec starts its commands (util/spawn.c): the fast path (posix_spawn
 * and a pidfd) and libuv's uv_spawn, which it falls back to, give the
 * command the same start: its own session and process group, default
 * signal dispositions and an empty signal mask, no descriptor of corun's
 * but its stdio, the same errors for what cannot be run. Each such check
 * runs twice, once on each path (corun__spawn_libuv_only() stands in for a
 * kernel without pidfds); what the fast path hands to libuv runs once.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "util/spawn.h"

TestSuite(spawn, .timeout = 30);

#define SLACK (0.4 * time_scale())

/* Defines NAME(libuv) and runs it on each path, as its own test. */
#define BOTH(name)                                                            \
  static void name(int libuv);                                                \
  Test(spawn, name##_fast)                                                    \
  {                                                                           \
    name(0);                                                                  \
  }                                                                           \
  Test(spawn, name##_libuv)                                                   \
  {                                                                           \
    corun__spawn_libuv_only(1);                                               \
    name(1);                                                                  \
  }                                                                           \
  static void name(int libuv)

static const char *out_of(struct result *r, const char *id)
{
  struct corun_task *t = task_by_id(r, id);
  const char *out = "", *err = "";

  (void)t->kind->output(t, &out, &err);
  return out;
}

/* The path the last command took was the one asked for. */
static void took(int libuv)
{
  cr_assert_eq(corun__spawn_last_fast(), !libuv);
}

BOTH(signals_are_default_and_unblocked)
{
  struct sigaction sa = {.sa_handler = SIG_IGN};
  sigset_t set;
  struct result *r;

  /*
   * What corun's process does with signals is not the command's: ignored
   * (SIGPIPE, as corun.h asks, and SIGUSR2 here), blocked (SIGUSR1) or
   * caught, the command gets them all back at their defaults.
   */
  cr_assert_eq(sigaction(SIGUSR2, &sa, NULL), 0);
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  cr_assert_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);
  r = run_job("{\"tasks\": [{\"id\": \"s\", \"kind\": \"exec\", \"argv\": "
              "[\"grep\", \"-E\", \"^Sig(Blk|Ign)\", \"/proc/self/status\"]}"
              "]}",
              NULL);
  cr_assert_str_eq(status_of(r, "s"), "ok");
  cr_assert_str_eq(out_of(r, "s"),
                   "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  took(libuv);
  result_free(r);
}

/* Whatever the test process holds open is the harness's: close-on-exec. */
static void harness_fds_cloexec(void)
{
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;

  cr_assert_not_null(d);
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);

    if (fd > 2 && fd != dirfd(d))
      (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  closedir(d);
}

BOTH(no_descriptor_of_corun_reaches_the_command)
{
  struct result *r;

  harness_fds_cloexec();
  /*
   * Started while other commands run, so their pipes and pidfds are open
   * then. ls sees its stdio and the directory it lists, nothing else.
   */
  r = run_job("{\"tasks\": ["
              "{\"id\": \"a\", \"kind\": \"exec\", \"argv\": [\"sleep\", "
              "\"0.3\"], \"stdin\": \"x\"},"
              "{\"id\": \"b\", \"kind\": \"exec\", \"argv\": [\"sleep\", "
              "\"0.3\"]},"
              "{\"id\": \"l\", \"kind\": \"exec\", \"argv\": [\"ls\", "
              "\"/proc/self/fd\"], \"stdin\": \"y\"}]}",
              NULL);
  cr_assert_str_eq(status_of(r, "l"), "ok");
  cr_assert_str_eq(out_of(r, "l"), "0\n1\n2\n3\n");
  took(libuv);
  result_free(r);
}

BOTH(the_command_leads_its_own_session_and_group)
{
  struct result *r;
  int pid, pgrp, sid;

  r = run_job("{\"tasks\": [{\"id\": \"s\", \"kind\": \"exec\", \"argv\": "
              "[\"cut\", \"-d\", \" \", \"-f\", \"1,5,6\", "
              "\"/proc/self/stat\"]}]}",
              NULL);
  cr_assert_str_eq(status_of(r, "s"), "ok");
  cr_assert_eq(sscanf(out_of(r, "s"), "%d %d %d", &pid, &pgrp, &sid), 3,
               "%s", out_of(r, "s"));
  cr_assert_eq(pgrp, pid);
  cr_assert_eq(sid, pid);
  cr_assert_neq(pid, (int)getpid());
  took(libuv);
  result_free(r);
}

/*
 * exec's timeout_kills_the_whole_process_group runs this on the path a
 * command takes by default, the fast one where pidfds work; kept here
 * for the fallback's process group alone, which that test does not reach.
 */
Test(spawn, a_timeout_kills_the_grandchildren_libuv)
{
  struct result *r;

  corun__spawn_libuv_only(1);
  r = run_job(
      "{\"tasks\": [{\"id\": \"t\", \"kind\": \"exec\", \"shell\": \"sleep 5 "
      "& sleep 5; wait\", \"timeout\": 0.3}]}",
      NULL);

  /* The backgrounded sleep holds the pipes: the task ends when it dies. */
  cr_assert_str_eq(status_of(r, "t"), "timeout");
  cr_assert(r->wall < 0.3 + SLACK, "%f", r->wall);
  took(1);
  result_free(r);
}

BOTH(output_stdin_exit_status_and_signal)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"c\", \"kind\": \"exec\", \"argv\": [\"cat\"], \"stdin\": "
      "\"fed\"},"
      "{\"id\": \"e\", \"kind\": \"exec\", \"shell\": \"echo out; echo oops "
      ">&2; exit 3\", \"cwd\": \"/tmp\", \"env\": {\"CORUN_Y\": \"1\"}},"
      "{\"id\": \"k\", \"kind\": \"exec\", \"shell\": \"kill -9 $$\"}]}",
      NULL);

  cr_assert_str_eq(out_of(r, "c"), "fed");
  cr_assert_str_eq(task_by_id(r, "e")->err_msg, "exit status 3: oops");
  cr_assert_str_eq(out_of(r, "e"), "out\n");
  cr_assert_eq(task_by_id(r, "k")->err_type, CORUN_ERR_SIGNAL);
  cr_assert_str_eq(task_by_id(r, "k")->err_msg, "killed by signal 9 (Killed)");
  took(libuv);
  result_free(r);
}

BOTH(what_cannot_run_fails_the_same_way)
{
  char *script = write_temp("script.sh", "#!/bin/sh\necho hi\n");
  char job[2048];
  struct result *r;

  (void)libuv;
  /* After another task: the checks before the run leave them to it. */
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"first\", \"kind\": \"sleep\", "
           "\"seconds\": 0},"
           "{\"id\": \"abs\", \"kind\": \"exec\", \"argv\": "
           "[\"/nonexistent-corun/no-such-cmd\"], \"after\": [\"first\"]},"
           "{\"id\": \"path\", \"kind\": \"exec\", \"argv\": "
           "[\"corun-no-such-cmd\"], \"after\": [\"first\"]},"
           "{\"id\": \"noexec\", \"kind\": \"exec\", \"argv\": [\"%s\"], "
           "\"after\": [\"first\"]},"
           "{\"id\": \"dir\", \"kind\": \"exec\", \"argv\": [\"/tmp\"], "
           "\"after\": [\"first\"]},"
           "{\"id\": \"gone\", \"kind\": \"exec\", \"argv\": [\"true\"], "
           "\"cwd\": \"/nonexistent-corun-dir\", \"after\": [\"first\"]},"
           "{\"id\": \"file\", \"kind\": \"exec\", \"argv\": [\"true\"], "
           "\"cwd\": \"/etc/passwd\", \"after\": [\"first\"]}]}",
           script);
  r = run_job(job, NULL);
  cr_assert_str_eq(task_by_id(r, "abs")->err_msg,
                   "cannot run /nonexistent-corun/no-such-cmd: no such file "
                   "or directory");
  cr_assert_str_eq(task_by_id(r, "path")->err_msg,
                   "cannot run corun-no-such-cmd: no such file or directory");
  cr_assert(strstr(task_by_id(r, "noexec")->err_msg,
                   ": permission denied"),
            "%s", task_by_id(r, "noexec")->err_msg);
  cr_assert_str_eq(task_by_id(r, "dir")->err_msg,
                   "cannot run /tmp: permission denied");
  cr_assert_str_eq(task_by_id(r, "gone")->err_msg,
                   "cwd \"/nonexistent-corun-dir\": no such directory");
  cr_assert_str_eq(task_by_id(r, "file")->err_msg,
                   "cwd \"/etc/passwd\": not a directory");
  cr_assert_eq(task_by_id(r, "gone")->err_type, CORUN_ERR_IO);
  result_free(r);
  remove_copy(script);
  free(script);
}

/*
 * A program without "#!" is run by /bin/sh, as execvp() does: posix_spawn
 * refuses it (ENOEXEC), so the fast path hands it to libuv. Once: on
 * libuv's path alone it would run the same way again.
 */
Test(spawn, a_script_without_a_shebang_runs_in_sh)
{
  char *script = write_temp("plain", "echo plain $1\n"), job[512];
  struct result *r;

  cr_assert_eq(chmod(script, 0755), 0);
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"p\", \"kind\": \"exec\", \"argv\": "
           "[\"%s\", \"x\"]}]}",
           script);
  r = run_job(job, NULL);
  cr_assert_str_eq(status_of(r, "p"), "ok");
  cr_assert_str_eq(out_of(r, "p"), "plain x\n");
  took(1);
  result_free(r);
  remove_copy(script);
  free(script);
}

/*
 * A PATH of the task's own is where its program is looked up. posix_spawnp
 * would search corun's: such a task is libuv's, so it runs once.
 */
Test(spawn, the_task_s_path_finds_its_program)
{
  char *prog = write_temp("corun-spawn-probe", "#!/bin/sh\necho found\n");
  char job[1024], *slash;
  struct result *r;

  cr_assert_eq(chmod(prog, 0755), 0);
  slash = strrchr(prog, '/');
  *slash = '\0';
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"p\", \"kind\": \"exec\", \"argv\": "
           "[\"corun-spawn-probe\"], \"env\": {\"PATH\": \"/nonexistent:%s\"}"
           "}]}",
           prog);
  r = run_job(job, NULL);
  cr_assert_str_eq(status_of(r, "p"), "ok", "%s", task_by_id(r, "p")->err_msg);
  cr_assert_str_eq(out_of(r, "p"), "found\n");
  took(1);
  result_free(r);
  *slash = '/';
  remove_copy(prog);
  free(prog);
}

/*
 * The fast path's stdout is a pipe, not libuv's socket pair: a command
 * can open /dev/stdout (a socket cannot be opened through /proc).
 */
Test(spawn, dev_stdout_can_be_opened)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"s\", \"kind\": \"exec\", \"shell\": \"echo "
      "hi >/dev/stdout; echo err >/dev/stderr\"}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "s"), "ok", "%s", task_by_id(r, "s")->err_msg);
  cr_assert_str_eq(out_of(r, "s"), "hi\n");
  took(0);
  result_free(r);
}

/*
 * corun started with its stdin, stdout and stderr closed: the pipes it
 * makes for a command can land on 0-2, and the command must still get
 * each on its own descriptor.
 */
Test(spawn, commands_of_a_corun_without_stdio_get_theirs)
{
  char *job = write_temp("job.json",
                         "{\"tasks\": [{\"id\": \"c\", \"kind\": \"exec\", "
                         "\"shell\": \"cat; echo out; echo err >&2\", "
                         "\"stdin\": \"in \"}]}");
  char cmd[1024], *slash, *rep;

  slash = strrchr(job, '/');
  *slash = '\0';
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && '%s' -q --report r.json job.json <&- >&- 2>&-", job,
           CORUN_BIN);
  cr_assert_eq(system(cmd), 0);
  *slash = '/';
  strcpy(slash + 1, "r.json");
  rep = read_file(job, NULL);
  cr_assert_not_null(rep);
  cr_assert(strstr(rep, "\"stdout\": \"in out\\n\""), "%s", rep);
  cr_assert(strstr(rep, "\"stderr\": \"err\\n\""), "%s", rep);
  free(rep);
  unlink(job);
  strcpy(slash + 1, "job.json");
  remove_copy(job);
  free(job);
}
