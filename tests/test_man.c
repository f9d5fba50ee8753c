/* SPDX-License-Identifier: MIT */
/*
 * The man page against the program it documents. The option list comes
 * from "corun --help", which prints cmd/options.c's table, and the kind
 * list from lib/core/kind.c, so a new option or kind without a man page entry
 * fails here rather than in a user's terminal. groff checks the markup.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "core/kind.h"

TestSuite(man, .timeout = 30);

#define PAGE CORUN_SRC_DIR "/man/corun.1"

static char *read_page(void)
{
  FILE *f = fopen(PAGE, "r");
  char *s;

  cr_assert_not_null(f, "cannot open %s", PAGE);
  s = read_stream(f);
  fclose(f);
  return s;
}

static int name_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Whether the page holds word as a whole word: "\-\-rep" must not pass
 * because "\-\-report" is there.
 */
static int has_word(const char *page, const char *word)
{
  size_t n = strlen(word);
  const char *p;

  for (p = strstr(page, word); p; p = strstr(p + 1, word))
    if ((p == page || !name_char(p[-1]) || word[0] == '\\') && !name_char(p[n]))
      return 1;
  return 0;
}

/* The text between ".SH name" and the next ".SH" (a copy). */
static char *section(const char *page, const char *name)
{
  char head[64];
  const char *s, *e;

  snprintf(head, sizeof(head), "\n.SH %s\n", name);
  s = strstr(page, head);
  cr_assert_not_null(s, "the page has no section %s", name);
  s += strlen(head);
  e = strstr(s, "\n.SH ");
  return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

Test(man, documents_every_option_of_help)
{
  char *page = read_page();
  int status;
  char *help = run_shell(CORUN_BIN " --help", &status);
  char *opts = section(page, "OPTIONS");
  const char *p, *nl;
  int nlong = 0;

  cr_assert_eq(status, 0, "corun --help exited %d", status);
  /* Options are the help lines that start with blanks and a dash. */
  for (p = help; p && *p; p = nl ? nl + 1 : NULL) {
    const char *q = p;
    size_t len;

    nl = strchr(p, '\n');
    len = nl ? (size_t)(nl - p) : strlen(p);

    while (*q == ' ')
      q++;
    if (q == p || *q != '-')
      continue;
    /* The left column ends at the first run of two spaces. */
    while (q < p + len && !(q[0] == ' ' && q[1] == ' ')) {
      char want[96] = "";
      size_t n = 0;

      if (q[0] == '-' && q[1] == '-') {
        q += 2;
        while (name_char(q[n]))
          n++;
        snprintf(want, sizeof(want), "\\-\\-%.*s", (int)n, q);
        nlong++;
      } else if (q[0] == '-' && name_char(q[1])) {
        q += 1;
        n = 1;
        snprintf(want, sizeof(want), "\\-%c", q[0]);
      }
      if (want[0]) {
        /* Documented in OPTIONS, not merely mentioned somewhere. */
        cr_expect(has_word(opts, want),
                  "option %s from --help is not in the OPTIONS section of "
                  "man/corun.1",
                  want);
        q += n;
      } else {
        q++;
      }
    }
  }
  /* A --help layout this loop no longer understands must not pass. */
  cr_assert_geq(nlong, 5, "found only %d long options in --help:\n%s", nlong,
                help);
  free(opts);
  free(help);
  free(page);
}

Test(man, documents_every_kind)
{
  char *page = read_page();
  char *file = section(page, "JOB FILE");
  const char *names[33];
  const char *const *k;

  corun__kind_names(names, 32);
  for (k = names; *k; k++) {
    char want[64];

    snprintf(want, sizeof(want), "\n.TP\n.B %s\n", *k);
    cr_expect_not_null(strstr(file, want),
                       "kind \"%s\" has no entry in JOB FILE", *k);
  }
  free(file);
  free(page);
}

Test(man, lists_every_exit_status)
{
  static const char *const codes[] = {"0", "1", "2", "124", "129", "130", "143"};
  char *page = read_page();
  char *sec = section(page, "EXIT STATUS");
  size_t i;

  for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
    char want[32];

    snprintf(want, sizeof(want), ".TP\n.B %s\n", codes[i]);
    cr_expect_not_null(strstr(sec, want), "exit status %s is not listed",
                       codes[i]);
  }
  free(sec);
  free(page);
}

Test(man, has_the_sections_the_issue_asks_for)
{
  static const char *const names[] = {
      "NAME",        "SYNOPSIS", "DESCRIPTION", "OPTIONS",  "JOB FILE",
      "EXIT STATUS", "SIGNALS",  "ENVIRONMENT", "EXAMPLES", "DECISIONS"};
  static const char *const env[] = {"CORUN_DEBUG", "NO_COLOR", "TERM"};
  char *page = read_page();
  char *sec;
  size_t i;

  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    free(section(page, names[i]));
  sec = section(page, "ENVIRONMENT");
  for (i = 0; i < sizeof(env) / sizeof(env[0]); i++)
    cr_expect(has_word(sec, env[i]), "%s is not in ENVIRONMENT", env[i]);
  free(sec);
  sec = section(page, "SIGNALS");
  cr_expect(has_word(sec, "SIGINT") && has_word(sec, "SIGTERM") &&
                has_word(sec, "SIGUSR1"),
            "SIGNALS must cover SIGINT, SIGTERM and SIGUSR1");
  free(sec);
  free(page);
}

static int have_groff(void)
{
  int status;
  char *out = run_shell("command -v groff >/dev/null 2>&1", &status);

  free(out);
  return status == 0;
}

Test(man, groff_renders_without_warnings)
{
  int status;
  char *out;

  if (!have_groff())
    cr_skip_test("groff is not installed (apt-get install groff-base)");
  /* -ww: every warning; -z: format but discard, so only warnings print. */
  out = run_shell("groff -ww -man -z '" PAGE "' 2>&1", &status);
  cr_expect_eq(status, 0, "groff exited %d", status);
  cr_expect_str_empty(out, "groff -ww -man -z man/corun.1 says:\n%s", out);
  free(out);
}
