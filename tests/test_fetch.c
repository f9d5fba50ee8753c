/* SPDX-License-Identifier: MIT */
/*
 * The fetch kind against the local test server (tests/server/httpd.c on
 * 127.0.0.1, a port the OS picks): results, expect, save, max_bytes,
 * redirects and their safety, retries, timeouts, cancellation and the
 * concurrency cap. No traffic leaves the machine.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "server.h"
#include "util/libcurl.h"
#include "core/http.h"

#include <curl/curl.h>

static struct test_server srv, srv2;
static pid_t tls_pid = -1;

static void setup(void)
{
  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  srv2.pid = -1;
}

static void teardown(void)
{
  test_server_stop(&srv);
  test_server_stop(&srv2);
  if (tls_pid > 0) {
    int st;

    kill(tls_pid, SIGTERM);
    waitpid(tls_pid, &st, 0);
    tls_pid = -1;
  }
}

TestSuite(fetch, .init = setup, .fini = teardown, .timeout = 60);

#define SLACK (0.3 * time_scale())

/* printf into a static job buffer; %1$d style is not needed: BASE is %s. */
static char *job(const char *fmt, ...)
{
  static char buf[1 << 16];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

static const char *base(void)
{
  static char b[64];

  snprintf(b, sizeof(b), "http://127.0.0.1:%d", srv.port);
  return b;
}

static cJSON *result_of(struct result *r, const char *id)
{
  cJSON *j = cJSON_Parse(result_json(r, id));

  cr_assert_not_null(j, "result of %s is not JSON", id);
  return j;
}

static double num(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

  cr_assert(cJSON_IsNumber(v), "no number \"%s\"", k);
  return v->valuedouble;
}

static int server_count(const char *id)
{
  char path[128], *url;
  struct result *r;
  cJSON *res;
  int n;

  snprintf(path, sizeof(path), "/count?id=%s", id);
  url = test_server_url(&srv, path);
  r = run_job(job("{\"tasks\": [{\"id\": \"c\", \"kind\": \"fetch\", "
                  "\"url\": \"%s\"}]}",
                  url),
              NULL);
  free(url);
  res = result_of(r, "c");
  n = atoi(cJSON_GetObjectItem(res, "body")->valuestring);
  cJSON_Delete(res);
  result_free(r);
  return n;
}

Test(fetch, get_result_has_status_bytes_type_url_timings_body)
{
  struct result *r = run_job(
      job("{\"tasks\": [{\"id\": \"a\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=100&type=text/plain\"}, {\"id\": \"b\", \"kind\": "
          "\"fetch\", \"url\": \"%s/binary\"}, {\"id\": \"c\", \"kind\": "
          "\"fetch\", \"url\": \"%s/bytes?n=5000&type=text/plain\"}]}",
          base(), base(), base()),
      NULL);
  cJSON *a = result_of(r, "a"), *b = result_of(r, "b"), *c = result_of(r, "c");
  const cJSON *tm = cJSON_GetObjectItem(a, "timings");

  cr_assert_str_eq(status_of(r, "a"), "ok");
  cr_assert_eq(num(a, "status"), 200);
  cr_assert_eq(num(a, "bytes"), 100);
  cr_assert_str_eq(cJSON_GetObjectItem(a, "content_type")->valuestring,
                   "text/plain");
  cr_assert(strstr(cJSON_GetObjectItem(a, "url")->valuestring, "/bytes?n=100"));
  cr_assert(num(tm, "total") > 0 && num(tm, "total") >= num(tm, "ttfb"));
  cr_assert(num(tm, "connect") >= num(tm, "dns"));
  cr_assert_eq(strlen(cJSON_GetObjectItem(a, "body")->valuestring), 100);
  cr_assert_eq(strncmp(cJSON_GetObjectItem(a, "body")->valuestring,
                       TEST_SERVER_PATTERN, 10),
               0);
  /* Binary or over 4 KiB: no body in the result. */
  cr_assert_null(cJSON_GetObjectItem(b, "body"));
  cr_assert_null(cJSON_GetObjectItem(c, "body"));
  cr_assert_eq(num(c, "bytes"), 5000);
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(c);
  result_free(r);
}

/*
 * "body" is in the result only when the body is UTF-8 text: a surrogate,
 * an overlong form or a code point past U+10FFFF is not UTF-8 though its
 * bytes look like sequences, and a NUL is no text; accented letters and
 * emoji are.
 */
Test(fetch, body_is_kept_only_for_well_formed_utf8_text)
{
  static const char *const texts[] = {
      "A\xed\xa0\x80" "B", "A\xe0\x80\x80" "B", "A\xf4\x90\x80\x80" "B",
      "caf\xc3\xa9 \xf0\x9f\x90\x8d \xef\xbf\xbd"};
  char *path[4];
  char url[4][1024];
  struct result *r;
  int i;

  for (i = 0; i < 4; i++) {
    path[i] = write_temp("b.txt", texts[i]);
    snprintf(url[i], sizeof(url[i]), "%s/file?path=%s", base(), path[i]);
  }
  r = run_job(job("{\"tasks\": [{\"id\": \"s\", \"kind\": \"fetch\", \"url\":"
                  " \"%s\"}, {\"id\": \"o\", \"kind\": \"fetch\", \"url\":"
                  " \"%s\"}, {\"id\": \"h\", \"kind\": \"fetch\", \"url\":"
                  " \"%s\"}, {\"id\": \"t\", \"kind\": \"fetch\", \"url\":"
                  " \"%s\"}]}",
                  url[0], url[1], url[2], url[3]),
              NULL);
  for (i = 0; i < 4; i++) {
    const char *id = (const char *[]){"s", "o", "h", "t"}[i];
    cJSON *res = result_of(r, id);

    cr_assert_str_eq(status_of(r, id), "ok");
    cr_assert_eq(num(res, "bytes"), (double)strlen(texts[i]), "%s", id);
    if (i < 3)
      cr_assert_null(cJSON_GetObjectItem(res, "body"), "%s", id);
    else
      cr_assert_str_eq(cJSON_GetObjectItem(res, "body")->valuestring,
                       texts[i]);
    cJSON_Delete(res);
    remove_copy(path[i]);
    free(path[i]);
  }
  result_free(r);
}

/*
 * Fetches of one setting keep each their own content type, one after the
 * other, the same as the last or not (the string is shared when the same).
 */
Test(fetch, each_result_keeps_its_own_content_type)
{
  static const char *const want[] = {"text/plain", "application/octet-stream",
                                     "text/plain", "application/json",
                                     "application/json"};
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"a\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=10&type=text/plain\"},"
          "{\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"%s/binary\", "
          "\"after\": [\"a\"]},"
          "{\"id\": \"c\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=10&type=text/plain\", \"after\": [\"b\"]},"
          "{\"id\": \"d\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=10&type=application/json\", \"after\": [\"c\"]},"
          "{\"id\": \"e\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=10&type=application/json\", \"after\": [\"d\"]}]}",
          base(), base(), base(), base(), base()),
      NULL);
  char id[2] = "a";
  size_t i;

  for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    cJSON *x;

    id[0] = (char)('a' + i);
    x = result_of(r, id);
    cr_assert_str_eq(status_of(r, id), "ok");
    cr_assert_str_eq(cJSON_GetObjectItem(x, "content_type")->valuestring,
                     want[i], "task %s", id);
    cJSON_Delete(x);
  }
  result_free(r);
}

Test(fetch, expect_status_codes_and_classes)
{
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"nf\", \"kind\": \"fetch\", \"url\": "
          "\"%s/status?code=404\"},"
          "{\"id\": \"nf-ok\", \"kind\": \"fetch\", \"url\": "
          "\"%s/status?code=404\", \"expect\": {\"status\": [404]}},"
          "{\"id\": \"class\", \"kind\": \"fetch\", \"url\": "
          "\"%s/status?code=204\", \"expect\": {\"status\": [\"2xx\"]}},"
          "{\"id\": \"not-class\", \"kind\": \"fetch\", \"url\": "
          "\"%s/status?code=302\", \"follow_redirects\": false, \"expect\": "
          "{\"status\": [\"2xx\", 201]}}]}",
          base(), base(), base(), base()),
      NULL);
  struct corun_task *nf = task_by_id(r, "nf");

  cr_assert_str_eq(status_of(r, "nf"), "failed");
  cr_assert_eq(nf->err_type, CORUN_ERR_HTTP_STATUS);
  cr_assert(strstr(nf->err_msg, "404"), "%s", nf->err_msg);
  cr_assert_str_eq(status_of(r, "nf-ok"), "ok");
  cr_assert_str_eq(status_of(r, "class"), "ok");
  cr_assert_str_eq(status_of(r, "not-class"), "failed");
  result_free(r);
}

static char *slurp(const char *path, size_t *len)
{
  char *s = read_file(path, len);

  cr_assert_not_null(s, "cannot open %s", path);
  return s;
}

Test(fetch, save_streams_the_body_to_the_file)
{
  char *dir = tmp_dir("fetch"), path[256];
  struct result *r;
  size_t len, i;
  char *data;

  snprintf(path, sizeof(path), "%s/out.bin", dir);
  r = run_job(job("{\"tasks\": [{\"id\": \"s\", \"kind\": \"fetch\", "
                  "\"url\": \"%s/bytes?n=3000000\", \"save\": \"%s\"}]}",
                  base(), path),
              NULL);
  cr_assert_str_eq(status_of(r, "s"), "ok");
  data = slurp(path, &len);
  cr_assert_not_null(data);
  cr_assert_eq(len, 3000000);
  for (i = 0; i < len; i += 4999)
    cr_assert_eq(data[i], TEST_SERVER_BYTE(i));
  cr_assert_eq(dir_entries(dir), 1, "no temporary file left");
  free(data);
  unlink(path);
  rmdir(dir);
  free(dir);
  result_free(r);
}

Test(fetch, save_creates_missing_parent_directories)
{
  char *dir = tmp_dir("fetch"), path[256], blocked[256], made[256];
  struct result *r;
  struct stat st;
  mode_t mask = umask(022);
  FILE *f;

  snprintf(path, sizeof(path), "%s/a/b c/out.bin", dir);
  snprintf(blocked, sizeof(blocked), "%s/file/sub/out.bin", dir);
  snprintf(made, sizeof(made), "%s/file", dir);
  f = fopen(made, "w");
  fclose(f);
  r = run_job(job("{\"tasks\": [{\"id\": \"s\", \"kind\": \"fetch\", "
                  "\"url\": \"%s/bytes?n=1000\", \"save\": \"%s\"},"
                  "{\"id\": \"x\", \"kind\": \"fetch\", "
                  "\"url\": \"%s/bytes?n=1000\", \"save\": \"%s\"}]}",
                  base(), path, base(), blocked),
              NULL);
  umask(mask);
  cr_assert_str_eq(status_of(r, "s"), "ok", "%s", task_by_id(r, "s")->err_msg);
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_size, 1000);
  snprintf(made, sizeof(made), "%s/a/b c", dir);
  cr_assert_eq(stat(made, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0755, "mkdir -p's mode: %o",
               (unsigned)(st.st_mode & 0777));
  /* A file in the way: the task fails io, naming the directory. */
  cr_assert_str_eq(status_of(r, "x"), "failed");
  cr_assert_eq(task_by_id(r, "x")->err_type, CORUN_ERR_IO);
  cr_assert(strstr(task_by_id(r, "x")->err_msg, "cannot create directory ") &&
                strstr(task_by_id(r, "x")->err_msg,
                       "/file/sub: ") &&
                strstr(task_by_id(r, "x")->err_msg,
                       "/file is not a directory"),
            "%s", task_by_id(r, "x")->err_msg);
  result_free(r);
  unlink(path);
  rmdir(made);
  snprintf(made, sizeof(made), "%s/a", dir);
  rmdir(made);
  snprintf(made, sizeof(made), "%s/file", dir);
  unlink(made);
  rmdir(dir);
  free(dir);
}

/* A link out of the root that appears during the run makes no way out. */
Test(fetch, save_makes_no_directory_outside_the_root)
{
  char *root = tmp_dir("fetch"), *outside = tmp_dir("fetch");
  char *jpath = path_join(root, "job.json"), *made, *link;
  struct proc *p;
  FILE *f = fopen(jpath, "w");

  cr_assert_not_null(f);
  fprintf(f,
          "{\"tasks\": [{\"id\": \"swap\", \"kind\": \"exec\", \"argv\": "
          "[\"ln\", \"-s\", \"%s\", \"esc\"]},"
          "{\"id\": \"get\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=10\", \"save\": \"esc/new/out.bin\", "
          "\"after\": [\"swap\"]},"
          "{\"id\": \"fine\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=10\", \"save\": \"in/side/out.bin\"}]}",
          outside, base(), base());
  fclose(f);
  p = run_cli(NULL, (const char *const[]){"--root", root, "--report", "-",
                                          "-qq", jpath, NULL});
  cr_assert_eq(p->status, 1, "%s%s", p->out, p->err);
  cr_assert(strstr(p->out, "outside --root"), "%s", p->out);
  made = path_join(outside, "new");
  cr_assert_eq(access(made, F_OK), -1, "a directory was made outside");
  free(made);
  made = path_join(root, "in/side/out.bin");
  cr_assert_eq(access(made, F_OK), 0, "inside the root, made as usual");
  unlink(made);
  free(made);
  made = path_join(root, "in/side");
  rmdir(made);
  free(made);
  made = path_join(root, "in");
  rmdir(made);
  free(made);
  link = path_join(root, "esc");
  unlink(link);
  free(link);
  unlink(jpath);
  free(jpath);
  rmdir(root);
  rmdir(outside);
  free(root);
  free(outside);
  proc_free(p);
}

