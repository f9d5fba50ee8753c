/* SPDX-License-Identifier: MIT */
/*
 * The glue between curl's multi_socket API and libuv, after the pattern of
 * curl's docs/examples/multi-uv.c: curl says which sockets to watch
 * (socket callback) and when to call it back (timer callback); libuv tells
 * us when a socket is ready, and we hand that to curl_multi_socket_action,
 * then collect finished transfers with curl_multi_info_read.
 *
 * A socket's watcher lives as long as the socket, not as long as one
 * transfer: a kept-alive connection goes from transfer to transfer, and
 * curl forgets it (CURL_POLL_REMOVE) after each. Rebuilding the watcher
 * every time cost a tenth of a small request's time, so watchers are kept
 * by descriptor, an idle one is stopped only if it fires, and it is closed
 * from curl's close-socket callback, just before the descriptor is closed.
 * Its memory is freed in its uv_close callback; by then the descriptor may
 * already be in use again, with a new watcher of its own.
 *
 * Transfers are spread over several multi handles ("shards") once many run
 * at once. libcurl 7.88 walks its list of connections to a host for every
 * transfer, twice: to find an idle one to reuse (it stops at the first)
 * and, on curl_multi_remove_handle, to find the one the transfer used. At
 * 1,000 connections to one server those walks, through 1,000 connection
 * structures out of the cache, cost more than the request itself; each
 * shard holds at most SHARD_SIZE transfers and about as many connections,
 * so a walk stays short. Below SHARD_SIZE transfers at once there is one
 * shard, as if there were none: connections are shared as before. A new
 * transfer goes to the first shard with room, which is usually the one
 * whose transfer just ended, so its idle connection is reused and the
 * total stays at one connection per running transfer.
 */
#include "core/http.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "util/fdlimit.h"
#include "util/libcurl.h"
#include "util/list.h"

#define MAX_IDLE 1024L /* kept-alive connections at most */
#define SHARD_SIZE 64L /* transfers at once in one multi handle */
#define POOL_MIN 256   /* idle easy handles kept whatever runs */

struct shard {
  struct corun_http *h;
  CURLM *multi;
  uv_timer_t timer;
  long active; /* transfers added and not ended or removed yet */
  long cap;    /* transfers it takes, and connections it may hold */
};

struct corun_http {
  uv_loop_t *loop;
  struct shard **shards; /* the first made with h, more as needed */
  size_t nshards;
  long conns; /* connections at most over all shards (0: no cap) */
  long left;  /* of conns, what no shard has been given yet */
  long per_host;
  int closing;           /* handles whose close callback is pending */
  int timer_closed;      /* the timers are being or have been closed */
  int quiet;             /* the run ended: sockets are no longer watched */
  struct sockctx *socks; /* every live watcher, for quiesce and close */
  struct sockctx **byfd; /* watcher of each open descriptor, or NULL */
  unsigned char *owned;  /* fd opened by open_socket and not closed yet */
  size_t nbyfd;
  long active; /* transfers in all shards */
  long peak;   /* the most transfers there have been at once */
  struct pooled *pool; /* finished easy handles, for reuse */
  size_t npool, cappool;
  CURLSH *cookies; /* the run's one cookie jar, made when first asked */
  CURLSH *dns;     /* the run's one DNS cache (see share_new); NULL on oom */
  /* Transfers added since the loop last turned (see add_pending). */
  struct corun_list pending;
  /*
   * Every easy handle with a record, in use or pooled: at the close each
   * lets go of the run's shares (DNS, cookies), which can then be freed
   * though a task still holds its handle.
   */
  struct corun_list handles;
  uv_timer_t adder;
  void (*closed)(void *arg); /* set by corun__http_close */
  void *closed_arg;
};

struct pooled {
  CURL *easy;
  uint64_t tag; /* what its options were last set for; 0: unknown */
  void *spare;  /* what was put back with it, or NULL */
  void (*drop)(void *spare); /* frees spare */
};

struct sockctx {
  uv_poll_t poll;
  struct shard *sh; /* whose multi handle the socket belongs to */
  curl_socket_t fd;
  int idle;   /* curl has no transfer on it now */
  int owned;  /* a connection socket: opened and closed through our hooks */
  int events; /* what curl last asked to wait for (UV_READABLE, ...) */
  struct corun_http *h;
  struct sockctx *prev;
  struct sockctx *next;
};

