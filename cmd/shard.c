/* SPDX-License-Identifier: MIT */
/*
 * --shard K/N and --shard auto: which part of the job this machine runs.
 * "auto" reads it from what the CI system or Kubernetes put in the
 * environment; each names its index from 0 or from 1, and corun counts
 * from 1. A total above 1 without an index is an error, never "the whole
 * job": N machines would each run all of it.
 */
#include "shard.h"
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More parts than this is a typo, not a fleet. */
#define MAX_SHARDS 1000000UL


/* A decimal number, digits only, at most MAX_SHARDS. */
static int number(const char *s, size_t n, unsigned long *out)
{
  unsigned long v = 0;
  size_t i;

  if (n == 0)
    return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
    if (v > MAX_SHARDS)
      return -1;
  }
  *out = v;
  return 0;
}

/* "K/N" into *k and *n; what names it in messages ("--shard", ...). */
static int parse_kn(const char *what, const char *s, unsigned *k, unsigned *n)
{
  const char *slash = strchr(s, '/');
  unsigned long a, b;

  if (slash == NULL || number(s, (size_t)(slash - s), &a) < 0 ||
      number(slash + 1, strlen(slash + 1), &b) < 0)
    return usage_error("%s takes K/N (the K-th of N parts, 1 <= K <= N)%s, not "
                "'%s'",
                what, strcmp(what, "--shard") == 0 ? " or auto" : "", s);
  if (b == 0)
    return usage_error("%s %s: N must be at least 1", what, s);
  if (a < 1 || a > b)
    return usage_error("%s %s: K must be from 1 to N (%lu)", what, s, b);
  *k = (unsigned)a;
  *n = (unsigned)b;
  return 0;
}

static const char *env(const char *name)
{
  const char *v = getenv(name);

  return v && *v ? v : NULL;
}

/*
 * One index/total pair of variables; base is 0 or 1, the index's first
 * value. Returns 1 with *k and *n set, 0 when neither is set, -1 after
 * saying what is wrong.
 */
static int from_pair(const char *system, const char *ivar, const char *tvar,
                     unsigned base, unsigned *k, unsigned *n)
{
  const char *is = env(ivar), *ts = env(tvar);
  unsigned long i, t;

  if (is == NULL && ts == NULL)
    return 0;
  if (ts == NULL)
    return usage_error("--shard auto: %s is set but %s is not: for %s, %s says "
                "how many parts there are",
                ivar, tvar, system, tvar);
  if (number(ts, strlen(ts), &t) < 0 || t == 0)
    return usage_error("--shard auto: %s='%s' is not a number of parts (an "
                "integer from 1)",
                tvar, ts);
  if (is == NULL) {
    /* One part of one is the whole job: nothing can run twice. */
    if (t == 1) {
      *k = *n = 1;
      return 1;
    }
    return usage_error("--shard auto: %s=%lu but %s is not set: without it each of "
                "the %lu machines would run the whole job",
                tvar, t, ivar, t);
  }
  if (number(is, strlen(is), &i) < 0)
    return usage_error("--shard auto: %s='%s' is not a part number: %s counts "
                "from %u, so it must be an integer from %u to %lu (%s=%lu)",
                ivar, is, system, base, base, t - 1 + base, tvar, t);
  if (i < base || i - base >= t)
    return usage_error("--shard auto: %s='%s' is out of range: %s counts from %u, "
                "so it must be from %u to %lu (%s=%lu)",
                ivar, is, system, base, base, t - 1 + base, tvar, t);
  *k = (unsigned)(i - base + 1);
  *n = (unsigned)t;
  return 1;
}

int shard_parse(const char *arg, unsigned *k, unsigned *n)
{
  static const struct {
    const char *system, *ivar, *tvar;
    unsigned base;
  } pairs[] = {
      {"GitLab", "CI_NODE_INDEX", "CI_NODE_TOTAL", 1},
      {"CircleCI", "CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0},
      {"Buildkite", "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT",
       0},
      {"a Kubernetes Indexed Job", "JOB_COMPLETION_INDEX", "CORUN_SHARD_TOTAL",
       0},
  };
  size_t i;
  const char *s;

  if (strcmp(arg, "auto") != 0)
    return parse_kn("--shard", arg, k, n);
  if ((s = env("CORUN_SHARD")) != NULL)
    return parse_kn("--shard auto: CORUN_SHARD", s, k, n);
  for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
    int r = from_pair(pairs[i].system, pairs[i].ivar, pairs[i].tvar,
                      pairs[i].base, k, n);

    if (r != 0)
      return r < 0 ? -1 : 0;
  }
  return usage_error("--shard auto: no shard in the environment: set CORUN_SHARD=K/N, "
              "or run as a GitLab parallel job (CI_NODE_INDEX, "
              "CI_NODE_TOTAL), a CircleCI or Buildkite parallel step, or a "
              "Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with "
              "CORUN_SHARD_TOTAL)");
}
