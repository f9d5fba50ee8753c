/* SPDX-License-Identifier: MIT */
/*
 * corun-test-httpd (tests/server/) on its own, through a plain socket
 * client: every route, keep-alive, pipelining, and that delays never hold
 * up other connections. The fetch tests trust this server, so when one of
 * them fails the fault should be corun's; these tests keep it that way.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "server/server.h"

static struct test_server srv;

static void start(void)
{
  cr_assert_eq(test_server_start(&srv), 0, "could not start %s",
               CORUN_TEST_HTTPD);
}

static void stop(void)
{
  test_server_stop(&srv);
}

TestSuite(server, .init = start, .fini = stop, .timeout = 60);

/* Multiplier for time windows: CORUN_TEST_TIME_SCALE (default 1). */
static double scale(void)
{
  const char *s = getenv("CORUN_TEST_TIME_SCALE");
  double v = s ? atof(s) : 1.0;

  return v > 0 ? v : 1.0;
}

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* printf into a new string (asprintf is a GNU extension). */
__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...)
{
  va_list ap;
  char *s;
  int n;

  va_start(ap, f);
  n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  cr_assert(n >= 0);
  s = malloc((size_t)n + 1);
  cr_assert_not_null(s);
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  return s;
}

static int dial_addr(const char *ip, int port)
{
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port)};
  struct timeval tv = {.tv_sec = 10};
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  cr_assert(fd >= 0, "socket: %s", strerror(errno));
  inet_pton(AF_INET, ip, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    return -1;
  }
  /* A server that never answers fails the test instead of hanging it. */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static int dial(int port)
{
  int fd = dial_addr("127.0.0.1", port);

  cr_assert(fd >= 0, "connect to port %d: %s", port, strerror(errno));
  return fd;
}

/* A connection with the bytes received but not yet consumed. */
struct client {
  int fd;
  char *buf;
  size_t len, cap;
};

static struct client *cl_open_port(int port)
{
  struct client *c = calloc(1, sizeof *c);

  cr_assert_not_null(c);
  c->fd = dial(port);
  return c;
}

static struct client *cl_open(void)
{
  return cl_open_port(srv.port);
}

static void cl_close(struct client *c)
{
  close(c->fd);
  free(c->buf);
  free(c);
}

static void cl_sendn(struct client *c, const void *data, size_t n)
{
  const char *p = data;

  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

    if (w < 0 && errno == EINTR)
      continue;
    cr_assert(w > 0, "send: %s", strerror(errno));
    p += w;
    n -= (size_t)w;
  }
}

static void cl_send(struct client *c, const char *s)
{
  cl_sendn(c, s, strlen(s));
}

/* Receives more bytes; returns how many, 0 at end of stream. */
static size_t cl_more(struct client *c)
{
  ssize_t n;

  if (c->cap - c->len < 65536) {
    c->cap = c->cap * 2 + 65536;
    c->buf = realloc(c->buf, c->cap + 1);
    cr_assert_not_null(c->buf);
  }
  do
    n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
  while (n < 0 && errno == EINTR);
  cr_assert(n >= 0, "recv: %s", strerror(errno));
  c->len += (size_t)n;
  c->buf[c->len] = '\0';
  return (size_t)n;
}

static void cl_consume(struct client *c, size_t n)
{
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

static const char *find_str(const char *p, size_t n, const char *needle)
{
  size_t k = strlen(needle);

  for (size_t i = 0; i + k <= n; i++)
    if (memcmp(p + i, needle, k) == 0)
      return p + i;
  return NULL;
}

struct resp {
  int status;
  char *head;       /* status line and headers, NUL-terminated */
  char *body;       /* NUL-terminated for convenience; may hold NULs */
  size_t len;       /* bytes of body received */
  long long length; /* Content-Length, -1 when absent */
  int eof;          /* the stream ended before or right at the body's end */
};

static void resp_free(struct resp *r)
{
  if (r == NULL)
    return;
  free(r->head);
  free(r->body);
  free(r);
}

/* The value of header name in r (malloc'd), or NULL. */
static char *hdr(const struct resp *r, const char *name)
{
  size_t n = strlen(name);

  for (const char *l = strstr(r->head, "\r\n"); l; l = strstr(l, "\r\n")) {
    l += 2;
    if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
      const char *v = l + n + 1, *e;

      while (*v == ' ')
        v++;
      e = strstr(v, "\r\n");
      return strndup(v, e ? (size_t)(e - v) : strlen(v));
    }
  }
  return NULL;
}

static int hdr_is(const struct resp *r, const char *name, const char *want)
{
  char *v = hdr(r, name);
  int same = v && strcmp(v, want) == 0;

  free(v);
  return same;
}

/*
 * Reads one response. head_only: it answers a HEAD, so no body follows
 * whatever Content-Length says. A stream that ends early is not an error
 * here: r->len and r->eof tell.
 */
static struct resp *cl_read(struct client *c, int head_only)
{
  struct resp *r = calloc(1, sizeof *r);
  const char *end;
  size_t hl, want = (size_t)-1;
  char *cl;

