/* SPDX-License-Identifier: MIT */
/*
 * libcurl's floor (issue 16, item 1): N GETs of one URL, C at a time,
 * through libcurl's multi interface and nothing else. C easy handles are
 * made once and reused (a finished one is re-added for the next request,
 * so its connection is kept), bodies are discarded, there are no tasks
 * and no reports. What any libcurl-based tool can reach on a machine:
 * bench/floor/run.sh sets corun beside it.
 *
 *   floor [-A AGENT] [-E ENCODINGS] URL N C [CAFILE [HTTP2]]
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

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
  (void)p;
  (void)arg;
  return size * n;
}

static const char *agent, *encodings;

static CURL *make(const char *url, const char *ca, int h2)
{
  CURL *e = curl_easy_init();

  if (e == NULL)
    return NULL;
  curl_easy_setopt(e, CURLOPT_URL, url);
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
  if (agent)
    curl_easy_setopt(e, CURLOPT_USERAGENT, agent);
  if (encodings) {
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, encodings);
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  }
  return e;
}

int main(int argc, char **argv)
{
  const char *url, *ca;
  long n, c, started = 0, done = 0, bad = 0, i;
  int h2, running = 0;
  CURLM *m;

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
            "usage: floor [-A AGENT] [-E ENCODINGS] URL N C [CAFILE [2]]\n");
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
  m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, h2 ? 1L : c);
  for (i = 0; i < c && started < n; i++, started++) {
    CURL *e = make(url, ca, h2);

    if (e == NULL || curl_multi_add_handle(m, e) != CURLM_OK)
      return 2;
  }
  while (done < n) {
    CURLMsg *msg;
    int left;

    if (curl_multi_perform(m, &running) != CURLM_OK)
      return 2;
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
    if (done < n && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
      return 2;
  }
  curl_multi_cleanup(m);
  curl_global_cleanup();
  if (bad)
    fprintf(stderr, "floor: %ld of %ld requests failed\n", bad, n);
  return bad ? 1 : 0;
}
