/* SPDX-License-Identifier: MIT */
/*
 * fetch: one HTTP(S) request on the run's curl multi handle (http.c).
 *
 * Redirects are followed here, hop by hop, not by curl: every hop's scheme
 * is checked (http and https only, so a redirect to file:// reads
 * nothing), and custom headers such as Authorization are dropped when a
 * hop leaves the host they were meant for. Saved bodies stream to a
 * temporary file beside the target and are renamed into place only on
 * success. max_bytes is enforced in the write callback, on the bytes after
 * decoding, as they arrive.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/confine.h"
#include "util/duration.h"
#include "util/fdlimit.h"
#include "util/libcurl.h"
#include "core/fields.h"
#include "core/http.h"
#include "core/job.h"
#include "core/kind.h"
#include "core/retry.h"
#include "json/capture.h"
#include "json/expect.h"
#include "util/decode.h"
#include "util/dnsname.h"
#include "util/sha256.h"
#include "util/outfile.h"
#include "json/write.h"
#include "core/run.h"
#include "core/task.h"
#include "kinds/fetch.h"

/* What corun calls itself in a request (and in a proxy's CONNECT). */
#define CORUN_AGENT "corun/" CORUN_VERSION

#define BODY_KEEP 4096
#define DEFAULT_MAX_BYTES (64LL << 20)
/* max_bytes of a saved body the job did not bound: a disk holds more. */
#define NO_MAX_BYTES LLONG_MAX
#define MAX_REDIRECTS 10

/*
 * How a fetch asks, all but its URL. Fetches one after another in a job
 * that ask the same way (a bulk download, a check over many pages) share
 * one: a conf is 200-odd bytes, a task's URL 50.
 */
struct fetch_conf {
  /*
   * The content type of the last result kept in the job's memory for a
   * fetch of this conf: the next with the same one shares it.
   */
  const char *last_type;
  unsigned refs;   /* the tasks (and the load's memo) holding it */
  uint64_t serial; /* this conf's own number, never reused in a process */
  char *method;
  struct curl_slist *headers; /* the job's, as written */
  /*
   * What curl is given to send: corun's User-Agent and Accept-Encoding
   * (conf_sent) ahead of the job's headers; own: corun's alone, what a hop
   * to another origin sends.
   */
  struct curl_slist *sent;
  struct curl_slist *own;
  char *body;
  size_t body_len;
  char *save; /* absolute or relative to the job's directory, resolved */
  long long max_bytes;
  long long connect_ms;
  long long attempt_ms;
  struct corun_retry_policy retry;
  int follow;
  int insecure;
  int compressed; /* ask for compressed bodies and decode them */
  int cookies;    /* send and keep cookies in the run's one jar */
  int retry_unsafe;
  struct corun_expect expect;
  struct corun_captures capture;
  /* NULL: every transport field at its default (most fetches). */
  struct fetch_transport *tr;
};

struct fetch_transport {
  char *ca, *cert, *key; /* PEM files, checked at load */
  char *proxy;           /* NULL: the environment's, "": none */
  struct curl_slist *resolve;
  long http_version;
};

static const struct fetch_transport default_transport = {
    NULL, NULL, NULL, NULL, NULL, CURL_HTTP_VERSION_2TLS};

struct fetch_result {
  long status;
  long long bytes;
  /*
   * kept: the result and its content type are in the job's memory
   * (corun__run_keep), not malloc's: freed with the job, not here.
   */
  int kept;
  char *content_type;
  char *url;
  char *body;  /* small UTF-8 text bodies only, else NULL */
  double t[5]; /* dns, connect, tls, ttfb, total */
  int timed;   /* t was asked for (see skip_timings in corun.h) */
  cJSON *captures;
};

/*
 * What a transfer needs only while it runs, kept across its redirects and
 * retries: a big job keeps a fetch_task per request to the end of the
 * run, and this part is held only by the fetches running at the moment.
 * It stays paired with its easy handle, the two going into the handle
 * pool together when a fetch ends, so a request allocates neither, and
 * the handle's write callback is given the record once, when its options
 * are set.
 */
struct fetch_xfer {
  CURL *easy;
  struct fetch_task *ft; /* whose attempt it carries now */
  uint64_t tag; /* what easy's options were set for (see hop_tag) */
  struct curl_slist *hop_headers; /* what this hop sends */
  struct curl_slist *own_headers; /* a hop's own copy, when it differs */
  /*
   * A redirect's URL and method; NULL for the first hop's, which are the
   * task's own (hop_url(), hop_method()): no copy per request.
   */
  char *url;
  char *method;
  int send_body;
  int redirects;
  struct corun_outfile out; /* save: the file being written */
  long long bytes;
  struct corun_buf body;
  struct corun_buf whole; /* the whole body, when a check or capture needs it */
  struct corun_sha256 *sha; /* of the body, when expect.sha256 asks */
  char *cookie;            /* the last cookie value looked up */
  int body_overflow;
  int too_large;
  int write_errno;
  int direct_keeps; /* save goes straight to a device or FIFO that keeps
                       what it is given (not /dev/null) */
  int wrote_direct; /* ... and body bytes went there */
  struct corun_decoder *decoder; /* this hop's, made by its first byte */
  int decode_checked;             /* its status and encoding were looked at */
  long status;                    /* ... that status (the hop's last) */
  int skip_body;                  /* a redirect's: not kept, not decoded */
  char *decode_err;               /* why the body did not decode, or NULL */
  int decode_cut;                 /* ... because a stream stopped short */
};

struct fetch_task {
  struct corun_task base;
  struct fetch_conf *c;
  char *url; /* the task's, as written; a redirect's is x->url */
  struct fetch_result *res;
  struct fetch_result *failed; /* the answer of a failure, when it had one */
  struct fetch_xfer *x;        /* while an attempt runs or waits to retry */
  struct corun_retry retry;
  int url_pooled; /* url lives in the job's pool, not malloc's */
};

/* Connections per host, over every fetch of the job (core/http.c). */
static const struct corun_job_setting settings[] = {
    {"per_host", 100000, offsetof(struct corun_job, per_host)},
    {NULL, 0, 0}};

static const char *const fields[] = {
    "url",       "method",         "headers",         "body",
    "json",      "expect",         "save",            "max_bytes",
    "follow_redirects", "connect_timeout", "insecure", "retries",
    "backoff",   "attempt_timeout", "retry_unsafe",    "compressed",
    "capture",   "ca",             "cert",            "key",
    "proxy",     "resolve",        "http_version",    "cookies",
    NULL};

/* ---- parse ---- */

static int http_url(const char *u)
{
  return strncasecmp(u, "http://", 7) == 0 ||
         strncasecmp(u, "https://", 8) == 0;
}

/*
 * The authority of a URL whose "://" ends at auth: where its host starts
 * (after any "user:pass@") and where it ends (at '/', '?', '#' or the end).
 */
static const char *host_of(const char *auth, const char **end)
{
  const char *p, *host = auth;

  *end = auth + strcspn(auth, "/?#");
  for (p = auth; p < *end; p++)
    if (*p == '@')
      host = p + 1;
  return host;
}

/*
 * What curl would refuse in an http(s) URL ("URL using bad/illegal
 * format"), said when the job loads rather than when the fetch runs: a
 * space or control character, no host, a port that is no number from 1
 * to 65535, an IPv6 address without its "]". NULL when it looks whole.
 */
static const char *url_problem(const char *u)
{
  const char *p, *auth = strstr(u, "://") + 3, *end, *host, *colon = NULL;

  for (p = u; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f)
      return "has a space or a control character (write it %-encoded)";
  host = host_of(auth, &end);
  if (*host == '[') {
    const char *close = memchr(host, ']', (size_t)(end - host));

    if (close == NULL)
      return "has an IPv6 address without its closing \"]\"";
    if (close + 1 < end && close[1] != ':')
      return "has something after the IPv6 address's \"]\" that is no port";
    colon = close + 1 < end ? close + 1 : NULL;
  } else {
    colon = memchr(host, ':', (size_t)(end - host));
    if ((colon ? colon : end) == host)
      return "has no host";
  }
  if (colon && colon + 1 < end) {
    long port = 0;

    for (p = colon + 1; p < end; p++) {
      if (*p < '0' || *p > '9')
        return "has a port that is not a number";
      if ((port = port * 10 + (*p - '0')) > 65535)
        break;
    }
    if (port < 1 || port > 65535)
      return "has a port outside 1-65535";
  }
  return NULL;
}

/* Whether s is one or more IP addresses, comma-separated ("[::1]" too). */
static int addresses(const char *s)
{
  unsigned char buf[16];
  char one[64];

  while (*s) {
    size_t n = strcspn(s, ",");

    if (n == 0 || n >= sizeof(one))
      return 0;
    memcpy(one, s, n);
    one[n] = '\0';
    if (one[0] == '[' && one[n - 1] == ']') {
      one[n - 1] = '\0';
      if (inet_pton(AF_INET6, one + 1, buf) != 1)
        return 0;
    } else if (inet_pton(AF_INET, one, buf) != 1 &&
               inet_pton(AF_INET6, one, buf) != 1) {
      return 0;
    }
    s += n;
    if (*s == ',' && *++s == '\0')
      return 0;
  }
  return 1;
}

/*
 * Append url without its userinfo ("user:pass@"): a redirect's Location,
 * or the job's own URL, may carry credentials, and they must not reach
 * reports, messages or --debug lines.
 */
static void put_url(struct corun_buf *b, const char *url)
{
  const char *auth = strstr(url, "://"), *end, *host;

  if (auth == NULL || (host = host_of(auth + 3, &end)) == auth + 3) {
    corun_buf_puts(b, url);
    return;
  }
  corun_buf_add(b, url, (size_t)(auth + 3 - url));
  corun_buf_puts(b, host);
}

/* Appends a copy of line to *l. Returns 0, or -1 (out of memory). */
static int append_line(struct curl_slist **l, const char *line)
{
  struct curl_slist *n = curl_slist_append(*l, line);

  if (n == NULL)
    return -1;
  *l = n;
  return 0;
}

/* url without its userinfo, malloc'd (NULL when out of memory). */
static char *shown_url(const char *url)
{
  struct corun_buf b = CORUN_BUF_INIT;

  put_url(&b, url);
  return corun_buf_detach(&b);
}

/*
 * The standard method that name spells in any case, or NULL. Methods are
 * case-sensitive (RFC 9110): "post" is not POST to a server, nor to the
 * rule that POST is not retried once sent, so it is refused, not sent.
 */
static const char *standard_method(const char *name)
{
  static const char *const known[] = {"GET",     "HEAD",    "POST",
                                      "PUT",     "DELETE",  "CONNECT",
                                      "OPTIONS", "TRACE",   "PATCH"};
  size_t i;

  for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strcasecmp(name, known[i]) == 0)
      return known[i];
  return NULL;
}

static int token_char(char ch)
{
  return isalnum((unsigned char)ch) || strchr("!#$%&'*+-.^_`|~", ch);
}

static void parse_headers(struct corun_fields *f, struct fetch_conf *c)
{
  const cJSON *v = corun_field(f, "headers"), *it;

  if (v == NULL || (v->type & CORUN_FIELD_BAD))
    return;
  if (!cJSON_IsObject(v)) {
    corun_field_fail(f, "headers", v, "must be an object of strings, not %s",
                     corun__json_type(v));
    return;
  }
  for (it = v->child; it; it = it->next) {
    struct corun_buf line = CORUN_BUF_INIT;
    const char *k;

    if (!cJSON_IsString(it)) {
      corun_field_fail(f, "headers", it, "\"%s\" must be a string, not %s",
                       it->string, corun__json_type(it));
      continue;
    }
    for (k = it->string; *k && token_char(*k); k++)
      ;
    if (*k || !*it->string) {
      corun_field_fail(f, "headers", it,
                       "name \"%s\" is not a valid header name%s", it->string,
                       strpbrk(it->string, "\r\n") ? " (CR or LF in it)"
                                                   : "");
      continue;
    }
    if (strpbrk(it->valuestring, "\r\n")) {
      corun_field_fail(f, "headers", it,
                       "\"%s\" has a CR or LF in its value", it->string);
      continue;
    }
    /* "Name;" is curl's way of sending a header with an empty value. */
    if (*it->valuestring)
      corun_buf_printf(&line, "%s: %s", it->string, it->valuestring);
    else
      corun_buf_printf(&line, "%s;", it->string);
    /* A header dropped for want of memory would go out silently unsent. */
    if (line.oom || append_line(&c->headers, corun_buf_str(&line)) < 0)
      corun_field_fail(f, "headers", it, "\"%s\" could not be kept: out of "
                       "memory", it->string);
    corun_buf_free(&line);
  }
}

