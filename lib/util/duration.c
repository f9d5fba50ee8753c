/* SPDX-License-Identifier: MIT */
#include "util/duration.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* strtod accepts hex, "inf", "nan" and leading spaces; the format does not. */
static int plain_number(const char *s, double *out, const char **end)
{
  const char *p = s;
  char *e;

  if (*p == '-' || *p == '+')
    p++;
  if (!(*p >= '0' && *p <= '9') && !(*p == '.' && p[1] >= '0' && p[1] <= '9'))
    return -1;
  while (*p >= '0' && *p <= '9')
    p++;
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9')
      p++;
  }
  if ((*p == 'e' || *p == 'E') &&
      ((p[1] >= '0' && p[1] <= '9') ||
       ((p[1] == '+' || p[1] == '-') && p[2] >= '0' && p[2] <= '9'))) {
    p += 2;
    while (*p >= '0' && *p <= '9')
      p++;
  }
  *out = strtod(s, &e);
  if (e != p)
    return -1;
  *end = p;
  return 0;
}

static int check_seconds(double v, double *out, const char **why)
{
  if (isnan(v) || isinf(v)) {
    *why = "must be a finite duration";
    return -1;
  }
  if (v < 0) {
    *why = "must not be negative";
    return -1;
  }
  if (v > 1e9) {
    *why = "is too large (at most 1e9 seconds)";
    return -1;
  }
  *out = v;
  return 0;
}

/* The units of a duration string; "ms" before "m" so the longer wins. */
static const struct {
  const char *name;
  double scale;
} units[] = {{"h", 3600}, {"ms", 0.001}, {"m", 60}, {"s", 1}};

/* The unit at *p (advanced past it), or NULL. */
static const char *read_unit(const char **p, double *scale)
{
  size_t i, n;

  for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    n = strlen(units[i].name);
    if (strncmp(*p, units[i].name, n) == 0) {
      *p += n;
      *scale = units[i].scale;
      return units[i].name;
    }
  }
  return NULL;
}

/*
 * "1m30s": parts in strictly decreasing units, so each unit comes at most
 * once and "30s1m", which reads like a mistake, is refused. Any part may
 * have a fraction ("1m30.5s", "1.5h"), as in Go's durations.
 */
int corun_duration_parse(const char *s, double *out, const char **why)
{
  const char *p = s, *end;
  double v, scale, total = 0, last_scale = INFINITY;
  int parts = 0;

  for (;;) {
    /* Only the first part may have a sign: "1m-30s" is no duration. */
    if ((parts > 0 && (*p == '-' || *p == '+')) ||
        plain_number(p, &v, &end) < 0) {
      *why = "is not a duration (use seconds, or a string like \"250ms\", "
             "\"1.5s\", \"2m\", \"1h\", \"1m30s\")";
      return -1;
    }
    p = end;
    if (*p == '\0' && parts == 0)
      return check_seconds(v, out, why); /* a bare number: seconds */
    if (read_unit(&p, &scale) == NULL) {
      if (*p == '\0')
        *why = "needs a unit on every part (\"1m30s\", not \"1m30\")";
      else if (*p == ' ')
        *why = "is not a duration (no space before the unit: \"5s\")";
      else
        *why = "has an unknown unit (use ms, s, m or h)";
      return -1;
    }
    if (scale >= last_scale) {
      *why = "has its units out of order (largest first, each once: "
             "\"1h5m\", \"1m30s\")";
      return -1;
    }
    last_scale = scale;
    total += v * scale;
    parts++;
    if (*p == '\0')
      break;
  }
  /* "-1m30s" would otherwise come out as -30 s, or "-0m5s" as 5 s. */
  if (parts > 1 && *s == '-') {
    *why = "must not be negative";
    return -1;
  }
  return check_seconds(total, out, why);
}

int corun_duration_json(const cJSON *v, double *out, const char **why)
{
  if (cJSON_IsNumber(v))
    return check_seconds(v->valuedouble, out, why);
  if (cJSON_IsString(v))
    return corun_duration_parse(v->valuestring, out, why);
  *why = "must be a duration (a number of seconds or a string like \"1.5s\")";
  return -1;
}

unsigned long long corun_duration_ms(double seconds)
{
  /* The epsilon keeps 0.3 s (300.00000000000006 ms) from becoming 301. */
  unsigned long long ms = (unsigned long long)ceil(seconds * 1000.0 - 1e-6);

  return ms == 0 && seconds > 0 ? 1 : ms;
}

