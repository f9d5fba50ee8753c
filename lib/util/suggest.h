/* SPDX-License-Identifier: MIT */
/* "Did you mean" for misspelt field names, kinds, variables and options. */
#ifndef CORUN_SUGGEST_H
#define CORUN_SUGGEST_H

#include <stddef.h>

/*
 * The candidate closest to word by edit distance (transpositions count as
 * one edit), or NULL when none is close enough to be a likely typo.
 * cands is NULL-terminated when n is (size_t)-1.
 */
const char *corun_suggest(const char *word, const char *const *cands,
                          size_t n);

#endif
