/* SPDX-License-Identifier: MIT */
/*
 * The README against the repository and the program. A newcomer reads the
 * README first: every file it names must be in the repository (nobody is
 * sent to a file they cannot see), its option list must be the program's,
 * and the example it shows must print what the README says it prints.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"

TestSuite(docs, .timeout = 60);

#define README CORUN_SRC_DIR "/README.md"
#define MANPAGE CORUN_SRC_DIR "/man/corun.1"

static char *must_read(const char *path)
{
  char *s = read_file(path, NULL);

  cr_assert_not_null(s, "cannot read %s", path);
  return s;
}

static int exists_in_repo(const char *rel, size_t n)
{
  char path[4096];
  struct stat st;

  snprintf(path, sizeof(path), "%s/%.*s", CORUN_SRC_DIR, (int)n, rel);
  return stat(path, &st) == 0;
}

/* Names of files outside the repository that earlier docs pointed at. */
static const char *const outside[] = {"JOBFILE.md", "STYLE.md", "shared/",
                                      "../", NULL};

static void expect_no_outside_names(const char *what, const char *text)
{
  const char *const *w;

  for (w = outside; *w; w++)
    cr_expect_null(strstr(text, *w), "%s names \"%s\", which is not in the "
                   "repository", what, *w);
}

Test(docs, readme_and_man_page_name_no_file_outside_the_repository)
{
  char *readme = must_read(README);
  char *man = must_read(MANPAGE);

  expect_no_outside_names("README.md", readme);
  expect_no_outside_names("man/corun.1", man);
  free(readme);
  free(man);
}

/* The top-level folders a path in the README may start with. */
static int repo_path_prefix(const char *s, size_t n)
{
  static const char *const dirs[] = {
      "lib/",  "cmd/",   "jobs/",        "tests/", "man/", "bench/",
      "fuzz/", "schema/", "completions/", "docs/",  ".ci/", NULL};
  const char *const *d;

  for (d = dirs; *d; d++)
    if (n > strlen(*d) && strncmp(s, *d, strlen(*d)) == 0)
      return 1;
  return 0;
}

/* text without its fenced blocks (a copy): they hold commands and output. */
static char *prose_of(const char *text)
{
  char *out = strdup(text), *o = out;
  const char *p = text;
  int fenced = 0;

  cr_assert_not_null(out);
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);

    if (strncmp(p, "```", 3) == 0)
      fenced = !fenced;
    else if (!fenced) {
      memcpy(o, p, n);
      o += n;
    }
    p += n;
  }
  *o = '\0';
  return out;
}

Test(docs, every_repository_path_and_link_in_the_readme_exists)
{
  char *readme = must_read(README);
  char *prose = prose_of(readme);
  const char *p;
  int checked = 0;

  /* `code` spans that name a file or folder of the repository. */
  for (p = strchr(prose, '`'); p; p = strchr(p, '`')) {
    const char *s = p + 1, *e = strpbrk(s, "`\n");
    size_t n;

    if (e == NULL || *e != '`') {
      p = e;
      continue;
    }
    /* The path is any word of the span ("man ./man/corun.1" too). */
    while (s < e) {
      if (strncmp(s, "./", 2) == 0)
        s += 2;
      n = strcspn(s, " :`*");
      if (repo_path_prefix(s, n)) {
        cr_expect(exists_in_repo(s, n),
                  "README.md names `%.*s`, which is not in the repository",
                  (int)n, s);
        checked++;
      }
      s += n;
      while (s < e && *s != ' ')
        s++;
      while (s < e && *s == ' ')
        s++;
    }
    p = e + 1;
  }
  /* Markdown links to files: [text](path). */
  for (p = strstr(prose, "]("); p; p = strstr(p + 2, "](")) {
    const char *s = p + 2;
    size_t n = strcspn(s, ")#");

    if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ||
        *s == '#')
      continue;
    cr_expect(exists_in_repo(s, n),
              "README.md links to %.*s, which is not in the repository",
              (int)n, s);
    checked++;
  }
  /* A README that this loop no longer understands must not pass. */
  cr_assert_geq(checked, 5, "found only %d repository paths in README.md",
                checked);
  free(prose);
  free(readme);
}