/*
 * An easy handle's part here, made by its first corun__http_add() and kept
 * (as its CURLOPT_PRIVATE, with the options pointing at it) until the
 * handle is freed: a pooled handle's next transfer sets none of them.
 */
struct xfer {
  corun_http_done_cb done;
  void *arg;
  struct corun_http *h;
  struct shard *sh; /* the multi handle it is in, while active */
  int active;
  CURL *easy;
  struct corun_list wait; /* in h->pending, while it waits there */
  struct corun_list all;  /* in h->handles, while h lives */
  int sock_errno; /* why open_socket last failed for this transfer */
  CURLU *url;      /* the URL given to the handle, parsed (set_url) */
  char *url_text;  /* what url was parsed from; NULL: url is not in use */
  char errbuf[CURL_ERROR_SIZE];
};

/* One handle less to wait for; the last one after a close frees h. */
static void handle_gone(struct corun_http *h)
{
  void (*closed)(void *arg) = h->closed;
  void *arg = h->closed_arg;

  if (--h->closing > 0 || closed == NULL)
    return;
  free(h->shards);
  free(h->byfd);
  free(h->owned);
  free(h);
  closed(arg);
}

static void sock_closed(uv_handle_t *handle)
{
  struct sockctx *c = handle->data;
  struct corun_http *h = c->h;

  free(c);
  handle_gone(h);
}

static void sock_drop(struct sockctx *c)
{
  struct corun_http *h = c->h;

  if ((size_t)c->fd < h->nbyfd && h->byfd[c->fd] == c)
    h->byfd[c->fd] = NULL;
  if (c->prev)
    c->prev->next = c->next;
  else
    h->socks = c->next;
  if (c->next)
    c->next->prev = c->prev;
  h->closing++;
  uv_close((uv_handle_t *)&c->poll, sock_closed);
}

/*
 * curl words a socket() failure as "Couldn't connect to server", which
 * sends the user after the server; say it was us, and what to change.
 */
static void socket_failed(struct xfer *x)
{
  char hint[160];

  snprintf(x->errbuf, sizeof(x->errbuf), "cannot open a socket: %s%s",
           strerror(x->sock_errno),
           corun__fd_hint(x->sock_errno, hint, sizeof(hint)));
}

static void check_done(struct shard *sh)
{
  CURLMsg *msg;
  int left;

  while ((msg = curl_multi_info_read(sh->multi, &left)) != NULL) {
    CURL *easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    struct xfer *x = NULL;

    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(sh->multi, easy);
    sh->active--;
    sh->h->active--;
    if (x) {
      x->active = 0;
      if (code == CURLE_COULDNT_CONNECT && x->sock_errno)
        socket_failed(x);
      /* It may add the handle again, or free it: x is not touched after. */
      x->done(easy, code, x->errbuf, x->arg);
    }
  }
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
  struct sockctx *c = poll->data;
  struct corun_http *h = c->h;
  int flags = 0, running;

  if (c->idle) {
    /* A kept-alive connection curl is not using: wait until it is. */
    uv_poll_stop(poll);
    return;
  }
  if (status < 0) {
    /*
     * An error or reset on the socket (libuv says so and stops the
     * watcher). CURL_CSELECT_ERR would make curl fail the transfer with
     * "select/poll returned error". Told the socket is ready instead, curl
     * reads it, meets the reset itself and, on a reused keep-alive
     * connection the server had closed, sends the request again on a new
     * one, as the curl command does. The watcher is armed again in case
     * curl keeps the socket.
     */
    if (!h->quiet)
      (void)uv_poll_start(poll, c->events, on_poll); /* see socket_cb */
    flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
  }
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  /*
   * A transfer's own failure comes out of check_done. What this returns is
   * about the multi handle as a whole (curl out of memory); curl keeps its
   * state, so the next socket event or timeout simply drives it again.
   */
  (void)curl_multi_socket_action(c->sh->multi, c->fd, flags, &running);
  check_done(c->sh);
}

static void on_timer(uv_timer_t *timer)
{
  struct shard *sh = timer->data;
  int running;

  /* As in on_poll: transfers' failures come out of check_done. */
  (void)curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(sh);
}

