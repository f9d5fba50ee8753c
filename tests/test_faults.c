/* SPDX-License-Identifier: MIT */
/*
 * Fault injection: the corun binary against servers that misbehave, files
 * that cannot be written, commands that will not die, signals at any
 * moment and too few file descriptors. Each test asserts the exact outcome
 * in the report and that nothing is lost or left behind: no temporary
 * file, no partial output, no process, no crash.
 *
 * Every run happens in a fresh directory (the job file, its outputs and
 * the report live there). The HTTP server is tests/server/httpd.c on
 * 127.0.0.1; ".invalid" names are answered by corun itself (RFC 6761), so
 * no test sends anything off the machine.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "helpers.h"
#include "server.h"

static struct test_server srv;
static char dir[64];      /* the run's directory */
static cJSON *reports[8]; /* parsed reports, freed by teardown */
static int nreports;
static int listener = -1; /* a socket that listens and never accepts */
static char *texts[64];   /* what slurp() read, freed by teardown */
static int ntexts;

#define SC time_scale()

/* What AddressSanitizer adds to a process's peak RSS, at most. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_RSS_KB (300 * 1024)
#else
#define SANITIZER_RSS_KB 0
#endif

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void setup(void)
{
  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  strcpy(dir, "/tmp/corun-faults.XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  /* Runs as nobody (see spawn_cli) must be able to work here. */
  if (geteuid() == 0)
    cr_assert_eq(chown(dir, SPAWN_NOBODY, SPAWN_NOBODY), 0);
}

static void teardown(void)
{
  char cmd[256];
  int i;

  for (i = 0; i < nreports; i++)
    cJSON_Delete(reports[i]);
  nreports = 0;
  for (i = 0; i < ntexts; i++)
    free(texts[i]);
  ntexts = 0;
  if (listener >= 0)
    close(listener);
  listener = -1;
  test_server_stop(&srv);
  snprintf(cmd, sizeof(cmd), "chmod -R u+w %s 2>/dev/null; rm -rf %s", dir,
           dir);
  if (system(cmd) != 0)
    cr_log_warn("could not remove %s", dir);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 120);

/* printf into a static buffer, with ' for " so jobs read as JSON. */
static const char *J(const char *fmt, ...)
{
  static char buf[1 << 16];
  va_list ap;
  char *p;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  for (p = buf; *p; p++)
    if (*p == '\'')
      *p = '"';
  return buf;
}

static const char *P(const char *name)
{
  static char paths[8][256];
  static int next;
  char *p = paths[next++ % 8];

  snprintf(p, 256, "%s/%s", dir, name);
  return p;
}

static const char *url(const char *path)
{
  static char bufs[4][256];
  static int next;
  char *p = bufs[next++ % 4];

  snprintf(p, 256, "http://127.0.0.1:%d%s", srv.port, path);
  return p;
}

static void put_file(const char *name, const char *text)
{
  FILE *f = fopen(P(name), "w");

  cr_assert_not_null(f, "%s: %s", P(name), strerror(errno));
  fputs(text, f);
  cr_assert_eq(fclose(f), 0);
  if (geteuid() == 0)
    cr_assert_eq(chown(P(name), SPAWN_NOBODY, SPAWN_NOBODY), 0);
}

/* The file's contents (freed by teardown), or NULL if it cannot be read. */
static char *slurp(const char *path)
{
  char *s = read_file(path, NULL);

  if (s == NULL)
    return NULL;
  if (ntexts == 64) {
    free(texts[0]);
    memmove(texts, texts + 1, sizeof(texts[0]) * 63);
    ntexts--;
  }
  texts[ntexts++] = s;
  return s;
}

/*
 * corun [extra...] --report report.json job.json in the run's directory,
 * with job as the job file. Returns what reap_cli() returns.
 */
static int corun_with(const char *job, const char *const *extra,
                      struct spawn_opts *o, long *rss_kb)
{
  const char *args[24];
  struct spawn_opts plain = {.free_fds = -1};
  size_t n = 0;

  put_file("job.json", job);
  while (extra && *extra && n < 20)
    args[n++] = *extra++;
  args[n++] = "--report";
  args[n++] = "report.json";
  args[n++] = "job.json";
  args[n] = NULL;
  if (o == NULL)
    o = &plain;
  o->cwd = dir;
  if (o->err == NULL)
    o->err = P("stderr.txt");
  return reap_cli(spawn_cli(args, o), 90 * SC, rss_kb);
}

static int corun(const char *job)
{
  static const char *const quiet[] = {"-q", NULL};

  return corun_with(job, quiet, NULL, NULL);
}

static cJSON *report(void)
{
  char *text = slurp(P("report.json"));
  cJSON *j;

  cr_assert_not_null(text, "no report.json; stderr: %s",
                     slurp(P("stderr.txt")));
  j = cJSON_Parse(text);
  cr_assert_not_null(j, "report.json is not JSON: %.300s", text);
  if (nreports < 8)
    reports[nreports++] = j;
  return j;
}

static const char *str(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItem(o, k);

  cr_assert(cJSON_IsString(v), "no string \"%s\"", k);
  return v->valuestring;
}

static double num(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItem(o, k);

  cr_assert(cJSON_IsNumber(v), "no number \"%s\"", k);
  return v->valuedouble;
}

static const char *status(cJSON *rep, const char *id)
{
  return str(report_task(rep, id), "status");
}

static const char *etype(cJSON *rep, const char *id)
{
  return str(cJSON_GetObjectItem(report_task(rep, id), "error"), "type");
}

static const char *emsg(cJSON *rep, const char *id)
{
  return str(cJSON_GetObjectItem(report_task(rep, id), "error"), "message");
}

static double took(cJSON *rep, const char *id)
{
  cJSON *t = report_task(rep, id);

  return num(t, "end") - num(t, "start");
}

