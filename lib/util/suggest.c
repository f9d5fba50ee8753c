/* SPDX-License-Identifier: MIT */
#include "util/suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Optimal string alignment distance, case-insensitive, capped at 64 chars. */
static size_t distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b), i, j;
  size_t d[65][65];

  if (la > 64 || lb > 64)
    return (size_t)-1;
  for (i = 0; i <= la; i++)
    d[i][0] = i;
  for (j = 0; j <= lb; j++)
    d[0][j] = j;
  for (i = 1; i <= la; i++) {
    for (j = 1; j <= lb; j++) {
      size_t cost = tolower((unsigned char)a[i - 1]) !=
                    tolower((unsigned char)b[j - 1]);
      size_t best = d[i - 1][j] + 1;

      if (d[i][j - 1] + 1 < best)
        best = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < best)
        best = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[la][lb];
}

const char *corun_suggest(const char *word, const char *const *cands,
                          size_t n)
{
  const char *best = NULL;
  size_t best_d = (size_t)-1, i, limit;

  limit = strlen(word) / 3;
  if (limit < 2)
    limit = 2;
  for (i = 0; i < n && cands[i]; i++) {
    size_t dd = distance(word, cands[i]);

    if (dd < best_d) {
      best_d = dd;
      best = cands[i];
    }
  }
  return best_d <= limit && best_d < strlen(word) ? best : NULL;
}

const char *corun_hint(char *buf, const char *name, const char *open,
                       const char *close)
{
  int n;

  buf[0] = '\0';
  if (name == NULL)
    return buf;
  n = snprintf(buf, CORUN_HINT_MAX, " (did you mean \"%s%s%s\"?)",
               open ? open : "", name, close ? close : "");
  /* Cut short (a name past what suggest proposes): better nothing. */
  if (n < 0 || n >= CORUN_HINT_MAX)
    buf[0] = '\0';
  return buf;
}

const char *corun_did_you_mean(char *buf, const char *word,
                               const char *const *cands, size_t n,
                               const char **name)
{
  const char *hint = corun_suggest(word, cands, n);

  if (name)
    *name = hint;
  return corun_hint(buf, hint, NULL, NULL);
}