/* Make room in the per-descriptor tables for s. */
static int grow_fds(struct corun_http *h, curl_socket_t s)
{
  size_t n = (size_t)s * 2 + 16;
  struct sockctx **nb;
  unsigned char *no;

  if (s < 0)
    return -1;
  if ((size_t)s < h->nbyfd)
    return 0;
  nb = realloc(h->byfd, n * sizeof(*nb));
  if (nb == NULL)
    return -1;
  h->byfd = nb;
  no = realloc(h->owned, n);
  if (no == NULL)
    return -1;
  h->owned = no;
  memset(nb + h->nbyfd, 0, (n - h->nbyfd) * sizeof(*nb));
  memset(no + h->nbyfd, 0, n - h->nbyfd);
  h->nbyfd = n;
  return 0;
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                     void *socketp)
{
  struct shard *sh = userp;
  struct corun_http *h = sh->h;
  struct sockctx *c = socketp;
  int events = 0;

  (void)easy;
  if (c == NULL && s >= 0 && (size_t)s < h->nbyfd && h->owned[s])
    c = h->byfd[s];
  if (what == CURL_POLL_REMOVE) {
    /*
     * Only a connection socket outlives this: others (the threaded
     * resolver's socketpair) are closed by curl without telling us, and a
     * kept watcher would then meet a stranger on the same descriptor.
     */
    if (c && c->owned)
      c->idle = 1;
    else if (c) {
      curl_multi_assign(sh->multi, s, NULL);
      sock_drop(c);
    }
    return 0;
  }
  if (c == NULL) {
    c = calloc(1, sizeof(*c));
    if (c == NULL || s < 0)
      goto fail;
    if (grow_fds(h, s) < 0)
      goto fail;
    c->fd = s;
    c->owned = h->owned[s];
    c->h = h;
    c->sh = sh;
    if (uv_poll_init_socket(h->loop, &c->poll, s) != 0)
      goto fail;
    c->poll.data = c;
    c->next = h->socks;
    if (h->socks)
      h->socks->prev = c;
    h->socks = c;
    h->byfd[s] = c;
  }
  c->idle = 0;
  curl_multi_assign(sh->multi, s, c);
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  /*
   * A watcher still armed for the same events is left alone: starting it
   * again stops it first, and libuv then registers the descriptor anew
   * (epoll_ctl ADD, which fails as it is still there, then MOD). That was
   * most of a request's epoll_ctl calls, at every change of transfer on a
   * kept-alive connection. On Unix uv_poll_start returns 0 whenever its
   * handle is open and the events valid, as here: it only queues the
   * watcher for the loop.
   */
  if (!h->quiet &&
      !(c->events == events && uv_is_active((uv_handle_t *)&c->poll)))
    (void)uv_poll_start(&c->poll, events, on_poll);
  c->events = events;
  return 0;
fail:
  free(c);
  return -1;
}

/*
 * curl opens a connection's socket, always for the transfer whose data this
 * is: remember it is one we will hear of, or why it could not be had.
 */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
  struct xfer *x = clientp;
  struct corun_http *h = x->h;
  /* Commands started while it is open must not inherit it. */
  curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

  (void)purpose;
  x->sock_errno = s < 0 ? errno : 0;
  if (s >= 0 && grow_fds(h, s) == 0)
    h->owned[s] = 1;
  return s;
}