/* Entries in d whose name holds ".corun-": temporary files left behind. */
static int temp_files(const char *d)
{
  DIR *dp = opendir(d);
  struct dirent *e;
  int n = 0;

  cr_assert_not_null(dp, "%s: %s", d, strerror(errno));
  while ((e = readdir(dp)) != NULL)
    if (strstr(e->d_name, ".corun-"))
      n++;
  closedir(dp);
  return n;
}


/* A directory the run (as nobody when we are root) cannot write into. */
static void read_only_dir(const char *name)
{
  cr_assert_eq(mkdir(P(name), 0555), 0);
  if (geteuid() == 0)
    cr_assert_eq(chown(P(name), SPAWN_NOBODY, SPAWN_NOBODY), 0);
}

/*
 * Every pid listed in file (one per line) is gone, within a grace. Unless
 * optional, the file must list some.
 */
static void pids_gone(const char *file, int optional)
{
  char *pids = slurp(P(file)), *s;
  int n = 0;

  if (pids == NULL && optional)
    return;
  cr_assert_not_null(pids, "no %s: the commands never ran", file);
  for (s = pids; *s;) {
    pid_t pid = (pid_t)strtol(s, &s, 10);
    double until = now_s() + 3 * SC;

    while (*s == '\n' || *s == ' ')
      s++;
    if (pid <= 0)
      continue;
    n++;
    while (kill(pid, 0) == 0 && now_s() < until)
      usleep(10 * 1000);
    cr_assert_eq(kill(pid, 0), -1, "process %d outlived corun", (int)pid);
  }
  cr_assert(n > 0 || optional, "no pids in %s", file);
}

static void all_gone(const char *file)
{
  pids_gone(file, 0);
}

/*
 * A port on 127.0.0.1 that refuses connections: bound, not listening, and
 * kept bound to the end of the test process, so that no server of a test
 * running beside it takes it and no connect picks it as its own port.
 */
static int closed_port(void)
{
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t len = sizeof(a);
  int s = socket(AF_INET, SOCK_STREAM, 0), port;

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert(s >= 0);
  cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
  port = ntohs(a.sin_port);
  return port;
}

/*
 * A port whose connections the kernel completes (the listen backlog) but
 * nobody ever reads from or answers.
 */
