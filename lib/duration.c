/* SPDX-License-Identifier: MIT */
#include "duration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int corun_duration_parse(const char *s, double *out, const char **why)
{
  const char *unit;
  double v, scale;

  if (plain_number(s, &v, &unit) < 0) {
    *why = "is not a duration (use seconds, or a string like \"250ms\", "
           "\"1.5s\", \"2m\", \"1h\")";
    return -1;
  }
  if (strcmp(unit, "") == 0 || strcmp(unit, "s") == 0)
    scale = 1;
  else if (strcmp(unit, "ms") == 0)
    scale = 0.001;
  else if (strcmp(unit, "m") == 0)
    scale = 60;
  else if (strcmp(unit, "h") == 0)
    scale = 3600;
  else {
    *why = strchr(unit, ' ')
               ? "is not a duration (no space before the unit: \"5s\")"
               : "has an unknown unit (use ms, s, m or h)";
    return -1;
  }
  return check_seconds(v * scale, out, why);
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
