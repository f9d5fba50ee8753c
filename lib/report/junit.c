/* SPDX-License-Identifier: MIT */
/*
 * The JUnit XML report (--junit) for CI test reporters (Jenkins' xUnit and
 * junit steps, GitLab, the GitHub actions and dashboards that read JUnit),
 * in the dialect of the xUnit plugin's junit-10.xsd: one <testsuite> for
 * the job, one <testcase> per leaf task (sleep, fetch, exec, tcp, and a
 * pipeline, or each of its items under "junit": "items"), in the JSON
 * report's order. Containers (gather, wait) are not test cases, so a
 * failure counts once, at the task that failed; a container that failed on
 * its own account (its timeout, say) is one, or nothing would say so.
 *
 *   ok         no child element
 *   failed     <failure type="ERROR-TYPE" message="MSG">MSG</failure>
 *   timeout    <failure type="timeout" message="MSG">MSG</failure>
 *   cancelled  <skipped message="cancelled: MSG"/> (MSG alone when it
 *              already begins with "cancelled")
 *   skipped    <skipped message="MSG"/>
 *
 * A run that was interrupted or stopped by --timeout ends the suite with a
 * test case "corun" holding an <error>, so it never reads as passed.
 *
 * What a command printed goes into the testcase's <system-out> and
 * <system-err>, also when it timed out or was cancelled. Every string is
 * redacted as the JSON report redacts it, then escaped for XML 1.0. XML
 * 1.0 cannot carry most control characters at all, not even as &#N;
 * references, nor bytes that are not UTF-8: those are written as visible
 * text, "\x01", as the summary table writes them.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "corun.h"
#include "report/report.h"
#include "core/common.h"
#include "core/run.h"
#include "core/task.h"

/*
 * How many bytes at s[0..n) form one character XML 1.0 allows, or 0 when
 * s[0] starts none: bytes that are not UTF-8 (overlong forms, surrogates,
 * beyond U+10FFFF, cut sequences) and U+FFFE, U+FFFF. ASCII is the
 * caller's business.
 */
static size_t xml_char_len(const unsigned char *s, size_t n)
{
  size_t bad, len = corun__utf8_seq(s, n, &bad);

  /* U+FFFE and U+FFFF are UTF-8 but not XML characters. */
  if (len == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
    return 0;
  return len;
}

/*
 * Append s[0..n) escaped for XML text (attr 0) or a double-quoted
 * attribute value (attr 1). Tab, newline and carriage return survive: as
 * themselves in text (CR as &#13;, which parsers would otherwise turn
 * into LF), as references in attributes (which parsers would otherwise
 * turn into spaces).
 */
static void xml_escape(struct corun_buf *out, const char *str, size_t n,
                       int attr)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, run = 0;

  while (i < n) {
    unsigned char c = s[i];
    const char *ent = NULL;
    size_t len;
    char hex[8];

    if (c >= 0x80) {
      len = xml_char_len(s + i, n - i);
      if (len) {
        i += len;
        continue;
      }
      snprintf(hex, sizeof(hex), "\\x%02x", c);
      ent = hex;
    } else if (c == '&') {
      ent = "&amp;";
    } else if (c == '<') {
      ent = "&lt;";
    } else if (c == '>') {
      ent = "&gt;";
    } else if (c == '"') {
      ent = "&quot;";
    } else if (c == '\'') {
      ent = "&apos;";
    } else if (c == '\r') {
      ent = "&#13;";
    } else if (c == '\n') {
      ent = attr ? "&#10;" : NULL;
    } else if (c == '\t') {
      ent = attr ? "&#9;" : NULL;
    } else if (c < 0x20) {
      snprintf(hex, sizeof(hex), "\\x%02x", c);
      ent = hex;
    }
    if (ent == NULL) {
      i++;
      continue;
    }
    corun_buf_add(out, s + run, i - run);
    corun_buf_puts(out, ent);
    run = ++i;
  }
  corun_buf_add(out, s + run, n - run);
}

/* s with the job's secrets shown as "***", escaped for XML. */
static void put_str(struct corun_buf *out, const char *s, size_t n,
                    const struct corun_secrets *sec, int attr)
{
  struct corun_buf r = CORUN_BUF_INIT;

  if (sec == NULL || sec->n == 0) {
    xml_escape(out, s, n, attr);
    return;
  }
  corun_secrets_redact(sec, s, n, &r);
  xml_escape(out, corun_buf_str(&r), r.len, attr);
  /* A message cut short here would leave the report looking complete. */
  if (r.oom)
    out->oom = 1;
  corun_buf_free(&r);
}