static int silent_port(void)
{
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t len = sizeof(a);

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  listener = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(listener >= 0);
  cr_assert_eq(bind(listener, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(listener, 64), 0);
  cr_assert_eq(getsockname(listener, (struct sockaddr *)&a, &len), 0);
  return ntohs(a.sin_port);
}

Test(faults, connection_refused_fails_connect_after_its_retries)
{
  int port = closed_port();
  cJSON *rep;

  cr_assert_eq(
      corun(J("{'tasks': [{'id': 'r', 'kind': 'fetch', 'url': "
              "'http://127.0.0.1:%d/x', 'retries': 2, 'backoff': '10ms', "
              "'save': 'out.bin'}]}",
              port)),
      1);
  rep = report();
  cr_assert_str_eq(status(rep, "r"), "failed");
  cr_assert_str_eq(etype(rep, "r"), "connect");
  cr_assert(strstr(emsg(rep, "r"), "127.0.0.1"), "%s", emsg(rep, "r"));
  cr_assert_eq(num(report_task(rep, "r"), "attempts"), 3);
  cr_assert_eq(access(P("out.bin"), F_OK), -1, "a file was left");
  cr_assert_eq(temp_files(dir), 0);
}

Test(faults, invalid_host_fails_dns_at_once_without_a_lookup)
{
  cJSON *rep;

  cr_assert_eq(
      corun(J("{'tasks': ["
              "{'id': 'direct', 'kind': 'fetch', 'url': "
              "'http://no-such-host.invalid/x', 'retries': 1, 'backoff': "
              "'10ms'},"
              "{'id': 'dot', 'kind': 'fetch', 'url': 'http://WWW.Invalid./'},"
              "{'id': 'hop', 'kind': 'fetch', 'url': "
              "'%s', 'save': 'hop.bin'}]}",
              url("/redirect-to?url=http://elsewhere.invalid:8080/y"))),
      1);
  rep = report();
  cr_assert_str_eq(status(rep, "direct"), "failed");
  cr_assert_str_eq(etype(rep, "direct"), "dns");
  /* Said by corun (no resolver was asked), and still retried as dns. */
  cr_assert(strstr(emsg(rep, "direct"), "RFC 6761"), "%s",
            emsg(rep, "direct"));
  cr_assert_eq(num(report_task(rep, "direct"), "attempts"), 2);
  cr_assert_str_eq(etype(rep, "dot"), "dns");
  cr_assert(strstr(emsg(rep, "dot"), "RFC 6761"), "%s", emsg(rep, "dot"));
  /* A redirect there is answered the same way. */
  cr_assert_str_eq(etype(rep, "hop"), "dns");
  cr_assert(strstr(emsg(rep, "hop"), "elsewhere.invalid"), "%s",
            emsg(rep, "hop"));
  cr_assert_lt(num(rep, "duration"), 3 * SC);
  cr_assert_eq(access(P("hop.bin"), F_OK), -1);
  cr_assert_eq(temp_files(dir), 0);
}

Test(faults, server_that_never_answers_times_out)
{
  int port = silent_port();
  cJSON *rep;

  cr_assert_eq(
      corun(J("{'tasks': ["
              "{'id': 'whole', 'kind': 'fetch', 'url': "
              "'http://127.0.0.1:%d/a', 'timeout': '500ms', 'save': "
              "'a.bin'},"
              "{'id': 'each', 'kind': 'fetch', 'url': "
              "'http://127.0.0.1:%d/b', 'attempt_timeout': '200ms', "
              "'retries': 1, 'backoff': '10ms'}]}",
              port, port)),
      1);
  rep = report();
  /* The task's own timeout: status timeout. */
  cr_assert_str_eq(status(rep, "whole"), "timeout");
  cr_assert_str_eq(etype(rep, "whole"), "timeout");
  cr_assert_geq(took(rep, "whole"), 0.45);
  cr_assert_lt(took(rep, "whole"), 0.5 + 2 * SC);
  /* Attempts that each run out: a failed task of type timeout. */
  cr_assert_str_eq(status(rep, "each"), "failed");
  cr_assert_str_eq(etype(rep, "each"), "timeout");
  cr_assert_eq(num(report_task(rep, "each"), "attempts"), 2);
  cr_assert_geq(took(rep, "each"), 0.38);
  cr_assert_eq(access(P("a.bin"), F_OK), -1);
  cr_assert_eq(temp_files(dir), 0);
}

Test(faults, server_that_drops_mid_body_loses_nothing_saved_before)
{
  cJSON *rep;

  put_file("keep.bin", "the old content");
  cr_assert_eq(
      corun(J("{'tasks': ["
              "{'id': 'over', 'kind': 'fetch', 'url': '%s', 'save': "
              "'keep.bin'},"
              "{'id': 'new', 'kind': 'fetch', 'url': '%s', 'save': "
              "'new.bin', 'retries': 1, 'backoff': '10ms'},"
              "{'id': 'mem', 'kind': 'fetch', 'url': '%s'}]}",
              url("/drop?n=200000"), url("/drop?n=200000"),
              url("/drop?n=100"))),
      1);
  rep = report();
  cr_assert_str_eq(status(rep, "over"), "failed");
  cr_assert_str_eq(etype(rep, "over"), "protocol");
  cr_assert_str_eq(etype(rep, "new"), "protocol");
  cr_assert_eq(num(report_task(rep, "new"), "attempts"), 2);
  cr_assert_str_eq(etype(rep, "mem"), "protocol");
  cr_assert_str_eq(slurp(P("keep.bin")), "the old content");
  cr_assert_eq(access(P("new.bin"), F_OK), -1, "a partial file was left");
  cr_assert_eq(temp_files(dir), 0);
}

Test(faults, slow_trickle_body_is_cut_by_timeout)
{
  cJSON *rep;

  cr_assert_eq(
      corun(J("{'tasks': ["
              "{'id': 'slow', 'kind': 'fetch', 'url': '%s', 'timeout': "
              "'700ms', 'save': 'slow.bin'},"
              "{'id': 'per', 'kind': 'fetch', 'url': '%s', "
              "'attempt_timeout': '300ms'}]}",
              url("/slow-body?n=1000&ms=20"), url("/slow-body?n=1000&ms=20"))),
      1);
  rep = report();
  /* Bytes keep coming, so only the timeouts can end these. */
  cr_assert_str_eq(status(rep, "slow"), "timeout");
  cr_assert_geq(took(rep, "slow"), 0.65);
  cr_assert_lt(took(rep, "slow"), 0.7 + 2 * SC);
  cr_assert_str_eq(status(rep, "per"), "failed");
  cr_assert_str_eq(etype(rep, "per"), "timeout");
  cr_assert_lt(took(rep, "per"), 0.3 + 2 * SC);
  cr_assert_eq(access(P("slow.bin"), F_OK), -1);
  cr_assert_eq(temp_files(dir), 0);
}

Test(faults, a_thousand_redirects_stop_at_ten)
{
  cJSON *rep;

  cr_assert_eq(
      corun(J("{'tasks': [{'id': 'loop', 'kind': 'fetch', 'url': '%s', "
              "'save': 'loop.bin'}]}",
              url("/redirect?n=1000"))),
      1);
  rep = report();
  cr_assert_str_eq(status(rep, "loop"), "failed");
  cr_assert_str_eq(etype(rep, "loop"), "protocol");
  cr_assert(strstr(emsg(rep, "loop"), "more than 10 redirects"), "%s",
            emsg(rep, "loop"));
  /* The last hop named is the eleventh: 1000 - 11 to go. */
  cr_assert(strstr(emsg(rep, "loop"), "n=989"), "%s", emsg(rep, "loop"));
  cr_assert_lt(took(rep, "loop"), 3 * SC);
  cr_assert_eq(access(P("loop.bin"), F_OK), -1);
  cr_assert_eq(temp_files(dir), 0);
}

Test(faults, gzip_bomb_stops_at_max_bytes_in_bounded_memory)
{
  static const char *const quiet[] = {"-q", NULL};
  long rss_kb = 0;
  struct stat st;
  cJSON *rep;

  /* 10 GB of zeros from about 63 MB on the wire, and a small one. */
  cr_assert_eq(
      corun_with(J("{'tasks': ["
                   "{'id': 'capped', 'kind': 'fetch', 'url': '%s', "
                   "'max_bytes': 1000000},"
                   "{'id': 'saved', 'kind': 'fetch', 'url': '%s', "
                   "'max_bytes': 1000000, 'save': 'bomb.bin'},"
                   "{'id': 'default', 'kind': 'fetch', 'url': '%s'},"
                   "{'id': 'whole', 'kind': 'fetch', 'url': '%s', "
                   "'save': 'whole.bin'}]}",
                   url("/gzip-bomb?n=10000000000"),
                   url("/gzip-bomb?n=10000000000"),
                   url("/gzip-bomb?n=10000000000"),
                   url("/gzip-bomb?n=3000000")),
                 quiet, NULL, &rss_kb),
      1);
  rep = report();
  cr_assert_str_eq(etype(rep, "capped"), "too_large");
  cr_assert(strstr(emsg(rep, "capped"), "max_bytes (1000000)"), "%s",
            emsg(rep, "capped"));
  cr_assert_str_eq(etype(rep, "saved"), "too_large");
  /* The default max_bytes, 64 MiB, holds as well. */
  cr_assert_str_eq(etype(rep, "default"), "too_large");
  cr_assert(strstr(emsg(rep, "default"), "67108864"), "%s",
            emsg(rep, "default"));
  /* Below the limit the same body is fine: it inflates, CRC and all. */
  cr_assert_str_eq(status(rep, "whole"), "ok");
  cr_assert_eq(num(cJSON_GetObjectItem(report_task(rep, "whole"), "result"), "bytes"),
               3000025); /* 1 + 258 k */
  cr_assert_eq(stat(P("whole.bin"), &st), 0);
  cr_assert_eq(st.st_size, 3000025);
  cr_assert_eq(access(P("bomb.bin"), F_OK), -1);
  cr_assert_eq(temp_files(dir), 0);
  /* Inflated bytes are counted, not kept: far below even the 64 MiB. */
  cr_assert_lt(rss_kb, 60 * 1024 + SANITIZER_RSS_KB, "peak RSS %ld KiB",
               rss_kb);
}

Test(faults, save_into_a_read_only_directory_fails_io)
{
  static const char *const quiet[] = {"-q", NULL};
  struct spawn_opts o = {.free_fds = -1, .unprivileged = 1};
  cJSON *rep;

  read_only_dir("ro");
  cr_assert_eq(
      corun_with(J("{'tasks': [{'id': 'ro', 'kind': 'fetch', 'url': '%s', "
                   "'save': 'ro/out.bin'},"
                   "{'id': 'fine', 'kind': 'fetch', 'url': '%s', "
                   "'save': 'fine.bin'}]}",
                   url("/bytes?n=100000"), url("/bytes?n=1000")),
                 quiet, &o, NULL),
      1);
  rep = report();
  cr_assert_str_eq(status(rep, "ro"), "failed");
  cr_assert_str_eq(etype(rep, "ro"), "io");
  cr_assert(strstr(emsg(rep, "ro"), "ro/out.bin"), "%s", emsg(rep, "ro"));
  cr_assert(strstr(emsg(rep, "ro"), "Permission denied"), "%s",
            emsg(rep, "ro"));
  cr_assert_eq(dir_entries(P("ro")), 0, "something was written in ro/");
  cr_assert_str_eq(status(rep, "fine"), "ok");
  cr_assert_eq(temp_files(dir), 0);
}

Test(faults, save_onto_dev_full_fails_io_without_a_temp_file)
{
  int before = temp_files("/dev");
  struct stat st;
  cJSON *rep;

  cr_assert_eq(
      corun(J("{'tasks': [{'id': 'full', 'kind': 'fetch', 'url': '%s', "
              "'save': '/dev/full'}]}",
              url("/bytes?n=300000"))),
      1);
  rep = report();
  cr_assert_str_eq(status(rep, "full"), "failed");
  cr_assert_str_eq(etype(rep, "full"), "io");
  cr_assert(strstr(emsg(rep, "full"), "/dev/full"), "%s", emsg(rep, "full"));
  cr_assert(strstr(emsg(rep, "full"), "No space left on device"), "%s",
            emsg(rep, "full"));
  cr_assert_eq(temp_files("/dev"), before, "a temp file was made in /dev");
  cr_assert_eq(stat("/dev/full", &st), 0);
  cr_assert(S_ISCHR(st.st_mode), "/dev/full is no longer a device");
}

Test(faults, results_and_reports_that_cannot_be_written)
{
  const char *job =
      J("{'tasks': ["
        "{'id': 'ro', 'kind': 'pipeline', 'source': {'range': [0, 5]}, "
        "'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}], "
        "'results': 'ro/r.jsonl'},"
        "{'id': 'full', 'kind': 'pipeline', 'source': {'range': [0, 5]}, "
        "'stages': [{'task': {'kind': 'sleep', 'seconds': 0}}], "
        "'results': '/dev/full'},"
        "{'id': 'fine', 'kind': 'sleep', 'seconds': 0}]}");
  static const char *const quiet[] = {"-q", NULL};
  static const char *const to_full[] = {"-q", "--junit", "/dev/full", NULL};
  static const char *const to_ro[] = {"-q", "--junit", "ro/junit.xml", NULL};
  struct spawn_opts o = {.free_fds = -1, .unprivileged = 1};
  char *err;
  cJSON *rep;

  read_only_dir("ro");
  cr_assert_eq(corun_with(job, quiet, &o, NULL), 1);
  rep = report();
  cr_assert_str_eq(status(rep, "ro"), "failed");
  cr_assert_str_eq(etype(rep, "ro"), "io");
  cr_assert(strstr(emsg(rep, "ro"), "ro/r.jsonl"), "%s", emsg(rep, "ro"));
  cr_assert_str_eq(status(rep, "full"), "failed");
  cr_assert_str_eq(etype(rep, "full"), "io");
  cr_assert(strstr(emsg(rep, "full"), "No space left on device"), "%s",
            emsg(rep, "full"));
  cr_assert_str_eq(status(rep, "fine"), "ok");
  cr_assert_eq(dir_entries(P("ro")), 0);

  /* A report that cannot be written at the end: exit 1, said on stderr. */
  o = (struct spawn_opts){.free_fds = -1};
  cr_assert_eq(corun_with(J("{'tasks': [{'id': 'fine', 'kind': 'sleep', "
                            "'seconds': 0}]}"),
                          to_full, &o, NULL),
               1);
  err = slurp(P("stderr.txt"));
  cr_assert(strstr(err, "/dev/full") && strstr(err, "No space left"), "%s",
            err);
  cr_assert_str_eq(status(report(), "fine"), "ok");
  /* Nor on standard output. */
  o = (struct spawn_opts){.free_fds = -1, .out = "/dev/full"};
  {
    static const char *const to_stdout[] = {"-q", "--report", "-",
                                            "job.json", NULL};

    o.cwd = dir;
    o.err = P("stderr.txt");
    cr_assert_eq(reap_cli(spawn_cli(to_stdout, &o), 30 * SC, NULL), 1);
    err = slurp(P("stderr.txt"));
    cr_assert(strstr(err, "cannot write the report to stdout: No space left"),
              "%s", err);
  }
  /* One that cannot even be created: exit 2 before anything runs. */
  o = (struct spawn_opts){.free_fds = -1, .unprivileged = 1};
  cr_assert_eq(corun_with(J("{'tasks': [{'id': 'x', 'kind': 'exec', "
                            "'shell': 'touch ran'}]}"),
                          to_ro, &o, NULL),
               2);
  err = slurp(P("stderr.txt"));
  cr_assert(strstr(err, "ro/junit.xml"), "%s", err);
  cr_assert_eq(access(P("ran"), F_OK), -1, "the job ran");
  cr_assert_eq(temp_files(dir), 0);
  cr_assert_eq(temp_files(P("ro")), 0);
}

Test(faults, exec_of_a_missing_binary_fails_naming_it)
{
  cJSON *rep;

  cr_assert_eq(
      /* After another task: no check before the run refuses them. */
      corun(J("{'tasks': [{'id': 'first', 'kind': 'sleep', 'seconds': 0},"
              "{'id': 'path', 'kind': 'exec', 'argv': ['./no-such-program'],"
              " 'after': ['first']},"
              "{'id': 'name', 'kind': 'exec', 'argv': "
              "['no-such-program-on-path', '-x'], 'retries': 1, 'backoff': "
              "'10ms', 'after': ['first']},"
              "{'id': 'shell', 'kind': 'exec', 'shell': "
              "'no-such-program-on-path'}]}")),
      1);
  rep = report();
  cr_assert_str_eq(etype(rep, "path"), "io");
  cr_assert_str_eq(emsg(rep, "path"),
                   "cannot run ./no-such-program: no such file or directory");
  cr_assert_str_eq(etype(rep, "name"), "io");
  cr_assert(strstr(emsg(rep, "name"), "no-such-program-on-path"), "%s",
            emsg(rep, "name"));
  /* It will not appear by waiting: not retried. */
  cr_assert_eq(num(report_task(rep, "name"), "attempts"), 1);
  /* Through a shell, it is the shell's exit status 127. */
  cr_assert_str_eq(etype(rep, "shell"), "exit_status");
  cr_assert(strstr(emsg(rep, "shell"), "127"), "%s", emsg(rep, "shell"));
}

Test(faults, command_ignoring_sigterm_is_killed_after_kill_grace)
{
  cJSON *rep;

  /* The shell and its sleeps all ignore SIGTERM (it is inherited). */
  cr_assert_eq(
      corun(J("{'tasks': [{'id': 'stubborn', 'kind': 'exec', 'shell': "
              "'trap \\'\\' TERM; echo $$ >> pids; sleep 30 & echo $! >> "
              "pids; wait; wait', 'timeout': '1s', 'kill_grace': "
              "'700ms'}]}")),
      1);
  rep = report();
  cr_assert_str_eq(status(rep, "stubborn"), "timeout");
  cr_assert_str_eq(etype(rep, "stubborn"), "timeout");
  /* It waited the grace before SIGKILL, and not much longer. */
  cr_assert_geq(took(rep, "stubborn"), 1.65);
  cr_assert_lt(took(rep, "stubborn"), 1.7 + 2 * SC);
  all_gone("pids");
}

/* Waits until pid has its SIGINT and SIGTERM handlers in place. */
static void wait_caught(pid_t pid)
{
  char path[64], line[256];
  double until = now_s() + 10 * SC;
  unsigned long long mask = 0;
  const unsigned long long want = (1ULL << (SIGINT - 1)) |
                                  (1ULL << (SIGTERM - 1));

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  while ((mask & want) != want) {
    FILE *f = fopen(path, "r");

    cr_assert_not_null(f, "corun is gone");
    while (fgets(line, sizeof(line), f))
      if (sscanf(line, "SigCgt: %llx", &mask) == 1)
        break;
    fclose(f);
    cr_assert_lt(now_s(), until, "corun never caught SIGINT and SIGTERM");
    if ((mask & want) != want)
      usleep(500);
  }
}

/*
 * Waits until pid has taken sig: it is no longer pending. A second signal
 * sent before that merges with the first (one delivery), which on a busy
 * machine turned "two SIGINTs" into one.
 */
static void wait_taken(pid_t pid, int sig)
{
  char path[64], line[256];
  double until = now_s() + 10 * SC;
  const unsigned long long bit = 1ULL << (sig - 1);

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  for (;;) {
    unsigned long long mask, pending = 0;
    FILE *f = fopen(path, "r");

    cr_assert_not_null(f, "corun is gone");
    while (fgets(line, sizeof(line), f))
      if (sscanf(line, "SigPnd: %llx", &mask) == 1 ||
          sscanf(line, "ShdPnd: %llx", &mask) == 1)
        pending |= mask;
    fclose(f);
    if (!(pending & bit))
      return;
    cr_assert_lt(now_s(), until, "corun never took signal %d", sig);
    usleep(200);
  }
}

static const char *const busy_args[] = {
    "-q", "--report", "report.json", "--junit", "junit.xml", "--trace",
    "trace.json", "--journal", "journal.jsonl", "job.json", NULL};

static void check_interrupted(int sig, int code, double delay)
{
  char *text, *line, *save;
  cJSON *rep, *t, *j;
  int lines = 0;

  cr_assert_eq(code, sig == SIGINT ? 130 : 143,
               "signal %d after %.3f s: exit %d; stderr: %s", sig, delay,
               code, slurp(P("stderr.txt")));
  rep = report();
  cr_assert_str_eq(str(rep, "status"), "cancelled");
  cr_assert_eq(num(rep, "exit_code"), code);
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(rep, "tasks")) {
    const char *s = str(t, "status");

    /* Whatever ended before the signal ended well; the rest cancelled. */
    cr_assert(strcmp(s, "ok") == 0 || strcmp(s, "cancelled") == 0,
              "task %s ended %s", str(t, "id"), s);
  }
  cr_assert_str_eq(status(rep, "forever"), "cancelled");
  text = slurp(P("junit.xml"));
  cr_assert(text && strncmp(text, "<?xml", 5) == 0, "junit.xml");
  text = slurp(P("trace.json"));
  j = cJSON_Parse(text);
  cr_assert_not_null(j, "trace.json is not JSON");
  cJSON_Delete(j);
  /* Every journal line is whole. */
  text = slurp(P("journal.jsonl"));
  cr_assert_not_null(text);
  for (line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    j = cJSON_Parse(line);
    cr_assert_not_null(j, "journal line %d: %s", lines + 1, line);
    cJSON_Delete(j);
    lines++;
  }
  cr_assert_geq(lines, 1);
  cr_assert_eq(temp_files(dir), 0, "a temp file is left");
  /* A signal right at the start may come before any command ran. */
  pids_gone("pids", 1);
}

