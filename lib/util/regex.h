/* SPDX-License-Identifier: MIT */
/* POSIX extended regular expressions, compiled within a size bound. */
#ifndef CORUN_REGEX_H
#define CORUN_REGEX_H

#include <regex.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

/*
 * The most pieces a pattern may expand to once its counted repetitions are
 * written out. glibc's regcomp() copies a repeated piece once per count,
 * nested counts multiply, and each copy costs some hundred bytes, so
 * "((a{255}){255}){255}" alone asks for gigabytes. 10,000 pieces keep one
 * pattern to a few megabytes and still allow "[0-9a-f]{64}" or ".{0,5000}".
 */
#define CORUN_REGEX_MAX_PIECES 10000

/*
 * How many pieces pattern expands to (an upper estimate), saturating just
 * above CORUN_REGEX_MAX_PIECES.
 */
size_t corun__regex_pieces(const char *pattern);

/*
 * regcomp(re, pattern, REG_EXTENDED | flags). On failure returns -1 with
 * nothing to free and why set to the reason (regerror()'s words, or that
 * the pattern repeats too much).
 */
CORUN_MUST_CHECK int corun__regex_compile(regex_t *re, const char *pattern,
                                          int flags, struct corun_buf *why);

#endif
