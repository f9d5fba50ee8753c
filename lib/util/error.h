/* SPDX-License-Identifier: MIT */
/*
 * How lib/ reports failure. One rule per kind of function:
 *
 * - Public calls (corun.h) that can fail return enum corun_code (CORUN_OK
 *   is 0) and, on failure, describe it in the caller's struct corun_error,
 *   which may be NULL. corun_failf() fills both in one statement. So do
 *   the internal functions that implement a public call and pass its err
 *   down (the loader's corun__load_*), and nothing else. The one public
 *   exception is the value parser corun_duration_parse(), which follows
 *   the internal rule (0 or -1, a static why) as its siblings do.
 * - Internal functions return 0 for success and -1 for failure, or a
 *   pointer and NULL. A reason, when the caller shows one, goes into an
 *   argument named why: a const char ** for static text, or a caller-owned
 *   struct corun_buf * that the callee appends one line to. The caller
 *   owns every message; no callee keeps or frees one. (Template expansion
 *   and the items made from templates still hand back a malloc'd char
 *   **err, the one form left to move to a struct corun_buf.)
 * - Questions ("whether ...", names with _has, _is, _ok, _inside, _armed)
 *   return 1 or 0 and cannot fail.
 * - System-level helpers in util/ that wrap system calls return 0 or an
 *   errno value (positive), and their comment says "Returns 0 or an errno";
 *   corun__open_confined() keeps open()'s -1 with errno. Callers turn the
 *   value into text with corun__confine_strerror() or strerror().
 * - Out of memory is a failure like any other: -1 or NULL internally (with
 *   no reason, the caller says "out of memory"), CORUN_ENOMEM in public.
 *   A struct corun_buf is the one exception: its appends return nothing
 *   and set the sticky oom flag, which its owner checks once at the end.
 * - What goes wrong with a task while it runs is not a return value but
 *   its outcome: the kind ends it with corun__task_finish() and an enum
 *   corun_errtype (below) and a message, and the run goes on.
 *
 * Every returned status is checked. Internal functions that return one
 * are marked CORUN_MUST_CHECK, so the build (-Werror) enforces it. A
 * library call whose failure is impossible or harmless where it is made
 * casts to (void) and a comment says why (uv_timer_start, for example,
 * fails only for a NULL callback or a closing handle). close() is checked
 * on a descriptor written to, where it may be the first to report a lost
 * write; on one only read or a directory it has nothing to report.
 *
 * Task errors, enum corun_errtype, are outcomes of the job (a sleep that
 * was told to fail, a timeout); their names are the job-file contract's
 * error "type" strings.
 */
#ifndef CORUN_ERROR_H
#define CORUN_ERROR_H

#include <stddef.h>

/* enum corun_code, struct corun_error and corun_strerror are public. */
#include "corun.h"

/* A status the caller must look at (see above). */
#if defined(__GNUC__)
#define CORUN_MUST_CHECK __attribute__((warn_unused_result))
#else
#define CORUN_MUST_CHECK
#endif

/* Order matters: the names are the report's "type" strings. */
#define CORUN_ERRTYPE_MAP(X)                                                   \
  X(NONE, "none")                                                              \
  X(TIMEOUT, "timeout")                                                        \
  X(CANCELLED, "cancelled")                                                    \
  X(SKIPPED, "skipped")                                                        \
  X(CHILD, "child")                                                            \
  X(HTTP_STATUS, "http_status")                                                \
  X(CONNECT, "connect")                                                        \
  X(DNS, "dns")                                                                \
  X(TLS, "tls")                                                                \
  X(TOO_LARGE, "too_large")                                                    \
  X(PROTOCOL, "protocol")                                                      \
  X(IO, "io")                                                                  \
  X(EXIT_STATUS, "exit_status")                                                \
  X(SIGNAL, "signal")                                                          \
  X(FAIL, "fail")                                                              \
  X(ASSERT, "assert")

enum corun_errtype {
#define X(name, str) CORUN_ERR_##name,
  CORUN_ERRTYPE_MAP(X)
#undef X
};

/* The contract's name of an error type ("timeout", "child", ...). */
const char *corun_errtype_name(enum corun_errtype type);

/*
 * Record a failure in err (which may be NULL) and return code, so callers
 * can write "return corun_failf(err, CORUN_EIO, ...)". The message is one
 * line without a trailing newline, cut to fit.
 */
enum corun_code corun_failf(struct corun_error *err, enum corun_code code,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
