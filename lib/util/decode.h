/* SPDX-License-Identifier: MIT */
/*
 * Content decoding: a body sent with a Content-Encoding of gzip, deflate,
 * br or zstd (or a list of them) turned back into the bytes the server
 * meant, with the one thing an HTTP client's own decoder may not tell:
 * whether each compression stream came to its end. A body cut inside a
 * stream, or one that does not decode, is an error, never a short body.
 *
 * Plain bytes in, plain bytes out: this knows nothing of transfers.
 */
#ifndef CORUN_DECODE_H
#define CORUN_DECODE_H

#include <stddef.h>

/* The encodings asked for in Accept-Encoding, most preferred first. */
#define CORUN_ACCEPT_ENCODING "gzip, deflate, br, zstd"

struct corun_decoder;

/*
 * Receives decoded bytes. Returns 0 to go on; anything else stops the
 * decoding, and corun__decoder_write() returns that value.
 */
typedef int (*corun_decode_sink)(void *ctx, const char *p, size_t n);

/*
 * A decoder for a Content-Encoding value ("gzip", "br, gzip", ...; the
 * encodings in the order they were applied; "identity" and empty items
 * are skipped). Returns 0 and sets *out (NULL when there is nothing to
 * undo), or -1 with the reason in err when an encoding is unknown or
 * memory ran out.
 */
int corun__decoder_new(const char *content_encoding, corun_decode_sink sink,
                       void *ctx, struct corun_decoder **out, char *err,
                       size_t errlen);

/*
 * Decodes n more bytes of the body, passing what comes out to the sink.
 * Returns 0; the sink's nonzero value; or -1 when the data does not
 * decode (the reason is in corun__decoder_error()).
 */
int corun__decoder_write(struct corun_decoder *d, const char *p, size_t n);

/*
 * The body has ended. Returns 0 when every stream came to its end (or
 * no byte came at all: an empty body has nothing to cut), else -1 with
 * the reason in corun__decoder_error().
 */
int corun__decoder_finish(struct corun_decoder *d);

const char *corun__decoder_error(const struct corun_decoder *d);

void corun__decoder_free(struct corun_decoder *d);

#endif
