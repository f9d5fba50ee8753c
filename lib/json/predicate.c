/* SPDX-License-Identifier: MIT */
#include "json/predicate.h"

#include <stdlib.h>
#include <string.h>

#include "util/regex.h"
#include "util/suggest.h"
#include "json/write.h"

enum op {
  OP_EQUALS,
  OP_NOT_EQUALS,
  OP_CONTAINS,
  OP_NOT_CONTAINS,
  OP_MATCHES,
  OP_EXISTS,
  OP_LT,
  OP_LE,
  OP_GT,
  OP_GE,
  OP_TYPE,
  OP_COUNT
};

/* In enum op's order; NULL-terminated for corun_suggest(). */
static const char *const op_names[] = {
    "equals", "not_equals", "contains", "not_contains", "matches", "exists",
    "lt",     "le",         "gt",       "ge",           "type",    "count",
    NULL};

static const struct {
  const char *name;
  int type;
} type_names[] = {{"string", cJSON_String}, {"number", cJSON_Number},
                  {"boolean", cJSON_True | cJSON_False}, {"null", cJSON_NULL},
                  {"array", cJSON_Array},   {"object", cJSON_Object}};

struct corun_pred {
  enum op op;
  int shorthand; /* written as a bare scalar */
  cJSON *arg;    /* the operand, for the operators that compare with it */
  regex_t re;
  int have_re;
  int type; /* OP_TYPE: cJSON type bits */
  const char *type_name;
  struct corun_pred *inner; /* OP_COUNT */
};

/* cJSON's type without its flag bits (string references, our marks). */
static int type_of(const cJSON *v)
{
  return v ? v->type & 0xff : cJSON_NULL;
}

static int is_scalar(const cJSON *v)
{
  return type_of(v) != cJSON_Array && type_of(v) != cJSON_Object;
}

static int compile(const cJSON *spec, struct corun_pred *p,
                   struct corun_buf *why, const cJSON **bad)
{
  const cJSON *arg;
  char hint[CORUN_HINT_MAX];
  size_t i;

  *bad = spec;
  if (is_scalar(spec)) {
    p->op = OP_EQUALS;
    p->shorthand = 1;
    return (p->arg = cJSON_Duplicate(spec, 1)) ? 0 : -1;
  }
  if (type_of(spec) == cJSON_Array) {
    corun_buf_puts(why, "must be a JSON scalar or an object with one "
                        "operator, not an array");
    return -1;
  }
  if (spec->child == NULL || spec->child->next) {
    corun_buf_printf(why, "must have exactly one operator (%s), not %d",
                     "equals, not_equals, contains, not_contains, matches, "
                     "exists, lt, le, gt, ge, type, count",
                     cJSON_GetArraySize(spec));
    return -1;
  }
  arg = spec->child;
  *bad = arg;
  for (i = 0; op_names[i]; i++)
    if (strcmp(arg->string, op_names[i]) == 0)
      break;
  if (op_names[i] == NULL) {
    corun_buf_printf(why, "has unknown operator \"%s\"%s", arg->string,
                     corun_did_you_mean(hint, arg->string, op_names,
                                        (size_t)-1, NULL));
    return -1;
  }
  p->op = (enum op)i;
  switch (p->op) {
  case OP_EQUALS:
  case OP_NOT_EQUALS:
  case OP_CONTAINS:
  case OP_NOT_CONTAINS:
    break;
  case OP_MATCHES:
    if (type_of(arg) != cJSON_String) {
      corun_buf_puts(why, "has \"matches\" without a string (a POSIX "
                          "extended regular expression)");
      return -1;
    }
    {
      struct corun_buf re_why = CORUN_BUF_INIT;

      if (corun__regex_compile(&p->re, arg->valuestring, REG_NOSUB,
                               &re_why) != 0) {
        corun_buf_printf(why, "has \"matches\" with an invalid regular "
                              "expression: %s",
                         corun_buf_str(&re_why));
        corun_buf_free(&re_why);
        return -1;
      }
      p->have_re = 1;
    }
    break;
  case OP_EXISTS:
    if (!cJSON_IsBool(arg)) {
      corun_buf_puts(why, "has \"exists\" without true or false");
      return -1;
    }
    break;
  case OP_LT:
  case OP_LE:
  case OP_GT:
  case OP_GE:
    if (type_of(arg) != cJSON_Number) {
      corun_buf_printf(why, "has \"%s\" without a number", op_names[p->op]);
      return -1;
    }
    break;
  case OP_TYPE:
    for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
      if (cJSON_IsString(arg) &&
          strcmp(arg->valuestring, type_names[i].name) == 0)
        break;
    if (i == sizeof(type_names) / sizeof(type_names[0])) {
      corun_buf_puts(why, "has \"type\" without one of \"string\", "
                          "\"number\", \"boolean\", \"null\", \"array\", "
                          "\"object\"");
      return -1;
    }
    p->type = type_names[i].type;
    p->type_name = type_names[i].name;
    return 0;
  case OP_COUNT:
    if ((p->inner = calloc(1, sizeof(*p->inner))) == NULL)
      return -1;
    return compile(arg, p->inner, why, bad);
  }
  return (p->arg = cJSON_Duplicate(arg, 1)) ? 0 : -1;
}