  cr_assert_not_null(r);
  while ((end = find_str(c->buf, c->len, "\r\n\r\n")) == NULL)
    cr_assert(cl_more(c) > 0, "connection closed before a response head");
  hl = (size_t)(end - c->buf) + 4;
  r->head = strndup(c->buf, hl);
  cl_consume(c, hl);
  cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1,
               "bad status line: %s", r->head);
  cl = hdr(r, "Content-Length");
  r->length = cl ? atoll(cl) : -1;
  free(cl);
  if (head_only || r->status < 200 || r->status == 204 || r->status == 304)
    want = 0;
  else if (r->length >= 0)
    want = (size_t)r->length;
  while (c->len < want && !r->eof)
    r->eof = cl_more(c) == 0;
  r->len = c->len < want ? c->len : want;
  r->body = malloc(r->len + 1);
  memcpy(r->body, c->buf, r->len);
  r->body[r->len] = '\0';
  cl_consume(c, r->len);
  return r;
}

/* One request on a new connection (method, target, extra header lines). */
static struct resp *request(const char *method, const char *target,
                            const char *extra, const char *body)
{
  struct client *c = cl_open();
  char *req;
  struct resp *r;

  req = fmt("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            method, target, srv.port, extra ? extra : "",
            body ? strlen(body) : 0, body ? body : "");
  cl_send(c, req);
  free(req);
  r = cl_read(c, strcmp(method, "HEAD") == 0);
  cl_close(c);
  return r;
}

static struct resp *get(const char *target)
{
  return request("GET", target, NULL, NULL);
}

static void expect_pattern(const char *p, size_t n, size_t from)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] != TEST_SERVER_BYTE(from + i))
      cr_assert_fail("byte %zu is 0x%02x, not 0x%02x", from + i,
                     (unsigned char)p[i],
                     (unsigned char)TEST_SERVER_BYTE(from + i));
}

/* Peak resident set of pid in KiB (Linux /proc), -1 if unknown. */
static long vm_hwm_kib(pid_t pid)
{
  char path[64], line[256];
  long kib = -1;
  FILE *f;

  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

Test(server, bytes_exact)
{
  struct resp *r = get("/bytes?n=100");

  cr_assert_eq(r->status, 200);
  cr_assert_eq(r->length, 100);
  cr_assert_eq(r->len, 100);
  cr_assert(hdr_is(r, "Content-Type", "application/octet-stream"));
  cr_assert(hdr_is(r, "Connection", "close"));
  expect_pattern(r->body, r->len, 0);
  cr_assert_eq(r->body[63], '\n');
  resp_free(r);

  r = get("/bytes?n=0");
  cr_assert_eq(r->status, 200);
  cr_assert_eq(r->length, 0);
  resp_free(r);

  r = get("/bytes?n=5&type=text/plain%3B+charset%3Dutf-8");
  cr_assert(hdr_is(r, "Content-Type", "text/plain; charset=utf-8"));
  cr_assert_str_eq(r->body, "01234");
  resp_free(r);
}

Test(server, bytes_bad_params)
{
  const char *bad[] = {"/bytes",
                       "/bytes?n=",
                       "/bytes?n=-1",
                       "/bytes?n=1x",
                       "/bytes?n=99999999999999999999999",
                       "/bytes?n=1&type=a%0d%0aX-Injected:+1"};

  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    struct resp *r = get(bad[i]);

    cr_assert_eq(r->status, 400, "%s gave %d", bad[i], r->status);
    cr_assert_null(strstr(r->head, "X-Injected"));
    resp_free(r);
  }
}

Test(server, bytes_large_are_streamed)
{
  const size_t n = 32u << 20;
  long before = vm_hwm_kib(srv.pid), after;
  struct resp *r = get("/bytes?n=33554432");

  cr_assert_eq(r->status, 200);
  cr_assert_eq(r->len, n);
  expect_pattern(r->body, r->len, 0);
  resp_free(r);
  after = vm_hwm_kib(srv.pid);
  /* Buffering the body would add 32 MiB; streaming adds almost nothing. */
  if (before > 0 && after > 0)
    cr_assert_lt(after - before, 8 * 1024, "peak RSS grew by %ld KiB",
                 after - before);
}

/* gzip -dc of data; the output is malloc'd into *out. */
static size_t gunzip(const char *data, size_t n, char **out)
{
  char path[] = "/tmp/corun-test-gz-XXXXXX", cmd[128], *buf = NULL;
  size_t len = 0, cap = 0, got;
  int fd = mkstemp(path);
  FILE *p;

  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, data, n), (ssize_t)n);
  close(fd);
  snprintf(cmd, sizeof cmd, "gzip -dc < %s", path);
  p = popen(cmd, "r");
  cr_assert_not_null(p);
  do {
    if (cap - len < 65536) {
      cap = cap * 2 + 65536;
      buf = realloc(buf, cap);
      cr_assert_not_null(buf);
    }
    got = fread(buf + len, 1, cap - len, p);
    len += got;
  } while (got > 0);
  cr_assert_eq(pclose(p), 0, "gzip -dc rejected the body");
  unlink(path);
  *out = buf;
  return len;
}

