/* SPDX-License-Identifier: MIT */
/*
 * ${...} templates and secrets (lib/json/template.h), without a job around them:
 * what expands to what, which names are errors, and that every value taken
 * from the environment is redacted from output.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/template.h"

/* Chosen so no real environment has them; the tests set them themselves. */
#define ENV_SET "CORUN_TT_SET_VAR"
#define ENV_UNSET "CORUN_TT_SURELY_UNSET_VAR_83F1"
#define ENV_EMPTY "CORUN_TT_EMPTY_VAR"

static void setup(void)
{
  setenv(ENV_SET, "s3cret-value", 1);
  setenv(ENV_EMPTY, "", 1);
  unsetenv(ENV_UNSET);
}

TestSuite(template, .init = setup, .timeout = 10);

static cJSON *vars_of(const char *json)
{
  cJSON *v = cJSON_Parse(json);

  cr_assert_not_null(v);
  return v;
}

/* Expands in, which must succeed; returns the result (free it). */
static char *expand_ok(const struct corun_template_ctx *ctx, const char *in)
{
  char *out = NULL, *err = NULL;

  cr_assert_eq(corun_template_expand(ctx, in, &out, &err), 0,
               "\"%s\" failed: %s", in, err ? err : "(no message)");
  cr_assert_null(err);
  cr_assert_not_null(out);
  return out;
}

/* Expands in, which must fail; returns the message (free it). */
static char *expand_err(const struct corun_template_ctx *ctx, const char *in)
{
  char *out = (char *)"unset", *err = NULL;

  cr_assert_eq(corun_template_expand(ctx, in, &out, &err), -1,
               "\"%s\" expanded to \"%s\"", in, out ? out : "(null)");
  cr_assert_null(out);
  cr_assert_not_null(err, "no message for \"%s\"", in);
  return err;
}

#define assert_expands(ctx, in, want)                                          \
  do {                                                                         \
    char *o_ = expand_ok((ctx), (in));                                         \
    cr_expect_str_eq(o_, (want), "for \"%s\"", (in));                          \
    free(o_);                                                                  \
  } while (0)

#define assert_fails(ctx, in, want)                                            \
  do {                                                                         \
    char *e_ = expand_err((ctx), (in));                                        \
    cr_expect_str_eq(e_, (want), "for \"%s\"", (in));                          \
    free(e_);                                                                  \
  } while (0)

Test(template, has)
{
  cr_assert(corun_template_has("a ${b} c"));
  cr_assert(corun_template_has("$${"));
  cr_assert_not(corun_template_has("no templates $ here {}"));
  cr_assert_not(corun_template_has(""));
}

Test(template, text_without_templates_is_unchanged)
{
  struct corun_template_ctx ctx = {0};

  assert_expands(&ctx, "", "");
  assert_expands(&ctx, "plain", "plain");
  assert_expands(&ctx, "costs $5 {x} $", "costs $5 {x} $");
  assert_expands(&ctx, "$$ and $", "$$ and $");
}

Test(template, variables)
{
  cJSON *vars = vars_of("{\"who\": \"World\", \"n\": \"3\", \"e\": \"\"}");
  struct corun_template_ctx ctx = {.vars = vars};

  assert_expands(&ctx, "${who}", "World");
  assert_expands(&ctx, "Hello, ${who}!", "Hello, World!");
  assert_expands(&ctx, "${n}${n}-${who}", "33-World");
  assert_expands(&ctx, "[${e}]", "[]");
  cJSON_Delete(vars);
}

Test(template, values_are_not_expanded_again)
{
  /* A value that looks like a template is data, not a second template. */
  cJSON *vars = vars_of("{\"a\": \"${b}\", \"b\": \"B\"}");
  struct corun_template_ctx ctx = {.vars = vars};

  assert_expands(&ctx, "${a}", "${b}");
  cJSON_Delete(vars);
}

Test(template, names_are_case_sensitive)
{
  cJSON *vars = vars_of("{\"Who\": \"x\"}");
  struct corun_template_ctx ctx = {.vars = vars};

  assert_fails(&ctx, "${who}",
               "unknown variable \"${who}\" (did you mean \"${Who}\"?)");
  cJSON_Delete(vars);
}

Test(template, unknown_variable)
{
  cJSON *vars = vars_of("{\"region\": \"eu\"}");
  struct corun_template_ctx ctx = {.vars = vars};
  struct corun_template_ctx none = {0};

  assert_fails(&ctx, "${regoin}",
               "unknown variable \"${regoin}\" (did you mean \"${region}\"?)");
  assert_fails(&ctx, "x ${zzzzzzzz} y", "unknown variable \"${zzzzzzzz}\"");
  assert_fails(&none, "${region}",
               "unknown variable \"${region}\" (the job has no \"vars\")");
  cJSON_Delete(vars);
}

