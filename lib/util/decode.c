/* SPDX-License-Identifier: MIT */
#include "util/decode.h"

#include <brotli/decode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

/* More would be a server playing games; curl stops at five too. */
#define MAX_STAGES 5
#define CHUNK 16384

enum coding { GZIP, DEFLATE, BR, ZSTD };

static const char *const coding_names[] = {"gzip", "deflate", "br", "zstd"};

struct stage {
  enum coding coding;
  int started; /* a byte came in */
  int ended;   /* the stream (the last one, for gzip members) is whole */
  int zready;  /* z is initialised */
  unsigned char head[2]; /* deflate: the bytes that tell zlib from raw */
  size_t nhead;
  z_stream z;
  BrotliDecoderState *br;
  ZSTD_DStream *zs;
  unsigned char *buf;
};

struct corun_decoder {
  int n;
  struct stage st[MAX_STAGES]; /* st[0] undoes the encoding applied last */
  corun_decode_sink sink;
  void *ctx;
  char err[200];
};

static int feed(struct corun_decoder *d, int k, const unsigned char *p,
                size_t n);

static int fail(struct corun_decoder *d, const struct stage *s,
                const char *what, const char *detail)
{
  snprintf(d->err, sizeof(d->err), "the %s stream %s%s%s",
           coding_names[s->coding], what, detail ? ": " : "",
           detail ? detail : "");
  return -1;
}

static int pass_on(struct corun_decoder *d, int k, const unsigned char *p,
                   size_t n)
{
  if (n == 0)
    return 0;
  if (k + 1 == d->n)
    return d->sink(d->ctx, (const char *)p, n);
  return feed(d, k + 1, p, n);
}

static int zlib_start(struct corun_decoder *d, struct stage *s, int bits)
{
  memset(&s->z, 0, sizeof(s->z));
  if (inflateInit2(&s->z, bits) != Z_OK) {
    snprintf(d->err, sizeof(d->err), "cannot start a %s decoder",
             coding_names[s->coding]);
    return -1;
  }
  s->zready = 1;
  return 0;
}

static int zlib_feed(struct corun_decoder *d, int k, const unsigned char *p,
                     size_t n)
{
  struct stage *s = &d->st[k];
  int r;

  s->z.next_in = (unsigned char *)p;
  s->z.avail_in = (uInt)n;
  for (;;) {
    int ret;
    size_t made;

    if (s->ended) {
      /* gzip allows members one after another (gunzip reads them all). */
      if (s->coding != GZIP)
        return fail(d, s, "has data after its end", NULL);
      if (inflateReset(&s->z) != Z_OK)
        return fail(d, s, "does not decode", NULL);
      s->ended = 0;
    }
    s->z.next_out = s->buf;
    s->z.avail_out = CHUNK;
    ret = inflate(&s->z, Z_NO_FLUSH);
    made = CHUNK - s->z.avail_out;
    if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
      return fail(d, s, "does not decode",
                  s->z.msg ? s->z.msg : "invalid data");
    if ((r = pass_on(d, k, s->buf, made)) != 0)
      return r;
    if (ret == Z_STREAM_END)
      s->ended = 1;
    if (s->z.avail_in == 0 && (s->z.avail_out > 0 || ret == Z_STREAM_END))
      return 0;
    if (ret == Z_BUF_ERROR && made == 0)
      return 0; /* no progress possible before more input */
  }
}

/*
 * "deflate" is meant to be a zlib stream, but some servers send the raw
 * deflate data without its header: tell them apart by the two first
 * bytes, as curl and browsers do.
 */
static int deflate_feed(struct corun_decoder *d, int k, const unsigned char *p,
                        size_t n)
{
  struct stage *s = &d->st[k];
  unsigned char head[2];

  if (s->zready)
    return zlib_feed(d, k, p, n);
  while (s->nhead < 2 && n > 0) {
    s->head[s->nhead++] = *p++;
    n--;
  }
  if (s->nhead < 2)
    return 0;
  memcpy(head, s->head, 2);
  if (zlib_start(d, s,
                 (head[0] & 0x0f) == 8 && ((head[0] << 8) | head[1]) % 31 == 0
                     ? 15
                     : -15) < 0)
    return -1;
  {
    int r = zlib_feed(d, k, head, 2);

    if (r != 0 || n == 0)
      return r;
  }
  return zlib_feed(d, k, p, n);
}

static int br_feed(struct corun_decoder *d, int k, const unsigned char *p,
                   size_t n)
{
  struct stage *s = &d->st[k];
  const uint8_t *in = p;
  size_t avail_in = n;
  int r;

  for (;;) {
    uint8_t *out = s->buf;
    size_t avail_out = CHUNK;
    BrotliDecoderResult ret;

    if (s->ended)
      return avail_in ? fail(d, s, "has data after its end", NULL) : 0;
    ret = BrotliDecoderDecompressStream(s->br, &avail_in, &in, &avail_out,
                                        &out, NULL);
    if (ret == BROTLI_DECODER_RESULT_ERROR)
      return fail(d, s, "does not decode",
                  BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s->br)));
    if ((r = pass_on(d, k, s->buf, CHUNK - avail_out)) != 0)
      return r;
    if (ret == BROTLI_DECODER_RESULT_SUCCESS)
      s->ended = 1;
    else if (ret == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
      return 0;
  }
}

