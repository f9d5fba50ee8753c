/* SPDX-License-Identifier: MIT */
/*
 * A fetch's transport against real servers on 127.0.0.1: nginx with TLS
 * and HTTP/2 under a CA the test makes with openssl, nginx that requires
 * a client certificate, tinyproxy as a forward proxy, and the test server.
 * ca, cert/key, CURL_CA_BUNDLE, proxy (and http_proxy), resolve,
 * http_version, a Range request that gets its 206 (no Accept-Encoding),
 * the Content-Type a POST turned GET by a 303 no longer sends, and the
 * load errors of bad transport fields.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "server.h"
#include "util/buf.h"

TestSuite(transport, .timeout = 120);

static char *dir;
static pid_t nginx_pid = -1, proxy_pid = -1;
static int tls_port, mtls_port, h2c_port, plain_port, proxy_port;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
  char cmd[4096];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

/* Whether something accepts connections on 127.0.0.1:port by now. */
static int wait_port(int port)
{
  int i;

  for (i = 0; i < 200; i++) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    if (ok)
      return 1;
    usleep(25000);
  }
  return 0;
}

/*
 * A CA, a server certificate for 127.0.0.1, localhost and api.test signed
 * by it, a client CA with one client certificate, and an unrelated CA.
 */
static void make_pki(void)
{
  sh("(cd %s && "
     "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=corun-ca "
     "-keyout ca.key -out ca.pem && "
     "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
     "-keyout other.key -out other.pem && "
     "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost "
     "-keyout server.key -out server.csr && "
     "printf 'subjectAltName=DNS:localhost,DNS:api.test,IP:127.0.0.1\\n' "
     "> san.ext && "
     "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
     "-CAcreateserial -days 2 -extfile san.ext -out server.pem && "
     "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=client-ca "
     "-keyout client-ca.key -out client-ca.pem && "
     "openssl req -newkey rsa:2048 -nodes -subj /CN=corun-client "
     "-keyout client.key -out client.csr && "
     "openssl x509 -req -in client.csr -CA client-ca.pem -CAkey "
     "client-ca.key -CAcreateserial -days 2 -out client.pem && "
     "echo 'not a certificate' > junk.pem"
     ") >/dev/null 2>&1",
     dir);
}

static void start_nginx(void)
{
  char conf[512];
  FILE *f;
  int i;

  tls_port = free_port();
  mtls_port = free_port();
  h2c_port = free_port();
  plain_port = free_port();
  snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
  f = fopen(conf, "w");
  cr_assert_not_null(f);
  /* A text file gzip would compress, for the Range request. */
  {
    char path[512];
    FILE *t;

    snprintf(path, sizeof(path), "%s/www/big.txt", dir);
    sh("mkdir -p %s/www", dir);
    t = fopen(path, "w");
    cr_assert_not_null(t);
    for (i = 0; i < 2000; i++)
      fprintf(t, "line %d of a text nginx would gzip\n", i);
    fclose(t);
  }
  fprintf(f,
          "%s"
          "daemon off;\nmaster_process off;\nworker_processes 1;\n"
          "pid %s/nginx.pid;\nerror_log %s/nginx.err warn;\n"
          "events { worker_connections 64; }\n"
          "http {\n"
          "  access_log off;\n"
          "  client_body_temp_path %s/tmp;\n  proxy_temp_path %s/tmp;\n"
          "  fastcgi_temp_path %s/tmp;\n  uwsgi_temp_path %s/tmp;\n"
          "  scgi_temp_path %s/tmp;\n"
          "  gzip on;\n  gzip_types text/plain;\n  gzip_min_length 10;\n"
          "  default_type text/plain;\n"
          "  server {\n"
          "    listen 127.0.0.1:%d ssl http2;\n"
          "    ssl_certificate %s/server.pem;\n"
          "    ssl_certificate_key %s/server.key;\n"
          "    location = /proto { return 200 \"$server_protocol\\n\"; }\n"
          "    location = /host { return 200 \"$host\\n\"; }\n"
          "    location / { root %s/www; }\n"
          "  }\n"
          "  server {\n"
          "    listen 127.0.0.1:%d ssl;\n"
          "    ssl_certificate %s/server.pem;\n"
          "    ssl_certificate_key %s/server.key;\n"
          "    ssl_client_certificate %s/client-ca.pem;\n"
          "    ssl_verify_client on;\n"
          "    location / { return 200 \"hello $ssl_client_s_dn\\n\"; }\n"
          "  }\n"
          "  server {\n"
          "    listen 127.0.0.1:%d http2;\n"
          "    location / { return 200 \"$server_protocol\\n\"; }\n"
          "  }\n"
          "  server {\n"
          "    listen 127.0.0.1:%d;\n"
          "    location / { root %s/www; }\n"
          "  }\n"
          "}\n",
          geteuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir, dir,
          dir, tls_port, dir, dir, dir, mtls_port, dir, dir, dir, h2c_port,
          plain_port, dir);
  fclose(f);
  sh("mkdir -p %s/tmp", dir);
  nginx_pid = fork();
  cr_assert(nginx_pid >= 0);
  if (nginx_pid == 0) {
    execlp("nginx", "nginx", "-q", "-p", dir, "-c", conf, (char *)NULL);
    _exit(127);
  }
  cr_assert(wait_port(tls_port) && wait_port(plain_port),
            "nginx did not start");
}