Test(template, literal_dollar_brace)
{
  cJSON *vars = vars_of("{\"a\": \"A\"}");
  struct corun_template_ctx ctx = {.vars = vars};

  assert_expands(&ctx, "$${a}", "${a}");
  assert_expands(&ctx, "$${a} is ${a}", "${a} is A");
  assert_expands(&ctx, "$${", "${");
  /* "$${" needs no variable to exist and never fails. */
  assert_expands(&ctx, "$${nope}", "${nope}");
  cJSON_Delete(vars);
}

Test(template, malformed)
{
  struct corun_template_ctx ctx = {0};

  assert_fails(&ctx, "a ${b",
               "unterminated \"${\" in \"a ${b\" (write $${ for a literal)");
  assert_fails(&ctx, "${}", "empty template \"${}\"");
}

Test(template, env)
{
  struct corun_secrets sec = {0};
  struct corun_template_ctx ctx = {.secrets = &sec};

  assert_expands(&ctx, "key=${env:" ENV_SET "}", "key=s3cret-value");
  corun_secrets_free(&sec);
}

Test(template, env_unset_is_an_error)
{
  struct corun_template_ctx ctx = {0};

  assert_fails(&ctx, "${env:" ENV_UNSET "}",
               "environment variable " ENV_UNSET
               " is not set (use ${env:" ENV_UNSET
               ":-default} for a fallback)");
}

Test(template, env_fallback)
{
  struct corun_secrets sec = {0};
  struct corun_template_ctx ctx = {.secrets = &sec};

  assert_expands(&ctx, "${env:" ENV_UNSET ":-fallback}", "fallback");
  assert_expands(&ctx, "<${env:" ENV_UNSET ":-}>", "<>");
  assert_expands(&ctx, "${env:" ENV_UNSET ":-a b:-c}", "a b:-c");
  /* A set variable wins over its fallback. */
  assert_expands(&ctx, "${env:" ENV_SET ":-fallback}", "s3cret-value");
  /* The fallback is written in the file: not a secret. */
  cr_assert_eq(sec.n, 1);
  cr_assert_str_eq(sec.v[0], "s3cret-value");
  corun_secrets_free(&sec);
}

Test(template, env_set_but_empty)
{
  /* Set to "" is set: the contract uses the fallback only when unset. */
  struct corun_secrets sec = {0};
  struct corun_template_ctx ctx = {.secrets = &sec};

  assert_expands(&ctx, "<${env:" ENV_EMPTY "}>", "<>");
  assert_expands(&ctx, "<${env:" ENV_EMPTY ":-fb}>", "<>");
  /* "" is no secret: redacting it would be meaningless. */
  cr_assert_eq(sec.n, 0);
  corun_secrets_free(&sec);
}

Test(template, env_bad_names)
{
  struct corun_template_ctx ctx = {0};

  assert_fails(&ctx, "${env:}",
               "\"${env:}\" is not a valid environment variable name");
  assert_fails(&ctx, "${env:1X}",
               "\"${env:1X}\" is not a valid environment variable name");
  assert_fails(&ctx, "${env:A-B}",
               "\"${env:A-B}\" is not a valid environment variable name");
}

Test(template, env_values_become_secrets)
{
  struct corun_secrets sec = {0};
  struct corun_template_ctx ctx = {.secrets = &sec};
  struct corun_buf b = CORUN_BUF_INIT;
  char *out =
      expand_ok(&ctx, "token ${env:" ENV_SET "} and ${env:" ENV_SET "}");

  cr_assert_str_eq(out, "token s3cret-value and s3cret-value");
  /* The same value twice is one secret. */
  cr_assert_eq(sec.n, 1);
  corun_secrets_redact(&sec, out, strlen(out), &b);
  cr_assert_str_eq(corun_buf_str(&b), "token *** and ***");
  corun_buf_free(&b);
  free(out);
  corun_secrets_free(&sec);
}

Test(template, env_only_context_for_vars_values)
{
  cJSON *vars = vars_of("{\"a\": \"A\"}");
  struct corun_secrets sec = {0};
  struct corun_template_ctx ctx = {
      .vars = vars, .env_only = 1, .secrets = &sec};

  assert_expands(&ctx, "${env:" ENV_SET "}", "s3cret-value");
  assert_expands(&ctx, "$${a}", "${a}");
  assert_fails(&ctx, "${a}",
               "\"${a}\": a variable's value may only use ${env:...}, not "
               "other variables");
  cJSON_Delete(vars);
  corun_secrets_free(&sec);
}

