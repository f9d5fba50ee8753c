/* SPDX-License-Identifier: MIT */
/*
 * Content decoding (lib/util/decode.c) on its own, against bodies made by
 * the real encoders (zlib, brotli, zstd), cut at every length; then
 * fetches of such bodies from the test server: a stream cut short fails
 * the task (protocol) and saves nothing, a whole one saves the bytes the
 * server meant, and "compressed": false or a Range header gets the bytes
 * as sent.
 */
#include <brotli/encode.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "helpers.h"
#include "server.h"
#include "util/buf.h"
#include "util/decode.h"

TestSuite(decode, .timeout = 120);

/* ---- bodies made by the real encoders ---- */

/* Text that compresses but is not trivial: lines with counters. */
static char *sample(size_t n)
{
  char *p = malloc(n);
  size_t i;

  cr_assert_not_null(p);
  for (i = 0; i < n; i++)
    p[i] = (char)("abcdefghij0123456789 \n"[(i * 7 + i / 97) % 22]);
  return p;
}

/* windowBits as zlib takes them: 31 gzip, 15 zlib, -15 raw deflate. */
static unsigned char *zlib_pack(const char *in, size_t n, int bits,
                                size_t *outlen)
{
  z_stream z;
  size_t cap = n + n / 10 + 128;
  unsigned char *out = malloc(cap);

  memset(&z, 0, sizeof(z));
  cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY),
               Z_OK);
  z.next_in = (unsigned char *)in;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
  *outlen = cap - z.avail_out;
  deflateEnd(&z);
  return out;
}

static unsigned char *br_pack(const char *in, size_t n, size_t *outlen)
{
  size_t cap = BrotliEncoderMaxCompressedSize(n);
  unsigned char *out = malloc(cap);

  cr_assert(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, n,
                                  (const uint8_t *)in, &cap, out));
  *outlen = cap;
  return out;
}

static unsigned char *zstd_pack(const char *in, size_t n, size_t *outlen)
{
  size_t cap = ZSTD_compressBound(n);
  unsigned char *out = malloc(cap);
  size_t r = ZSTD_compress(out, cap, in, n, 3);

  cr_assert(!ZSTD_isError(r));
  *outlen = r;
  return out;
}

static unsigned char *pack(const char *coding, const char *in, size_t n,
                           size_t *outlen)
{
  if (strcmp(coding, "gzip") == 0)
    return zlib_pack(in, n, 31, outlen);
  if (strcmp(coding, "deflate") == 0)
    return zlib_pack(in, n, 15, outlen);
  if (strcmp(coding, "deflate-raw") == 0)
    return zlib_pack(in, n, -15, outlen);
  if (strcmp(coding, "br") == 0)
    return br_pack(in, n, outlen);
  return zstd_pack(in, n, outlen);
}

/* ---- the decoder alone ---- */

struct sink {
  struct corun_buf got;
  size_t stop_after; /* > 0: say stop once this much came */
};

static int to_buf(void *ctx, const char *p, size_t n)
{
  struct sink *s = ctx;

  corun_buf_add(&s->got, p, n);
  return s->stop_after && s->got.len >= s->stop_after ? 7 : 0;
}

/*
 * Decodes data fed in pieces of `step` bytes. Returns what write/finish
 * said: 0 whole, -1 an error (its text in err).
 */
static int decode_all(const char *enc, const unsigned char *data, size_t n,
                      size_t step, struct sink *s, char *err, size_t errlen)
{
  struct corun_decoder *d = NULL;
  size_t i;
  int r = 0;

  cr_assert_eq(corun__decoder_new(enc, to_buf, s, &d, err, errlen), 0, "%s",
               err);
  cr_assert_not_null(d);
  for (i = 0; i < n && r == 0; i += step)
    r = corun__decoder_write(d, (const char *)data + i,
                             n - i < step ? n - i : step);
  if (r == 0)
    r = corun__decoder_finish(d);
  if (r == -1)
    snprintf(err, errlen, "%s", corun__decoder_error(d));
  corun__decoder_free(d);
  return r;
}