Test(fetch, failed_save_leaves_no_file_and_keeps_the_old_one)
{
  char *dir = tmp_dir("fetch"), path[256], fresh[256], other[256];
  struct result *r;
  size_t len;
  char *data;
  FILE *f;

  snprintf(path, sizeof(path), "%s/keep.txt", dir);
  snprintf(fresh, sizeof(fresh), "%s/new.txt", dir);
  snprintf(other, sizeof(other), "%s/keep2.txt", dir);
  f = fopen(path, "w");
  fputs("old content", f);
  fclose(f);
  /* Two tasks may not save to one file: the second keeps its own. */
  f = fopen(other, "w");
  fputs("old content", f);
  fclose(f);
  r = run_job(job("{\"tasks\": ["
                  "{\"id\": \"drop\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/drop?n=50000\", \"save\": \"%s\"},"
                  "{\"id\": \"drop2\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/drop?n=50000\", \"save\": \"%s\"},"
                  "{\"id\": \"status\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/status?code=500&body=oops\", \"save\": \"%s\"}]}",
                  base(), path, base(), fresh, base(), other),
              NULL);
  cr_assert_str_eq(status_of(r, "drop"), "failed");
  cr_assert_eq(task_by_id(r, "drop")->err_type, CORUN_ERR_PROTOCOL);
  cr_assert_str_eq(status_of(r, "status"), "failed");
  data = slurp(path, &len);
  cr_assert_str_eq(data, "old content");
  free(data);
  data = slurp(other, &len);
  cr_assert_str_eq(data, "old content");
  cr_assert_eq(access(fresh, F_OK), -1, "no partial new file");
  cr_assert_eq(dir_entries(dir), 2, "no temporary files left");
  free(data);
  unlink(other);
  unlink(path);
  rmdir(dir);
  free(dir);
  result_free(r);
}

Test(fetch, save_to_dev_null_writes_it_directly)
{
  struct result *r = run_job(
      job("{\"tasks\": [{\"id\": \"n\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=10000\", \"save\": \"/dev/null\"}]}",
          base()),
      NULL);
  struct stat st;

  cr_assert_str_eq(status_of(r, "n"), "ok");
  cr_assert_eq(stat("/dev/null", &st), 0);
  cr_assert(S_ISCHR(st.st_mode), "/dev/null is still a device");
  result_free(r);
}

Test(fetch, max_bytes_stops_while_streaming)
{
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"big\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=10000000\", \"max_bytes\": 1000000},"
          "{\"id\": \"gz\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=300000&gzip=1\", \"max_bytes\": 200000},"
          "{\"id\": \"fits\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=1000\", \"max_bytes\": 1000},"
          /* Sizes with units: 1KB is 1000 bytes, 1KiB 1024. */
          "{\"id\": \"kb\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=1001\", \"max_bytes\": \"1KB\"},"
          "{\"id\": \"kib\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=1024\", \"max_bytes\": \"1KiB\"}]}",
          base(), base(), base(), base(), base()),
      NULL);

  cr_assert_str_eq(status_of(r, "big"), "failed");
  cr_assert_eq(task_by_id(r, "big")->err_type, CORUN_ERR_TOO_LARGE);
  /* Counted on decoded bytes, not just the declared length. */
  cr_assert_str_eq(status_of(r, "gz"), "failed");
  cr_assert_eq(task_by_id(r, "gz")->err_type, CORUN_ERR_TOO_LARGE);
  cr_assert_str_eq(status_of(r, "fits"), "ok");
  cr_assert_str_eq(status_of(r, "kb"), "failed");
  cr_assert_eq(task_by_id(r, "kb")->err_type, CORUN_ERR_TOO_LARGE);
  cr_assert_str_eq(status_of(r, "kib"), "ok");
  result_free(r);
}

/* 64 MiB bounds a body kept in memory; a saved one is the disk's business. */
Test(fetch, saved_body_has_no_default_bound)
{
  char *dir = tmp_dir("fetch"), *path = path_join(dir, "big.bin");
  struct result *r;
  struct stat st;

  r = run_job(job("{\"tasks\": ["
                  "{\"id\": \"saved\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/bytes?n=70000000\", \"save\": \"%s\"},"
                  "{\"id\": \"kept\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/bytes?n=70000000\"},"
                  "{\"id\": \"bounded\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/bytes?n=70000000\", \"save\": \"%s.2\", "
                  "\"max_bytes\": 67108864}]}",
                  base(), path, base(), base(), path),
              NULL);
  cr_assert_str_eq(status_of(r, "saved"), "ok", "%s",
                   task_by_id(r, "saved")->err_msg);
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_size, 70000000);
  cr_assert_str_eq(status_of(r, "kept"), "failed");
  cr_assert_eq(task_by_id(r, "kept")->err_type, CORUN_ERR_TOO_LARGE);
  cr_assert_str_eq(status_of(r, "bounded"), "failed");
  cr_assert_eq(task_by_id(r, "bounded")->err_type, CORUN_ERR_TOO_LARGE);
  cr_assert_eq(dir_entries(dir), 1, "only the saved file");
  unlink(path);
  rmdir(dir);
  free(path);
  free(dir);
  result_free(r);
}

Test(fetch, redirects_followed_capped_and_only_http)
{
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"three\", \"kind\": \"fetch\", \"url\": "
          "\"%s/redirect?n=3\"},"
          "{\"id\": \"eleven\", \"kind\": \"fetch\", \"url\": "
          "\"%s/redirect?n=11\"},"
          "{\"id\": \"file\", \"kind\": \"fetch\", \"url\": "
          "\"%s/redirect-to?url=file:///etc/passwd\"},"
          "{\"id\": \"nofollow\", \"kind\": \"fetch\", \"url\": "
          "\"%s/redirect?n=1\", \"follow_redirects\": false}]}",
          base(), base(), base(), base()),
      NULL);
  cJSON *three = result_of(r, "three"), *nf = result_of(r, "nofollow");
  struct corun_task *file = task_by_id(r, "file");

  cr_assert_str_eq(status_of(r, "three"), "ok");
  cr_assert_str_eq(cJSON_GetObjectItem(three, "body")->valuestring, "done");
  cr_assert(strstr(cJSON_GetObjectItem(three, "url")->valuestring, "n=0"));
  cr_assert_str_eq(status_of(r, "eleven"), "failed");
  cr_assert_eq(task_by_id(r, "eleven")->err_type, CORUN_ERR_PROTOCOL);
  cr_assert_str_eq(status_of(r, "file"), "failed");
  cr_assert_eq(file->err_type, CORUN_ERR_PROTOCOL);
  cr_assert(strstr(file->err_msg, "file:"), "%s", file->err_msg);
  cr_assert_eq(num(nf, "status"), 302);
  cJSON_Delete(three);
  cJSON_Delete(nf);
  result_free(r);
}

/* What the echo of task id got: member k of its request, as text. */
static char *echoed(struct result *r, const char *id, const char *k,
                    const char *header)
{
  cJSON *res = result_of(r, id);
  cJSON *echo = cJSON_Parse(cJSON_GetObjectItem(res, "body")->valuestring);
  cJSON *v = cJSON_GetObjectItem(echo, k);
  char *out;

  if (header)
    v = cJSON_GetObjectItem(v, header);
  out = strdup(cJSON_IsString(v) ? v->valuestring : "(none)");
  cJSON_Delete(echo);
  cJSON_Delete(res);
  return out;
}

static void echoed_is(struct result *r, const char *id, const char *k,
                      const char *header, const char *want)
{
  char *got = echoed(r, id, k, header);

  cr_assert_str_eq(got, want, "%s: %s%s%s is \"%s\", not \"%s\"", id, k,
                   header ? "." : "", header ? header : "", got, want);
  free(got);
}

Test(fetch, custom_headers_not_sent_to_another_host)
{
  char *to, *from;
  struct result *r;
  cJSON *same, *other, *h, *ro, *rs;

  cr_assert_eq(test_server_start(&srv2), 0);
  to = test_server_url(&srv2, "/echo");
  from = test_server_url(&srv, "/echo");
  r = run_job(job("{\"tasks\": ["
                  "{\"id\": \"other\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/headers-on-redirect?to=%s\", \"headers\": "
                  "{\"Authorization\": \"Bearer s3cret\", \"X-Api-Key\": "
                  "\"k\"}},"
                  "{\"id\": \"same\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/headers-on-redirect?to=%s\", \"headers\": "
                  "{\"X-Api-Key\": \"k\"}},"
                  "{\"id\": \"agent\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/headers-on-redirect?to=%s\", \"headers\": "
                  "{\"user-agent\": \"mine\"}},"
                  "{\"id\": \"agent-away\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/headers-on-redirect?to=%s\", \"headers\": "
                  "{\"User-Agent\": \"mine\"}},"
                  "{\"id\": \"raw-away\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/headers-on-redirect?to=%s\", \"compressed\": false, "
                  "\"headers\": {\"X-Api-Key\": \"k\"}},"
                  "{\"id\": \"post-away\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/redirect-to?code=303&url=%s\", \"json\": {\"a\": 1},"
                  " \"headers\": {\"X-Api-Key\": \"k\"}},"
                  "{\"id\": \"post-here\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/redirect-to?code=303&url=%s\", \"json\": {\"a\": 1},"
                  " \"headers\": {\"X-Api-Key\": \"k\"}}]}",
                  base(), to, base(), from, base(), from, base(), to, base(), to,
                  base(), to, base(), from),
              NULL);
  /*
   * corun's own User-Agent and Accept-Encoding go to every host; a job's
   * User-Agent replaces corun's (once, in any case) where its headers go.
   */
  echoed_is(r, "other", "headers", "user-agent", "corun/" CORUN_VERSION);
  echoed_is(r, "other", "headers", "accept-encoding", "gzip, deflate, br, zstd");
  echoed_is(r, "same", "headers", "user-agent", "corun/" CORUN_VERSION);
  echoed_is(r, "agent", "headers", "user-agent", "mine");
  echoed_is(r, "agent", "headers", "accept-encoding", "gzip, deflate, br, zstd");
  echoed_is(r, "agent-away", "headers", "user-agent", "corun/" CORUN_VERSION);
  /* Without "compressed", no hop asks for an encoding. */
  echoed_is(r, "raw-away", "headers", "accept-encoding", "(none)");
  echoed_is(r, "raw-away", "headers", "user-agent", "corun/" CORUN_VERSION);
  echoed_is(r, "raw-away", "headers", "x-api-key", "(none)");
  /* A 303 drops the body's Content-Type, and corun's headers stay. */
  echoed_is(r, "post-away", "method", NULL, "GET");
  echoed_is(r, "post-away", "headers", "content-type", "(none)");
  echoed_is(r, "post-away", "headers", "x-api-key", "(none)");
  echoed_is(r, "post-away", "headers", "user-agent", "corun/" CORUN_VERSION);
  echoed_is(r, "post-away", "headers", "accept-encoding",
            "gzip, deflate, br, zstd");
  echoed_is(r, "post-here", "method", NULL, "GET");
  echoed_is(r, "post-here", "headers", "content-type", "(none)");
  echoed_is(r, "post-here", "headers", "x-api-key", "k");
  echoed_is(r, "post-here", "headers", "user-agent", "corun/" CORUN_VERSION);
  echoed_is(r, "post-here", "headers", "accept-encoding",
            "gzip, deflate, br, zstd");
  ro = result_of(r, "other");
  rs = result_of(r, "same");
  other = cJSON_Parse(cJSON_GetObjectItem(ro, "body")->valuestring);
  same = cJSON_Parse(cJSON_GetObjectItem(rs, "body")->valuestring);
  cJSON_Delete(ro);
  cJSON_Delete(rs);
  cr_assert_not_null(other);
  h = cJSON_GetObjectItem(other, "headers");
  cr_assert_null(cJSON_GetObjectItem(h, "authorization"));
  cr_assert_null(cJSON_GetObjectItem(h, "x-api-key"));
  cr_assert_not_null(
      cJSON_GetObjectItem(cJSON_GetObjectItem(same, "headers"), "x-api-key"),
      "same origin keeps its headers");
  cJSON_Delete(other);
  cJSON_Delete(same);
  free(to);
  free(from);
  result_free(r);
}

Test(fetch, method_headers_and_json_body_are_sent)
{
  struct result *r = run_job(
      job("{\"tasks\": [{\"id\": \"p\", \"kind\": \"fetch\", \"url\": "
          "\"%s/echo\", \"method\": \"PUT\", \"headers\": {\"X-One\": "
          "\"1\"}, \"json\": {\"a\": [1, \"b\"]}}]}",
          base()),
      NULL);
  cJSON *res = result_of(r, "p");
  cJSON *echo = cJSON_Parse(cJSON_GetObjectItem(res, "body")->valuestring);
  cJSON *h = cJSON_GetObjectItem(echo, "headers");

  cr_assert_str_eq(cJSON_GetObjectItem(echo, "method")->valuestring, "PUT");
  cr_assert_str_eq(cJSON_GetObjectItem(h, "x-one")->valuestring, "1");
  cr_assert_str_eq(cJSON_GetObjectItem(h, "content-type")->valuestring,
                   "application/json");
  cr_assert_str_eq(cJSON_GetObjectItem(echo, "body")->valuestring,
                   "{\"a\":[1,\"b\"]}");
  cJSON_Delete(echo);
  cJSON_Delete(res);
  result_free(r);
}

