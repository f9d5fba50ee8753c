/* SPDX-License-Identifier: MIT */
/*
 * The one list of task kinds. A new kind is a file in kinds/ exporting
 * corun_kind_NAME, and one line in CORUN_KINDS below; everything else
 * (lookup, names for suggestions, checks over every kind) is read from it.
 */
#include "core/kind.h"

#include <string.h>

#define CORUN_KINDS(X)                                                         \
  X(sleep)                                                                     \
  X(gather)                                                                    \
  X(wait)                                                                      \
  X(fetch)                                                                     \
  X(exec)                                                                      \
  X(pipeline)                                                                  \
  X(tcp)

#define DECLARE(name) extern const struct corun_kind corun_kind_##name;
CORUN_KINDS(DECLARE)
#undef DECLARE

#define ROW(name) &corun_kind_##name,
static const struct corun_kind *const kinds[] = {CORUN_KINDS(ROW)};
#undef ROW

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

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

size_t corun__kind_names(const char **out, size_t max)
{
  size_t i;

  for (i = 0; i < NKINDS && i < max; i++)
    out[i] = kinds[i]->name;
  out[i] = NULL;
  return i;
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

const struct corun_job_setting *corun__kind_setting_at(size_t i)
{
  const struct corun_job_setting *s;
  size_t k;

  for (k = 0; k < NKINDS; k++)
    for (s = kinds[k]->settings; s && s->name; s++)
      if (i-- == 0)
        return s;
  return NULL;
}

const struct corun_job_setting *corun__kind_setting(const char *name,
                                                    size_t *index)
{
  const struct corun_job_setting *s;
  size_t i;

  for (i = 0; (s = corun__kind_setting_at(i)) != NULL; i++)
    if (strcmp(s->name, name) == 0) {
      if (index)
        *index = i;
      return s;
    }
  return NULL;
}

int corun__kind_shapes(const struct corun_kind *k, const char *name)
{
  size_t i;

  for (i = 0; k && k->shape_fields && k->shape_fields[i]; i++)
    if (strcmp(k->shape_fields[i], name) == 0)
      return 1;
  return 0;
}
