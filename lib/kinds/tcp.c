/* SPDX-License-Identifier: MIT */
/*
 * tcp: a readiness probe. Resolve "host" once, then connect to "port" on
 * every address it has until one accepts; the connection is closed at
 * once. A round that no address accepts is tried again "interval" later,
 * for as long as the task runs ("timeout" bounds it). A name that does
 * not resolve fails the task at once (type dns): no later round could
 * reach it either.
 *
 * The socket and the resolver request live in the task. The task ends
 * only from a close callback or a request callback, once libuv is done
 * with them, so a cancel at any point leaves no descriptor behind.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "util/dnsname.h"
#include "util/duration.h"
#include "core/fields.h"
#include "core/kind.h"
#include "core/run.h"
#include "core/task.h"

#define DEFAULT_INTERVAL_MS 500

/* What the socket's close callback goes on to. */
enum tcp_then { THEN_NEXT, THEN_OK, THEN_CANCELLED };

struct tcp_task {
  struct corun_task base;
  char *host;
  uint16_t port;
  uint64_t interval_ms;
  /* One run of the task; all zero until it starts. */
  uv_getaddrinfo_t resolve;
  int resolving;
  struct addrinfo *addrs; /* what host resolved to */
  struct addrinfo *cur;   /* the address being tried */
  uv_tcp_t sock;
  uv_connect_t conn;
  int sock_open; /* sock is initialised and its close callback pending */
  enum tcp_then then;
  struct corun_timer retry;
  int cancelled;
  unsigned attempts;
  uint64_t connect_began; /* uv_hrtime() */
  double connect_secs;
  int last_err; /* libuv error of the last refused connect, or 0 */
  char address[INET6_ADDRSTRLEN];
};

static const char *const fields[] = {"host", "port", "interval", NULL};
static const char *const result_fields[] = {"address", "attempts", "connect",
                                            NULL};

static int parse(struct corun_task *t, struct corun_fields *f)
{
  struct tcp_task *p = (struct tcp_task *)t;
  long long port = 0;
  double interval = DEFAULT_INTERVAL_MS / 1000.0;

  if (corun_field_string(f, "host", &p->host) == 0)
    corun_field_missing(f, "host");
  else if (p->host && *p->host == '\0')
    corun_field_fail(f, "host", corun_field(f, "host"), "must not be empty");
  if (corun_field_int(f, "port", 1, 65535, &port) == 0)
    corun_field_missing(f, "port");
  p->port = (uint16_t)port;
  if (corun_field_duration(f, "interval", &interval) > 0 &&
      corun_duration_ms(interval) == 0)
    corun_field_fail(f, "interval", corun_field(f, "interval"),
                     "is under 1 ms, which would try again without a pause "
                     "(leave it out for 0.5 s)");
  p->interval_ms = corun_duration_ms(interval);
  return f->failed ? -1 : 0;
}

static void try_next(struct tcp_task *p);
static void begin_round(struct tcp_task *p);

static void end_cancelled(struct tcp_task *p)
{
  corun__task_finish(&p->base, CORUN_STATUS_CANCELLED, CORUN_ERR_CANCELLED,
                     NULL);
}

static void accepted(struct tcp_task *p)
{
  cJSON *r = cJSON_CreateObject();

  if (r == NULL || !cJSON_AddStringToObject(r, "address", p->address) ||
      !cJSON_AddNumberToObject(r, "attempts", p->attempts) ||
      !cJSON_AddNumberToObject(r, "connect", p->connect_secs)) {
    cJSON_Delete(r);
    corun__task_finish(&p->base, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "out of memory keeping the result");
    return;
  }
  corun__task_set_result(&p->base, r);
  corun__task_finish(&p->base, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
}

static void sock_closed(uv_handle_t *h)
{
  struct tcp_task *p = h->data;

  p->sock_open = 0;
  switch (p->then) {
  case THEN_OK:
    accepted(p);
    break;
  case THEN_CANCELLED:
    end_cancelled(p);
    break;
  case THEN_NEXT:
    p->cur = p->cur->ai_next;
    try_next(p);
    break;
  }
}

static void close_sock(struct tcp_task *p, enum tcp_then then)
{
  p->then = then;
  if (!uv_is_closing((uv_handle_t *)&p->sock))
    uv_close((uv_handle_t *)&p->sock, sock_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
  struct tcp_task *p = req->data;

  if (p->cancelled)
    return; /* the socket is closing already; its callback ends the task */
  if (status == 0) {
    p->connect_secs = (double)(uv_hrtime() - p->connect_began) / 1e9;
    close_sock(p, THEN_OK);
    return;
  }
  p->last_err = status;
  if (p->base.run->opts.debug)
    corun__run_logf(p->base.run, "%s: %s port %u: %s", p->base.id,
                    p->address, (unsigned)p->port, uv_strerror(status));
  close_sock(p, THEN_NEXT);
}

static void retry(struct corun_timer *timer)
{
  begin_round((struct tcp_task *)timer->data);
}

/* Connect to p->cur, or, past the last address, wait for the next round. */
static void try_next(struct tcp_task *p)
{
  struct corun_task *t = &p->base;
  int e;

  if (p->cur == NULL) {
    if (corun__timer_start(&t->run->timers, &p->retry,
                           corun__now_ms(t->run) + p->interval_ms, retry,
                           t) < 0)
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "out of memory arming the timer");
    return;
  }
  if (uv_ip_name(p->cur->ai_addr, p->address, sizeof(p->address)) != 0)
    snprintf(p->address, sizeof(p->address), "?");
  e = uv_tcp_init(t->run->loop, &p->sock);
  if (e != 0) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "cannot make a socket: %s", uv_strerror(e));
    return;
  }
  p->sock.data = p;
  p->sock_open = 1;
  p->conn.data = p;
  p->connect_began = uv_hrtime();
  e = uv_tcp_connect(&p->conn, &p->sock, p->cur->ai_addr, on_connect);
  if (e != 0) {
    /* This address cannot even be tried (no IPv6 here, no descriptor). */
    p->last_err = e;
    close_sock(p, THEN_NEXT);
  }
}

