/* SPDX-License-Identifier: MIT */
/*
 * What each fuzz target does with one input, shared by the libFuzzer
 * targets (fuzz/fuzz_target.c) and the regression suite
 * (tests/test_fuzz_regress.c), so a fixture replays exactly what found it.
 *
 * Besides crashes, leaks and undefined behaviour (the sanitizers), each
 * entry checks properties that must hold for every input; a violation
 * prints what broke and aborts, which both libFuzzer and Criterion report.
 *
 *   corun_fuzz_jobfile(data, size)   the whole input is a job file, loaded
 *                                    with corun_job_load_text() (plain, then
 *                                    with --var, -j and --root), described
 *                                    and freed, never run
 *   corun_fuzz_jobfile_mode(.., 1)   the same, known bugs not tolerated
 *   corun_fuzz_duration(data, size)  the input (up to a NUL) as a duration
 *                                    and as a rate
 *   corun_fuzz_template(data, size)  byte 0 chooses the context, the rest
 *                                    (up to a NUL) is the template
 *   corun_fuzz_decode(data, size)    byte 0 chooses a Content-Encoding
 *                                    list, the rest is the body: decoded
 *                                    whole and in two pieces, alike
 *   corun_fuzz_pick(data, size)      up to a NUL, JSON Pointers one a line;
 *                                    the rest a response body: read for the
 *                                    pointers and whole, alike
 *
 * Call corun_fuzz_setup() once first: it sets the environment variables
 * the seeds and the dictionary name and makes the scratch directory that
 * relative paths in a job resolve against.
 */
#ifndef CORUN_FUZZ_ENTRY_H
#define CORUN_FUZZ_ENTRY_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corun.h"
#include "util/duration.h"
#include "load/jobfile.h"
#include "load/loader.h"
#include "json/template.h"
#include "util/decode.h"
#include "json/pick.h"
#include "json/predicate.h"

#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz check failed: %s (%s:%d): ", #cond, __FILE__,      \
              __LINE__);                                                       \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Values of the environment variables templates may name. */
#define FUZZ_SECRET "hunter2-s3cret"
static char corun_fuzz_dir[64];

/* The loader creates nothing there, so it is empty again at exit. */
static inline void corun_fuzz_cleanup(void)
{
  rmdir(corun_fuzz_dir);
}

static inline void corun_fuzz_setup(void)
{
  if (corun_fuzz_dir[0])
    return;
  /* Secrets the seeds use; none contains '*', so redaction is checkable. */
  setenv("CORUN_FUZZ_SECRET", FUZZ_SECRET, 1);
  setenv("CORUN_FIXTURE_SECRET", "fixture-secret-value", 1);
  setenv("SECRET_X", "xsecret", 1);
  /* Values that look like template syntax once they are substituted. */
  setenv("CORUN_FUZZ_DOLLAR", "pw$", 1);
  setenv("CORUN_FUZZ_BRACE", "{item}", 1);
  setenv("CORUN_FUZZ_TEMPLATE", "${item}", 1);
  setenv("CORUN_FUZZ_EMPTY", "", 1);
  unsetenv("CORUN_FUZZ_UNSET");
  unsetenv("CORUN_TEST_SURELY_UNSET_5E1D");
  snprintf(corun_fuzz_dir, sizeof(corun_fuzz_dir), "/tmp/corun-fuzz-XXXXXX");
  if (mkdtemp(corun_fuzz_dir) == NULL) {
    perror("mkdtemp");
    abort();
  }
  atexit(corun_fuzz_cleanup);
}

/* The input as a C string, cut at its first NUL. */
static inline char *corun_fuzz_cstr(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);

  if (s == NULL)
    abort();
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* ---- job loader ---- */

/*
 * Known bugs outside the fuzzed files, reported and not fixed yet: the
 * fuzz targets tolerate them so that fuzzing goes on finding others, and
 * the regression suite's disabled tests replay their fixtures strictly.
 * Set to 0 once they are fixed.
 *
 * BUG (lib/load/diag.c, render()): diagnostics quote JSON strings (keys,
 * values) raw, so a "\n" or "\u001b" in a key breaks the one line per
 * error and reaches the terminal. Fixture:
 * tests/fixtures/fuzz/jobfile/bug-diag-control-chars.json
 */