Test(faults, sigint_and_sigterm_at_random_points_of_a_busy_run,
     .timeout = 300)
{
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
  struct spawn_opts o = {.free_fds = -1};
  int round;

  srand(seed);
  cr_log_info("seed %u", seed);
  for (round = 0; round < 8; round++) {
    int sig = round % 2 ? SIGTERM : SIGINT;
    /* The first two right after start, then anywhere up to 1.2 s. */
    double delay = round < 2 ? 0 : (rand() % 1200) / 1000.0 * SC;
    struct corun_buf job = CORUN_BUF_INIT;
    char cmd[160];
    pid_t pid;
    int i;

    snprintf(cmd, sizeof(cmd), "rm -rf %s/*", dir);
    cr_assert_eq(system(cmd), 0);
    /* Downloads, commands, a pipeline with a results file, timers. */
    corun_buf_puts(&job, "{\"tasks\": [");
    for (i = 0; i < 12; i++)
      corun_buf_printf(&job,
                       "{\"id\": \"f%d\", \"kind\": \"fetch\", \"url\": "
                       "\"%s\", \"save\": \"f%d.bin\"},",
                       i, url(i % 2 ? "/delay?ms=300&n=100000" :
                                      "/slow-body?n=40&ms=30"),
                       i);
    for (i = 0; i < 4; i++)
      corun_buf_printf(&job,
                       "{\"id\": \"x%d\", \"kind\": \"exec\", \"shell\": "
                       "\"echo $$ >> pids; sleep 0.%d; exec sleep 30\"},",
                       i, i * 2);
    corun_buf_printf(
        &job,
        "{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": {\"range\": "
        "[0, 100000]}, \"stages\": [{\"workers\": 8, \"task\": {\"kind\": "
        "\"fetch\", \"url\": \"%s\"}}], \"results\": \"p.jsonl\"},",
        url("/delay?ms=5"));
    corun_buf_puts(&job,
                   "{\"id\": \"quick\", \"kind\": \"sleep\", \"seconds\": "
                   "0.1},"
                   "{\"id\": \"forever\", \"kind\": \"sleep\", "
                   "\"seconds\": 60}]}");
    put_file("job.json", corun_buf_str(&job));
    corun_buf_free(&job);
    o.cwd = dir;
    o.err = P("stderr.txt");
    pid = spawn_cli(busy_args, &o);
    wait_caught(pid);
    usleep((useconds_t)(delay * 1e6));
    kill(pid, sig);
    check_interrupted(sig, reap_cli(pid, 30 * SC, NULL), delay);
  }
}

Test(faults, a_signal_while_the_job_is_still_coming_ends_corun_at_once)
{
  struct spawn_opts o = {.free_fds = -1};
  static const char *const args[] = {"-q", "--report", "report.json", "-",
                                     NULL};
  const char *half = "{\"tasks\": [{\"id\": \"a\", \"kind\": \"exec\", "
                     "\"shell\": \"touch ran\"},";
  double sent;
  int code, fd;
  pid_t pid;

  /* The job comes through a FIFO whose writer stays open: no end yet. */
  cr_assert_eq(mkfifo(P("job.fifo"), 0600), 0);
  o.cwd = dir;
  o.in = P("job.fifo");
  o.err = P("stderr.txt");
  pid = spawn_cli(args, &o);
  fd = open(P("job.fifo"), O_WRONLY);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, half, strlen(half)), (ssize_t)strlen(half));
  wait_caught(pid);
  sent = now_s();
  kill(pid, SIGTERM);
  code = reap_cli(pid, 10 * SC, NULL);
  close(fd);
  cr_assert_eq(code, 143, "exit %d: %s", code, slurp(P("stderr.txt")));
  cr_assert_lt(now_s() - sent, 2 * SC, "slow to stop");
  cr_assert(strstr(slurp(P("stderr.txt")),
                   "SIGTERM while reading the job from stdin: nothing ran"),
            "%s", slurp(P("stderr.txt")));
  cr_assert_eq(access(P("ran"), F_OK), -1, "a task ran");
  cr_assert_eq(access(P("report.json"), F_OK), -1);
}