static void start_proxy(void)
{
  char conf[512];
  FILE *f;

  proxy_port = free_port();
  snprintf(conf, sizeof(conf), "%s/tinyproxy.conf", dir);
  f = fopen(conf, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "Port %d\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\n"
          "MaxClients 20\nLogLevel Info\nLogFile \"%s/tinyproxy.log\"\n"
          "PidFile \"%s/tinyproxy.pid\"\nViaProxyName \"corun-test-proxy\"\n",
          proxy_port, dir, dir);
  if (geteuid() == 0)
    fprintf(f, "User root\nGroup root\n");
  fclose(f);
  proxy_pid = fork();
  cr_assert(proxy_pid >= 0);
  if (proxy_pid == 0) {
    execlp("tinyproxy", "tinyproxy", "-d", "-c", conf, (char *)NULL);
    _exit(127);
  }
  cr_assert(wait_port(proxy_port), "tinyproxy did not start");
}

static void setup(void)
{
  static const char *const proxy_vars[] = {
      "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
      "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
  size_t i;

  /* The tests say which proxy variables corun sees: none of the caller's. */
  for (i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
    unsetenv(proxy_vars[i]);
  if (system("command -v nginx >/dev/null && command -v tinyproxy >/dev/null "
             "&& command -v openssl >/dev/null") != 0)
    cr_skip_test("nginx, tinyproxy or openssl missing (bash .ci/run "
                 "installs them)");
  dir = tmp_dir("transport");
  chmod(dir, 0755);
  make_pki();
  start_nginx();
  start_proxy();
}

static void stop(pid_t *pid)
{
  if (*pid > 0) {
    kill(*pid, SIGTERM);
    waitpid(*pid, NULL, 0);
  }
  *pid = -1;
}

static void teardown(void)
{
  char cmd[600];

  stop(&nginx_pid);
  stop(&proxy_pid);
  if (dir) {
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    free(dir);
    dir = NULL;
  }
}

/*
 * Runs a job (printf-style) from dir with the environment entry env (or
 * NULL); returns the report, the exit status checked against want.
 */
static cJSON *run(const char *env, int want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cJSON *run(const char *env, int want, const char *fmt, ...)
{
  struct corun_buf job = CORUN_BUF_INIT;
  char *jpath = path_join(dir, "job.json"), *rpath = path_join(dir, "r.json");
  const char *args[] = {"-q", "--report", rpath, jpath, NULL};
  struct spawn_opts o = {0};
  va_list ap;
  char *text;
  cJSON *r;
  FILE *f;
  pid_t pid;
  int rc;

  va_start(ap, fmt);
  corun_buf_vprintf(&job, fmt, ap);
  va_end(ap);
  f = fopen(jpath, "w");
  cr_assert_not_null(f);
  fputs(corun_buf_str(&job), f);
  fclose(f);
  o.env = env;
  o.free_fds = -1;
  pid = spawn_cli(args, &o);
  rc = reap_cli(pid, 60, NULL);
  text = read_file(rpath, NULL);
  cr_assert_not_null(text, "no report (exit %d)", rc);
  cr_expect_eq(rc, want, "exit %d:\n%s", rc, text);
  r = cJSON_Parse(text);
  cr_assert_not_null(r);
  free(text);
  unlink(rpath);
  free(rpath);
  free(jpath);
  corun_buf_free(&job);
  return r;
}

static const char *field(const cJSON *t, const char *a, const char *b)
{
  const cJSON *v = cJSON_GetObjectItem(t, a);

  if (b)
    v = cJSON_GetObjectItem(v, b);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static const char *status(cJSON *r, const char *id)
{
  return field(report_task(r, id), "status", NULL);
}

static const char *errtype(cJSON *r, const char *id)
{
  return field(report_task(r, id), "error", "type");
}

static const char *body(cJSON *r, const char *id)
{
  return field(cJSON_GetObjectItem(report_task(r, id), "result"), "body",
               NULL);
}

Test(transport, ca_trusts_a_private_ca_and_only_it, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      NULL, 1,
      "{\"tasks\": ["
      "{\"id\": \"ok\", \"kind\": \"fetch\", \"url\": "
      "\"https://127.0.0.1:%d/proto\", \"ca\": \"ca.pem\"},"
      "{\"id\": \"name\", \"kind\": \"fetch\", \"url\": "
      "\"https://localhost:%d/proto\", \"ca\": \"ca.pem\"},"
      "{\"id\": \"system\", \"kind\": \"fetch\", \"url\": "
      "\"https://127.0.0.1:%d/proto\"},"
      "{\"id\": \"other\", \"kind\": \"fetch\", \"url\": "
      "\"https://127.0.0.1:%d/proto\", \"ca\": \"other.pem\"}]}\n",
      tls_port, tls_port, tls_port, tls_port);

  cr_expect_str_eq(status(r, "ok"), "ok");
  cr_expect_str_eq(body(r, "ok"), "HTTP/2.0\n");
  cr_expect_str_eq(status(r, "name"), "ok");
  cr_expect_str_eq(errtype(r, "system"), "tls");
  cr_expect_str_eq(errtype(r, "other"), "tls");
  cJSON_Delete(r);
}

Test(transport, curl_ca_bundle_and_ssl_cert_file_are_read, .init = setup,
     .fini = teardown)
{
  char env[600];
  cJSON *r;

  /* Only what each case sets (this machine may name its own bundle). */
  unsetenv("CURL_CA_BUNDLE");
  unsetenv("SSL_CERT_FILE");
  snprintf(env, sizeof(env), "CURL_CA_BUNDLE=%s/ca.pem", dir);
  r = run(env, 0,
          "{\"tasks\": [{\"id\": \"t\", \"kind\": \"fetch\", \"url\": "
          "\"https://127.0.0.1:%d/proto\"}]}\n",
          tls_port);
  cr_expect_str_eq(status(r, "t"), "ok");
  cJSON_Delete(r);
  snprintf(env, sizeof(env), "SSL_CERT_FILE=%s/ca.pem", dir);
  r = run(env, 0,
          "{\"tasks\": [{\"id\": \"t\", \"kind\": \"fetch\", \"url\": "
          "\"https://127.0.0.1:%d/proto\"}]}\n",
          tls_port);
  cr_expect_str_eq(status(r, "t"), "ok");
  cJSON_Delete(r);
}

Test(transport, mutual_tls_with_cert_and_key, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      NULL, 1,
      "{\"defaults\": {\"ca\": \"ca.pem\"}, \"tasks\": ["
      "{\"id\": \"with\", \"kind\": \"fetch\", \"url\": "
      "\"https://127.0.0.1:%d/\", \"cert\": \"client.pem\", \"key\": "
      "\"client.key\"},"
      "{\"id\": \"without\", \"kind\": \"fetch\", \"url\": "
      "\"https://127.0.0.1:%d/\"}]}\n",
      mtls_port, mtls_port);

  cr_expect_str_eq(status(r, "with"), "ok", "%s",
                   field(report_task(r, "with"), "error", "message"));
  cr_expect_str_eq(body(r, "with"), "hello CN=corun-client\n");
  /* nginx answers 400 when no certificate came. */
  cr_expect_str_eq(errtype(r, "without"), "http_status");
  cJSON_Delete(r);
}

Test(transport, http_version_chooses_the_protocol, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(
      NULL, 0,
      "{\"defaults\": {\"ca\": \"ca.pem\"}, \"tasks\": ["
      "{\"id\": \"h2\", \"kind\": \"fetch\", \"url\": "
      "\"https://127.0.0.1:%d/proto\", \"http_version\": \"2\"},"
      "{\"id\": \"h1\", \"kind\": \"fetch\", \"url\": "
      "\"https://127.0.0.1:%d/proto\", \"http_version\": \"1.1\"},"
      "{\"id\": \"h2c\", \"kind\": \"fetch\", \"url\": "
      "\"http://127.0.0.1:%d/\", \"http_version\": \"2-prior-knowledge\"}]}\n",
      tls_port, tls_port, h2c_port);

  cr_expect_str_eq(body(r, "h2"), "HTTP/2.0\n");
  cr_expect_str_eq(body(r, "h1"), "HTTP/1.1\n");
  cr_expect_str_eq(body(r, "h2c"), "HTTP/2.0\n");
  cJSON_Delete(r);
}

Test(transport, resolve_sends_a_name_to_an_address, .init = setup,
     .fini = teardown)
{
  cJSON *r = run(NULL, 0,
                 "{\"tasks\": [{\"id\": \"t\", \"kind\": \"fetch\", \"url\": "
                 "\"https://api.test:%d/host\", \"ca\": \"ca.pem\", "
                 "\"resolve\": [\"api.test:%d:127.0.0.1\"]}]}\n",
                 tls_port, tls_port);

  cr_expect_str_eq(body(r, "t"), "api.test\n");
  cJSON_Delete(r);
}

/*
 * The run has one DNS cache: what a fetch's "resolve" gave is there for a
 * later fetch of that host and port, in any of the run's multi handles
 * (70 at once: past 64, the later ones go to a second), as curl's
 * --resolve is for every URL of one command.
 */
Test(transport, resolve_stays_for_the_runs_later_fetches, .init = setup,
     .fini = teardown)
{
  struct corun_buf many = CORUN_BUF_INIT;
  cJSON *r;
  int i;

  for (i = 0; i < 70; i++)
    corun_buf_printf(&many,
                     ",{\"id\": \"b%d\", \"kind\": \"fetch\", \"after\": "
                     "[\"a\"], \"url\": \"https://api.test:%d/host\", "
                     "\"ca\": \"ca.pem\"}",
                     i, tls_port);
  r = run(NULL, 0,
          "{\"concurrency\": 100, \"tasks\": [{\"id\": \"a\", \"kind\": "
          "\"fetch\", \"url\": \"https://api.test:%d/host\", \"ca\": "
          "\"ca.pem\", \"resolve\": [\"api.test:%d:127.0.0.1\"]}%s]}\n",
          tls_port, tls_port, corun_buf_str(&many));
  cr_expect_str_eq(body(r, "a"), "api.test\n");
  for (i = 0; i < 70; i++) {
    char id[8];

    snprintf(id, sizeof(id), "b%d", i);
    cr_expect_str_eq(body(r, id), "api.test\n", "%s: %s", id,
                     field(report_task(r, id), "error", "message"));
  }
  corun_buf_free(&many);
  cJSON_Delete(r);
}

/* The proxy adds its Via header; "" goes direct even with http_proxy set. */
Test(transport, proxy_field_and_environment, .init = setup, .fini = teardown)
{
  char env[128];
  cJSON *r;
  const char *via;

  r = run(NULL, 0,
          "{\"tasks\": ["
          "{\"id\": \"via\", \"kind\": \"fetch\", \"url\": "
          "\"http://127.0.0.1:%d/big.txt\", \"proxy\": \"http://127.0.0.1:%d\","
          " \"capture\": {\"via\": {\"header\": \"Via\"}}},"
          "{\"id\": \"direct\", \"kind\": \"fetch\", \"url\": "
          "\"http://127.0.0.1:%d/big.txt\", \"proxy\": \"\"}]}\n",
          plain_port, proxy_port, plain_port);
  via = field(cJSON_GetObjectItem(
                  cJSON_GetObjectItem(report_task(r, "via"), "result"),
                  "captures"),
              "via", NULL);
  cr_expect_not_null(strstr(via, "corun-test-proxy"), "Via: %s", via);
  cr_expect_str_eq(status(r, "direct"), "ok");
  cJSON_Delete(r);
  snprintf(env, sizeof(env), "http_proxy=http://127.0.0.1:%d", proxy_port);
  r = run(env, 1,
          "{\"tasks\": ["
          "{\"id\": \"fromenv\", \"kind\": \"fetch\", \"url\": "
          "\"http://127.0.0.1:%d/big.txt\", \"capture\": {\"via\": "
          "{\"header\": \"Via\"}}},"
          "{\"id\": \"none\", \"kind\": \"fetch\", \"url\": "
          "\"http://127.0.0.1:%d/big.txt\", \"proxy\": \"\", \"capture\": "
          "{\"via\": {\"header\": \"Via\"}}}]}\n",
          plain_port, plain_port);
  cr_expect_str_eq(status(r, "fromenv"), "ok");
  /* Without the proxy there is no Via header to capture. */
  cr_expect_str_eq(errtype(r, "none"), "assert");
  cJSON_Delete(r);
}

/*
 * Each variable libcurl reads for a plain http fetch, as it reads them:
 * corun tells libcurl "no proxy" itself when none is set, so it must see
 * every one of them that is. HTTP_PROXY is not one (libcurl skips it for
 * http), and no_proxy or NO_PROXY exempts the host.
 */
Test(transport, the_proxy_variables_apply_as_libcurl_reads_them,
     .init = setup, .fini = teardown)
{
  static const struct {
    const char *before, *after; /* around the proxy's URL */
    int via;
  } cases[] = {
      {"http_proxy=", "", 1},
      {"all_proxy=", "", 1},
      {"ALL_PROXY=", "", 1},
      {"HTTP_PROXY=", "", 0},
      {"http_proxy=\nall_proxy=", "", 1},
      {"http_proxy=", "\nno_proxy=127.0.0.1", 0},
      {"http_proxy=", "\nNO_PROXY=127.0.0.1", 0},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char env[160];
    cJSON *r;

    snprintf(env, sizeof(env), "%shttp://127.0.0.1:%d%s", cases[i].before,
             proxy_port, cases[i].after);
    r = run(env, !cases[i].via,
            "{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
            "\"http://127.0.0.1:%d/big.txt\", \"capture\": {\"via\": "
            "{\"header\": \"Via\"}}}]}\n",
            plain_port);
    /* Without the proxy there is no Via header to capture. */
    cr_expect_str_eq(status(r, "f"), cases[i].via ? "ok" : "failed", "%s",
                     env);
    cJSON_Delete(r);
  }
}

/*
 * A proxy that records each request's head and refuses it with a 403: what
 * a CONNECT carries, seen where it arrives.
 */
struct head_proxy {
  int fd;
  int port;
  atomic_int stop;
  pthread_t thread;
  struct corun_buf heads; /* each head, then a line "--" */
};

static void *head_proxy_run(void *arg)
{
  static const char refuse[] =
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
  struct head_proxy *hp = arg;

  while (!atomic_load(&hp->stop)) {
    struct pollfd p = {.fd = hp->fd, .events = POLLIN};
    char buf[8192];
    size_t n = 0;
    ssize_t got;
    int c;

    if (poll(&p, 1, 100) <= 0 || (c = accept(hp->fd, NULL, NULL)) < 0)
      continue;
    while (n < sizeof(buf) - 1 &&
           (got = recv(c, buf + n, sizeof(buf) - 1 - n, 0)) > 0) {
      n += (size_t)got;
      buf[n] = '\0';
      if (strstr(buf, "\r\n\r\n"))
        break;
    }
    buf[n] = '\0';
    corun_buf_printf(&hp->heads, "%s--\n", buf);
    (void)!write(c, refuse, sizeof(refuse) - 1);
    close(c);
  }
  return NULL;
}

static void head_proxy_start(struct head_proxy *hp)
{
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t len = sizeof(a);

  memset(hp, 0, sizeof(*hp));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  hp->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert(hp->fd >= 0);
  cr_assert_eq(bind(hp->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(hp->fd, 16), 0);
  cr_assert_eq(getsockname(hp->fd, (struct sockaddr *)&a, &len), 0);
  hp->port = ntohs(a.sin_port);
  cr_assert_eq(pthread_create(&hp->thread, NULL, head_proxy_run, hp), 0);
}

static void head_proxy_stop(struct head_proxy *hp)
{
  atomic_store(&hp->stop, 1);
  pthread_join(hp->thread, NULL);
  close(hp->fd);
}

/*
 * An https fetch through a proxy, named or from the environment, names
 * corun in its CONNECT (libcurl takes that User-Agent from
 * CURLOPT_USERAGENT alone; corun's request headers go in a list).
 */
Test(transport, a_connect_through_a_proxy_names_corun, .init = setup,
     .fini = teardown)
{
  struct head_proxy hp;
  char env[128];
  const char *h;
  int connects = 0;
  cJSON *r;

  head_proxy_start(&hp);
  r = run(NULL, 1,
          "{\"tasks\": [{\"id\": \"named\", \"kind\": \"fetch\", "
          "\"url\": \"https://127.0.0.1:%d/f\", \"proxy\": "
          "\"http://127.0.0.1:%d\", \"retries\": 0}]}\n",
          tls_port, hp.port);
  cr_expect_str_eq(status(r, "named"), "failed");
  cJSON_Delete(r);
  snprintf(env, sizeof(env), "https_proxy=http://127.0.0.1:%d", hp.port);
  r = run(env, 1,
          "{\"tasks\": [{\"id\": \"fromenv\", \"kind\": \"fetch\", "
          "\"url\": \"https://127.0.0.1:%d/f\", \"retries\": 0}]}\n",
          tls_port);
  cr_expect_str_eq(status(r, "fromenv"), "failed");
  cJSON_Delete(r);
  /* The upper-case name counts for https (only http skips it). */
  snprintf(env, sizeof(env), "HTTPS_PROXY=http://127.0.0.1:%d", hp.port);
  r = run(env, 1,
          "{\"tasks\": [{\"id\": \"fromenv\", \"kind\": \"fetch\", "
          "\"url\": \"https://127.0.0.1:%d/f\", \"retries\": 0}]}\n",
          tls_port);
  cr_expect_str_eq(status(r, "fromenv"), "failed");
  cJSON_Delete(r);
  head_proxy_stop(&hp);
  for (h = corun_buf_str(&hp.heads); (h = strstr(h, "CONNECT ")) != NULL;
       h++) {
    const char *end = strstr(h, "--\n");
    char *head;

    connects++;
    cr_assert_not_null(end);
    head = strndup(h, (size_t)(end - h));
    cr_expect_not_null(strstr(head, "\r\nUser-Agent: corun/" CORUN_VERSION "\r\n"),
                       "%s", head);
    free(head);
  }
  cr_expect_eq(connects, 3, "%s", corun_buf_str(&hp.heads));
  corun_buf_free(&hp.heads);
}

/*
 * A Range request asks for no encoding of ours, so nginx sends its 206
 * with the bytes asked for; the same file without Range comes gzipped
 * and is decoded.
 */
Test(transport, a_range_request_gets_its_206, .init = setup, .fini = teardown)
{
  cJSON *r = run(
      NULL, 0,
      "{\"tasks\": ["
      "{\"id\": \"range\", \"kind\": \"fetch\", \"url\": "
      "\"http://127.0.0.1:%d/big.txt\", \"headers\": {\"Range\": "
      "\"bytes=0-9\"}, \"expect\": {\"status\": [206], \"body\": \"line 0 of \","
      " \"headers\": {\"Content-Encoding\": null}}},"
      "{\"id\": \"whole\", \"kind\": \"fetch\", \"url\": "
      "\"http://127.0.0.1:%d/big.txt\", \"expect\": {\"headers\": "
      "{\"Content-Encoding\": \"gzip\"}, \"bytes\": {\"gt\": 60000}}}]}\n",
      plain_port, plain_port);

  cr_expect_str_eq(status(r, "range"), "ok", "%s",
                   field(report_task(r, "range"), "error", "message"));
  cr_expect_str_eq(status(r, "whole"), "ok", "%s",
                   field(report_task(r, "whole"), "error", "message"));
  cJSON_Delete(r);
}

/* A 303 turns the POST into a GET: its body and Content-Type stay behind. */
Test(transport, a_post_turned_get_sends_no_content_type)
{
  struct test_server srv;
  char *target, *url, *jdir = tmp_dir("transport"), *job, *rep;
  const char *args[4];
  struct proc *p;
  FILE *f;
  char *text;
  cJSON *r, *res;

  cr_assert_eq(test_server_start(&srv), 0);
  url = test_server_url(&srv, "/echo");
  {
    char t[600];

    snprintf(t, sizeof(t), "/redirect-to?url=%s&code=303", url);
    target = test_server_url(&srv, t);
  }
  job = path_join(jdir, "job.json");
  rep = path_join(jdir, "r.json");
  f = fopen(job, "w");
  fprintf(f,
          "{\"tasks\": [{\"id\": \"t\", \"kind\": \"fetch\", \"url\": \"%s\","
          " \"json\": {\"a\": 1}, \"headers\": {\"X-Keep\": \"yes\"}}]}\n",
          target);
  fclose(f);
  args[0] = "--report";
  args[1] = rep;
  args[2] = job;
  args[3] = NULL;
  p = run_cli(NULL, args);
  test_server_stop(&srv);
  text = read_file(rep, NULL);
  cr_assert_not_null(text, "%s", p->err);
  r = cJSON_Parse(text);
  res = cJSON_Parse(body(r, "t"));
  cr_assert_not_null(res, "%s", text);
  cr_expect_str_eq(field(res, "method", NULL), "GET");
  cr_expect_str_eq(field(res, "headers", "x-keep"), "yes");
  cr_expect_str_eq(field(res, "headers", "content-type"), "(none)");
  cJSON_Delete(res);
  cJSON_Delete(r);
  free(text);
  proc_free(p);
  unlink(job);
  unlink(rep);
  rmdir(jdir);
  free(jdir);
  free(job);
  free(rep);
  free(url);
  free(target);
}

/* A CA file checked once a load still fails every task that names it. */
Test(transport, each_fetch_naming_a_bad_pem_file_fails)
{
  char *d = load_err(
      "{\"tasks\": [\n"
      "  {\"id\": \"a1\", \"kind\": \"fetch\", \"url\": \"https://x/\", \"ca\": "
      "\"/nonexistent/ca.pem\"},\n"
      "  {\"id\": \"a2\", \"kind\": \"fetch\", \"url\": \"https://x/\", \"ca\": "
      "\"/nonexistent/ca.pem\"},\n"
      "  {\"id\": \"b1\", \"kind\": \"fetch\", \"url\": \"https://x/\", \"ca\": "
      "\"/etc/hostname\"},\n"
      "  {\"id\": \"b2\", \"kind\": \"fetch\", \"url\": \"https://x/\", \"ca\": "
      "\"/etc/hostname\", \"cert\": \"/etc/hostname\"}\n"
      "]}\n");
  static const char *const want[] = {
      "task \"a1\": \"ca\" cannot be read: No such file",
      "task \"a2\": \"ca\" cannot be read: No such file",
      "task \"b1\": \"ca\" is not a PEM file with certificates",
      "task \"b2\": \"ca\" is not a PEM file with certificates",
      "task \"b2\": \"cert\" is not a PEM file with a certificate",
  };
  size_t i;

  for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    cr_expect_not_null(strstr(d, want[i]), "missing %s in:\n%s", want[i], d);
  free(d);
}

Test(transport, bad_transport_fields_are_load_errors)
{
  char *d = load_err(
      "{\"tasks\": [\n"
      "  {\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"http://x/\", \"ca\": "
      "\"/nonexistent/ca.pem\"},\n"
      "  {\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"http://x/\", "
      "\"cert\": \"/etc/hostname\", \"key\": \"/etc/hostname\"},\n"
      "  {\"id\": \"c\", \"kind\": \"fetch\", \"url\": \"http://x/\", \"key\": "
      "\"/etc/hostname\"},\n"
      "  {\"id\": \"d\", \"kind\": \"fetch\", \"url\": \"http://x/\", "
      "\"resolve\": [\"api.test:99999:127.0.0.1\"], \"proxy\": \"localhost\","
      " \"http_version\": \"3\"}\n"
      "]}\n");
  static const char *const want[] = {
      ":2:58: error: task \"a\": \"ca\" cannot be read: No such file or "
      "directory (/nonexistent/ca.pem)",
      ":3:60: error: task \"b\": \"cert\" is not a PEM file with a "
      "certificate (/etc/hostname)",
      ":3:84: error: task \"b\": \"key\" is not a PEM file with a private key "
      "(/etc/hostname)",
      "task \"c\": \"key\" is not a PEM file",
      "task \"c\": \"key\" needs \"cert\", the certificate it goes with",
      "task \"d\": \"resolve\" entries must be \"HOST:PORT:ADDRESS\"",
      "task \"d\": \"proxy\" must be a URL like \"http://proxy:3128\" (or \"\" "
      "for none), not \"localhost\"",
      "task \"d\": \"http_version\" ",
  };
  size_t i;

  for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    cr_expect_not_null(strstr(d, want[i]), "missing %s in:\n%s", want[i], d);
  free(d);
}