Test(server, bytes_gzip_decodes)
{
  /* Empty, one block, and several blocks with a short last one. */
  const size_t sizes[] = {0, 1000, 65535, 200000};

  if (system("command -v gzip >/dev/null 2>&1") != 0)
    cr_skip_test("gzip is not installed");
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    char target[64], *plain;
    struct resp *r;
    size_t n;

    snprintf(target, sizeof target, "/bytes?n=%zu&gzip=1", sizes[i]);
    r = get(target);
    cr_assert_eq(r->status, 200);
    cr_assert(hdr_is(r, "Content-Encoding", "gzip"));
    cr_assert_eq((long long)r->len, r->length);
    n = gunzip(r->body, r->len, &plain);
    cr_assert_eq(n, sizes[i], "%zu bytes decoded, %zu sent", n, sizes[i]);
    expect_pattern(plain, n, 0);
    free(plain);
    resp_free(r);
  }
}

Test(server, status_codes)
{
  struct resp *r = get("/status?code=404&body=no+such+thing");

  cr_assert_eq(r->status, 404);
  cr_assert_str_eq(r->body, "no such thing");
  resp_free(r);

  r = get("/status?code=503");
  cr_assert_eq(r->status, 503);
  cr_assert_eq(r->length, 0);
  cr_assert(strstr(r->head, "Service Unavailable"));
  resp_free(r);

  r = get("/status?code=418&body=teapot");
  cr_assert_eq(r->status, 418);
  cr_assert_str_eq(r->body, "teapot");
  resp_free(r);

  r = get("/status?code=299");
  cr_assert_eq(r->status, 299);
  resp_free(r);

  for (int i = 0; i < 3; i++) {
    const char *bad[] = {"/status", "/status?code=600", "/status?code=100"};

    r = get(bad[i]);
    cr_assert_eq(r->status, 400, "%s gave %d", bad[i], r->status);
    resp_free(r);
  }
}

Test(server, status_204_has_no_body)
{
  struct client *c = cl_open();
  struct resp *r;

  /* No Content-Length, no body: the next response follows at once. */
  cl_send(c, "GET /status?code=204&body=ignored HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /text HTTP/1.1\r\nHost: x\r\n\r\n");
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 204);
  cr_assert_eq(r->length, -1);
  resp_free(r);
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(r->body, "Hello from corun-test-httpd.\n");
  resp_free(r);
  cl_close(c);
}

Test(server, delay_delays)
{
  double t0 = now_s(), dt;
  struct resp *r = get("/delay?ms=300");

  dt = now_s() - t0;
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(r->body, "ok");
  cr_assert_geq(dt, 0.29, "answered after %.3f s", dt);
  cr_assert_lt(dt, 2.0 * scale(), "answered after %.3f s", dt);
  resp_free(r);

  r = get("/delay?ms=0&n=1000");
  cr_assert_eq(r->status, 200);
  cr_assert_eq(r->len, 1000);
  expect_pattern(r->body, r->len, 0);
  resp_free(r);

  r = get("/delay?ms=600001");
  cr_assert_eq(r->status, 400);
  resp_free(r);
}

Test(server, delay_does_not_block_others)
{
  struct client *slow = cl_open();
  double t0;
  struct resp *r;

  cl_send(slow, "GET /delay?ms=2000 HTTP/1.1\r\nHost: x\r\n\r\n");
  usleep(50000);
  t0 = now_s();
  r = get("/text");
  cr_assert_eq(r->status, 200);
  cr_assert_lt(now_s() - t0, 1.0 * scale(), "blocked behind the delay");
  resp_free(r);
  cl_close(slow);
}

Test(server, concurrent_delays_all_answered)
{
  enum { N = 300 };
  static const char req[] =
      "GET /delay?ms=200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  static struct client *cs[N];
  struct pollfd pf[N];
  int open = N, ok = 0;
  double t0 = now_s(), dt;

  for (int i = 0; i < N; i++) {
    cs[i] = cl_open();
    cl_send(cs[i], req);
  }
  /* Read everything until every server closes: all in one poll loop. */
  while (open > 0) {
    int n = 0;

    for (int i = 0; i < N; i++)
      if (cs[i]->fd >= 0)
        pf[n++] = (struct pollfd){.fd = cs[i]->fd, .events = POLLIN};
    cr_assert_gt(poll(pf, (nfds_t)n, 10000), 0, "responses stopped coming");
    for (int k = 0; k < n; k++) {
      if (pf[k].revents == 0)
        continue;
      for (int i = 0; i < N; i++) {
        if (cs[i]->fd != pf[k].fd)
          continue;
        if (cl_more(cs[i]) == 0) {
          close(cs[i]->fd);
          cs[i]->fd = -1;
          open--;
        }
        break;
      }
    }
  }
  dt = now_s() - t0;
  for (int i = 0; i < N; i++) {
    ok += cs[i]->len > 2 && strncmp(cs[i]->buf, "HTTP/1.1 200 ", 13) == 0 &&
          strcmp(cs[i]->buf + cs[i]->len - 2, "ok") == 0;
    free(cs[i]->buf);
    free(cs[i]);
  }
  cr_assert_eq(ok, N, "%d of %d answered ok", ok, N);
  /* One after another would take 60 s. */
  cr_assert_geq(dt, 0.19);
  cr_assert_lt(dt, 3.0 * scale(), "%d delays of 0.2 s took %.2f s", N, dt);
}

