/* SPDX-License-Identifier: MIT */
/* The command line: one table row per option, parsed GNU style. */
#ifndef CORUN_CMD_OPTIONS_H
#define CORUN_CMD_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

enum opt_id {
  OPT_REPORT = 1,
  OPT_JUNIT,
  OPT_TRACE,
  OPT_HTML,
  OPT_JOURNAL,
  OPT_PROGRESS,
  OPT_QUIET,
  OPT_JOBS,
  OPT_VAR,
  OPT_ROOT,
  OPT_TIMEOUT,
  OPT_CHECK,
  OPT_DRY_RUN,
  OPT_SHARD,
  OPT_SHARD_TIMINGS,
  OPT_DEBUG,
  OPT_VERSION,
  OPT_HELP
};

struct opt_row {
  enum opt_id id;
  const char *lng;
  char shrt;        /* 0: none */
  const char *arg;  /* NULL: takes no argument */
  const char *help;
};

/* The option table; ends with a row whose lng is NULL. */
extern const struct opt_row corun_options[];

enum { PROGRESS_AUTO, PROGRESS_ALWAYS, PROGRESS_NEVER };

struct options {
  const char *file;
  const char *report;
  const char *junit;
  const char *trace;
  const char *html;
  const char *journal;
  int progress; /* PROGRESS_AUTO, _ALWAYS or _NEVER */
  int graph;    /* "corun graph FILE": print DOT, run nothing */
  int quiet;    /* -q given this many times (at most 2) */
  unsigned jobs;
  const char *root;
  const char **vars;
  size_t nvars;
  double timeout; /* seconds; < 0 means none */
  int check;
  int dry_run; /* --dry-run: print every task's fields, run nothing */
  /* --shard K/N (or auto, resolved): 0/0 for the whole job */
  unsigned shard_index, shard_total;
  const char *shard_timings; /* --shard-timings REPORT, or NULL */
  int debug;
  int version;
  int help;
};

/*
 * Parse argv into o. Returns 0, or -1 after printing "corun: ..." and a
 * hint to stderr (a usage error: exit 2).
 */
int options_parse(struct options *o, int argc, char **argv);
void options_free(struct options *o);
/* The --help text, from the table. */
void options_help(FILE *out);
/*
 * Whether a and b ("-": standard output) are one file that writing both
 * would lose data in: the same regular file or pipe, however spelt.
 */
int options_one_file(const char *a, const char *b);

#endif
