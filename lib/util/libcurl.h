/* SPDX-License-Identifier: MIT */
/*
 * libcurl, loaded when it is first needed.
 *
 * libcurl brings some 30 libraries with it (two TLS stacks, Kerberos,
 * LDAP, SSH...): mapping and relocating them is nine tenths of corun's
 * start-up, which a job of commands and sleeps never needs. So corun is
 * not linked with libcurl: lib/util/libcurl.c defines the curl_*
 * functions corun calls, and each goes through a table filled from
 * dlopen() the first time one is called. Code that uses libcurl includes
 * <curl/curl.h> as usual (with its type checks).
 *
 * Where a failure to load must be a clean error rather than an abort, call
 * corun__libcurl_load() first: the loader does once a job with a fetch is
 * read, so a machine without libcurl gets a load error there, naming the
 * job's first fetch. (Not on a thread of its own while the job is read:
 * once a process has had a second thread, glibc takes locks in every
 * malloc and free and wraps every system call for cancellation, a few
 * percent of a big job's run for a few milliseconds of its load.)
 *
 * curl_slist_append() and curl_slist_free_all() are corun's own: a list
 * is plain memory that libcurl only reads, so a job's header lists are
 * made without waiting for libcurl.
 */
#ifndef CORUN_UTIL_LIBCURL_H
#define CORUN_UTIL_LIBCURL_H

/*
 * Loads libcurl once for the process (thread-safe). 0, or -1 with *why
 * (a static string: which library, and dlopen()'s reason).
 */
int corun__libcurl_load(const char **why);

/* Whether libcurl has been loaded (for tests: a job without fetches). */
int corun__libcurl_loaded(void);

#endif