#ifndef CORUN_FUZZ_KNOWN_BUGS
#define CORUN_FUZZ_KNOWN_BUGS 0
#endif

/*
 * Every diagnostic is one line "fuzz.json:LINE:COL: error: MESSAGE" with
 * no control characters (tabs aside). Tolerant: lines that do not start
 * so are taken as the rest of the line before (the known bug above).
 */
static inline void corun_fuzz_check_diags(const char *d, int strict)
{
  int first = 1;

  while (*d) {
    const char *nl = strchr(d, '\n'), *c;
    unsigned line, col;
    int n = 0, ok;

    FUZZ_CHECK(nl != NULL, "diagnostics do not end in a newline: %s", d);
    ok = sscanf(d, "fuzz.json:%u:%u: error: %n", &line, &col, &n) == 2 &&
         n > 0 && line > 0 && col > 0;
    FUZZ_CHECK(ok || (!strict && !first), "malformed diagnostic: %.*s",
               (int)(nl - d), d);
    for (c = d; strict && c < nl; c++)
      FUZZ_CHECK((unsigned char)*c >= 0x20 || *c == '\t',
                 "control character 0x%02x in diagnostic: %.*s",
                 (unsigned char)*c, (int)(nl - d), d);
    first = 0;
    d = nl + 1;
  }
}

/* Once the job knows the secret, nothing it prints after redaction has it. */
static inline void corun_fuzz_check_redacted(const struct corun_job *job,
                                             const char *s)
{
  struct corun_buf b = CORUN_BUF_INIT;
  size_t i;

  for (i = 0; i < job->secrets.n; i++)
    if (strcmp(job->secrets.v[i], FUZZ_SECRET) == 0)
      break;
  if (i == job->secrets.n)
    return;
  corun_job_redact(job, s, &b);
  FUZZ_CHECK(strstr(corun_buf_str(&b), FUZZ_SECRET) == NULL,
             "secret not redacted in: %s", corun_buf_str(&b));
  corun_buf_free(&b);
}

/*
 * Whether the input may spell the secret out itself, so that a message
 * quoting the input can show it before the loader knows it is one: it
 * names the secret's first word, or writes a \u escape.
 */
static inline int corun_fuzz_spelt(const char *text, size_t len)
{
  size_t i;

  for (i = 0; i + 6 <= len; i++)
    if (memcmp(text + i, "hunter", 6) == 0)
      return 1;
  for (i = 0; i + 2 <= len; i++)
    if (text[i] == '\\' && text[i + 1] == 'u')
      return 1;
  return 0;
}

/*
 * Plain sleeps and plain fetches are read straight from the text
 * (load/tasks.c), fetches written alike by comparing it (load/alike.c);
 * loaded the general way instead, text must give the same result, the
 * same diagnostics and the same dry run.
 */
static inline void corun_fuzz_both_ways(const char *text, size_t len,
                                        const struct corun_load_opts *opts,
                                        enum corun_code code, const char *diag,
                                        struct corun_job *job)
{
  struct corun_job *other = NULL;
  struct corun_buf odiag = CORUN_BUF_INIT, a = CORUN_BUF_INIT,
                   b = CORUN_BUF_INIT;
  struct corun_error err = {0};
  enum corun_code ocode;

  corun__load_plain_sleeps = 0;
  corun__load_plain_fetches = 0;
  ocode = corun_job_load_text(&other, text, len, "fuzz.json", corun_fuzz_dir,
                              opts, &odiag, &err);
  corun__load_plain_sleeps = 1;
  corun__load_plain_fetches = 1;
  FUZZ_CHECK(ocode == code, "plain sleeps: %d, the general way: %d", code,
             ocode);
  FUZZ_CHECK(strcmp(diag, corun_buf_str(&odiag)) == 0,
             "plain sleeps said:\n%s\nthe general way:\n%s", diag,
             corun_buf_str(&odiag));
  if (job && other) {
    corun_job_dry_run(job, &a);
    corun_job_dry_run(other, &b);
    FUZZ_CHECK(strcmp(corun_buf_str(&a), corun_buf_str(&b)) == 0,
               "plain sleeps ran dry:\n%s\nthe general way:\n%s",
               corun_buf_str(&a), corun_buf_str(&b));
  }
  corun_buf_free(&a);
  corun_buf_free(&b);
  corun_buf_free(&odiag);
  corun_job_free(other);
}

