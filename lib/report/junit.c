/* SPDX-License-Identifier: MIT */
/*
 * The JUnit XML report (--junit) for CI test reporters (GitLab, Jenkins,
 * GitHub actions that read JUnit): one <testsuite> for the job, one
 * <testcase> per task in the JSON report's order.
 *
 *   ok         no child element
 *   failed     <failure type="ERROR-TYPE" message="MSG">MSG</failure>
 *   timeout    <error type="timeout" message="MSG">MSG</error>
 *   cancelled  <skipped message="cancelled: MSG"/> (MSG alone when it
 *              already begins with "cancelled")
 *   skipped    <skipped message="MSG"/>
 *
 * The captured stdout and stderr of a kind with streams go into the testcase's
 * <system-out> and <system-err>. Every string is redacted as the JSON
 * report redacts it, then escaped for XML 1.0. XML 1.0 cannot carry most
 * control characters at all, not even as &#N; references, nor bytes that
 * are not UTF-8: those are written as visible text, "\x01", as the summary
 * table writes them.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "corun.h"
#include "report/report.h"
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

/* The job's name, then the ids of t's ancestors, root first, '.' between. */
static void put_classname(struct corun_buf *out, const struct corun_task *t,
                          const char *job, const struct corun_secrets *sec)
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
  corun_buf_puts(out, " classname=\"");
  put_str(out, corun_buf_str(&raw), raw.len, sec, 1);
  corun_buf_putc(out, '"');
  corun_buf_free(&raw);
}

/* Whether the result's field is a non-empty string. */
static int has_text(const cJSON *result, const char *field)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, field);

  return cJSON_IsString(v) && v->valuestring[0] != '\0';
}

/* <TAG>TEXT</TAG> for a non-empty string field of a result with streams. */
static void put_stream(struct corun_buf *out, const cJSON *result,
                       const char *field, const char *tag,
                       const struct corun_secrets *sec)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, field);

  if (!has_text(result, field))
    return;
  corun_buf_printf(out, "      <%s>", tag);
  put_str(out, v->valuestring, strlen(v->valuestring), sec, 0);
  corun_buf_printf(out, "</%s>\n", tag);
}

static void put_case(struct corun_buf *out, const struct corun_task *t,
                     const char *job, const struct corun_secrets *sec)
{
  const char *msg = t->err_msg ? t->err_msg : "";
  const char *type = corun_errtype_name((enum corun_errtype)t->err_type);
  int streams = t->result && cJSON_IsObject(t->result) &&
             t->kind->streams;
  int body = t->status != CORUN_STATUS_OK ||
             (streams &&
              (has_text(t->result, "stdout") || has_text(t->result, "stderr")));
  struct corun_buf m = CORUN_BUF_INIT;

  corun_buf_puts(out, "    <testcase");
  put_attr(out, "name", t->id, sec);
  put_classname(out, t, job, sec);
  corun_buf_puts(out, " time=\"");
  if (t->t_start != CORUN_NO_TIME && t->t_end != CORUN_NO_TIME &&
      t->t_end >= t->t_start)
    put_ms(out, ms_of(t->t_end) - ms_of(t->t_start));
  else
    corun_buf_puts(out, "0.000");
  corun_buf_puts(out, body ? "\">\n" : "\"/>\n");
  if (!body)
    return;
  switch (t->status) {
  case CORUN_STATUS_FAILED:
  case CORUN_STATUS_TIMEOUT: {
    const char *tag = t->status == CORUN_STATUS_FAILED ? "failure" : "error";

    if (t->status == CORUN_STATUS_TIMEOUT)
      type = "timeout";
    corun_buf_printf(out, "      <%s", tag);
    put_attr(out, "type", type, sec);
    put_attr(out, "message", msg, sec);
    corun_buf_putc(out, '>');
    put_str(out, msg, strlen(msg), sec, 0);
    {
      /* The answer that failed, so a CI page shows why without the report. */
      struct corun_buf r = CORUN_BUF_INIT;
      const char *ctype, *rbody;
      long status;

      if (t->kind->response &&
          t->kind->response(t, &status, &ctype, &rbody)) {
        corun_buf_printf(&r, "\n\nresponse: HTTP %ld", status);
        if (ctype)
          corun_buf_printf(&r, " (%s)", ctype);
        if (rbody && *rbody)
          corun_buf_printf(&r, "\n%s", rbody);
        put_str(out, corun_buf_str(&r), r.len, sec, 0);
        corun_buf_free(&r);
      }
    }
    corun_buf_printf(out, "</%s>\n", tag);
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
  if (streams) {
    put_stream(out, t->result, "stdout", "system-out", sec);
    put_stream(out, t->result, "stderr", "system-err", sec);
  }
  corun_buf_puts(out, "    </testcase>\n");
  corun_buf_free(&m);
}

/* The counts both <testsuites> and <testsuite> carry. */
static void put_totals(struct corun_buf *out, size_t tests,
                       const unsigned *counts, uint64_t end_ns)
{
  corun_buf_printf(
      out,
      " tests=\"%zu\" failures=\"%u\" errors=\"%u\" "
      "skipped=\"%u\" time=\"",
      tests, counts[CORUN_STATUS_FAILED], counts[CORUN_STATUS_TIMEOUT],
      counts[CORUN_STATUS_CANCELLED] + counts[CORUN_STATUS_SKIPPED] +
          counts[CORUN_STATUS_NONE]);
  put_ms(out, ms_of(end_ns));
  corun_buf_putc(out, '"');
}

void corun_report_junit(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  const struct corun_secrets *sec = &job->secrets;
  unsigned counts[CORUN_STATUS_SKIPPED + 1] = {0};
  time_t secs = (time_t)run->started_wall;
  uint64_t end = run->finished ? run->end_ns : corun__now_ns(run);
  struct tm tm;
  char stamp[32], host[256];
  size_t i;

  for (i = 0; i < job->ntasks; i++)
    counts[job->tasks[i]->status]++;
  gmtime_r(&secs, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  if (gethostname(host, sizeof(host)) != 0)
    host[0] = '\0';
  host[sizeof(host) - 1] = '\0';
  if (host[0] == '\0')
    strcpy(host, "localhost");

  corun_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<testsuites name=\"corun\"");
  put_totals(out, job->ntasks, counts, end);
  corun_buf_puts(out, ">\n  <testsuite id=\"0\"");
  put_attr(out, "name", job->name, sec);
  put_totals(out, job->ntasks, counts, end);
  corun_buf_printf(out, " timestamp=\"%s.%03dZ\"", stamp,
                   (int)((run->started_wall - (double)secs) * 1000.0) % 1000);
  put_attr(out, "hostname", host, NULL);
  corun_buf_puts(out, job->ntasks ? ">\n" : "/>\n");
  for (i = 0; i < job->ntasks; i++)
    put_case(out, job->tasks[i], job->name, sec);
  if (job->ntasks)
    corun_buf_puts(out, "  </testsuite>\n");
  corun_buf_puts(out, "</testsuites>\n");
}