Test(server, redirect_chain)
{
  char target[64] = "/redirect?n=3", *want;
  int hops = 0;

  for (;;) {
    struct resp *r = get(target);
    char *loc;

    if (r->status == 200) {
      cr_assert_str_eq(r->body, "done");
      resp_free(r);
      break;
    }
    cr_assert_eq(r->status, 302);
    loc = hdr(r, "Location");
    cr_assert_not_null(loc);
    want = fmt("http://127.0.0.1:%d/redirect?n=%d", srv.port, 2 - hops);
    cr_assert_str_eq(loc, want);
    free(want);
    snprintf(target, sizeof target, "%s", strstr(loc, "/redirect"));
    free(loc);
    resp_free(r);
    hops++;
    cr_assert_leq(hops, 3);
  }
  cr_assert_eq(hops, 3);
}

Test(server, redirect_keeps_code)
{
  struct resp *r = get("/redirect?n=2&code=301");
  char *want;

  cr_assert_eq(r->status, 301);
  want = fmt("http://127.0.0.1:%d/redirect?n=1&code=301", srv.port);
  cr_assert(hdr_is(r, "Location", want));
  free(want);
  resp_free(r);

  r = get("/redirect?n=1&code=200");
  cr_assert_eq(r->status, 400);
  resp_free(r);
}

Test(server, redirect_to_any_url)
{
  struct resp *r = get("/redirect-to?url=file:///etc/passwd");

  cr_assert_eq(r->status, 302);
  cr_assert(hdr_is(r, "Location", "file:///etc/passwd"));
  resp_free(r);

  r = get("/redirect-to?url=http%3A%2F%2Fexample.com%2Fa%3Fb%3Dc%26d&code=307");
  cr_assert_eq(r->status, 307);
  cr_assert(hdr_is(r, "Location", "http://example.com/a?b=c&d"));
  resp_free(r);

  /* A query value must not be able to add header lines. */
  r = get("/redirect-to?url=/x%0d%0aSet-Cookie:+a=b");
  cr_assert_eq(r->status, 400);
  cr_assert_null(strstr(r->head, "Set-Cookie"));
  resp_free(r);
}

Test(server, redirect_to_other_server_echo)
{
  struct test_server other;
  char *echo, *target, *enc;
  struct client *c;
  struct resp *r;
  cJSON *j, *h;

  cr_assert_eq(test_server_start(&other), 0);
  cr_assert_neq(other.port, srv.port);
  echo = test_server_url(&other, "/echo");
  enc = fmt("http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fecho", other.port);
  target = fmt("/headers-on-redirect?to=%s", enc);
  r = request("GET", target, "Authorization: Bearer secret\r\n", NULL);
  cr_assert_eq(r->status, 302);
  cr_assert(hdr_is(r, "Location", echo));
  resp_free(r);

  /* What a client that forwards the header would show the other host. */
  c = cl_open_port(other.port);
  cl_send(c, "GET /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret"
             "\r\n\r\n");
  r = cl_read(c, 0);
  j = cJSON_Parse(r->body);
  cr_assert_not_null(j);
  h = cJSON_GetObjectItemCaseSensitive(j, "headers");
  cr_assert_str_eq(
      cJSON_GetObjectItemCaseSensitive(h, "authorization")->valuestring,
      "Bearer secret");
  cJSON_Delete(j);
  resp_free(r);
  cl_close(c);
  free(echo);
  free(enc);
  free(target);
  test_server_stop(&other);
}

Test(server, drop_closes_mid_body)
{
  struct resp *r = get("/drop?n=1000");

  cr_assert_eq(r->status, 200);
  cr_assert_eq(r->length, 2000);
  cr_assert_eq(r->len, 1000);
  cr_assert(r->eof);
  expect_pattern(r->body, r->len, 0);
  resp_free(r);

  /* Even when the client asked to keep the connection. */
  struct client *c = cl_open();
  cl_send(c, "GET /drop?n=70000 HTTP/1.1\r\nHost: x\r\n\r\n");
  r = cl_read(c, 0);
  cr_assert_eq(r->len, 70000);
  cr_assert(r->eof);
  resp_free(r);
  cl_close(c);
}

static int status_of(const char *target)
{
  struct resp *r = get(target);
  int s = r->status;

  resp_free(r);
  return s;
}

static char *body_of(const char *target)
{
  struct resp *r = get(target);
  char *b = strdup(r->body);

  resp_free(r);
  return b;
}

Test(server, flaky_fails_then_succeeds)
{
  char *n;

  n = body_of("/count?id=f1");
  cr_assert_str_eq(n, "0");
  free(n);
  cr_assert_eq(status_of("/flaky?id=f1&fail=2"), 503);
  cr_assert_eq(status_of("/flaky?id=f1&fail=2"), 503);
  cr_assert_eq(status_of("/flaky?id=f1&fail=2"), 200);
  cr_assert_eq(status_of("/flaky?id=f1&fail=2"), 200);
  n = body_of("/count?id=f1");
  cr_assert_str_eq(n, "4");
  free(n);

  /* Ids count apart; the code is chosen; fail=0 never fails. */
  cr_assert_eq(status_of("/flaky?id=f2&fail=1&code=500"), 500);
  cr_assert_eq(status_of("/flaky?id=f2&fail=1&code=500"), 200);
  cr_assert_eq(status_of("/flaky?id=f3&fail=0"), 200);
  n = body_of("/count?id=f2");
  cr_assert_str_eq(n, "2");
  free(n);
  n = body_of("/count?id=f1");
  cr_assert_str_eq(n, "4");
  free(n);

  /* Any method counts (POST retries are tested through this). */
  {
    struct resp *r = request("POST", "/flaky?id=f4&fail=1", NULL, "x");
    cr_assert_eq(r->status, 503);
    resp_free(r);
  }
  n = body_of("/count?id=f4");
  cr_assert_str_eq(n, "1");
  free(n);

  cr_assert_eq(status_of("/flaky?fail=1"), 400);
  cr_assert_eq(status_of("/flaky?id=x&fail=1&code=99"), 400);
}

