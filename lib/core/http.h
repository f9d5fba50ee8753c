/* SPDX-License-Identifier: MIT */
/*
 * libcurl's multi interface driven by a libuv loop: a multi handle (a
 * connection cache and DNS cache for its transfers; more of them once
 * more than 64 transfers run at once), a uv_poll per socket curl asks to
 * watch and a uv_timer per multi handle for curl's timeouts. No threads,
 * no polling loops. It knows nothing of runs: fetch makes one per
 * run, the first time a fetch starts. libcurl itself is initialised by
 * the application (corun_global_init), which also owns SIGPIPE.
 */
#ifndef CORUN_HTTP_H
#define CORUN_HTTP_H

#include <curl/curl.h>
#include <stdint.h>

#include <uv.h>

#include "util/error.h"

struct corun_http;

/*
 * Called when a transfer ends (added with corun__http_add). errmsg is
 * curl's detailed message for code ("" if none), valid during the call.
 * A transfer libcurl would not take (out of memory) ends with
 * CURLE_FAILED_INIT and "libcurl refused the transfer".
 */
typedef void (*corun_http_done_cb)(CURL *easy, CURLcode code,
                                   const char *errmsg, void *arg);

/*
 * A multi handle on loop: at most conns connections open or kept idle (0:
 * no cap), per_host to one host (0: no cap). NULL with *why (static
 * text) on failure.
 */
struct corun_http *corun__http_new(uv_loop_t *loop, long conns, long per_host,
                                   const char **why);
/*
 * Start a transfer. done runs once it ends, from the loop, never from
 * inside this call. Returns 0, or -1 if curl refused the handle.
 */
CORUN_MUST_CHECK int corun__http_add(struct corun_http *h, CURL *easy,
                                     corun_http_done_cb done, void *arg);
/* Stop a transfer at once; done is not called. The caller frees easy. */
void corun__http_remove(struct corun_http *h, CURL *easy);
/*
 * An easy handle to use, from the pool of finished ones or new; NULL on
 * oom. Give it back with corun__http_easy_put() once its transfer is over
 * (removed or done) and its results are read. tag names the options the
 * handle was given (0: none a later transfer may count on): a handle put
 * back with the tag asked for comes with its options as they were, and
 * *same set; any other is reset (as curl_easy_reset leaves it) or new.
 */
CURL *corun__http_easy_get(struct corun_http *h, uint64_t tag, int *same);
void corun__http_easy_put(struct corun_http *h, CURL *easy, uint64_t tag);
/*
 * The same, with memory that waits in the pool beside the handle, so that
 * each transfer need not allocate its own (a kind's transfer record, with
 * its body buffer, is two trips into malloc a request otherwise): put
 * hands over spare (or NULL) and the function that frees it; get hands
 * over what came back with the handle it gives (NULL: nothing). What
 * waits in the pool is freed, by that function, with its handle.
 */
CURL *corun__http_easy_get_with(struct corun_http *h, uint64_t tag, int *same,
                                void **spare);
void corun__http_easy_put_with(struct corun_http *h, CURL *easy, uint64_t tag,
                               void *spare, void (*drop)(void *spare));
/*
 * curl_easy_reset() and curl_easy_cleanup() of a handle from
 * corun__http_easy_get*() or given to corun__http_add(): they keep, or
 * free, what those attached to the handle (its record, the DNS cache).
 */
void corun__http_easy_reset(CURL *easy);
void corun__http_easy_free(CURL *easy);
/*
 * CURLOPT_URL for a handle from corun__http_easy_get*(), given parsed as
 * well (CURLOPT_CURLU) so that libcurl does not parse the text and print
 * it back out at every transfer (7.88 spends about 10,000 instructions a
 * request there, mostly in its printf). Same URL, same request. Every URL
 * of such a handle goes this way: CURLOPT_URL alone would leave the
 * parsed one in charge. curl's effective URL of such a hop is the text as
 * given (or, after libcurl asked again on its own, curl's spelling of
 * it): read it only after a redirect, whose URL curl spelled. Returns 0,
 * or -1 as curl_easy_setopt(CURLOPT_URL) fails.
 */
int corun__http_set_url(CURL *easy, const char *url);
/*
 * corun_global_init()'s and corun_global_cleanup()'s part: it allows
 * the first corun__http_new() to load libcurl and run its set-up, which
 * a run without a fetch never does. Returns 0.
 */
int corun__http_global_init(void);
void corun__http_global_cleanup(void);

/*
 * The one cookie jar of h's transfers that ask for cookies (one thread:
 * no locks); NULL on oom. Freed with h.
 */
CURLSH *corun__http_cookies(struct corun_http *h);
/*
 * For tests: how many multi handles h has made (see http.c: many
 * transfers at once are spread over several) and how many finished easy
 * handles it keeps for reuse.
 */
void corun__http_counts(const struct corun_http *h, size_t *multis,
                        size_t *pooled);
/* No more transfers for now: stop watching sockets so the loop can end. */
void corun__http_quiesce(struct corun_http *h);
/*
 * Close every handle and free h, then call closed(arg) from the loop (as
 * uv_close does); the caller turns the loop until then.
 */
void corun__http_close(struct corun_http *h, void (*closed)(void *arg),
                       void *arg);

#endif
