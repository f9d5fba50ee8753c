/* SPDX-License-Identifier: MIT */
/*
 * corun-test-httpd: the HTTP/1.1 server the test suite fetches from.
 *
 * It binds 127.0.0.1 only (port 0 by default, so the OS picks a free one),
 * prints "PORT <n>\n" on stdout, then serves until SIGTERM or until its
 * stdin reaches end of file, so it dies with the test that started it.
 * One process, one poll() loop, non-blocking sockets and a state machine
 * per connection: delays are a per-connection "respond at" time, so a
 * thousand delayed requests do not hold up anything else, and the /flaky
 * counters are plain globals that every connection sees.
 *
 * Options: --port N (default 0), --ignore-stdin (keep serving after stdin
 * closes, for running it by hand or from a demo), -v (log each request on
 * stderr).
 *
 * HTTP: keep-alive by default (HTTP/1.1), "Connection: close" honoured,
 * request bodies by Content-Length (a Transfer-Encoding gets 501),
 * "Expect: 100-continue" answered, HEAD gets the headers only, responses
 * always carry Content-Length. Query values are percent-decoded and '+'
 * means a space. Every route accepts every method.
 *
 * Routes:
 *   /bytes?n=N[&type=CT][&gzip=1]  200, N pattern bytes (see server.h),
 *        Content-Type CT (default application/octet-stream). gzip=1 sends
 *        them gzip-encoded (stored deflate blocks) with Content-Encoding:
 *        gzip; gzip=cut sends that stream without its final block flag
 *        and its trailer (a Content-Length that matches: only the gzip
 *        stream is cut short). Streamed in 64 KiB pieces whatever N is.
 *   /chunked?n=N[&cut=1|&bad=1]    200, N pattern bytes in chunks of at
 *        most 4 KiB (Transfer-Encoding: chunked); cut=1 closes the
 *        connection instead of sending the last, empty chunk; bad=1 sends
 *        a size line that is no hex number ("zz") after the chunks.
 *   /gzip-bomb?n=N                 200, Content-Encoding: gzip, a body that
 *        inflates to N zero bytes (rounded up to 1 + 258 k) from about
 *        N / 160 bytes on the wire, produced as it is sent.
 *   /status?code=N[&body=TEXT]     status N (200-599), text/plain body.
 *   /delay?ms=N[&n=BYTES]          after N ms, 200 "ok" or BYTES pattern bytes.
 *   /redirect?n=K[&code=C]         K > 0: C (default 302) to
 *        http://127.0.0.1:PORT/redirect?n=K-1 (code kept); K = 0: 200 "done".
 *   /redirect-to?url=URL[&code=C]  C (default 302) with Location: URL.
 *   /headers-on-redirect?to=URL    302 with Location: URL.
 *   /drop?n=N                      announces Content-Length 2N, sends N
 *        pattern bytes, then closes the connection.
 *   /flaky?id=ID&fail=K[&code=C][&n=N]  the first K requests for ID get C
 *        (default 503), later ones 200 "ok"; n=N makes each failure's body
 *        N bytes of 'x' (at most 1 MiB).
 *   /retry-after?id=ID&fail=K[&after=S][&code=C]  like /flaky with C
 *        default 429 and "Retry-After: S" (default 1) on the failures.
 *   /conns                         200, how many connections were accepted
 *   /count?id=ID                   200, how many /flaky and /retry-after
 *        requests ID got, as decimal text without a newline (0 if none).
 *   /echo                          200 application/json: {"method", "path",
 *        "query", "headers": {lower-case name: value, repeats joined with
 *        ", "}, "body", "bytes" (body length)}. Bytes that are not UTF-8
 *        come out as \u00XX.
 *   /file?path=P[&enc=E][&enc2=E2][&fold=F][&cut=K][&to=URL]  200, the
 *        bytes of the file P (at most 16 MiB) with Content-Encoding: E when
 *        given, then a second Content-Encoding line E2, and F on a folded
 *        line of its own after the first (obs-fold); cut=K leaves
 *        out the last K bytes, with a Content-Length that matches what is
 *        sent; to=URL makes it a 302 to URL with that body.
 *   /cookie?name=N&value=V         200 "ok" with two Set-Cookie headers:
 *        "seen=1; Path=/" and "N=V; Path=/; HttpOnly".
 *   /text   small text/plain body.  /binary  bytes 0x00-0xff,
 *        application/octet-stream.  /ctl  text/plain with ANSI escape
 *        sequences and other control characters.
 *   /slow-body?n=N&ms=M            headers at once, then one pattern byte
 *        every M ms.
 *   /reset-next                    200 "ok", keep-alive; the next request
 *        on the same connection gets a TCP reset instead of an answer (a
 *        server that dropped an idle keep-alive connection as the client
 *        reused it).
 *   /reset                         a TCP reset instead of an answer.
 *   /big-header?n=N                200 "ok" with one header "X-Big" of N
 *        bytes (at most 4 MiB).
 *   /many-headers?n=N              200 "ok" with N headers "X-H<i>: <i>"
 *        (at most 1,000,000).
 *   /login   a JSON body {"user": U, "password": P} (strings; escapes
 *        other than \uXXXX understood): P "hunter2" gets 200
 *        {"token": "t-<n>-<16 hex digits>", "user": U}, a new token each
 *        time; another P 401 {"error": "bad credentials"}; a body without
 *        both strings 400. The last 64 tokens issued are valid.
 *   /api/items, /api/items/N   with "Authorization: Bearer <valid token>":
 *        200 {"items": [{"id": 1, "name": "apple"}, ... 3 items]}, or
 *        item N alone (404 {"error": "no such item"} past them); without
 *        401 {"error": "unauthorized"} and "WWW-Authenticate: Bearer".
 *        All of these answer application/json.
 *   anything else                  404.
 * A malformed or out-of-range parameter gets 400 with the reason as body.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define MAX_HEAD (64 * 1024)                /* request line + headers */
#define MAX_BODY ((size_t)64 * 1024 * 1024) /* request body */
#define MAX_HEADERS 128
#define RESET_DELAY_MS 30 /* /reset, /reset-next: reset after this long */
#define MAX_CONNS 8192
#define CHUNK 65536      /* bytes generated per refill of a stream */
#define STORED_MAX 65535 /* largest deflate stored block */
#define LINGER_MS 2000   /* how long to drain input before closing */
#define MAX_DELAY_MS 600000

static int g_port;
static int g_verbose;