Test(server, retry_after_header)
{
  struct resp *r = get("/retry-after?id=r1&fail=2&after=3");
  char *n;

  cr_assert_eq(r->status, 429);
  cr_assert(hdr_is(r, "Retry-After", "3"));
  resp_free(r);
  r = get("/retry-after?id=r1&fail=2&after=3&code=503");
  cr_assert_eq(r->status, 503);
  cr_assert(hdr_is(r, "Retry-After", "3"));
  resp_free(r);
  r = get("/retry-after?id=r1&fail=2&after=3");
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(r->body, "ok");
  cr_assert_null(strstr(r->head, "Retry-After"));
  resp_free(r);
  n = body_of("/count?id=r1");
  cr_assert_str_eq(n, "3");
  free(n);

  r = get("/retry-after?id=r2&fail=1");
  cr_assert(hdr_is(r, "Retry-After", "1"));
  resp_free(r);
  cr_assert_eq(status_of("/retry-after?id=r3&fail=1&after=soon"), 400);
}

static cJSON *echo_json(const struct resp *r)
{
  cJSON *j;

  cr_assert_eq(r->status, 200);
  cr_assert(hdr_is(r, "Content-Type", "application/json"));
  j = cJSON_ParseWithLength(r->body, r->len);
  cr_assert_not_null(j, "not JSON: %s", r->body);
  return j;
}

static const char *jstr(const cJSON *o, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

  cr_assert(cJSON_IsString(v), "no string \"%s\"", name);
  return v->valuestring;
}

Test(server, echo_reflects_request)
{
  struct resp *r = request("POST", "/echo?a=1&b=x%20y",
                           "X-Token: abc\r\nX-Multi: one\r\n"
                           "x-multi: two\r\n",
                           "{\"k\": [1, 2]}");
  cJSON *j = echo_json(r), *h;

  cr_assert_str_eq(jstr(j, "method"), "POST");
  cr_assert_str_eq(jstr(j, "path"), "/echo");
  cr_assert_str_eq(jstr(j, "query"), "a=1&b=x%20y");
  cr_assert_str_eq(jstr(j, "body"), "{\"k\": [1, 2]}");
  cr_assert_eq(cJSON_GetObjectItemCaseSensitive(j, "bytes")->valueint, 13);
  h = cJSON_GetObjectItemCaseSensitive(j, "headers");
  cr_assert(cJSON_IsObject(h));
  cr_assert_str_eq(jstr(h, "x-token"), "abc");
  cr_assert_str_eq(jstr(h, "x-multi"), "one, two");
  cr_assert_str_eq(jstr(h, "content-length"), "13");
  cJSON_Delete(j);
  resp_free(r);

  r = get("/echo");
  j = echo_json(r);
  cr_assert_str_eq(jstr(j, "method"), "GET");
  cr_assert_str_eq(jstr(j, "query"), "");
  cr_assert_str_eq(jstr(j, "body"), "");
  cJSON_Delete(j);
  resp_free(r);
}

Test(server, echo_escapes_json)
{
  /* Quotes, backslashes, controls, UTF-8, and bytes that are not UTF-8. */
  static const char body[] =
      "q\"b\\n\n\r\t\x01\x1b[0m\x7f \xc3\xa9 \xe2\x82\xac"
      " \xff\xc3";
  struct resp *r = request("PUT", "/echo", "X-Ctl: a\"b\\c\r\n", body);
  cJSON *j = echo_json(r);

  cr_assert_str_eq(jstr(j, "method"), "PUT");
  cr_assert_str_eq(jstr(cJSON_GetObjectItem(j, "headers"), "x-ctl"), "a\"b\\c");
  /* The invalid bytes come out as the code points of the same value. */
  cr_assert_str_eq(jstr(j, "body"), "q\"b\\n\n\r\t\x01\x1b[0m\x7f \xc3\xa9 "
                                    "\xe2\x82\xac \xc3\xbf\xc3\x83");
  cr_assert_null(strstr(r->body, "\x1b"), "raw ESC in the JSON");
  cJSON_Delete(j);
  resp_free(r);
}

Test(server, echo_large_body)
{
  size_t n = 1u << 20;
  char *big = malloc(n + 1);
  struct resp *r;
  cJSON *j;

  cr_assert_not_null(big);
  for (size_t i = 0; i < n; i++)
    big[i] = TEST_SERVER_BYTE(i) == '\n' ? '.' : TEST_SERVER_BYTE(i);
  big[n] = '\0';
  r = request("POST", "/echo", NULL, big);
  j = echo_json(r);
  cr_assert_eq(cJSON_GetObjectItemCaseSensitive(j, "bytes")->valuedouble,
               (double)n);
  cr_assert_str_eq(jstr(j, "body"), big);
  cJSON_Delete(j);
  resp_free(r);
  free(big);
}

