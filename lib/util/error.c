/* SPDX-License-Identifier: MIT */
/* Message tables for error.h, generated from its X-macro lists. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *corun_strerror(enum corun_code code)
{
  switch (code) {
#define X(name, msg)                                                           \
  case CORUN_##name:                                                           \
    return msg;
    CORUN_CODE_MAP(X)
#undef X
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