static inline void corun_fuzz_load(const char *text, size_t len,
                                   const struct corun_load_opts *opts,
                                   int strict)
{
  struct corun_job *job = NULL;
  struct corun_buf diag = CORUN_BUF_INIT;
  struct corun_error err = {0};
  enum corun_code code;

  code = corun_job_load_text(&job, text, len, "fuzz.json", corun_fuzz_dir,
                             opts, &diag, &err);
  if (code == CORUN_OK || code == CORUN_EINVAL)
    corun_fuzz_both_ways(text, len, opts, code, corun_buf_str(&diag), job);
  if (code == CORUN_OK) {
    struct corun_buf out = CORUN_BUF_INIT;

    FUZZ_CHECK(job != NULL, "CORUN_OK without a job");
    FUZZ_CHECK(diag.len == 0, "CORUN_OK with diagnostics: %s",
               corun_buf_str(&diag));
    (void)corun_job_task_count(job);
    /* What --check, --dry-run and corun graph print. */
    corun_job_describe(job, &out);
    corun_fuzz_check_redacted(job, corun_buf_str(&out));
    corun_buf_reset(&out);
    corun_job_dry_run(job, &out);
    corun_fuzz_check_redacted(job, corun_buf_str(&out));
    corun_buf_reset(&out);
    corun_job_graph(job, &out);
    corun_fuzz_check_redacted(job, corun_buf_str(&out));
    corun_buf_free(&out);
    corun_job_free(job);
  } else {
    FUZZ_CHECK(job == NULL, "failed load left a job");
    if (code == CORUN_EINVAL) {
      FUZZ_CHECK(diag.len > 0, "invalid job without diagnostics (%s)",
                 err.msg);
      corun_fuzz_check_diags(corun_buf_str(&diag), strict);
      /* The loader redacts its own messages; no job is left to ask. */
      FUZZ_CHECK(corun_fuzz_spelt(text, len) ||
                     strstr(corun_buf_str(&diag), FUZZ_SECRET) == NULL,
                 "secret in diagnostics: %s", corun_buf_str(&diag));
    }
  }
  corun_buf_free(&diag);
}

/* strict: known bugs count as failures (see CORUN_FUZZ_KNOWN_BUGS). */
static inline int corun_fuzz_jobfile_mode(const uint8_t *data, size_t size,
                                          int strict)
{
  static const char *const vars[] = {"base=http://127.0.0.1:9",
                                     "fuzz=${env:CORUN_FUZZ_SECRET}"};
  struct corun_load_opts opts = {0};

  /* A copy of exactly size bytes, so ASan sees any read past the end. */
  char *text = malloc(size ? size : 1);

  if (text == NULL)
    abort();
  memcpy(text, data, size);
  corun_fuzz_load(text, size, &opts, strict);
  /* Again with --var, -j and --root (the scratch directory). */
  opts.vars = vars;
  opts.nvars = 2;
  opts.jobs = 3;
  opts.root = corun_fuzz_dir;
  corun_fuzz_load(text, size, &opts, strict);
  free(text);
  return 0;
}

static inline int corun_fuzz_jobfile(const uint8_t *data, size_t size)
{
  return corun_fuzz_jobfile_mode(data, size, !CORUN_FUZZ_KNOWN_BUGS);
}

/* ---- durations and rates ---- */

