/* SPDX-License-Identifier: MIT */
/*
 * libcurl's floor (issue 16, item 1): N GETs of one URL, C at a time,
 * through libcurl's multi interface and nothing else. C easy handles are
 * made once and reused (a finished one is re-added for the next request,
 * so its connection is kept), bodies are discarded, there are no tasks
 * and no reports. What any libcurl-based tool can reach on a machine:
 * bench/floor/run.sh sets corun beside it.
 *
 *   floor [-e] [-t] [-A AGENT] [-E ENCODINGS] URL N C [CAFILE [HTTP2]]
 *
 * -e drives the same transfers event by event, as corun does: epoll
 * tells which sockets are ready and curl_multi_socket_action runs just
 * those (libcurl's socket and timer callbacks keep the epoll set and the
 * one deadline). Without it, curl_multi_perform and curl_multi_poll walk
 * every transfer on every turn: fewer instructions at 64 at once, many
 * more at 1,000 (bench/fetch's scenarios d and e).
 *
 * -t gives libcurl the same request the way corun gives it (the floor
 * "tuned"): the URL parsed (CURLOPT_CURLU beside CURLOPT_URL) and the
 * User-Agent and Accept-Encoding as request headers (CURLOPT_HTTPHEADER).
 * libcurl 7.88 otherwise parses the URL at every transfer, prints it back
 * out and prints each of the two headers into a string of its own, all
 * through its byte-at-a-time printf: a fifth of this program's
 * instructions on HTTP/1.1. The bytes on the wire are the same but for
 * the order of the headers. It also says "no proxy" (CURLOPT_PROXY and
 * CURLOPT_NOPROXY ""), as corun does when the environment names none,
 * where libcurl would look for its proxy variables at every transfer.
 *
 * CAFILE: the certificate to trust (for https with a self-signed one);
 * HTTP2: "2" to ask for HTTP/2 (over TLS: ALPN). -A and -E send a
 * User-Agent and an Accept-Encoding header, so that the requests on the
 * wire are byte for byte the ones a tool sends (corun sends both; libcurl
 * builds each header line per request, and that work belongs to the
 * transfer). Bodies are not decoded. Exit 0 when every request got a
 * 2xx, 1 otherwise.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
  (void)p;
  (void)arg;
  return size * n;
}

static const char *agent, *encodings;
static int tuned;
static struct curl_slist *headers; /* -t: User-Agent, Accept-Encoding */
static CURLU *parsed;              /* -t: the URL */

/* -e: the epoll set, and libcurl's one deadline (-1: none) in ms. */
static int ep = -1;
static long long deadline = -1;

static long long now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *arg,
                     void *known)
{
  struct epoll_event ev = {0};

  (void)e;
  (void)arg;
  ev.data.fd = s;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
    curl_multi_assign(arg, s, NULL);
    return 0;
  }
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
              (what & CURL_POLL_OUT ? EPOLLOUT : 0);
  if (epoll_ctl(ep, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0)
    return -1;
  if (!known)
    curl_multi_assign(arg, s, (void *)1);
  return 0;
}

static int on_timer(CURLM *m, long ms, void *arg)
{
  (void)m;
  (void)arg;
  deadline = ms < 0 ? -1 : now_ms() + ms;
  return 0;
}

static CURL *make(const char *url, const char *ca, int h2)
{
  CURL *e = curl_easy_init();

  if (e == NULL)
    return NULL;
  curl_easy_setopt(e, CURLOPT_URL, url);
  if (tuned)
    curl_easy_setopt(e, CURLOPT_CURLU, parsed);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  /*
   * SIGPIPE is ignored for the whole process below, so libcurl need not
   * ignore and restore it around every call (two sigaction system calls
   * each time; 9% of this program's time without this).
   */
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  if (ca)
    curl_easy_setopt(e, CURLOPT_CAINFO, ca);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                   h2 ? (long)CURL_HTTP_VERSION_2TLS
                      : (long)CURL_HTTP_VERSION_1_1);
  /* Many streams on one connection rather than a connection each. */
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  if (tuned) {
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  } else {
    if (agent)
      curl_easy_setopt(e, CURLOPT_USERAGENT, agent);
    if (encodings)
      curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, encodings);
  }
  if (encodings)
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  return e;
}