int corun__pred_wants_number(const struct corun_pred *p)
{
  switch (p->op) {
  case OP_LT:
  case OP_LE:
  case OP_GT:
  case OP_GE:
    return 1;
  case OP_EQUALS:
  case OP_NOT_EQUALS:
    return type_of(p->arg) == cJSON_Number;
  default:
    return 0;
  }
}

/* What a JSON value is, as a phrase: "a number", "an array". */
static const char *a_type(const cJSON *v)
{
  switch (type_of(v)) {
  case cJSON_Number:
    return "a number";
  case cJSON_String:
    return "a string";
  case cJSON_True:
  case cJSON_False:
    return "a boolean";
  case cJSON_Array:
    return "an array";
  case cJSON_Object:
    return "an object";
  default:
    return "null";
  }
}

/* "is a boolean" (written bare) or "has \"equals\" with a boolean". */
static void what_with(struct corun_buf *why, const struct corun_pred *p)
{
  if (p->shorthand)
    corun_buf_printf(why, "is %s", a_type(p->arg));
  else
    corun_buf_printf(why, "has \"%s\" with %s", op_names[p->op],
                     a_type(p->arg));
}

int corun__pred_fits(const struct corun_pred *p, enum corun_pred_on on,
                     struct corun_buf *why)
{
  const char *op = op_names[p->op];
  int t = type_of(p->arg);

  if (on == CORUN_PRED_TEXT) {
    switch (p->op) {
    case OP_CONTAINS:
    case OP_NOT_CONTAINS:
      if (t == cJSON_String)
        return 0;
      corun_buf_printf(why, "has \"%s\" with %s: the value is text, so "
                            "write what it holds as a string",
                       op, a_type(p->arg));
      return -1;
    case OP_EQUALS:
    case OP_NOT_EQUALS:
      if (t == cJSON_String || t == cJSON_Number || t == cJSON_NULL)
        return 0;
      what_with(why, p);
      corun_buf_puts(why, ": the value is text (or a number written as "
                          "text)");
      return -1;
    case OP_COUNT:
      return corun__pred_fits(p->inner, CORUN_PRED_NUMBER, why);
    case OP_TYPE:
      if (p->type == cJSON_String || p->type == cJSON_NULL)
        return 0;
      corun_buf_printf(why, "has \"type\" \"%s\": the value is text (or "
                            "null, for a header the response lacks)",
                       p->type_name);
      return -1;
    default:
      return 0;
    }
  }
  switch (p->op) {
  case OP_CONTAINS:
  case OP_NOT_CONTAINS:
  case OP_MATCHES:
  case OP_COUNT:
    corun_buf_printf(why, "has \"%s\": the value is a number, and \"%s\" "
                          "is for text, arrays and objects",
                     op, op);
    return -1;
  case OP_EQUALS:
  case OP_NOT_EQUALS:
    if (t == cJSON_Number)
      return 0;
    what_with(why, p);
    corun_buf_puts(why, ": the value is a number");
    return -1;
  case OP_TYPE:
    if (p->type == cJSON_Number)
      return 0;
    corun_buf_printf(why, "has \"type\" \"%s\": the value is a number",
                     p->type_name);
    return -1;
  default:
    return 0;
  }
}

int corun__pred_compile(const cJSON *spec, struct corun_pred **out,
                        struct corun_buf *why, const cJSON **bad)
{
  struct corun_pred *p = calloc(1, sizeof(*p));