static inline int corun_fuzz_duration(const uint8_t *data, size_t size)
{
  char *s = corun_fuzz_cstr(data, size);
  const char *why = NULL;
  double v = -1;
  cJSON *js;

  if (corun_duration_parse(s, &v, &why) == 0) {
    unsigned long long ms = corun_duration_ms(v);

    FUZZ_CHECK(isfinite(v) && v >= 0 && v <= 1e9, "\"%s\" parsed as %g", s,
               v);
    FUZZ_CHECK(v == 0 ? ms == 0 : ms >= 1 && (double)ms >= v * 1000 - 1 &&
                                      (double)ms <= v * 1000 + 1,
               "\"%s\": %g s is %llu ms", s, v, ms);
  } else {
    FUZZ_CHECK(why != NULL && *why, "\"%s\" failed without a reason", s);
  }
  /* The same through a JSON string, as job files hold it. */
  js = cJSON_CreateString(s);
  if (js) {
    double w = -1;

    why = NULL;
    if (corun_duration_json(js, &w, &why) == 0)
      FUZZ_CHECK(w == v, "\"%s\": JSON %g, string %g", s, w, v);
    else
      FUZZ_CHECK(why != NULL, "\"%s\" failed without a reason", s);
    cJSON_Delete(js);
  }
  why = NULL;
  if (corun_rate_parse(s, &v, &why) == 0)
    FUZZ_CHECK(isfinite(v) && v >= 1e-9 * (1 - 1e-12),
               "rate \"%s\" parsed as %g per second", s, v);
  else
    FUZZ_CHECK(why != NULL && *why, "rate \"%s\" failed without a reason", s);
  free(s);
  return 0;
}

/* ---- templates ---- */

/*
 * Item values as a pipeline would fill them in. "item.fail" fails (an
 * item without that field); everything else becomes <NAME>.
 */
static inline int corun_fuzz_item(void *arg, const char *name,
                                  struct corun_buf *b, char **err)
{
  size_t *calls = arg;

  (*calls)++;
  if (strcmp(name, "item.fail") == 0) {
    *err = strdup("the item has no field \"fail\"");
    return -1;
  }
  corun_buf_printf(b, "<%s>", name);
  return 0;
}

static inline void corun_fuzz_count_ref(void *arg, const char *name)
{
  size_t *n = arg;

  FUZZ_CHECK(corun_template_is_item_name(name) ||
                 corun_template_is_capture(name, NULL),
             "ref \"%s\"", name);
  (*n)++;
}

static inline void corun_fuzz_check_secrets(const struct corun_secrets *sec,
                                     const char *s)
{
  struct corun_buf b = CORUN_BUF_INIT;
  size_t i;

  corun_secrets_redact(sec, s, strlen(s), &b);
  /*
   * Text alone is searched only for secrets of CORUN_SECRET_MIN bytes or
   * more: a shorter one is hidden where it was substituted, and may stand
   * in the template's own text ("0" in "HTTP 200").
   */
  for (i = 0; i < sec->n; i++)
    if (strchr(sec->v[i], '*') == NULL &&
        strlen(sec->v[i]) >= CORUN_SECRET_MIN)
      FUZZ_CHECK(strstr(corun_buf_str(&b), sec->v[i]) == NULL,
                 "secret \"%s\" shows in \"%s\"", sec->v[i],
                 corun_buf_str(&b));
  corun_buf_free(&b);
}

/*
 * Byte 0: bit 0 env_only (a variable's own value), bit 1 no vars at all.
 * The template is expanded three ways: in one pass with the item known
 * (what the template means), and in the two passes a pipeline stage's task
 * takes (defer_item at load time, then the item at run time). Both must
 * agree: same result, or both fail.
 */