static void die(const char *what)
{
  fprintf(stderr, "corun-test-httpd: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int64_t now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Growable byte buffer, kept NUL-terminated so it can be used as a string;
 * running out of memory ends the server.
 */
struct sbuf {
  char *p;
  size_t len, cap;
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
  size_t cap;
  char *p;

  if (b->len + extra <= b->cap)
    return;
  cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra)
    cap *= 2;
  p = realloc(b->p, cap);
  if (p == NULL)
    die("realloc");
  b->p = p;
  b->cap = cap;
}

static void sb_add(struct sbuf *b, const void *d, size_t n)
{
  sb_reserve(b, n + 1);
  memcpy(b->p + b->len, d, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_addc(struct sbuf *b, char ch)
{
  sb_add(b, &ch, 1);
}

static void sb_adds(struct sbuf *b, const char *s)
{
  sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  sb_reserve(b, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void sb_free(struct sbuf *b)
{
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* CRC-32 (IEEE, as gzip uses it), table-driven. */
static uint32_t crc_table[256];

static void crc_init(void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

/* crc is the running value, starting at 0 and final as is. */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n)
{
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* Size of the gzip member holding n bytes in stored blocks. */
static uint64_t gzip_size(uint64_t n)
{
  uint64_t blocks = n ? (n + STORED_MAX - 1) / STORED_MAX : 1;

  return 10 + 5 * blocks + n + 8;
}

/*
 * A response body produced piece by piece, so large and slow bodies never
 * sit whole in memory.
 */
enum gen_kind { GEN_NONE, GEN_BYTES, GEN_GZIP, GEN_SLOW, GEN_BOMB };

struct gen {
  enum gen_kind kind;
  uint64_t off;    /* index of the next pattern byte */
  uint64_t left;   /* pattern bytes still to produce */
  uint32_t crc;    /* gzip: CRC of the bytes produced so far */
  int stage;       /* gzip: 0 header, 1 blocks, 2 trailer, 3 done */
  int cut;         /* gzip: end without the final block and the trailer */
  int64_t step_ms; /* slow: pause before each byte */
  int64_t next_at; /* slow: when the next byte is due */
  uint64_t bits;   /* bomb: bits not yet written out, lowest first */
  int nbits;       /* bomb: how many */
};

static void put_pattern(struct sbuf *b, struct gen *g, size_t n)
{
  sb_reserve(b, n + 1);
  for (size_t i = 0; i < n; i++)
    b->p[b->len + i] = TEST_SERVER_BYTE(g->off + i);
  b->len += n;
  b->p[b->len] = '\0';
  g->off += n;
  g->left -= n;
}

static void put_le32(struct sbuf *b, uint32_t v)
{
  unsigned char x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
                        (v >> 24) & 0xff};
  sb_add(b, x, 4);
}

enum { FILL_MORE = 1, FILL_WAIT = 0, FILL_DONE = -1 };

/*
 * The gzip bomb: n zero bytes (n = 1 + 258 k) as one fixed-Huffman deflate
 * block: a literal 0, then k copies of "258 bytes from distance 1", 13 bits
 * each, so the body inflates about 160 times. The trailer's CRC of n zeros
 * is computed by raising the one-zero-byte CRC operator (a 32x32 matrix
 * over GF(2)) to the n-th power, not by running n bytes through.
 */
#define BOMB_RUN 258

static uint64_t bomb_runs(uint64_t n)
{
  return n > 1 ? (n - 1 + BOMB_RUN - 1) / BOMB_RUN : 0;
}

static uint64_t bomb_size(uint64_t runs)
{
  uint64_t bits = 3 + 8 + 13 * runs + 7;

  return 10 + (bits + 7) / 8 + 8;
}

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
  uint32_t sum = 0;

  for (int i = 0; vec; i++, vec >>= 1)
    if (vec & 1)
      sum ^= mat[i];
  return sum;
}

static void gf2_square(uint32_t *sq, const uint32_t *mat)
{
  for (int i = 0; i < 32; i++)
    sq[i] = gf2_times(mat, mat[i]);
}

static uint32_t crc_of_zeros(uint64_t n)
{
  uint32_t op[32], tmp[32], reg = 0xffffffffu;

  /* One zero bit: the reflected register shifts, folding in the poly. */
  op[0] = 0xedb88320u;
  for (int i = 1; i < 32; i++)
    op[i] = 1u << (i - 1);
  gf2_square(tmp, op); /* two bits */
  gf2_square(op, tmp); /* four */
  gf2_square(tmp, op); /* a byte */
  memcpy(op, tmp, sizeof op);
  for (; n; n >>= 1) {
    if (n & 1)
      reg = gf2_times(op, reg);
    gf2_square(tmp, op);
    memcpy(op, tmp, sizeof op);
  }
  return ~reg;
}

/* Huffman codes go out most significant bit first, all else lowest first. */
static void bomb_code(struct gen *g, uint32_t code, int len)
{
  for (int i = len - 1; i >= 0; i--)
    g->bits |= (uint64_t)((code >> i) & 1) << g->nbits++;
}

static void bomb_flush(struct gen *g, struct sbuf *b, int all)
{
  while (g->nbits >= 8 || (all && g->nbits > 0)) {
    unsigned char byte = (unsigned char)(g->bits & 0xff);

    sb_add(b, &byte, 1);
    g->bits >>= 8;
    g->nbits = g->nbits >= 8 ? g->nbits - 8 : 0;
  }
}

static int bomb_fill(struct gen *g, struct sbuf *b)
{
  size_t start = b->len;

  if (g->stage == 0) {
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};

    sb_add(b, hdr, sizeof hdr);
    g->bits = 1 | 1 << 1; /* BFINAL, then BTYPE 01: fixed codes */
    g->nbits = 3;
    bomb_code(g, 0x30, 8); /* literal 0 */
    g->stage = 1;
  }
  if (g->stage == 1) {
    while (g->left > 0 && b->len - start < CHUNK) {
      bomb_code(g, 0xc5, 8); /* length 258 (code 285) */
      bomb_code(g, 0, 5);    /* distance 1 (code 0) */
      g->left--;
      bomb_flush(g, b, 0);
    }
    if (g->left > 0)
      return FILL_MORE;
    bomb_code(g, 0, 7); /* end of block */
    bomb_flush(g, b, 1);
    put_le32(b, crc_of_zeros(g->off));
    put_le32(b, (uint32_t)g->off);
    g->stage = 2;
    return FILL_MORE;
  }
  return FILL_DONE;
}


/*
 * Appends the next piece of g to b. FILL_WAIT: nothing is due before *wake
 * (slow bodies); FILL_DONE: the body is complete.
 */
static int gen_fill(struct gen *g, struct sbuf *b, int64_t now, int64_t *wake)
{
  switch (g->kind) {
  case GEN_NONE:
    return FILL_DONE;
  case GEN_BYTES:
    if (g->left == 0)
      return FILL_DONE;
    put_pattern(b, g, g->left < CHUNK ? (size_t)g->left : CHUNK);
    return FILL_MORE;
  case GEN_SLOW:
    if (g->left == 0)
      return FILL_DONE;
    if (now < g->next_at) {
      *wake = g->next_at;
      return FILL_WAIT;
    }
    put_pattern(b, g, 1);
    g->next_at = now + g->step_ms;
    return FILL_MORE;
  case GEN_BOMB:
    return bomb_fill(g, b);
  case GEN_GZIP:
    break;
  }
  if (g->stage == 0) {
    /* Magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
    sb_add(b, hdr, sizeof hdr);
    g->stage = 1;
    return FILL_MORE;
  }
  if (g->stage == 1) {
    size_t n = g->left < STORED_MAX ? (size_t)g->left : STORED_MAX;
    int last = n == g->left, final = last && !g->cut;
    unsigned char bh[5] = {final ? 1 : 0, n & 0xff, (n >> 8) & 0xff, ~n & 0xff,
                           (~n >> 8) & 0xff};
    size_t at;

    /* BFINAL + BTYPE=00 in one byte; byte-aligned LEN and NLEN follow. */
    sb_add(b, bh, sizeof bh);
    at = b->len;
    put_pattern(b, g, n);
    g->crc = crc_update(g->crc, (unsigned char *)b->p + at, n);
    if (last)
      g->stage = g->cut ? 3 : 2;
    return FILL_MORE;
  }
  if (g->stage == 2) {
    put_le32(b, g->crc);
    put_le32(b, (uint32_t)g->off); /* ISIZE is the length mod 2^32 */
    g->stage = 3;
    return FILL_MORE;
  }
  return FILL_DONE;
}

/* Request counters of /flaky and /retry-after, shared by all connections. */
struct counter {
  char *id;
  unsigned long n;
  struct counter *next;
};
static struct counter *g_counters;

static struct counter *counter_get(const char *id)
{
  struct counter *c;

  for (c = g_counters; c; c = c->next)
    if (strcmp(c->id, id) == 0)
      return c;
  c = calloc(1, sizeof *c);
  if (c == NULL || (c->id = strdup(id)) == NULL)
    die("calloc");
  c->next = g_counters;
  g_counters = c;
  return c;
}

struct param {
  char *name, *value; /* decoded, owned */
};

struct header {
  char *name, *value; /* point into the request's copy of its head */
};

struct req {
  char *head; /* owned, NUL-terminated copy of the request head */
  char *method, *target, *path, *query;
  struct header hdr[MAX_HEADERS];
  size_t nhdr;
  struct param *params;
  size_t nparams;
  size_t body_len;
  const char *body; /* into the connection's input buffer */
  int expect_continue;
};

static void req_free(struct req *r)
{
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->nparams; i++) {
    free(r->params[i].name);
    free(r->params[i].value);
  }
  free(r->params);
  free(r->head);
  free(r);
}

enum conn_state {
  ST_READ,  /* reading a request */
  ST_WAIT,  /* response ready, not due before wake_at */
  ST_WRITE, /* sending the response */
  ST_DRAIN  /* output shut down; reading until EOF so the peer gets it all */
};

struct conn {
  int fd;
  enum conn_state state;
  struct sbuf in;
  size_t head_len; /* of the request being read, once its head is in */
  struct req *req;
  struct sbuf out;
  size_t out_off;
  struct gen gen;
  int64_t wake_at;
  int keep_alive; /* read another request after this response */
  int drop;       /* close as soon as the body generator ends */
  int no_body;    /* HEAD or a bodiless status: headers only */
  int peer_eof;   /* the client has shut down its side */
  int reset_next; /* answer the next request with a TCP reset */
  int reset_now;  /* reset once wake_at has come */
};

static unsigned long g_accepted; /* connections accepted so far */
static struct conn **g_conns;
static size_t g_nconns, g_capconns;

static const struct {
  int code;
  const char *text;
} REASONS[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {410, "Gone"},
    {413, "Content Too Large"},
    {418, "I'm a teapot"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

static const char *reason(int code)
{
  for (size_t i = 0; i < sizeof REASONS / sizeof *REASONS; i++)
    if (REASONS[i].code == code)
      return REASONS[i].text;
  return "Unknown";
}

/* RFC 9110: these never have content, so no Content-Length either. */
static int bodiless(int code)
{
  return code < 200 || code == 204 || code == 304;
}

/* Status line and headers; extra is more "Name: value\r\n" lines or NULL. */
static void head(struct conn *c, const struct req *r, int code,
                 const char *ctype, uint64_t clen, const char *extra)
{
  struct sbuf *o = &c->out;

  sb_printf(o, "HTTP/1.1 %d %s\r\nServer: corun-test-httpd\r\n", code,
            reason(code));
  if (!bodiless(code)) {
    if (ctype)
      sb_printf(o, "Content-Type: %s\r\n", ctype);
    sb_printf(o, "Content-Length: %llu\r\n", (unsigned long long)clen);
  }
  if (extra)
    sb_adds(o, extra);
  sb_printf(o, "Connection: %s\r\n\r\n",
            c->keep_alive ? "keep-alive" : "close");
  c->no_body = bodiless(code) || (r && strcmp(r->method, "HEAD") == 0);
  if (g_verbose)
    fprintf(stderr, "corun-test-httpd: %s %s -> %d\n", r ? r->method : "-",
            r ? r->target : "-", code);
}

static void reply(struct conn *c, const struct req *r, int code,
                  const char *ctype, const void *body, size_t len,
                  const char *extra)
{
  head(c, r, code, ctype, len, extra);
  if (!c->no_body)
    sb_add(&c->out, body, len);
}

static void reply_text(struct conn *c, const struct req *r, int code,
                       const char *text)
{
  reply(c, r, code, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

/* Sends n pattern bytes through generator kind k after the headers. */
static void reply_pattern(struct conn *c, const struct req *r, int code,
                          const char *ctype, enum gen_kind k, uint64_t n,
                          uint64_t announced, const char *extra)
{
  head(c, r, code, ctype, announced, extra);
  if (c->no_body)
    return;
  memset(&c->gen, 0, sizeof c->gen);
  c->gen.kind = k;
  c->gen.left = n;
}

/* A request the server cannot or will not parse: answer and hang up. */
static void fail(struct conn *c, const struct req *r, int code, const char *why)
{
  c->keep_alive = 0;
  reply_text(c, r, code, why);
}

static int hexval(int ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..n) with '+' as a space; malformed escapes stay. */
static char *url_decode(const char *s, size_t n)
{
  char *out = malloc(n + 1), *o = out;

  if (out == NULL)
    die("malloc");
  for (size_t i = 0; i < n; i++) {
    int hi, lo;

    if (s[i] == '+') {
      *o++ = ' ';
    } else if (s[i] == '%' && i + 2 < n &&
               (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
               (lo = hexval((unsigned char)s[i + 2])) >= 0) {
      *o++ = (char)(hi * 16 + lo);
      i += 2;
    } else {
      *o++ = s[i];
    }
  }
  *o = '\0';
  return out;
}

static void parse_query(struct req *r)
{
  const char *q = r->query;

  while (*q) {
    const char *amp = strchr(q, '&'), *eq;
    size_t len = amp ? (size_t)(amp - q) : strlen(q);

    if (len > 0) {
      struct param *np = realloc(r->params, (r->nparams + 1) * sizeof *np);
      if (np == NULL)
        die("realloc");
      r->params = np;
      eq = memchr(q, '=', len);
      if (eq) {
        np[r->nparams].name = url_decode(q, (size_t)(eq - q));
        np[r->nparams].value = url_decode(eq + 1, len - (size_t)(eq - q) - 1);
      } else {
        np[r->nparams].name = url_decode(q, len);
        np[r->nparams].value = url_decode("", 0);
      }
      r->nparams++;
    }
    q += len;
    if (*q == '&')
      q++;
  }
}

static const char *param(const struct req *r, const char *name)
{
  for (size_t i = 0; i < r->nparams; i++)
    if (strcmp(r->params[i].name, name) == 0)
      return r->params[i].value;
  return NULL;
}

#define REQUIRED UINT64_MAX

/*
 * The decimal parameter name, def when absent (REQUIRED: absence is an
 * error). Returns -1 when it is missing, malformed or above max.
 */
static int param_u64(const struct req *r, const char *name, uint64_t def,
                     uint64_t max, uint64_t *v)
{
  const char *s = param(r, name);
  uint64_t x = 0;

  if (s == NULL) {
    *v = def;
    return def == REQUIRED ? -1 : 0;
  }
  if (*s == '\0')
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    if (x > (UINT64_MAX - 9) / 10)
      return -1;
    x = x * 10 + (uint64_t)(*s - '0');
  }
  if (x > max)
    return -1;
  *v = x;
  return 0;
}

/* About to become a header value: no CR or LF (a %00 already ends it). */
static int header_safe(const char *s)
{
  return s && strpbrk(s, "\r\n") == NULL;
}

/* Does the comma-separated header value list hold token (any case)? */
static int has_token(const char *list, const char *token)
{
  size_t tl = strlen(token);

  while (list && *list) {
    while (*list == ' ' || *list == '\t' || *list == ',')
      list++;
    if (strncasecmp(list, token, tl) == 0 &&
        (list[tl] == '\0' || list[tl] == ',' || list[tl] == ' ' ||
         list[tl] == '\t'))
      return 1;
    list = strchr(list, ',');
  }
  return 0;
}

static int is_tchar(unsigned char ch)
{
  return ch > 0x20 && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch);
}

/*
 * Parses the head c->in[0..head_len) into a new c->req. On a bad request
 * it answers (fail) and returns -1.
 */
static int parse_head(struct conn *c)
{
  struct req *r = calloc(1, sizeof *r);
  char *line, *next, *sp1, *sp2, *version;
  int have_len = 0;

  if (r == NULL)
    die("calloc");
  c->req = r;
  r->head = malloc(c->head_len + 1);
  if (r->head == NULL)
    die("malloc");
  memcpy(r->head, c->in.p, c->head_len);
  r->head[c->head_len] = '\0';
  r->method = r->target = r->path = r->query = "";
  /* The parse below runs on C strings: a NUL would cut it short. */
  if (memchr(r->head, '\0', c->head_len)) {
    fail(c, NULL, 400, "NUL byte in the request head\n");
    return -1;
  }

  line = r->head;
  next = strstr(line, "\r\n");
  *next = '\0';
  next += 2;
  sp1 = strchr(line, ' ');
  sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (sp1 == NULL || sp2 == NULL || sp1 == line) {
    fail(c, NULL, 400, "malformed request line\n");
    return -1;
  }
  *sp1 = *sp2 = '\0';
  r->method = line;
  r->target = sp1 + 1;
  version = sp2 + 1;
  for (const char *m = r->method; *m; m++)
    if (!is_tchar((unsigned char)*m)) {
      fail(c, NULL, 400, "malformed method\n");
      return -1;
    }
  if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0) {
    fail(c, NULL, 400, "unsupported HTTP version\n");
    return -1;
  }
  /* HTTP/1.1 stays open unless told otherwise; 1.0 closes unless asked. */
  c->keep_alive = strcmp(version, "HTTP/1.1") == 0;

  /* Absolute-form (proxy style) targets are reduced to the path. */
  r->path = r->target;
  if (strncasecmp(r->path, "http://", 7) == 0) {
    r->path = strchr(r->path + 7, '/');
    if (r->path == NULL) {
      fail(c, NULL, 400, "absolute target without a path\n");
      return -1;
    }
  }
  if (r->path[0] != '/') {
    fail(c, NULL, 400, "request target must start with '/'\n");
    return -1;
  }

  /* Header lines until the empty line that ends the head. */
  for (line = next; *line; line = next) {
    char *colon, *v, *end;

    next = strstr(line, "\r\n");
    *next = '\0';
    next += 2;
    if (*line == '\0')
      break;
    colon = strchr(line, ':');
    if (colon == NULL || colon == line || *line == ' ' || *line == '\t') {
      fail(c, NULL, 400, "malformed header line\n");
      return -1;
    }
    *colon = '\0';
    for (const char *n = line; *n; n++)
      if (!is_tchar((unsigned char)*n)) {
        fail(c, NULL, 400, "malformed header name\n");
        return -1;
      }
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
      *--end = '\0';
    if (r->nhdr == MAX_HEADERS) {
      fail(c, NULL, 431, "too many header lines\n");
      return -1;
    }
    r->hdr[r->nhdr].name = line;
    r->hdr[r->nhdr].value = v;
    r->nhdr++;

    if (strcasecmp(line, "Content-Length") == 0) {
      size_t n = 0;

      if (*v == '\0') {
        fail(c, NULL, 400, "bad Content-Length\n");
        return -1;
      }
      for (const char *d = v; *d; d++) {
        if (*d < '0' || *d > '9' || n > MAX_BODY) {
          fail(c, NULL, 400, "bad Content-Length\n");
          return -1;
        }
        n = n * 10 + (size_t)(*d - '0');
      }
      if (have_len && n != r->body_len) {
        fail(c, NULL, 400, "conflicting Content-Length\n");
        return -1;
      }
      if (n > MAX_BODY) {
        fail(c, NULL, 413, "request body too large\n");
        return -1;
      }
      r->body_len = n;
      have_len = 1;
    } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
      fail(c, NULL, 501, "request Transfer-Encoding is not supported\n");
      return -1;
    } else if (strcasecmp(line, "Connection") == 0) {
      if (has_token(v, "close"))
        c->keep_alive = 0;
      else if (has_token(v, "keep-alive"))
        c->keep_alive = 1;
    } else if (strcasecmp(line, "Expect") == 0) {
      r->expect_continue = strcasecmp(v, "100-continue") == 0;
    }
  }

  r->query = strchr(r->path, '?');
  if (r->query)
    *r->query++ = '\0';
  else
    r->query = r->path + strlen(r->path);
  parse_query(r);
  return 0;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
  size_t len;
  uint32_t cp;

  if (p[0] < 0x80)
    return 1;
  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    len = 2, cp = p[0] & 0x1f;
  else if (p[0] >= 0xe0 && p[0] <= 0xef)
    len = 3, cp = p[0] & 0x0f;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4)
    len = 4, cp = p[0] & 0x07;
  else
    return 0;
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  /* Overlong forms, surrogates and code points past U+10FFFF. */
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    return 0;
  return len;
}

static void json_str(struct sbuf *b, const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s;

  sb_addc(b, '"');
  for (size_t i = 0; i < n;) {
    unsigned char ch = p[i];
    size_t len;

    if (ch == '"' || ch == '\\') {
      sb_addc(b, '\\');
      sb_addc(b, (char)ch);
      i++;
    } else if (ch == '\n') {
      sb_adds(b, "\\n");
      i++;
    } else if (ch == '\r') {
      sb_adds(b, "\\r");
      i++;
    } else if (ch == '\t') {
      sb_adds(b, "\\t");
      i++;
    } else if (ch < 0x20 || ch == 0x7f) {
      sb_printf(b, "\\u%04x", ch);
      i++;
    } else if ((len = utf8_len(p + i, n - i)) > 0) {
      sb_add(b, p + i, len);
      i += len;
    } else {
      /* Not UTF-8: keep the byte's value visible rather than drop it. */
      sb_printf(b, "\\u%04x", ch);
      i++;
    }
  }
  sb_addc(b, '"');
}

static void route_echo(struct conn *c, const struct req *r)
{
  struct sbuf j = {0};

  sb_adds(&j, "{\"method\":");
  json_str(&j, r->method, strlen(r->method));
  sb_adds(&j, ",\"path\":");
  json_str(&j, r->path, strlen(r->path));
  sb_adds(&j, ",\"query\":");
  json_str(&j, r->query, strlen(r->query));
  sb_adds(&j, ",\"headers\":{");
  for (size_t i = 0, first = 1; i < r->nhdr; i++) {
    size_t k;

    /* Each name once, at its first line, with every value it was given. */
    for (k = 0; k < i; k++)
      if (strcasecmp(r->hdr[k].name, r->hdr[i].name) == 0)
        break;
    if (k < i)
      continue;
    struct sbuf name = {0}, val = {0};
    for (const char *n = r->hdr[i].name; *n; n++)
      sb_addc(&name, (char)((*n >= 'A' && *n <= 'Z') ? *n + 32 : *n));
    sb_adds(&val, r->hdr[i].value);
    for (k = i + 1; k < r->nhdr; k++)
      if (strcasecmp(r->hdr[k].name, r->hdr[i].name) == 0) {
        sb_adds(&val, ", ");
        sb_adds(&val, r->hdr[k].value);
      }
    if (!first)
      sb_addc(&j, ',');
    first = 0;
    json_str(&j, name.p, name.len);
    sb_addc(&j, ':');
    json_str(&j, val.p ? val.p : "", val.len);
    sb_free(&name);
    sb_free(&val);
  }
  sb_adds(&j, "},\"body\":");
  json_str(&j, r->body, r->body_len);
  sb_printf(&j, ",\"bytes\":%zu}", r->body_len);
  reply(c, r, 200, "application/json", j.p, j.len, NULL);
  sb_free(&j);
}

static const char CTL_BODY[] = "plain line\n"
                               "\x1b[31mred\x1b[0m and \x1b[1mbold\x1b[0m\n"
                               "\x1b]0;window title\x07 OSC title\n"
                               "\x1b[2J\x1b[H clear screen\n"
                               "bell\x07 backspace\x08 carriage\rreturn\n"
                               "nul \x01\x02\x03 del \x7f tab\there\n"
                               "C1 CSI \xc2\x9b"
                               "31m in UTF-8\n";

static int valid_redirect_code(uint64_t code)
{
  return code >= 300 && code <= 399;
}

static void route_redirect(struct conn *c, const struct req *r)
{
  uint64_t n, code;
  struct sbuf loc = {0};

  if (param_u64(r, "n", REQUIRED, 1000, &n) < 0 ||
      param_u64(r, "code", 302, 999, &code) < 0 || !valid_redirect_code(code)) {
    reply_text(c, r, 400, "need n=0..1000 and code=300..399\n");
    return;
  }
  if (n == 0) {
    reply_text(c, r, 200, "done");
    return;
  }
  sb_printf(&loc, "Location: http://127.0.0.1:%d/redirect?n=%llu", g_port,
            (unsigned long long)(n - 1));
  if (param(r, "code"))
    sb_printf(&loc, "&code=%llu", (unsigned long long)code);
  sb_adds(&loc, "\r\n");
  reply(c, r, (int)code, "text/plain", "redirecting\n", 12, loc.p);
  sb_free(&loc);
}

/* Location: to, with code; to comes from the query, so check it first. */
static void redirect_to(struct conn *c, const struct req *r, const char *to,
                        uint64_t code)
{
  struct sbuf loc = {0};

  if (!header_safe(to) || *to == '\0') {
    reply_text(c, r, 400, "need a non-empty target without CR or LF\n");
    return;
  }
  sb_printf(&loc, "Location: %s\r\n", to);
  reply(c, r, (int)code, "text/plain", "redirecting\n", 12, loc.p);
  sb_free(&loc);
}

/* /flaky and /retry-after. */
static void route_flaky(struct conn *c, const struct req *r, int retry_after)
{
  const char *id = param(r, "id"), *after = param(r, "after");
  uint64_t fails, code, n;
  struct counter *ctr;
  char body[64];

  if (after == NULL)
    after = "1";
  if (id == NULL || param_u64(r, "fail", REQUIRED, UINT32_MAX, &fails) < 0 ||
      param_u64(r, "code", retry_after ? 429 : 503, 599, &code) < 0 ||
      param_u64(r, "n", 0, 1 << 20, &n) < 0 ||
      code < 200 || strspn(after, "0123456789") != strlen(after) ||
      *after == '\0' || strlen(after) > 10) {
    reply_text(c, r, 400, "need id, fail=K, code=200..599, after=SECONDS\n");
    return;
  }
  ctr = counter_get(id);
  ctr->n++;
  if (ctr->n > fails) {
    reply_text(c, r, 200, "ok");
    return;
  }
  snprintf(body, sizeof body, "failure %lu of %llu\n", ctr->n,
           (unsigned long long)fails);
  if (n > 0) {
    char *big = malloc(n);

    if (big == NULL) {
      reply_text(c, r, 500, "out of memory\n");
      return;
    }
    memset(big, 'x', n);
    reply(c, r, (int)code, "text/plain", big, n, NULL);
    free(big);
    return;
  }
  if (retry_after) {
    char extra[64];

    snprintf(extra, sizeof extra, "Retry-After: %s\r\n", after);
    reply(c, r, (int)code, "text/plain", body, strlen(body), extra);
  } else {
    reply_text(c, r, (int)code, body);
  }
}

/*
 * /login and /api/items: a small authenticated API for the smoke-test
 * example. Issued tokens live in a ring, so the oldest stops working once
 * TOKENS newer ones exist, as an expired session would.
 */
#define TOKENS 64
static char g_tokens[TOKENS][48];
static unsigned long g_issued;

static const char *const ITEMS[] = {"apple", "pear", "plum"};
#define NITEMS (sizeof ITEMS / sizeof *ITEMS)

/* Unpredictable enough that a test cannot pass by guessing a token. */
static uint64_t token_random(void)
{
  static uint64_t s;
  struct timespec ts;

  if (s == 0) {
    clock_gettime(CLOCK_REALTIME, &ts);
    s = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
        (uint64_t)getpid() << 32;
    s |= 1;
  }
  /* xorshift64* */
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 0x2545f4914f6cdd1dull;
}

/*
 * The string member key of the JSON object in body[0..n), unescaped, or
 * NULL (absent, not a string, or using \u escapes, which no test needs).
 * Not a JSON parser: a key is a quoted key followed by ':'.
 */
static char *json_member(const char *body, size_t n, const char *key)
{
  size_t kl = strlen(key), i = 0;

  while (i < n && strchr(" \t\r\n", body[i]))
    i++;
  if (i == n || body[i] != '{')
    return NULL;
  for (; i + kl + 2 <= n; i++) {
    size_t j = i + kl + 2;
    struct sbuf v = {0};

    if (body[i] != '"' || memcmp(body + i + 1, key, kl) != 0 ||
        body[i + kl + 1] != '"')
      continue;
    while (j < n && strchr(" \t\r\n", body[j]))
      j++;
    if (j == n || body[j++] != ':')
      continue;
    while (j < n && strchr(" \t\r\n", body[j]))
      j++;
    if (j == n || body[j++] != '"')
      return NULL;
    for (; j < n && body[j] != '"'; j++) {
      const char *esc;

      if ((unsigned char)body[j] < 0x20)
        break;
      if (body[j] != '\\') {
        sb_addc(&v, body[j]);
      } else if (++j < n && (esc = strchr("\"\\/bfnrt", body[j])) != NULL &&
                 body[j] != '\0') {
        sb_addc(&v, "\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrt"]);
      } else {
        break;
      }
    }
    if (j < n && body[j] == '"') {
      if (v.p == NULL)
        sb_adds(&v, "");
      return v.p;
    }
    sb_free(&v);
    return NULL;
  }
  return NULL;
}

static void reply_json(struct conn *c, const struct req *r, int code,
                       const char *json, const char *extra)
{
  reply(c, r, code, "application/json", json, strlen(json), extra);
}

static void route_login(struct conn *c, const struct req *r)
{
  char *user = json_member(r->body, r->body_len, "user");
  char *password = json_member(r->body, r->body_len, "password");

  if (user == NULL || password == NULL) {
    reply_json(c, r, 400,
               "{\"error\": \"need a JSON body {\\\"user\\\": \\\"...\\\", "
               "\\\"password\\\": \\\"...\\\"}\"}",
               NULL);
  } else if (strcmp(password, "hunter2") != 0) {
    reply_json(c, r, 401, "{\"error\": \"bad credentials\"}", NULL);
  } else {
    char *tok = g_tokens[g_issued % TOKENS];
    struct sbuf j = {0};

    g_issued++;
    snprintf(tok, sizeof g_tokens[0], "t-%lu-%016llx", g_issued,
             (unsigned long long)token_random());
    sb_printf(&j, "{\"token\": \"%s\", \"user\": ", tok);
    json_str(&j, user, strlen(user));
    sb_adds(&j, "}");
    reply_json(c, r, 200, j.p, NULL);
    sb_free(&j);
  }
  free(user);
  free(password);
}

/* Does r carry "Authorization: Bearer T" with T a token still valid? */
static int authorized(const struct req *r)
{
  for (size_t i = 0; i < r->nhdr; i++) {
    const char *v = r->hdr[i].value;

    if (strcasecmp(r->hdr[i].name, "Authorization") != 0 ||
        strncasecmp(v, "Bearer ", 7) != 0)
      continue;
    for (v += 7; *v == ' '; v++)
      ;
    for (size_t k = 0; k < TOKENS && k < g_issued; k++)
      if (strcmp(g_tokens[k], v) == 0)
        return 1;
  }
  return 0;
}

/* /api/items and /api/items/N (p is the path). */
static void route_items(struct conn *c, const struct req *r, const char *p)
{
  struct sbuf j = {0};

  if (!authorized(r)) {
    reply_json(c, r, 401, "{\"error\": \"unauthorized\"}",
               "WWW-Authenticate: Bearer\r\n");
    return;
  }
  if (p[10] == '\0') {
    sb_adds(&j, "{\"items\": [");
    for (size_t i = 0; i < NITEMS; i++)
      sb_printf(&j, "%s{\"id\": %zu, \"name\": \"%s\"}", i ? ", " : "", i + 1,
                ITEMS[i]);
    sb_adds(&j, "]}");
  } else {
    const char *d = p + 11;

    /* 1 to NITEMS exactly: no sign, no leading zero, nothing after. */
    if (d[0] >= '1' && d[0] <= '0' + (int)NITEMS && d[1] == '\0')
      sb_printf(&j, "{\"id\": %c, \"name\": \"%s\"}", d[0], ITEMS[d[0] - '1']);
  }
  if (j.p)
    reply_json(c, r, 200, j.p, NULL);
  else
    reply_json(c, r, 404, "{\"error\": \"no such item\"}", NULL);
  sb_free(&j);
}

/* Builds the response to the complete request r; may set c->wake_at. */
static void route(struct conn *c, const struct req *r, int64_t now)
{
  const char *p = r->path;
  uint64_t n, ms, code;

  memset(&c->gen, 0, sizeof c->gen);
  c->wake_at = 0;
  c->drop = 0;

  if (strcmp(p, "/bytes") == 0) {
    const char *type = param(r, "type");
    const char *gz = param(r, "gzip");

    if (type == NULL)
      type = "application/octet-stream";
    if (param_u64(r, "n", REQUIRED, UINT64_MAX / 2, &n) < 0 ||
        !header_safe(type)) {
      reply_text(c, r, 400, "need n=BYTES and a type without CR/LF\n");
    } else if (gz && strcmp(gz, "1") == 0) {
      reply_pattern(c, r, 200, type, GEN_GZIP, n, gzip_size(n),
                    "Content-Encoding: gzip\r\n");
    } else if (gz && strcmp(gz, "cut") == 0) {
      /* Content-Length matches what is sent: only the stream is short. */
      reply_pattern(c, r, 200, type, GEN_GZIP, n, gzip_size(n) - 8,
                    "Content-Encoding: gzip\r\n");
      c->gen.cut = 1;
    } else {
      reply_pattern(c, r, 200, type, GEN_BYTES, n, n, NULL);
    }
  } else if (strcmp(p, "/gzip-bomb") == 0) {
    uint64_t runs;

    if (param_u64(r, "n", REQUIRED, (uint64_t)1 << 44, &n) < 0) {
      reply_text(c, r, 400, "need n=BYTES, at most 2^44\n");
      return;
    }
    runs = bomb_runs(n);
    reply_pattern(c, r, 200, "application/octet-stream", GEN_BOMB, runs,
                  bomb_size(runs), "Content-Encoding: gzip\r\n");
    c->gen.off = 1 + runs * BOMB_RUN; /* the bytes it inflates to */
  } else if (strcmp(p, "/status") == 0) {
    const char *body = param(r, "body");

    if (param_u64(r, "code", REQUIRED, 599, &code) < 0 || code < 200)
      reply_text(c, r, 400, "need code=200..599\n");
    else
      reply_text(c, r, (int)code, body ? body : "");
  } else if (strcmp(p, "/delay") == 0) {
    if (param_u64(r, "ms", REQUIRED, MAX_DELAY_MS, &ms) < 0 ||
        param_u64(r, "n", 0, UINT64_MAX / 2, &n) < 0) {
      reply_text(c, r, 400, "need ms=0..600000 and optional n=BYTES\n");
      return;
    }
    if (param(r, "n"))
      reply_pattern(c, r, 200, "application/octet-stream", GEN_BYTES, n, n,
                    NULL);
    else
      reply_text(c, r, 200, "ok");
    c->wake_at = now + (int64_t)ms;
  } else if (strcmp(p, "/redirect") == 0) {
    route_redirect(c, r);
  } else if (strcmp(p, "/redirect-to") == 0) {
    if (param_u64(r, "code", 302, 999, &code) < 0 ||
        !valid_redirect_code(code) || param(r, "url") == NULL)
      reply_text(c, r, 400, "need url=URL and code=300..399\n");
    else
      redirect_to(c, r, param(r, "url"), code);
  } else if (strcmp(p, "/headers-on-redirect") == 0) {
    if (param(r, "to") == NULL)
      reply_text(c, r, 400, "need to=URL\n");
    else
      redirect_to(c, r, param(r, "to"), 302);
  } else if (strcmp(p, "/drop") == 0) {
    if (param_u64(r, "n", REQUIRED, UINT64_MAX / 4, &n) < 0) {
      reply_text(c, r, 400, "need n=BYTES\n");
      return;
    }
    reply_pattern(c, r, 200, "application/octet-stream", GEN_BYTES, n, 2 * n,
                  NULL);
    c->drop = 1;
  } else if (strcmp(p, "/flaky") == 0) {
    route_flaky(c, r, 0);
  } else if (strcmp(p, "/retry-after") == 0) {
    route_flaky(c, r, 1);
  } else if (strcmp(p, "/conns") == 0) {
    char body[32];

    /* How many connections were ever accepted: shows keep-alive reuse. */
    snprintf(body, sizeof body, "%lu", g_accepted);
    reply_text(c, r, 200, body);
  } else if (strcmp(p, "/count") == 0) {
    const char *id = param(r, "id");
    char body[32];

    if (id == NULL) {
      reply_text(c, r, 400, "need id=ID\n");
      return;
    }
    snprintf(body, sizeof body, "%lu", counter_get(id)->n);
    reply_text(c, r, 200, body);
  } else if (strcmp(p, "/echo") == 0) {
    route_echo(c, r);
  } else if (strcmp(p, "/file") == 0) {
    const char *path = param(r, "path"), *enc = param(r, "enc");
    const char *enc2 = param(r, "enc2"), *fold = param(r, "fold");
    char extra[1024] = "";
    uint64_t cut = 0;
    size_t len = 0;
    char *data = NULL;
    FILE *f;

    if (path && (f = fopen(path, "rb")) != NULL) {
      data = malloc(16u << 20);
      len = data ? fread(data, 1, 16u << 20, f) : 0;
      fclose(f);
    }
    if (data == NULL || param_u64(r, "cut", 0, len, &cut) < 0 ||
        (enc && (!header_safe(enc) || strlen(enc) > 80)) ||
        (enc2 && (!enc || !header_safe(enc2) || strlen(enc2) > 80)) ||
        (fold && (!enc || !header_safe(fold) || strlen(fold) > 80))) {
      reply_text(c, r, 400, "need path=FILE, cut=BYTES and a plain enc\n");
    } else {
      const char *to = param(r, "to");
      size_t at = 0;

      if (enc)
        at += (size_t)snprintf(extra, sizeof extra,
                               "Content-Encoding: %s\r\n", enc);
      if (fold)
        at += (size_t)snprintf(extra + at, sizeof extra - at, "  %s\r\n", fold);
      if (enc2)
        at += (size_t)snprintf(extra + at, sizeof extra - at,
                               "Content-Encoding: %s\r\n", enc2);
      if (to && header_safe(to) && strlen(to) < sizeof extra - at - 16)
        snprintf(extra + at, sizeof extra - at, "Location: %s\r\n", to);
      reply(c, r, to ? 302 : 200, "application/octet-stream", data,
            len - (size_t)cut, extra[0] ? extra : NULL);
    }
    free(data);
  } else if (strcmp(p, "/cookie") == 0) {
    const char *name = param(r, "name"), *value = param(r, "value");
    char extra[1024];

    if (name == NULL || value == NULL || !header_safe(name) ||
        !header_safe(value) || strlen(name) + strlen(value) > 400) {
      reply_text(c, r, 400, "need name=N and value=V\n");
    } else {
      snprintf(extra, sizeof extra,
               "Set-Cookie: seen=1; Path=/\r\nSet-Cookie: %s=%s; Path=/; "
               "HttpOnly\r\n",
               name, value);
      reply(c, r, 200, "text/plain", "ok\n", 3, extra);
    }
  } else if (strcmp(p, "/text") == 0) {
    reply_text(c, r, 200, "Hello from corun-test-httpd.\n");
  } else if (strcmp(p, "/binary") == 0) {
    unsigned char all[256];

    for (int i = 0; i < 256; i++)
      all[i] = (unsigned char)i;
    reply(c, r, 200, "application/octet-stream", all, sizeof all, NULL);
  } else if (strcmp(p, "/ctl") == 0) {
    reply(c, r, 200, "text/plain", CTL_BODY, sizeof CTL_BODY - 1, NULL);
  } else if (strcmp(p, "/slow-body") == 0) {
    if (param_u64(r, "n", REQUIRED, 1000000, &n) < 0 ||
        param_u64(r, "ms", REQUIRED, MAX_DELAY_MS, &ms) < 0) {
      reply_text(c, r, 400, "need n=0..1000000 and ms=0..600000\n");
      return;
    }
    reply_pattern(c, r, 200, "application/octet-stream", GEN_SLOW, n, n, NULL);
    c->gen.step_ms = (int64_t)ms;
    c->gen.next_at = now + (int64_t)ms;
  } else if (strcmp(p, "/big-header") == 0 ||
             strcmp(p, "/many-headers") == 0) {
    int many = p[1] == 'm';
    struct sbuf extra = {0};

    if (param_u64(r, "n", REQUIRED, many ? 1000000 : 4 << 20, &n) < 0) {
      reply_text(c, r, 400, "need n=0..4194304 (headers: 0..1000000)\n");
      return;
    }
    if (many) {
      for (uint64_t i = 0; i < n; i++) {
        char line[64];
        int len = snprintf(line, sizeof line, "X-H%llu: %llu\r\n",
                           (unsigned long long)i, (unsigned long long)i);

        sb_add(&extra, line, (size_t)len);
      }
    } else {
      sb_add(&extra, "X-Big: ", 7);
      for (uint64_t i = 0; i < n; i++)
        sb_add(&extra, "b", 1);
      sb_add(&extra, "\r\n", 2);
    }
    sb_add(&extra, "", 1); /* NUL-terminated for head() */
    reply(c, r, 200, "text/plain", "ok\n", 3, extra.p);
    sb_free(&extra);
  } else if (strcmp(p, "/chunked") == 0) {
    const char *cut = param(r, "cut");
    struct sbuf *o = &c->out;
    uint64_t i;

    if (param_u64(r, "n", REQUIRED, 1 << 24, &n) < 0) {
      reply_text(c, r, 400, "need n=0..16777216\n");
      return;
    }
    sb_printf(o, "HTTP/1.1 200 OK\r\nServer: corun-test-httpd\r\n"
                 "Content-Type: application/octet-stream\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: %s\r\n\r\n",
              c->keep_alive ? "keep-alive" : "close");
    for (i = 0; i < n; i += 4096) {
      uint64_t k = n - i < 4096 ? n - i : 4096;

      sb_printf(o, "%llx\r\n", (unsigned long long)k);
      for (uint64_t j = 0; j < k; j++)
        sb_add(o, &TEST_SERVER_PATTERN[(i + j) % 64], 1);
      sb_add(o, "\r\n", 2);
    }
    if (cut && strcmp(cut, "1") == 0) {
      c->drop = 1;
    } else if (param(r, "bad") && strcmp(param(r, "bad"), "1") == 0) {
      static const char bad_chunk[] = "zz\r\nabc\r\n0\r\n\r\n";

      sb_add(o, bad_chunk, sizeof(bad_chunk) - 1);
    } else {
      sb_add(o, "0\r\n\r\n", 5);
    }
  } else if (strcmp(p, "/reset-next") == 0) {
    reply_text(c, r, 200, "ok\n");
    c->reset_next = 1;
  } else if (strcmp(p, "/login") == 0) {
    route_login(c, r);
  } else if (strcmp(p, "/api/items") == 0 ||
             strncmp(p, "/api/items/", 11) == 0) {
    route_items(c, r, p);
  } else {
    reply_text(c, r, 404, "not found\n");
  }
}

static const char *find_crlf2(const char *p, size_t n)
{
  for (size_t i = 0; i + 3 < n; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
        p[i + 3] == '\n')
      return p + i;
  return NULL;
}

static void in_consume(struct conn *c, size_t n)
{
  memmove(c->in.p, c->in.p + n, c->in.len - n);
  c->in.len -= n;
}

/*
 * With the input read so far, parse and answer the next request if it is
 * complete. Returns 1 when a response is ready (state WAIT or WRITE), 0
 * when more input is needed.
 */
static int take_request(struct conn *c, int64_t now)
{
  if (c->req == NULL) {
    const char *end;
    size_t skip = 0;

    /* RFC 9112 2.2: ignore empty lines before a request line. */
    while (skip + 1 < c->in.len && c->in.p[skip] == '\r' &&
           c->in.p[skip + 1] == '\n')
      skip += 2;
    if (skip)
      in_consume(c, skip);
    end = find_crlf2(c->in.p, c->in.len);
    if (end == NULL) {
      if (c->in.len <= MAX_HEAD)
        return 0;
      fail(c, NULL, 431, "request head too large\n");
      c->state = ST_WRITE;
      return 1;
    }
    c->head_len = (size_t)(end - c->in.p) + 4;
    if (parse_head(c) < 0) {
      c->state = ST_WRITE;
      return 1;
    }
    if (c->req->expect_continue && c->req->body_len > 0 &&
        c->in.len < c->head_len + c->req->body_len) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

      /* The socket buffer is empty between responses, so this fits. */
      if (send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL) < 0 &&
          errno != EAGAIN && errno != EWOULDBLOCK)
        return 0; /* the next read or write notices the broken socket */
    }
  }
  if (c->in.len < c->head_len + c->req->body_len)
    return 0;
  c->req->body = c->in.p + c->head_len;
  if (c->reset_next || strcmp(c->req->path, "/reset") == 0) {
    /*
     * A little later, so that the client is already waiting for the
     * answer when the reset comes, as with a real server's idle timeout.
     */
    c->reset_now = 1;
    c->wake_at = now + RESET_DELAY_MS;
  } else {
    route(c, c->req, now);
  }
  in_consume(c, c->head_len + c->req->body_len);
  req_free(c->req);
  c->req = NULL;
  c->state = c->wake_at > now ? ST_WAIT : ST_WRITE;
  return 1;
}