/* ' name="VALUE"', VALUE redacted and escaped. */
static void put_attr(struct corun_buf *out, const char *name, const char *v,
                     const struct corun_secrets *sec)
{
  corun_buf_printf(out, " %s=\"", name);
  put_str(out, v, strlen(v), sec, 1);
  corun_buf_putc(out, '"');
}

/* Whole milliseconds, as in the JSON report, so times add up the same. */
static uint64_t ms_of(uint64_t ns)
{
  return (ns + 500000) / 1000000;
}

static void put_ms(struct corun_buf *out, uint64_t ms)
{
  corun_buf_printf(out, "%llu.%03llu", (unsigned long long)(ms / 1000),
                   (unsigned long long)(ms % 1000));
}

/*
 * The job's name, then the ids of t's ancestors, root first, '.' between;
 * then t's own id when self (t holds the case: a pipeline's item).
 */
static void put_classname(struct corun_buf *out, const struct corun_task *t,
                          int self, const char *job,
                          const struct corun_secrets *sec)
{
  struct corun_buf raw = CORUN_BUF_INIT;
  const struct corun_task *a;
  size_t depth = 0, d, k;

  for (a = t->parent; a; a = a->parent)
    depth++;
  corun_buf_puts(&raw, job);
  /* Root first: walk up from t for each depth in turn (trees are shallow). */
  for (d = depth; d > 0; d--) {
    a = t;
    for (k = 0; k < d; k++)
      a = a->parent;
    corun_buf_putc(&raw, '.');
    corun_buf_puts(&raw, a->id);
  }
  if (self) {
    corun_buf_putc(&raw, '.');
    corun_buf_puts(&raw, t->id);
  }
  corun_buf_puts(out, " classname=\"");
  put_str(out, corun_buf_str(&raw), raw.len, sec, 1);
  corun_buf_putc(out, '"');
  /* A piece built short here leaves the report not whole: say so. */
  if (raw.oom)
    out->oom = 1;
  corun_buf_free(&raw);
}

/* The counts a suite carries. */
struct totals {
  size_t tests;
  size_t failures;
  size_t errors;
  size_t skipped;
};

/* Whether the result's field is a non-empty string. */
static int has_text(const cJSON *result, const char *field)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, field);

  return cJSON_IsString(v) && v->valuestring[0] != '\0';
}

/* <TAG>TEXT</TAG> for a non-empty text. */
static void put_stream(struct corun_buf *out, const char *text,
                       const char *tag, const struct corun_secrets *sec)
{
  if (text == NULL || *text == '\0')
    return;
  corun_buf_printf(out, "      <%s>", tag);
  put_str(out, text, strlen(text), sec, 0);
  corun_buf_printf(out, "</%s>\n", tag);
}

/*
 * What t printed: its result's "stdout" and "stderr" when it has them (an
 * ok or failed command, or one the journal gave back), else what the kind
 * kept of a command that timed out or was cancelled.
 */
static void streams_of(const struct corun_task *t, const char **o,
                       const char **e)
{
  *o = *e = NULL;
  if (t->kind->streams && t->result && cJSON_IsObject(t->result)) {
    if (has_text(t->result, "stdout"))
      *o = cJSON_GetObjectItemCaseSensitive(t->result, "stdout")->valuestring;
    if (has_text(t->result, "stderr"))
      *e = cJSON_GetObjectItemCaseSensitive(t->result, "stderr")->valuestring;
    return;
  }
  if (t->kind->output && !(t->flags & CORUN_TF_RESUMED) &&
      !t->kind->output(t, o, e))
    *o = *e = NULL;
}

/* What one test case says; the strings are the caller's. */
struct tcase {
  const char *name;
  uint64_t ms;
  enum corun_status status;
  enum corun_errtype type;
  const char *msg;
  const char *extra; /* appended to the message, or NULL */
  const struct corun_task *t; /* its response and output, or NULL */
};

static void put_case(struct corun_buf *out, const struct tcase *c,
                     const struct corun_task *owner, int self,
                     const char *job, const struct corun_secrets *sec,
                     struct totals *tot)
{
  const char *msg = c->msg ? c->msg : "";
  const char *so = NULL, *se = NULL;
  struct corun_buf m = CORUN_BUF_INIT;
  int body;