static void begin_round(struct tcp_task *p)
{
  p->attempts++;
  p->cur = p->addrs;
  try_next(p);
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
  struct tcp_task *p = req->data;

  p->resolving = 0;
  p->addrs = res;
  if (p->cancelled) {
    end_cancelled(p);
    return;
  }
  if (status < 0) {
    corun__task_finish(&p->base, CORUN_STATUS_FAILED, CORUN_ERR_DNS,
                       "cannot resolve \"%s\": %s", p->host,
                       uv_strerror(status));
    return;
  }
  begin_round(p);
}

static void start(struct corun_task *t)
{
  struct tcp_task *p = (struct tcp_task *)t;
  struct addrinfo hints;
  char port[8];
  int e;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  snprintf(port, sizeof(port), "%u", (unsigned)p->port);
  if (corun__name_never_resolves(p->host, strlen(p->host))) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_DNS,
                       "cannot resolve \"%s\": names under .invalid never "
                       "resolve (RFC 6761)",
                       p->host);
    return;
  }
  p->resolve.data = p;
  e = uv_getaddrinfo(t->run->loop, &p->resolve, resolved, p->host, port,
                     &hints);
  if (e != 0) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_DNS,
                       "cannot resolve \"%s\": %s", p->host, uv_strerror(e));
    return;
  }
  p->resolving = 1;
}

static void cancel(struct corun_task *t)
{
  struct tcp_task *p = (struct tcp_task *)t;

  if (p->cancelled)
    return;
  p->cancelled = 1;
  if (p->resolving) {
    /* The callback comes either way (UV_EAI_CANCELED if in time). */
    uv_cancel((uv_req_t *)&p->resolve);
    return;
  }
  if (p->sock_open) {
    close_sock(p, THEN_CANCELLED);
    return;
  }
  corun__timer_stop(&t->run->timers, &p->retry);
  end_cancelled(p);
}

static void describe(const struct corun_task *t, uint64_t now_ms,
                     struct corun_buf *out)
{
  const struct tcp_task *p = (const struct tcp_task *)t;

  if (p->resolving)
    corun_buf_printf(out, "resolving %s", p->host);
  else if (p->sock_open)
    corun_buf_printf(out, "connecting to %s port %u, attempt %u", p->address,
                     (unsigned)p->port, p->attempts);
  else if (corun__timer_armed(&p->retry))
    corun_buf_printf(out, "attempt %u in %.3fs%s%s", p->attempts + 1,
                     p->retry.due > now_ms
                         ? (double)(p->retry.due - now_ms) / 1000.0
                         : 0.0,
                     p->last_err ? ", last: " : "",
                     p->last_err ? uv_strerror(p->last_err) : "");
}

static void summary(const struct corun_task *t, struct corun_buf *out)
{
  const struct tcp_task *p = (const struct tcp_task *)t;

  corun_buf_printf(out, "%s port %u, %u attempt%s", p->address,
                   (unsigned)p->port, p->attempts,
                   p->attempts == 1 ? "" : "s");
}

static void release(struct corun_task *t)
{
  struct tcp_task *p = (struct tcp_task *)t;

  uv_freeaddrinfo(p->addrs);
  p->addrs = NULL;
  free(p->host);
}

static void dry(const struct corun_task *t, const struct corun_secrets *sec,
                struct corun_buf *out)
{
  const struct tcp_task *p = (const struct tcp_task *)t;

  corun__dry_field(out, sec, "host", p->host ? p->host : "");
  corun_buf_printf(out, "port: %u\ninterval: %gs\n", (unsigned)p->port,
                   (double)p->interval_ms / 1000.0);
}

const struct corun_kind corun_kind_tcp = {
    .name = "tcp",
    .size = sizeof(struct tcp_task),
    .fields = fields,
    .leaf = 1,
    .result_fields = result_fields,
    .parse = parse,
    .start = start,
    .cancel = cancel,
    .describe = describe,
    .dry = dry,
    .summary = summary,
    .free = release,
};