Test(faults, two_signals_while_a_big_job_loads_still_write_the_report)
{
  struct corun_buf job = CORUN_BUF_INIT;
  struct spawn_opts o = {.free_fds = -1};
  static const char *const args[] = {"-q", "--report", "report.json", "-",
                                     NULL};
  int i, n = 200000, code;
  pid_t pid;
  cJSON *rep;

  /* Loading takes a while: the signals most likely land in it. */
  corun_buf_puts(&job, "{\"tasks\": [{\"id\": \"shielded\", \"kind\": "
                       "\"sleep\", \"seconds\": 30, \"shield\": true},");
  for (i = 0; i < n; i++)
    corun_buf_printf(&job,
                     "{\"id\": \"s%d\", \"kind\": \"sleep\", \"seconds\": "
                     "30},",
                     i);
  corun_buf_puts(&job, "{\"id\": \"last\", \"kind\": \"sleep\", "
                       "\"seconds\": 30}]}");
  put_file("job.json", corun_buf_str(&job));
  corun_buf_free(&job);
  /* Standard input that is a file is read to its end whatever comes. */
  o.cwd = dir;
  o.in = P("job.json");
  o.err = P("stderr.txt");
  pid = spawn_cli(args, &o);
  wait_caught(pid);
  kill(pid, SIGINT);
  wait_taken(pid, SIGINT);
  kill(pid, SIGINT);
  code = reap_cli(pid, 60 * SC, NULL);
  cr_assert_eq(code, 130, "exit %d: %s", code, slurp(P("stderr.txt")));
  rep = report();
  cr_assert_str_eq(str(rep, "status"), "cancelled");
  cr_assert_eq(num(rep, "exit_code"), 130);
  /* Twice: even the shielded task was stopped, not waited for. */
  cr_assert_str_eq(status(rep, "shielded"), "cancelled");
  cr_assert_eq(num(cJSON_GetObjectItem(rep, "summary"), "cancelled"), n + 2);
  cr_assert_lt(num(rep, "duration"), 10 * SC);
}