  tot->tests++;
  if (c->status == CORUN_STATUS_FAILED || c->status == CORUN_STATUS_TIMEOUT)
    tot->failures++;
  else if (c->status != CORUN_STATUS_OK)
    tot->skipped++;
  /* The first pass only counts. */
  if (out == NULL)
    return;
  if (c->t)
    streams_of(c->t, &so, &se);
  body = c->status != CORUN_STATUS_OK || so || se;
  corun_buf_puts(out, "    <testcase");
  put_attr(out, "name", c->name, sec);
  put_classname(out, owner, self, job, sec);
  corun_buf_puts(out, " time=\"");
  put_ms(out, c->ms);
  corun_buf_puts(out, body ? "\">\n" : "\"/>\n");
  if (!body)
    return;
  switch (c->status) {
  case CORUN_STATUS_FAILED:
  case CORUN_STATUS_TIMEOUT: {
    const char *type = c->status == CORUN_STATUS_TIMEOUT
                           ? "timeout"
                           : corun_errtype_name(c->type);

    corun_buf_puts(&m, msg);
    if (c->extra)
      corun_buf_puts(&m, c->extra);
    corun_buf_puts(out, "      <failure");
    put_attr(out, "type", type, sec);
    put_attr(out, "message", corun_buf_str(&m), sec);
    corun_buf_putc(out, '>');
    put_str(out, m.p ? m.p : "", m.len, sec, 0);
    {
      /* The answer that failed, so a CI page shows why without the report. */
      struct corun_buf r = CORUN_BUF_INIT;
      const char *ctype, *rbody;
      long status;

      if (c->t && c->t->kind->response &&
          c->t->kind->response(c->t, &status, &ctype, &rbody)) {
        corun_buf_printf(&r, "\n\nresponse: HTTP %ld", status);
        if (ctype)
          corun_buf_printf(&r, " (%s)", ctype);
        if (rbody && *rbody)
          corun_buf_printf(&r, "\n%s", rbody);
        put_str(out, corun_buf_str(&r), r.len, sec, 0);
        if (r.oom)
          out->oom = 1;
        corun_buf_free(&r);
      }
    }
    corun_buf_puts(out, "</failure>\n");
    break;
  }
  case CORUN_STATUS_CANCELLED:
    /* Readers see only "skipped": say why, once ("cancelled by parent"). */
    if (strncmp(msg, "cancelled", 9) != 0) {
      corun_buf_puts(&m, "cancelled");
      if (*msg)
        corun_buf_puts(&m, ": ");
    }
    corun_buf_puts(&m, msg);
    msg = corun_buf_str(&m);
    /* fall through */
  case CORUN_STATUS_SKIPPED:
    corun_buf_puts(out, "      <skipped");
    put_attr(out, "message", msg, sec);
    corun_buf_puts(out, "/>\n");
    break;
  case CORUN_STATUS_NONE:
    /* Only a run that never ended leaves this; nothing ran it. */
    corun_buf_puts(out, "      <skipped message=\"did not run\"/>\n");
    break;
  default:
    break;
  }
  put_stream(out, so, "system-out", sec);
  put_stream(out, se, "system-err", sec);
  corun_buf_puts(out, "    </testcase>\n");
  if (m.oom)
    out->oom = 1;
  corun_buf_free(&m);
}

static uint64_t ms_between(uint64_t a, uint64_t b)
{
  if (a == CORUN_NO_TIME || b == CORUN_NO_TIME || b < a)
    return 0;
  return ms_of(b) - ms_of(a);
}

/*
 * Whether a task that holds others failed on its own account (its own
 * timeout, a pipeline's source): not because of a child, which says so.
 */
static int own_failure(const struct corun_task *t)
{
  return (t->status == CORUN_STATUS_FAILED ||
          t->status == CORUN_STATUS_TIMEOUT) &&
         t->err_type != CORUN_ERR_CHILD && t->err_type != CORUN_ERR_CANCELLED &&
         t->err_type != CORUN_ERR_SKIPPED;
}

/* The test cases t stands for: none, itself, or its items. */
static void put_task(struct corun_buf *out, const struct corun_job *job,
                     const struct corun_task *t, struct totals *tot)
{
  const struct corun_secrets *sec = &job->secrets;
  struct corun_buf extra = CORUN_BUF_INIT;
  struct tcase c;
  size_t n = t->kind->cases ? t->kind->cases(t, 0, NULL) : 0, i;

  memset(&c, 0, sizeof(c));
  for (i = 0; i < n; i++) {
    struct corun_case ic;

    memset(&ic, 0, sizeof(ic));
    t->kind->cases(t, i, &ic);
    c.name = ic.name;
    c.ms = ms_of(ic.dur_ns);
    c.status = (enum corun_status)ic.status;
    c.type = (enum corun_errtype)ic.err_type;
    c.msg = ic.msg;
    put_case(out, &c, t, 1, job->name, sec, tot);
  }
  /* A container is a case only when nothing below says why it failed. */
  if ((t->kind->parent || n > 0) && !own_failure(t))
    return;
  c.name = corun__task_name(job, t);
  c.ms = ms_between(t->t_start, t->t_end);
  c.status = (enum corun_status)t->status;
  c.type = (enum corun_errtype)t->err_type;
  c.msg = t->err_msg;
  c.t = t;
  if (out && t->kind->case_detail && t->status != CORUN_STATUS_OK &&
      t->err_type == CORUN_ERR_CHILD) {
    t->kind->case_detail(t, &extra);
    c.extra = corun_buf_str(&extra);
  }
  put_case(out, &c, t, 0, job->name, sec, tot);
  if (extra.oom)
    out->oom = 1;
  corun_buf_free(&extra);
}

