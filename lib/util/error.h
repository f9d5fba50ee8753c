/* SPDX-License-Identifier: MIT */
/*
 * Error codes of the library and the error types a task can end with.
 *
 * Library calls that can fail return an enum corun_code and describe the
 * failure in a caller-owned struct corun_error. Task errors are a different
 * thing: they are outcomes of the job (a sleep that was told to fail, a
 * timeout) and use enum corun_errtype, whose names are the job-file
 * contract's error "type" strings.
 */
#ifndef CORUN_ERROR_H
#define CORUN_ERROR_H

#include <stddef.h>

/* enum corun_code, struct corun_error and corun_strerror are public. */
#include "corun.h"

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
