/* SPDX-License-Identifier: MIT */
/*
 * Option parsing for corun. The table below is the one list of options:
 * getopt_long's table, --help and the man page test all come from it.
 */
#include "options.h"
#include "usage.h"

#include <getopt.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "corun.h"
#include "shard.h"

const struct opt_row corun_options[] = {
    {OPT_REPORT, "report", 0, "FILE",
     "write the JSON report to FILE ('-' for stdout)"},
    {OPT_JUNIT, "junit", 0, "FILE",
     "write a JUnit XML report to FILE ('-' for stdout)"},
    {OPT_TRACE, "trace", 0, "FILE",
     "write a Chrome trace (Perfetto, chrome://tracing) to FILE"},
    {OPT_HTML, "html", 0, "FILE",
     "write a self-contained HTML report to FILE ('-' for stdout)"},
    {OPT_JOURNAL, "journal", 0, "FILE",
     "record ended tasks in FILE; a rerun skips those that ended ok"},
    {OPT_PROGRESS, "progress", 0, "WHEN",
     "status line on stderr: auto (a terminal), always, never"},
    {OPT_QUIET, "quiet", 'q', NULL,
     "print only failed tasks and root causes; twice: nothing"},
    {OPT_JOBS, "jobs", 'j', "N",
     "run at most N fetch/exec tasks at once (overrides \"concurrency\")"},
    {OPT_VAR, "var", 0, "NAME=VALUE", "set the job variable NAME (repeatable)"},
    {OPT_ROOT, "root", 0, "DIR",
     "confine every path the job reads or writes to DIR"},
    {OPT_TIMEOUT, "timeout", 0, "DURATION",
     "cancel everything after DURATION and exit 124"},
    {OPT_CHECK, "check", 0, NULL,
     "validate the job and print its task tree; run nothing"},
    {OPT_DRY_RUN, "dry-run", 0, NULL,
     "validate the job and print every task as it would run; run nothing"},
    {OPT_SHARD, "shard", 0, "K/N",
     "run only part K of N of the job ('auto': from CI variables)"},
    {OPT_SHARD_TIMINGS, "shard-timings", 0, "REPORT",
     "balance the --shard parts by the durations in an earlier report"},
    {OPT_DEBUG, "debug", 0, NULL,
     "trace task state changes, dump tasks, warn on slow callbacks"},
    {OPT_VERSION, "version", 'V', NULL, "print the version and exit"},
    {OPT_HELP, "help", 'h', NULL, "print this help and exit"},
    {0, NULL, 0, NULL, NULL},
};


static int add_var(struct options *o, const char *v)
{
  const char **nv = realloc(o->vars, (o->nvars + 1) * sizeof(*nv));

  if (nv == NULL)
    return usage_error("out of memory");
  o->vars = nv;
  o->vars[o->nvars++] = v;
  return 0;
}

/* The table row for getopt_long's return value or optopt, or NULL. */
static const struct opt_row *row_of(int c)
{
  size_t i;

  for (i = 0; corun_options[i].lng; i++)
    if (c == corun_options[i].shrt || c == 256 + (int)corun_options[i].id)
      return &corun_options[i];
  return NULL;
}

/*
 * A long option getopt_long refused: arg is the word as written
 * ("--vers=1", "--j", "--bogus"). Worked out again here because getopt's
 * own messages are off and it says only "something was wrong".
 */
static int bad_long_option(const char *arg)
{
  const char *names[32], *eq = strchr(arg, '=');
  const struct opt_row *match[32];
  size_t n = 0, nm = 0, i;
  size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
  char *word;
  const char *hint;

  for (i = 0; corun_options[i].lng && n < 31; i++) {
    const struct opt_row *r = &corun_options[i];

    names[n++] = r->lng;
    if (strncmp(r->lng, arg + 2, len) != 0)
      continue;
    if (strlen(r->lng) == len) { /* an exact name beats its prefixes */
      match[0] = r;
      nm = 1;
      break;
    }
    match[nm++] = r;
  }
  names[n] = NULL;
  if (nm == 1 && eq && match[0]->arg == NULL)
    return usage_error("option '--%s' takes no argument", match[0]->lng);
  if (nm > 1) {
    char list[256];
    size_t used = 0, j;

    /* Alphabetical, as the reader scans for the one meant. */
    for (i = 1; i < nm; i++)
      for (j = i; j > 0 && strcmp(match[j - 1]->lng, match[j]->lng) > 0; j--) {
        const struct opt_row *t = match[j];

        match[j] = match[j - 1];
        match[j - 1] = t;
      }
    list[0] = '\0';
    for (i = 0; i < nm && used < sizeof(list); i++)
      used += (size_t)snprintf(list + used, sizeof(list) - used, "%s--%s",
                               i ? ", " : "", match[i]->lng);
    return usage_error("option '%.*s' is ambiguous: %s", (int)(len + 2), arg,
                       list);
  }
  word = strndup(arg + 2, len);
  hint = word ? corun_suggest(word, names, n) : NULL;
  free(word);
  if (hint) {
    fprintf(stderr,
            "corun: unknown option '%s' (did you mean '--%s'?) (try 'corun "
            "--help')\n",
            arg, hint);
    return -1;
  }
  return usage_error("unknown option '%s'", arg);
}