/*
 * Fetches in a row that ask the same way share what they ask with; each
 * one that differs in one thing (or only in its URL) still asks its own
 * way, and goes back to the earlier way after it.
 */
Test(fetch, fetches_in_a_row_each_ask_their_own_way)
{
  struct result *r = run_job(
      job("{\"concurrency\": 1, \"tasks\": ["
          "{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"%1$s/echo?n=a\"},"
          "{\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"%1$s/echo?n=b\"},"
          "{\"id\": \"put\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"method\": \"PUT\"},"
          "{\"id\": \"get\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\"},"
          "{\"id\": \"h1\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"headers\": {\"X-A\": \"1\"}},"
          "{\"id\": \"h2\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"headers\": {\"X-A\": \"2\"}},"
          "{\"id\": \"b1\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"body\": \"one\"},"
          "{\"id\": \"b2\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"body\": \"two\"},"
          "{\"id\": \"raw\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"compressed\": false},"
          "{\"id\": \"zip\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\"},"
          "{\"id\": \"e1\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"expect\": {\"status\": [201]}},"
          "{\"id\": \"e2\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"expect\": {\"status\": [200]}},"
          "{\"id\": \"c1\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"capture\": {\"m\": {\"json\": \"/method\"}}},"
          "{\"id\": \"c2\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"capture\": {\"p\": {\"json\": \"/path\"}}},"
          "{\"id\": \"mb\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"max_bytes\": 10},"
          /* A 303's next hop is a GET without the body; the next task's is
             not. */
          "{\"id\": \"r1\", \"kind\": \"fetch\", \"url\": "
          "\"%1$s/redirect-to?url=%1$s/echo&code=303\", \"body\": \"x\", "
          "\"headers\": {\"X-B\": \"1\"}},"
          "{\"id\": \"r2\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"body\": \"x\", \"headers\": {\"X-B\": \"1\"}},"
          "{\"id\": \"r3\", \"kind\": \"fetch\", \"url\": \"%1$s/echo?n=3\", "
          "\"body\": \"x\", \"headers\": {\"X-B\": \"1\"}}"
          "]}",
          base()),
      NULL);
  cJSON *c;

  echoed_is(r, "a", "query", NULL, "n=a");
  echoed_is(r, "b", "query", NULL, "n=b");
  echoed_is(r, "put", "method", NULL, "PUT");
  echoed_is(r, "get", "method", NULL, "GET");
  echoed_is(r, "get", "headers", "x-a", "(none)");
  echoed_is(r, "h1", "headers", "x-a", "1");
  echoed_is(r, "h2", "headers", "x-a", "2");
  echoed_is(r, "b1", "body", NULL, "one");
  echoed_is(r, "b2", "body", NULL, "two");
  echoed_is(r, "b2", "method", NULL, "POST");
  echoed_is(r, "raw", "headers", "accept-encoding", "(none)");
  echoed_is(r, "zip", "headers", "accept-encoding", "gzip, deflate, br, zstd");
  cr_assert_str_eq(status_of(r, "e1"), "failed");
  cr_assert_str_eq(status_of(r, "e2"), "ok");
  c = result_of(r, "c1");
  cr_assert_str_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(c, "captures"), "m")->valuestring,
      "GET");
  cJSON_Delete(c);
  c = result_of(r, "c2");
  cr_assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "captures"), "m"));
  cr_assert_str_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(c, "captures"), "p")->valuestring,
      "/echo");
  cJSON_Delete(c);
  cr_assert_str_eq(status_of(r, "mb"), "failed");
  echoed_is(r, "r1", "method", NULL, "GET");
  echoed_is(r, "r1", "body", NULL, "");
  echoed_is(r, "r2", "method", NULL, "POST");
  echoed_is(r, "r2", "body", NULL, "x");
  echoed_is(r, "r2", "headers", "x-b", "1");
  echoed_is(r, "r3", "method", NULL, "POST");
  echoed_is(r, "r3", "body", NULL, "x");
  echoed_is(r, "r3", "query", NULL, "n=3");
  result_free(r);
}

/*
 * Each handle keeps the URL it parsed last (lib/core/http.c): a URL with
 * a '[', left to libcurl to parse from its text, goes where it says; a
 * URL that curl cannot parse, on a handle that parsed one it could, fails
 * as it would on a new handle; and the next URL is its own again.
 */
Test(fetch, a_url_curl_refuses_fails_on_a_handle_that_had_a_good_one)
{
  struct result *r = run_job(
      job("{\"concurrency\": 1, \"tasks\": ["
          "{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"%1$s/echo?n=a\"},"
          "{\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"%1$s/echo?n=[b]\"},"
          "{\"id\": \"port\", \"kind\": \"fetch\", "
          "\"url\": \"http://[zz]:80/echo?n=port\"},"
          "{\"id\": \"space\", \"kind\": \"fetch\", "
          "\"url\": \"http://ex<ample/echo\"},"
          "{\"id\": \"c\", \"kind\": \"fetch\", "
          "\"url\": \"%1$s/echo?n=c\"}"
          "]}",
          base()),
      NULL);
  const char *bad[] = {"port", "space"};
  size_t i;

  echoed_is(r, "a", "query", NULL, "n=a");
  echoed_is(r, "b", "query", NULL, "n=[b]");
  for (i = 0; i < 2; i++) {
    struct corun_task *t = task_by_id(r, bad[i]);

    cr_assert_str_eq(status_of(r, bad[i]), "failed", "%s", bad[i]);
    cr_assert_eq(t->err_type, CORUN_ERR_PROTOCOL, "%s", bad[i]);
    cr_assert(strstr(t->err_msg, "URL"), "%s: %s", bad[i], t->err_msg);
  }
  echoed_is(r, "c", "query", NULL, "n=c");
  result_free(r);
}

Test(fetch, retries_then_succeeds_and_counts_attempts)
{
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"ok3\", \"kind\": \"fetch\", \"url\": "
          "\"%s/flaky?id=r1&fail=2\", \"retries\": 2, \"backoff\": "
          "\"20ms\"},"
          "{\"id\": \"short\", \"kind\": \"fetch\", \"url\": "
          "\"%s/flaky?id=r2&fail=2\", \"retries\": 1, \"backoff\": "
          "\"20ms\"},"
          "{\"id\": \"nf\", \"kind\": \"fetch\", \"url\": "
          "\"%s/flaky?id=r3&fail=5&code=404\", \"retries\": 3, \"backoff\": "
          "\"20ms\"}]}",
          base(), base(), base()),
      NULL);

  cr_assert_str_eq(status_of(r, "ok3"), "ok");
  cr_assert_eq(task_by_id(r, "ok3")->attempts, 3);
  cr_assert_str_eq(status_of(r, "short"), "failed");
  cr_assert_eq(task_by_id(r, "short")->attempts, 2);
  /* Any failed attempt is tried again, a 404 too. */
  cr_assert_str_eq(status_of(r, "nf"), "failed");
  cr_assert_eq(task_by_id(r, "nf")->attempts, 4);
  result_free(r);
  cr_assert_eq(server_count("r1"), 3);
  cr_assert_eq(server_count("r3"), 4);
}

Test(fetch, post_is_not_retried_unless_retry_unsafe)
{
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"post\", \"kind\": \"fetch\", \"url\": "
          "\"%s/flaky?id=p1&fail=1\", \"method\": \"POST\", \"body\": \"x\", "
          "\"retries\": 3, \"backoff\": \"20ms\"},"
          "{\"id\": \"unsafe\", \"kind\": \"fetch\", \"url\": "
          "\"%s/flaky?id=p2&fail=1\", \"method\": \"POST\", \"body\": \"x\", "
          "\"retries\": 3, \"backoff\": \"20ms\", \"retry_unsafe\": true},"
          "{\"id\": \"refused\", \"kind\": \"fetch\", \"url\": "
          "\"http://127.0.0.1:1/\", \"method\": \"POST\", \"retries\": 2, "
          "\"backoff\": \"20ms\"}]}",
          base(), base()),
      NULL);

  cr_assert_str_eq(status_of(r, "post"), "failed");
  cr_assert_eq(task_by_id(r, "post")->attempts, 1);
  cr_assert_str_eq(status_of(r, "unsafe"), "ok");
  cr_assert_eq(task_by_id(r, "unsafe")->attempts, 2);
  /* A refused connection never sent the POST: retried. */
  cr_assert_eq(task_by_id(r, "refused")->err_type, CORUN_ERR_CONNECT);
  cr_assert_eq(task_by_id(r, "refused")->attempts, 3);
  result_free(r);
}

Test(fetch, retry_after_is_honoured)
{
  struct result *r = run_job(
      job("{\"tasks\": [{\"id\": \"ra\", \"kind\": \"fetch\", \"url\": "
          "\"%s/retry-after?id=ra&fail=1&after=1\", \"retries\": 1, "
          "\"backoff\": \"10ms\"}]}",
          base()),
      NULL);

  cr_assert_str_eq(status_of(r, "ra"), "ok");
  cr_assert(r->wall >= 0.95, "waited %.3f s, Retry-After says 1 s", r->wall);
  result_free(r);
}

Test(fetch, attempt_timeout_and_task_timeout)
{
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"att\", \"kind\": \"fetch\", \"url\": "
          "\"%s/delay?ms=3000\", \"attempt_timeout\": \"200ms\"},"
          "{\"id\": \"tot\", \"kind\": \"fetch\", \"url\": "
          "\"%s/delay?ms=3000\", \"timeout\": 0.3}]}",
          base(), base()),
      NULL);

  cr_assert_str_eq(status_of(r, "att"), "failed");
  cr_assert_eq(task_by_id(r, "att")->err_type, CORUN_ERR_TIMEOUT);
  cr_assert(end_of(r, "att") < 0.2 + SLACK);
  cr_assert_str_eq(status_of(r, "tot"), "timeout");
  cr_assert(end_of(r, "tot") >= 0.29 && end_of(r, "tot") < 0.3 + SLACK);
  cr_assert(r->wall < 0.3 + SLACK);
  result_free(r);
}

Test(fetch, many_transfers_cancelled_mid_flight_end_promptly)
{
  enum { N = 200 };
  static char text[N * 160 + 512];
  char *dir = tmp_dir("fetch");
  size_t len = 0, i;
  struct result *r;

  len += (size_t)snprintf(text + len, sizeof(text) - len,
                          "{\"concurrency\": 256, \"tasks\": [{\"id\": \"g\", "
                          "\"kind\": \"gather\", \"tasks\": [{\"id\": "
                          "\"boom\", \"kind\": \"sleep\", \"seconds\": 0.4, "
                          "\"fail\": \"x\"}");
  for (i = 0; i < N; i++)
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            ",{\"kind\": \"fetch\", \"url\": "
                            "\"%s/slow-body?n=100&ms=100\", \"save\": "
                            "\"%s/f%zu\"}",
                            base(), dir, i);
  snprintf(text + len, sizeof(text) - len, "]}]}");
  r = run_job(text, NULL);
  cr_assert_str_eq(status_of(r, "g"), "failed");
  cr_assert_str_eq(status_of(r, "g.2"), "cancelled");
  /* The whole run ends within a second of the failure. */
  cr_assert(r->wall < 0.4 + 1.0 * time_scale(), "%f", r->wall);
  cr_assert_eq(dir_entries(dir), 0, "cancelled saves leave no files");
  rmdir(dir);
  free(dir);
  result_free(r);
}

Test(fetch, concurrency_caps_simultaneous_transfers)
{
  struct result *r = run_job(
      job("{\"concurrency\": 2, \"tasks\": ["
          "{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"%s/delay?ms=200\"},"
          "{\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"%s/delay?ms=200\"},"
          "{\"id\": \"c\", \"kind\": \"fetch\", \"url\": \"%s/delay?ms=200\"},"
          "{\"id\": \"d\", \"kind\": \"fetch\", \"url\": "
          "\"%s/delay?ms=200\"}]}",
          base(), base(), base(), base()),
      NULL);
  struct corun_task *c = task_by_id(r, "c");

  cr_assert(r->wall >= 0.39 && r->wall < 0.4 + SLACK, "%f", r->wall);
  cr_assert(corun__secs(c->t_start - c->t_ready) >= 0.15,
            "c was queued for a slot");
  result_free(r);
}