/* Whether the request sets a header of this name (any case). */
static int has_header(const struct curl_slist *h, const char *name)
{
  size_t n = strlen(name);

  for (; h; h = h->next)
    if (strncasecmp(h->data, name, n) == 0 &&
        (h->data[n] == ':' || h->data[n] == ';'))
      return 1;
  return 0;
}

/*
 * c->sent and c->own (see struct fetch_conf), once c's headers and
 * "compressed" are known. corun's own headers go to curl in the request's
 * list: from CURLOPT_USERAGENT and CURLOPT_ACCEPT_ENCODING alone (still
 * set where they do more, see setup_easy), libcurl 7.88 prints each
 * header into a string of its own at every transfer and then prints that
 * into the request, and its printf goes a byte at a time (about 7,000
 * instructions a request, a tenth of one); a header of that name in the
 * list spares it. A header the job sets itself replaces corun's, as it
 * did curl's. Returns 0, or -1 (out of memory).
 */
static int conf_sent(struct fetch_conf *c)
{
  static const char agent[] = "User-Agent: " CORUN_AGENT;
  static const char encodings[] = "Accept-Encoding: " CORUN_ACCEPT_ENCODING;
  const struct curl_slist *h;

  if (append_line(&c->own, agent) < 0 ||
      (c->compressed && append_line(&c->own, encodings) < 0))
    return -1;
  if (!has_header(c->headers, "User-Agent") && append_line(&c->sent, agent) < 0)
    return -1;
  /* compressed: the job's headers have no Accept-Encoding. */
  if (c->compressed && append_line(&c->sent, encodings) < 0)
    return -1;
  for (h = c->headers; h; h = h->next)
    if (append_line(&c->sent, h->data) < 0)
      return -1;
  return 0;
}

static void field_fail(void *ctx, const char *field, const cJSON *node,
                       const char *msg)
{
  corun_field_fail(ctx, field, node, "%s", msg);
}

/*
 * Whether the file holds at least one PEM block whose label ends with
 * what ("CERTIFICATE", "PRIVATE KEY"). Returns 0, or an errno, or -1 when
 * it reads but holds none.
 */
static int pem_check(const char *path, const char *what)
{
  FILE *f = fopen(path, "re");
  char line[512];
  int e, found = 0;

  if (f == NULL)
    return errno;
  while (!found && fgets(line, sizeof(line), f)) {
    size_t n = strcspn(line, "\r\n"), w = strlen(what);

    line[n] = '\0';
    found = strncmp(line, "-----BEGIN ", 11) == 0 && n >= 11 + w + 5 &&
            strcmp(line + n - 5, "-----") == 0 &&
            strncmp(line + n - 5 - w, what, w) == 0;
  }
  e = ferror(f) ? EIO : 0;
  fclose(f);
  return e ? e : found ? 0 : -1;
}

extern const struct corun_kind corun_kind_fetch; /* at the end of the file */

/* What the load's last fetch said, for the next one (see memo_field). */
struct checks_memo {
  cJSON *expect_json;
  struct corun_expect expect;
  cJSON *capture_json;
  struct corun_captures capture;
  struct fetch_conf *conf; /* the last conf read without an error */
  struct fetch_conf *plain; /* the conf of fetches with only a URL */
  /*
   * The last file checked for ca, cert and key, and what pem_check said:
   * thousands of fetches name one CA, and its file is read once a load.
   */
  char *pem_path[3];
  int pem_said[3];
};

static struct checks_memo *checks_memo(struct corun_fields *f);

/* ca, cert, key: a path to a PEM file that exists and holds what it must. */
static void parse_pem(struct corun_fields *f, int which, const char *name,
                      const char *what, const char *says, char **out)
{
  struct checks_memo *m;
  int e;

  if (corun_field_path(f, name, out) <= 0)
    return;
  m = checks_memo(f);
  if (m && m->pem_path[which] && strcmp(m->pem_path[which], *out) == 0) {
    e = m->pem_said[which];
  } else {
    e = pem_check(*out, what);
    if (m) {
      free(m->pem_path[which]);
      m->pem_path[which] = strdup(*out);
      m->pem_said[which] = e;
    }
  }
  if (e > 0)
    corun_field_fail(f, name, corun_field(f, name), "cannot be read: %s (%s)",
                     strerror(e), *out);
  else if (e < 0)
    corun_field_fail(f, name, corun_field(f, name),
                     "is not a PEM file with %s (%s)", says, *out);
}

static void read_transport(struct corun_fields *f, struct fetch_conf *c,
                           struct fetch_transport *tr)
{
  static const char *const versions[] = {"1.1", "2", "2-prior-knowledge",
                                         NULL};
  static const long curl_versions[] = {CURL_HTTP_VERSION_1_1,
                                       CURL_HTTP_VERSION_2TLS,
                                       CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE};
  const cJSON *v, *it;
  int i = 1;

  parse_pem(f, 0, "ca", "CERTIFICATE", "certificates", &tr->ca);
  parse_pem(f, 1, "cert", "CERTIFICATE", "a certificate", &tr->cert);
  parse_pem(f, 2, "key", "PRIVATE KEY", "a private key", &tr->key);
  if (tr->key && !tr->cert)
    corun_field_fail(f, "key", corun_field(f, "key"),
                     "needs \"cert\", the certificate it goes with");
  if (corun_field_string(f, "proxy", &tr->proxy) > 0 && *tr->proxy &&
      !strstr(tr->proxy, "://"))
    corun_field_fail(f, "proxy", corun_field(f, "proxy"),
                     "must be a URL like \"http://proxy:3128\" (or \"\" for "
                     "none), not \"%s\"",
                     tr->proxy);
  corun_field_bool(f, "cookies", &c->cookies);
  tr->http_version = CURL_HTTP_VERSION_2TLS;
  if (corun_field_enum(f, "http_version", versions, &i) > 0)
    tr->http_version = curl_versions[i];
  v = corun_field(f, "resolve");
  if (v == NULL || (v->type & CORUN_FIELD_BAD))
    return;
  if (!cJSON_IsArray(v)) {
    corun_field_fail(f, "resolve", v,
                     "must be an array of \"HOST:PORT:ADDRESS\" strings");
    return;
  }
  for (it = v->child; it; it = it->next) {
    const char *s = cJSON_IsString(it) ? it->valuestring : NULL;
    const char *c1 = s ? strchr(s, ':') : NULL;
    char *end = NULL;
    long port = c1 ? strtol(c1 + 1, &end, 10) : 0;

    if (s == NULL || c1 == s || end == c1 + 1 || !end || *end != ':' ||
        port < 1 || port > 65535 || end[1] == '\0' || strpbrk(s, " \t")) {
      corun_field_fail(f, "resolve", it,
                       "entries must be \"HOST:PORT:ADDRESS\" (as curl's "
                       "--resolve), like \"api.test:443:127.0.0.1\"");
      return;
    }
    if (!addresses(end + 1)) {
      corun_field_fail(f, "resolve", it,
                       "\"%s\": \"%s\" is not a list of IP addresses (as "
                       "\"127.0.0.1\", \"[::1]\", \"10.0.0.1,10.0.0.2\")",
                       s, end + 1);
      return;
    }
    if (append_line(&tr->resolve, s) < 0) {
      corun_field_fail(f, "resolve", it, "could not be kept: out of memory");
      return;
    }
  }
}

static void free_transport(struct fetch_transport *tr)
{
  free(tr->ca);
  free(tr->cert);
  free(tr->key);
  free(tr->proxy);
  curl_slist_free_all(tr->resolve);
}

/* The transport fields, kept aside only when one is not its default. */
static void parse_transport(struct corun_fields *f, struct fetch_conf *c)
{
  struct fetch_transport tr = default_transport;

  read_transport(f, c, &tr);
  if (tr.ca == NULL && tr.cert == NULL && tr.key == NULL &&
      tr.proxy == NULL && tr.resolve == NULL &&
      tr.http_version == default_transport.http_version)
    return;
  if ((c->tr = malloc(sizeof(*c->tr))) == NULL) {
    free_transport(&tr);
    corun_field_fail(f, "url", NULL,
                     "its transport settings could not be kept: out of memory");
    return;
  }
  *c->tr = tr;
}


/*
 * The last "expect" and "capture" read in this load, as written and as
 * read: a job of thousands of fetches usually repeats one of each, and
 * reading it once (shared by every task that has it) saves their time
 * and most of their memory.
 */
/* Numbers for confs: a pooled handle's options name theirs by it. */
static _Atomic uint64_t conf_serials;

/* One holder less; the last one frees the conf. */
static void conf_drop(struct fetch_conf *c)
{
  if (c == NULL || --c->refs > 0)
    return;
  free(c->method);
  curl_slist_free_all(c->headers);
  curl_slist_free_all(c->sent);
  curl_slist_free_all(c->own);
  free(c->body);
  free(c->save);
  corun__expect_free(&c->expect);
  corun__captures_free(&c->capture);
  if (c->tr) {
    free_transport(c->tr);
    free(c->tr);
  }
  free(c);
}

static int same_str(const char *a, const char *b)
{
  return a == b || (a && b && strcmp(a, b) == 0);
}

static int same_list(const struct curl_slist *a, const struct curl_slist *b)
{
  for (; a && b; a = a->next, b = b->next)
    if (strcmp(a->data, b->data) != 0)
      return 0;
  return a == b;
}

/*
 * Whether two confs ask the same way. The checks and captures compare by
 * their parts: the memo gives equal ones one set of parts (or both have
 * none), and two separately read ones are taken as different, which only
 * costs the sharing.
 */
static int conf_same(const struct fetch_conf *a, const struct fetch_conf *b)
{
  const struct fetch_transport *p = a->tr, *q = b->tr;

  if (!(same_str(a->method, b->method) && same_list(a->headers, b->headers) &&
        a->body_len == b->body_len &&
        (a->body == b->body ||
         (a->body && b->body && memcmp(a->body, b->body, a->body_len) == 0)) &&
        same_str(a->save, b->save) && a->max_bytes == b->max_bytes &&
        a->connect_ms == b->connect_ms && a->attempt_ms == b->attempt_ms &&
        a->retry.retries == b->retry.retries &&
        a->retry.backoff_ms == b->retry.backoff_ms && a->follow == b->follow &&
        a->insecure == b->insecure && a->compressed == b->compressed &&
        a->cookies == b->cookies && a->retry_unsafe == b->retry_unsafe))
    return 0;
  if (!(a->expect.nstatus == b->expect.nstatus &&
        a->expect.status == b->expect.status &&
        a->expect.checks == b->expect.checks &&
        a->expect.nchecks == b->expect.nchecks &&
        a->expect.duration == b->expect.duration &&
        a->expect.sha256 == b->expect.sha256 &&
        a->expect.wants_body == b->expect.wants_body &&
        a->capture.v == b->capture.v && a->capture.n == b->capture.n &&
        a->capture.wants_body == b->capture.wants_body &&
        a->capture.secret == b->capture.secret))
    return 0;
  if (p == NULL || q == NULL)
    return p == q;
  return same_str(p->ca, q->ca) && same_str(p->cert, q->cert) &&
         same_str(p->key, q->key) && same_str(p->proxy, q->proxy) &&
         same_list(p->resolve, q->resolve) &&
         p->http_version == q->http_version;
}


static void checks_memo_free(void *data)
{
  struct checks_memo *m = data;
  int i;

  for (i = 0; i < 3; i++)
    free(m->pem_path[i]);
  conf_drop(m->conf);
  conf_drop(m->plain);
  cJSON_Delete(m->expect_json);
  corun__expect_free(&m->expect);
  cJSON_Delete(m->capture_json);
  corun__captures_free(&m->capture);
  free(m);
}