static inline int corun_fuzz_template(const uint8_t *data, size_t size)
{
  static cJSON *vars;
  struct corun_template_ctx one, load, run;
  struct corun_secrets sec = {0};
  char *in, *a = NULL, *ea = NULL, *d = NULL, *ed = NULL, *r = NULL,
            *er = NULL;
  size_t calls_a = 0, calls_r = 0, refs = 0;
  int ra, rd, rr = -1;
  unsigned flags;

  if (size == 0)
    return 0;
  if (vars == NULL) {
    /* Values as the loader leaves them: "$${" in vars became "${". */
    vars = cJSON_Parse("{\"a\": \"alpha\", \"b\": \"tail$\", \"c\": \"{b}\","
                       " \"d\": \"${item}\", \"e\": \"$${\", \"f\": \"\","
                       " \"base\": \"http://127.0.0.1:9\", \"n\": 5,"
                       " \"o\": {\"x\": 1}}");
    if (vars == NULL)
      abort();
  }
  flags = data[0];
  in = corun_fuzz_cstr(data + 1, size - 1);
  (void)corun_template_has(in);

  memset(&one, 0, sizeof(one));
  one.vars = (flags & 2) ? NULL : vars;
  one.env_only = flags & 1;
  one.secrets = &sec;
  load = one;
  one.item = corun_fuzz_item;
  one.item_arg = &calls_a;
  /* As the loader's for a stage's task: item names and captures kept. */
  load.defer_item = 1;
  load.keep_captures = 1;
  memset(&run, 0, sizeof(run));
  run.item = corun_fuzz_item;
  run.item_arg = &calls_r;

  ra = corun_template_expand(&one, in, &a, &ea);
  FUZZ_CHECK(ra == 0 ? a != NULL && ea == NULL : a == NULL && ea != NULL,
             "one pass of \"%s\": %d, out %p, err %p", in, ra, (void *)a,
             (void *)ea);
  rd = corun_template_expand(&load, in, &d, &ed);
  FUZZ_CHECK(rd == 0 ? d != NULL && ed == NULL : d == NULL && ed != NULL,
             "load pass of \"%s\": %d, out %p, err %p", in, rd, (void *)d,
             (void *)ed);
  if (rd == 0) {
    size_t n = corun_template_refs(d, CORUN_REF_ITEM | CORUN_REF_CAPTURE,
                                   corun_fuzz_count_ref, &refs);

    FUZZ_CHECK(n == refs, "refs returned %zu, called back %zu", n, refs);
    FUZZ_CHECK(corun_template_refs(d, CORUN_REF_ITEM | CORUN_REF_CAPTURE,
                                   NULL, NULL) == n,
               "refs without a callback");
    rr = corun_template_expand(&run, d, &r, &er);
    FUZZ_CHECK(rr == 0 ? r != NULL && er == NULL : r == NULL && er != NULL,
               "run pass of \"%s\": %d", d, rr);
    /* Every reference the run resolves, the load pass announced. */
    if (rr == 0)
      FUZZ_CHECK(calls_r == refs, "\"%s\" kept as \"%s\": %zu refs, %zu items",
                 in, d, refs, calls_r);
  }
  /* env_only forbids ${name}; the two-pass form has no such mode. */
  if (!one.env_only) {
    /* Refused at load time: no deferred form can keep it (template.c). */
    int unkeepable = rd != 0 && strstr(ed, "follows a value that ends in");

    FUZZ_CHECK(ra != 0 || rd == 0 || unkeepable,
               "\"%s\": one pass gave \"%s\", load pass failed: %s", in, a,
               ed);
    if (ra == 0 && !unkeepable)
      FUZZ_CHECK(rr == 0 && strcmp(a, r) == 0,
                 "\"%s\": one pass \"%s\", two passes \"%s\" (via \"%s\")%s%s",
                 in, a, rr == 0 ? r : "(failed)", d, er ? ": " : "",
                 er ? er : "");
    if (rd == 0 && rr == 0)
      FUZZ_CHECK(ra == 0, "\"%s\": two passes gave \"%s\", one pass failed: "
                 "%s", in, r, ea);
  }
  if (ra == 0)
    corun_fuzz_check_secrets(&sec, a);
  if (ea)
    corun_fuzz_check_secrets(&sec, ea);
  free(a);
  free(ea);
  free(d);
  free(ed);
  free(r);
  free(er);
  free(in);
  corun_secrets_free(&sec);
  return 0;
}

/* ---- content decoding ---- */

/* What a decoder gave, up to a bound: a small input may inflate a lot. */
struct corun_fuzz_out {
  unsigned char *p;
  size_t len;
};

#define CORUN_FUZZ_DECODE_MAX ((size_t)256 << 10)
#define CORUN_FUZZ_DECODE_STOP 2

static inline int corun_fuzz_decode_sink(void *ctx, const char *p, size_t n)
{
  struct corun_fuzz_out *o = ctx;

  if (n > CORUN_FUZZ_DECODE_MAX - o->len)
    return CORUN_FUZZ_DECODE_STOP;
  memcpy(o->p + o->len, p, n);
  o->len += n;
  return 0;
}

/* Decodes body in two writes cut at split; 0 whole, -1 bad, 2 stopped. */
static inline int corun_fuzz_decode_once(const char *enc, const uint8_t *body,
                                         size_t n, size_t split,
                                         struct corun_fuzz_out *o)
{
  struct corun_decoder *d = NULL;
  char err[200];
  int r;

