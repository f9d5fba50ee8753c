/* SPDX-License-Identifier: MIT */
#include "json/template.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "util/suggest.h"

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

/* ---- fields a secret went into ---- */

enum { PC_LIT, PC_SECRET, PC_HOLE };

/* A field's longest run of pieces, and an item hole's longest match. */
#define FIELD_PIECES 64
#define HOLE_MAX 1024

struct piece {
  unsigned char type;
  size_t off, len; /* into the field's text; a hole has none */
};

/*
 * A field's text as pieces: written text, secrets, and (in a pipeline
 * stage's task) holes where the item goes, matching any text of a line.
 */
struct corun_secret_field {
  char *key;  /* the pattern written out, for finding it again */
  char *text; /* the pieces' bytes, in order */
  struct piece *pc; /* npc of them */
  size_t npc;
  size_t fixed; /* bytes of text */
  size_t head;  /* bytes before the first hole */
  uint32_t next; /* 1 + index of the next field with the same hash */
};

static uint32_t head_hash(const char *s)
{
  uint32_t h = 2166136261u;
  int i;

  for (i = 0; i < CORUN_SECRET_MIN; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static int index_field(struct corun_secrets *sec, size_t idx);

/* Rebuild the hash of heads twice as large. Returns 0 or -1. */
static int grow_heads(struct corun_secrets *sec)
{
  size_t n = sec->nheads ? sec->nheads * 2 : 64, i;
  uint32_t *h = calloc(n, sizeof(*h));

  if (h == NULL)
    return -1;
  free(sec->heads);
  sec->heads = h;
  sec->nheads = n;
  sec->nloose = 0;
  for (i = 0; i < sec->nf; i++)
    sec->f[i]->next = 0;
  for (i = 0; i < sec->nf; i++)
    if (index_field(sec, i) < 0)
      return -1;
  return 0;
}

static int index_field(struct corun_secrets *sec, size_t idx)
{
  struct corun_secret_field *f = sec->f[idx];
  uint32_t *slot;

  if (f->head < CORUN_SECRET_MIN) {
    if (sec->nloose == sec->caploose) {
      size_t ncap = sec->caploose ? sec->caploose * 2 : 8;
      uint32_t *nl = realloc(sec->loose, ncap * sizeof(*nl));

      if (nl == NULL)
        return -1;
      sec->loose = nl;
      sec->caploose = ncap;
    }
    sec->loose[sec->nloose++] = (uint32_t)idx;
    return 0;
  }
  slot = &sec->heads[head_hash(f->text) & (sec->nheads - 1)];
  f->next = *slot;
  *slot = (uint32_t)idx + 1;
  return 0;
}

static void field_free(struct corun_secret_field *f)
{
  if (f == NULL)
    return;
  free(f->key);
  free(f->text);
  free(f->pc);
  free(f);
}

/* A span of an expansion's output: a secret, or a kept item name. */
struct span {
  size_t start, end;
  unsigned char type;
};

struct spans {
  struct span *v;
  size_t n, cap;
  int oom;
  int short_secret; /* a secret under CORUN_SECRET_MIN went in */
};

static void span_add(struct spans *sp, size_t start, size_t end, int type)
{
  if (end <= start)
    return;
  if (sp->n == sp->cap) {
    size_t ncap = sp->cap ? sp->cap * 2 : 8;
    struct span *nv = realloc(sp->v, ncap * sizeof(*nv));

    if (nv == NULL) {
      sp->oom = 1;
      return;
    }
    sp->v = nv;
    sp->cap = ncap;
  }
  sp->v[sp->n].start = start;
  sp->v[sp->n].end = end;
  sp->v[sp->n].type = (unsigned char)type;
  sp->n++;
  if (type == PC_SECRET && end - start < CORUN_SECRET_MIN)
    sp->short_secret = 1;
}

static void piece_add(struct corun_secret_field *f, struct corun_buf *text,
                      int type, const char *s, size_t n, int unescape,
                      int *full)
{
  struct piece *last = f->npc ? &f->pc[f->npc - 1] : NULL;
  size_t at = text->len;

  if (type == PC_HOLE) {
    /* A hole first, or after a hole, adds nothing to match on. */
    if (last == NULL || last->type == PC_HOLE)
      return;
  } else if (n == 0) {
    return;
  }
  if (unescape) {
    /* What a stage's task keeps as "$${" is "${" once the item is in. */
    size_t k;

    for (k = 0; k + 3 <= n; k++) {
      if (memcmp(s + k, "$${", 3) != 0)
        continue;
      corun_buf_add(text, s, k + 1);
      corun_buf_putc(text, '{');
      s += k + 3;
      n -= k + 3;
      k = (size_t)-1;
    }
  }
  corun_buf_add(text, s, n);
  if (last && type == PC_LIT && last->type == PC_LIT) {
    last->len += text->len - at;
    return;
  }
  if (f->npc == FIELD_PIECES) {
    *full = 1; /* too many to match: the caller falls back */
    return;
  }
  f->pc[f->npc].type = (unsigned char)type;
  f->pc[f->npc].off = at;
  f->pc[f->npc].len = text->len - at;
  f->npc++;
}

/*
 * Remember where secrets went into a field whose expansion is out, with
 * the spans of secrets and (defer: kept for the item) item names. var:
 * out is a variable's value, which other fields may take in.
 */
static void note_field(struct corun_secrets *sec, const char *out,
                       const struct spans *sp, int defer, int var, int *oom)
{
  struct corun_secret_field *f = calloc(1, sizeof(*f));
  struct corun_buf text = CORUN_BUF_INIT, key = CORUN_BUF_INIT;
  struct piece *fit;
  size_t pos = 0, i;
  void *old = NULL;
  int full = 0;

  if (f == NULL || (f->pc = malloc(FIELD_PIECES * sizeof(*f->pc))) == NULL) {
    free(f);
    *oom = 1;
    return;
  }
  for (i = 0; i < sp->n && !full; i++) {
    piece_add(f, &text, PC_LIT, out + pos, sp->v[i].start - pos, defer, &full);
    piece_add(f, &text, sp->v[i].type, out + sp->v[i].start,
              sp->v[i].type == PC_HOLE ? 0 : sp->v[i].end - sp->v[i].start,
              defer, &full);
    pos = sp->v[i].end;
  }
  if (!full)
    piece_add(f, &text, PC_LIT, out + pos, strlen(out + pos), defer, &full);
  while (f->npc && f->pc[f->npc - 1].type == PC_HOLE)
    f->npc--;
  f->fixed = text.len;
  f->head = text.len;
  for (i = 0; i < f->npc; i++) {
    if (f->pc[i].type == PC_HOLE) {
      f->head = f->pc[i].off;
      break;
    }
  }
  for (i = 0; i < f->npc; i++)
    corun_buf_printf(&key, "%c%zu:%.*s", "LSH"[f->pc[i].type], f->pc[i].len,
                     (int)f->pc[i].len, corun_buf_str(&text) + f->pc[i].off);
  if (full || text.oom || key.oom || f->npc == 0) {
    /* Too many pieces to keep (or none): the text search still runs. */
    *oom = !full && (text.oom || key.oom);
    corun_buf_free(&text);
    corun_buf_free(&key);
    field_free(f);
    return;
  }
  /* Kept for the whole run, maybe for thousands of fields: no slack. */
  if ((fit = realloc(f->pc, f->npc * sizeof(*fit))) != NULL)
    f->pc = fit;
  f->text = corun_buf_detach(&text);
  f->key = corun_buf_detach(&key);
  if (sec->nf == sec->capf) {
    size_t ncap = sec->capf ? sec->capf * 2 : 8;
    struct corun_secret_field **nv = realloc(sec->f, ncap * sizeof(*nv));

    if (nv)
      sec->f = nv, sec->capf = ncap;
  }
  if (var && sec->nvf == sec->capvf) {
    size_t ncap = sec->capvf ? sec->capvf * 2 : 8;
    struct corun_secret_field **nv = realloc(sec->vf, ncap * sizeof(*nv));

    if (nv)
      sec->vf = nv, sec->capvf = ncap;
  }
  if (f->text == NULL || f->key == NULL || sec->nf == sec->capf ||
      (var && sec->nvf == sec->capvf) ||
      corun_strmap_put(&sec->fkeys, f->key, f, &old) != 1) {
    if (old == NULL)
      *oom = 1;
    else if (var)
      sec->vf[sec->nvf++] = old; /* the same text as another field's */
    field_free(f);
    return;
  }
  sec->f[sec->nf++] = f;
  if (var)
    sec->vf[sec->nvf++] = f;
  if ((sec->nf * 2 > sec->nheads ? grow_heads(sec)
                                 : index_field(sec, sec->nf - 1)) < 0)
    *oom = 1;
}

/* The variable's value s as a field with secrets in it, or NULL. */
static const struct corun_secret_field *
var_field(const struct corun_secrets *sec, const char *s)
{
  size_t i;

  for (i = 0; sec && i < sec->nvf; i++)
    if (strcmp(sec->vf[i]->text, s) == 0 && sec->vf[i]->head == sec->vf[i]->fixed)
      return sec->vf[i];
  return NULL;
}

/* ---- finding secrets in output ---- */

/*
 * Whether secret v (vl bytes) starts at s[i]: byte for byte, or with
 * bytes percent-encoded in s (a URL as curl writes it), or with the
 * secret's own %XX decoded in s, or a space as '+'. Returns the end of the
 * match, or 0; *ran_out is set when s ended in what matched so far.
 */
static size_t secret_at(const char *v, size_t vl, const char *s, size_t n,
                        size_t i, int *ran_out)
{
  size_t a = 0, j = i;

  while (a < vl) {
    unsigned char want = (unsigned char)v[a];
    int h1, h2;

    if (j >= n) {
      *ran_out = 1;
      return 0;
    }
    if (want == '%' && a + 2 < vl && (h1 = corun__hexval(v[a + 1])) >= 0 &&
        (h2 = corun__hexval(v[a + 2])) >= 0 && s[j] != '%') {
      if ((unsigned char)s[j] != (unsigned char)(h1 * 16 + h2))
        return 0;
      j++;
      a += 3;
      continue;
    }
    if (s[j] == '%') {
      /* An escape in s, of the byte wanted: whole, or cut after a digit. */
      h1 = j + 1 < n ? corun__hexval(s[j + 1]) : want >> 4;
      h2 = j + 2 < n ? corun__hexval(s[j + 2]) : want & 15;
      if (h1 == want >> 4 && h2 == (want & 15)) {
        if (j + 2 >= n) {
          *ran_out = 1;
          return 0;
        }
        j += 3;
        a++;
        continue;
      }
    }
    if ((unsigned char)s[j] != want && !(want == ' ' && s[j] == '+'))
      return 0;
    j++;
    a++;
  }
  return j;
}

/*
 * Whether field f matches s at i; the holes' text goes to hs/he. Returns
 * the end of the match, or 0.
 */
static size_t field_at(const struct corun_secret_field *f, const char *s,
                       size_t n, size_t i, size_t *hs, size_t *he)
{
  size_t k, p = i;

  for (k = 0; k < f->npc; k++) {
    const struct piece *c = &f->pc[k], *nx;
    size_t q, lim;

    if (c->type != PC_HOLE) {
      if (c->len > n - p || memcmp(s + p, f->text + c->off, c->len) != 0)
        return 0;
      p += c->len;
      continue;
    }
    /* The item is whatever comes before the next piece, on one line. */
    nx = &f->pc[k + 1];
    lim = n - p > HOLE_MAX ? p + HOLE_MAX : n;
    for (q = p; q + nx->len <= lim; q++) {
      if (s[q] == '\n')
        return 0;
      if (memcmp(s + q, f->text + nx->off, nx->len) == 0)
        break;
    }
    if (q + nx->len > lim)
      return 0;
    hs[k] = p;
    he[k] = q;
    p = q;
  }
  return p > i ? p : 0;
}

static void redact(const struct corun_secrets *sec, const char *s, size_t n,
                   struct corun_buf *out, int cut, int fields);

/* The field as shown: its secrets as "***", holes as what filled them. */
static void put_field(const struct corun_secrets *sec,
                      const struct corun_secret_field *f, const char *s,
                      const size_t *hs, const size_t *he,
                      struct corun_buf *out)
{
  size_t k;

  for (k = 0; k < f->npc; k++) {
    const struct piece *c = &f->pc[k];

    if (c->type == PC_SECRET)
      corun_buf_puts(out, "***");
    else if (c->type == PC_HOLE)
      redact(sec, s + hs[k], he[k] - hs[k], out, 0, 0);
    else
      redact(sec, f->text + c->off, c->len, out, 0, 0);
  }
}

/*
 * The longest field that matches at s[i], or NULL; *end is where it
 * ends. A field shorter than CORUN_SECRET_MIN counts only as the whole of
 * s: its text is too common to look for inside other text.
 */
static const struct corun_secret_field *
field_here(const struct corun_secrets *sec, const char *s, size_t n, size_t i,
           size_t *end, size_t *hs, size_t *he)
{
  const struct corun_secret_field *best = NULL;
  size_t ths[FIELD_PIECES], the[FIELD_PIECES], e, k;
  uint32_t at;

  *end = 0;
  for (k = 0; k < sec->nloose + 1; k++) {
    const struct corun_secret_field *f;

    if (k < sec->nloose) {
      f = sec->f[sec->loose[k]];
      at = 0;
    } else {
      if (n - i < CORUN_SECRET_MIN || sec->nheads == 0)
        break;
      at = sec->heads[head_hash(s + i) & (sec->nheads - 1)];
      if (at == 0)
        break;
      f = sec->f[at - 1];
    }
    for (;;) {
      if ((f->fixed >= CORUN_SECRET_MIN || i == 0) &&
          (e = field_at(f, s, n, i, ths, the)) > *end &&
          (f->fixed >= CORUN_SECRET_MIN || e == n)) {
        best = f;
        *end = e;
        memcpy(hs, ths, f->npc * sizeof(*hs));
        memcpy(he, the, f->npc * sizeof(*he));
      }
      if (at == 0 || f->next == 0)
        break;
      at = f->next;
      f = sec->f[at - 1];
    }
  }
  return best;
}

static void redact(const struct corun_secrets *sec, const char *s, size_t n,
                   struct corun_buf *out, int cut, int fields)
{
  size_t i = 0, run = 0, k, hs[FIELD_PIECES], he[FIELD_PIECES];

  if (sec == NULL || sec->n == 0) {
    corun_buf_add(out, s, n);
    return;
  }
  while (i < n) {
    const struct corun_secret_field *f = NULL;
    size_t hit = 0;
    int ran_out = 0;

    if (fields && sec->nf)
      f = field_here(sec, s, n, i, &hit, hs, he);
    if (f) {
      corun_buf_add(out, s + run, i - run);
      put_field(sec, f, s, hs, he, out);
      i = run = hit;
      continue;
    }
    /* Longest first: the rest are too short to look for. */
    for (k = 0; k < sec->n; k++) {
      size_t l = strlen(sec->v[k]);

      if (l < CORUN_SECRET_MIN)
        break;
      if ((hit = secret_at(sec->v[k], l, s, n, i, &ran_out)) > 0)
        break;
    }
    /* Cut text ending in what may be a secret's start (of any length). */
    for (k = 0; cut && !hit && k < sec->n; k++)
      secret_at(sec->v[k], strlen(sec->v[k]), s, n, i, &ran_out);
    if (hit == 0 && !(cut && ran_out)) {
      i++;
      continue;
    }
    corun_buf_add(out, s + run, i - run);
    corun_buf_puts(out, "***");
    i = run = hit ? hit : n;
  }
  corun_buf_add(out, s + run, n - run);
}

void corun_secrets_redact(const struct corun_secrets *sec, const char *s,
                          size_t n, struct corun_buf *out)
{
  redact(sec, s, n, out, 0, 1);
}

void corun_secrets_redact_cut(const struct corun_secrets *sec, const char *s,
                              size_t n, struct corun_buf *out)
{
  redact(sec, s, n, out, 1, 1);
}

void corun_secrets_free(struct corun_secrets *sec)
{
  size_t i;

  for (i = 0; i < sec->n; i++)
    free(sec->v[i]);
  free(sec->v);
  for (i = 0; i < sec->nf; i++)
    field_free(sec->f[i]);
  free(sec->f);
  corun_strmap_free(&sec->fkeys);
  free(sec->heads);
  free(sec->loose);
  free(sec->vf);
  memset(sec, 0, sizeof(*sec));
}

int corun_template_has(const char *s)
{
  return strstr(s, "${") != NULL;
}

int corun_template_in_tree(const cJSON *v)
{
  const cJSON *it;

  if (cJSON_IsString(v))
    return corun_template_has(v->valuestring);
  for (it = v ? v->child : NULL; it; it = it->next)
    if (corun_template_in_tree(it))
      return 1;
  return 0;
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

int corun_template_is_capture(const char *name, size_t *idlen)
{
  const char *dot = strrchr(name, '.'), *p;
  size_t n;

  /* "item.", even malformed ("item..x"), is always about the item. */
  if (dot == NULL || dot == name || strncmp(name, "env:", 4) == 0 ||
      strncmp(name, "item.", 5) == 0)
    return 0;
  n = (size_t)(dot - name);
  if (n > 64 || (n == 3 && memcmp(name, "env", 3) == 0) ||
      (n == 4 && memcmp(name, "item", 4) == 0) ||
      (n == 5 && memcmp(name, "index", 5) == 0))
    return 0;
  for (p = name; p < dot; p++)
    if (!field_char(*p) && *p != '.')
      return 0;
  p = dot + 1;
  if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
    return 0;
  for (; *p; p++)
    if (!field_char(*p) || *p == '-')
      return 0;
  if (idlen)
    *idlen = n;
  return 1;
}

static int ref_kind(const char *name)
{
  if (corun_template_is_item_name(name))
    return CORUN_REF_ITEM;
  if (corun_template_is_capture(name, NULL))
    return CORUN_REF_CAPTURE;
  return 0;
}

size_t corun_template_item_refs(const char *s,
                                void (*cb)(void *arg, const char *name),
                                void *arg)
{
  return corun_template_refs(s, CORUN_REF_ITEM, cb, arg);
}

size_t corun_template_refs(const char *s, int which,
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
      if (ref_kind(nm) & which) {
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
                      struct corun_buf *b, int *secret, char **err)
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
  *secret = 1;
  if (ctx->secrets && corun_secrets_add(ctx->secrets, val) < 0)
    b->oom = 1;
  return 0;
}

static int expand_var(const struct corun_template_ctx *ctx, const char *name,
                      struct corun_buf *b,
                      const struct corun_secret_field **field, char **err)
{
  const cJSON *v = NULL, *it;
  const char *cands[64];
  size_t n = 0;
  const char *hint;
  char text[CORUN_HINT_MAX];

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
      return fail(err, "unknown variable \"${%s}\"%s", name,
                  corun_hint(text, hint, "${", "}"));
    return fail(err, "unknown variable \"${%s}\"%s", name,
                ctx->vars ? "" : " (the job has no \"vars\")");
  }
  if (!cJSON_IsString(v))
    return fail(err, "variable \"%s\" is not a string", name);
  corun_buf_puts(b, v->valuestring);
  *field = var_field(ctx->secrets, v->valuestring);
  return 0;
}

/* Whether the job defines a variable of this name ("a.b" is one too). */
static int is_var(const struct corun_template_ctx *ctx, const char *name)
{
  return ctx->vars && cJSON_GetObjectItemCaseSensitive(ctx->vars, name);
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
  struct spans sp = {0};
  const char *p = in;
  int r = 0;
  /*
   * defer_item: the output ends in a '$' that a value brought in. Next to
   * a '{' or a kept "${item}" it would form a "${" or "$${" the run pass
   * reads differently from what the value meant (found by fuzzing).
   */
  int dollar = 0;
  int defer = ctx->defer_item || ctx->again;

  *out = NULL;
  *err = NULL;
  while (*p) {
    const char *close;
    char *body;
    size_t at;
    int secret;
    const struct corun_secret_field *var;

    if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
      corun_buf_puts(&b, defer ? "$${" : "${");
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
    if (((ctx->defer_item || ctx->item) && corun_template_is_item_name(body)) ||
        ((ctx->keep_captures || ctx->item) &&
         corun_template_is_capture(body, NULL) && !is_var(ctx, body))) {
      if (ctx->item)
        r = ctx->item(ctx->item_arg, body, &b, err);
      else if (dollar && defer)
        /* No spelling of "$" then "${item}" survives the run pass. */
        r = fail(err, "\"${%s}\" follows a value that ends in \"$\", "
                      "which would make it a literal \"${\" when it "
                      "is filled in",
                 body);
      else
        corun_buf_printf(&b, "${%s}", body);
      if (defer && !ctx->item)
        span_add(&sp, at, b.len, PC_HOLE);
      dollar = 0;
      free(body);
      if (r < 0)
        break;
      p = close + 1;
      continue;
    }
    secret = 0;
    var = NULL;
    if (strncmp(body, "env:", 4) == 0)
      r = expand_env(ctx, body + 4, &b, &secret, err);
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
    else if (!ctx->env_only && corun_template_is_capture(body, NULL) &&
             !is_var(ctx, body))
      r = fail(err, "\"${%s}\" is a capture: only a task's fields can use "
                    "one (the task must run after the one that takes it)",
               body);
    else
      r = expand_var(ctx, body, &b, &var, err);
    free(body);
    if (r == 0 && defer) {
      put_escaped(&b, at, dollar);
      if (b.len > at) /* an empty value leaves the '$' before it last */
        dollar = b.p[b.len - 1] == '$';
    }
    if (r == 0 && secret) {
      span_add(&sp, at, b.len, PC_SECRET);
    } else if (r == 0 && var && b.len - at == var->fixed) {
      size_t k;

      for (k = 0; k < var->npc; k++)
        if (var->pc[k].type == PC_SECRET)
          span_add(&sp, at + var->pc[k].off,
                   at + var->pc[k].off + var->pc[k].len, PC_SECRET);
    } else if (r == 0 && var) {
      span_add(&sp, at, b.len, PC_SECRET); /* escaped: all of it, then */
    }
    if (r < 0)
      break;
    p = close + 1;
  }
  if (r < 0 || b.oom || sp.oom) {
    free(sp.v);
    corun_buf_free(&b);
    return -1;
  }
  *out = corun_buf_detach(&b);
  if (*out && ctx->secrets && sp.short_secret) {
    int oom = 0;

    note_field(ctx->secrets, *out, &sp, defer, ctx->env_only,
               &oom);
    if (oom) {
      free(*out);
      *out = NULL;
    }
  }
  free(sp.v);
  return *out ? 0 : -1;
}
