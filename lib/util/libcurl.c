/* SPDX-License-Identifier: MIT */
/*
 * libcurl's functions as corun calls them, each through a table that
 * dlopen() fills the first time one is needed (see libcurl.h for why),
 * but for the two of string lists, which are corun's own.
 * The definitions carry libcurl's own names and prototypes, so the code
 * that calls them, and curl.h's type checks, are as with a linked libcurl.
 */
#include "util/libcurl.h"

/* Here the functions are defined, not called: curl.h's checking macros off. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CORUN_LIBCURL_SONAME
#define CORUN_LIBCURL_SONAME "libcurl.so.4"
#endif

/* The functions with a fixed argument list: type, name, (params), (args). */
#define FIXED(X)                                                               \
  X(CURLcode, global_init, (long flags), (flags))                              \
  X(CURL *, easy_init, (void), ())                                             \
  X(const char *, easy_strerror, (CURLcode code), (code))                      \
  X(CURLHcode, easy_header,                                                    \
    (CURL * easy, const char *name, size_t index, unsigned int origin,         \
     int request, struct curl_header **hout),                                  \
    (easy, name, index, origin, request, hout))                                \
  X(curl_version_info_data *, version_info, (CURLversion v), (v))              \
  X(CURLU *, url, (void), ())                                                  \
  X(CURLUcode, url_get,                                                        \
    (CURLU * u, CURLUPart what, char **part, unsigned int flags),              \
    (u, what, part, flags))                                                    \
  X(CURLUcode, url_set,                                                        \
    (CURLU * u, CURLUPart what, const char *part, unsigned int flags),         \
    (u, what, part, flags))                                                    \
  X(CURLM *, multi_init, (void), ())                                           \
  X(CURLMcode, multi_add_handle, (CURLM * m, CURL *e), (m, e))                 \
  X(CURLMcode, multi_remove_handle, (CURLM * m, CURL *e), (m, e))              \
  X(CURLMcode, multi_cleanup, (CURLM * m), (m))                                \
  X(CURLMsg *, multi_info_read, (CURLM * m, int *left), (m, left))             \
  X(CURLMcode, multi_socket_action,                                            \
    (CURLM * m, curl_socket_t s, int ev_bitmask, int *running),                \
    (m, s, ev_bitmask, running))                                               \
  X(CURLMcode, multi_assign, (CURLM * m, curl_socket_t s, void *p), (m, s, p)) \
  X(CURLSH *, share_init, (void), ())                                          \
  X(CURLSHcode, share_cleanup, (CURLSH * sh), (sh))

/* The same for those that return nothing. */
#define FIXED_VOID(X)                                                          \
  X(global_cleanup, (void), ())                                                \
  X(easy_cleanup, (CURL * e), (e))                                             \
  X(easy_reset, (CURL * e), (e))                                               \
  X(free, (void *p), (p))                                                      \
  X(url_cleanup, (CURLU * u), (u))

/* The ones that take one more argument of a type the option decides. */
#define VARIADIC(X)                                                            \
  X(easy_setopt) X(easy_getinfo) X(multi_setopt) X(share_setopt)

