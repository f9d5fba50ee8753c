/* SPDX-License-Identifier: MIT */
#include "template.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

int corun_secrets_add(struct corun_secrets *sec, const char *s)
{
  size_t i, len = strlen(s);
  char *copy;

  if (len == 0)
    return 0;
  for (i = 0; i < sec->n; i++)
    if (strcmp(sec->v[i], s) == 0)
      return 0;
  if (sec->n == sec->cap) {
    size_t ncap = sec->cap ? sec->cap * 2 : 4;
    char **nv = realloc(sec->v, ncap * sizeof(*nv));

    if (nv == NULL)
      return -1;
    sec->v = nv;
    sec->cap = ncap;
  }
  copy = strdup(s);
  if (copy == NULL)
    return -1;
  for (i = sec->n; i > 0 && strlen(sec->v[i - 1]) < len; i--)
    sec->v[i] = sec->v[i - 1];
  sec->v[i] = copy;
  sec->n++;
  return 0;
}

void corun_secrets_redact(const struct corun_secrets *sec, const char *s,
                          size_t n, struct corun_buf *out)
{
  size_t i = 0, run = 0, k;

  if (sec == NULL || sec->n == 0) {
    corun_buf_add(out, s, n);
    return;
  }
  while (i < n) {
    size_t hit = 0;

    for (k = 0; k < sec->n; k++) {
      size_t l = strlen(sec->v[k]);

      if (l <= n - i && memcmp(s + i, sec->v[k], l) == 0) {
        hit = l;
        break;
      }
    }
    if (hit) {
      corun_buf_add(out, s + run, i - run);
      corun_buf_puts(out, "***");
      i += hit;
      run = i;
    } else {
      i++;
    }
  }
  corun_buf_add(out, s + run, n - run);
}

void corun_secrets_free(struct corun_secrets *sec)
{
  size_t i;

  for (i = 0; i < sec->n; i++)
    free(sec->v[i]);
  free(sec->v);
  memset(sec, 0, sizeof(*sec));
}

int corun_template_has(const char *s)
{
  return strstr(s, "${") != NULL;
}

static int field_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int corun_template_is_item_name(const char *name)
{
  const char *p;

  if (strcmp(name, "index") == 0 || strcmp(name, "item") == 0)
    return 1;
  if (strncmp(name, "item.", 5) != 0)
    return 0;
  /* Dot-separated non-empty field names: item.a, item.a.b. */
  for (p = name + 5; *p; p++) {
    if (*p == '.') {
      if (p[-1] == '.' || p[1] == '\0')
        return 0;
    } else if (!field_char(*p)) {
      return 0;
    }
  }
  return p > name + 5;
}

size_t corun_template_item_refs(const char *s,
                                void (*cb)(void *arg, const char *name),
                                void *arg)
{
  size_t n = 0;
  char name[256], *nm;

  while ((s = strchr(s, '$')) != NULL) {
    const char *close;
    size_t len;

    if (s[1] == '$' && s[2] == '{') {
      s += 3;
      continue;
    }
    if (s[1] != '{' || (close = strchr(s + 2, '}')) == NULL) {
      s++;
      continue;
    }
    len = (size_t)(close - s - 2);
    /*
     * A name of any length: the run pass resolves long ones too, so
     * skipping them would hide them from the load-time checks (fuzzing).
     */
    nm = len < sizeof(name) ? name : malloc(len + 1);
    if (nm) {
      memcpy(nm, s + 2, len);
      nm[len] = '\0';
      if (corun_template_is_item_name(nm)) {
        n++;
        if (cb)
          cb(arg, nm);
      }
      if (nm != name)
        free(nm);
    }
    s = close + 1;
  }
  return n;
}

__attribute__((format(printf, 2, 3))) static int fail(char **err,
                                                       const char *fmt, ...)
{
  struct corun_buf m = CORUN_BUF_INIT;
  va_list ap;

  va_start(ap, fmt);
  corun_buf_vprintf(&m, fmt, ap);
  va_end(ap);
  *err = corun_buf_detach(&m);
  return -1;
}

static int valid_env_name(const char *s, size_t n)
{
  size_t i;

  if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
    return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];

    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return 1;
}

static int expand_env(const struct corun_template_ctx *ctx, const char *body,
                      struct corun_buf *b, char **err)
{
  const char *dflt = strstr(body, ":-");
  size_t nlen = dflt ? (size_t)(dflt - body) : strlen(body);
  char name[256];
  const char *val;

  if (!valid_env_name(body, nlen) || nlen >= sizeof(name))
    return fail(err, "\"${env:%s}\" is not a valid environment variable name",
                body);
  memcpy(name, body, nlen);
  name[nlen] = '\0';
  val = getenv(name);
  if (val == NULL) {
    if (dflt == NULL)
      return fail(err,
                  "environment variable %s is not set (use ${env:%s:-default} "
                  "for a fallback)",
                  name, name);
    corun_buf_puts(b, dflt + 2);
    return 0;
  }
  corun_buf_puts(b, val);
  if (ctx->secrets && corun_secrets_add(ctx->secrets, val) < 0)
    b->oom = 1;
  return 0;
}

static int expand_var(const struct corun_template_ctx *ctx, const char *name,
                      struct corun_buf *b, char **err)
{
  const cJSON *v = NULL, *it;
  const char *cands[64];
  size_t n = 0;
  const char *hint;

