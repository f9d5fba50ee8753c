/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer, always NUL-terminated once anything was added.
 * Allocation failure is sticky: the buffer remembers it in "oom" and further
 * appends do nothing, so callers check once at the end instead of after
 * every append.
 */
#ifndef CORUN_BUF_H
#define CORUN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct corun_buf {
  char *p;
  size_t len;
  size_t cap;
  int oom;
  /*
   * Optional: when set, a full buffer is handed to sink and emptied
   * instead of grown, so output of any size streams through a fixed
   * buffer. sink returns 0 or an errno; the first error is kept in
   * sink_err and later output is dropped. Flush the rest with
   * corun_buf_flush().
   */
  int (*sink)(void *arg, const char *data, size_t n);
  void *sink_arg;
  int sink_err;
};

#define CORUN_BUF_INIT {NULL, 0, 0, 0, NULL, NULL, 0}

void corun_buf_add(struct corun_buf *b, const void *data, size_t n);
void corun_buf_puts(struct corun_buf *b, const char *s);
void corun_buf_putc(struct corun_buf *b, char c);
void corun_buf_printf(struct corun_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void corun_buf_vprintf(struct corun_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Returns the string ("" when empty); valid until the next append. */
const char *corun_buf_str(const struct corun_buf *b);
/* Hands the string to the caller (malloc'd, may be NULL on oom). */
char *corun_buf_detach(struct corun_buf *b);
void corun_buf_reset(struct corun_buf *b);
/*
 * Start b (empty) as a stream: a buffer of size bytes, never grown, that
 * goes to sink(arg, ...) whenever it fills. Out of memory sets b->oom.
 */
void corun_buf_stream(struct corun_buf *b, size_t size,
                      int (*sink)(void *arg, const char *data, size_t n),
                      void *arg);
/* With a sink: hand it what the buffer holds. Returns sink_err. */
int corun_buf_flush(struct corun_buf *b);
void corun_buf_free(struct corun_buf *b);

/*
 * Internal: the length of the well-formed UTF-8 sequence at s (at most n
 * bytes), or 0 when there is none; *bad is then how many bytes one U+FFFD
 * stands for. 1 for ASCII.
 */
size_t corun__utf8_seq(const unsigned char *s, size_t n, size_t *bad);

/*
 * Append s for a terminal: newline as \n, carriage return as \r, other
 * control characters (tab aside) as \xNN, so text from tasks and servers
 * can neither break lines nor drive the terminal. At most max bytes of
 * output ("..." marks a cut); max 0 means no limit.
 */
void corun_buf_escaped(struct corun_buf *b, const char *s, size_t max);

/*
 * Append s as a JSON string literal, quotes included. Bytes that are not
 * well-formed UTF-8 come out as U+FFFD, so every JSON corun writes is
 * UTF-8 whatever commands and servers print.
 */
void corun_buf_json_str(struct corun_buf *b, const char *s, size_t n);

#endif