Test(faults, ulimit_64_with_500_fetches_waits_for_descriptors)
{
  static const char *const quiet[] = {"-q", NULL};
  struct spawn_opts o = {.nofile = 64, .free_fds = -1};
  struct corun_buf job = CORUN_BUF_INIT;
  char name[32];
  struct stat st;
  cJSON *rep, *t;
  int i;

  /*
   * Some save to files, and the last ones have timeouts shorter than the
   * whole run's wait for descriptors: waiting is "queued" time, which no
   * timeout counts.
   */
  corun_buf_puts(&job, "{\"concurrency\": 500, \"tasks\": [{\"id\": \"all\", "
                       "\"kind\": \"gather\", \"tasks\": [");
  for (i = 0; i < 500; i++) {
    corun_buf_printf(&job, "%s{\"id\": \"f%d\", \"kind\": \"fetch\", ", i ? "," : "",
                     i);
    if (i >= 480)
      corun_buf_printf(&job,
                       "\"url\": \"%s\", \"timeout\": \"500ms\", "
                       "\"attempt_timeout\": \"400ms\"}",
                       url("/delay?ms=200"));
    else if (i % 3 == 0)
      corun_buf_printf(&job, "\"url\": \"%s\", \"save\": \"f%d.bin\"}",
                       url("/bytes?n=20000"), i);
    else
      corun_buf_printf(&job, "\"url\": \"%s\"}", url("/delay?ms=40"));
  }
  corun_buf_puts(&job, "]}]}");
  cr_assert_eq(corun_with(corun_buf_str(&job), quiet, &o, NULL), 0, "%s",
               slurp(P("stderr.txt")));
  corun_buf_free(&job);
  rep = report();
  cr_assert_eq(num(cJSON_GetObjectItem(rep, "summary"), "ok"), 501);
  for (i = 0; i < 480; i += 3) {
    snprintf(name, sizeof(name), "f%d.bin", i);
    cr_assert_eq(stat(P(name), &st), 0, "%s missing", name);
    cr_assert_eq(st.st_size, 20000);
  }
  cr_assert_eq(temp_files(dir), 0);
  /* The last ones waited longer than their timeout before they started. */
  t = report_task(rep, "f499");
  cr_assert_gt(num(t, "queued"), 0.5, "f499 was queued %.3f s",
               num(t, "queued"));
}