Test(fetch, load_time_checks)
{
  char *d;

  d = load_err("{\"tasks\": [{\"kind\": \"fetch\", \"url\": "
               "\"file:///etc/passwd\"}]}");
  cr_assert(strstr(d, "\"url\" must be an http:// or https:// URL"), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://x/\", "
               "\"headers\": {\"X-A\": \"a\\r\\nInjected: 1\"}}]}");
  cr_assert(strstr(d, "CR or LF"), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"fetch\"}]}");
  cr_assert(strstr(d, "missing required field \"url\""), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://x/\", "
               "\"body\": \"a\", \"json\": 1}]}");
  cr_assert(strstr(d, "cannot both be set"), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://x/\", "
               "\"expect\": {\"status\": [\"6xx\"]}}]}");
  cr_assert(strstr(d, "\"expect.status[0]\" is \"6xx\", not a status code"),
            "%s", d);
  free(d);
  /* What curl would only refuse once the fetch runs is refused here. */
  {
    static const char *const bad[][2] = {
        {"http://", "has no host"},
        {"http://a b/", "has a space or a control character"},
        {"http://127.0.0.1:99999/", "has a port outside 1-65535"},
        {"http://[::1/", "without its closing"},
        {"http://a:8x/", "has a port that is not a number"},
        {"http://user:pw-secret@/", "has no host (the URL is not shown"},
        {"https://deploy:pw-secret#q2w@registry.test/v2/",
         "has a port that is not a number (the URL is not shown"},
        {"htps://deploy:pw-secret@registry.test/v2/",
         "must be an http:// or https:// URL (the URL is not shown"}};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      char text[256];

      snprintf(text, sizeof(text),
               "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"%s\"}]}",
               bad[i][0]);
      d = load_err(text);
      cr_assert(strstr(d, bad[i][1]), "%s: %s", bad[i][0], d);
      cr_assert_null(strstr(d, "pw-secret"), "%s", d);
      free(d);
    }
  }
  d = load_err("{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a/\", "
               "\"resolve\": [\"a:80:notanip\"]}]}");
  cr_assert(strstr(d, "\"notanip\" is not a list of IP addresses"), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a/\", "
               "\"save\": \"sub/\"}]}");
  cr_assert(strstr(d, "is a directory, not a file to write"), "%s", d);
  free(d);
}

Test(fetch, per_host_caps_connections_to_one_host)
{
  struct result *r = run_job(
      job("{\"per_host\": 1, \"tasks\": ["
          "{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"%s/delay?ms=200\"},"
          "{\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"%s/delay?ms=200\"},"
          "{\"id\": \"c\", \"kind\": \"fetch\", \"url\": "
          "\"%s/delay?ms=200\"}]}",
          base(), base(), base()),
      NULL);

  /* One connection: the three requests go one after another. */
  cr_assert(r->wall >= 0.58 && r->wall < 0.6 + SLACK, "%f", r->wall);
  cr_assert_str_eq(status_of(r, "c"), "ok");
  result_free(r);
}

static enum corun_code load_rooted(const char *text, const char *root,
                                   char **diag)
{
  struct corun_load_opts o = {0};
  struct corun_job *job = NULL;
  struct corun_buf d = CORUN_BUF_INIT;
  enum corun_code code;

  o.root = root;
  code = corun_job_load_text(&job, text, strlen(text), "r.json", root, &o,
                             &d, NULL);
  corun_job_free(job);
  *diag = corun_buf_detach(&d);
  return code;
}

Test(fetch, root_confines_save_paths)
{
  char *root = tmp_dir("fetch"), *outside = tmp_dir("fetch"), link[512], *d;

  snprintf(link, sizeof(link), "%s/escape", root);
  cr_assert_eq(symlink(outside, link), 0);
  /* Inside, relative to the job's directory: fine. */
  cr_assert_eq(load_rooted("{\"tasks\": [{\"kind\": \"fetch\", \"url\": "
                           "\"http://127.0.0.1:1/\", \"save\": "
                           "\"sub/../ok.bin\"}]}",
                           root, &d),
               CORUN_OK, "%s", d);
  free(d);
  cr_assert_eq(load_rooted("{\"tasks\": [{\"kind\": \"fetch\", \"url\": "
                           "\"http://127.0.0.1:1/\", \"save\": "
                           "\"../x.bin\"}]}",
                           root, &d),
               CORUN_EINVAL);
  cr_assert(strstr(d, "is outside --root"), "%s", d);
  free(d);
  cr_assert_eq(load_rooted("{\"tasks\": [{\"kind\": \"fetch\", \"url\": "
                           "\"http://127.0.0.1:1/\", \"save\": "
                           "\"/etc/x.bin\"}]}",
                           root, &d),
               CORUN_EINVAL);
  free(d);
  /* A symbolic link out of the root does not make a way out. */
  cr_assert_eq(load_rooted("{\"tasks\": [{\"kind\": \"fetch\", \"url\": "
                           "\"http://127.0.0.1:1/\", \"save\": "
                           "\"escape/x.bin\"}]}",
                           root, &d),
               CORUN_EINVAL);
  cr_assert(strstr(d, "is outside --root"), "%s", d);
  free(d);
  unlink(link);
  rmdir(root);
  rmdir(outside);
  free(root);
  free(outside);
}

struct dump_at {
  uv_timer_t timer;
  struct corun_run *run;
  struct corun_buf text;
};

static void take_dump(uv_timer_t *t)
{
  struct dump_at *d = t->data;

  corun_run_dump(d->run, &d->text);
}

Test(fetch, dump_shows_each_fetch_phase_and_bytes)
{
  struct corun_job *jb = load_ok(
      job("{\"concurrency\": 2, \"tasks\": ["
          "{\"id\": \"wait\", \"kind\": \"fetch\", \"url\": "
          "\"%s/delay?ms=800\"},"
          "{\"id\": \"recv\", \"kind\": \"fetch\", \"url\": "
          "\"%s/slow-body?n=20&ms=50\"},"
          "{\"id\": \"q\", \"kind\": \"fetch\", \"url\": \"%s/text\"}]}",
          base(), base(), base()));
  struct corun_run *run;
  struct dump_at d;
  uv_loop_t loop;
  const char *s;

  memset(&d, 0, sizeof(d));
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, jb, &loop, NULL, NULL), CORUN_OK);
  d.run = run;
  uv_timer_init(&loop, &d.timer);
  d.timer.data = &d;
  uv_timer_start(&d.timer, take_dump, 400, 0);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  s = corun_buf_str(&d.text);
  cr_assert(strstr(s, "wait fetch running") && strstr(s, "waiting, 0 bytes"),
            "%s", s);
  cr_assert(strstr(s, "recv fetch running") && strstr(s, "receiving,"), "%s",
            s);
  cr_assert(strstr(s, "q fetch queued") &&
                strstr(s, "a concurrency slot"),
            "%s", s);
  uv_close((uv_handle_t *)&d.timer, NULL);
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(jb);
  corun_buf_free(&d.text);
}

Test(fetch, connections_are_reused_across_tasks)
{
  enum { N = 30 };
  static char text[N * 128 + 256];
  size_t len = 0, i;
  struct result *r;
  cJSON *res;

  /* One at a time, after one another: all on one kept-alive connection. */
  len += (size_t)snprintf(text + len, sizeof(text) - len,
                          "{\"concurrency\": 1, \"tasks\": [{\"id\": \"t0\", "
                          "\"kind\": \"fetch\", \"url\": \"%s/text\"}",
                          base());
  for (i = 1; i < N; i++)
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            ",{\"id\": \"t%zu\", \"kind\": \"fetch\", "
                            "\"url\": \"%s/text\"}",
                            i, base());
  snprintf(text + len, sizeof(text) - len,
           ",{\"id\": \"conns\", \"kind\": \"fetch\", \"url\": \"%s/conns\", "
           "\"after\": [\"t%d\"]}]}",
           base(), N - 1);
  r = run_job(text, NULL);
  res = result_of(r, "conns");
  cr_assert(atoi(cJSON_GetObjectItem(res, "body")->valuestring) <= 2,
            "%s connections for %d requests",
            cJSON_GetObjectItem(res, "body")->valuestring, N + 1);
  cJSON_Delete(res);
  result_free(r);
}

/*
 * The body of /conns: how many connections the test server accepted, the
 * one of this request (a run of its own) included.
 */
static int server_conns(void)
{
  struct result *r = run_job(
      job("{\"tasks\": [{\"id\": \"c\", \"kind\": \"fetch\", "
          "\"url\": \"%s/conns\"}]}",
          base()),
      NULL);
  cJSON *res = result_of(r, "c");
  int n = atoi(cJSON_GetObjectItem(res, "body")->valuestring);

  cJSON_Delete(res);
  result_free(r);
  return n;
}

/* A gather of n fetches of path at concurrency c, extra top-level fields. */
static char *many_fetches(int n, int c, const char *extra, const char *path)
{
  static char text[1 << 16];
  size_t len = 0;
  int i;

  len += (size_t)snprintf(text + len, sizeof(text) - len,
                          "{%s\"concurrency\": %d, \"tasks\": [{\"id\": "
                          "\"all\", \"kind\": \"gather\", \"tasks\": [",
                          extra, c);
  for (i = 0; i < n; i++)
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "%s{\"kind\": \"fetch\", \"url\": \"%s%s\"}",
                            i ? "," : "", base(), path);
  snprintf(text + len, sizeof(text) - len, "]}]}");
  cr_assert(len < sizeof(text) - 8, "job too long");
  return text;
}

Test(fetch, many_fetches_at_once_keep_one_connection_each)
{
  /*
   * 200 at once, twice over: 200 connections, the second round on the
   * first round's. The HTTP client spreads that many over several multi
   * handles; a transfer must still go where a connection is free.
   */
  struct result *r =
      run_job(many_fetches(400, 200, "", "/delay?ms=100"), NULL);

  cr_assert_str_eq(status_of(r, "all"), "ok");
  result_free(r);
  {
    int conns = server_conns();

    cr_assert_eq(conns, 201, "%d connections", conns);
  }
}

Test(fetch, per_host_holds_with_many_fetches_at_once)
{
  struct result *r = run_job(
      many_fetches(300, 200, "\"per_host\": 2, ", "/text"), NULL);

  cr_assert_str_eq(status_of(r, "all"), "ok");
  result_free(r);
  /* Two for the 300, one for the count. */
  {
    int conns = server_conns();

    cr_assert_eq(conns, 3, "%d connections", conns);
  }
}

struct http_wave {
  uv_loop_t *loop;
  struct corun_http *h;
  int left;
  int closed;
};

static void wave_done(CURL *easy, CURLcode code, const char *errmsg,
                      void *arg)
{
  struct http_wave *w = arg;

  cr_assert_eq(code, CURLE_OK, "%s", errmsg);
  corun__http_easy_put(w->h, easy, 0);
  /*
   * The last may end in the timers' phase of a turn of the loop: stop it
   * there, or UV_RUN_ONCE waits on in its poll for what will not come.
   */
  if (--w->left == 0)
    uv_stop(w->loop);
}

static size_t wave_sink(char *p, size_t size, size_t n, void *arg)
{
  (void)p;
  (void)arg;
  return size * n;
}

static void wave_closed(void *arg)
{
  ((struct http_wave *)arg)->closed = 1;
}

/* n transfers of url on h at once, run to their end. */
static void wave(uv_loop_t *loop, struct http_wave *w, int n, const char *url)
{
  int i;

  for (i = 0; i < n; i++) {
    int same;
    CURL *e = corun__http_easy_get(w->h, 0, &same);

    cr_assert_not_null(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wave_sink);
    cr_assert_eq(corun__http_add(w->h, e, wave_done, w), 0);
  }
  w->loop = loop;
  w->left += n;
  while (w->left > 0)
    uv_run(loop, UV_RUN_ONCE);
}

extern int corun__load_plain_fetches;

/* The job's --dry-run text, loaded with plain fetches read straight or not. */
static char *dry_of(const char *text, int plain)
{
  struct corun_job *j;
  struct corun_buf b = CORUN_BUF_INIT;

  corun__load_plain_fetches = plain;
  j = load_ok(text);
  corun__load_plain_fetches = 1;
  corun_job_dry_run(j, &b);
  corun_job_free(j);
  return corun_buf_detach(&b);
}

static char *err_of(const char *text, int plain)
{
  char *d;

  corun__load_plain_fetches = plain;
  d = load_err(text);
  corun__load_plain_fetches = 1;
  return d;
}

/*
 * Fetches with only a kind and a URL are read straight from the text; the
 * jobs and errors are the ones the general way makes, for plain fetches and
 * for every near miss, which the general way reads.
 */
