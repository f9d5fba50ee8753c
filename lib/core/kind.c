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

int corun__kind_kept_out(const struct corun_kind *k, const cJSON *obj,
                         const char *name)
{
  const char *const *p;

  for (p = k && obj ? k->exclusive : NULL; p && p[0] && p[1]; p += 2)
    if ((strcmp(name, p[0]) == 0 &&
         cJSON_GetObjectItemCaseSensitive(obj, p[1])) ||
        (strcmp(name, p[1]) == 0 &&
         cJSON_GetObjectItemCaseSensitive(obj, p[0])))
      return 1;
  return 0;
}

int corun__kind_shapes(const struct corun_kind *k, const char *name)
{
  size_t i;

  for (i = 0; k && k->shape_fields && k->shape_fields[i]; i++)
    if (strcmp(k->shape_fields[i], name) == 0)
      return 1;
  return 0;
}

/* ---- --dry-run helpers ---- */

/* A value shown longer than this is cut: a body or stdin can be large. */
#define DRY_MAX 200

void corun__dry_field(struct corun_buf *out, const struct corun_secrets *sec,
                      const char *name, const char *value)
{
  struct corun_buf red = CORUN_BUF_INIT;
  size_t n;

  /* Redacted whole first, so a secret across the cut is still hidden. */
  corun_secrets_redact(sec, value, strlen(value), &red);
  n = red.len;
  corun_buf_printf(out, "%s: ", name);
  /* Escaped: a value's newline must not pass for a line of its own. */
  if (n > DRY_MAX) {
    char keep;

    /* Cut at a character's start, not inside one. */
    n = DRY_MAX;
    while (n > 0 && ((unsigned char)red.p[n] & 0xC0) == 0x80)
      n--;
    keep = red.p[n];
    red.p[n] = '\0';
    corun_buf_escaped(out, red.p, 0);
    red.p[n] = keep;
    corun_buf_printf(out, "... (%zu bytes)", strlen(value));
  } else {
    corun_buf_escaped(out, red.p ? red.p : "", 0);
  }
  corun_buf_putc(out, '\n');
  /* A value left out: the listing is not whole. */
  if (red.oom)
    out->oom = 1;
  corun_buf_free(&red);
}

void corun__dry_quoted(struct corun_buf *out, const struct corun_secrets *sec,
                       const char *s)
{
  struct corun_buf red = CORUN_BUF_INIT;

  corun_secrets_redact(sec, s, strlen(s), &red);
  corun_buf_json_str(out, red.p ? red.p : "", red.len);
  if (red.oom)
    out->oom = 1;
  corun_buf_free(&red);
}

void corun__dry_nested(struct corun_buf *out, const struct corun_secrets *sec,
                       const char *title, const struct corun_kind *k,
                       const struct corun_task *t)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const char *p, *nl;
  size_t ind = strspn(title, " ") + 2;

  corun_buf_printf(out, "%s:\n", title);
  if (k->dry)
    k->dry(t, sec, &b);
  for (p = corun_buf_str(&b); *p; p = nl + 1) {
    nl = strchr(p, '\n');
    if (nl == NULL)
      nl = p + strlen(p) - 1; /* every hook ends its lines; still, be safe */
    corun_buf_printf(out, "%*s", (int)ind, "");
    corun_buf_add(out, p, (size_t)(nl - p) + 1);
  }
  if (b.len && b.p[b.len - 1] != '\n')
    corun_buf_putc(out, '\n');
  if (b.oom)
    out->oom = 1;
  corun_buf_free(&b);
}
