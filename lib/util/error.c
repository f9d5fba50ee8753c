/* SPDX-License-Identifier: MIT */
/* Message tables for corun.h's codes and error.h's error types. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *corun_strerror(enum corun_code code)
{
  switch (code) {
  case CORUN_OK:
    return "success";
  case CORUN_ENOMEM:
    return "out of memory";
  case CORUN_EIO:
    return "input/output error";
  case CORUN_EINVAL:
    return "invalid job file";
  case CORUN_EUSAGE:
    return "invalid argument";
  case CORUN_ELOOP:
    return "event loop error";
  }
  return "unknown error";
}

const char *corun_errtype_name(enum corun_errtype type)
{
  switch (type) {
#define X(name, str)                                                           \
  case CORUN_ERR_##name:                                                       \
    return str;
    CORUN_ERRTYPE_MAP(X)
#undef X
  }
  return "unknown";
}

enum corun_code corun_failf(struct corun_error *err, enum corun_code code,
                            const char *fmt, ...)
{
  va_list ap;

  if (err == NULL)
    return code;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  return code;
}
