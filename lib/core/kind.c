/* SPDX-License-Identifier: MIT */
/* The one list of task kinds. A new kind is a file in kinds/ and a row here. */
#include "core/kind.h"

#include <string.h>

extern const struct corun_kind corun_kind_sleep;
extern const struct corun_kind corun_kind_gather;
extern const struct corun_kind corun_kind_wait;
extern const struct corun_kind corun_kind_fetch;
extern const struct corun_kind corun_kind_exec;
extern const struct corun_kind corun_kind_pipeline;
extern const struct corun_kind corun_kind_tcp;

static const struct corun_kind *const kinds[] = {
    &corun_kind_sleep,
    &corun_kind_gather,
    &corun_kind_wait,
    &corun_kind_fetch,
    &corun_kind_exec,
    &corun_kind_pipeline,
    &corun_kind_tcp,
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* Kept beside kinds[] for suggestions, which want a plain string list. */
static const char *const names[] = {"sleep", "gather", "wait",    "fetch",
                                    "exec",  "pipeline", "tcp", NULL};

const struct corun_kind *corun__kind_find(const char *name)
{
  size_t i;

  for (i = 0; i < NKINDS; i++)
    if (strcmp(kinds[i]->name, name) == 0)
      return kinds[i];
  return NULL;
}

const struct corun_kind *corun__kind_at(size_t i)
{
  return i < NKINDS ? kinds[i] : NULL;
}

const char *const *corun__kind_names(void)
{
  return names;
}

int corun__kind_has_field(const struct corun_kind *k, const char *name)
{
  size_t i;

  for (i = 0; k->fields && k->fields[i]; i++)
    if (strcmp(k->fields[i], name) == 0)
      return 1;
  return 0;
}

int corun__kind_any_has_field(const char *name)
{
  size_t i;

  for (i = 0; i < NKINDS; i++)
    if (corun__kind_has_field(kinds[i], name))
      return 1;
  return 0;
}