/* curl is about to close a socket: its watcher goes first. */
static int close_socket(void *clientp, curl_socket_t s)
{
  struct corun_http *h = clientp;

  if (s >= 0 && (size_t)s < h->nbyfd) {
    if (h->byfd[s])
      sock_drop(h->byfd[s]);
    h->owned[s] = 0;
  }
  return close(s);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
  struct shard *sh = userp;

  (void)multi;
  if (sh->h->timer_closed)
    return 0;
  if (timeout_ms < 0) {
    uv_timer_stop(&sh->timer);
    return 0;
  }
  /*
   * Even a 0 ms timeout goes through the loop: curl does not allow
   * curl_multi_socket_action to be called from inside this callback.
   */
  /* Fails only with no callback or on a closing handle (timer_closed). */
  (void)uv_timer_start(&sh->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* At most n connections kept idle, and in all if capped. */
static void shard_limit(struct shard *sh, long n, int capped)
{
  if (capped)
    curl_multi_setopt(sh->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, n);
  curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, n);
}

/*
 * One more multi handle. The first is set up as a lone one always was:
 * up to conns connections (the descriptors' cap), kept idle up to
 * MAX_IDLE, per_host to one host. A per-host cap counts within one multi
 * handle only, so a job with one never has a second. Each later shard
 * takes SHARD_SIZE transfers and connections (or what is left of the
 * cap), and the first is held to SHARD_SIZE too: the shards' connections
 * together stay within conns.
 */
static struct shard *shard_add(struct corun_http *h)
{
  struct shard *sh, **ns;
  long cap;

  ns = realloc(h->shards, (h->nshards + 1) * sizeof(*ns));
  if (ns == NULL)
    return NULL;
  h->shards = ns;
  sh = calloc(1, sizeof(*sh));
  if (sh == NULL)
    return NULL;
  if ((sh->multi = curl_multi_init()) == NULL) {
    free(sh);
    return NULL;
  }
  sh->h = h;
  cap = h->per_host > 0 ? LONG_MAX : SHARD_SIZE;
  if (h->conns > 0 && cap > h->left)
    cap = h->left > 0 ? h->left : 1;
  sh->cap = cap;
  if (h->conns > 0)
    h->left -= cap < h->left ? cap : h->left;
  (void)uv_timer_init(h->loop, &sh->timer); /* only fills the handle in */
  sh->timer.data = sh;
  /*
   * Setting an option this libcurl knows to a pointer or an in-range
   * number cannot fail (CURLM_UNKNOWN_OPTION, CURLM_BAD_FUNCTION_ARGUMENT
   * are its only errors); the same holds for curl_easy_setopt below.
   */
  curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
  curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
  if (h->nshards == 0) {
    if (h->conns > 0)
      curl_multi_setopt(sh->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, h->conns);
    /* Keep idle connections for reuse across the job's many fetches. */
    curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS,
                      h->conns > 0 && h->conns < MAX_IDLE ? h->conns
                                                          : MAX_IDLE);
    if (h->per_host > 0)
      curl_multi_setopt(sh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, h->per_host);
  } else {
    if (h->nshards == 1)
      shard_limit(h->shards[0], h->shards[0]->cap, h->conns > 0);
    shard_limit(sh, cap, h->conns > 0);
  }
  h->shards[h->nshards++] = sh;
  return sh;
}

/* libcurl's process-wide set-up is done (and must be undone at the end). */
static int global_done;
/* corun_global_init() came. */
static int global_allowed;

int corun__http_global_init(void)
{
  /*
   * libcurl is loaded, and its set-up (which starts its TLS library: 2 MiB
   * and a few ms) done, when the first job fetches: a job without a fetch
   * never pays for either (util/libcurl.h).
   */
  global_allowed = 1;
  return 0;
}

void corun__http_global_cleanup(void)
{
  if (global_done)
    curl_global_cleanup();
  global_done = global_allowed = 0;
}

/*
 * A curl share of DNS answers and, if cookies, of cookies; NULL on oom.
 *
 * One DNS cache for the run's transfers, in place of one per multi handle.
 * libcurl 7.88 sweeps the cache's every slot at the end of each transfer
 * (for entries past their 60 seconds): a multi handle's has 71 slots, a
 * share's 23: about 580 instructions a request fewer (430 with the
 * share's locking), the biggest thing libcurl did per request that corun
 * could choose not to pay for. Entries still last 60 seconds, and every
 * shard sees the same answers. A handle takes one share only, so the
 * fetches with cookies have theirs in the cookie jar. Without it (out of
 * memory), each multi handle keeps its own.
 */
static CURLSH *share_new(int cookies)
{
  CURLSH *sh = curl_share_init();

  if (sh && (curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
                 CURLSHE_OK ||
             (cookies && curl_share_setopt(sh, CURLSHOPT_SHARE,
                                           CURL_LOCK_DATA_COOKIE) !=
                             CURLSHE_OK))) {
    curl_share_cleanup(sh);
    sh = NULL;
  }
  return sh;
}

/* A new or reset handle's part in the run's DNS cache. */
static CURL *use_dns(struct corun_http *h, CURL *easy)
{
  if (easy && h->dns)
    curl_easy_setopt(easy, CURLOPT_SHARE, h->dns);
  return easy;
}