static const char *const codings[] = {"gzip", "deflate", "deflate-raw", "br",
                                      "zstd"};

static const char *header_of(const char *coding)
{
  return strcmp(coding, "deflate-raw") == 0 ? "deflate" : coding;
}

Test(decode, whole_bodies_decode_in_any_pieces)
{
  size_t n = 200000, plen, i, s;
  char *text = sample(n);
  static const size_t steps[] = {1, 7, 4096, 1 << 20};

  for (i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
    unsigned char *packed = pack(codings[i], text, n, &plen);

    for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
      struct sink sk = {CORUN_BUF_INIT, 0};
      char err[256] = "";

      if (steps[s] == 1 && plen > 20000)
        continue; /* byte by byte is for the small ones */
      cr_expect_eq(decode_all(header_of(codings[i]), packed, plen, steps[s],
                              &sk, err, sizeof(err)),
                   0, "%s in %zu-byte pieces: %s", codings[i], steps[s], err);
      cr_expect_eq(sk.got.len, n, "%s: %zu bytes", codings[i], sk.got.len);
      cr_expect(sk.got.len == n && memcmp(sk.got.p, text, n) == 0,
                "%s: the bytes differ", codings[i]);
      corun_buf_free(&sk.got);
    }
    free(packed);
  }
  free(text);
}

/* Every strict prefix of a stream is cut: finish says so, never 0. */
Test(decode, every_cut_is_found)
{
  size_t n = 3000, plen, i, cut;
  char *text = sample(n);

  for (i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
    unsigned char *packed = pack(codings[i], text, n, &plen);

    for (cut = 1; cut < plen; cut++) {
      struct sink sk = {CORUN_BUF_INIT, 0};
      char err[256] = "";
      int r = decode_all(header_of(codings[i]), packed, cut, 512, &sk, err,
                         sizeof(err));

      cr_expect_eq(r, -1, "%s cut to %zu of %zu bytes was taken as whole",
                   codings[i], cut, plen);
      corun_buf_free(&sk.got);
      if (r != -1)
        break;
    }
    free(packed);
  }
  free(text);
}

Test(decode, a_cut_says_which_stream_stopped)
{
  size_t plen;
  char *text = sample(5000);
  unsigned char *packed = pack("gzip", text, 5000, &plen);
  struct sink sk = {CORUN_BUF_INIT, 0};
  char err[256] = "";

  cr_assert_eq(decode_all("gzip", packed, plen - 8, 100, &sk, err,
                          sizeof(err)),
               -1);
  cr_expect_str_eq(err, "the gzip stream stops before its end");
  corun_buf_free(&sk.got);
  free(packed);
  free(text);
}

Test(decode, corrupt_data_is_an_error_with_the_decoders_reason)
{
  size_t n = 20000, plen, i;
  char *text = sample(n);

  for (i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
    unsigned char *packed = pack(codings[i], text, n, &plen);
    struct sink sk = {CORUN_BUF_INIT, 0};
    char err[256] = "", want[64];

    /* Flip bits in the middle: the data or its check no longer holds. */
    packed[plen / 2] ^= 0x5a;
    packed[plen / 2 + 1] ^= 0xa5;
    cr_expect_eq(decode_all(header_of(codings[i]), packed, plen, 4096, &sk,
                            err, sizeof(err)),
                 -1, "%s: corrupt data decoded", codings[i]);
    snprintf(want, sizeof(want), "the %s stream ", header_of(codings[i]));
    cr_expect_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
    corun_buf_free(&sk.got);
    free(packed);
  }
  free(text);
}