/* The load's memo, or NULL (a task made while running, or no memory). */
static struct checks_memo *checks_memo(struct corun_fields *f)
{
  return corun_fields_memo(f, &corun_kind_fetch, sizeof(struct checks_memo),
                           checks_memo_free);
}

/*
 * How one of the two fields is read, shared and let go, for memo_field():
 * expect and captures, through void pointers.
 */
struct memo_kind {
  const char *name;
  void (*read)(const cJSON *v, void *dst, struct corun_fields *f);
  int (*share)(void *from, void *to);
  void (*drop)(void *what);
};

static void expect_read(const cJSON *v, void *dst, struct corun_fields *f)
{
  corun__expect_read(v, dst, field_fail, f);
}

static int expect_share(void *from, void *to)
{
  return corun__expect_share(from, to);
}

static void expect_drop(void *what)
{
  corun__expect_free(what);
}

static void captures_read(const cJSON *v, void *dst, struct corun_fields *f)
{
  corun__captures_read(v, dst, field_fail, f);
}

static int captures_share(void *from, void *to)
{
  return corun__captures_share(from, to);
}

static void captures_drop(void *what)
{
  corun__captures_free(what);
}

static const struct memo_kind expect_memo = {"expect", expect_read,
                                             expect_share, expect_drop};
static const struct memo_kind capture_memo = {"capture", captures_read,
                                              captures_share, captures_drop};

/*
 * The field mk names, read into dst: shared with the memo (*json, *kept)
 * when the value is the one the memo holds, else read, and then kept in
 * the memo when it read without an error.
 */
static void memo_field(struct corun_fields *f, const struct memo_kind *mk,
                       void *dst, cJSON **json, void *kept)
{
  const cJSON *v = corun_field(f, mk->name);
  int failed = f->failed;
  cJSON *copy;

  if (v == NULL || (v->type & CORUN_FIELD_BAD))
    return;
  if (json && *json && corun__json_equal(v, *json) &&
      mk->share(kept, dst) == 0)
    return;
  f->failed = 0;
  mk->read(v, dst, f);
  if (json && !f->failed) {
    copy = cJSON_Duplicate(v, 1);
    cJSON_Delete(*json);
    mk->drop(kept);
    *json = NULL;
    if (copy && mk->share(dst, kept) == 0)
      *json = copy;
    else
      cJSON_Delete(copy);
  }
  f->failed |= failed;
}

/* "expect" and "capture": what a correct response is, what to keep of it. */
static void parse_checks(struct corun_fields *f, struct fetch_conf *c)
{
  struct checks_memo *m = checks_memo(f);

  memo_field(f, &expect_memo, &c->expect, m ? &m->expect_json : NULL,
             m ? &m->expect : NULL);
  memo_field(f, &capture_memo, &c->capture, m ? &m->capture_json : NULL,
             m ? &m->capture : NULL);
}

/*
 * The task's conf exchanged for the last one of the load when the two ask
 * the same way; else it becomes the one the next task is compared with.
 */
static void share_conf(struct corun_fields *f, struct fetch_task *ft)
{
  struct checks_memo *m = checks_memo(f);

  if (m == NULL)
    return;
  if (m->conf && conf_same(m->conf, ft->c)) {
    conf_drop(ft->c);
    ft->c = m->conf;
    ft->c->refs++;
    return;
  }
  conf_drop(m->conf);
  m->conf = ft->c;
  m->conf->refs++;
}

/* A conf with every field at its default, one holder, a number of its own. */
static struct fetch_conf *conf_new(void)
{
  struct fetch_conf *c = calloc(1, sizeof(*c));

  if (c == NULL)
    return NULL;
  c->refs = 1;
  c->serial = atomic_fetch_add(&conf_serials, 1) + 1;
  c->expect = (struct corun_expect)CORUN_EXPECT_INIT;
  c->capture = (struct corun_captures)CORUN_CAPTURES_INIT;
  c->retry = (struct corun_retry_policy)CORUN_RETRY_POLICY_INIT;
  c->max_bytes = -1; /* not given: the default depends on "save" */
  c->follow = 1;
  c->compressed = 1;
  return c;
}

/*
 * What parse() makes of a fetch with only its URL: kept in the memo, one
 * for all plain fetches of a load.
 */
static struct fetch_conf *plain_conf(void)
{
  struct fetch_conf *c = conf_new();

  if (c == NULL)
    return NULL;
  c->max_bytes = DEFAULT_MAX_BYTES;
  if ((c->method = strdup("GET")) == NULL || conf_sent(c) < 0) {
    conf_drop(c);
    return NULL;
  }
  return c;
}

/* ft's URL, the len bytes at url, and conf c: 0, or -1 (see fetch.h). */
static int made_as(struct fetch_task *ft, const char *url, size_t len,
                   char *room, struct fetch_conf *c)
{
  /* Not strndup: url is inside the job's text, with no NUL after it. */
  memcpy(room, url, len);
  room[len] = '\0';
  if (!http_url(room) || url_problem(room))
    return -1; /* parse() says what is wrong with it */
  ft->url = room;
  ft->url_pooled = 1;
  ft->c = c;
  ft->c->refs++;
  return 0;
}

int corun__fetch_plain(struct corun_task *t, const char *url, size_t len,
                       char *room, struct corun_fields_memo *memo,
                       const struct corun_prechecks *pre)
{
  struct corun_fields f;
  struct checks_memo *m;

  memset(&f, 0, sizeof(f));
  f.memo = memo;
  /* The job's first fetch is parse()'s: it notes where it stands. */
  if ((!pre->libcurl && !corun__libcurl_loaded()) ||
      (m = checks_memo(&f)) == NULL)
    return -1;
  if (m->plain == NULL && (m->plain = plain_conf()) == NULL)
    return -1;
  return made_as((struct fetch_task *)t, url, len, room, m->plain);
}

int corun__fetch_like(struct corun_task *t, const struct corun_task *as,
                      const char *url, size_t len, char *room)
{
  return made_as((struct fetch_task *)t, url, len, room,
                 ((const struct fetch_task *)as)->c);
}

int corun__fetch_conf_field(const char *name)
{
  size_t i;

  /*
   * "save" is checked against what other tasks write, "capture" gives the
   * job names: both reach beyond the conf.
   */
  if (strcmp(name, "url") == 0 || strcmp(name, "save") == 0 ||
      strcmp(name, "capture") == 0)
    return 0;
  for (i = 0; fields[i]; i++)
    if (strcmp(name, fields[i]) == 0)
      return 1;
  return 0;
}

/*
 * A refused URL in its message, unless it holds an '@' anywhere: a
 * password with an unencoded '/', '?' or '#' reads as the host, and a
 * mistyped scheme leaves nothing parsed to hide it by.
 */
static void bad_url(struct corun_fields *f, const char *url, const char *why)
{
  if (strchr(url, '@'))
    corun_field_fail(f, "url", corun_field(f, "url"),
                     "%s (the URL is not shown: it may hold credentials)",
                     why);
  else
    corun_field_fail(f, "url", corun_field(f, "url"), "%s: \"%s\"", why, url);
}

static int parse(struct corun_task *t, struct corun_fields *f)
{
  struct fetch_task *ft = (struct fetch_task *)t;
  struct fetch_conf *c = conf_new();
  const cJSON *json;
  char *save = NULL;
  double d;
  long long n;
  const char *m, *why;

  if (c == NULL) {
    corun_field_fail(f, "url", NULL,
                     "its transport settings could not be kept: out of memory");
    return -1;
  }
  ft->c = c;
  /*
   * The job's first fetch: the loader loads libcurl once the job is read,
   * and names this task if it cannot. Fields read for another reason (the
   * job's "defaults", a template, a task made as the job runs) need no
   * libcurl yet: the run loads it before its first fetch starts, and a
   * fetch fails there if it cannot.
   */
  if (f->pre && !f->pre->libcurl) {
    f->pre->libcurl = 1;
    f->pre->libcurl_task = f->task;
    f->pre->libcurl_off = f->obj_off;
  }
  if (corun_field_string(f, "url", &ft->url) == 0)
    corun_field_missing(f, "url");
  else if (ft->url && !http_url(ft->url))
    bad_url(f, ft->url, "must be an http:// or https:// URL");
  else if (ft->url && (why = url_problem(ft->url)) != NULL)
    bad_url(f, ft->url, why);
  if (corun_field_string(f, "method", &c->method) > 0) {
    for (m = c->method; *m && token_char(*m); m++)
      ;
    if (*m || !*c->method)
      corun_field_fail(f, "method", corun_field(f, "method"),
                       "\"%s\" is not an HTTP method", c->method);
    else if ((m = standard_method(c->method)) && strcmp(m, c->method) != 0)
      corun_field_fail(f, "method", corun_field(f, "method"),
                       "\"%s\" is not an HTTP method: methods are "
                       "case-sensitive; write \"%s\"",
                       c->method, m);
  }
  parse_headers(f, c);
  if (corun_field_string(f, "body", &c->body) > 0)
    c->body_len = strlen(c->body);
  json = corun_field(f, "json");
  if (json && !(json->type & CORUN_FIELD_BAD)) {
    if (c->body) {
      corun_field_fail(f, "json", json, "and \"body\" cannot both be set");
    } else {
      c->body = corun__json_print(json);
      c->body_len = c->body ? strlen(c->body) : 0;
      if (c->body == NULL ||
          append_line(&c->headers, "Content-Type: application/json") < 0)
        corun_field_fail(f, "json", json, "could not be kept: out of memory");
    }
  }
  parse_checks(f, c);
  parse_transport(f, c);
  if (corun_field_path(f, "save", &save) > 0) {
    c->save = save;
    corun_field_precheck(f, "save", corun_field(f, "save"), CORUN_PRE_OUTPUT,
                         save, NULL, NULL);
  }
  if (corun_field_size(f, "max_bytes", &n) > 0)
    c->max_bytes = n;
  corun_field_bool(f, "follow_redirects", &c->follow);
  corun_field_bool(f, "insecure", &c->insecure);
  corun_field_bool(f, "compressed", &c->compressed);
  /*
   * A request that asks for a range or an encoding itself gets the bytes
   * as sent: a range of a compressed body does not decode on its own.
   */
  if (c->compressed && has_header(c->headers, "Range"))
    c->compressed = 0;
  if (c->compressed && has_header(c->headers, "Accept-Encoding"))
    c->compressed = 0;
  corun_field_bool(f, "retry_unsafe", &c->retry_unsafe);
  if (corun_field_timeout(f, "connect_timeout", "fail every connection",
                          &d) > 0)
    c->connect_ms = (long long)corun_duration_ms(d);
  if (corun_field_timeout(f, "attempt_timeout", "end every attempt", &d) >
      0)
    c->attempt_ms = (long long)corun_duration_ms(d);
  corun__retry_parse(&c->retry, f);
  /* A body a check or capture reads is kept in memory, saved or not. */
  if (c->max_bytes < 0)
    c->max_bytes = c->save && !c->expect.wants_body && !c->capture.wants_body
                       ? NO_MAX_BYTES
                       : DEFAULT_MAX_BYTES;
  if (c->method == NULL)
    c->method = strdup(c->body ? "POST" : "GET");
  if (c->method == NULL)
    corun_field_fail(f, "method", NULL, "could not be kept: out of memory");
  if (conf_sent(c) < 0)
    corun_field_fail(f, "headers", NULL, "could not be kept: out of memory");
  if (f->failed)
    return -1;
  share_conf(f, ft);
  return 0;
}

/* ---- the transfer ---- */

/*
 * Keeps n bytes of the (decoded) body. Returns 0, or -1 when the transfer
 * must stop (over max_bytes, or the save file cannot be written).
 */
/* Whether a check or capture needs the whole body, not only its start. */
static int wants_whole(const struct fetch_task *ft)
{
  return ft->c->expect.wants_body || ft->c->capture.wants_body;
}

/* The first 4 KiB of the body (or all of a shorter one): *len bytes. */
static const char *kept_body(const struct fetch_task *ft, size_t *len)
{
  const struct corun_buf *b = wants_whole(ft) ? &ft->x->whole : &ft->x->body;

  *len = b->len < BODY_KEEP ? b->len : BODY_KEEP;
  return corun_buf_str(b);
}