Test(faults, ulimit_64_with_many_commands_waits_for_descriptors)
{
  static const char *const quiet[] = {"-q", NULL};
  struct spawn_opts o = {.nofile = 64, .free_fds = -1};
  struct corun_buf job = CORUN_BUF_INIT;
  int i, waited = 0;
  cJSON *rep, *t;

  /* 60 commands of 3 pipes each cannot all run in 64 descriptors. */
  corun_buf_puts(&job, "{\"tasks\": [");
  for (i = 0; i < 60; i++)
    corun_buf_printf(&job,
                     "%s{\"id\": \"x%d\", \"kind\": \"exec\", \"shell\": "
                     "\"echo $$ >> pids; sleep 0.2\"}",
                     i ? "," : "", i);
  corun_buf_puts(&job, "]}");
  cr_assert_eq(corun_with(corun_buf_str(&job), quiet, &o, NULL), 0, "%s",
               slurp(P("stderr.txt")));
  corun_buf_free(&job);
  rep = report();
  cr_assert_eq(num(cJSON_GetObjectItem(rep, "summary"), "ok"), 60);
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(rep, "tasks"))
    waited += num(t, "queued") > 0.1;
  cr_assert_gt(waited, 0, "no command had to wait for descriptors");
  all_gone("pids");

  /*
   * Fetches leave idle connections behind; commands after them, holding
   * their pipes for a while (a large stdin), must still fit.
   */
  corun_buf_puts(&job, "{\"tasks\": [{\"id\": \"F\", \"kind\": \"gather\", "
                       "\"tasks\": [");
  for (i = 0; i < 30; i++)
    corun_buf_printf(&job, "%s{\"kind\": \"fetch\", \"url\": \"%s\"}",
                     i ? "," : "", url("/delay?ms=50"));
  corun_buf_puts(&job, "]}, {\"id\": \"X\", \"kind\": \"gather\", "
                       "\"after\": [\"F\"], \"tasks\": [");
  for (i = 0; i < 30; i++)
    corun_buf_printf(&job,
                     "%s{\"kind\": \"exec\", \"argv\": [\"sleep\", "
                     "\"0.3\"], \"stdin\": \"%0200000d\"}",
                     i ? "," : "", 0);
  corun_buf_puts(&job, "]}]}");
  o = (struct spawn_opts){.nofile = 64, .free_fds = -1};
  cr_assert_eq(corun_with(corun_buf_str(&job), quiet, &o, NULL), 0, "%s",
               slurp(P("stderr.txt")));
  corun_buf_free(&job);
  cr_assert_eq(num(cJSON_GetObjectItem(report(), "summary"), "ok"), 62);
}