/* "Content-Encoding: gzip, br": gzip was applied first, br last. */
Test(decode, a_list_of_encodings_is_undone_last_first)
{
  size_t n = 50000, glen, blen;
  char *text = sample(n);
  unsigned char *gz = pack("gzip", text, n, &glen);
  unsigned char *both = pack("br", (const char *)gz, glen, &blen);
  struct sink sk = {CORUN_BUF_INIT, 0};
  char err[256] = "";

  cr_expect_eq(decode_all("gzip, identity,br", both, blen, 1000, &sk, err,
                          sizeof(err)),
               0, "%s", err);
  cr_expect(sk.got.len == n && memcmp(sk.got.p, text, n) == 0);
  corun_buf_free(&sk.got);
  /* The inner stream cut inside a whole outer one is still a cut. */
  free(both);
  both = pack("br", (const char *)gz, glen - 3, &blen);
  cr_expect_eq(decode_all("gzip, br", both, blen, 1000, &sk, err,
                          sizeof(err)),
               -1);
  cr_expect_str_eq(err, "the gzip stream stops before its end");
  corun_buf_free(&sk.got);
  free(both);
  free(gz);
  free(text);
}

Test(decode, gzip_members_follow_each_other_and_other_tails_are_errors)
{
  size_t alen, blen, n = 4000;
  char *text = sample(n);
  unsigned char *a = pack("gzip", text, n, &alen);
  unsigned char *b = pack("gzip", "tail", 4, &blen);
  unsigned char *ab = malloc(alen + blen);
  struct sink sk = {CORUN_BUF_INIT, 0};
  char err[256] = "";

  memcpy(ab, a, alen);
  memcpy(ab + alen, b, blen);
  cr_expect_eq(decode_all("gzip", ab, alen + blen, 333, &sk, err,
                          sizeof(err)),
               0, "%s", err);
  cr_expect_eq(sk.got.len, n + 4);
  cr_expect(sk.got.len == n + 4 && memcmp(sk.got.p + n, "tail", 4) == 0);
  corun_buf_free(&sk.got);
  /* A second member cut short. */
  cr_expect_eq(decode_all("gzip", ab, alen + blen - 2, 333, &sk, err,
                          sizeof(err)),
               -1);
  corun_buf_free(&sk.got);
  free(a);
  free(b);
  free(ab);
  /* deflate and br end with their stream: a byte more is an error. */
  a = pack("deflate", text, n, &alen);
  ab = malloc(alen + 1);
  memcpy(ab, a, alen);
  ab[alen] = 'x';
  cr_expect_eq(decode_all("deflate", ab, alen + 1, 64, &sk, err, sizeof(err)),
               -1);
  cr_expect_str_eq(err, "the deflate stream has data after its end");
  corun_buf_free(&sk.got);
  free(a);
  free(ab);
  a = pack("br", text, n, &alen);
  ab = malloc(alen + 1);
  memcpy(ab, a, alen);
  ab[alen] = 'x';
  cr_expect_eq(decode_all("br", ab, alen + 1, 64, &sk, err, sizeof(err)), -1);
  cr_expect_str_eq(err, "the br stream has data after its end");
  corun_buf_free(&sk.got);
  free(a);
  free(ab);
  free(text);
}

Test(decode, unknown_identity_and_empty)
{
  struct corun_decoder *d = (struct corun_decoder *)1;
  char err[128] = "";
  struct sink sk = {CORUN_BUF_INIT, 0};

  cr_expect_eq(corun__decoder_new("compress", to_buf, &sk, &d, err,
                                  sizeof(err)),
               -1);
  cr_expect_null(d);
  cr_expect_str_eq(err, "unsupported Content-Encoding \"compress\"");
  cr_expect_eq(corun__decoder_new("gzip, gzip, gzip, gzip, gzip, gzip",
                                  to_buf, &sk, &d, err, sizeof(err)),
               -1);
  cr_expect_str_eq(err, "more than 5 content encodings");
  /* Nothing to undo: no decoder at all. */
  cr_expect_eq(corun__decoder_new(" identity , ", to_buf, &sk, &d, err,
                                  sizeof(err)),
               0);
  cr_expect_null(d);
  /* An empty body has no stream to cut (a 204, a HEAD, a 0-byte file). */
  cr_assert_eq(corun__decoder_new("GZIP", to_buf, &sk, &d, err, sizeof(err)),
               0);
  cr_expect_eq(corun__decoder_finish(d), 0);
  corun__decoder_free(d);
}