/*
 * A file option given twice: the first file would silently not be
 * written, so it is an error, as corun merge has it. (Settings such as
 * -j and --timeout take the last, as most tools do.)
 */
static int once(const char **slot, const char *flag)
{
  if (*slot)
    return usage_error("%s given twice ('%s' and '%s'): give it once",
                       flag, *slot, optarg);
  *slot = optarg;
  return 0;
}

int options_parse(struct options *o, int argc, char **argv)
{
  struct option longs[32];
  char shorts[64];
  size_t i, ns = 0;
  int c;
  const char *shard = NULL;

  memset(o, 0, sizeof(*o));
  o->timeout = -1;
  shorts[ns++] = ':'; /* report a missing argument as ':' */
  for (i = 0; corun_options[i].lng; i++) {
    const struct opt_row *r = &corun_options[i];

    longs[i].name = r->lng;
    longs[i].has_arg = r->arg ? required_argument : no_argument;
    longs[i].flag = NULL;
    longs[i].val = r->shrt ? r->shrt : 256 + (int)r->id;
    if (r->shrt) {
      shorts[ns++] = r->shrt;
      if (r->arg)
        shorts[ns++] = ':';
    }
  }
  memset(&longs[i], 0, sizeof(longs[i]));
  shorts[ns] = '\0';
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
    enum opt_id id = 0;
    char *end;
    const char *why;

    if (c == '?') {
      /*
       * optopt is 0 for an unknown or ambiguous long option and the
       * option's value for one given an argument it does not take; a
       * short option's letter is never both known and refused.
       */
      if (optopt && optopt < 256 && row_of(optopt) == NULL) {
        char s[3] = {'-', (char)optopt, '\0'};

        return usage_error("unknown option '%s'", s);
      }
      return bad_long_option(argv[optind - 1]);
    }
    if (c == ':') {
      const struct opt_row *r = row_of(optopt);

      if (r && strncmp(argv[optind - 1], "--", 2) == 0)
        return usage_error("option '--%s' needs an argument: --%s %s", r->lng,
                           r->lng, r->arg);
      if (r)
        return usage_error("option '-%c' needs an argument: -%c %s", r->shrt,
                           r->shrt, r->arg);
      return usage_error("option '%s' needs an argument", argv[optind - 1]);
    }
    if (row_of(c))
      id = row_of(c)->id;
    switch (id) {
    case OPT_REPORT:
      if (*optarg == '\0')
        return usage_error("--report needs a file name ('-' for stdout)");
      if (once(&o->report, "--report") < 0)
        return -1;
      break;
    case OPT_JUNIT:
      if (*optarg == '\0')
        return usage_error("--junit needs a file name ('-' for stdout)");
      if (once(&o->junit, "--junit") < 0)
        return -1;
      break;
    case OPT_TRACE:
      if (*optarg == '\0')
        return usage_error("--trace needs a file name ('-' for stdout)");
      if (once(&o->trace, "--trace") < 0)
        return -1;
      break;
    case OPT_HTML:
      if (*optarg == '\0')
        return usage_error("--html needs a file name ('-' for stdout)");
      if (once(&o->html, "--html") < 0)
        return -1;
      break;
    case OPT_JOURNAL:
      if (*optarg == '\0')
        return usage_error("--journal needs a file name");
      if (once(&o->journal, "--journal") < 0)
        return -1;
      break;
    case OPT_PROGRESS:
      if (strcmp(optarg, "auto") == 0)
        o->progress = PROGRESS_AUTO;
      else if (strcmp(optarg, "always") == 0)
        o->progress = PROGRESS_ALWAYS;
      else if (strcmp(optarg, "never") == 0)
        o->progress = PROGRESS_NEVER;
      else
        return usage_error("--progress takes auto, always or never, not '%s'",
                           optarg);
      break;
    case OPT_QUIET:
      if (o->quiet < 2)
        o->quiet++;
      break;
    case OPT_JOBS: {
      unsigned long j = strtoul(optarg, &end, 10);

      if (*optarg < '0' || *optarg > '9' || *end || j == 0 || j > 1000000)
        return usage_error("-j/--jobs needs a positive integer (at most "
                           "1000000), not '%s'",
                           optarg);
      o->jobs = (unsigned)j;
      break;
    }
    case OPT_VAR:
      if (strchr(optarg, '=') == NULL || optarg[0] == '=')
        return usage_error("--var needs NAME=VALUE, not '%s'", optarg);
      if (add_var(o, optarg) < 0)
        return -1;
      break;
    case OPT_ROOT:
      if (once(&o->root, "--root") < 0)
        return -1;
      break;
    case OPT_TIMEOUT:
      if (corun_duration_parse(optarg, &o->timeout, &why) < 0)
        return usage_error("--timeout '%s' %s", optarg, why);
      if (o->timeout == 0)
        return usage_error("--timeout %s would end the run at once (leave "
                           "--timeout out for no bound)",
                           optarg);
      break;
    case OPT_CHECK:
      o->check = 1;
      break;
    case OPT_DRY_RUN:
      o->dry_run = 1;
      break;
    case OPT_SHARD:
      if (once(&shard, "--shard") < 0)
        return -1;
      break;
    case OPT_SHARD_TIMINGS:
      if (*optarg == '\0')
        return usage_error("--shard-timings needs a report file");
      if (once(&o->shard_timings, "--shard-timings") < 0)
        return -1;
      break;
    case OPT_DEBUG:
      o->debug = 1;
      break;
    case OPT_VERSION:
      o->version = 1;
      break;
    case OPT_HELP:
      o->help = 1;
      break;
    }
  }
  if (o->help || o->version)
    return 0;
  if (shard && shard_parse(shard, &o->shard_index, &o->shard_total) < 0)
    return -1;
  if (o->shard_timings && !shard)
    return usage_error("--shard-timings balances --shard parts: give "
                       "--shard K/N too");
  /* Two reports in one stream or file would be neither JSON nor XML. */
  {
    const char *outs[4] = {o->report, o->junit, o->trace, o->html};
    static const char *const names[4] = {"--report", "--junit", "--trace",
                                         "--html"};
    int a, b;

    for (a = 0; a < 4; a++)
      for (b = a + 1; b < 4; b++)
        if (outs[a] && outs[b] && strcmp(outs[a], outs[b]) == 0)
          return usage_error("%s and %s cannot both write to %s%s%s",
                             names[a], names[b],
                             strcmp(outs[b], "-") ? "'" : "",
                             strcmp(outs[b], "-") ? outs[b] : "standard output",
                             strcmp(outs[b], "-") ? "'" : "");
  }
  /*
   * "corun graph FILE": a command word before the job file. A job file
   * named "graph" is "./graph", as with any command word.
   */
  if (optind < argc && strcmp(argv[optind], "graph") == 0) {
    if (optind + 1 >= argc)
      return usage_error("graph needs a job file: corun graph FILE (or - "
                         "for stdin)");
    o->graph = 1;
    optind++;
  }
  if (optind >= argc)
    return usage_error("no job file given");
  if (optind + 1 < argc)
    return usage_error("one job file at a time; extra argument '%s'",
                       argv[optind + 1]);
  o->file = argv[optind];
  return 0;
}