  if (ctx->env_only)
    return fail(err,
                "\"${%s}\": a variable's value may only use ${env:...}, not "
                "other variables",
                name);
  /* Inside a stage's task a misspelt item name is the likelier slip. */
  if (ctx->defer_item) {
    cands[n++] = "item";
    cands[n++] = "index";
  }
  if (ctx->vars) {
    for (it = ctx->vars->child; it; it = it->next) {
      if (strcmp(it->string, name) == 0) {
        v = it;
        break;
      }
      if (n < 64)
        cands[n++] = it->string;
    }
  }
  if (v == NULL) {
    hint = corun_suggest(name, cands, n);
    if (hint)
      return fail(err, "unknown variable \"${%s}\" (did you mean \"${%s}\"?)",
                  name, hint);
    return fail(err, "unknown variable \"${%s}\"%s", name,
                ctx->vars ? "" : " (the job has no \"vars\")");
  }
  if (!cJSON_IsString(v))
    return fail(err, "variable \"%s\" is not a string", name);
  corun_buf_puts(b, v->valuestring);
  return 0;
}

/*
 * A value going into a deferred template: its "${" must stay literal.
 * after_dollar: the text before it ends in a '$' from another value, and a
 * '{' starting this one would join that '$' into a "${" of its own.
 */
static void put_escaped(struct corun_buf *b, size_t at, int after_dollar)
{
  const char *s = b->p ? b->p + at : NULL, *hit;
  struct corun_buf esc = CORUN_BUF_INIT;
  int brace = after_dollar && s && *s == '{';

  if (s == NULL || (!brace && strstr(s, "${") == NULL))
    return;
  if (brace)
    corun_buf_putc(&esc, '$'); /* "$" "$" "{": the run reads "${" literal */
  while ((hit = strstr(s, "${")) != NULL) {
    corun_buf_add(&esc, s, (size_t)(hit - s));
    corun_buf_puts(&esc, "$${");
    s = hit + 2;
  }
  corun_buf_puts(&esc, s);
  b->len = at;
  corun_buf_add(b, corun_buf_str(&esc), esc.len);
  if (esc.oom)
    b->oom = 1;
  corun_buf_free(&esc);
}

int corun_template_expand(const struct corun_template_ctx *ctx, const char *in,
                          char **out, char **err)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const char *p = in;
  int r = 0;
  /*
   * defer_item: the output ends in a '$' that a value brought in. Next to
   * a '{' or a kept "${item}" it would form a "${" or "$${" the run pass
   * reads differently from what the value meant (found by fuzzing).
   */
  int dollar = 0;

  *out = NULL;
  *err = NULL;
  while (*p) {
    const char *close;
    char *body;
    size_t at;

    if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
      corun_buf_puts(&b, ctx->defer_item ? "$${" : "${");
      dollar = 0;
      p += 3;
      continue;
    }
    if (!(p[0] == '$' && p[1] == '{')) {
      const char *next = strchr(p + 1, '$');
      size_t n = next ? (size_t)(next - p) : strlen(p);

      if (dollar && *p == '{')
        corun_buf_putc(&b, '$'); /* as in put_escaped() */
      dollar = 0;
      corun_buf_add(&b, p, n);
      p += n;
      continue;
    }
    close = strchr(p + 2, '}');
    if (close == NULL) {
      r = fail(err, "unterminated \"${\" in \"%s\" (write $${ for a literal)",
               in);
      break;
    }
    body = strndup(p + 2, (size_t)(close - p - 2));
    if (body == NULL) {
      b.oom = 1;
      break;
    }
    at = b.len;
    if ((ctx->defer_item || ctx->item) && corun_template_is_item_name(body)) {
      if (ctx->item)
        r = ctx->item(ctx->item_arg, body, &b, err);
      else if (dollar)
        /* No spelling of "$" then "${item}" survives the run pass. */
        r = fail(err, "\"${%s}\" follows a value that ends in \"$\", "
                      "which would make it a literal \"${\" when the "
                      "item is filled in",
                 body);
      else
        corun_buf_printf(&b, "${%s}", body);
      dollar = 0;
      free(body);
      if (r < 0)
        break;
      p = close + 1;
      continue;
    }
    if (strncmp(body, "env:", 4) == 0)
      r = expand_env(ctx, body + 4, &b, err);
    else if (body[0] == '\0')
      r = fail(err, "empty template \"${}\"");
    else if (strcmp(body, "item") == 0 || strcmp(body, "index") == 0 ||
             strncmp(body, "item.", 5) == 0)
      r = strncmp(body, "item.", 5) == 0
              ? fail(err, "\"${%s}\" is not a valid item field (write "
                          "${item.NAME} with NAME of A-Z a-z 0-9 _ -)",
                     body)
              : fail(err, "\"${%s}\" is only known inside a pipeline "
                          "stage's task",
                     body);
    else
      r = expand_var(ctx, body, &b, err);
    free(body);
    if (r == 0 && ctx->defer_item) {
      put_escaped(&b, at, dollar);
      if (b.len > at) /* an empty value leaves the '$' before it last */
        dollar = b.p[b.len - 1] == '$';
    }
    if (r < 0)
      break;
    p = close + 1;
  }
  if (r < 0 || b.oom) {
    corun_buf_free(&b);
    return -1;
  }
  *out = corun_buf_detach(&b);
  return *out ? 0 : -1;
}