Test(decode, the_sinks_stop_is_passed_back)
{
  size_t n = 100000, plen;
  char *text = sample(n);
  unsigned char *packed = pack("zstd", text, n, &plen);
  struct sink sk = {CORUN_BUF_INIT, 1000};
  char err[128] = "";

  cr_expect_eq(decode_all("zstd", packed, plen, plen, &sk, err, sizeof(err)),
               7);
  cr_expect_lt(sk.got.len, n);
  corun_buf_free(&sk.got);
  free(packed);
  free(text);
}

/* ---- fetches ---- */

struct fixture {
  struct test_server srv;
  char *dir;
};

/* Writes data to dir/name and returns a /file URL serving it. */
static char *serve(struct fixture *fx, const char *name,
                   const unsigned char *data, size_t n, const char *enc,
                   size_t cut)
{
  char *path = path_join(fx->dir, name), target[1024];
  FILE *f = fopen(path, "wb");

  cr_assert_not_null(f);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  fclose(f);
  snprintf(target, sizeof(target), "/file?path=%s%s%s&cut=%zu", path,
           enc ? "&enc=" : "", enc ? enc : "", cut);
  free(path);
  return test_server_url(&fx->srv, target);
}

/* Runs a job (text) in fx->dir; returns the report. */
static cJSON *run(struct fixture *fx, const char *text, int want_exit)
{
  char *job = path_join(fx->dir, "job.json");
  char *rep = path_join(fx->dir, "report.json");
  const char *args[] = {"-q", "--report", rep, job, NULL};
  FILE *f = fopen(job, "w");
  struct proc *p;
  char *out;
  cJSON *r;

  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  p = run_cli(NULL, args);
  out = read_file(rep, NULL);
  cr_assert_not_null(out, "no report: %s", p->err);
  cr_expect_eq(p->status, want_exit, "exit %d: %s\n%s", p->status, p->err,
               out);
  r = cJSON_Parse(out);
  cr_assert_not_null(r);
  free(out);
  proc_free(p);
  unlink(rep);
  unlink(job);
  free(rep);
  free(job);
  return r;
}