static int take_body(void *arg, const char *ptr, size_t n)
{
  struct fetch_task *ft = arg;

  if ((long long)n > ft->c->max_bytes - ft->x->bytes) {
    ft->x->too_large = 1;
    return -1; /* abort the transfer before keeping a byte too many */
  }
  ft->x->bytes += (long long)n;
  if (ft->x->bytes > BODY_KEEP)
    ft->x->body_overflow = 1;
  if (ft->x->sha)
    corun__sha256_add(ft->x->sha, ptr, n);
  if (wants_whole(ft)) {
    /* Its first 4 KiB are also what kept_body() shows: one copy. */
    corun_buf_add(&ft->x->whole, ptr, n);
    if (ft->x->whole.oom) {
      ft->x->write_errno = ENOMEM;
      return -1;
    }
  } else if (ft->x->body.len < BODY_KEEP) {
    /*
     * The first 4 KiB are kept whatever else happens to the body: the
     * result shows a small one, and a failure shows the start of its
     * answer.
     */
    corun_buf_add(&ft->x->body, ptr,
                  n < BODY_KEEP - ft->x->body.len ? n : BODY_KEEP - ft->x->body.len);
  }
  if (ft->x->out.fd >= 0) {
    ft->x->wrote_direct |= ft->x->direct_keeps;
    ft->x->write_errno = corun__outfile_write(&ft->x->out, ptr, n);
    return ft->x->write_errno ? -1 : 0;
  }
  return 0;
}

/*
 * Why this hop's body did not decode (the first reason stays); a message
 * without memory for it still fails the body, as "out of memory".
 */
static char decode_oom[] = "out of memory";

static void set_decode_err(struct fetch_task *ft, const char *why)
{
  if (ft->x->decode_err == NULL)
    ft->x->decode_err = strdup(why);
  if (ft->x->decode_err == NULL)
    ft->x->decode_err = decode_oom;
}

/*
 * The response's Content-Encoding, all of its headers joined, as curl
 * keeps them for this hop. Returns 0 and a decoder (or none), or -1 with
 * the reason in ft->x->decode_err.
 */
static int make_decoder(struct fetch_task *ft)
{
  struct corun_buf list = CORUN_BUF_INIT;
  struct curl_header *h;
  size_t i, amount = 1;
  int r = 0;

  for (i = 0; i < amount; i++) {
    if (curl_easy_header(ft->x->easy, "Content-Encoding", i, CURLH_HEADER, -1,
                         &h) != CURLHE_OK)
      break;
    amount = h->amount;
    if (list.len)
      corun_buf_putc(&list, ',');
    corun_buf_puts(&list, h->value);
  }
  if (list.oom) {
    set_decode_err(ft, "out of memory");
    r = -1;
  } else if (list.len) {
    char why[200];

    r = corun__decoder_new(corun_buf_str(&list), take_body, ft, &ft->x->decoder,
                           why, sizeof(why));
    if (r < 0)
      set_decode_err(ft, why);
  }
  corun_buf_free(&list);
  return r;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
  struct fetch_task *ft = ((struct fetch_xfer *)arg)->ft;
  size_t n = size * nmemb;

  if (!ft->x->decode_checked) {
    long code = 0;
    struct curl_header *loc;

    ft->x->decode_checked = 1;
    curl_easy_getinfo(ft->x->easy, CURLINFO_RESPONSE_CODE, &code);
    ft->x->status = code;
    /*
     * A redirect about to be followed: its body is not the one asked for.
     * (curl works out CURLINFO_REDIRECT_URL only once the transfer is
     * over; the header is there now.)
     */
    ft->x->skip_body = ft->c->follow && code >= 300 && code <= 399 &&
                    code != 304 &&
                    curl_easy_header(ft->x->easy, "Location", 0, CURLH_HEADER, -1,
                                     &loc) == CURLHE_OK;
    if (!ft->x->skip_body && ft->c->compressed && make_decoder(ft) < 0)
      return 0;
  }
  if (ft->x->skip_body)
    return n;
  if (ft->x->decoder == NULL)
    return take_body(ft, ptr, n) == 0 ? n : 0;
  if (corun__decoder_write(ft->x->decoder, ptr, n) == -1 && !ft->x->too_large &&
      !ft->x->write_errno) {
    set_decode_err(ft, corun__decoder_error(ft->x->decoder));
    return 0;
  }
  return ft->x->too_large || ft->x->write_errno || ft->x->decode_err ? 0 : n;
}

/* This hop's decoder, if it made one, is done with. */
static void drop_decoder(struct fetch_task *ft)
{
  if (ft->x == NULL)
    return;
  corun__decoder_free(ft->x->decoder);
  ft->x->decoder = NULL;
  ft->x->decode_checked = 0;
  if (ft->x->decode_err != decode_oom)
    free(ft->x->decode_err);
  ft->x->decode_err = NULL;
  ft->x->decode_cut = 0;
  ft->x->skip_body = 0;
}

static void drop_temp(struct fetch_task *ft)
{
  if (ft->x)
    corun__outfile_abort(&ft->x->out);
}

/* /dev/null: written directly, yet keeping nothing a retry would repeat. */
static int keeps_nothing(int fd)
{
  struct stat st;

  return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
         st.st_rdev == makedev(1, 3);
}

/* Open where this attempt's body goes. Returns 0, or an errno. */
static int open_sink(struct fetch_task *ft)
{
  int e = ft->c->save ? corun__outfile_open(&ft->x->out, ft->c->save,
                                            ft->base.run->root)
                      : 0;

  ft->x->direct_keeps =
      !e && ft->x->out.direct && ft->x->out.fd >= 0 &&
      !keeps_nothing(ft->x->out.fd);
  return e;
}

/* Put the saved body in place. Returns 0, or an errno. */
static int commit_sink(struct fetch_task *ft)
{
  return corun__outfile_commit(&ft->x->out);
}

static void done(CURL *easy, CURLcode code, const char *errmsg, void *arg);

static const char *hop_url(const struct fetch_task *ft)
{
  return ft->x->url ? ft->x->url : ft->url;
}

static const char *hop_method(const struct fetch_task *ft)
{
  return ft->x->method ? ft->x->method : ft->c->method;
}

/* A record's memory, once its easy handle is gone or goes with it. */
static void xfer_drop(void *p)
{
  struct fetch_xfer *x = p;

  corun_buf_free(&x->body);
  free(x->sha);
  free(x);
}

/*
 * The transfer is over for good: its handle goes back to the pool (pool:
 * else it is freed) with the record and the body buffer, copied into the
 * result if kept at all, for the handle's next transfer to fill.
 */
static void free_xfer(struct fetch_task *ft, int pool)
{
  struct fetch_xfer *x = ft->x;
  struct corun_http *h;
  struct corun_buf body;
  CURL *easy;
  uint64_t tag;

  if (x == NULL)
    return;
  /*
   * The handle's list of cookie files ("") is not freed by the reset its
   * next use makes: let it go here (the shared cookies stay).
   */
  if (x->easy && ft->c->cookies)
    curl_easy_setopt(x->easy, CURLOPT_COOKIEFILE, NULL);
  drop_decoder(ft);
  corun__outfile_abort(&x->out);
  corun_buf_free(&x->whole);
  free(x->cookie);
  curl_slist_free_all(x->own_headers);
  /* The result keeps the effective URL; the hop's copies can go. */
  free(x->url);
  free(x->method);
  ft->x = NULL;
  /*
   * What waits in the pool is as a new record but for the body buffer
   * (emptied, its failure forgotten) it keeps for the next. The digest's
   * state goes: a body is hashed whenever there is one.
   */
  free(x->sha);
  easy = x->easy;
  tag = x->tag;
  body = x->body;
  corun__buf_restart(&body);
  *x = (struct fetch_xfer){
      .easy = easy, .tag = tag, .out = CORUN_OUTFILE_INIT, .body = body};
  if (easy && pool &&
      (h = corun__run_kind_state_if(ft->base.run, ft->base.kind))) {
    corun__http_easy_put_with(h, easy, tag, x, xfer_drop);
    return;
  }
  if (easy)
    corun__http_easy_free(easy);
  xfer_drop(x);
}

static void put_easy(struct fetch_task *ft)
{
  free_xfer(ft, 1);
}

static int same_origin(const char *a, const char *b)
{
  CURLU *ua = curl_url(), *ub = curl_url();
  char *ha = NULL, *hb = NULL, *pa = NULL, *pb = NULL, *sa = NULL, *sb = NULL;
  int same = 0;

  if (ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
      curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK &&
      curl_url_get(ua, CURLUPART_HOST, &ha, 0) == CURLUE_OK &&
      curl_url_get(ub, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
      curl_url_get(ua, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) ==
          CURLUE_OK &&
      curl_url_get(ub, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT) ==
          CURLUE_OK &&
      curl_url_get(ua, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK &&
      curl_url_get(ub, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK)
    same = strcasecmp(ha, hb) == 0 && strcmp(pa, pb) == 0 &&
           strcasecmp(sa, sb) == 0;
  curl_free(ha);
  curl_free(hb);
  curl_free(pa);
  curl_free(pb);
  curl_free(sa);
  curl_free(sb);
  curl_url_cleanup(ua);
  curl_url_cleanup(ub);
  return same;
}

/*
 * The CA bundle the environment names, as the curl command reads it:
 * CURL_CA_BUNDLE, else SSL_CERT_FILE (OpenSSL's). NULL: the system's.
 */
static const char *ca_from_env(void)
{
  const char *p = getenv("CURL_CA_BUNDLE");

  if (p == NULL || *p == '\0')
    p = getenv("SSL_CERT_FILE");
  return p && *p ? p : NULL;
}

/*
 * The handle set for this hop. Returns -1 when libcurl could not keep a
 * string option (its copies are its only way to fail here).
 */
/*
 * What a hop's options are, as a number: the conf's, and whether it goes
 * over TLS (PIPEWAIT), for the first hop of an attempt that sends what the
 * conf says; 0 for the rest (a redirect's hop, cookies), which must be set
 * from a reset handle.
 */
static uint64_t hop_tag(const struct fetch_task *ft)
{
  const struct fetch_xfer *x = ft->x;

  if (ft->c->cookies || x->redirects || !x->send_body ||
      x->hop_headers != ft->c->sent ||
      strcmp(hop_method(ft), ft->c->method))
    return 0;
  return ft->c->serial << 1 | (strncasecmp(hop_url(ft), "https://", 8) == 0);
}

/*
 * Whether the environment names a proxy for http or https: the variables
 * libcurl reads, empty ones counting as unset (it skips HTTP_PROXY for
 * plain http).
 */
static int env_names_proxy(void)
{
  static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "http_proxy",
                                     "all_proxy", "ALL_PROXY"};
  size_t i;

  for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
    const char *v = getenv(vars[i]);

    if (v && *v)
      return 1;
  }
  return 0;
}

static int setup_easy(struct fetch_task *ft, int fresh, int same)
{
  struct fetch_conf *c = ft->c;
  const struct fetch_transport *tr = c->tr ? c->tr : &default_transport;
  CURL *e = ft->x->easy;
  const char *env_ca;
  int proxied, bad = 0;

  /*
   * Set for this very way of asking before: all but the URL stands (the
   * record it writes to is its own; the environment's CA is not looked up
   * again).
   */
  if (same)
    return corun__http_set_url(e, hop_url(ft));
  /*
   * A handle from the pool is reset already; one used before is not. Its
   * list of cookie files ("", see launch) is one thing curl's reset does
   * not free: let it go first.
   */
  if (!fresh) {
    if (c->cookies)
      curl_easy_setopt(e, CURLOPT_COOKIEFILE, NULL);
    corun__http_easy_reset(e);
  }
  bad |= corun__http_set_url(e, hop_url(ft)) != 0;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  /*
   * corun asks for compressed bodies (its Accept-Encoding, conf_sent) and
   * decodes them itself: libcurl's own decoder takes a stream cut short
   * for a whole one. Set here as well, the option makes libcurl read the
   * response's Content-Encoding and refuse one of more than five codings,
   * as it always has; the header in the list spares it printing its own.
   */
  bad |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING,
                          c->compressed ? CORUN_ACCEPT_ENCODING : NULL) !=
         CURLE_OK;
  curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  /*
   * Over TLS, wait for a connection being set up to the same host rather
   * than open another: if ALPN says HTTP/2, the transfers share it. Plain
   * http never gets HTTP/2 here, and waiting there would serialise
   * transfers behind the first response.
   */
  if (strncasecmp(hop_url(ft), "https://", 8) == 0)
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, ft->x);
  if (c->max_bytes != NO_MAX_BYTES)
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
  if (ft->x->hop_headers)
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, ft->x->hop_headers);
  if (strcmp(hop_method(ft), "GET") != 0)
    bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, hop_method(ft)) !=
           CURLE_OK;
  if (strcmp(hop_method(ft), "HEAD") == 0)
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  if (ft->x->send_body && c->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
  }
  if (c->connect_ms)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
  if (c->attempt_ms)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->attempt_ms);
  if (c->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, tr->http_version);
  if (tr->ca) {
    /* The job's CAs instead of the system's, not beside them. */
    bad |= curl_easy_setopt(e, CURLOPT_CAINFO, tr->ca) != CURLE_OK;
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  } else if ((env_ca = ca_from_env()) != NULL) {
    bad |= curl_easy_setopt(e, CURLOPT_CAINFO, env_ca) != CURLE_OK;
  }
  if (tr->cert)
    bad |= curl_easy_setopt(e, CURLOPT_SSLCERT, tr->cert) != CURLE_OK;
  if (tr->key)
    bad |= curl_easy_setopt(e, CURLOPT_SSLKEY, tr->key) != CURLE_OK;
  proxied = tr->proxy ? *tr->proxy != '\0' : env_names_proxy();
  if (proxied && tr->proxy) {
    bad |= curl_easy_setopt(e, CURLOPT_PROXY, tr->proxy) != CURLE_OK;
  } else if (!proxied) {
    /*
     * No proxy, said once for the handle: left unset, libcurl looks for
     * its five variables again at every transfer, a fortieth of all it
     * does for a small GET.
     */
    bad |= curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOPROXY, "") != CURLE_OK;
  }
  /*
   * A CONNECT through a proxy names corun too, but takes its User-Agent
   * only from the option, not from the request's headers (the request
   * itself still sends the list's and not this one).
   */
  if (proxied)
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, CORUN_AGENT) != CURLE_OK;
  if (tr->resolve)
    curl_easy_setopt(e, CURLOPT_RESOLVE, tr->resolve);
  return bad ? -1 : 0;
}