static int zstd_feed(struct corun_decoder *d, int k, const unsigned char *p,
                     size_t n)
{
  struct stage *s = &d->st[k];
  ZSTD_inBuffer in = {p, n, 0};
  int r;

  for (;;) {
    ZSTD_outBuffer out = {s->buf, CHUNK, 0};
    size_t ret = ZSTD_decompressStream(s->zs, &out, &in);

    if (ZSTD_isError(ret))
      return fail(d, s, "does not decode", ZSTD_getErrorName(ret));
    if ((r = pass_on(d, k, s->buf, out.pos)) != 0)
      return r;
    /* 0: a frame is whole and flushed; more frames may follow. */
    s->ended = ret == 0;
    if (in.pos == in.size && out.pos < out.size)
      return 0;
  }
}

static int feed(struct corun_decoder *d, int k, const unsigned char *p,
                size_t n)
{
  struct stage *s = &d->st[k];

  if (n == 0)
    return 0;
  s->started = 1;
  switch (s->coding) {
  case GZIP:
    return zlib_feed(d, k, p, n);
  case DEFLATE:
    return deflate_feed(d, k, p, n);
  case BR:
    return br_feed(d, k, p, n);
  case ZSTD:
    return zstd_feed(d, k, p, n);
  }
  return -1;
}

static int coding_of(const char *name, size_t len, enum coding *out)
{
  static const struct {
    const char *name;
    enum coding coding;
  } known[] = {{"gzip", GZIP}, {"x-gzip", GZIP}, {"deflate", DEFLATE},
               {"br", BR},     {"zstd", ZSTD}};
  size_t i;

  for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strlen(known[i].name) == len &&
        strncasecmp(known[i].name, name, len) == 0) {
      *out = known[i].coding;
      return 0;
    }
  return -1;
}

static int stage_open(struct stage *s)
{
  if ((s->buf = malloc(CHUNK)) == NULL)
    return -1;
  switch (s->coding) {
  case GZIP:
    memset(&s->z, 0, sizeof(s->z));
    if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
      return -1;
    s->zready = 1;
    return 0;
  case DEFLATE:
    return 0; /* started once its first two bytes have come */
  case BR:
    return (s->br = BrotliDecoderCreateInstance(NULL, NULL, NULL)) ? 0 : -1;
  case ZSTD:
    return (s->zs = ZSTD_createDStream()) && !ZSTD_isError(ZSTD_initDStream(
                                                 s->zs))
               ? 0
               : -1;
  }
  return -1;
}

int corun__decoder_new(const char *content_encoding, corun_decode_sink sink,
                       void *ctx, struct corun_decoder **out, char *err,
                       size_t errlen)
{
  enum coding found[MAX_STAGES];
  int n = 0, i;
  const char *p = content_encoding;
  struct corun_decoder *d;

  *out = NULL;
  while (p && *p) {
    const char *start, *end;
    size_t len;

    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    start = p;
    while (*p && *p != ',')
      p++;
    end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    len = (size_t)(end - start);
    if (len == 0 || (len == 8 && strncasecmp(start, "identity", 8) == 0))
      continue;
    if (n == MAX_STAGES) {
      snprintf(err, errlen, "more than %d content encodings", MAX_STAGES);
      return -1;
    }
    if (coding_of(start, len, &found[n]) < 0) {
      snprintf(err, errlen, "unsupported Content-Encoding \"%.*s\"",
               len > 40 ? 40 : (int)len, start);
      return -1;
    }
    n++;
  }
  if (n == 0)
    return 0;
  if ((d = calloc(1, sizeof(*d))) == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  d->sink = sink;
  d->ctx = ctx;
  d->n = n;
  /* Listed in the order applied: the last one is undone first. */
  for (i = 0; i < n; i++) {
    d->st[i].coding = found[n - 1 - i];
    if (stage_open(&d->st[i]) < 0) {
      snprintf(err, errlen, "cannot start a %s decoder: out of memory",
               coding_names[d->st[i].coding]);
      corun__decoder_free(d);
      return -1;
    }
  }
  *out = d;
  return 0;
}

int corun__decoder_write(struct corun_decoder *d, const char *p, size_t n)
{
  /* zlib counts its input in an unsigned int. */
  const size_t piece = (size_t)1 << 30;

  while (n > 0) {
    size_t take = n < piece ? n : piece;
    int r = feed(d, 0, (const unsigned char *)p, take);

    if (r != 0)
      return r;
    p += take;
    n -= take;
  }
  return 0;
}

int corun__decoder_finish(struct corun_decoder *d)
{
  int k;

  for (k = 0; k < d->n; k++) {
    const struct stage *s = &d->st[k];

    /*
     * A stage that got nothing was given an empty body (or the stage
     * before it decoded to nothing): there was no stream to cut.
     */
    if (s->started && !s->ended)
      return fail(d, s, "stops before its end", NULL);
  }
  return 0;
}

const char *corun__decoder_error(const struct corun_decoder *d)
{
  return d->err[0] ? d->err : "cannot decode";
}

void corun__decoder_free(struct corun_decoder *d)
{
  int k;

  if (d == NULL)
    return;
  for (k = 0; k < d->n; k++) {
    struct stage *s = &d->st[k];

    if (s->zready)
      inflateEnd(&s->z);
    if (s->br)
      BrotliDecoderDestroyInstance(s->br);
    if (s->zs)
      ZSTD_freeDStream(s->zs);
    free(s->buf);
  }
  free(d);
}
