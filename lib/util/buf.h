/* SPDX-License-Identifier: MIT */
/*
 * The growable byte buffer's internal helpers: the buffer itself and its
 * ordinary appends are public (corun.h).
 */
#ifndef CORUN_BUF_H
#define CORUN_BUF_H

#include <stddef.h>

/* struct corun_buf and the calls that write one are public. */
#include "corun.h"

/*
 * Internal: the length of the well-formed UTF-8 sequence at s (at most n
 * bytes), or 0 when there is none; *bad is then how many bytes one U+FFFD
 * stands for. 1 for ASCII.
 */
size_t corun__utf8_seq(const unsigned char *s, size_t n, size_t *bad);

/*
 * Empty b for a new use (another attempt, hop or item), and forget that
 * an earlier use ran out of memory: what did not fit then may fit now.
 * corun_buf_reset keeps the mark, for a caller that checks it once at
 * the end of a use that empties the buffer on the way.
 */
void corun__buf_restart(struct corun_buf *b);

/*
 * Append s for a terminal: newline as \n, carriage return as \r, other
 * control characters (tab aside) as \xNN, the C1 controls U+0080 to
 * U+009F as \u00NN and bytes that are not UTF-8 as \xNN, so text from
 * tasks and servers can neither break lines nor drive the terminal. At most max bytes of
 * output ("..." marks a cut); max 0 means no limit.
 */
void corun_buf_escaped(struct corun_buf *b, const char *s, size_t max);

/*
 * Append n bytes of p with each NUL byte as U+FFFD: text that goes on as
 * a C string (a result, a message) would end at the first NUL.
 */
void corun__buf_add_text(struct corun_buf *b, const char *p, size_t n);

/*
 * Append s as a JSON string literal, quotes included. Bytes that are not
 * well-formed UTF-8 come out as U+FFFD, so every JSON corun writes is
 * UTF-8 whatever commands and servers print.
 */
void corun_buf_json_str(struct corun_buf *b, const char *s, size_t n);

#endif