/* Whether url's host is one that never resolves (util/dnsname.h). */
static int invalid_host(const char *url)
{
  CURLU *u;
  char *host = NULL;
  int bad = 0;
  const char *p;

  /*
   * Every fetch comes here: parse only a URL that could be one (strcspn
   * looks for the 'i' a byte at a time no longer).
   */
  for (p = url + strcspn(url, "iI"); *p; p += 1 + strcspn(p + 1, "iI"))
    if (strncasecmp(p, "invalid", 7) == 0)
      break;
  if (*p == '\0')
    return 0;
  u = curl_url();
  if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
    bad = corun__name_never_resolves(host, strlen(host));
  curl_free(host);
  curl_url_cleanup(u);
  return bad;
}

/*
 * Start one attempt, or one redirect hop of it, on ft->x. fresh: the
 * record and handle just came from take_xfer(), their options standing if
 * same, reset otherwise; else the handle ran the hop before and is reset
 * here unless asked alike.
 */
static void launch(struct fetch_task *ft, int fresh, int same)
{
  struct corun_task *t = &ft->base;
  struct corun_http *h;
  const char *why = NULL;
  int e;
  uint64_t tag = hop_tag(ft);

  h = corun__run_kind_state(t->run, t->kind, &why);
  if (h == NULL) {
    put_easy(ft);
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO, "%s", why);
    return;
  }
  if (!fresh)
    same = tag && ft->x->tag == tag;
  ft->x->bytes = 0;
  ft->x->too_large = 0;
  ft->x->write_errno = 0;
  ft->x->wrote_direct = 0;
  ft->x->body_overflow = 0;
  drop_decoder(ft);
  corun__buf_restart(&ft->x->body);
  corun__buf_restart(&ft->x->whole);
  if (ft->c->expect.sha256) {
    if (ft->x->sha == NULL && (ft->x->sha = malloc(sizeof(*ft->x->sha))) == NULL) {
      put_easy(ft);
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "out of memory");
      return;
    }
    corun__sha256_init(ft->x->sha);
  }
  ft->x->tag = 0;
  if (setup_easy(ft, fresh, same) < 0) {
    put_easy(ft);
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "out of memory setting up the request");
    return;
  }
  ft->x->tag = tag;
  if (ft->c->cookies) {
    CURLSH *jar = corun__http_cookies(h);

    if (jar == NULL) {
      put_easy(ft);
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "cannot make the cookie jar: out of memory");
      return;
    }
    /* "" turns the cookie engine on without reading a file. */
    curl_easy_setopt(ft->x->easy, CURLOPT_SHARE, jar);
    if (curl_easy_setopt(ft->x->easy, CURLOPT_COOKIEFILE, "") != CURLE_OK) {
      put_easy(ft);
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "cannot turn cookies on: out of memory");
      return;
    }
  }
  if (invalid_host(hop_url(ft))) {
    struct corun_buf msg = CORUN_BUF_INIT;

    /*
     * As if curl's resolver had failed: the same retries and report. The
     * whole URL, never cut, so no part of a secret in it shows alone.
     */
    corun_buf_puts(&msg, "could not resolve host of ");
    put_url(&msg, hop_url(ft));
    corun_buf_puts(&msg, ": names under .invalid never resolve (RFC 6761)");
    done(ft->x->easy, CURLE_COULDNT_RESOLVE_HOST,
         msg.oom ? "could not resolve host" : corun_buf_str(&msg), ft);
    corun_buf_free(&msg);
    return;
  }
  if (ft->c->save) {
    struct corun_buf mk = CORUN_BUF_INIT;

    if (corun__outfile_mkdirs(ft->c->save, t->run->root, &mk) < 0) {
      put_easy(ft);
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO, "%s",
                         corun_buf_str(&mk));
      corun_buf_free(&mk);
      return;
    }
  }
  e = open_sink(ft);
  if (e) {
    char hint[160];

    put_easy(ft);
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "cannot write beside %s: %s%s", ft->c->save,
                       corun__confine_strerror(e),
                       corun__fd_hint(e, hint, sizeof(hint)));
    return;
  }
  if (corun__http_add(h, ft->x->easy, done, ft) < 0) {
    drop_temp(ft);
    put_easy(ft);
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "libcurl refused the transfer");
  }
}

/*
 * The tag of a first hop (hop_tag() with the record as begin_attempt()
 * leaves it), known before there is a record.
 */
static uint64_t first_tag(const struct fetch_task *ft)
{
  if (ft->c->cookies)
    return 0;
  return ft->c->serial << 1 | (strncasecmp(ft->url, "https://", 8) == 0);
}

/*
 * A handle and its record for a new attempt: the pair a finished fetch
 * left in the pool, or new ones. *same: the handle's options were set for
 * tag. -1 (the task finished) on failure.
 */
static int take_xfer(struct fetch_task *ft, int *same)
{
  struct corun_task *t = &ft->base;
  const char *why = NULL;
  struct corun_http *h = corun__run_kind_state(t->run, t->kind, &why);
  struct fetch_xfer *x;
  void *spare;
  CURL *easy;

  if (h == NULL) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO, "%s", why);
    return -1;
  }
  easy = corun__http_easy_get_with(h, first_tag(ft), same, &spare);
  x = spare;
  if (easy && x == NULL) {
    /*
     * malloc, not calloc: glibc's calloc never takes from the per-thread
     * cache, and one a request showed in the profile.
     */
    x = malloc(sizeof(*x));
    if (x)
      *x = (struct fetch_xfer){.out = CORUN_OUTFILE_INIT};
    /* The handle's write callback was given another record, if any. */
    if (*same)
      corun__http_easy_reset(easy);
    *same = 0;
  }
  if (easy == NULL || x == NULL) {
    if (easy)
      corun__http_easy_put(h, easy, 0);
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "cannot create a transfer: out of memory");
    return -1;
  }
  x->easy = easy;
  x->ft = ft;
  /* What the handle's options were set for: nothing, once reset. */
  if (!*same)
    x->tag = 0;
  ft->x = x;
  return 0;
}

static void begin_attempt(struct fetch_task *ft)
{
  int fresh = ft->x == NULL, same = 0;

  if (fresh && take_xfer(ft, &same) < 0)
    return;
  free(ft->x->url);
  free(ft->x->method);
  ft->x->url = NULL;
  ft->x->method = NULL;
  ft->x->send_body = 1;
  ft->x->redirects = 0;
  ft->x->hop_headers = ft->c->sent;
  curl_slist_free_all(ft->x->own_headers);
  ft->x->own_headers = NULL;
  launch(ft, fresh, same);
}

static void again(struct corun_task *t)
{
  begin_attempt((struct fetch_task *)t);
}

static void start(struct corun_task *t)
{
  struct fetch_task *ft = (struct fetch_task *)t;

  begin_attempt(ft);
}

static int expected(const struct fetch_conf *c, long status)
{
  return corun__expect_status(&c->expect, status);
}

static enum corun_errtype curl_type(CURLcode code)
{
  switch (code) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return CORUN_ERR_DNS;
  case CURLE_OPERATION_TIMEDOUT:
    return CORUN_ERR_TIMEOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_USE_SSL_FAILED:
    return CORUN_ERR_TLS;
  case CURLE_FILESIZE_EXCEEDED:
    return CORUN_ERR_TOO_LARGE;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_PARTIAL_FILE: /* shorter than its Content-Length or chunks */
    return CORUN_ERR_PROTOCOL;
  case CURLE_WRITE_ERROR:
  case CURLE_FAILED_INIT: /* libcurl would not take it (core/http.h) */
    return CORUN_ERR_IO;
  default:
    /* Refused, reset, dropped mid-body, nothing received: the network. */
    return CORUN_ERR_CONNECT;
  }
}

/*
 * Whether curl gave up on the response's headers for their size: a
 * server's fault (protocol), not the network's. curl 7.88
 * says "Out of memory" when one header line outgrows its 100 KiB buffer,
 * and "Too large response headers" for all of them together; neither
 * code tells by itself (a reset is a receive error too), so the first is
 * told by its message and the second by no body byte having come yet.
 */
static int headers_too_large(const struct fetch_task *ft, CURLcode code,
                             const char *errmsg)
{
  if (code == CURLE_RECV_ERROR)
    return strncmp(errmsg, "Too large response headers", 26) == 0;
  return code == CURLE_OUT_OF_MEMORY && ft->x->bytes == 0;
}

/*
 * Whether a failed attempt may be tried again: any failure may pass (a
 * status, a check that does not hold yet, a body cut short), so each is,
 * while retries are left. A POST or PATCH may have done its work even so:
 * it goes again only when it was never sent (the name did not resolve,
 * the connection was refused), or with retry_unsafe. A body written
 * straight to a device or FIFO cannot be taken back: a second one after
 * it would read as one body.
 */
static int retryable(const struct fetch_task *ft, CURLcode code)
{
  const struct fetch_conf *c = ft->c;
  int unsafe = strcmp(c->method, "POST") == 0 || strcmp(c->method, "PATCH") == 0;
  int never_sent = code == CURLE_COULDNT_RESOLVE_HOST ||
                   code == CURLE_COULDNT_RESOLVE_PROXY ||
                   code == CURLE_COULDNT_CONNECT;

  if (!corun__retry_left(&c->retry, &ft->base) ||
      (ft->x && ft->x->wrote_direct))
    return 0;
  return never_sent || !unsafe || c->retry_unsafe;
}