void options_free(struct options *o)
{
  free(o->vars);
}

void options_help(FILE *out)
{
  size_t i;

  fputs("Usage: corun [OPTIONS] FILE|-\n"
        "       corun graph FILE|-\n"
        "       corun ps [--json] [PID]\n"
        "       corun merge [--report F] [--junit F] [--html F] [--trace F]\n"
        "                   [--results PATH]... REPORT...\n"
        "Run the JSON job graph in FILE ('-' reads stdin) on one event loop;\n"
        "'graph' prints its task tree as Graphviz DOT instead; 'ps' prints\n"
        "the task dump of a running corun (none given: lists them); 'merge'\n"
        "joins the reports of a job's shards into one run's reports.\n"
        "\nOptions:\n",
        out);
  for (i = 0; corun_options[i].lng; i++) {
    const struct opt_row *r = &corun_options[i];
    char left[64];

    if (r->shrt)
      snprintf(left, sizeof(left), "-%c, --%s%s%s", r->shrt, r->lng,
               r->arg ? " " : "", r->arg ? r->arg : "");
    else
      snprintf(left, sizeof(left), "    --%s%s%s", r->lng, r->arg ? " " : "",
               r->arg ? r->arg : "");
    fprintf(out, "  %-26s %s\n", left, r->help);
  }
  fputs("\nExit status: 0 all root tasks ok, 1 some did not, 2 invalid job or "
        "usage,\n124 --timeout expired, 130 SIGINT, 143 SIGTERM, 129 SIGHUP.\n"
        "Environment: CORUN_DEBUG=1 is --debug; NO_COLOR turns colour off.\n"
        "See corun(1) for the job file format.\n",
        out);
}

/*
 * Whether a and b ("-": standard output) are one file that writing both
 * would lose data in: the same regular file or pipe, however spelt. A
 * terminal or /dev/null takes both writes as they come.
 */
int options_one_file(const char *a, const char *b)
{
  struct stat sa, sb;
  int ha = strcmp(a, "-") == 0 ? fstat(1, &sa) : stat(a, &sa);
  int hb = strcmp(b, "-") == 0 ? fstat(1, &sb) : stat(b, &sb);
  char *na, *nb;
  int same;

  if (ha == 0 && hb == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino &&
           !S_ISCHR(sa.st_mode);
  if (strcmp(a, "-") == 0 || strcmp(b, "-") == 0)
    return 0;
  na = corun_path_canonical(a);
  nb = corun_path_canonical(b);
  same = na && nb && strcmp(na, nb) == 0;
  free(na);
  free(nb);
  return same;
}