Test(server, expect_100_continue)
{
  struct client *c = cl_open();
  struct resp *r;
  cJSON *j;

  cl_send(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
             "Expect: 100-continue\r\n\r\n");
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 100);
  resp_free(r);
  cl_send(c, "hello");
  r = cl_read(c, 0);
  j = echo_json(r);
  cr_assert_str_eq(jstr(j, "body"), "hello");
  cJSON_Delete(j);
  resp_free(r);
  cl_close(c);
}

Test(server, keep_alive_two_requests)
{
  struct client *c = cl_open();
  struct resp *r;

  cl_send(c, "GET /bytes?n=10 HTTP/1.1\r\nHost: x\r\n\r\n");
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 200);
  cr_assert_eq(r->len, 10);
  cr_assert(hdr_is(r, "Connection", "keep-alive"));
  resp_free(r);

  cl_send(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 200);
  cr_assert(strstr(r->body, "\"body\":\"abc\""));
  resp_free(r);

  cl_send(c, "GET /text HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 200);
  cr_assert(hdr_is(r, "Connection", "close"));
  resp_free(r);
  /* Honoured: the server closes after that one. */
  cr_assert_eq(cl_more(c), 0);
  cl_close(c);
}

Test(server, pipelined_requests)
{
  struct client *c = cl_open();
  struct resp *r;

  /* Three at once, in one write; answers come back in order. */
  cl_send(c, "GET /delay?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /bytes?n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /status?code=201&body=made HTTP/1.1\r\nHost: x\r\n\r\n");
  r = cl_read(c, 0);
  cr_assert_str_eq(r->body, "ok");
  resp_free(r);
  r = cl_read(c, 0);
  cr_assert_str_eq(r->body, "012");
  resp_free(r);
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 201);
  cr_assert_str_eq(r->body, "made");
  resp_free(r);
  cl_close(c);
}

Test(server, http10_closes_by_default)
{
  struct client *c = cl_open();
  struct resp *r;

  cl_send(c, "GET /text HTTP/1.0\r\n\r\n");
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 200);
  cr_assert(hdr_is(r, "Connection", "close"));
  cr_assert_eq(cl_more(c), 0);
  resp_free(r);
  cl_close(c);
}

Test(server, half_closed_client_still_answered)
{
  struct client *c = cl_open();
  struct resp *r;

  cl_send(c, "GET /delay?ms=50 HTTP/1.1\r\nHost: x\r\n\r\n");
  shutdown(c->fd, SHUT_WR);
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(r->body, "ok");
  cr_assert_eq(cl_more(c), 0);
  resp_free(r);
  cl_close(c);
}

Test(server, head_has_headers_only)
{
  struct client *c = cl_open();
  struct resp *r;

  cl_send(c, "HEAD /bytes?n=100000 HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /bytes?n=4 HTTP/1.1\r\nHost: x\r\n\r\n");
  r = cl_read(c, 1);
  cr_assert_eq(r->status, 200);
  cr_assert_eq(r->length, 100000);
  resp_free(r);
  /* Had a body followed the HEAD answer, this would read it as a head. */
  r = cl_read(c, 0);
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(r->body, "0123");
  resp_free(r);
  cl_close(c);
}

Test(server, text_binary_ctl)
{
  struct resp *r = get("/text");

  cr_assert_eq(r->status, 200);
  cr_assert(hdr_is(r, "Content-Type", "text/plain; charset=utf-8"));
  cr_assert_str_eq(r->body, "Hello from corun-test-httpd.\n");
  resp_free(r);

  r = get("/binary");
  cr_assert(hdr_is(r, "Content-Type", "application/octet-stream"));
  cr_assert_eq(r->len, 256);
  for (int i = 0; i < 256; i++)
    cr_assert_eq((unsigned char)r->body[i], i);
  resp_free(r);

  r = get("/ctl");
  cr_assert(hdr_is(r, "Content-Type", "text/plain"));
  cr_assert_eq(strlen(r->body), r->len);
  cr_assert(strstr(r->body, "\x1b[31m"), "no CSI sequence");
  cr_assert(strstr(r->body, "\x1b]0;"), "no OSC sequence");
  cr_assert(strchr(r->body, '\a') && strchr(r->body, '\b') &&
            strchr(r->body, '\r') && strchr(r->body, 0x7f));
  resp_free(r);
}

Test(server, slow_body_paces_bytes)
{
  struct client *c = cl_open();
  double t0 = now_s(), head_at, dt;
  size_t hl;

  cl_send(c, "GET /slow-body?n=4&ms=250 HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n");
  while (find_str(c->buf, c->len, "\r\n\r\n") == NULL)
    cr_assert(cl_more(c) > 0);
  /* The headers come at once, well before the first byte is due. */
  head_at = now_s() - t0;
  cr_assert_lt(head_at, 0.2 * scale(), "headers took %.3f s", head_at);
  cr_assert(strstr(c->buf, "Content-Length: 4\r\n"));
  hl = (size_t)(find_str(c->buf, c->len, "\r\n\r\n") + 4 - c->buf);
  cr_assert_eq(c->len, hl, "body bytes came with the headers");
  while (cl_more(c) > 0)
    ;
  dt = now_s() - t0;
  cr_assert_eq(c->len - hl, 4);
  cr_assert_str_eq(c->buf + hl, "0123");
  cr_assert_geq(dt, 0.98, "4 bytes 250 ms apart took %.3f s", dt);
  cr_assert_lt(dt, 3.0 * scale());
  cl_close(c);
}