/* Why a run that did not end on its own ended, for its "corun" case. */
static void put_run_error(struct corun_buf *out, const struct corun_run *run,
                          const struct corun_job *job, struct totals *tot)
{
  const char *type = "interrupted", *msg;

  switch (run->end) {
  case CORUN_END_SIGINT:
    msg = "the run was interrupted by SIGINT: tasks were cancelled";
    break;
  case CORUN_END_SIGTERM:
    msg = "the run was stopped by SIGTERM: tasks were cancelled";
    break;
  case CORUN_END_SIGHUP:
    msg = "the run was stopped by SIGHUP: tasks were cancelled";
    break;
  case CORUN_END_TIMEOUT:
    type = "timeout";
    msg = "the run's --timeout expired: tasks were cancelled";
    break;
  case CORUN_END_STALLED:
    type = "stalled";
    msg = "the run stalled: no task could go on, all were cancelled";
    break;
  default:
    return;
  }
  tot->tests++;
  tot->errors++;
  if (out == NULL)
    return;
  corun_buf_puts(out, "    <testcase name=\"corun\"");
  put_attr(out, "classname", job->name, &job->secrets);
  corun_buf_puts(out, " time=\"");
  put_ms(out, ms_of(run->finished ? run->end_ns : corun__now_ns(run)));
  corun_buf_puts(out, "\">\n      <error");
  put_attr(out, "type", type, NULL);
  put_attr(out, "message", msg, NULL);
  corun_buf_putc(out, '>');
  put_str(out, msg, strlen(msg), NULL, 0);
  corun_buf_puts(out, "</error>\n    </testcase>\n");
}

void corun_report_junit(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  const struct corun_secrets *sec = &job->secrets;
  struct totals tot = {0, 0, 0, 0}, again = {0, 0, 0, 0};
  time_t secs = (time_t)run->started_wall;
  uint64_t end = run->finished ? run->end_ns : corun__now_ns(run);
  struct tm tm;
  char stamp[32], host[256];
  size_t i;

  /*
   * The counts come first in the document: one pass counts, the second
   * writes, so a large job's cases stream out rather than pile up.
   */
  for (i = 0; i < job->ntasks; i++)
    put_task(NULL, job, job->tasks[i], &tot);
  put_run_error(NULL, run, job, &tot);
  gmtime_r(&secs, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  if (gethostname(host, sizeof(host)) != 0)
    host[0] = '\0';
  host[sizeof(host) - 1] = '\0';
  if (host[0] == '\0')
    strcpy(host, "localhost");

  /* junit-10.xsd allows no "skipped" on <testsuites>: only on the suite. */
  corun_buf_printf(out,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<testsuites name=\"corun\" tests=\"%zu\" failures=\"%zu\" "
                   "errors=\"%zu\" time=\"",
                   tot.tests, tot.failures, tot.errors);
  put_ms(out, ms_of(end));
  corun_buf_puts(out, "\">\n  <testsuite id=\"0\"");
  put_attr(out, "name", job->name, sec);
  corun_buf_printf(out,
                   " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                   "skipped=\"%zu\" time=\"",
                   tot.tests, tot.failures, tot.errors, tot.skipped);
  put_ms(out, ms_of(end));
  corun_buf_printf(out, "\" timestamp=\"%s.%03dZ\"", stamp,
                   (int)((run->started_wall - (double)secs) * 1000.0) % 1000);
  put_attr(out, "hostname", host, NULL);
  if (tot.tests == 0) {
    corun_buf_puts(out, "/>\n</testsuites>\n");
    return;
  }
  corun_buf_puts(out, ">\n");
  for (i = 0; i < job->ntasks; i++)
    put_task(out, job, job->tasks[i], &again);
  put_run_error(out, run, job, &again);
  corun_buf_puts(out, "  </testsuite>\n</testsuites>\n");
}