Test(fetch, plain_fetches_load_as_the_general_way_loads_them)
{
  static const char ok[] =
      "{\"tasks\": [\n"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/x?q=1#f\"},\n"
      "{\"url\":\"https://a.test/y\",\"kind\":\"fetch\"},\n"
      "{ \"kind\" : \"fetch\" ,\n \"url\" : \"HTTP://a.test/z\" }\n,"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/\\u0041\"},\n"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/$x\"},\n"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/\xc3\xa9\"},\n"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/~!#%%&'()*+,-./09:;<=>?@AZ[]^_`az{|}\"},\n"
      "{\"kind\": \"fetch\", \"url\": \"http://user:pw@a.test/\"},\n"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/\", \"id\": \"n\"},\n"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/\", \"method\": \"PUT\"},\n"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/h\"},\n"
      /* The plain kind read last is tried first: sleeps between fetches. */
      "{\"kind\": \"sleep\", \"seconds\": 1},\n"
      "{\"kind\": \"sleep\", \"seconds\": 0.5},\n"
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/after-sleeps\"},\n"
      "{\"kind\": \"sleep\", \"seconds\": 2},\n"
      "{\"kind\": \"gather\", \"tasks\": [{\"kind\": \"fetch\", \"url\": "
      "\"http://a.test/in\"}, {\"kind\": \"sleep\", \"seconds\": 0}, "
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/in2\"}]}\n"
      "]}\n";
  static const char *const bad[] = {
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"ftp://a.test/\"}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http:/a.test/\"}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\", \"url\": "
      "\"http://b\"}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"kind\": \"fetch\", \"url\": "
      "\"http://b\"}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": 5}]}",
      "{\"tasks\": [{\"kind\": \"fetch\"}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\"}, "
      "{\"kind\": \"fetch\", \"url\": \"http://a\", \"after\": [\"nope\"]}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\" ]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\"}, "
      "{\"kind\": \"fetch\", \"url\": \"http://a\", \"urll\": 1}]}",
      /* A space or DEL is no part of a URL, plain or not. */
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a.test/ x\"}, "
      "{\"kind\": \"fetch\", \"url\": \"http://a.test/\x7f\"}]}",
  };
  char *a = dry_of(ok, 1), *b = dry_of(ok, 0);
  size_t i;

  cr_assert_str_eq(a, b);
  cr_assert(strstr(a, "url: http://a.test/x?q=1#f") != NULL, "%s", a);
  free(a);
  free(b);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    a = err_of(bad[i], 1);
    b = err_of(bad[i], 0);
    cr_assert_str_eq(a, b, "job %zu", i);
    free(a);
    free(b);
  }
}

size_t corun__load_plain_string_end(const char *t, size_t len, size_t i);

/*
 * Where a plain string (read straight from the text) ends: a byte that
 * may not stand in one stops the scan wherever it is, and the closing
 * quote ends it; any other printable byte lets it go on.
 */
Test(fetch, plain_strings_end_at_the_first_byte_not_plain)
{
  static const unsigned char stops[] = {0x00, 0x01, 0x1f, '"', '$', '\\',
                                        0x7f, 0x80, 0xc3, 0xff};
  static const unsigned char goes[] = {0x20, '!', '#', '%', '/', ':', '[',
                                       ']', '~', 'a', '0', 0x7e};
  char t[40];
  size_t n, pos, k;

  for (n = 0; n <= 30; n++) {
    for (pos = 0; pos < n; pos++) {
      for (k = 0; k < sizeof(stops) + sizeof(goes); k++) {
        int stop = k < sizeof(stops);
        unsigned char c = stop ? stops[k] : goes[k - sizeof(stops)];
        size_t want = !stop ? n + 2 : c == '"' ? pos + 2 : 0;

        memset(t, 'a', sizeof(t));
        t[0] = '"';
        t[1 + pos] = (char)c;
        t[1 + n] = '"';
        cr_assert_eq(corun__load_plain_string_end(t, n + 2, 0), want,
                     "byte 0x%02x at %zu of %zu", c, pos, n);
      }
    }
    /* Unclosed: the text ends first. */
    memset(t, 'a', sizeof(t));
    t[0] = '"';
    cr_assert_eq(corun__load_plain_string_end(t, n + 1, 0), 0);
  }
}

extern size_t corun__load_alike_fetches;

/*
 * Fetches whose text is the one before's but for the URL are read by
 * comparing the text and share its conf; the jobs and errors are the ones
 * the general way makes, and any other difference reads the general way.
 */
Test(fetch, fetches_written_alike_load_as_the_general_way_loads_them)
{
  char *dir = tmp_dir("alike"), *pem = path_join(dir, "ca.pem"), *text, *a,
       *b;
  FILE *f;
  size_t before, i;
  /* Each: a job, then how many of its fetches are read alike. */
  static const struct {
    const char *job;
    size_t alike;
  } ok[] = {
      {"{\"tasks\": [\n"
       "{\"kind\": \"fetch\", \"url\": \"https://a.test/1\", \"ca\": \"%s\", "
       "\"http_version\": \"2\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"https://a.test/2\", \"ca\": \"%s\", "
       "\"http_version\": \"2\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"HTTP://b.test/3?q=1\", \"ca\": "
       "\"%s\", \"http_version\": \"2\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"https://a.test/\\u0034\", \"ca\": "
       "\"%s\", \"http_version\": \"2\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"https://a.test/$x\", \"ca\": \"%s\", "
       "\"http_version\": \"2\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"https://a.test/\xc3\xa9\", \"ca\": "
       "\"%s\", \"http_version\": \"2\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"https://a.test/5\", \"ca\": \"%s\", "
       "\"http_version\": \"1.1\"},\n"
       "{\"kind\": \"gather\", \"tasks\": [\n"
       "{\"kind\": \"fetch\", \"url\": \"https://a.test/6\", \"ca\": \"%s\", "
       "\"http_version\": \"1.1\"}]},\n"
       "{\"kind\": \"fetch\", \"url\": \"https://a.test/7\", \"ca\": \"%s\", "
       "\"http_version\": \"1.1\"}\n"
       "]}\n",
       2},
      {"{\"tasks\": [\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/1\", \"method\": "
       "\"PUT\", \"headers\": {\"X-A\": \"1\"}, \"expect\": {\"status\": [201]}, "
       "\"retries\": 2, \"ca\": \"%s\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/2\", \"method\": "
       "\"PUT\", \"headers\": {\"X-A\": \"1\"}, \"expect\": {\"status\": [201]}, "
       "\"retries\": 2, \"ca\": \"%s\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/3\", \"method\": "
       "\"PUT\", \"headers\": {\"X-A\": \"1\"}, \"expect\": {\"status\": [201]}, "
       "\"retries\": 2, \"ca\": \"%s\", \"id\": \"c\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/4\", \"timeout\": 5, "
       "\"ca\": \"%s\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/5\", \"timeout\": 5, "
       "\"ca\": \"%s\"}\n"
       "]}\n",
       1},
      /*
       * Every printable byte but '"', '\\' and '$' keeps a URL plain (a
       * space, like DEL, is no part of a URL: see the bad ones).
       */
      {"{\"tasks\": [\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/1\", \"ca\": \"%s\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/!#%%%%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\", "
       "\"ca\": \"%s\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/\xc3\xa9\", \"ca\": \"%s\"}\n"
       "]}\n",
       1},
      {"{\"defaults\": {\"timeout\": 3}, \"tasks\": [\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/1\", \"ca\": \"%s\"},\n"
       "{\"kind\": \"fetch\", \"url\": \"http://a.test/2\", \"ca\": \"%s\"}\n"
       "]}\n",
       0},
  };
  static const char *const bad[] = {
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\", \"ca\": "
      "\"%s\"}, {\"kind\": \"fetch\", \"url\": \"ftp://a\", \"ca\": \"%s\"}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\", \"ca\": "
      "\"%s\", \"save\": \"out\"}, {\"kind\": \"fetch\", \"url\": \"http://b\", "
      "\"ca\": \"%s\", \"save\": \"out\"}]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\", \"ca\": "
      "\"%s\"}, {\"kind\": \"fetch\", \"url\": \"http://b\", \"ca\": \"%s\"}, "
      "{\"kind\": \"fetch\", \"url\": \"http://c\", \"ca\": \"%s\"]}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\", \"ca\": "
      "\"%s\"}, {\"kind\": \"fetch\", \"url\": \"http://b\", \"ca\": \"%s\"}],"
      " \"concurrency\": 0}",
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a\", \"ca\": "
      "\"%s\"}, {\"kind\": \"fetch\", \"url\": \"http://b\", \"ca\": "
      "\"%s\", \"after\": [\"nope\"]}]}",
      /* A URL curl would refuse, read alike or not. */
      "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"http://a/1\", \"ca\": "
      "\"%s\"}, {\"kind\": \"fetch\", \"url\": \"http://a/ 2\", \"ca\": \"%s\"},"
      " {\"kind\": \"fetch\", \"url\": \"http://:80/3\", \"ca\": \"%s\"}]}",
      /* An escape may spell a capture: each such task is told. */
      "{\"tasks\": [{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"http://a\", "
      "\"capture\": {\"tok\": {\"header\": \"X\"}}},"
      "{\"kind\": \"fetch\", \"url\": \"http://b/1\", \"headers\": "
      "{\"X\": \"\\u0024{a.tok}\"}},"
      "{\"kind\": \"fetch\", \"url\": \"http://b/2\", \"headers\": "
      "{\"X\": \"\\u0024{a.tok}\"}}]}",
  };

  f = fopen(pem, "w");
  cr_assert_not_null(f);
  fputs("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", f);
  fclose(f);
  for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    text = job(ok[i].job, pem, pem, pem, pem, pem, pem, pem, pem, pem);
    before = corun__load_alike_fetches;
    a = dry_of(text, 1);
    cr_assert_eq(corun__load_alike_fetches - before, ok[i].alike, "job %zu: %zu",
                 i, corun__load_alike_fetches - before);
    b = dry_of(text, 0);
    cr_assert_eq(corun__load_alike_fetches - before, ok[i].alike);
    cr_assert_str_eq(a, b, "job %zu", i);
    free(a);
    free(b);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    text = job(bad[i], pem, pem, pem);
    a = err_of(text, 1);
    b = err_of(text, 0);
    cr_assert_str_eq(a, b, "job %zu", i);
    free(a);
    free(b);
  }
  remove(pem);
  remove(dir);
  free(pem);
  free(dir);
}

/* A command started while a fetch holds its connection does not get it. */
Test(fetch, commands_do_not_inherit_fetch_connections)
{
  struct result *r = run_job(
      job("{\"tasks\": [{\"kind\": \"gather\", \"tasks\": ["
          "{\"kind\": \"fetch\", \"url\": \"%s/delay?ms=1500\"},"
          "{\"id\": \"s\", \"kind\": \"sleep\", \"seconds\": 0.4},"
          "{\"id\": \"x\", \"kind\": \"exec\", \"after\": [\"s\"], "
          "\"argv\": [\"python3\", \"-c\", "
          "\"import os, socket\\n"
          "n = 0\\n"
          "for f in os.listdir('/proc/self/fd'):\\n"
          "  try:\\n"
          "    s = socket.socket(fileno=int(f))\\n"
          "  except OSError:\\n"
          "    continue\\n"
          "  n += s.family in (socket.AF_INET, socket.AF_INET6)\\n"
          "  s.detach()\\n"
          "print(n, end='')\\n\"]}]}]}",
          base()),
      NULL);
  cJSON *x = result_of(r, "x");

  cr_assert_str_eq(cJSON_GetObjectItem(x, "stdout")->valuestring, "0");
  cJSON_Delete(x);
  result_free(r);
}

static void never_done(CURL *easy, CURLcode code, const char *errmsg,
                       void *arg)
{
  (void)easy;
  (void)code;
  (void)errmsg;
  (void)arg;
  cr_assert_fail("a removed transfer ended");
}

/*
 * A client on loop (w->h) and a handle for the test server's /text, added
 * with never_done and not yet in libcurl (the loop has not turned).
 */
static CURL *queued_text(uv_loop_t *loop, struct http_wave *w)
{
  const char *why = NULL;
  char url[128];
  CURL *a;
  int same;

  snprintf(url, sizeof(url), "%s/text", base());
  cr_assert_eq(uv_loop_init(loop), 0);
  w->h = corun__http_new(loop, 0, 0, &why);
  cr_assert_not_null(w->h, "%s", why);
  a = corun__http_easy_get(w->h, 0, &same);
  cr_assert_not_null(a);
  curl_easy_setopt(a, CURLOPT_URL, url);
  curl_easy_setopt(a, CURLOPT_WRITEFUNCTION, wave_sink);
  cr_assert_eq(corun__http_add(w->h, a, never_done, NULL), 0);
  return a;
}

/*
 * Transfers go into libcurl once the loop has turned; one removed before
 * that never starts and never ends, and the others run as they would.
 */
Test(fetch, a_transfer_removed_before_the_loop_turns_never_starts)
{
  uv_loop_t loop;
  struct http_wave w = {0};
  char *url = test_server_url(&srv, "/text");
  CURL *a = queued_text(&loop, &w);

  corun__http_remove(w.h, a);
  /* Removing it again, or a handle never added, does nothing. */
  corun__http_remove(w.h, a);
  wave(&loop, &w, 3, url);
  /* The removed handle runs like any other once added again. */
  cr_assert_eq(corun__http_add(w.h, a, wave_done, &w), 0);
  w.loop = &loop;
  w.left++;
  while (w.left > 0)
    uv_run(&loop, UV_RUN_ONCE);
  corun__http_close(w.h, wave_closed, &w);
  while (!w.closed)
    uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(uv_loop_close(&loop), 0);
  free(url);
}

/*
 * A transfer still waiting to go into libcurl when the client closes never
 * starts, and its handle, freed after the client is gone, touches nothing
 * of it (ASan tells).
 */