struct corun_http *corun__http_new(uv_loop_t *loop, long conns, long per_host,
                                   const char **why)
{
  struct corun_http *h;

  if (!global_done) {
    if (!global_allowed) {
      *why = "corun_global_init() was not called before the first run";
      return NULL;
    }
    if (corun__libcurl_load(why) < 0)
      return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      *why = "libcurl failed to initialise";
      return NULL;
    }
    global_done = 1;
  }

  h = calloc(1, sizeof(*h));
  if (h == NULL) {
    *why = "out of memory creating the HTTP client";
    return NULL;
  }
  h->loop = loop;
  h->conns = conns > 0 ? conns : 0;
  h->left = h->conns;
  h->per_host = per_host;
  if (shard_add(h) == NULL) {
    free(h->shards);
    free(h);
    *why = "out of memory creating the HTTP client";
    return NULL;
  }
  (void)uv_timer_init(loop, &h->adder); /* only fills the handle in */
  h->adder.data = h;
  corun_list_init(&h->pending);
  corun_list_init(&h->handles);
  h->dns = share_new(0);
  return h;
}

/*
 * The shard a new transfer goes to: the first with room, or a new one
 * while the connection cap allows; failing both (transfers are capped as
 * connections are, so only on oom), the least busy.
 */
static struct shard *shard_for(struct corun_http *h)
{
  struct shard *best = NULL, *sh;
  size_t i;

  for (i = 0; i < h->nshards; i++) {
    sh = h->shards[i];
    if (sh->active < sh->cap)
      return sh;
    if (best == NULL || sh->active < best->active)
      best = sh;
  }
  if ((h->conns == 0 || h->left > 0) && (sh = shard_add(h)) != NULL)
    return sh;
  return best;
}

/*
 * The transfers added since the loop last turned go into their multi
 * handles together, once the loop has run every callback of its turn: by
 * then the transfers that ended in that turn have all given their
 * connections back, and libcurl, looking for an idle one for each new
 * transfer from the start of its list, finds one sooner than when each
 * looked while one connection was free (half as many visited, measured).
 */
static void add_pending(uv_timer_t *timer)
{
  struct corun_http *h = timer->data;
  struct corun_list *l;

  while ((l = corun_list_shift(&h->pending)) != NULL) {
    struct xfer *x = corun_list_entry(l, struct xfer, wait);

    if (curl_multi_add_handle(x->sh->multi, x->easy) != CURLM_OK) {
      x->active = 0;
      x->sh->active--;
      h->active--;
      snprintf(x->errbuf, sizeof(x->errbuf), "libcurl refused the transfer");
      x->done(x->easy, CURLE_FAILED_INIT, x->errbuf, x->arg);
    }
  }
}

/* The options that point at x, set again after a reset clears them. */
static void xfer_options(CURL *easy, struct xfer *x)
{
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, x);
  /* Copied into each connection: its watcher closes with it. */
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, x->h);
}

static struct xfer *xfer_of(CURL *easy)
{
  struct xfer *x = NULL;

  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
  return x;
}

/* easy's record, made with the handle (or at its first transfer). */
static struct xfer *xfer_new(struct corun_http *h, CURL *easy)
{
  struct xfer *x = calloc(1, sizeof(*x));

  if (x == NULL)
    return NULL;
  x->h = h;
  x->easy = easy;
  xfer_options(easy, x);
  corun_list_push(&h->handles, &x->all);
  return x;
}

int corun__http_add(struct corun_http *h, CURL *easy, corun_http_done_cb done,
                    void *arg)
{
  struct xfer *x = xfer_of(easy);
  struct shard *sh = shard_for(h);

  if (x == NULL && (x = xfer_new(h, easy)) == NULL)
    return -1;
  x->done = done;
  x->arg = arg;
  x->sh = sh;
  x->sock_errno = 0;
  x->errbuf[0] = '\0';
  /*
   * Fails only on a closing handle: the run is over, nothing is added.
   * Started once for all the transfers a turn of the loop adds.
   */
  if (!uv_is_active((uv_handle_t *)&h->adder) &&
      uv_timer_start(&h->adder, add_pending, 0, 0) < 0)
    return -1;
  corun_list_push(&h->pending, &x->wait);
  x->active = 1;
  sh->active++;
  if (++h->active > h->peak)
    h->peak = h->active;
  return 0;
}

