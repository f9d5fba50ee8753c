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

/*
 * Room for a hint: ' (did you mean "NAME"?)' around a name as long as
 * corun_suggest() ever proposes (64 bytes), with room to spare.
 */
#define CORUN_HINT_MAX 112

/*
 * The end of a message suggesting name: ' (did you mean "NAME"?)', with
 * open and close around NAME inside the quotes ("${" and "}" for a
 * variable; NULL for nothing), or "" when name is NULL. buf holds
 * CORUN_HINT_MAX; returns buf.
 */
const char *corun_hint(char *buf, const char *name, const char *open,
                       const char *close);

/*
 * corun_hint() for the candidate closest to word (corun_suggest()). *name,
 * when not NULL, is set to that candidate, or NULL.
 */
const char *corun_did_you_mean(char *buf, const char *word,
                               const char *const *cands, size_t n,
                               const char **name);

#endif