  o->len = 0;
  r = corun__decoder_new(enc, corun_fuzz_decode_sink, o, &d, err, sizeof(err));
  FUZZ_CHECK(r == 0 && d != NULL, "no decoder for \"%s\": %s", enc, err);
  r = corun__decoder_write(d, (const char *)body, split);
  if (r == 0)
    r = corun__decoder_write(d, (const char *)body + split, n - split);
  if (r == 0)
    r = corun__decoder_finish(d);
  FUZZ_CHECK(r == 0 || r == -1 || r == CORUN_FUZZ_DECODE_STOP,
             "decoder returned %d", r);
  if (r == -1)
    FUZZ_CHECK(strncmp(corun__decoder_error(d), "the ", 4) == 0,
               "reason \"%s\"", corun__decoder_error(d));
  corun__decoder_free(d);
  return r;
}

static inline int corun_fuzz_decode(const uint8_t *data, size_t size)
{
  static const char *const lists[] = {"gzip",          "deflate", "br",
                                      "zstd",          "gzip, br", "deflate, zstd",
                                      "x-gzip, gzip", "br, identity"};
  /* Kept from input to input: the fuzzer runs one at a time. */
  static unsigned char bufa[CORUN_FUZZ_DECODE_MAX], bufb[CORUN_FUZZ_DECODE_MAX];
  struct corun_fuzz_out a = {bufa, 0}, b = {bufb, 0};
  const char *enc;
  int ra, rb;

  if (size == 0)
    return 0;
  enc = lists[data[0] % (sizeof(lists) / sizeof(lists[0]))];
  data++;
  size--;
  ra = corun_fuzz_decode_once(enc, data, size, size, &a);
  rb = corun_fuzz_decode_once(enc, data, size, size / 2, &b);
  /* Where the body is cut into writes must not change what it decodes to. */
  if (ra != CORUN_FUZZ_DECODE_STOP && rb != CORUN_FUZZ_DECODE_STOP) {
    FUZZ_CHECK(ra == rb, "\"%s\": whole %d, in two pieces %d", enc, ra, rb);
    if (ra == 0)
      FUZZ_CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0,
                 "\"%s\": %zu bytes whole, %zu in two pieces", enc, a.len,
                 b.len);
  }
  return 0;
}

/* Printed, so that repeated names count (see test_predicate.c). */
static inline int corun_fuzz_same_json(const cJSON *a, const cJSON *b)
{
  char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
  int same = (x == NULL) == (y == NULL) && (x == NULL || strcmp(x, y) == 0);

  free(x);
  free(y);
  return same;
}

/*
 * A body read for a few pointers (json/pick.h) is accepted or refused as
 * the whole body is, and each pointer finds there what it finds in the
 * whole document.
 */
static inline int corun_fuzz_pick(const uint8_t *data, size_t size)
{
  const char *ptrs[8];
  const uint8_t *nul = memchr(data, '\0', size);
  const char *body;
  size_t blen, n = 0, i;
  char *list, *line, *save = NULL;
  cJSON *whole, *picked;

  if (nul == NULL)
    return 0;
  list = strndup((const char *)data, (size_t)(nul - data));
  if (list == NULL)
    return 0;
  for (line = strtok_r(list, "\n", &save); line && n < 8;
       line = strtok_r(NULL, "\n", &save)) {
    struct corun_buf why = CORUN_BUF_INIT;

    if (corun__pointer_valid(line, &why))
      ptrs[n++] = line;
    corun_buf_free(&why);
  }
  body = (const char *)nul + 1;
  blen = size - (size_t)(nul - data) - 1;
  whole = corun__json_pick(body, blen, NULL, 0, NULL, 0);
  picked = corun__json_pick(body, blen, ptrs, n, NULL, 0);
  FUZZ_CHECK((whole == NULL) == (picked == NULL),
             "whole %s, read for %zu pointers %s", whole ? "JSON" : "not",
             n, picked ? "JSON" : "not");
  for (i = 0; whole && i < n; i++)
    FUZZ_CHECK(corun_fuzz_same_json(corun__pointer_get(whole, ptrs[i]),
                                    corun__pointer_get(picked, ptrs[i])),
               "pointer \"%s\" finds another value", ptrs[i]);
  cJSON_Delete(whole);
  cJSON_Delete(picked);
  free(list);
  return 0;
}

#endif