  *out = NULL;
  *bad = spec;
  if (p == NULL) {
    corun_buf_puts(why, "could not be kept: out of memory");
    return -1;
  }
  if (compile(spec, p, why, bad) < 0) {
    if (why->len == 0)
      corun_buf_puts(why, "could not be kept: out of memory");
    corun__pred_free(p);
    return -1;
  }
  *out = p;
  return 0;
}

/* Equality as the job means it: an absent value is null. */
static int equal(const cJSON *v, const cJSON *arg)
{
  if (v == NULL)
    return type_of(arg) == cJSON_NULL;
  return corun__json_equal(v, arg);
}

static int contains(const cJSON *v, const cJSON *arg)
{
  const cJSON *it;

  if (type_of(v) == cJSON_String && type_of(arg) == cJSON_String)
    return strstr(v->valuestring, arg->valuestring) != NULL;
  if (type_of(v) == cJSON_Array)
    for (it = v->child; it; it = it->next)
      if (corun__json_equal(it, arg))
        return 1;
  return 0;
}

/* Code points of a UTF-8 string: what a person counts as its length. */
static double utf8_length(const char *s)
{
  double n = 0;

  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      n++;
  return n;
}

int corun__pred_test(const struct corun_pred *p, const cJSON *v)
{
  switch (p->op) {
  case OP_EQUALS:
    return equal(v, p->arg);
  case OP_NOT_EQUALS:
    return !equal(v, p->arg);
  case OP_CONTAINS:
    return v && contains(v, p->arg);
  case OP_NOT_CONTAINS:
    return !(v && contains(v, p->arg));
  case OP_MATCHES:
    return type_of(v) == cJSON_String &&
           regexec(&p->re, v->valuestring, 0, NULL, 0) == 0;
  case OP_EXISTS:
    return (v != NULL) == cJSON_IsTrue(p->arg);
  case OP_LT:
    return type_of(v) == cJSON_Number && v->valuedouble < p->arg->valuedouble;
  case OP_LE:
    return type_of(v) == cJSON_Number && v->valuedouble <= p->arg->valuedouble;
  case OP_GT:
    return type_of(v) == cJSON_Number && v->valuedouble > p->arg->valuedouble;
  case OP_GE:
    return type_of(v) == cJSON_Number && v->valuedouble >= p->arg->valuedouble;
  case OP_TYPE:
    return (type_of(v) & p->type) != 0;
  case OP_COUNT: {
    cJSON n;

    memset(&n, 0, sizeof(n));
    n.type = cJSON_Number;
    if (type_of(v) == cJSON_Array || type_of(v) == cJSON_Object)
      n.valuedouble = cJSON_GetArraySize(v);
    else if (type_of(v) == cJSON_String)
      n.valuedouble = utf8_length(v->valuestring);
    else
      return 0;
    n.valueint = (int)n.valuedouble;
    return corun__pred_test(p->inner, &n);
  }
  }
  return 0;
}

int corun__pred_wants_absent(const struct corun_pred *p)
{
  return p->op == OP_EXISTS && cJSON_IsFalse(p->arg);
}

/*
 * The bytes of s's first max characters: a UTF-8 lead byte takes the
 * continuation bytes it announces, and no more; any other byte (a stray
 * continuation byte of a binary body) counts as a character of its own,
 * so no more than 4 * max bytes are ever kept.
 */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
  size_t i = 0, chars;

  for (chars = 0; chars < max && i < len; chars++) {
    unsigned char c = (unsigned char)s[i++];
    int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;

    while (more-- > 0 && i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
      i++;
  }
  return i;
}

static void show_string(const char *s, size_t max, struct corun_buf *out)
{
  size_t len = strlen(s), keep = utf8_cut(s, len, max), i;

  corun_buf_putc(out, '"');
  for (i = 0; i < keep; i++) {
    unsigned char ch = (unsigned char)s[i];

    if (ch == '"' || ch == '\\')
      corun_buf_printf(out, "\\%c", ch);
    else if (ch == '\n')
      corun_buf_puts(out, "\\n");
    else if (ch == '\r')
      corun_buf_puts(out, "\\r");
    else if (ch == '\t')
      corun_buf_puts(out, "\\t");
    else if (ch < 0x20 || ch == 0x7f)
      corun_buf_printf(out, "\\u%04x", ch);
    else
      corun_buf_putc(out, (char)ch);
  }
  corun_buf_putc(out, '"');
  if (keep < len)
    corun_buf_puts(out, "...");
}