/* The backoff, or what a 429's or 503's Retry-After asks for. */
static long long backoff_ms(const struct fetch_task *ft, long status)
{
  curl_off_t after = 0;

  if ((status != 429 && status != 503) ||
      curl_easy_getinfo(ft->x->easy, CURLINFO_RETRY_AFTER, &after) != CURLE_OK ||
      after < 0)
    after = 0;
  /* Any wait this long is capped anyway: keep the product in range. */
  if (after > LLONG_MAX / 1000)
    after = LLONG_MAX / 1000;
  return corun__retry_wait_ms(&ft->c->retry, &ft->base,
                              (long long)after * 1000);
}

/*
 * The attempt failed with type and msg: try again after the backoff, or
 * end the task failed.
 */
static void attempt_failed(struct fetch_task *ft, enum corun_errtype type,
                           long status, CURLcode code, struct corun_buf *msg)
{
  if (retryable(ft, code)) {
    /* A whole body kept for the checks need not wait out the backoff. */
    corun_buf_free(&ft->x->whole);
    if (corun__retry_after(&ft->retry, &ft->base, backoff_ms(ft, status),
                           corun_buf_str(msg), again) == 0)
      return;
    corun_buf_puts(msg, "; out of memory arming the retry timer");
  }
  put_easy(ft);
  corun__task_finish(&ft->base, CORUN_STATUS_FAILED, type, "%s",
                     corun_buf_str(msg));
}

static double secs_of(CURL *e, CURLINFO what)
{
  curl_off_t us = 0;

  curl_easy_getinfo(e, what, &us);
  return (double)us / 1e6;
}

/* curl's phases of the answer just ended, cumulative seconds. */
static void take_timings(const struct fetch_task *ft, struct fetch_result *r)
{
  r->t[0] = secs_of(ft->x->easy, CURLINFO_NAMELOOKUP_TIME_T);
  r->t[1] = secs_of(ft->x->easy, CURLINFO_CONNECT_TIME_T);
  r->t[2] = secs_of(ft->x->easy, CURLINFO_APPCONNECT_TIME_T);
  r->t[3] = secs_of(ft->x->easy, CURLINFO_STARTTRANSFER_TIME_T);
  r->t[4] = secs_of(ft->x->easy, CURLINFO_TOTAL_TIME_T);
}

/*
 * Whether a body is text a report can show as it is: well-formed UTF-8
 * (no overlong form, surrogate or code point past U+10FFFF) without a NUL,
 * which no text file holds and a C string would end at.
 */
static int utf8_text(const char *s, size_t n)
{
  size_t i = 0, len, bad;

  while (i < n) {
    if ((unsigned char)s[i] < 0x80) {
      if (s[i] == 0)
        return 0;
      i++;
      continue;
    }
    len = corun__utf8_seq((const unsigned char *)s + i, n - i, &bad);
    if (len == 0)
      return 0;
    i += len;
  }
  return 1;
}

/*
 * Kept as plain fields and written as JSON only if a report asks: a cJSON
 * tree per result cost over a kilobyte a fetch in big batches.
 */
static void free_result(struct fetch_result *r);

/*
 * The content type ct of a kept result, in the job's memory: the same
 * string as the conf's last when it is the same (a bulk job's responses
 * mostly share one).
 */
static char *kept_type(struct fetch_task *ft, const char *ct)
{
  size_t n = strlen(ct) + 1;
  char *s;

  if (ft->c->last_type && strcmp(ft->c->last_type, ct) == 0)
    return (char *)ft->c->last_type;
  if ((s = corun__run_keep(ft->base.run, n, 1)) == NULL)
    return NULL;
  memcpy(s, ct, n);
  ft->c->last_type = s;
  return s;
}

static struct fetch_result *make_result(struct fetch_task *ft, long status)
{
  /*
   * A task of the job keeps its result to the end: in the job's memory,
   * not a malloc of its own among the transfers' (a pipeline item's is
   * freed with its item).
   */
  int keep = !(ft->base.flags & CORUN_TF_INSTANCE);
  struct fetch_result *r =
      keep ? corun__run_keep(ft->base.run, sizeof(*r),
                             _Alignof(struct fetch_result))
           : calloc(1, sizeof(*r));
  char *ct = NULL, *eff = NULL;
  const char *kept;
  size_t kept_len;

  if (r == NULL)
    return NULL;
  r->kept = keep;
  curl_easy_getinfo(ft->x->easy, CURLINFO_CONTENT_TYPE, &ct);
  if (ft->x->redirects > 0)
    curl_easy_getinfo(ft->x->easy, CURLINFO_EFFECTIVE_URL, &eff);
  r->status = status;
  r->bytes = ft->x->bytes;
  r->content_type = ct == NULL ? NULL : keep ? kept_type(ft, ct) : strdup(ct);
  /*
   * Without a redirect the response came from the task's own URL: shown as
   * written, not as curl re-spells it ("host?q" as "host/?q"), so the
   * places where secrets went into it are still known.
   */
  /*
   * NULL: the task's own URL, written out from its conf when reported (a
   * copy per response is 80 bytes a task of a big job keeps to the end).
   */
  r->url = eff == NULL ? NULL : shown_url(eff);
  r->timed = !keep || !ft->base.run->opts.skip_timings;
  if (r->timed)
    take_timings(ft, r);
  if (!ft->c->save && !ft->x->body_overflow &&
      (!ft->base.run->opts.skip_bodies ||
       (ft->base.flags & CORUN_TF_INSTANCE))) {
    /* A body whose start could not be kept would show short or empty. */
    if (!wants_whole(ft) && ft->x->body.oom)
      goto oom;
    kept = kept_body(ft, &kept_len);
    if (utf8_text(kept, kept_len) &&
        (r->body = strndup(kept, kept_len)) == NULL)
      goto oom;
  }
  if ((ct && r->content_type == NULL) || (eff && r->url == NULL))
    goto oom;
  return r;
oom:
  /* A result with parts missing would read as a different answer. */
  free_result(r);
  return NULL;
}

/*
 * What a failure on the status or a check got back: its status, content
 * type, and the start of its body when that is text (cut before a
 * character the 4 KiB split).
 */
static void keep_failure(struct fetch_task *ft, long status)
{
  struct fetch_result *r = calloc(1, sizeof(*r));
  char *ct = NULL;
  size_t n;
  const char *b = kept_body(ft, &n);

  if (r == NULL)
    return;
  curl_easy_getinfo(ft->x->easy, CURLINFO_CONTENT_TYPE, &ct);
  r->status = status;
  r->content_type = ct ? strdup(ct) : NULL;
  /* The timeline and the trace show a failed answer's phases too. */
  r->timed = !ft->base.run->opts.skip_timings;
  if (r->timed)
    take_timings(ft, r);
  if (ft->x->body_overflow)
    while (n > 0 && ((unsigned char)b[n - 1] & 0xc0) == 0x80)
      n--;
  if (ft->x->body_overflow && n > 0 && ((unsigned char)b[n - 1] & 0xc0) == 0xc0)
    n--; /* the lead byte of a character cut short */
  if (n > 0 && utf8_text(b, n) && (r->body = strndup(b, n)) == NULL) {
    free_result(r);
    return; /* the failure is still reported, without what came back */
  }
  if (ct && r->content_type == NULL) {
    free_result(r);
    return;
  }
  free_result(ft->failed);
  ft->failed = r;
}

static int response(const struct corun_task *t, long *status,
                    const char **content_type, const char **body)
{
  const struct fetch_result *r = ((const struct fetch_task *)t)->failed;

  /* Only the failure that came with it: a later attempt may have failed
   * otherwise. */
  if (r == NULL || t->status != CORUN_STATUS_FAILED ||
      (t->err_type != CORUN_ERR_HTTP_STATUS && t->err_type != CORUN_ERR_ASSERT))
    return 0;
  *status = r->status;
  *content_type = r->content_type;
  *body = r->body;
  return 1;
}

static void write_result(const struct corun_task *t,
                         const struct corun_secrets *sec, struct corun_buf *out)
{
  const struct fetch_task *ft = (const struct fetch_task *)t;
  const struct fetch_result *r = ft->res;
  static const char *const names[] = {"dns", "connect", "tls", "ttfb",
                                      "total"};
  int i;

  if (r == NULL || t->status != CORUN_STATUS_OK) {
    corun_buf_puts(out, "null");
    return;
  }
  corun_buf_printf(out, "{\"status\": %ld, \"bytes\": %lld, "
                        "\"content_type\": ",
                   r->status, r->bytes);
  if (r->content_type)
    corun__json_write_str(out, r->content_type, sec);
  else
    corun_buf_puts(out, "null");
  corun_buf_puts(out, ", \"url\": ");
  if (r->url) {
    corun__json_write_str(out, r->url, sec);
  } else {
    /* Without a redirect: the task's own URL as written, sans userinfo. */
    struct corun_buf own = CORUN_BUF_INIT;

    put_url(&own, ft->url);
    corun__json_write_str(out, corun_buf_str(&own), sec);
    if (own.oom)
      out->oom = 1;
    corun_buf_free(&own);
  }
  if (r->timed) {
    corun_buf_puts(out, ", \"timings\": {");
    for (i = 0; i < 5; i++)
      corun_buf_printf(out, "%s\"%s\": %.6f", i ? ", " : "", names[i],
                       r->t[i]);
    corun_buf_putc(out, '}');
  } else {
    corun_buf_puts(out, ", \"timings\": null");
  }
  if (r->body) {
    corun_buf_puts(out, ", \"body\": ");
    corun__json_write_str(out, r->body, sec);
  }
  if (r->captures) {
    const cJSON *it;
    size_t k;

    /*
     * A secret capture shows as *** whatever it holds: a number, an
     * array, a string shorter than the text search looks for.
     */
    corun_buf_puts(out, ", \"captures\": {");
    for (it = r->captures->child; it; it = it->next) {
      int secret = 0;

      for (k = 0; k < ft->c->capture.n; k++)
        if (strcmp(ft->c->capture.v[k].name, it->string) == 0)
          secret = ft->c->capture.v[k].secret;
      corun__json_write_str(out, it->string, sec);
      corun_buf_puts(out, ": ");
      if (secret)
        corun_buf_puts(out, "\"***\"");
      else
        corun__json_write(out, it, sec);
      if (it->next)
        corun_buf_puts(out, ", ");
    }
    corun_buf_putc(out, '}');
  }
  corun_buf_putc(out, '}');
}

/*
 * The answer whose phases reports show: the result's, or the one that
 * failed the task (a status or a check it did not expect).
 */
static const struct fetch_result *timed_answer(const struct corun_task *t)
{
  const struct fetch_task *ft = (const struct fetch_task *)t;
  const struct fetch_result *r = ft->res;

  if (r == NULL && t->status == CORUN_STATUS_FAILED &&
      (t->err_type == CORUN_ERR_HTTP_STATUS || t->err_type == CORUN_ERR_ASSERT))
    r = ft->failed;
  return r && r->timed ? r : NULL;
}

static int phases(const struct corun_task *t, double out[5])
{
  const struct fetch_result *r = timed_answer(t);

  if (r == NULL)
    return 0;
  memcpy(out, r->t, sizeof(r->t));
  return 1;
}

/* The last attempt's phases from curl's timings, nested in the task. */
static void trace(const struct corun_task *t, int tid,
                  const struct corun_secrets *sec, struct corun_buf *out)
{
  const struct fetch_result *r = timed_answer(t);
  static const char *const names[] = {"dns", "connect", "tls", "wait",
                                      "receive"};
  /* Whole nanoseconds, so printed edges meet the task's exactly. */
  int64_t end = (int64_t)t->t_end, begin, from[5], to[5];
  int i;

  (void)sec;
  if (r == NULL || !r->timed)
    return;
  /* curl's times are cumulative from the start of the transfer. */
  begin = end - llround(r->t[4] * 1e9);
  if (begin < (int64_t)t->t_start)
    begin = (int64_t)t->t_start;
  from[0] = 0;
  to[0] = llround(r->t[0] * 1e9);
  from[1] = to[0];
  to[1] = llround(r->t[1] * 1e9);
  from[2] = to[1];
  to[2] = r->t[2] > r->t[1] ? llround(r->t[2] * 1e9) : to[1];
  from[3] = to[2];
  to[3] = llround(r->t[3] * 1e9);
  from[4] = to[3];
  to[4] = llround(r->t[4] * 1e9);
  for (i = 0; i < 5; i++) {
    int64_t a = begin + from[i], b = begin + to[i];

    if (b > end)
      b = end;
    if (b <= a)
      continue;
    corun_buf_printf(out,
                     ",\n{\"name\": \"%s\", \"cat\": \"fetch\", \"ph\": "
                     "\"X\", \"ts\": %.3f, \"dur\": %.3f, \"pid\": 1, "
                     "\"tid\": %d}",
                     names[i], (double)a / 1000.0, (double)(b - a) / 1000.0,
                     tid);
  }
}