Test(faults, the_dump_says_a_task_waits_for_descriptors)
{
  static const char *const args[] = {"-q", "job.json", NULL};
  struct spawn_opts o = {.nofile = 64, .free_fds = -1};
  struct corun_buf job = CORUN_BUF_INIT;
  const char *err;
  pid_t pid;
  int i;

  corun_buf_puts(&job, "{\"tasks\": [");
  for (i = 0; i < 40; i++)
    corun_buf_printf(&job,
                     "%s{\"id\": \"x%d\", \"kind\": \"exec\", \"argv\": "
                     "[\"sleep\", \"5\"]}",
                     i ? "," : "", i);
  corun_buf_puts(&job, "]}");
  put_file("job.json", corun_buf_str(&job));
  corun_buf_free(&job);
  o.cwd = dir;
  o.err = P("stderr.txt");
  pid = spawn_cli(args, &o);
  wait_caught(pid);
  usleep(300 * 1000);
  kill(pid, SIGUSR1);
  usleep(300 * 1000);
  kill(pid, SIGINT);
  cr_assert_eq(reap_cli(pid, 20 * SC, NULL), 130);
  err = slurp(P("stderr.txt"));
  cr_assert(strstr(err, "file descriptors: ") &&
                strstr(err, "tasks hold all that ulimit -n leaves"),
            "%s", err);
}

Test(faults, a_program_still_open_for_writing_is_retried)
{
  static const char *const args[] = {"-q", "--report", "report.json",
                                     "job.json", NULL};
  const char *script = "#!/bin/sh\necho started\n";
  struct spawn_opts o = {.free_fds = -1};
  cJSON *rep;
  pid_t pid;
  int fd;

  /* Running a file that something still writes fails with ETXTBSY. */
  fd = open(P("prog"), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, script, strlen(script)), (ssize_t)strlen(script));
  put_file("job.json",
           J("{'tasks': [{'id': 'p', 'kind': 'exec', 'argv': ['./prog'], "
             "'retries': 6, 'backoff': '100ms'},"
             "{'id': 'first', 'kind': 'sleep', 'seconds': 0},"
             "{'id': 'gone', 'kind': 'exec', 'argv': ['./no-such-prog'], "
             "'retries': 6, 'backoff': '100ms', 'after': ['first']}]}"));
  o.cwd = dir;
  o.err = P("stderr.txt");
  pid = spawn_cli(args, &o);
  usleep(300 * 1000);
  close(fd);
  cr_assert_eq(reap_cli(pid, 30 * SC, NULL), 1);
  rep = report();
  cr_assert_str_eq(status(rep, "p"), "ok");
  cr_assert_gt(num(report_task(rep, "p"), "attempts"), 1);
  /* A program that is not there is not waited for. */
  cr_assert_str_eq(status(rep, "gone"), "failed");
  cr_assert_eq(num(report_task(rep, "gone"), "attempts"), 1);
}

/* Sweeps free descriptors from none to enough over one job. */
static void sweep(const char *job, const char *short_of, int *hits)
{
  int k, loops = 0, clean = 0;

  put_file("job.json", job);
  *hits = 0;
  for (k = 0; k <= 24; k++) {
    static const char *const args[] = {"job.json", NULL};
    struct spawn_opts o = {.nofile = 64, .free_fds = k};
    char *err;
    int code;

    o.cwd = dir;
    o.err = P("stderr.txt");
    code = reap_cli(spawn_cli(args, &o), 30 * SC, NULL);
    err = slurp(P("stderr.txt"));
    cr_assert_not_null(err);
    cr_assert(code >= 0 && code <= 2, "%d free: exit %d: %s", k, code, err);
    if (code != 0)
      cr_assert(strstr(err, "Too many open files") ||
                    strstr(err, "too many open files"),
                "%d free: exit %d without saying why: %s", k, code, err);
    *hits += strstr(err, short_of) != NULL;
    loops += strstr(err, "cannot start the event loop") != NULL;
    clean += code == 0;
  }
  cr_assert_gt(loops, 0, "never short at the start");
  cr_assert_gt(clean, 0, "never enough");
}

Test(faults, no_descriptors_left_at_any_step_never_crashes)
{
  int hits;

  /* Each step fails a bit later, or not; always saying why. */
  sweep(J("{'tasks': [{'id': 'f', 'kind': 'fetch', 'url': '%s'}]}",
          url("/text")),
        "cannot open a socket: Too many open files", &hits);
  cr_assert_gt(hits, 0, "never short of a socket");
  sweep(J("{'tasks': [{'id': 'x', 'kind': 'exec', 'argv': ['true']}]}"),
        "too many open files (corun may have 64", &hits);
  cr_assert_gt(hits, 0, "never short of pipes");
}