int main(int argc, char **argv)
{
  const char *url, *ca;
  long n, c, started = 0, done = 0, bad = 0, i;
  int h2, running = 0, events = 0;
  CURLM *m;

  while (argc > 1 && (strcmp(argv[1], "-e") == 0 || strcmp(argv[1], "-t") == 0)) {
    if (argv[1][1] == 'e')
      events = 1;
    else
      tuned = 1;
    argc--;
    argv++;
  }
  while (argc > 2 && argv[1][0] == '-') {
    if (strcmp(argv[1], "-A") == 0)
      agent = argv[2];
    else if (strcmp(argv[1], "-E") == 0)
      encodings = argv[2];
    else
      break;
    argc -= 2;
    argv += 2;
  }
  if (argc < 4) {
    fprintf(stderr,
            "usage: floor [-e] [-t] [-A AGENT] [-E ENCODINGS] URL N C [CAFILE [2]]\n");
    return 2;
  }
  url = argv[1];
  n = atol(argv[2]);
  c = atol(argv[3]);
  ca = argc > 4 && argv[4][0] ? argv[4] : NULL;
  h2 = argc > 5 && strcmp(argv[5], "2") == 0;
  signal(SIGPIPE, SIG_IGN);
  if (n <= 0 || c <= 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 2;
  if (tuned) {
    char line[512];

    if ((parsed = curl_url()) == NULL ||
        curl_url_set(parsed, CURLUPART_URL, url,
                     CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
      return 2;
    if (agent) {
      snprintf(line, sizeof(line), "User-Agent: %s", agent);
      headers = curl_slist_append(headers, line);
    }
    if (encodings) {
      snprintf(line, sizeof(line), "Accept-Encoding: %s", encodings);
      headers = curl_slist_append(headers, line);
    }
  }
  m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, h2 ? 1L : c);
  if (events) {
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
      return 2;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
  }
  for (i = 0; i < c && started < n; i++, started++) {
    CURL *e = make(url, ca, h2);

    if (e == NULL || curl_multi_add_handle(m, e) != CURLM_OK)
      return 2;
  }
  while (done < n) {
    CURLMsg *msg;
    int left;

    if (events) {
      struct epoll_event ev[256];
      long long wait = deadline < 0 ? 1000 : deadline - now_ms();
      int k, got;

      got = epoll_wait(ep, ev, 256, wait < 0 ? 0 : (int)wait);
      for (k = 0; k < got; k++)
        curl_multi_socket_action(m, ev[k].data.fd,
                                 (ev[k].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                                 (ev[k].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                                 (ev[k].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0),
                                 &running);
      if (deadline >= 0 && now_ms() >= deadline) {
        deadline = -1;
        curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
      }
    } else if (curl_multi_perform(m, &running) != CURLM_OK) {
      return 2;
    }
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
      CURL *e = msg->easy_handle;
      long code = 0;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      if (msg->data.result != CURLE_OK || code / 100 != 2)
        bad++;
      done++;
      curl_multi_remove_handle(m, e);
      if (started < n) {
        started++;
        curl_multi_add_handle(m, e);
      } else {
        curl_easy_cleanup(e);
      }
    }
    if (!events && done < n && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
      return 2;
  }
  curl_multi_cleanup(m);
  curl_slist_free_all(headers);
  curl_url_cleanup(parsed);
  curl_global_cleanup();
  if (bad)
    fprintf(stderr, "floor: %ld of %ld requests failed\n", bad, n);
  return bad ? 1 : 0;
}