static const char *str_at(const cJSON *task, const char *a, const char *b)
{
  const cJSON *v = cJSON_GetObjectItem(task, a);

  if (b)
    v = cJSON_GetObjectItem(v, b);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

/* Task id of report r, expected ok (else its error says why). */
static cJSON *ok_task(const cJSON *r, const char *id)
{
  cJSON *t = report_task(r, id);

  cr_expect_str_eq(str_at(t, "status", NULL), "ok", "%s: %s", id,
                   str_at(t, "error", "message"));
  return t;
}

static void remove_all(const char *dir, const char *const *names)
{
  for (; *names; names++) {
    char *p = path_join(dir, *names);

    unlink(p);
    free(p);
  }
  rmdir(dir);
}

/*
 * Each encoding, whole and cut by its last bytes with a Content-Length
 * that matches: the whole ones save the text, the cut ones fail protocol
 * "body ended early" and leave no file, temporary or not.
 */
Test(decode, fetched_streams_cut_short_fail_and_save_nothing)
{
  struct fixture fx;
  size_t n = 300000, i, plen;
  char *text = sample(n);
  struct corun_buf job = CORUN_BUF_INIT;
  cJSON *r;
  static const char *const names[] = {
      "gzip.z",    "deflate.z", "deflate-raw.z", "br.z",     "zstd.z",
      "gzip.out",  "deflate.out", "deflate-raw.out", "br.out", "zstd.out",
      NULL};

  fx.dir = tmp_dir("decode");
  cr_assert_eq(test_server_start(&fx.srv), 0);
  corun_buf_puts(&job, "{\"tasks\": [");
  for (i = 0; i < 5; i++) {
    unsigned char *packed = pack(codings[i], text, n, &plen);
    char name[32];
    char *whole, *cut;

    snprintf(name, sizeof(name), "%s.z", codings[i]);
    whole = serve(&fx, name, packed, plen, header_of(codings[i]), 0);
    cut = serve(&fx, name, packed, plen, header_of(codings[i]), 4);
    corun_buf_printf(&job,
                     "%s{\"id\": \"whole-%s\", \"kind\": \"fetch\", \"url\": "
                     "\"%s\", \"save\": \"%s.out\"},"
                     "{\"id\": \"cut-%s\", \"kind\": \"fetch\", \"url\": "
                     "\"%s\", \"save\": \"cut-%s.out\", \"retries\": 0}",
                     i ? "," : "", codings[i], whole, codings[i], codings[i],
                     cut, codings[i]);
    free(whole);
    free(cut);
    free(packed);
  }
  corun_buf_puts(&job, "]}\n");
  r = run(&fx, corun_buf_str(&job), 1);
  test_server_stop(&fx.srv);
  for (i = 0; i < 5; i++) {
    char id[40], *path, *got;
    size_t len = 0;
    const cJSON *t;

    snprintf(id, sizeof(id), "whole-%s", codings[i]);
    t = ok_task(r, id);
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "result"),
                                     "bytes")
                     ->valuedouble,
                 (double)n, "%s", id);
    snprintf(id, sizeof(id), "%s.out", codings[i]);
    path = path_join(fx.dir, id);
    got = read_file(path, &len);
    cr_expect(got && len == n && memcmp(got, text, n) == 0,
              "%s does not hold the decoded text", id);
    free(got);
    free(path);
    snprintf(id, sizeof(id), "cut-%s", codings[i]);
    t = report_task(r, id);
    cr_expect_str_eq(str_at(t, "status", NULL), "failed", "%s", id);
    cr_expect_str_eq(str_at(t, "error", "type"), "protocol", "%s", id);
    cr_expect_not_null(strstr(str_at(t, "error", "message"),
                              "body ended early: the "),
                       "%s: %s", id, str_at(t, "error", "message"));
  }
  /* The five fixtures and five whole outputs: no cut-*.out, no temp. */
  cr_expect_eq(dir_entries(fx.dir), 10);
  remove_all(fx.dir, names);
  cJSON_Delete(r);
  corun_buf_free(&job);
  free(text);
  free(fx.dir);
}

/* The test server's own gzip, cut before its trailer (issue's case). */
Test(decode, a_gzip_body_without_its_trailer_fails_protocol)
{
  struct fixture fx;
  char *cut, *whole, text[512];
  cJSON *r;

  fx.dir = tmp_dir("decode");
  cr_assert_eq(test_server_start(&fx.srv), 0);
  cut = test_server_url(&fx.srv, "/bytes?n=100000&gzip=cut");
  whole = test_server_url(&fx.srv, "/bytes?n=100000&gzip=1");
  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"cut\", \"kind\": \"fetch\", \"url\": "
           "\"%s\", \"save\": \"cut.bin\"}, {\"id\": \"whole\", \"kind\": "
           "\"fetch\", \"url\": \"%s\"}]}\n",
           cut, whole);
  r = run(&fx, text, 1);
  test_server_stop(&fx.srv);
  cr_expect_str_eq(str_at(report_task(r, "cut"), "error", "type"),
                   "protocol");
  cr_expect_str_eq(str_at(report_task(r, "cut"), "error", "message"),
                   "body ended early: the gzip stream stops before its end");
  cr_expect_str_eq(str_at(report_task(r, "whole"), "status", NULL), "ok");
  cr_expect_eq(dir_entries(fx.dir), 0);
  rmdir(fx.dir);
  cJSON_Delete(r);
  free(cut);
  free(whole);
  free(fx.dir);
}