Test(template, secrets_add_keeps_longest_first)
{
  struct corun_secrets sec = {0};
  size_t i;

  cr_assert_eq(corun_secrets_add(&sec, "ab"), 0);
  cr_assert_eq(corun_secrets_add(&sec, "abcdef"), 0);
  cr_assert_eq(corun_secrets_add(&sec, ""), 0);
  cr_assert_eq(corun_secrets_add(&sec, "abcd"), 0);
  cr_assert_eq(corun_secrets_add(&sec, "ab"), 0);
  for (i = 0; i < 10; i++) {
    char s[16];

    snprintf(s, sizeof(s), "x%zu", i);
    cr_assert_eq(corun_secrets_add(&sec, s), 0);
  }
  cr_assert_eq(sec.n, 13);
  for (i = 1; i < sec.n; i++)
    cr_assert_geq(strlen(sec.v[i - 1]), strlen(sec.v[i]), "%s before %s",
                  sec.v[i - 1], sec.v[i]);
  cr_assert_str_eq(sec.v[0], "abcdef");
  corun_secrets_free(&sec);
  cr_assert_eq(sec.n, 0);
  cr_assert_null(sec.v);
}

Test(template, secrets_add_copies)
{
  struct corun_secrets sec = {0};
  struct corun_buf b = CORUN_BUF_INIT;
  char s[] = "hunter2";

  corun_secrets_add(&sec, s);
  strcpy(s, "changed");
  corun_secrets_redact(&sec, "pw hunter2", 10, &b);
  cr_assert_str_eq(corun_buf_str(&b), "pw ***");
  corun_buf_free(&b);
  corun_secrets_free(&sec);
}

#define assert_redacts(sec, in, want)                                          \
  do {                                                                         \
    struct corun_buf b_ = CORUN_BUF_INIT;                                      \
    corun_secrets_redact((sec), (in), strlen(in), &b_);                        \
    cr_expect_str_eq(corun_buf_str(&b_), (want), "for \"%s\"", (in));          \
    corun_buf_free(&b_);                                                       \
  } while (0)

Test(template, redact)
{
  struct corun_secrets sec = {0};

  corun_secrets_add(&sec, "pass");
  corun_secrets_add(&sec, "passphrase");
  /* A secret inside a longer one must not leave the rest showing. */
  assert_redacts(&sec, "passphrase", "***");
  assert_redacts(&sec, "a pass, a passphrase.", "a ***, a ***.");
  assert_redacts(&sec, "passpass", "******");
  assert_redacts(&sec, "pas", "pas");
  assert_redacts(&sec, "", "");
  assert_redacts(&sec, "nothing here", "nothing here");
  assert_redacts(&sec, "pass at the end: pass", "*** at the end: ***");
  corun_secrets_free(&sec);
}

Test(template, redact_without_secrets_copies)
{
  struct corun_secrets sec = {0};
  struct corun_buf b = CORUN_BUF_INIT;

  assert_redacts(&sec, "as is", "as is");
  corun_secrets_redact(NULL, "no table", 8, &b);
  cr_assert_str_eq(corun_buf_str(&b), "no table");
  corun_buf_free(&b);
}

Test(template, redact_respects_length)
{
  /* Only n bytes are read: a secret beyond them is not there. */
  struct corun_secrets sec = {0};
  struct corun_buf b = CORUN_BUF_INIT;

  corun_secrets_add(&sec, "secret");
  corun_secrets_redact(&sec, "a secret", 5, &b);
  cr_assert_str_eq(corun_buf_str(&b), "a sec");
  corun_buf_reset(&b);
  /* Appends, as reporters build their output piece by piece. */
  corun_buf_puts(&b, "x=");
  corun_secrets_redact(&sec, "secret!", 7, &b);
  cr_assert_str_eq(corun_buf_str(&b), "x=***!");
  corun_buf_free(&b);
  corun_secrets_free(&sec);
}

/* --- where secrets went in, and what output shows ------------------------ */

static void expand_into(struct corun_secrets *sec, const cJSON *vars,
                        int defer, const char *in)
{
  struct corun_template_ctx ctx = {.secrets = sec, .vars = vars,
                                   .defer_item = defer};

  free(expand_ok(&ctx, in));
}

/*
 * A secret of 1 to 3 characters is hidden where it was substituted (the
 * field's text, wherever it is echoed), not wherever its text happens to
 * be: "0" must not turn "HTTP 200" into "HTTP 2***" nor a port into
 * "386***1".
 */
Test(template, short_secret_hidden_where_substituted_only)
{
  struct corun_secrets sec = {0};

  setenv("CORUN_TT_SHORT", "0", 1);
  expand_into(&sec, NULL, 0, "http://127.0.0.1:38601/?t=${env:CORUN_TT_SHORT}");
  expand_into(&sec, NULL, 0, "${env:CORUN_TT_SHORT}");
  assert_redacts(&sec, "HTTP 200 from http://127.0.0.1:38601/?t=0",
                 "HTTP 200 from http://127.0.0.1:38601/?t=***");
  assert_redacts(&sec, "port 38601, 100%", "port 38601, 100%");
  /* A field made of the secret alone is hidden only as a whole string. */
  assert_redacts(&sec, "0", "***");
  assert_redacts(&sec, "10", "10");
  assert_redacts(&sec, "0 ok", "0 ok");
  corun_secrets_free(&sec);
  unsetenv("CORUN_TT_SHORT");
}