Test(fetch, a_transfer_waiting_at_close_is_let_go)
{
  uv_loop_t loop;
  struct http_wave w = {0};
  CURL *a = queued_text(&loop, &w);

  corun__http_close(w.h, wave_closed, &w);
  while (!w.closed)
    uv_run(&loop, UV_RUN_ONCE);
  corun__http_easy_free(a);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* A pooled handle keeps its options only for the tag it was put back with. */
Test(fetch, pooled_handles_keep_their_options_for_their_tag_only)
{
  const char *why = NULL;
  uv_loop_t loop;
  struct http_wave w = {0};
  struct corun_http *h;
  CURL *a, *b;
  int same = -1;

  cr_assert_eq(uv_loop_init(&loop), 0);
  h = corun__http_new(&loop, 0, 0, &why);
  cr_assert_not_null(h, "%s", why);
  a = corun__http_easy_get(h, 6, &same);
  cr_assert_eq(same, 0, "a new handle has no options to keep");
  corun__http_easy_put(h, a, 6);
  b = corun__http_easy_get(h, 6, &same);
  cr_assert(b == a && same == 1);
  corun__http_easy_put(h, b, 6);
  b = corun__http_easy_get(h, 7, &same);
  cr_assert(b == a && same == 0, "another tag gets a reset handle");
  corun__http_easy_put(h, b, 0);
  b = corun__http_easy_get(h, 0, &same);
  cr_assert_eq(same, 0, "tag 0 is never kept");
  corun__http_easy_put(h, b, 0);
  corun__http_close(h, wave_closed, &w);
  while (!w.closed)
    uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/*
 * Memory put back with a handle comes out of the pool with it, once; a
 * handle that leaves the pool without it frees it, and closing the client
 * frees what waits in the pool, each by the function put with it (ASan
 * and valgrind tell of a leak or a double free).
 */
static int spares_dropped;

static void drop_counted(void *p)
{
  spares_dropped++;
  free(p);
}

Test(fetch, a_pooled_handle_brings_back_the_memory_put_with_it)
{
  const char *why = NULL;
  uv_loop_t loop;
  struct http_wave w = {0};
  CURL *a, *b;
  void *mem, *got = &got;
  int same;

  spares_dropped = 0;
  cr_assert_eq(uv_loop_init(&loop), 0);
  w.h = corun__http_new(&loop, 0, 0, &why);
  cr_assert_not_null(w.h, "%s", why);
  a = corun__http_easy_get_with(w.h, 0, &same, &got);
  cr_assert(a != NULL && got == NULL, "a new handle: nothing");
  mem = malloc(32);
  corun__http_easy_put_with(w.h, a, 3, mem, drop_counted);
  b = corun__http_easy_get_with(w.h, 4, &same, &got);
  cr_assert(b == a && same == 0, "reset for another tag");
  cr_assert(got == mem, "and its memory with it");
  corun__http_easy_put(w.h, b, 3);
  b = corun__http_easy_get_with(w.h, 3, &same, &got);
  cr_assert(b == a && same == 1);
  cr_assert(got == NULL, "handed over once");
  cr_assert_eq(spares_dropped, 0, "nothing freed while it was handed on");
  /* Taken by a plain get: freed by the function it came with. */
  corun__http_easy_put_with(w.h, b, 0, mem, drop_counted);
  b = corun__http_easy_get(w.h, 0, &same);
  cr_assert_eq(spares_dropped, 1);
  /* Left in the pool: freed by the close. */
  corun__http_easy_put_with(w.h, b, 0, malloc(16), drop_counted);
  corun__http_close(w.h, wave_closed, &w);
  while (!w.closed)
    uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(spares_dropped, 2);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/*
 * One handle after another carries its body buffer to the next fetch:
 * each result has its own body, whatever the one before left in it.
 */
Test(fetch, each_fetch_on_a_reused_handle_keeps_only_its_own_body)
{
  struct result *r = run_job(
      job("{\"concurrency\": 1, \"tasks\": ["
          "{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"%s/bytes?n=4000&type=text/plain\"},"
          "{\"id\": \"b\", \"kind\": \"fetch\", \"after\": [\"a\"], \"url\": \"%s/text\"},"
          "{\"id\": \"c\", \"kind\": \"fetch\", \"after\": [\"b\"], \"url\": \"%s/bytes?n=9000&type=text/plain\"},"
          "{\"id\": \"d\", \"kind\": \"fetch\", \"after\": [\"c\"], \"url\": \"%s/bytes?n=7&type=text/plain\"}]}",
          base(), base(), base(), base()),
      NULL);
  cJSON *a = result_of(r, "a"), *b = result_of(r, "b"), *c = result_of(r, "c"),
        *d = result_of(r, "d");

  cr_assert_eq(strlen(cJSON_GetObjectItem(a, "body")->valuestring), 4000);
  cr_assert_str_eq(cJSON_GetObjectItem(b, "body")->valuestring,
                   "Hello from corun-test-httpd.\n");
  cr_assert_null(cJSON_GetObjectItem(c, "body"), "over 4 KiB: none");
  cr_assert_eq(num(c, "bytes"), 9000);
  cr_assert_str_eq(cJSON_GetObjectItem(d, "body")->valuestring, "0123456");
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(c);
  cJSON_Delete(d);
  result_free(r);
}

/*
 * The transfer record goes back to the pool with its handle, so one fetch
 * after another on one connection takes over what the last left in it: a
 * decoder, a redirect's URL and state, a skipped body. Each answers for
 * itself alone.
 */
Test(fetch, each_fetch_on_a_reused_record_starts_clean)
{
  struct result *r = run_job(
      job("{\"concurrency\": 1, \"tasks\": ["
          "{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"%s/bytes?n=300&type=text/plain&gzip=1\"},"
          "{\"id\": \"b\", \"kind\": \"fetch\", \"after\": [\"a\"], \"url\": \"%s/text\"},"
          "{\"id\": \"c\", \"kind\": \"fetch\", \"after\": [\"b\"], \"url\": \"%s/redirect?n=2\"},"
          "{\"id\": \"d\", \"kind\": \"fetch\", \"after\": [\"c\"], \"url\": \"%s/bytes?n=7&type=text/plain\"},"
          "{\"id\": \"e\", \"kind\": \"fetch\", \"after\": [\"d\"], \"url\": \"%s/bytes?n=12&type=text/plain&gzip=1\"}]}",
          base(), base(), base(), base(), base()),
      NULL);
  cJSON *a = result_of(r, "a"), *b = result_of(r, "b"), *c = result_of(r, "c"),
        *d = result_of(r, "d"), *e = result_of(r, "e");

  cr_assert_eq(strlen(cJSON_GetObjectItem(a, "body")->valuestring), 300);
  cr_assert(strncmp(cJSON_GetObjectItem(a, "body")->valuestring, "0123456789",
                    10) == 0);
  cr_assert_str_eq(cJSON_GetObjectItem(b, "body")->valuestring,
                   "Hello from corun-test-httpd.\n");
  cr_assert_str_eq(cJSON_GetObjectItem(c, "body")->valuestring, "done");
  cr_assert(strstr(cJSON_GetObjectItem(c, "url")->valuestring, "/redirect?n=0"));
  cr_assert_str_eq(cJSON_GetObjectItem(d, "body")->valuestring, "0123456");
  cr_assert(strstr(cJSON_GetObjectItem(d, "url")->valuestring, "/bytes?n=7"),
            "its own URL, not c's last");
  cr_assert_str_eq(cJSON_GetObjectItem(e, "body")->valuestring, "0123456789ab");
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(c);
  cJSON_Delete(d);
  cJSON_Delete(e);
  result_free(r);
}

/*
 * A fetch that fails between its transfers (here: the redirect past the
 * tenth) gives its handle back then, not when the task is freed after the
 * run: the run's DNS cache and cookie jar, which the handle is part of,
 * are freed when the run ends, and one in use by a handle then was leaked
 * (LeakSanitizer and valgrind tell).
 */
Test(fetch, a_fetch_failing_between_transfers_gives_its_handle_back)
{
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"far\", \"kind\": \"fetch\", \"url\": \"%s/redirect?n=12\"},"
          "{\"id\": \"jar\", \"kind\": \"fetch\", \"cookies\": true, \"url\": \"%s/redirect?n=12\"}]}",
          base(), base()),
      NULL);

  cr_assert_str_eq(status_of(r, "far"), "failed");
  cr_assert_str_eq(status_of(r, "jar"), "failed");
  cr_assert(strstr(task_by_id(r, "jar")->err_msg, "more than 10 redirects"),
            "%s", task_by_id(r, "jar")->err_msg);
  result_free(r);
}

Test(fetch, http_client_spreads_many_transfers_and_keeps_their_handles)
{
  struct http_wave w = {0};
  const char *why = NULL;
  size_t multis, pooled;
  uv_loop_t loop;
  char *url = test_server_url(&srv, "/delay?ms=100");

  cr_assert_eq(uv_loop_init(&loop), 0);
  /* No connection cap: 64 transfers to a multi handle. */
  w.h = corun__http_new(&loop, 0, 0, &why);
  cr_assert_not_null(w.h, "%s", why);
  wave(&loop, &w, 10, url);
  corun__http_counts(w.h, &multis, &pooled);
  cr_assert_eq(multis, 1);
  wave(&loop, &w, 300, url);
  corun__http_counts(w.h, &multis, &pooled);
  cr_assert_eq(multis, 5);
  /* Every handle kept, not 256 of them: the next 300 make none. */
  cr_assert_eq(pooled, 300);
  wave(&loop, &w, 300, url);
  corun__http_counts(w.h, &multis, &pooled);
  cr_assert_eq(multis, 5);
  cr_assert_eq(pooled, 300);
  corun__http_quiesce(w.h);
  corun__http_close(w.h, wave_closed, &w);
  while (!w.closed)
    uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(uv_loop_close(&loop), 0);
  {
    int conns = server_conns();

    cr_assert_eq(conns, 301, "%d connections", conns);
  }

  /*
   * A cap of 100 connections: a second multi handle for the 36 past the
   * first's 64, no more connections than the cap. A per-host cap keeps
   * one multi handle whatever runs (it counts in one only).
   */
  cr_assert_eq(uv_loop_init(&loop), 0);
  w.closed = 0;
  w.h = corun__http_new(&loop, 100, 0, &why);
  cr_assert_not_null(w.h, "%s", why);
  wave(&loop, &w, 100, url);
  corun__http_counts(w.h, &multis, &pooled);
  cr_assert_eq(multis, 2);
  corun__http_close(w.h, wave_closed, &w);
  while (!w.closed)
    uv_run(&loop, UV_RUN_ONCE);
  {
    int conns = server_conns();

    cr_assert_eq(conns, 402, "%d connections", conns);
  }

  w.closed = 0;
  w.h = corun__http_new(&loop, 0, 1000, &why);
  cr_assert_not_null(w.h, "%s", why);
  wave(&loop, &w, 100, url);
  corun__http_counts(w.h, &multis, &pooled);
  cr_assert_eq(multis, 1);
  corun__http_close(w.h, wave_closed, &w);
  while (!w.closed)
    uv_run(&loop, UV_RUN_ONCE);

  cr_assert_eq(uv_loop_close(&loop), 0);
  free(url);
}

/*
 * TLS: openssl s_server with a throwaway self-signed certificate on
 * 127.0.0.1 (port from the OS, read from its "ACCEPT" line), stopped by
 * pid. Skipped when the openssl command is missing.
 */
static pid_t start_tls_server(const char *dir, int *port)
{
  char cmd[1024], line[256];
  int out[2];
  pid_t pid;
  FILE *f;

  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
           "-days 1 -keyout %s/k.pem -out %s/c.pem >/dev/null 2>&1",
           dir, dir);
  if (system(cmd) != 0)
    return -1;
  cr_assert_eq(pipe(out), 0);
  pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    char cert[512], key[512];

    snprintf(cert, sizeof(cert), "%s/c.pem", dir);
    snprintf(key, sizeof(key), "%s/k.pem", dir);
    int null = open("/dev/null", O_WRONLY);

    dup2(out[1], 1);
    if (null >= 0)
      dup2(null, 2);
    close(out[0]);
    execlp("openssl", "openssl", "s_server", "-accept",
           "127.0.0.1:0", "-cert", cert, "-key", key, "-www", (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  f = fdopen(out[0], "r");
  *port = 0;
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "ACCEPT 127.0.0.1:%d", port) == 1)
      break;
  /* Keep the pipe open in a detached stream: s_server may write more. */
  return *port ? pid : -1;
}

Test(fetch, tls_verified_unless_insecure)
{
  char *dir = tmp_dir("fetch"), cmd[600];
  struct result *r;
  int port = 0, st;
  pid_t pid;

  if (system("command -v openssl >/dev/null 2>&1") != 0)
    cr_skip_test("no openssl command");
  tls_pid = pid = start_tls_server(dir, &port);
  cr_assert(pid > 0, "could not start openssl s_server");
  r = run_job(job("{\"tasks\": [{\"id\": \"strict\", \"kind\": "
                  "\"fetch\", \"url\": \"https://127.0.0.1:%d/\", "
                  "\"attempt_timeout\": \"5s\"}]}",
                  port),
              NULL);
  kill(pid, SIGTERM);
  waitpid(pid, &st, 0);
  tls_pid = -1;
  cr_assert_str_eq(status_of(r, "strict"), "failed");
  cr_assert_eq(task_by_id(r, "strict")->err_type, CORUN_ERR_TLS, "%s",
               task_by_id(r, "strict")->err_msg);
  result_free(r);
  tls_pid = pid = start_tls_server(dir, &port);
  cr_assert(pid > 0);
  r = run_job(job("{\"tasks\": [{\"id\": \"lax\", \"kind\": \"fetch\", "
                  "\"url\": \"https://127.0.0.1:%d/\", \"insecure\": "
                  "true, \"attempt_timeout\": \"5s\"}]}",
                  port),
              NULL);
  kill(pid, SIGTERM);
  waitpid(pid, &st, 0);
  tls_pid = -1;
  cr_assert_str_eq(status_of(r, "lax"), "ok", "%s",
                   task_by_id(r, "lax")->err_msg ? task_by_id(r, "lax")->err_msg
                                                 : "");
  cr_assert(result_json(r, "lax")[0] == '{');
  result_free(r);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
  free(dir);
}