static void summary(const struct corun_task *t, struct corun_buf *out)
{
  const struct fetch_result *r = ((const struct fetch_task *)t)->res;

  if (r)
    corun_buf_printf(out, "HTTP %ld, %lld bytes", r->status, r->bytes);
}

static void free_result(struct fetch_result *r)
{
  if (r == NULL)
    return;
  free(r->url);
  free(r->body);
  cJSON_Delete(r->captures);
  if (r->kept)
    return;
  free(r->content_type);
  free(r);
}

/*
 * The next hops send this hop's headers but the one named. Returns 0, or
 * -1 when out of memory: the hops would go without the job's headers.
 */
static int without_header(struct fetch_task *ft, const char *name)
{
  struct curl_slist *copy = NULL, *h;
  size_t n = strlen(name);

  for (h = ft->x->hop_headers; h; h = h->next)
    if (!(strncasecmp(h->data, name, n) == 0 &&
          (h->data[n] == ':' || h->data[n] == ';')) &&
        append_line(&copy, h->data) < 0) {
      curl_slist_free_all(copy);
      return -1;
    }
  curl_slist_free_all(ft->x->own_headers);
  ft->x->own_headers = copy;
  ft->x->hop_headers = copy;
  return 0;
}

/*
 * The next hop cannot be made for want of memory: not the 3xx as the
 * answer, since the job asked for where it points. Returns 1 (follow's
 * "done with this response").
 */
static int follow_failed(struct fetch_task *ft)
{
  drop_temp(ft);
  put_easy(ft);
  corun__task_finish(&ft->base, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                     "out of memory following a redirect");
  return 1;
}

/* A 3xx we follow ourselves. Returns 1 if a new hop was launched. */
static int follow(struct fetch_task *ft, long status)
{
  char *loc = NULL, *next;

  if (!ft->c->follow || status < 300 || status > 399 || status == 304)
    return 0;
  curl_easy_getinfo(ft->x->easy, CURLINFO_REDIRECT_URL, &loc);
  if (loc == NULL)
    return 0;
  if (ft->x->redirects >= MAX_REDIRECTS || !http_url(loc)) {
    char *shown = shown_url(loc);
    int too_many = ft->x->redirects >= MAX_REDIRECTS;

    drop_temp(ft);
    put_easy(ft);
    if (too_many)
      corun__task_finish(&ft->base, CORUN_STATUS_FAILED, CORUN_ERR_PROTOCOL,
                         "more than %d redirects (last to %s)", MAX_REDIRECTS,
                         shown ? shown : "?");
    else
      corun__task_finish(&ft->base, CORUN_STATUS_FAILED, CORUN_ERR_PROTOCOL,
                         "redirect to %s refused: only http and https",
                         shown ? shown : "?");
    free(shown);
    return 1;
  }
  next = strdup(loc);
  if (next == NULL)
    return follow_failed(ft);
  /* Credentials were meant for the first origin, not wherever it sends. */
  if (ft->c->headers && ft->x->hop_headers != ft->c->own &&
      !same_origin(hop_url(ft), next))
    ft->x->hop_headers = ft->c->own;
  free(ft->x->url);
  ft->x->url = next;
  /* 301/302/303 turn a POST into a GET, as browsers and curl do. */
  if (status == 303 ||
      ((status == 301 || status == 302) &&
       strcmp(hop_method(ft), "POST") == 0)) {
    free(ft->x->method);
    ft->x->method = strdup("GET");
    ft->x->send_body = 0;
    /* No body goes on, so neither does what described it. */
    if (without_header(ft, "Content-Type") < 0 || ft->x->method == NULL)
      return follow_failed(ft);
  }
  ft->x->redirects++;
  drop_temp(ft);
  launch(ft, 0, 0);
  return 1;
}