/* POSTs body to /login; the token it gives (malloc'd), NULL on a refusal. */
static char *login(const char *body, int want_status)
{
  struct resp *r = request("POST", "/login", NULL, body);
  cJSON *j;
  char *tok = NULL;

  cr_assert_eq(r->status, want_status, "%s gave %d: %s", body, r->status,
               r->body);
  cr_assert(hdr_is(r, "Content-Type", "application/json"));
  j = cJSON_ParseWithLength(r->body, r->len);
  cr_assert_not_null(j, "not JSON: %s", r->body);
  if (want_status == 200)
    tok = strdup(jstr(j, "token"));
  else
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(j, "error")), "%s", r->body);
  cJSON_Delete(j);
  resp_free(r);
  return tok;
}

/* GET target with "Authorization: Bearer tok" (none when tok is NULL). */
static struct resp *get_as(const char *target, const char *tok)
{
  char *auth = tok ? fmt("Authorization: Bearer %s\r\n", tok) : NULL;
  struct resp *r = request("GET", target, auth, NULL);

  free(auth);
  return r;
}

Test(server, login_issues_a_fresh_token_per_login)
{
  struct resp *r;
  char *t1, *t2;
  cJSON *j;
  unsigned long n;
  char hex[32];

  t1 = login("{\"user\": \"ann\", \"password\": \"hunter2\"}", 200);
  t2 = login("{\"password\":\"hunter2\",\"user\":\"bob\"}", 200);
  cr_assert_str_neq(t1, t2);
  cr_assert_eq(sscanf(t1, "t-%lu-%31[0-9a-f]", &n, hex), 2, "%s", t1);
  cr_assert_eq(strlen(hex), 16, "%s", t1);
  free(t1);
  free(t2);

  /* The user comes back as sent, escapes and all. */
  r = request("POST", "/login", NULL,
              " {\"user\": \"a\\\"b\\\\c\\n\", \"password\": \"hunter2\"}");
  j = echo_json(r);
  cr_assert_str_eq(jstr(j, "user"), "a\"b\\c\n");
  cJSON_Delete(j);
  resp_free(r);

  /* Wrong password: 401; not the two strings: 400. */
  cr_assert_null(login("{\"user\": \"ann\", \"password\": \"hunter3\"}", 401));
  cr_assert_null(login("{\"user\": \"ann\", \"password\": \"\"}", 401));
  cr_assert_null(login("{\"user\": \"ann\"}", 400));
  cr_assert_null(login("{\"user\": 1, \"password\": \"hunter2\"}", 400));
  cr_assert_null(login("{\"user\": \"a\", \"password\": \"hunter2", 400));
  cr_assert_null(
      login("{\"user\": \"\\u0041\", \"password\": \"hunter2\"}", 400));
  cr_assert_null(login("[\"user\", \"password\"]", 400));
  cr_assert_null(login("", 400));
}

Test(server, api_items_need_a_token_from_login)
{
  static const char *names[] = {"apple", "pear", "plum"};
  char *tok = login("{\"user\": \"ann\", \"password\": \"hunter2\"}", 200);
  struct resp *r;
  cJSON *j, *items;

  r = get_as("/api/items", tok);
  j = echo_json(r);
  items = cJSON_GetObjectItem(j, "items");
  cr_assert_eq(cJSON_GetArraySize(items), 3, "%s", r->body);
  for (int i = 0; i < 3; i++) {
    cJSON *it = cJSON_GetArrayItem(items, i);

    cr_assert_eq(cJSON_GetObjectItem(it, "id")->valuedouble, i + 1);
    cr_assert_str_eq(jstr(it, "name"), names[i]);
  }
  cJSON_Delete(j);
  resp_free(r);

  for (int i = 1; i <= 3; i++) {
    char *target = fmt("/api/items/%d", i);

    r = get_as(target, tok);
    j = echo_json(r);
    cr_assert_eq(cJSON_GetObjectItem(j, "id")->valuedouble, i);
    cr_assert_str_eq(jstr(j, "name"), names[i - 1]);
    cJSON_Delete(j);
    resp_free(r);
    free(target);
  }
  {
    const char *none[] = {"/api/items/0",  "/api/items/4", "/api/items/01",
                          "/api/items/1x", "/api/items/",  "/api/items/-1"};

    for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
      r = get_as(none[i], tok);
      cr_assert_eq(r->status, 404, "%s gave %d", none[i], r->status);
      cr_assert_str_eq(r->body, "{\"error\": \"no such item\"}");
      resp_free(r);
    }
  }

  /* No token, a wrong one, another scheme: 401 before any 404. */
  {
    const char *bad[] = {NULL, "t-1-0000000000000000", "", "x"};

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
      r = get_as(i % 2 ? "/api/items" : "/api/items/9", bad[i]);
      cr_assert_eq(r->status, 401, "token %zu gave %d", i, r->status);
      cr_assert(hdr_is(r, "WWW-Authenticate", "Bearer"));
      cr_assert(hdr_is(r, "Content-Type", "application/json"));
      cr_assert_str_eq(r->body, "{\"error\": \"unauthorized\"}");
      resp_free(r);
    }
  }
  {
    char *basic = fmt("Authorization: Basic %s\r\n", tok);

    r = request("GET", "/api/items", basic, NULL);
    cr_assert_eq(r->status, 401);
    resp_free(r);
    free(basic);
  }
  free(tok);
}