/* Sends what it can; 1 when the whole response is out, 0 to wait, -1 dead. */
static int conn_write(struct conn *c, int64_t now)
{
  for (;;) {
    if (c->out_off == c->out.len) {
      int r;

      c->out.len = c->out_off = 0;
      r = gen_fill(&c->gen, &c->out, now, &c->wake_at);
      if (r == FILL_WAIT) {
        c->state = ST_WAIT;
        return 0;
      }
      if (r == FILL_DONE)
        return 1;
    }
    ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                     MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      return -1;
    }
    c->out_off += (size_t)w;
  }
}

/* Moves c on as far as it goes without blocking; -1: close it. */
static int conn_advance(struct conn *c, int64_t now)
{
  for (;;) {
    int r;

    switch (c->state) {
    case ST_READ:
      if (take_request(c, now) == 0)
        return c->peer_eof ? -1 : 0;
      break;
    case ST_WAIT:
      if (now < c->wake_at)
        return 0;
      if (c->reset_now) {
        struct linger hard = {1, 0};

        /* Closing with linger 0 sends RST rather than FIN. */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        return -1;
      }
      c->state = ST_WRITE;
      break;
    case ST_WRITE:
      r = conn_write(c, now);
      if (r <= 0)
        return r;
      if (c->drop)
        return -1;
      if (!c->keep_alive || c->peer_eof) {
        /*
         * Closing with unread input would reset the connection and could
         * destroy the response in flight: send FIN, then read until the
         * peer closes too (or a while passes).
         */
        shutdown(c->fd, SHUT_WR);
        c->state = ST_DRAIN;
        c->wake_at = now + LINGER_MS;
        return 0;
      }
      c->state = ST_READ;
      break;
    case ST_DRAIN:
      return now >= c->wake_at ? -1 : 0;
    }
  }
}