void corun__http_remove(struct corun_http *h, CURL *easy)
{
  struct xfer *x = xfer_of(easy);

  /* An inactive handle is in no multi handle (done or never added). */
  if (x == NULL || !x->active)
    return;
  if (corun_list_linked(&x->wait))
    corun_list_unlink(&x->wait);
  else
    curl_multi_remove_handle(x->sh->multi, easy);
  x->active = 0;
  x->sh->active--;
  h->active--;
}

void corun__http_easy_reset(CURL *easy)
{
  struct xfer *x = xfer_of(easy);

  curl_easy_reset(easy);
  if (x) {
    if (x->h)
      use_dns(x->h, easy);
    xfer_options(easy, x);
  }
}

void corun__http_easy_free(CURL *easy)
{
  struct xfer *x = easy ? xfer_of(easy) : NULL;

  /*
   * Freed while it waits to go in (it should have been removed first);
   * one in a multi handle leaves it in curl_easy_cleanup. None waits once
   * h is closed (corun__http_close), which also unlinks every record.
   */
  if (x && corun_list_linked(&x->wait))
    corun__http_remove(x->h, easy);
  if (x && corun_list_linked(&x->all))
    corun_list_unlink(&x->all);
  curl_easy_cleanup(easy);
  if (x) {
    curl_url_cleanup(x->url);
    free(x->url_text);
  }
  free(x);
}

/*
 * url parsed, in x's CURLU: the one parsed last if it was the same text.
 * NULL if it does not parse (or memory runs out): libcurl is then given
 * the text alone.
 */