/* The server remembers the last 64 tokens: an older one stops working. */
Test(server, old_tokens_expire)
{
  char *first = login("{\"user\": \"u\", \"password\": \"hunter2\"}", 200);
  char *last = NULL;
  struct resp *r;

  for (int i = 0; i < 63; i++) {
    free(last);
    last = login("{\"user\": \"u\", \"password\": \"hunter2\"}", 200);
  }
  r = get_as("/api/items/1", first);
  cr_assert_eq(r->status, 200, "the 64th newest token was refused");
  resp_free(r);
  free(last);
  last = login("{\"user\": \"u\", \"password\": \"hunter2\"}", 200);
  r = get_as("/api/items/1", first);
  cr_assert_eq(r->status, 401, "a token 65 logins old still works");
  resp_free(r);
  r = get_as("/api/items/1", last);
  cr_assert_eq(r->status, 200);
  resp_free(r);
  free(first);
  free(last);
}

Test(server, unknown_path_404)
{
  struct resp *r = get("/no/such/route?x=1");

  cr_assert_eq(r->status, 404);
  resp_free(r);
  cr_assert_eq(status_of("/bytesx?n=1"), 404);
}

Test(server, malformed_requests_400)
{
  const char *bad[] = {
      "GARBAGE\r\n\r\n",
      "GET /text HTTP/2.0\r\n\r\n",
      "GET text HTTP/1.1\r\n\r\n",
      "GET /text HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET /text HTTP/1.1\r\nContent-Length: x\r\n\r\n",
      "GET /text HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
  };

  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    struct client *c = cl_open();
    struct resp *r;

    cl_send(c, bad[i]);
    r = cl_read(c, 0);
    cr_assert_eq(r->status, 400, "request %zu gave %d", i, r->status);
    cr_assert(hdr_is(r, "Connection", "close"));
    cr_assert_eq(cl_more(c), 0, "still open after a bad request");
    resp_free(r);
    cl_close(c);
  }

  /* NUL bytes, chunked bodies and huge heads get their own answers. */
  {
    struct client *c = cl_open();
    struct resp *r;

    cl_sendn(c, "GET /te\0xt HTTP/1.1\r\n\r\n", 24);
    r = cl_read(c, 0);
    cr_assert_eq(r->status, 400);
    resp_free(r);
    cl_close(c);
  }
  {
    struct resp *r =
        request("POST", "/echo", "Transfer-Encoding: chunked\r\n", NULL);
    cr_assert_eq(r->status, 501);
    resp_free(r);
  }
  {
    struct client *c = cl_open();
    char *big = malloc(70000);
    struct resp *r;

    memset(big, 'a', 70000);
    memcpy(big, "GET /text HTTP/1.1\r\nX: ", 23);
    cl_sendn(c, big, 70000);
    r = cl_read(c, 0);
    cr_assert_eq(r->status, 431);
    resp_free(r);
    cl_close(c);
    free(big);
  }
}

Test(server, binds_loopback_only)
{
  int fd;

  /* All of 127/8 is local on Linux: a wildcard bind would accept here. */
  fd = dial_addr("127.0.0.2", srv.port);
  cr_assert_lt(fd, 0, "the server accepted on 127.0.0.2");
  cr_assert_eq(errno, ECONNREFUSED, "%s", strerror(errno));
}

Test(server, exits_when_stdin_closes)
{
  struct test_server t;
  int status = -1;
  pid_t got = 0;

  cr_assert_eq(test_server_start(&t), 0);
  close(t.in_fd);
  for (int i = 0; i < 300 && got == 0; i++) {
    got = waitpid(t.pid, &status, WNOHANG);
    if (got == 0)
      usleep(10000);
  }
  cr_assert_eq(got, t.pid, "still running 3 s after stdin closed");
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(server, stop_and_url)
{
  struct test_server t;
  char *u, want[64];
  pid_t pid;

  cr_assert_eq(test_server_start(&t), 0);
  u = test_server_url(&t, "/echo?a=1");
  snprintf(want, sizeof want, "http://127.0.0.1:%d/echo?a=1", t.port);
  cr_assert_str_eq(u, want);
  free(u);
  u = test_server_url(&t, "text");
  snprintf(want, sizeof want, "http://127.0.0.1:%d/text", t.port);
  cr_assert_str_eq(u, want);
  free(u);

  pid = t.pid;
  test_server_stop(&t);
  cr_assert_eq(t.pid, -1);
  /* Reaped, not just signalled (its port may already be someone else's). */
  cr_assert_eq(kill(pid, 0), -1);
  cr_assert_eq(errno, ESRCH);
  test_server_stop(&t); /* a second stop does nothing */

  memset(&t, 0, sizeof t);
  test_server_stop(&t); /* nor does stopping a zeroed struct */
  cr_assert_neq(fcntl(0, F_GETFD), -1, "stop closed fd 0");
}