/*
 * Reads what is there; -1 when the socket broke. End of input only marks
 * peer_eof: a client may shut down its side after sending a request and
 * still wait for the answer.
 */
static int conn_read(struct conn *c)
{
  char tmp[65536];

  for (;;) {
    ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);

    if (n > 0) {
      if (c->state == ST_DRAIN)
        continue;
      sb_add(&c->in, tmp, (size_t)n);
      /* Bounded: head plus the largest body, then stop reading. */
      if (c->in.len > MAX_HEAD + MAX_BODY + 4)
        return -1;
      continue;
    }
    if (n == 0) {
      if (c->state == ST_DRAIN)
        return -1;
      c->peer_eof = 1;
      return 0;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return 0;
    return -1;
  }
}

static void conn_close(size_t i)
{
  struct conn *c = g_conns[i];

  close(c->fd);
  sb_free(&c->in);
  sb_free(&c->out);
  req_free(c->req);
  free(c);
  g_conns[i] = g_conns[--g_nconns];
}

static void set_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);

  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    die("fcntl");
}

static void accept_all(int lfd)
{
  for (;;) {
    int fd = accept(lfd, NULL, NULL), one = 1;
    struct conn *c;

    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      return; /* EAGAIN, or EMFILE and the like: try again later */
    }
    g_accepted++;
    set_nonblock(fd);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    /* Slow bodies send one byte at a time; Nagle would batch them. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (g_nconns == g_capconns) {
      size_t cap = g_capconns ? g_capconns * 2 : 64;
      struct conn **nc = realloc(g_conns, cap * sizeof *nc);
      if (nc == NULL)
        die("realloc");
      g_conns = nc;
      g_capconns = cap;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
      die("calloc");
    c->fd = fd;
    c->state = ST_READ;
    g_conns[g_nconns++] = c;
    if (g_nconns >= MAX_CONNS)
      return;
  }
}

static int listen_local(int port)
{
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

  if (fd < 0)
    die("socket");
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never anything else */
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    die("bind 127.0.0.1");
  /* Tests open hundreds of connections at once; the kernel caps this. */
  if (listen(fd, 4096) < 0)
    die("listen");
  if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
    die("getsockname");
  g_port = ntohs(sa.sin_port);
  set_nonblock(fd);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

static void usage(void)
{
  fprintf(stderr, "usage: corun-test-httpd [--port N] [--ignore-stdin] [-v]\n");
  exit(2);
}

int main(int argc, char **argv)
{
  int port = 0, watch_stdin = 1, lfd;
  struct pollfd *pfds = NULL;
  size_t pcap = 0;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 0 || v > 65535)
        usage();
      port = (int)v;
    } else if (strcmp(argv[i], "--ignore-stdin") == 0) {
      watch_stdin = 0;
    } else if (strcmp(argv[i], "-v") == 0) {
      g_verbose = 1;
    } else {
      usage();
    }
  }

  /* Writes to a vanished client must fail with EPIPE, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  crc_init();
  lfd = listen_local(port);
  printf("PORT %d\n", g_port);
  if (fflush(stdout) != 0)
    die("stdout");

  for (;;) {
    int64_t now = now_ms(), next = -1;
    size_t np = 0, polled = g_nconns;
    int timeout, rc;

    if (pcap < g_nconns + 2) {
      pcap = (g_nconns + 2) * 2;
      pfds = realloc(pfds, pcap * sizeof *pfds);
      if (pfds == NULL)
        die("realloc");
    }
    pfds[np++] = (struct pollfd){.fd = g_nconns < MAX_CONNS ? lfd : -1,
                                 .events = POLLIN};
    pfds[np++] = (struct pollfd){.fd = watch_stdin ? 0 : -1, .events = POLLIN};
    for (size_t i = 0; i < g_nconns; i++) {
      struct conn *c = g_conns[i];
      short ev = 0;

      if ((c->state == ST_READ && !c->peer_eof) || c->state == ST_DRAIN)
        ev = POLLIN;
      else if (c->state == ST_WRITE)
        ev = POLLOUT;
      if ((c->state == ST_WAIT || c->state == ST_DRAIN) &&
          (next < 0 || c->wake_at < next))
        next = c->wake_at;
      /* events 0 still reports POLLERR/POLLHUP while waiting. */
      pfds[np++] = (struct pollfd){.fd = c->fd, .events = ev};
    }
    timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
    rc = poll(pfds, np, timeout);
    if (rc < 0) {
      if (errno == EINTR)
        continue;
      die("poll");
    }
    now = now_ms();

    if (pfds[1].revents) {
      char buf[256];
      ssize_t n = read(0, buf, sizeof buf);

      /* The test that started us is gone (or never gave us a stdin). */
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        exit(0);
    }
    /* Backwards, so closing (swap with last) never skips a polled entry. */
    for (size_t i = polled; i-- > 0;) {
      struct conn *c = g_conns[i];
      short rev = pfds[2 + i].revents;
      int dead = 0;

      if ((rev & POLLIN) && (c->state == ST_READ || c->state == ST_DRAIN))
        dead = conn_read(c) < 0;
      else if ((rev & (POLLERR | POLLHUP | POLLNVAL)) && c->state != ST_WRITE)
        dead = 1;
      if (!dead)
        dead = conn_advance(c, now) < 0;
      if (dead)
        conn_close(i);
    }
    if (pfds[0].revents & POLLIN)
      accept_all(lfd);
  }
}