static CURLU *parsed_url(struct xfer *x, const char *url)
{
  if (x->url_text && strcmp(x->url_text, url) == 0)
    return x->url;
  free(x->url_text);
  x->url_text = NULL;
  /*
   * 7.88's copy of a parsed URL (curl_url_dup) leaves out an IPv6
   * address's zone ("[fe80::1%25eth0]"): such a host is left to libcurl
   * (whichever libcurl is loaded; a '[' elsewhere only costs the parse).
   */
  if (strchr(url, '[') != NULL)
    return NULL;
  if (x->url == NULL && (x->url = curl_url()) == NULL)
    return NULL;
  /* The flags libcurl (7.88 and 8) parses a URL given as text with. */
  if (curl_url_set(x->url, CURLUPART_URL, url,
                   CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    return NULL;
  x->url_text = strdup(url);
  return x->url_text ? x->url : NULL;
}

int corun__http_set_url(CURL *easy, const char *url)
{
  struct xfer *x = xfer_of(easy);

  if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK)
    return -1;
  curl_easy_setopt(easy, CURLOPT_CURLU, x ? parsed_url(x, url) : NULL);
  return 0;
}

CURL *corun__http_easy_get_with(struct corun_http *h, uint64_t tag, int *same,
                                void **spare)
{
  struct pooled *p;

  *same = 0;
  *spare = NULL;
  if (h->npool == 0) {
    CURL *easy = curl_easy_init();

    if (easy && xfer_new(h, easy) == NULL) {
      curl_easy_cleanup(easy);
      return NULL;
    }
    return use_dns(h, easy);
  }
  p = &h->pool[--h->npool];
  /*
   * Handles end and come back in batches, so the last one in is usually
   * the one a like transfer just left: only that one is looked at.
   */
  if (tag != 0 && p->tag == tag)
    *same = 1;
  else
    corun__http_easy_reset(p->easy);
  *spare = p->spare;
  return p->easy;
}

/* The spare that went back beside a handle, freed as it asked. */
static void drop_spare(struct pooled *p)
{
  if (p->spare)
    p->drop(p->spare);
}

CURL *corun__http_easy_get(struct corun_http *h, uint64_t tag, int *same)
{
  void *spare;
  CURL *easy = corun__http_easy_get_with(h, tag, same, &spare);

  /*
   * Memory came back only from the pool: its slot still says how to free
   * it. The handle's options may point into it: they go too.
   */
  if (spare) {
    drop_spare(&h->pool[h->npool]);
    if (*same)
      corun__http_easy_reset(easy);
    *same = 0;
  }
  return easy;
}

void corun__http_easy_put_with(struct corun_http *h, CURL *easy, uint64_t tag,
                               void *spare, void (*drop)(void *spare))
{
  struct pooled *np;
  size_t n;

  /*
   * Reusing handles saves an init and a cleanup (buffers, a DNS and
   * connection view) per request. The pool keeps POOL_MIN handles, or as
   * many as transfers ever ran at once: at 1,000 at once, a pool of 256
   * made every other transfer a new handle, since transfers end in
   * batches (one turn of the loop) before the next ones start. What it
   * holds is then at most what the busiest moment held anyway.
   */
  if (h->npool >= POOL_MIN && h->npool >= (size_t)h->peak) {
    if (spare)
      drop(spare);
    corun__http_easy_free(easy);
    return;
  }
  if (h->npool == h->cappool) {
    n = h->cappool ? h->cappool * 2 : POOL_MIN;
    np = realloc(h->pool, n * sizeof(*np));
    if (np == NULL) {
      if (spare)
        drop(spare);
      corun__http_easy_free(easy);
      return;
    }
    h->pool = np;
    h->cappool = n;
  }
  np = &h->pool[h->npool++];
  np->easy = easy;
  np->tag = tag;
  np->spare = spare;
  np->drop = drop;
}

void corun__http_easy_put(struct corun_http *h, CURL *easy, uint64_t tag)
{
  corun__http_easy_put_with(h, easy, tag, NULL, NULL);
}

void corun__http_counts(const struct corun_http *h, size_t *multis,
                        size_t *pooled)
{
  *multis = h->nshards;
  *pooled = h->npool;
}

void corun__http_quiesce(struct corun_http *h)
{
  struct sockctx *c;
  size_t i;

  h->quiet = 1;
  uv_timer_stop(&h->adder);
  for (i = 0; i < h->nshards; i++)
    uv_timer_stop(&h->shards[i]->timer);
  for (c = h->socks; c; c = c->next)
    uv_poll_stop(&c->poll);
}

static void adder_closed(uv_handle_t *handle)
{
  handle_gone(handle->data);
}

static void timer_closed(uv_handle_t *handle)
{
  struct shard *sh = handle->data;
  struct corun_http *h = sh->h;

  free(sh);
  handle_gone(h);
}

CURLSH *corun__http_cookies(struct corun_http *h)
{
  if (h->cookies == NULL)
    h->cookies = share_new(1);
  return h->cookies;
}

void corun__http_close(struct corun_http *h, void (*closed)(void *arg),
                       void *arg)
{
  struct corun_list *l;
  size_t i;

  corun__http_quiesce(h);
  /* What still waits to go in never will: its handle is freed later. */
  while ((l = corun_list_shift(&h->pending)) != NULL)
    corun_list_entry(l, struct xfer, wait)->active = 0;
  /*
   * Cleaning up a multi handle closes its cached connections, which calls
   * back with CURL_POLL_REMOVE: do it while our watchers exist.
   */
  for (i = 0; i < h->nshards; i++) {
    curl_multi_cleanup(h->shards[i]->multi);
    h->shards[i]->multi = NULL;
  }
  while (h->npool > 0) {
    h->npool--;
    drop_spare(&h->pool[h->npool]);
    corun__http_easy_free(h->pool[h->npool].easy);
  }
  free(h->pool);
  h->pool = NULL;
  /*
   * The handles still held (a task's, until it is freed) let go of the
   * shares and of h, which goes before them.
   */
  while ((l = corun_list_shift(&h->handles)) != NULL) {
    struct xfer *x = corun_list_entry(l, struct xfer, all);

    curl_easy_setopt(x->easy, CURLOPT_SHARE, NULL);
    x->h = NULL;
  }
  /* After every easy handle that used them is gone or let go. */
  if (h->cookies)
    curl_share_cleanup(h->cookies);
  h->cookies = NULL;
  if (h->dns)
    curl_share_cleanup(h->dns);
  h->dns = NULL;
  while (h->socks)
    sock_drop(h->socks);
  h->timer_closed = 1;
  /* Last: the timers' close callbacks are then the earliest h may go. */
  h->closed = closed;
  h->closed_arg = arg;
  for (i = 0; i < h->nshards; i++) {
    h->closing++;
    uv_close((uv_handle_t *)&h->shards[i]->timer, timer_closed);
  }
  h->closing++;
  uv_close((uv_handle_t *)&h->adder, adder_closed);
}
