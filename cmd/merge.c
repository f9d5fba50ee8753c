/* SPDX-License-Identifier: MIT */
#include "merge.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corun.h"
#include "exit.h"
#include "options.h"

static const char usage[] =
    "Usage: corun merge [--report FILE] [--junit FILE] [--html FILE]\n"
    "                   [--trace FILE] [--results PATH]... REPORT...\n"
    "Join the JSON reports of the shards of one job (runs with --shard K/N)\n"
    "into the reports one run of the whole job would have written, and exit\n"
    "as that run would have. FILE may be - for standard output. --results\n"
    "PATH joins a split pipeline's results file, found at PATH beside each\n"
    "shard's report, in item order into PATH.\n";

static int merge_usage(const char *what, const char *arg)
{
  fprintf(stderr, "corun merge: %s%s%s\n%s", what, arg ? " " : "",
          arg ? arg : "", usage);
  return CORUN_EXIT_USAGE;
}

/* "--name FILE" or "--name=FILE": the value, advancing *i; NULL: not it. */
static const char *value_of(int argc, char **argv, int *i, const char *name,
                            int *missing)
{
  size_t n = strlen(name);

  if (strncmp(argv[*i], name, n) != 0)
    return NULL;
  if (argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (argv[*i][n] != '\0')
    return NULL;
  if (*i + 1 >= argc) {
    *missing = 1;
    return NULL;
  }
  return argv[++*i];
}

/*
 * Two writers of one file lose data, and an output over a shard's report
 * loses the report: each output is a file of its own, by whatever names.
 */
/* Where a shard's results file is: path beside its report. */
static char *beside(const char *report, const char *path)
{
  const char *slash = strrchr(report, '/');
  size_t n = slash ? (size_t)(slash - report) + 1 : 0;
  char *s = malloc(n + strlen(path) + 1);

  if (s) {
    memcpy(s, report, n);
    strcpy(s + n, path);
  }
  return s;
}

/*
 * A results output (PATH, joined from PATH beside each shard's report)
 * must not be one file with a report output or a shard's report, nor may
 * a report output fall on a shard's results file.
 */
static int results_apart(const char **const slot[4],
                         const char *const flags[4], const char **reports,
                         size_t nreports, const char **results,
                         size_t nresults)
{
  size_t a, b, k;

  for (k = 0; k < nresults; k++) {
    for (a = 0; a < 4; a++)
      if (*slot[a] && options_one_file(*slot[a], results[k])) {
        fprintf(stderr, "corun merge: %s '%s' and --results '%s' are one "
                        "file: one would write over the other\n",
                flags[a], *slot[a], results[k]);
        return -1;
      }
    for (b = 0; b < nreports; b++) {
      char *in;
      int same = 0;

      if (strcmp(reports[b], "-") == 0)
        continue;
      if (options_one_file(results[k], reports[b])) {
        fprintf(stderr, "corun merge: --results '%s' is the shard report "
                        "'%s': it would be written over\n",
                results[k], reports[b]);
        return -1;
      }
      if ((in = beside(reports[b], results[k])) == NULL) {
        fputs("corun merge: out of memory\n", stderr);
        return -1;
      }
      for (a = 0; a < 4 && !same; a++)
        if (*slot[a] && strcmp(*slot[a], "-") != 0 &&
            options_one_file(*slot[a], in)) {
          fprintf(stderr, "corun merge: %s '%s' is the results file '%s' "
                          "of a shard: it would be written over\n",
                  flags[a], *slot[a], in);
          same = 1;
        }
      free(in);
      if (same)
        return -1;
    }
  }
  return 0;
}

static int outputs_apart(const char **const slot[4], const char **reports,
                         size_t nreports, const char **results,
                         size_t nresults)
{
  static const char *const flags[] = {"--report", "--junit", "--html",
                                      "--trace"};
  size_t a, b;

  if (results_apart(slot, flags, reports, nreports, results, nresults) < 0)
    return -1;

  for (a = 0; a < 4; a++) {
    if (*slot[a] == NULL)
      continue;
    for (b = a + 1; b < 4; b++)
      if (*slot[b] && options_one_file(*slot[a], *slot[b])) {
        fprintf(stderr, "corun merge: %s '%s' and %s '%s' are one file: one "
                        "would write over the other\n",
                flags[a], *slot[a], flags[b], *slot[b]);
        return -1;
      }
    for (b = 0; b < nreports; b++)
      if (strcmp(reports[b], "-") != 0 && strcmp(*slot[a], "-") != 0 &&
          options_one_file(*slot[a], reports[b])) {
        fprintf(stderr, "corun merge: %s '%s' is the shard report '%s': it "
                        "would be written over\n",
                flags[a], *slot[a], reports[b]);
        return -1;
      }
  }
  return 0;
}

int merge_main(int argc, char **argv)
{
  static const char *const names[] = {"--report", "--junit", "--html",
                                      "--trace", "--results"};
  struct corun_merge_opts o = CORUN_MERGE_OPTS_INIT;
  const char **reports = calloc((size_t)argc, sizeof(*reports));
  const char **results = calloc((size_t)argc, sizeof(*results));
  const char **slot[4];
  struct corun_buf diag = CORUN_BUF_INIT;
  struct corun_error err = {0};
  enum corun_code code;
  int i, k, status, stdout_users = 0, rc = CORUN_EXIT_USAGE, options = 1;

  if (reports == NULL || results == NULL) {
    fputs("corun merge: out of memory\n", stderr);
    goto out;
  }
  slot[0] = &o.report;
  slot[1] = &o.junit;
  slot[2] = &o.html;
  slot[3] = &o.trace;
  for (i = 1; i < argc; i++) {
    const char *v = NULL;
    int missing = 0;

    if (options && strcmp(argv[i], "--") == 0) {
      options = 0;
      continue;
    }
    if (options &&
        (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
      fputs(usage, stdout);
      rc = exit_printed();
      goto out;
    }
    if (!options || argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
      reports[o.nreports++] = argv[i];
      continue;
    }
    for (k = 0; k < 5 && v == NULL && !missing; k++)
      v = value_of(argc, argv, &i, names[k], &missing);
    k--;
    if (missing) {
      rc = merge_usage("a value is needed after", names[k]);
      goto out;
    }
    if (v == NULL) {
      rc = merge_usage("unknown option", argv[i]);
      goto out;
    }
    if (*v == '\0') {
      rc = merge_usage("an empty value for", names[k]);
      goto out;
    }
    if (k == 4) {
      results[o.nresults++] = v;
      continue;
    }
    if (*slot[k]) {
      rc = merge_usage("given twice:", names[k]);
      goto out;
    }
    *slot[k] = v;
    stdout_users += strcmp(v, "-") == 0;
  }
  if (o.nreports == 0) {
    rc = merge_usage("no report to merge", NULL);
    goto out;
  }
  if (stdout_users > 1) {
    rc = merge_usage("only one output can go to standard output", NULL);
    goto out;
  }
  if (outputs_apart(slot, reports, o.nreports, results, o.nresults) < 0)
    goto out;
  o.reports = reports;
  o.results = results;
  /* A reader that went away is a write error, not a silent death. */
  signal(SIGPIPE, SIG_IGN);
  code = corun_merge(&o, &status, &diag, &err);
  if (code == CORUN_EINVAL) {
    fputs(corun_buf_str(&diag), stderr);
  } else if (code != CORUN_OK) {
    fprintf(stderr, "corun merge: %s\n", err.msg);
  } else {
    rc = status;
  }
out:
  corun_buf_free(&diag);
  free(reports);
  free(results);
  return rc;
}