/*
 * What is asked for: Accept-Encoding by default; none with "compressed":
 * false, and none of ours when the request sets Range or
 * Accept-Encoding itself. The bytes then come as sent.
 */
Test(decode, compressed_false_and_range_get_the_bytes_as_sent)
{
  struct fixture fx;
  size_t n = 10000, plen;
  char *text = sample(n), *file, *echo;
  unsigned char *packed = pack("gzip", text, n, &plen);
  struct corun_buf job = CORUN_BUF_INIT;
  static const char *const names[] = {"g.z", "raw.out", "range.out",
                                      "dec.out", NULL};
  cJSON *r, *res;
  char *path, *got;
  size_t len;

  fx.dir = tmp_dir("decode");
  cr_assert_eq(test_server_start(&fx.srv), 0);
  file = serve(&fx, "g.z", packed, plen, "gzip", 0);
  echo = test_server_url(&fx.srv, "/echo");
  corun_buf_printf(
      &job,
      "{\"tasks\": ["
      "{\"id\": \"ask\", \"kind\": \"fetch\", \"url\": \"%s\"},"
      "{\"id\": \"noask\", \"kind\": \"fetch\", \"url\": \"%s\", "
      "\"compressed\": false},"
      "{\"id\": \"own\", \"kind\": \"fetch\", \"url\": \"%s\", "
      "\"headers\": {\"accept-encoding\": \"identity\"}},"
      "{\"id\": \"raw\", \"kind\": \"fetch\", \"url\": \"%s\", "
      "\"compressed\": false, \"save\": \"raw.out\"},"
      "{\"id\": \"range\", \"kind\": \"fetch\", \"url\": \"%s\", "
      "\"headers\": {\"Range\": \"bytes=0-\"}, \"save\": \"range.out\"},"
      "{\"id\": \"dec\", \"kind\": \"fetch\", \"url\": \"%s\", "
      "\"save\": \"dec.out\"}]}\n",
      echo, echo, echo, file, file, file);
  r = run(&fx, corun_buf_str(&job), 0);
  test_server_stop(&fx.srv);
  res = cJSON_GetObjectItem(report_task(r, "ask"), "result");
  cr_expect_not_null(strstr(str_at(res, "body", NULL),
                            "\"accept-encoding\":\"gzip, deflate, br, "
                            "zstd\""),
                     "%s", str_at(res, "body", NULL));
  res = cJSON_GetObjectItem(report_task(r, "noask"), "result");
  cr_expect_null(strstr(str_at(res, "body", NULL), "accept-encoding"), "%s",
                 str_at(res, "body", NULL));
  res = cJSON_GetObjectItem(report_task(r, "own"), "result");
  cr_expect_not_null(strstr(str_at(res, "body", NULL),
                            "\"accept-encoding\":\"identity\""),
                     "%s", str_at(res, "body", NULL));
  path = path_join(fx.dir, "raw.out");
  got = read_file(path, &len);
  cr_expect(got && len == plen && memcmp(got, packed, plen) == 0,
            "compressed: false did not save the bytes as sent");
  free(got);
  free(path);
  path = path_join(fx.dir, "range.out");
  got = read_file(path, &len);
  cr_expect(got && len == plen && memcmp(got, packed, plen) == 0,
            "a Range request did not save the bytes as sent");
  free(got);
  free(path);
  path = path_join(fx.dir, "dec.out");
  got = read_file(path, &len);
  cr_expect(got && len == n && memcmp(got, text, n) == 0,
            "the default did not decode");
  free(got);
  free(path);
  remove_all(fx.dir, names);
  cJSON_Delete(r);
  corun_buf_free(&job);
  free(packed);
  free(text);
  free(file);
  free(echo);
  free(fx.dir);
}