void corun__pred_show(const cJSON *v, size_t max, struct corun_buf *out)
{
  char *text;
  size_t len;

  if (v == NULL) {
    corun_buf_puts(out, "nothing");
    return;
  }
  if (type_of(v) == cJSON_String) {
    show_string(v->valuestring, max, out);
    return;
  }
  text = corun__json_print(v);
  if (text == NULL) {
    corun_buf_puts(out, "(out of memory)");
    return;
  }
  len = strlen(text);
  max = utf8_cut(text, len, max);
  corun_buf_add(out, text, max);
  if (max < len)
    corun_buf_puts(out, "...");
  free(text);
}

void corun__pred_describe(const struct corun_pred *p, struct corun_buf *out)
{
  if (p->shorthand) {
    corun__pred_show(p->arg, 200, out);
    return;
  }
  corun_buf_printf(out, "%s ", op_names[p->op]);
  if (p->op == OP_TYPE)
    corun_buf_puts(out, p->type_name);
  else if (p->op == OP_COUNT)
    corun__pred_describe(p->inner, out);
  else
    corun__pred_show(p->arg, 200, out);
}

void corun__pred_free(struct corun_pred *p)
{
  if (p == NULL)
    return;
  cJSON_Delete(p->arg);
  if (p->have_re)
    regfree(&p->re);
  corun__pred_free(p->inner);
  free(p);
}

/* ---- JSON Pointer ---- */

int corun__pointer_valid(const char *ptr, struct corun_buf *why)
{
  const char *s;

  if (*ptr && *ptr != '/') {
    corun_buf_printf(why, "\"%s\" is not a JSON Pointer: it must be \"\" "
                          "or start with \"/\"",
                     ptr);
    return 0;
  }
  for (s = ptr; *s; s++)
    if (*s == '~' && s[1] != '0' && s[1] != '1') {
      corun_buf_printf(why, "\"%s\" is not a JSON Pointer: \"~\" must be "
                            "followed by 0 or 1 (\"~0\" is \"~\", \"~1\" "
                            "is \"/\")",
                       ptr);
      return 0;
    }
  return 1;
}

/* The next reference token of ptr (after its '/'), unescaped, in tok. */
static const char *next_token(const char *ptr, struct corun_buf *tok)
{
  corun_buf_reset(tok);
  for (ptr++; *ptr && *ptr != '/'; ptr++) {
    if (*ptr == '~' && (ptr[1] == '0' || ptr[1] == '1')) {
      corun_buf_putc(tok, ptr[1] == '0' ? '~' : '/');
      ptr++;
    } else {
      corun_buf_putc(tok, *ptr);
    }
  }
  return ptr;
}

static const cJSON *array_item(const cJSON *arr, const char *tok)
{
  const char *s;
  long idx = 0;
  const cJSON *it;

  /* A decimal index without leading zeros; "-" (past the end) is none. */
  if (*tok == '\0' || (tok[0] == '0' && tok[1] != '\0'))
    return NULL;
  for (s = tok; *s; s++) {
    if (*s < '0' || *s > '9' || idx > 100000000)
      return NULL;
    idx = idx * 10 + (*s - '0');
  }
  for (it = arr->child; it && idx > 0; it = it->next)
    idx--;
  return it;
}

const cJSON *corun__pointer_get(const cJSON *doc, const char *ptr)
{
  struct corun_buf tok = CORUN_BUF_INIT;
  const cJSON *v = doc;

  while (v && *ptr == '/') {
    ptr = next_token(ptr, &tok);
    if (tok.oom) {
      v = NULL;
    } else if (type_of(v) == cJSON_Object) {
      const cJSON *it;

      for (it = v->child; it; it = it->next)
        if (it->string && strcmp(it->string, corun_buf_str(&tok)) == 0)
          break;
      v = it;
    } else if (type_of(v) == cJSON_Array) {
      v = array_item(v, corun_buf_str(&tok));
    } else {
      v = NULL;
    }
  }
  corun_buf_free(&tok);
  return *ptr ? NULL : v;
}