/* The text of the README's "## name" section (a copy). */
static char *readme_section(const char *readme, const char *name)
{
  char head[128];
  const char *s, *e;

  snprintf(head, sizeof(head), "\n## %s\n", name);
  s = strstr(readme, head);
  cr_assert_not_null(s, "README.md has no section \"%s\"", name);
  s += strlen(head);
  e = strstr(s, "\n## ");
  return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

static int opt_char(char c)
{
  return isalnum((unsigned char)c) || c == '-';
}

/* Whether text holds opt ("--root", "-V") as a whole word. */
static int has_option(const char *text, const char *opt)
{
  size_t n = strlen(opt);
  const char *p;

  for (p = strstr(text, opt); p; p = strstr(p + 1, opt))
    if ((p == text || !opt_char(p[-1])) && !opt_char(p[n]))
      return 1;
  return 0;
}

Test(docs, readme_lists_every_option_of_help)
{
  char *readme = must_read(README);
  char *usage = readme_section(readme, "Using it");
  int status, found = 0;
  char *help = run_shell(CORUN_BIN " --help", &status);
  const char *p;

  cr_assert_eq(status, 0);
  /* Every "-x" and "--name" in the left column of an option line. */
  for (p = help; p && *p;) {
    const char *nl = strchr(p, '\n');
    const char *q = p, *end = nl ? nl : p + strlen(p);

    while (q < end && *q == ' ')
      q++;
    if (q > p && *q == '-') {
      while (q < end && !(q[0] == ' ' && q[1] == ' ')) {
        if (*q == '-') {
          char opt[64];
          size_t n = 0;

          while (q + n < end && opt_char(q[n]) && n < sizeof(opt) - 1)
            n++;
          snprintf(opt, sizeof(opt), "%.*s", (int)n, q);
          cr_expect(has_option(usage, opt),
                    "option %s of --help is not in README.md's \"Using it\"",
                    opt);
          found++;
          q += n;
        } else {
          q++;
        }
      }
    }
    p = nl ? nl + 1 : NULL;
  }
  cr_assert_geq(found, 10, "found only %d options in --help", found);
  free(help);
  free(usage);
  free(readme);
}

/* The fenced block that follows the line holding marker (a copy). */
static char *block_after(const char *text, const char *marker)
{
  const char *m = strstr(text, marker), *s, *e;

  cr_assert_not_null(m, "README.md has no line \"%s\"", marker);
  s = strstr(m, "```");
  cr_assert_not_null(s);
  s = strchr(s, '\n');
  cr_assert_not_null(s);
  s++;
  e = strstr(s, "```");
  cr_assert_not_null(e);
  return strndup(s, (size_t)(e - s));
}

/*
 * Output as a reader compares it: times ("2.01s", "0ms") become "T" and
 * runs of blanks one blank, since neither is the same twice.
 */
static char *normalise(const char *s)
{
  char *out = malloc(strlen(s) + 1), *o = out;

  cr_assert_not_null(out);
  while (*s) {
    if (isdigit((unsigned char)*s)) {
      const char *q = s;

      while (isdigit((unsigned char)*q) || *q == '.')
        q++;
      if (strncmp(q, "ms", 2) == 0 || (*q == 's' && !isalnum((unsigned char)q[1]))) {
        *o++ = 'T';
        s = q + (*q == 'm' ? 2 : 1);
        continue;
      }
      while (s < q)
        *o++ = *s++;
      continue;
    }
    if (*s == ' ') {
      while (s[1] == ' ')
        s++;
    }
    *o++ = *s++;
  }
  *o = '\0';
  return out;
}

Test(docs, the_hello_example_is_jobs_hello_json_and_prints_what_it_shows)
{
  char *readme = must_read(README);
  char *job = must_read(CORUN_SRC_DIR "/jobs/hello.json");
  char *shown = block_after(readme, "<!-- jobs/hello.json -->");
  char *out_shown = block_after(readme, "<!-- corun jobs/hello.json -->");
  const char *args[] = {CORUN_SRC_DIR "/jobs/hello.json", NULL};
  struct proc *p;
  char *got, *cmd_line;
  size_t n;

  cr_expect_str_eq(shown, job,
                   "README.md's hello example is not jobs/hello.json");
  /* The block starts with the command line, then stdout, then stderr. */
  cmd_line = strchr(out_shown, '\n');
  cr_assert_not_null(cmd_line);
  cr_expect(strncmp(out_shown, "$ corun ", 8) == 0);
  p = run_cli(NULL, args);
  cr_assert_eq(p->status, 0, "hello exited %d: %s", p->status, p->err);
  n = strlen(p->out) + strlen(p->err) + 1;
  got = malloc(n);
  cr_assert_not_null(got);
  snprintf(got, n, "%s%s", p->out, p->err);
  {
    char *a = normalise(got), *b = normalise(cmd_line + 1);

    cr_expect_str_eq(b, a,
                     "README.md shows a different output for hello.json:\n"
                     "README:\n%s\ncorun:\n%s", b, a);
    free(a);
    free(b);
  }
  free(got);
  proc_free(p);
  free(out_shown);
  free(shown);
  free(job);
  free(readme);
}