/*
 * A body that does not decode is protocol too; a failed attempt like any
 * other, it is tried again while retries are left.
 */
Test(decode, a_corrupt_body_fails_protocol_after_its_retries)
{
  struct fixture fx;
  size_t n = 50000, plen;
  char *text = sample(n), *file, job[1024];
  unsigned char *packed = pack("gzip", text, n, &plen);
  static const char *const names[] = {"bad.z", NULL};
  cJSON *r, *t;

  packed[plen - 6] ^= 0x5a; /* in the trailer's CRC-32 */
  fx.dir = tmp_dir("decode");
  cr_assert_eq(test_server_start(&fx.srv), 0);
  file = serve(&fx, "bad.z", packed, plen, "gzip", 0);
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"bad\", \"kind\": \"fetch\", \"url\": "
           "\"%s\", \"retries\": 3, \"backoff\": 0.01}]}\n",
           file);
  r = run(&fx, job, 1);
  test_server_stop(&fx.srv);
  t = report_task(r, "bad");
  cr_expect_str_eq(str_at(t, "error", "type"), "protocol");
  cr_expect_eq(strncmp(str_at(t, "error", "message"),
                       "body does not decode: the gzip stream does not decode: "
                       "incorrect data check",
                       75),
               0, "%s", str_at(t, "error", "message"));
  cr_expect_eq(cJSON_GetObjectItem(t, "attempts")->valuedouble, 4);
  remove_all(fx.dir, names);
  cJSON_Delete(r);
  free(packed);
  free(text);
  free(file);
  free(fx.dir);
}

/*
 * Content-Encoding on two lines, or folded onto a second, is one list;
 * one too long to keep as the headers go by is asked of curl after them.
 * Each way the body is undone in the order the list gives.
 */
Test(decode, an_encoding_list_over_several_lines_is_one_list)
{
  struct fixture fx;
  size_t n = 30000, glen, blen;
  char *text = sample(n), *urls[3], job[4096];
  unsigned char *gz = pack("gzip", text, n, &glen);
  unsigned char *both = pack("br", (const char *)gz, glen, &blen);
  static const char *const names[] = {"two.z", "fold.z", "long.z", NULL};
  static const char *const ids[] = {"two", "fold", "long"};
  cJSON *r;
  int i;

  fx.dir = tmp_dir("decode");
  cr_assert_eq(test_server_start(&fx.srv), 0);
  urls[0] = serve(&fx, "two.z", both, blen, "gzip&enc2=br", 0);
  urls[1] = serve(&fx, "fold.z", both, blen, "gzip,&fold=br", 0);
  urls[2] = serve(&fx, "long.z", both, blen,
                  "identity,++++++++++++++++++++++++++++++++++++++++++++++++"
                  "++++++++gzip&enc2=br",
                  0);
  snprintf(job, sizeof(job),
           "{\"tasks\": ["
           "{\"id\": \"two\", \"kind\": \"fetch\", \"url\": \"%s\", "
           "\"expect\": {\"bytes\": %zu}},"
           "{\"id\": \"fold\", \"kind\": \"fetch\", \"url\": \"%s\", "
           "\"expect\": {\"bytes\": %zu}},"
           "{\"id\": \"long\", \"kind\": \"fetch\", \"url\": \"%s\", "
           "\"expect\": {\"bytes\": %zu}}]}\n",
           urls[0], n, urls[1], n, urls[2], n);
  r = run(&fx, job, 0);
  test_server_stop(&fx.srv);
  for (i = 0; i < 3; i++) {
    ok_task(r, ids[i]);
    free(urls[i]);
  }
  remove_all(fx.dir, names);
  cJSON_Delete(r);
  free(both);
  free(gz);
  free(text);
  free(fx.dir);
}