int corun_rate_parse(const char *s, double *per_second, const char **why)
{
  const char *slash;
  double n, div;

  *why = "must be a rate like \"20/s\", \"5/m\" or \"100/h\"";
  if (plain_number(s, &n, &slash) < 0 || *slash != '/')
    return -1;
  if (strcmp(slash, "/s") == 0)
    div = 1;
  else if (strcmp(slash, "/m") == 0)
    div = 60;
  else if (strcmp(slash, "/h") == 0)
    div = 3600;
  else
    return -1;
  if (!(n > 0) || isinf(n)) {
    *why = "must be a positive rate";
    return -1;
  }
  /*
   * At most one interval of 1e9 s, the longest duration (found by fuzzing:
   * "9e-324/m" came out as 0 per second, and a pipeline's "1e-300/s" made
   * an interval no timer's integer milliseconds can hold).
   */
  if (div / n > 1e9) {
    *why = "is too slow (at least one per 1e9 seconds)";
    return -1;
  }
  *per_second = n / div;
  return 0;
}

/* ---- sizes ---- */

static const struct {
  const char *name;
  int exp10;    /* powers of 1000 as a power of ten, else 0 */
  double scale; /* powers of 1024: exact in a double */
} size_units[] = {
    {"B", 0, 1},
    {"KB", 3, 0},
    {"MB", 6, 0},
    {"GB", 9, 0},
    {"TB", 12, 0},
    {"KiB", 0, 1024.0},
    {"MiB", 0, 1048576.0},
    {"GiB", 0, 1073741824.0},
    {"TiB", 0, 1099511627776.0},
};

#define SIZE_UNITS_HINT "use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"

static int check_bytes(double v, double max, long long *out, const char **why)
{
  if (v < 0) {
    *why = "must not be negative";
    return -1;
  }
  if (v != floor(v)) {
    *why = "is not a whole number of bytes";
    return -1;
  }
  if (!(v <= max)) {
    *why = "is too large (at most 2^53 bytes, 8 PiB)";
    return -1;
  }
  *out = (long long)v;
  return 0;
}

int corun_size_parse(const char *s, long long *out, const char **why)
{
  const char *unit;
  double v;
  size_t i;

  if (plain_number(s, &v, &unit) < 0 || strpbrk(s, "eE") != NULL) {
    *why = "is not a size (a number of bytes, or a string like \"512KB\", "
           "\"10MB\", \"64KiB\", \"1GiB\")";
    return -1;
  }
  /* A bare number string is bytes: a ${var} can only give a string. */
  if (*unit == '\0') {
    /*
     * Whole digits are read exactly: as a double "9007199254740993" would
     * round to 2^53 and pass.
     */
    if (s[strspn(s, "0123456789")] == '\0') {
      unsigned long long u;

      errno = 0;
      u = strtoull(s, NULL, 10);
      if (errno == ERANGE || u > (unsigned long long)CORUN_SIZE_MAX) {
        *why = "is too large (at most 2^53 bytes, 8 PiB)";
        return -1;
      }
    }
    return check_bytes(v, CORUN_SIZE_MAX, out, why);
  }
  for (i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
    char buf[64];

    if (strcmp(unit, size_units[i].name) != 0)
      continue;
    /*
     * 1.1 * 1e6 is 1100000.0000000002 in doubles; read as "1.1e6" the
     * decimal conversion rounds once, and a whole result stays whole.
     */
    if (size_units[i].exp10 &&
        snprintf(buf, sizeof(buf), "%.*se%d", (int)(unit - s), s,
                 size_units[i].exp10) < (int)sizeof(buf))
      return check_bytes(strtod(buf, NULL), CORUN_SIZE_MAX, out, why);
    return check_bytes(v * (size_units[i].exp10 ? pow(10, size_units[i].exp10)
                                                : size_units[i].scale),
                       CORUN_SIZE_MAX, out, why);
  }
  /* "10mb" or "1gib": say which spelling is meant. */
  for (i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
    if (strcasecmp(unit, size_units[i].name) == 0) {
      *why = "has its unit in the wrong case (units are case-sensitive: "
             "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";
      return -1;
    }
  *why = *unit == ' ' ? "is not a size (no space before the unit: \"10MB\")"
                      : "has an unknown unit (" SIZE_UNITS_HINT ")";
  return -1;
}

int corun_size_json(const cJSON *v, long long *out, const char **why)
{
  if (cJSON_IsNumber(v)) {
    if (isnan(v->valuedouble) || isinf(v->valuedouble)) {
      *why = "must be a finite size";
      return -1;
    }
    return check_bytes(v->valuedouble, CORUN_SIZE_MAX, out, why);
  }
  if (cJSON_IsString(v))
    return corun_size_parse(v->valuestring, out, why);
  *why = "must be a size (a number of bytes or a string like \"10MB\")";
  return -1;
}

void corun__fmt_duration(double s, char *buf, size_t n)
{
  if (s < 1.0)
    snprintf(buf, n, "%.0fms", s * 1000.0);
  else if (s < 60.0)
    snprintf(buf, n, "%.2fs", s);
  else if (s < 3600.0)
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60.0));
  else
    snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60.0));
}

double corun__secs(uint64_t ns)
{
  return (double)ns / 1e9;
}