Test(fetch, bodies_are_not_kept_when_nothing_will_show_them)
{
  struct run_opts o = {0};
  struct result *r;
  cJSON *res;

  o.skip_bodies = 1;
  r = run_job(job("{\"tasks\": [{\"id\": \"a\", \"kind\": \"fetch\", "
                  "\"url\": \"%s/text\"}]}",
                  base()),
              &o);
  res = result_of(r, "a");
  cr_assert_null(cJSON_GetObjectItem(res, "body"));
  cr_assert(num(res, "bytes") > 0);
  cJSON_Delete(res);
  result_free(r);
}

/*
 * Without a reader of timings, a fetch does not ask curl for them: its
 * result says null. A pipeline's next stage reads its items' timings, so
 * a fetch stage's results keep theirs; and a run with a reader keeps them.
 */
Test(fetch, timings_are_not_asked_for_when_nothing_will_read_them)
{
  struct run_opts o = {0};
  struct result *r;
  const char *text = job(
      "{\"tasks\": [{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"%s/text\"},"
      "{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": {\"range\": [0, 2]}, "
      "\"stages\": [{\"task\": {\"kind\": \"fetch\", \"url\": \"%s/text?i=${item}\"}},"
      "{\"task\": {\"kind\": \"exec\", \"argv\": [\"test\", \"${item.timings.total}\", \"!=\", \"\"]}}]}]}",
      base(), base());
  char *copy = strdup(text);
  cJSON *res;

  o.skip_timings = 1;
  r = run_job(copy, &o);
  res = result_of(r, "a");
  cr_assert(cJSON_IsNull(cJSON_GetObjectItem(res, "timings")), "%s",
            result_json(r, "a"));
  cr_assert(num(res, "bytes") > 0);
  cJSON_Delete(res);
  cr_assert_str_eq(status_of(r, "p"), "ok", "%s",
                   task_by_id(r, "p")->err_msg ? task_by_id(r, "p")->err_msg
                                               : "");
  result_free(r);
  o.skip_timings = 0;
  r = run_job(copy, &o);
  res = result_of(r, "a");
  cr_assert(num(cJSON_GetObjectItem(res, "timings"), "total") > 0);
  cJSON_Delete(res);
  result_free(r);
  free(copy);
}

/*
 * The command line leaves timings out only when nothing it writes shows
 * them: an HTML report, a trace or a journal each still gets them.
 */
Test(fetch, each_reader_of_timings_gets_them_from_the_command_line)
{
  char *dir = tmp_dir("fetch"), *jp = path_join(dir, "job.json");
  char *out = path_join(dir, "out");
  static const char *const flags[] = {"--html", "--trace", "--journal"};
  /*
   * What each writes of a fetch's timings: the HTML timeline's five phase
   * times in microseconds (0 without them), a trace's phase, a journal's
   * result.
   */
  static const char *const marks[] = {"\\[[0-9]+,[0-9]+,[0-9]+,[0-9]+,[0-9]+\\]",
                                      "\"name\": \"wait\"", "\"ttfb\": "};
  FILE *f = fopen(jp, "w");
  size_t i;

  cr_assert_not_null(f);
  fprintf(f,
          "{\"tasks\": [{\"id\": \"a\", \"kind\": \"fetch\", \"url\": "
          "\"%s/delay?ms=20\"}]}",
          base());
  fclose(f);
  for (i = 0; i < 3; i++) {
    struct proc *p =
        run_cli(NULL, (const char *const[]){"-q", flags[i], out, jp, NULL});
    char *text = read_file(out, NULL);
    regex_t re;

    cr_assert_eq(p->status, 0, "%s: %s", flags[i], p->err);
    cr_assert_not_null(text, "%s wrote nothing", flags[i]);
    cr_assert_eq(regcomp(&re, marks[i], REG_EXTENDED | REG_NOSUB), 0);
    cr_assert_eq(regexec(&re, text, 0, NULL, 0), 0, "%s: no timings in %s",
                 flags[i], text);
    regfree(&re);
    free(text);
    proc_free(p);
    unlink(out);
  }
  unlink(jp);
  rmdir(dir);
  free(out);
  free(jp);
  free(dir);
}

/*
 * A port free right now on 127.0.0.1: for servers that cannot take 0, and
 * as a port nothing listens on.
 */
Test(fetch, http2_multiplexes_on_one_connection)
{
  char *dir = tmp_dir("fetch"), cmd[1024], log[512], line[512];
  int port = free_port(), st, conns = 0, streams = 0, i;
  static char text[4096];
  size_t len = 0;
  struct result *r;
  FILE *f;
  pid_t pid;

  if (system("command -v nghttpd >/dev/null 2>&1 && command -v openssl "
             ">/dev/null 2>&1") != 0)
    cr_skip_test("nghttpd (Debian's nghttp2-server) or openssl missing");
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
           "-days 1 -keyout %s/k.pem -out %s/c.pem >/dev/null 2>&1 && echo "
           "hi > %s/index.html",
           dir, dir, dir);
  cr_assert_eq(system(cmd), 0);
  snprintf(log, sizeof(log), "%s/h2.log", dir);
  pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    char p[16], key[512], cert[512], docs[512];
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    snprintf(p, sizeof(p), "%d", port);
    snprintf(key, sizeof(key), "%s/k.pem", dir);
    snprintf(cert, sizeof(cert), "%s/c.pem", dir);
    snprintf(docs, sizeof(docs), "--htdocs=%s", dir);
    dup2(fd, 1);
    dup2(fd, 2);
    execlp("nghttpd", "nghttpd", "-v", "--address=127.0.0.1", docs, p, key,
           cert, (char *)NULL);
    _exit(127);
  }
  tls_pid = pid;
  usleep(300000); /* nghttpd says nothing when it is ready */
  len += (size_t)snprintf(text + len, sizeof(text) - len,
                          "{\"tasks\": [{\"id\": \"g\", "
                          "\"kind\": \"gather\", \"tasks\": [");
  for (i = 0; i < 8; i++)
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "%s{\"kind\": \"fetch\", \"url\": "
                            "\"https://127.0.0.1:%d/index.html\", "
                            "\"insecure\": true}",
                            i ? "," : "", port);
  snprintf(text + len, sizeof(text) - len, "]}]}");
  r = run_job(text, NULL);
  cr_assert_str_eq(status_of(r, "g"), "ok", "%s",
                   task_by_id(r, "g")->err_msg ? task_by_id(r, "g")->err_msg
                                               : "");
  result_free(r);
  kill(pid, SIGTERM);
  waitpid(pid, &st, 0);
  tls_pid = -1;
  /* nghttpd speaks only HTTP/2; its log numbers connections "[id=N]". */
  f = fopen(log, "r");
  cr_assert_not_null(f);
  while (fgets(line, sizeof(line), f)) {
    int id;

    if (sscanf(line, "[id=%d]", &id) == 1 && id > conns)
      conns = id;
    if (strstr(line, "recv HEADERS frame"))
      streams++;
  }
  fclose(f);
  /* Eight at once over one connection: multiplexed, not queued. */
  cr_assert_eq(conns, 1, "%d connections for 8 concurrent requests", conns);
  cr_assert(streams >= 8, "%d streams", streams);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
  free(dir);
}

Test(fetch, dns_failure_and_dropped_connections_are_retried)
{
  char label[80];
  struct result *r;

  /*
   * A label over 63 characters cannot be put in a DNS query, so the
   * resolver fails it without sending anything: a dns error that never
   * leaves the machine.
   */
  memset(label, 'a', 70);
  label[70] = '\0';
  r = run_job(job("{\"tasks\": ["
                  "{\"id\": \"dns\", \"kind\": \"fetch\", \"url\": "
                  "\"http://%s.invalid/\", \"retries\": 1, \"backoff\": "
                  "\"10ms\"},"
                  "{\"id\": \"drop\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/drop?n=1000\", \"retries\": 2, \"backoff\": "
                  "\"10ms\"}]}",
                  label, base()),
              NULL);
  cr_assert_str_eq(status_of(r, "dns"), "failed");
  cr_assert_eq(task_by_id(r, "dns")->err_type, CORUN_ERR_DNS, "%s",
               task_by_id(r, "dns")->err_msg);
  cr_assert_eq(task_by_id(r, "dns")->attempts, 2);
  cr_assert_str_eq(status_of(r, "drop"), "failed");
  cr_assert_eq(task_by_id(r, "drop")->err_type, CORUN_ERR_PROTOCOL);
  cr_assert_eq(task_by_id(r, "drop")->attempts, 3);
  result_free(r);
}

/*
 * Every report is UTF-8 JSON whatever servers and commands send: a
 * Content-Type header and command output that are not UTF-8 come out as
 * U+FFFD, and python3's json.load reads the file (a byte it cannot decode
 * would stop it). A command killed by a signal has "exit_code": null.
 */
Test(fetch, report_is_utf8_json_whatever_servers_and_commands_send)
{
  char *dir = tmp_dir("fetch"), *rp = path_join(dir, "r.json");
  char *jp = path_join(dir, "j.json"), cmd[2048], *out;
  FILE *f = fopen(jp, "w");
  struct proc *p;
  int st;

  cr_assert_not_null(f);
  fprintf(f,
          "{\"tasks\": ["
          "{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
          "\"%s/bytes?n=3&type=text/x%%FF%%FE%%C3\"},"
          "{\"id\": \"x\", \"kind\": \"exec\", \"shell\": \"printf "
          "'\\\\377\\\\376 ok \\\\303'; printf 'bad \\\\355\\\\240\\\\200 "
          "\\\\360\\\\237\\\\230\\\\200' >&2\"},"
          "{\"id\": \"k\", \"kind\": \"exec\", \"shell\": \"kill -9 $$\"}]}",
          base());
  fclose(f);
  p = run_cli(NULL, (const char *const[]){"-q", "--report", rp, jp, NULL});
  cr_assert_eq(p->status, 1, "%s", p->err);
  proc_free(p);
  snprintf(cmd, sizeof(cmd),
           "python3 -c 'import json,sys\n"
           "d = json.load(open(sys.argv[1], encoding=\"utf-8\"))\n"
           "t = {x[\"id\"]: x for x in d[\"tasks\"]}\n"
           "print(ascii(t[\"f\"][\"result\"][\"content_type\"]))\n"
           "print(ascii(t[\"x\"][\"result\"][\"stdout\"]))\n"
           "print(ascii(t[\"x\"][\"result\"][\"stderr\"]))\n"
           "print(t[\"k\"][\"result\"][\"exit_code\"], "
           "t[\"k\"][\"result\"][\"signal\"])' '%s'",
           rp);
  out = run_shell(cmd, &st);
  cr_assert_eq(st, 0, "%s", out);
  /* One U+FFFD per maximal ill-formed part, as Python's decoder counts. */
  cr_assert_str_eq(out, "'text/x\\ufffd\\ufffd\\ufffd'\n"
                        "'\\ufffd\\ufffd ok \\ufffd'\n"
                        "'bad \\ufffd\\ufffd\\ufffd \\U0001f600'\n"
                        "None 9\n");
  free(out);
  unlink(rp);
  unlink(jp);
  rmdir(dir);
  free(rp);
  free(jp);
  free(dir);
}

/* Everything a run writes about a task: report, summary, task dump. */
static char *all_output(struct result *r)
{
  struct corun_buf b = CORUN_BUF_INIT;

  corun_report_json(r->run, &b);
  corun_report_text(r->run, 0, &b);
  corun_run_dump(r->run, &b);
  corun_buf_puts(&b, corun_buf_str(&r->log));
  return corun_buf_detach(&b);
}

/*
 * A long secret host name in a message that is cut short (curl's 256-byte
 * error buffer) must not show its start: once where corun answers itself
 * (.invalid), once where curl's message is cut (a *.localhost name, which
 * curl resolves to 127.0.0.1 itself, on a closed port).
 */
Test(fetch, long_secret_host_never_shows_in_a_cut_message)
{
  char host[256], *out;
  struct result *r;
  int i;

  for (i = 0; i < 4; i++)
    memset(host + i * 61, "wxyz"[i], 60), host[i * 61 + 60] = '.';
  host[243] = '\0';
  setenv("CORUN_TEST_HOST", host, 1);
  r = run_job(job("{\"tasks\": ["
                  "{\"id\": \"inv\", \"kind\": \"fetch\", \"url\": "
                  "\"http://${env:CORUN_TEST_HOST}.invalid/\"},"
                  "{\"id\": \"cut\", \"kind\": \"fetch\", \"url\": "
                  "\"http://${env:CORUN_TEST_HOST}.localhost:%d/\"}]}",
                  free_port()),
              &(struct run_opts){.debug = 1});
  unsetenv("CORUN_TEST_HOST");
  cr_assert_str_eq(status_of(r, "inv"), "failed");
  cr_assert_str_eq(status_of(r, "cut"), "failed");
  cr_assert_eq(task_by_id(r, "cut")->err_type, CORUN_ERR_CONNECT, "%s",
               task_by_id(r, "cut")->err_msg);
  /* curl's message was cut inside the name: nothing after it is left. */
  cr_assert_str_eq(task_by_id(r, "cut")->err_msg, "Failed to connect to ***");
  out = all_output(r);
  cr_assert_null(strstr(out, "wwwwwwwwww"), "%s", out);
  cr_assert_not_null(strstr(out, "could not resolve host of http://***.invalid/"),
                     "%s", out);
  cr_assert_not_null(strstr(out, "Failed to connect to ***"), "%s", out);
  free(out);
  result_free(r);
}

