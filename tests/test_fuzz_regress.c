/* SPDX-License-Identifier: MIT */
/*
 * Fuzzing regressions: every input in tests/fixtures/fuzz/TARGET/ goes
 * through the same entry point as the libFuzzer target that found it
 * (fuzz/fuzz_entry.h, which also holds the checks), so what a fuzzer once
 * broke stays fixed, in the plain build and under the sanitizers.
 *
 *   jobfile/   whole job files (corun_job_load_text, twice, then freed)
 *   duration/  durations and rates (corun_duration_parse, corun_rate_parse)
 *   template/  byte 0 flags, then a template (corun_template_expand, one
 *              pass and defer_item + run pass; corun_template_item_refs)
 *   decode/    byte 0 an encoding list, then a compressed body
 *   pick/      JSON Pointers (one a line) up to a NUL, then a JSON body
 *
 * A file named bug-* is a finding in code outside the fuzzed files that is
 * not fixed yet: the loops skip it and a disabled test below replays it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fuzz/fuzz_entry.h"

#define FUZZ_FIXTURES CORUN_FIXTURES "/fuzz"

static void setup(void)
{
  corun_fuzz_setup();
}

TestSuite(fuzz_regress, .init = setup, .timeout = 120);

static uint8_t *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;

  cr_assert_not_null(f, "cannot open %s", path);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  cr_assert(n >= 0);
  rewind(f);
  buf = malloc((size_t)n + 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "short read: %s", path);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

typedef int (*entry_fn)(const uint8_t *data, size_t size);

/* Feeds every fixture of target (but bug-*) to fn; returns how many. */
static size_t replay_dir(const char *target, entry_fn fn)
{
  char dir[512], path[1024];
  struct dirent *de;
  size_t n = 0;
  DIR *d;

  snprintf(dir, sizeof(dir), "%s/%s", FUZZ_FIXTURES, target);
  d = opendir(dir);
  cr_assert_not_null(d, "cannot open %s", dir);
  while ((de = readdir(d)) != NULL) {
    uint8_t *data;
    size_t len;

    if (de->d_name[0] == '.' || strncmp(de->d_name, "bug-", 4) == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    data = slurp(path, &len);
    /* On a failed check the entry aborts; this names the culprit first. */
    fprintf(stderr, "fuzz_regress: %s\n", path);
    fn(data, len);
    free(data);
    n++;
  }
  closedir(d);
  return n;
}

static void replay_file(const char *rel, int (*fn)(const uint8_t *, size_t,
                                                     int))
{
  char path[1024];
  uint8_t *data;
  size_t len;

  snprintf(path, sizeof(path), "%s/%s", FUZZ_FIXTURES, rel);
  data = slurp(path, &len);
  fn(data, len, 1);
  free(data);
}

Test(fuzz_regress, jobfile)
{
  cr_assert_gt(replay_dir("jobfile", corun_fuzz_jobfile), 0);
}

Test(fuzz_regress, duration)
{
  cr_assert_gt(replay_dir("duration", corun_fuzz_duration), 0);
}

Test(fuzz_regress, template)
{
  cr_assert_gt(replay_dir("template", corun_fuzz_template), 0);
}

Test(fuzz_regress, decode)
{
  cr_assert_gt(replay_dir("decode", corun_fuzz_decode), 0);
}

Test(fuzz_regress, pick)
{
  cr_assert_gt(replay_dir("pick", corun_fuzz_pick), 0);
}

/* Nothing lies outside the target folders, where no loop looks. */
Test(fuzz_regress, layout)
{
  DIR *d = opendir(FUZZ_FIXTURES);
  struct dirent *de;

  cr_assert_not_null(d);
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    cr_expect(strcmp(de->d_name, "jobfile") == 0 ||
                  strcmp(de->d_name, "duration") == 0 ||
                  strcmp(de->d_name, "template") == 0 ||
                  strcmp(de->d_name, "decode") == 0 ||
                  strcmp(de->d_name, "pick") == 0,
              "%s/%s is not a target's folder", FUZZ_FIXTURES, de->d_name);
  }
  closedir(d);
}

/* Loads a jobfile fixture; returns its diagnostics ("" if it loaded). */
static char *load_diags(const char *name)
{
  char path[1024];
  struct corun_job *job = NULL;
  struct corun_buf diag = CORUN_BUF_INIT;
  struct corun_error err = {0};
  uint8_t *data;
  size_t len;
  char *out;

  snprintf(path, sizeof(path), "%s/jobfile/%s", FUZZ_FIXTURES, name);
  data = slurp(path, &len);
  if (corun_job_load_text(&job, (const char *)data, len, "fuzz.json",
                          corun_fuzz_dir, NULL, &diag, &err) == CORUN_OK)
    corun_job_free(job);
  free(data);
  out = strdup(corun_buf_str(&diag));
  corun_buf_free(&diag);
  cr_assert_not_null(out);
  return out;
}

/* A value's trailing '$' next to a '{' is kept literal for the run. */
Test(fuzz_regress, value_dollar_brace_loads)
{
  char *d = load_diags("value-dollar-brace.json");

  cr_expect_str_empty(d);
  free(d);
}

/* ... and before "${item}", where no deferred form keeps it, refused. */
Test(fuzz_regress, value_dollar_item_refused)
{
  char *d = load_diags("value-dollar-item.json");

  cr_expect(strstr(d, "\"${item}\" follows a value that ends in \"$\"") !=
                NULL,
            "%s", d);
  free(d);
}

/* A long ${item.FIELD} is checked against the items like a short one. */
Test(fuzz_regress, long_item_field_checked)
{
  char *d = load_diags("long-item-field.json");

  cr_expect(strstr(d, "item 0 has no such field") != NULL, "%s", d);
  free(d);
}

/* A pipeline's rate slower than one per 1e9 s spun the loop; refused. */
Test(fuzz_regress, pipeline_rate_too_slow_refused)
{
  char *d = load_diags("pipeline-rate-too-slow.json");

  cr_expect(strstr(d, "\"rate\" is too slow") != NULL, "%s", d);
  free(d);
}

/*
 * Regression (fixed): lib/load/diag.c render() put each message in the diagnostics as it
 * is, and messages quote decoded JSON strings: the key "a\nb\u001b[31mX"
 * gives 'fuzz.json:1:15: error: unknown field "a' + newline + 'b' + ESC
 * '[31mX"', two lines and a colour change on a terminal. Expected: the
 * control characters escaped (as corun_buf_escaped() writes them), after
 * redaction. Enable, and set CORUN_FUZZ_KNOWN_BUGS to 0 in
 * fuzz/fuzz_entry.h, once fixed.
 */
Test(fuzz_regress, bug_diag_control_chars)
{
  replay_file("jobfile/bug-diag-control-chars.json", corun_fuzz_jobfile_mode);
}