Test(template, short_secret_through_a_variable)
{
  struct corun_secrets sec = {0};
  cJSON *vars;
  struct corun_template_ctx vctx = {.secrets = &sec, .env_only = 1};
  char *v;

  setenv("CORUN_TT_SHORT", "ab", 1);
  v = expand_ok(&vctx, "${env:CORUN_TT_SHORT}");
  vars = cJSON_CreateObject();
  cJSON_AddStringToObject(vars, "k", v);
  free(v);
  expand_into(&sec, vars, 0, "https://host.test/x?key=${k}&page=2");
  assert_redacts(&sec, "GET https://host.test/x?key=ab&page=2 failed",
                 "GET https://host.test/x?key=***&page=2 failed");
  assert_redacts(&sec, "tab stab", "tab stab");
  cJSON_Delete(vars);
  corun_secrets_free(&sec);
  unsetenv("CORUN_TT_SHORT");
}

/* In a pipeline stage's task the item goes in later: any item matches. */
Test(template, short_secret_in_a_stage_task_with_any_item)
{
  struct corun_secrets sec = {0};

  setenv("CORUN_TT_SHORT", "7", 1);
  expand_into(&sec, NULL, 1,
              "http://h.test/${env:CORUN_TT_SHORT}/${item}/end?$${x}");
  assert_redacts(&sec, "HTTP 404 from http://h.test/7/42/end?${x}",
                 "HTTP 404 from http://h.test/***/42/end?${x}");
  assert_redacts(&sec, "http://h.test/7//end?${x} and 7",
                 "http://h.test/***//end?${x} and 7");
  /* A secret holding "${" is kept escaped for the run, matched as it runs. */
  setenv("CORUN_TT_SHORT", "${", 1);
  expand_into(&sec, NULL, 1, "u/${env:CORUN_TT_SHORT}/${item}");
  assert_redacts(&sec, "u/${/5", "u/***/5");
  /* A hole stays on one line. */
  assert_redacts(&sec, "http://h.test/7/4\n2/end?${x}",
                 "http://h.test/7/4\n2/end?${x}");
  corun_secrets_free(&sec);
  unsetenv("CORUN_TT_SHORT");
}

/* curl writes URLs percent-encoded and some messages decoded. */
Test(template, long_secret_found_encoded_and_decoded)
{
  struct corun_secrets sec = {0};

  corun_secrets_add(&sec, "pa ss/w\xc3\xb6rd");
  corun_secrets_add(&sec, "key%41b");
  assert_redacts(&sec, "u=pa%20ss%2Fw%C3%B6rd&", "u=***&");
  assert_redacts(&sec, "u=pa+ss/w%c3%b6rd&", "u=***&");
  assert_redacts(&sec, "u=pa%20ss/w\xc3\xb6rd", "u=***");
  assert_redacts(&sec, "k=keyAb k=key%41b k=key%2541b", "k=*** k=*** k=***");
  assert_redacts(&sec, "pa ss/wo", "pa ss/wo");
  corun_secrets_free(&sec);
}

/* Text cut short must not show the start of a secret. */
Test(template, cut_text_hides_a_secret_s_start)
{
  struct corun_secrets sec = {0};
  struct corun_buf b = CORUN_BUF_INIT;
  const char *msg = "Failed to connect to very-secret-ho";

  corun_secrets_add(&sec, "very-secret-host.example");
  corun_secrets_redact_cut(&sec, msg, strlen(msg), &b);
  cr_assert_str_eq(corun_buf_str(&b), "Failed to connect to ***");
  corun_buf_reset(&b);
  /* Cut inside a percent-escape of the secret's next byte ('-' is %2D). */
  corun_secrets_redact_cut(&sec, "cut at very%2", 13, &b);
  cr_assert_str_eq(corun_buf_str(&b), "cut at ***");
  corun_buf_reset(&b);
  corun_secrets_redact_cut(&sec, "very-secret-host.example%2", 26, &b);
  cr_assert_str_eq(corun_buf_str(&b), "***%2");
  corun_buf_reset(&b);
  /* Not cut: a common start is just text. */
  corun_secrets_redact(&sec, msg, strlen(msg), &b);
  cr_assert_str_eq(corun_buf_str(&b), msg);
  corun_buf_free(&b);
  corun_secrets_free(&sec);
}