static struct {
#define SLOT(type, name, params, args) __typeof__(curl_##name) *name;
#define SLOT_VOID(name, params, args) __typeof__(curl_##name) *name;
#define SLOT_VAR(name) __typeof__(curl_##name) *name;
  FIXED(SLOT)
  FIXED_VOID(SLOT_VOID)
  VARIADIC(SLOT_VAR)
#undef SLOT
#undef SLOT_VOID
#undef SLOT_VAR
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
/* Set once, by whichever thread loads first (pthread_once). */
static atomic_int loaded;
static char why_buf[512];

/* dlsym()'s object pointer as the function pointer it is (POSIX). */
static int sym(void *lib, const char *name, void *slot)
{
  void *p = dlsym(lib, name);

  if (p == NULL) {
    snprintf(why_buf, sizeof(why_buf), "%s has no %s", CORUN_LIBCURL_SONAME,
             name);
    return -1;
  }
  memcpy(slot, &p, sizeof(p));
  return 0;
}

static void load(void)
{
  /*
   * Local: the application may have a libcurl of its own in the process.
   * Lazy, as the dynamic linker binds a linked library: RTLD_NOW would also
   * bind every unused function of the thirty libraries libcurl brings
   * (LDAP, Kerberos, SSH...), 3 million instructions at each start of a
   * job that fetches. A libcurl built with BIND_NOW (Debian's is) still
   * has its own calls bound, and checked, here.
   */
  void *lib = dlopen(CORUN_LIBCURL_SONAME, RTLD_LAZY | RTLD_LOCAL);
  const char *e;

  if (lib == NULL) {
    e = dlerror();
    snprintf(why_buf, sizeof(why_buf), "cannot load libcurl: %s",
             e ? e : CORUN_LIBCURL_SONAME);
    return;
  }
#define LOAD(type, name, params, args)                                         \
  if (sym(lib, "curl_" #name, &fn.name) < 0)                                   \
    return;
#define LOAD_VOID(name, params, args) LOAD(void, name, params, args)
#define LOAD_VAR(name) LOAD(void, name, (), ())
  FIXED(LOAD)
  FIXED_VOID(LOAD_VOID)
  VARIADIC(LOAD_VAR)
#undef LOAD
#undef LOAD_VOID
#undef LOAD_VAR
  /* Kept open for the life of the process, as a linked library would be. */
  atomic_store(&loaded, 1);
}

int corun__libcurl_load(const char **why)
{
  if (pthread_once(&once, load) != 0 || !atomic_load(&loaded)) {
    *why = why_buf[0] ? why_buf : "cannot load libcurl";
    return -1;
  }
  return 0;
}

int corun__libcurl_loaded(void)
{
  return atomic_load(&loaded);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
  struct curl_slist *n = malloc(sizeof(*n)), *last;

  if (n == NULL)
    return NULL;
  if ((n->data = strdup(s)) == NULL) {
    free(n);
    return NULL;
  }
  n->next = NULL;
  if (list == NULL)
    return n;
  for (last = list; last->next; last = last->next)
    ;
  last->next = n;
  return list;
}

void curl_slist_free_all(struct curl_slist *list)
{
  while (list) {
    struct curl_slist *next = list->next;

    free(list->data);
    free(list);
    list = next;
  }
}

/*
 * Called before every libcurl call. corun's own callers have loaded it
 * (corun__libcurl_load) before their first call, so this fails only for a
 * program that calls libcurl through these definitions on a machine
 * without it: there is no error to return then.
 */
static void need(void)
{
  const char *why;

  if (__builtin_expect(atomic_load_explicit(&loaded, memory_order_acquire), 1))
    return;
  if (corun__libcurl_load(&why) < 0) {
    fprintf(stderr, "corun: %s\n", why);
    abort();
  }
}

#define DEFINE(type, name, params, args)                                       \
  type curl_##name params                                                      \
  {                                                                            \
    need();                                                                    \
    return fn.name args;                                                       \
  }
#define DEFINE_VOID(name, params, args)                                        \
  void curl_##name params                                                      \
  {                                                                            \
    need();                                                                    \
    fn.name args;                                                              \
  }
FIXED(DEFINE)
FIXED_VOID(DEFINE_VOID)
#undef DEFINE
#undef DEFINE_VOID

/*
 * The option's number says the type of its argument (curl.h: LONG from
 * 0, OBJECTPOINT from 10000, FUNCTIONPOINT from 20000, OFF_T from 30000,
 * BLOB from 40000); it is read as that type and passed on as it came.
 */
#define PASS_ON(call, opt, ap)                                                 \
  do {                                                                         \
    if ((opt) < CURLOPTTYPE_OBJECTPOINT) {                                     \
      long v_ = va_arg(ap, long);                                              \
      r = call(v_);                                                            \
    } else if ((opt) < CURLOPTTYPE_FUNCTIONPOINT) {                            \
      void *v_ = va_arg(ap, void *);                                           \
      r = call(v_);                                                            \
    } else if ((opt) < CURLOPTTYPE_OFF_T) {                                    \
      void (*v_)(void) = va_arg(ap, void (*)(void));                           \
      r = call(v_);                                                            \
    } else if ((opt) < CURLOPTTYPE_BLOB) {                                     \
      curl_off_t v_ = va_arg(ap, curl_off_t);                                  \
      r = call(v_);                                                            \
    } else {                                                                   \
      void *v_ = va_arg(ap, void *);                                           \
      r = call(v_);                                                            \
    }                                                                          \
  } while (0)

CURLcode curl_easy_setopt(CURL *easy, CURLoption option, ...)
{
  CURLcode r;
  va_list ap;

  need();
  va_start(ap, option);
#define CALL(v) fn.easy_setopt(easy, option, v)
  PASS_ON(CALL, (int)option, ap);
#undef CALL
  va_end(ap);
  return r;
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
  CURLMcode r;
  va_list ap;

  need();
  va_start(ap, option);
#define CALL(v) fn.multi_setopt(multi, option, v)
  PASS_ON(CALL, (int)option, ap);
#undef CALL
  va_end(ap);
  return r;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *easy, CURLINFO info, ...)
{
  CURLcode r;
  va_list ap;
  void *out;

  need();
  va_start(ap, info);
  out = va_arg(ap, void *);
  va_end(ap);
  r = fn.easy_getinfo(easy, info, out);
  return r;
}

/* SHARE and UNSHARE take a curl_lock_data (an int); the rest pointers. */
CURLSHcode curl_share_setopt(CURLSH *share, CURLSHoption option, ...)
{
  CURLSHcode r;
  va_list ap;

  need();
  va_start(ap, option);
  if (option == CURLSHOPT_SHARE || option == CURLSHOPT_UNSHARE) {
    int v = va_arg(ap, int);

    r = fn.share_setopt(share, option, v);
  } else if (option == CURLSHOPT_LOCKFUNC || option == CURLSHOPT_UNLOCKFUNC) {
    void (*v)(void) = va_arg(ap, void (*)(void));

    r = fn.share_setopt(share, option, v);
  } else {
    void *v = va_arg(ap, void *);

    r = fn.share_setopt(share, option, v);
  }
  va_end(ap);
  return r;
}