/*
 * A response of more than five codings is refused, as curl refuses it
 * (libcurl reads Content-Encoding because corun sets
 * CURLOPT_ACCEPT_ENCODING, though the header itself goes in corun's own
 * list); five are decoded.
 */
Test(decode, more_than_five_codings_are_refused)
{
  struct fixture fx;
  static const char text[] = "plain text, every coding identity";
  char *five, *six, job[2048];
  static const char *const names[] = {"five", "six", NULL};
  cJSON *r, *t;

  fx.dir = tmp_dir("decode");
  cr_assert_eq(test_server_start(&fx.srv), 0);
  five = serve(&fx, "five", (const unsigned char *)text, sizeof(text) - 1,
               "identity,identity,identity,identity,identity", 0);
  six = serve(&fx, "six", (const unsigned char *)text, sizeof(text) - 1,
              "identity,identity,identity,identity,identity,identity", 0);
  snprintf(job, sizeof(job),
           "{\"tasks\": ["
           "{\"id\": \"five\", \"kind\": \"fetch\", \"url\": \"%s\"},"
           "{\"id\": \"six\", \"kind\": \"fetch\", \"url\": \"%s\"}]}\n",
           five, six);
  r = run(&fx, job, 1);
  test_server_stop(&fx.srv);
  t = ok_task(r, "five");
  cr_expect_str_eq(str_at(t, "result", "body"), text);
  t = report_task(r, "six");
  cr_expect_str_eq(str_at(t, "status", NULL), "failed");
  cr_expect_str_eq(str_at(t, "error", "type"), "protocol");
  cr_expect_not_null(strstr(str_at(t, "error", "message"), "encodings"), "%s",
                     str_at(t, "error", "message"));
  remove_all(fx.dir, names);
  cJSON_Delete(r);
  free(five);
  free(six);
  free(fx.dir);
}

/*
 * A redirect that is followed is not the answer: its body, compressed or
 * not, whole or not, is neither decoded nor kept.
 */
Test(decode, a_followed_redirects_body_is_not_decoded)
{
  struct fixture fx;
  size_t n = 5000, plen;
  char *text = sample(n), *whole, *redirect, job[2048], target[1024];
  unsigned char *packed = pack("gzip", text, n, &plen);
  static const char *const names[] = {"g.z", "junk.z", NULL};
  cJSON *r;

  fx.dir = tmp_dir("decode");
  cr_assert_eq(test_server_start(&fx.srv), 0);
  whole = serve(&fx, "g.z", packed, plen, "gzip", 0);
  /* The redirect's body: not gzip at all, though it says so. */
  {
    char *junk = serve(&fx, "junk.z", (const unsigned char *)"not gzip", 8,
                       NULL, 0);

    free(junk);
  }
  {
    /* The target's own query goes inside this one's "to", escaped. */
    struct corun_buf esc = CORUN_BUF_INIT;
    const char *c;

    for (c = whole; *c; c++)
      if (*c == '&' || *c == '?' || *c == '=')
        corun_buf_printf(&esc, "%%%02X", (unsigned char)*c);
      else
        corun_buf_putc(&esc, *c);
    snprintf(target, sizeof(target), "/file?path=%s/junk.z&enc=gzip&to=%s",
             fx.dir, corun_buf_str(&esc));
    corun_buf_free(&esc);
  }
  redirect = test_server_url(&fx.srv, target);
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"t\", \"kind\": \"fetch\", \"url\": "
           "\"%s\", \"expect\": {\"bytes\": %zu}}]}\n",
           redirect, n);
  r = run(&fx, job, 0);
  test_server_stop(&fx.srv);
  ok_task(r, "t");
  remove_all(fx.dir, names);
  cJSON_Delete(r);
  free(packed);
  free(text);
  free(whole);
  free(redirect);
  free(fx.dir);
}