/* The last response header of this name, for the checks and captures. */
static const char *header_of(void *ctx, const char *name)
{
  struct fetch_task *ft = ctx;
  struct curl_header *h;

  if (curl_easy_header(ft->x->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
    return NULL;
  if (h->amount > 1 &&
      curl_easy_header(ft->x->easy, name, h->amount - 1, CURLH_HEADER, -1, &h) !=
          CURLHE_OK)
    return NULL;
  return h->value;
}

/* The value the response's last Set-Cookie of this name gives it. */
static const char *cookie_of(void *ctx, const char *name)
{
  struct fetch_task *ft = ctx;
  struct curl_header *h;
  size_t i, amount = 1, n = strlen(name);
  const char *found = NULL;
  size_t len = 0;

  for (i = 0; i < amount; i++) {
    const char *v;

    if (curl_easy_header(ft->x->easy, "Set-Cookie", i, CURLH_HEADER, -1, &h) !=
        CURLHE_OK)
      break;
    amount = h->amount;
    for (v = h->value; *v == ' '; v++)
      ;
    if (strncmp(v, name, n) == 0 && v[n] == '=') {
      free(ft->x->cookie);
      len = strcspn(v + n + 1, ";");
      ft->x->cookie = strndup(v + n + 1, len);
      found = ft->x->cookie;
    }
  }
  return found;
}

/*
 * A secret capture's value, hidden from now on wherever its text shows:
 * an array or object as compact JSON and each value inside it as a
 * secret of its own, since each may show alone (a pipeline's items, a
 * field that takes one of them). Names are not secret.
 */
static int add_secret(struct corun_secrets *sec, const cJSON *v)
{
  const cJSON *it;
  struct corun_buf num = CORUN_BUF_INIT;
  char *whole;
  int rc;

  if (cJSON_IsString(v))
    return corun_secrets_add(sec, v->valuestring);
  if (cJSON_IsNumber(v)) {
    corun__json_write(&num, v, NULL);
    rc = num.oom ? -1 : corun_secrets_add(sec, corun_buf_str(&num));
    corun_buf_free(&num);
    return rc;
  }
  if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
    return 0;
  if ((whole = corun__json_print(v)) == NULL)
    return -1;
  rc = corun_secrets_add(sec, whole);
  free(whole);
  for (it = v->child; it && rc == 0; it = it->next)
    rc = add_secret(sec, it);
  return rc;
}

/*
 * Runs the checks and takes the captures of a response with an expected
 * status. Returns 0, or -1 when the task was failed (assert) for it.
 */
static int check_response(struct fetch_task *ft, long status,
                          cJSON **captures)
{
  struct corun_task *t = &ft->base;
  const struct fetch_conf *c = ft->c;
  struct corun_buf msg = CORUN_BUF_INIT, body_text = CORUN_BUF_INIT;
  struct corun_response r;
  const char *pointers[16];
  char hex[65];
  char *eff = NULL;
  int failed;

  if (c->expect.nchecks == 0 && c->expect.duration <= 0 &&
      !c->expect.sha256 && c->capture.n == 0)
    return 0;
  memset(&r, 0, sizeof(r));
  r.status = status;
  curl_easy_getinfo(ft->x->easy, CURLINFO_EFFECTIVE_URL, &eff);
  r.url = ft->x->redirects == 0 || eff == NULL ? ft->url : eff;
  r.header = header_of;
  r.cookie = cookie_of;
  r.ctx = ft;
  if (c->expect.wants_body || c->capture.wants_body) {
    r.body = corun_buf_str(&ft->x->whole);
    r.body_len = ft->x->whole.len;
    /* The body as text: a NUL in it would end it for every check. */
    if (memchr(r.body, '\0', r.body_len)) {
      r.raw = r.body;
      r.raw_len = r.body_len;
      corun__buf_add_text(&body_text, r.body, r.body_len);
      r.body = corun_buf_str(&body_text);
      r.body_len = body_text.len;
    }
  }
  r.pointers = pointers;
  r.npointers = corun__response_pointers(&c->expect, &c->capture, pointers,
                                         sizeof(pointers) / sizeof(*pointers));
  r.bytes = ft->x->bytes;
  r.total = secs_of(ft->x->easy, CURLINFO_TOTAL_TIME_T);
  if (ft->x->sha) {
    corun__sha256_hex(ft->x->sha, hex);
    r.sha256 = hex;
  }
  failed = corun__expect_check(&c->expect, &r, &msg);
  if (!failed && c->capture.n) {
    *captures = corun__captures_take(&c->capture, &r, &msg);
    failed = *captures == NULL;
  }
  cJSON_Delete(r.json);
  if (!failed && c->capture.secret) {
    size_t i;

    /* A secret capture is hidden wherever it shows, from now on. */
    for (i = 0; i < c->capture.n; i++) {
      cJSON *v = cJSON_GetObjectItemCaseSensitive(*captures,
                                                  c->capture.v[i].name);

      if (!c->capture.v[i].secret)
        continue;
      /* A secret that cannot be hidden must not show: fail instead. */
      if (add_secret(&t->run->job->secrets, v) < 0) {
        corun_buf_printf(&msg, "capture \"%s\": out of memory keeping it "
                               "secret",
                         c->capture.v[i].name);
        failed = 1;
        cJSON_Delete(*captures);
        *captures = NULL;
        break;
      }
    }
  }
  if (failed) {
    keep_failure(ft, status);
    drop_temp(ft);
    attempt_failed(ft, CORUN_ERR_ASSERT, status, CURLE_OK, &msg);
  }
  corun_buf_free(&msg);
  corun_buf_free(&body_text);
  return failed ? -1 : 0;
}

static void attempt_done(CURL *easy, CURLcode code, const char *errmsg,
                         void *arg);

/*
 * A transfer ended: its checks run now, on the whole body (a regex or
 * JSON parse of a big one can take a while). Under --debug a completion
 * that blocks the loop too long is told, naming the task; an item's task
 * may be gone by then, so its id is copied first.
 */
static void done(CURL *easy, CURLcode code, const char *errmsg, void *arg)
{
  struct fetch_task *ft = arg;
  const struct corun_run *run = ft->base.run;
  uint64_t began;
  char *id;

  if (!run->opts.debug) {
    attempt_done(easy, code, errmsg, arg);
    return;
  }
  began = uv_hrtime();
  id = strdup(ft->base.id);
  attempt_done(easy, code, errmsg, arg);
  corun__run_check_slow(run, began, id ? id : "?", "fetch completion");
  free(id);
}

static void attempt_done(CURL *easy, CURLcode code, const char *errmsg,
                         void *arg)
{
  struct fetch_task *ft = arg;
  struct corun_task *t = &ft->base;
  enum corun_errtype type = CORUN_ERR_NONE;
  struct corun_buf msg = CORUN_BUF_INIT;
  long status = 0;
  int e;

  /* The body's first byte came after the hop's last response began. */
  if (ft->x->decode_checked)
    status = ft->x->status;
  else
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  if (code == CURLE_OK && follow(ft, status))
    return;
  /* A compressed body is whole only when each of its streams ended. */
  if (code == CURLE_OK && ft->x->decoder && corun__decoder_finish(ft->x->decoder)) {
    set_decode_err(ft, corun__decoder_error(ft->x->decoder));
    ft->x->decode_cut = 1;
  }
  if (code == CURLE_OK && !ft->x->decode_err && expected(ft->c, status)) {
    cJSON *captures = NULL;

    if (check_response(ft, status, &captures) < 0)
      return;
    e = commit_sink(ft);
    if (e) {
      corun_buf_printf(&msg, "cannot save %s: %s", ft->c->save, strerror(e));
      cJSON_Delete(captures);
      attempt_failed(ft, CORUN_ERR_IO, status, CURLE_OK, &msg);
      corun_buf_free(&msg);
      return;
    }
    /* An earlier attempt's failed answer shows nowhere now. */
    free_result(ft->failed);
    ft->failed = NULL;
    ft->res = make_result(ft, status);
    put_easy(ft);
    if (ft->res == NULL) {
      cJSON_Delete(captures);
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "out of memory keeping the response");
      return;
    }
    ft->res->captures = captures;
    corun__task_finish(t, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
    return;
  }
  drop_temp(ft);
  if (ft->x->too_large) {
    type = CORUN_ERR_TOO_LARGE;
    corun_buf_printf(&msg, "body over max_bytes (%lld)", ft->c->max_bytes);
  } else if (ft->x->write_errno && ft->x->whole.oom) {
    type = CORUN_ERR_IO;
    corun_buf_printf(&msg, "out of memory keeping the body for its checks "
                     "(%lld bytes read)", ft->x->bytes);
  } else if (ft->x->write_errno) {
    type = CORUN_ERR_IO;
    corun_buf_printf(&msg, "cannot write %s: %s", ft->c->save,
                     strerror(ft->x->write_errno));
  } else if (ft->x->decode_err && expected(ft->c, status)) {
    type = CORUN_ERR_PROTOCOL;
    corun_buf_printf(&msg, "%s: %s",
                     ft->x->decode_cut ? "body ended early"
                                    : "body does not decode",
                     ft->x->decode_err);
  } else if (code == CURLE_OK || ft->x->decode_err) {
    /* A status the job did not expect says more than its body's state. */
    keep_failure(ft, status);
    type = CORUN_ERR_HTTP_STATUS;
    corun_buf_printf(&msg, "HTTP %ld from ", status);
    put_url(&msg, hop_url(ft));
  } else if (headers_too_large(ft, code, errmsg)) {
    type = CORUN_ERR_PROTOCOL;
    corun_buf_printf(&msg, "response headers too large (%s)",
                     code == CURLE_OUT_OF_MEMORY
                         ? "a header line over 100 KiB, or curl is out of "
                           "memory"
                         : errmsg);
  } else {
    type = curl_type(code);
    /*
     * A chunk size that is no hex number is a receive error to curl 7.88
     * as a reset is; its message tells the bad reply apart.
     */
    if (code == CURLE_RECV_ERROR && strstr(errmsg, "in chunked-encoding"))
      type = CORUN_ERR_PROTOCOL;
    if (type == CORUN_ERR_TOO_LARGE)
      corun_buf_printf(&msg, "body over max_bytes (%lld): ", ft->c->max_bytes);
    else if (code == CURLE_PARTIAL_FILE)
      corun_buf_puts(&msg, "body ended early: ");
    /*
     * curl's message fills at most its 256-byte buffer: one that long may
     * have been cut inside a secret (a long host name), whose start must
     * not show on its own.
     */
    if (strlen(errmsg) >= CURL_ERROR_SIZE - 1)
      corun_secrets_redact_cut(t->run->secrets, errmsg, strlen(errmsg), &msg);
    else
      corun_buf_puts(&msg, *errmsg ? errmsg : curl_easy_strerror(code));
  }
  attempt_failed(ft, type, status, code, &msg);
  corun_buf_free(&msg);
}

static void cancel(struct corun_task *t)
{
  struct fetch_task *ft = (struct fetch_task *)t;

  struct corun_http *h = corun__run_kind_state_if(t->run, t->kind);

  corun__retry_stop(&ft->retry, t);
  if (ft->x && ft->x->easy && h)
    corun__http_remove(h, ft->x->easy);
  put_easy(ft);
  corun__task_finish(t, CORUN_STATUS_CANCELLED, CORUN_ERR_CANCELLED, NULL);
}

static void describe(const struct corun_task *t, uint64_t now_ms,
                     struct corun_buf *out)
{
  const struct fetch_task *ft = (const struct fetch_task *)t;
  curl_off_t dns = 0, conn = 0, ttfb = 0;
  const char *phase = "queued";

  if (corun__retry_describe(&ft->retry, t, now_ms, out))
    return;
  if (ft->x && ft->x->easy) {
    curl_off_t pre = 0, up = 0;

    curl_easy_getinfo(ft->x->easy, CURLINFO_NAMELOOKUP_TIME_T, &dns);
    curl_easy_getinfo(ft->x->easy, CURLINFO_CONNECT_TIME_T, &conn);
    curl_easy_getinfo(ft->x->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(ft->x->easy, CURLINFO_STARTTRANSFER_TIME_T, &ttfb);
    curl_easy_getinfo(ft->x->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    /* curl's timings say which steps are done; the upload count says
     * whether the body is all out yet. */
    if (ttfb)
      phase = "receiving";
    else if (pre && (!ft->x->send_body || up >= (curl_off_t)ft->c->body_len))
      phase = "waiting";
    else if (conn)
      phase = "sending";
    else if (dns)
      phase = "connecting";
    else
      phase = "resolving";
  }
  corun_buf_printf(out, "%s ",
                   ft->x ? hop_method(ft) : "");
  put_url(out, ft->x ? hop_url(ft) : ft->url);
  corun_buf_printf(out, ", %s, %lld bytes", phase, ft->x ? ft->x->bytes : 0LL);
}

static void release(struct corun_task *t)
{
  struct fetch_task *ft = (struct fetch_task *)t;

  free_xfer(ft, 0);
  free_result(ft->res);
  free_result(ft->failed);
  if (!ft->url_pooled)
    free(ft->url);
  conf_drop(ft->c);
}

static size_t capture_names(const struct corun_task *t, const char **out,
                            size_t max, int *secret)
{
  const struct fetch_task *ft = (const struct fetch_task *)t;
  size_t i;

  if (secret)
    *secret = ft->c->capture.secret;
  for (i = 0; i < ft->c->capture.n && i < max; i++)
    out[i] = ft->c->capture.v[i].name;
  return ft->c->capture.n;
}

static const cJSON *capture_value(const struct corun_task *t,
                                  const char *name)
{
  const struct fetch_task *ft = (const struct fetch_task *)t;

  if (ft->res == NULL || ft->res->captures == NULL)
    return NULL;
  return cJSON_GetObjectItemCaseSensitive(ft->res->captures, name);
}

/* "expect" as --dry-run shows it: one line per check, worded as a failure
 * names it ("json "/id": gt 3"), so the two read alike. */
static void dry_expect(struct corun_buf *out, const struct corun_secrets *sec,
                       const struct corun_expect *e)
{
  static const char *const on[] = {"headers", "body", "json", "bytes"};
  struct corun_buf name = CORUN_BUF_INIT, v = CORUN_BUF_INIT;
  size_t i;
  int k;

  for (k = 0; k < e->nstatus; k++) {
    if (e->status[k] < 0)
      corun_buf_printf(&v, "%s%dxx", k ? ", " : "", -e->status[k]);
    else
      corun_buf_printf(&v, "%s%d", k ? ", " : "", e->status[k]);
  }
  if (e->nstatus)
    corun__dry_field(out, sec, "expect status", corun_buf_str(&v));
  for (i = 0; i < e->nchecks; i++) {
    const struct corun_expect_check *c = &e->checks[i];

    corun__buf_restart(&name);
    corun__buf_restart(&v);
    corun_buf_printf(&name, "expect %s", on[c->on]);
    if (c->key)
      corun_buf_printf(&name, " \"%s\"", c->key);
    corun__pred_describe(c->pred, &v);
    corun__dry_field(out, sec, corun_buf_str(&name), corun_buf_str(&v));
    if (name.oom || v.oom)
      out->oom = 1;
  }
  if (e->duration > 0)
    corun_buf_printf(out, "expect duration: %gs\n", e->duration);
  if (e->sha256)
    corun__dry_field(out, sec, "expect sha256", e->sha256);
  if (v.oom)
    out->oom = 1;
  corun_buf_free(&name);
  corun_buf_free(&v);
}

static void dry(const struct corun_task *t, const struct corun_secrets *sec,
                struct corun_buf *out)
{
  const struct fetch_task *ft = (const struct fetch_task *)t;
  const struct fetch_conf *c = ft->c;
  const struct fetch_transport *tr = c->tr ? c->tr : &default_transport;
  const struct curl_slist *h;
  size_t i;

  corun__dry_field(out, sec, "method", c->method ? c->method : "");
  {
    /* Without its credentials, as every other output shows it. */
    char *url = ft->url ? shown_url(ft->url) : NULL;

    if (ft->url && url == NULL)
      out->oom = 1;
    corun__dry_field(out, sec, "url", url ? url : "");
    free(url);
  }
  for (h = c->headers; h; h = h->next)
    corun__dry_field(out, sec, "header", h->data);
  if (c->body)
    corun__dry_field(out, sec, "body", c->body);
  if (c->save)
    corun__dry_field(out, sec, "save", c->save);
  if (c->max_bytes == NO_MAX_BYTES)
    corun_buf_puts(out, "max_bytes: none\n");
  else
    corun_buf_printf(out, "max_bytes: %lld\n", c->max_bytes);
  if (c->connect_ms)
    corun_buf_printf(out, "connect_timeout: %gs\n",
                     (double)c->connect_ms / 1000.0);
  if (c->attempt_ms)
    corun_buf_printf(out, "attempt_timeout: %gs\n",
                     (double)c->attempt_ms / 1000.0);
  if (c->retry.retries)
    corun_buf_printf(out, "retries: %d, backoff %gs doubling%s\n",
                     c->retry.retries, (double)c->retry.backoff_ms / 1000.0,
                     c->retry_unsafe ? ", unsafe methods too" : "");
  if (!c->follow)
    corun_buf_puts(out, "follow_redirects: false\n");
  if (!c->compressed)
    corun_buf_puts(out, "compressed: false\n");
  if (c->insecure)
    corun_buf_puts(out, "insecure: true\n");
  if (c->cookies)
    corun_buf_puts(out, "cookies: true\n");
  if (tr->proxy)
    corun__dry_field(out, sec, "proxy", *tr->proxy ? tr->proxy : "(none)");
  if (tr->ca)
    corun__dry_field(out, sec, "ca", tr->ca);
  if (tr->cert)
    corun__dry_field(out, sec, "cert", tr->cert);
  if (tr->key)
    corun__dry_field(out, sec, "key", tr->key);
  for (h = tr->resolve; h; h = h->next)
    corun__dry_field(out, sec, "resolve", h->data);
  if (tr->http_version == CURL_HTTP_VERSION_1_1)
    corun_buf_puts(out, "http_version: 1.1\n");
  else if (tr->http_version == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
    corun_buf_puts(out, "http_version: 2-prior-knowledge\n");
  dry_expect(out, sec, &c->expect);
  if (c->capture.n) {
    corun_buf_puts(out, "capture:");
    for (i = 0; i < c->capture.n; i++)
      corun_buf_printf(out, "%s %s%s", i ? "," : "", c->capture.v[i].name,
                       c->capture.v[i].secret ? " (secret)" : "");
    corun_buf_putc(out, '\n');
  }
}

static const char *const result_fields[] = {
    "status", "bytes", "content_type", "url", "timings", "body", "captures",
    NULL};

/*
 * One multi handle for all of a run's fetches. Connections, open or kept
 * idle, are capped as running fetches are (by the descriptors left, see
 * run.h), so curl never holds a transfer back while its timeout runs:
 * past the cap it closes an idle connection.
 */
static void *run_open(struct corun_run *run, const char **err)
{
  return corun__http_new(run->loop, (long)run->fds.cap, (long)run->per_host,
                         err);
}

static void run_quiesce(void *state)
{
  corun__http_quiesce(state);
}

static void run_close(void *state, void (*closed)(void *arg), void *arg)
{
  corun__http_close(state, closed, arg);
}

/* A task's own body or json keeps the other out of "defaults". */
static const char *const exclusive[] = {"body", "json", NULL};

const struct corun_kind corun_kind_fetch = {
    .name = "fetch",
    .size = sizeof(struct fetch_task),
    .fields = fields,
    .exclusive = exclusive,
    .settings = settings,
    .leaf = 1,
    .result_fields = result_fields,
    .parse = parse,
    .start = start,
    .cancel = cancel,
    .describe = describe,
    .dry = dry,
    .result = write_result,
    .summary = summary,
    .response = response,
    .trace = trace,
    .phases = phases,
    .capture_names = capture_names,
    .capture = capture_value,
    .free = release,
    .run_open = run_open,
    .run_quiesce = run_quiesce,
    .run_close = run_close,
};