/* Credentials in a redirect's URL never reach the report or messages. */
Test(fetch, redirect_credentials_never_reach_the_report)
{
  char *out;
  struct result *r = run_job(
      job("{\"tasks\": ["
          "{\"id\": \"ok\", \"kind\": \"fetch\", \"url\": "
          "\"%s/redirect-to?url=http://alice:pw-OK-123@127.0.0.1:%d/text\"},"
          "{\"id\": \"404\", \"kind\": \"fetch\", \"url\": "
          "\"%s/redirect-to?url=http://bob:pw-404-45@127.0.0.1:%d/status"
          "%%3Fcode=404\"},"
          "{\"id\": \"ftp\", \"kind\": \"fetch\", \"url\": "
          "\"%s/redirect-to?url=ftp://carol:pw-FTP-67@127.0.0.1/x\"},"
          "{\"id\": \"own\", \"kind\": \"fetch\", \"url\": "
          "\"http://dave:pw-OWN-89@127.0.0.1:%d/status?code=500\"}]}",
          base(), srv.port, base(), srv.port, base(), srv.port),
      &(struct run_opts){.debug = 1});
  cJSON *ok = result_of(r, "ok");

  cr_assert_str_eq(status_of(r, "ok"), "ok");
  cr_assert_str_eq(cJSON_GetObjectItem(ok, "url")->valuestring,
                   job("http://127.0.0.1:%d/text", srv.port));
  cr_assert_str_eq(task_by_id(r, "404")->err_msg,
                   job("HTTP 404 from http://127.0.0.1:%d/status?code=404",
                       srv.port));
  cr_assert_str_eq(task_by_id(r, "ftp")->err_msg,
                   "redirect to ftp://127.0.0.1/x refused: only http and "
                   "https");
  cr_assert_str_eq(task_by_id(r, "own")->err_msg,
                   job("HTTP 500 from http://127.0.0.1:%d/status?code=500",
                       srv.port));
  out = all_output(r);
  cr_assert_null(strstr(out, "pw-"), "%s", out);
  cr_assert_null(strstr(out, "alice"), "%s", out);
  free(out);
  cJSON_Delete(ok);
  result_free(r);
}

/*
 * A short secret shows as "***" where it was substituted (the URL, echoed
 * in the result and in messages), and nowhere else: "0" leaves "HTTP 500"
 * and the port alone. A long one is found percent-decoded too (the
 * server's /status decodes its body= parameter).
 */
Test(fetch, secrets_hidden_where_substituted_and_when_decoded)
{
  struct corun_buf raw = CORUN_BUF_INIT;
  char *out;
  struct result *r;
  cJSON *ok;

  setenv("CORUN_TEST_SHORT", "0", 1);
  setenv("CORUN_TEST_LONG", "tok%41en-xyz", 1);
  r = run_job(job("{\"tasks\": ["
                  "{\"id\": \"ok\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/status?code=200&k=${env:CORUN_TEST_SHORT}\"},"
                  "{\"id\": \"bad\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/status?code=500&k=${env:CORUN_TEST_SHORT}\"},"
                  "{\"id\": \"dec\", \"kind\": \"fetch\", \"url\": "
                  "\"%s/status?code=200&body=${env:CORUN_TEST_LONG}\"},"
                  "{\"id\": \"bare\", \"kind\": \"fetch\", \"url\": "
                  "\"%s?k=${env:CORUN_TEST_SHORT}\", \"expect\": "
                  "{\"status\": [404]}}]}",
                  base(), base(), base(), base()),
              NULL);
  unsetenv("CORUN_TEST_SHORT");
  unsetenv("CORUN_TEST_LONG");
  /* The raw result (as a next stage sees it) holds the decoded secret. */
  corun__task_write_result(task_by_id(r, "dec"), NULL, &raw);
  ok = cJSON_Parse(corun_buf_str(&raw));
  cr_assert_str_eq(cJSON_GetObjectItem(ok, "body")->valuestring,
                   "tokAen-xyz");
  cJSON_Delete(ok);
  corun_buf_free(&raw);
  out = all_output(r);
  cr_assert_not_null(
      strstr(out, job("\"url\": \"%s/status?code=200&k=***\"", base())),
      "%s", out);
  cr_assert_not_null(
      strstr(out, job("HTTP 500 from %s/status?code=500&k=***", base())),
      "%s", out);
  /* As written, though curl spells it "host/?k=0". */
  cr_assert_not_null(strstr(out, job("\"url\": \"%s?k=***\"", base())),
                     "%s", out);
  cr_assert_not_null(strstr(out, "\"status\": 200"), "%s", out);
  cr_assert_not_null(strstr(out, job("127.0.0.1:%d", srv.port)), "%s", out);
  cr_assert_null(strstr(out, "tokAen"), "%s", out);
  cr_assert_not_null(strstr(out, "\"body\": \"***\""), "%s", out);
  free(out);
  result_free(r);
}

/* In a pipeline stage's task a short secret stays hidden with each item. */
Test(fetch, short_secret_in_a_stage_task_hidden_for_every_item)
{
  char *dir = tmp_dir("fetch"), *rp = path_join(dir, "items.jsonl"), *out;
  struct result *r;

  setenv("CORUN_TEST_SHORT", "9", 1);
  r = run_job(job("{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", "
                  "\"results\": \"%s\", "
                  "\"source\": {\"items\": [19, 29]}, \"stages\": [{\"task\": "
                  "{\"kind\": \"fetch\", \"url\": "
                  "\"%s/status?code=500&k=${env:CORUN_TEST_SHORT}&i=${item}\""
                  "}}]}]}",
                  rp, base()),
              NULL);
  unsetenv("CORUN_TEST_SHORT");
  cr_assert_str_eq(status_of(r, "p"), "failed");
  out = read_file(rp, NULL);
  cr_assert_not_null(out);
  cr_assert_not_null(strstr(out, "code=500&k=***&i=19\""), "%s", out);
  cr_assert_not_null(strstr(out, "code=500&k=***&i=29\""), "%s", out);
  cr_assert_null(strstr(out, "k=9"), "%s", out);
  free(out);
  result_free(r);
  unlink(rp);
  rmdir(dir);
  free(rp);
  free(dir);
}

/* Whether a library whose name holds what is mapped into this process. */
static int mapped(const char *what)
{
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024];
  int found = 0;

  cr_assert_not_null(f);
  while (!found && fgets(line, sizeof(line), f))
    found = strstr(line, what) != NULL;
  fclose(f);
  return found;
}

/*
 * libcurl (and the TLS and other libraries it brings) is loaded by the
 * first job with a fetch, not before: a job of sleeps and commands runs
 * without it (util/libcurl.h).
 */
Test(fetch, libcurl_is_loaded_only_by_a_job_that_fetches)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"s\", \"kind\": \"sleep\", \"seconds\": 0}, "
      "{\"id\": \"e\", \"kind\": \"exec\", \"argv\": [\"true\"]}]}",
      NULL);
  struct corun_job *job;

  cr_assert_eq(r->exit_code, 0);
  result_free(r);
  /* "defaults" are read as each kind would read them: fetch's too. */
  r = run_job("{\"defaults\": {\"timeout\": 5}, \"tasks\": [{\"id\": \"s\", "
              "\"kind\": \"sleep\", \"seconds\": 0}]}",
              NULL);
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
  cr_assert_not(corun__libcurl_loaded());
  cr_assert_not(mapped("libcurl"), "libcurl was mapped by a job without fetches");
  job = load_ok("{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
                "\"http://127.0.0.1:1/\"}]}");
  cr_assert(corun__libcurl_loaded());
  cr_assert(mapped("libcurl"));
  corun_job_free(job);
}

/*
 * --debug names a task whose completion blocked the event loop: the
 * checks of a fetch run when its transfer ends, over the whole body
 * (here a regex over 4 MB, well past a 1 ms threshold).
 */
Test(fetch, a_slow_completion_is_told_under_debug)
{
  struct run_opts o = {0};
  struct result *r;

  o.debug = 1;
  o.slow_ms = 1;
  r = run_job(job("{\"tasks\": [{\"id\": \"big\", \"kind\": \"fetch\", "
                  "\"url\": \"%s/bytes?n=4000000\", \"expect\": {\"body\": "
                  "{\"matches\": \"q[^x]*z$\"}}}]}",
                  base()),
              &o);
  cr_assert(strstr(corun_buf_str(&r->log),
                   "a fetch completion callback of task \"big\" blocked the "
                   "event loop"),
            "no slow-callback warning:\n%s", corun_buf_str(&r->log));
  result_free(r);
}

/*
 * A body written straight to a FIFO cannot be taken back: the fetch is
 * not tried again after it (its reader would get two bodies as one).
 * /dev/null keeps nothing, so a fetch saved there is retried as any.
 */
Test(fetch, a_body_written_to_a_fifo_is_not_sent_twice)
{
  char *dir = tmp_dir("fetch"), *fifo = path_join(dir, "body.fifo"),
       *got = path_join(dir, "got");
  struct result *r;
  pid_t reader;
  int status;
  char *text;

  cr_assert_eq(mkfifo(fifo, 0600), 0);
  reader = fork();
  cr_assert(reader >= 0);
  if (reader == 0) {
    char buf[4096];
    int in = open(fifo, O_RDONLY), out = open(got, O_WRONLY | O_CREAT, 0600);
    ssize_t n;

    while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
      (void)!write(out, buf, (size_t)n);
    _exit(0);
  }
  usleep(100000); /* the reader waits in open */
  r = run_job(job("{\"tasks\": [{\"id\": \"fifo\", \"kind\": \"fetch\", "
                  "\"url\": \"%s/status?code=500&body=down\", \"save\": \"%s\", "
                  "\"retries\": 2, \"backoff\": \"10ms\"}, {\"id\": \"null\", "
                  "\"kind\": \"fetch\", \"url\": \"%s/status?code=500&body=x\", "
                  "\"save\": \"/dev/null\", \"retries\": 2, \"backoff\": "
                  "\"10ms\"}]}",
                  base(), fifo, base()),
              NULL);
  cr_assert_eq(waitpid(reader, &status, 0), reader);
  cr_expect_str_eq(status_of(r, "fifo"), "failed");
  cr_expect_eq(task_by_id(r, "fifo")->err_type, CORUN_ERR_HTTP_STATUS);
  cr_expect_eq(task_by_id(r, "fifo")->attempts, 1);
  text = read_file(got, NULL);
  cr_expect(text && strcmp(text, "down") == 0, "%s", text ? text : "(none)");
  free(text);
  cr_expect_eq(task_by_id(r, "null")->attempts, 3);
  result_free(r);
  unlink(fifo);
  unlink(got);
  rmdir(dir);
  free(fifo);
  free(got);
  free(dir);
}

/*
 * "body" from defaults and a task's own "json" (or the other way round):
 * the task's own is sent, not a clash of the two.
 */
Test(fetch, a_task_s_own_json_wins_over_a_default_body)
{
  struct result *r = run_job(
      job("{\"defaults\": {\"body\": \"from-defaults\"}, \"tasks\": ["
          "{\"id\": \"own\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"json\": {\"a\": 1}},"
          "{\"id\": \"dflt\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\"}]}",
          base()),
      NULL);

  echoed_is(r, "own", "body", NULL, "{\"a\":1}");
  echoed_is(r, "dflt", "body", NULL, "from-defaults");
  result_free(r);
  /* The same for tasks filled in with captures as they start. */
  r = run_job(
      job("{\"defaults\": {\"body\": \"from-defaults\", \"argv\": [\"echo\", "
          "\"d\"]}, \"tasks\": ["
          "{\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"capture\": {\"m\": {\"json\": \"/method\"}}},"
          "{\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"%1$s/echo\", "
          "\"after\": [\"a\"], \"json\": {\"t\": \"${a.m}\"}},"
          "{\"id\": \"c\", \"kind\": \"exec\", \"after\": [\"a\"], "
          "\"shell\": \"echo own-${a.m}\"}]}",
          base()),
      NULL);
  echoed_is(r, "b", "body", NULL, "{\"t\":\"POST\"}");
  cr_assert_str_eq(status_of(r, "c"), "ok");
  {
    struct corun_buf b = CORUN_BUF_INIT;

    corun__task_write_result(task_by_id(r, "c"), &r->job->secrets, &b);
    cr_assert(strstr(corun_buf_str(&b), "\"stdout\": \"own-POST\\n\""), "%s",
              corun_buf_str(&b));
    corun_buf_free(&b);
  }
  result_free(r);
}
