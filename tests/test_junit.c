/* SPDX-License-Identifier: MIT */
/*
 * The JUnit XML report (--junit): every document corun writes must pass
 * "xmllint --schema" against tests/fixtures/junit/junit.xsd (the dialect
 * Jenkins, GitLab and GitHub's reporters read) and junit-10.xsd (the
 * Jenkins xUnit plugin's own), and say what the JSON report says: one
 * testcase per leaf task in the same order (containers only when they
 * failed on their own), counts, classnames, failure/skipped with their
 * types, an error case for a run that did not end by itself, exec output
 * in system-out and system-err, secrets redacted, and no byte XML 1.0
 * forbids. Content is checked with plain string searches; xmllint checks
 * the structure.
 *
 * xmllint (Debian: libxml2-utils) is required: without it these tests
 * fail, saying so, rather than pass without checking anything.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "helpers.h"

#define XSD CORUN_FIXTURES "/junit/junit.xsd"
#define XSD10 CORUN_FIXTURES "/junit/junit-10.xsd"
#define CLI(in, ...) cli((in), (const char *const[]){__VA_ARGS__, NULL})

/* A value no job or message could contain by chance. */
#define SECRET "jU-s3cr3t-4Kq9"

static void setup(void)
{
  unsetenv("NO_COLOR");
  unsetenv("CORUN_DEBUG");
  setenv("JUNIT_SECRET", SECRET, 1);
}

TestSuite(junit, .init = setup, .timeout = 60);

/* --- helpers -------------------------------------------------------------- */

static struct proc *cli(const char *in, const char *const *args)
{
  struct proc *p = run_cli(in, args);

  cr_assert_null(strstr(p->err, "Sanitizer"), "%s", p->err);
  cr_assert_null(strstr(p->err, "runtime error:"), "%s", p->err);
  return p;
}

static char *slurp_file(const char *path, size_t *len)
{
  char *s = read_file(path, len);

  cr_assert_not_null(s, "cannot open %s: %s", path, strerror(errno));
  return s;
}

static void require_xmllint(void)
{
  int status;
  char *out = run_shell("command -v xmllint 2>&1", &status);

  cr_assert_eq(status, 0,
               "xmllint is not installed: the JUnit output cannot be checked "
               "against " XSD ". Install it (Debian: apt-get install "
               "libxml2-utils).");
  free(out);
}

/* xmllint --schema xsd's exit status for path; *out gets what it said. */
static int xmllint_with(const char *xsd, const char *path, char **out)
{
  char cmd[4096];
  int status;

  require_xmllint();
  snprintf(cmd, sizeof(cmd), "xmllint --noout --schema '%s' '%s' 2>&1", xsd,
           path);
  *out = run_shell(cmd, &status);
  return status;
}

static int xmllint(const char *path, char **out)
{
  return xmllint_with(XSD, path, out);
}

/* The document at path is well-formed and valid against both XSDs. */
static void assert_valid(const char *path)
{
  const char *const xsds[] = {XSD, XSD10};
  size_t i;

  for (i = 0; i < 2; i++) {
    char *said = NULL;
    int status = xmllint_with(xsds[i], path, &said);

    if (status != 0) {
      char *doc = slurp_file(path, NULL);

      cr_assert_fail("xmllint --schema %s rejects %s (exit %d):\n%s\n"
                     "--- document:\n%s",
                     xsds[i], path, status, said, doc);
    }
    free(said);
  }
}

/* No byte XML 1.0 forbids, and nothing that reads as a number reference. */
static void assert_no_forbidden_bytes(const char *doc, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)doc[i];

    cr_assert(c >= 0x20 || c == '\t' || c == '\n' || c == '\r',
              "raw control byte 0x%02x at offset %zu", c, i);
  }
  /* &#9; &#10; &#13; are the only references XML 1.0 allows for these. */
  for (i = 1; i < 32; i++) {
    char ref[8];

    if (i == 9 || i == 10 || i == 13)
      continue;
    snprintf(ref, sizeof(ref), "&#%zu;", i);
    cr_assert_null(strstr(doc, ref), "%s in the document", ref);
  }
  cr_assert_null(strstr(doc, "&#x"), "hex references in the document");
}

static char *put_file(const char *dir, const char *name, const char *text)
{
  char *path = path_join(dir, name);
  FILE *f = fopen(path, "w");

  cr_assert_not_null(f, "%s: %s", path, strerror(errno));
  fputs(text, f);
  fclose(f);
  return path;
}

static void rm_scratch(char *dir, const char *const *names)
{
  for (; *names; names++) {
    char *p = path_join(dir, *names);

    unlink(p);
    free(p);
  }
  rmdir(dir);
  free(dir);
}

/*
 * The testcase element for the task named id, as a copy: from
 * "<testcase name=\"ID\"" to its "/>" or "</testcase>".
 */
static char *case_of(const char *doc, const char *id)
{
  char head[256];
  const char *s, *e, *gt;

  snprintf(head, sizeof(head), "<testcase name=\"%s\"", id);
  s = strstr(doc, head);
  cr_assert_not_null(s, "no testcase for \"%s\" in:\n%s", id, doc);
  gt = strchr(s, '>');
  cr_assert_not_null(gt);
  if (gt[-1] == '/')
    return strndup(s, (size_t)(gt + 1 - s));
  e = strstr(s, "</testcase>");
  cr_assert_not_null(e);
  return strndup(s, (size_t)(e + strlen("</testcase>") - s));
}

static void assert_has(const char *hay, const char *needle)
{
  cr_assert_not_null(strstr(hay, needle), "no %s in:\n%s", needle, hay);
}

static void assert_lacks(const char *hay, const char *needle)
{
  cr_assert_null(strstr(hay, needle), "unexpected %s in:\n%s", needle, hay);
}

static int count_of(const char *hay, const char *needle)
{
  int n = 0;

  for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
    n++;
  return n;
}

/* The ids of the testcases, in document order, joined by spaces. */
static char *case_order(const char *doc)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const char *p;

  for (p = strstr(doc, "<testcase name=\""); p;
       p = strstr(p + 1, "<testcase name=\"")) {
    const char *s = p + strlen("<testcase name=\""), *q = strchr(s, '"');

    if (b.len)
      corun_buf_putc(&b, ' ');
    corun_buf_add(&b, s, (size_t)(q - s));
  }
  return corun_buf_detach(&b);
}

/* --- the statuses --------------------------------------------------------- */

/*
 * ok, failed (with the failure's type), timeout, cancelled by a fail-fast
 * gather, skipped through "after", nested classnames, times.
 */
static const char statuses_job[] =
    "{\"name\": \"demo\", \"tasks\": [\n"
    " {\"id\": \"fetch_all\", \"kind\": \"gather\", \"tasks\": [\n"
    "   {\"id\": \"quick\", \"kind\": \"sleep\", \"seconds\": 0.05,"
    "    \"message\": \"quick done\"},\n"
    "   {\"id\": \"broken\", \"kind\": \"sleep\", \"seconds\": 0.15,"
    "    \"fail\": \"disk full\"},\n"
    "   {\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 10}]},\n"
    " {\"id\": \"outer\", \"kind\": \"gather\", \"tasks\": [\n"
    "   {\"id\": \"inner\", \"kind\": \"gather\", \"tasks\": [\n"
    "     {\"id\": \"leaf\", \"kind\": \"sleep\", \"seconds\": 0}]}]},\n"
    " {\"id\": \"late\", \"kind\": \"sleep\", \"seconds\": 10,"
    "  \"timeout\": \"100ms\"},\n"
    " {\"id\": \"then\", \"kind\": \"sleep\", \"seconds\": 0,"
    "  \"after\": [\"late\"]}\n"
    "]}\n";

Test(junit, statuses_map_to_failure_error_and_skipped)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(dir, "job.json", statuses_job);
  char *xml = path_join(dir, "out.xml"), *rep = path_join(dir, "r.json");
  char *doc, *c, *order;
  struct corun_buf want = CORUN_BUF_INIT;
  struct proc *p;
  cJSON *json, *t;
  size_t len;

  p = CLI(NULL, "-q", "--report", rep, "--junit", xml, job);
  cr_assert_eq(p->status, 1, "exit %d, stderr: %s", p->status, p->err);
  cr_assert_str_eq(p->out, "quick done\n");
  proc_free(p);
  assert_valid(xml);
  doc = slurp_file(xml, &len);
  assert_no_forbidden_bytes(doc, len);

  cr_assert(strncmp(doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39) ==
                0,
            "%s", doc);
  /* 6 leaves: ok quick, leaf; failed broken; timeout late; cancelled
     slow; skipped then. The containers (fetch_all failed because of
     broken; outer, inner ok) are no test cases: one failure counts once.
     <testsuites> carries no "skipped" (junit-10.xsd has none there). */
  assert_has(doc, "<testsuites name=\"corun\" tests=\"6\" failures=\"2\" "
                  "errors=\"0\" time=\"");
  assert_has(doc, "<testsuite id=\"0\" name=\"demo\" tests=\"6\" "
                  "failures=\"2\" errors=\"0\" skipped=\"2\" time=\"");
  assert_has(doc, " timestamp=\"20");
  assert_has(doc, "Z\" hostname=\"");
  cr_assert_eq(count_of(doc, "<testsuite "), 1);
  cr_assert_eq(count_of(doc, "<testcase "), 6);

  /* The same leaf tasks in the same order as the JSON report. */
  c = slurp_file(rep, NULL);
  json = cJSON_Parse(c);
  cr_assert_not_null(json, "%s", c);
  free(c);
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(json, "tasks"))
  {
    if (strcmp(cJSON_GetObjectItem(t, "kind")->valuestring, "gather") == 0)
      continue;
    if (want.len)
      corun_buf_putc(&want, ' ');
    corun_buf_puts(&want, cJSON_GetObjectItem(t, "id")->valuestring);
  }
  order = case_order(doc);
  cr_assert_str_eq(order, corun_buf_str(&want));
  free(order);
  corun_buf_free(&want);
  cJSON_Delete(json);

  /* ok: no child element; roots have the job's name as classname. */
  c = case_of(doc, "quick");
  assert_has(c, "classname=\"demo.fetch_all\"");
  assert_has(c, "/>");
  assert_lacks(c, "<failure");
  assert_lacks(c, "<skipped");
  free(c);
  c = case_of(doc, "leaf");
  assert_has(c, "classname=\"demo.outer.inner\" time=\"");
  free(c);
  assert_lacks(doc, "<testcase name=\"outer\"");
  assert_lacks(doc, "<testcase name=\"inner\"");
  c = case_of(doc, "late");
  assert_has(c, "classname=\"demo\"");
  free(c);

  /* failed: <failure> with the error type, message as attribute and text. */
  c = case_of(doc, "broken");
  assert_has(c, "<failure type=\"fail\" message=\"disk full\">disk "
                "full</failure>");
  /* Ran for 0.15 s or a little more, written with three decimals. */
  {
    const char *tv = strstr(c, " time=\"") + 7;
    char *end;
    double secs = strtod(tv, &end);

    cr_assert(secs >= 0.149 && secs < 5.0, "%s", c);
    cr_assert_eq(*end, '"', "%s", c);
    cr_assert_eq(end - strchr(tv, '.'), 4, "not 3 decimals: %s", c);
  }
  free(c);
  /* Its gather failed because of it: counted once, here. */
  assert_lacks(doc, "<testcase name=\"fetch_all\"");

  /* timeout: a <failure> of type timeout (a test that failed). */
  c = case_of(doc, "late");
  assert_has(c, "<failure type=\"timeout\" message=\"timed out after "
                "0.1s\">");
  assert_has(c, "</failure>");
  assert_lacks(c, "<error");
  free(c);

  /* cancelled by the fail-fast gather: skipped, saying it was cancelled. */
  c = case_of(doc, "slow");
  assert_has(c, "<skipped message=\"cancelled by parent "
                "&quot;fetch_all&quot;\"/>");
  assert_lacks(c, "<failure");
  free(c);

  /* skipped through "after": never started, so time 0. */
  c = case_of(doc, "then");
  assert_has(c, "time=\"0.000\"");
  assert_has(c, "<skipped message=\"&quot;late&quot; ended timeout\"/>");
  free(c);

  free(doc);
  free(job);
  free(xml);
  free(rep);
  rm_scratch(dir, (const char *const[]){"job.json", "out.xml", "r.json", NULL});
}

/* --- exec output, escaping, secrets --------------------------------------- */

/*
 * printf's octal escapes put bytes in the output that JSON could not carry:
 * controls, a lone 0xff, an overlong "/", a surrogate, U+FFFE, a cut
 * sequence at the end; and characters XML must escape. The secret reaches
 * the command through its environment and comes back in its output.
 */
static const char exec_job[] =
    "{\"name\": \"ex & <co>\", \"tasks\": [\n"
    " {\"id\": \"noisy\", \"kind\": \"exec\", \"env\": {\"TOK\": "
    "\"${env:JUNIT_SECRET}\"},\n"
    "  \"shell\": \"printf 'a\\\\001b\\\\033[31m <&>\\\"q\\\\047 \\\\377 "
    "\\\\300\\\\257 \\\\355\\\\240\\\\200 \\\\357\\\\277\\\\276 "
    "caf\\\\303\\\\251 \\\\342\\\\202\\\\254\\\\tTAB tok=%s\\\\r\\\\n' "
    "\\\"$TOK\\\"; printf 'warn\\\\002 %s \\\\342\\\\202' \\\"$TOK\\\" "
    ">&2\"},\n"
    " {\"id\": \"bad\", \"kind\": \"exec\", \"env\": {\"TOK\": "
    "\"${env:JUNIT_SECRET}\"},\n"
    "  \"shell\": \"echo partial; printf 'oops \\\\001 %s\\\\n' \\\"$TOK\\\" "
    ">&2; exit 3\"},\n"
    " {\"id\": \"quiet\", \"kind\": \"exec\", \"argv\": [\"true\"]},\n"
    " {\"id\": \"told\", \"kind\": \"sleep\", \"seconds\": 0,\n"
    "  \"fail\": \"line1\\nline2\\ttab \\u0001 \\u001f "
    "<${env:JUNIT_SECRET}>\"}\n"
    "]}\n";

Test(junit, exec_output_is_escaped_and_redacted)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(dir, "job.json", exec_job);
  char *xml = path_join(dir, "out.xml");
  char *doc, *c;
  struct proc *p;
  size_t len;

  p = CLI(NULL, "-q", "--junit", xml, job);
  cr_assert_eq(p->status, 1, "exit %d, stderr: %s", p->status, p->err);
  proc_free(p);
  assert_valid(xml);
  doc = slurp_file(xml, &len);
  assert_no_forbidden_bytes(doc, len);
  assert_lacks(doc, SECRET);

  assert_has(doc,
             "<testsuite id=\"0\" name=\"ex &amp; &lt;co&gt;\" tests=\"4\" "
             "failures=\"2\" errors=\"0\" skipped=\"0\"");

  c = case_of(doc, "noisy");
  assert_has(c, "classname=\"ex &amp; &lt;co&gt;\"");
  assert_lacks(c, "<failure");
  /*
   * Controls and bytes that are not XML characters as visible \xNN; valid
   * UTF-8 (é, €) and tab as they are; CR as a reference so it survives.
   */
  assert_has(c, "<system-out>a\\x01b\\x1b[31m &lt;&amp;&gt;&quot;q&apos; "
                "\\xff \\xc0\\xaf \\xed\\xa0\\x80 \\xef\\xbf\\xbe "
                "caf\xc3\xa9 \xe2\x82\xac\tTAB tok=***&#13;\n</system-out>");
  assert_has(c, "<system-err>warn\\x02 *** \\xe2\\x82</system-err>");
  free(c);

  /* A failed exec: exit_status, stderr's last line, both streams. */
  c = case_of(doc, "bad");
  assert_has(c, "<failure type=\"exit_status\" message=\"exit status 3: "
                "oops \\x01 ***\">exit status 3: oops \\x01 ***</failure>");
  assert_has(c, "<system-out>partial\n</system-out>");
  assert_has(c, "<system-err>oops \\x01 ***");
  free(c);

  /* Nothing printed: no empty output elements, nothing inside. */
  c = case_of(doc, "quiet");
  assert_has(c, "\"/>");
  assert_lacks(c, "<system-out");
  assert_lacks(c, "<system-err");
  free(c);

  /* In attributes, newline and tab are references, or parsers lose them. */
  c = case_of(doc, "told");
  assert_has(c, "message=\"line1&#10;line2&#9;tab \\x01 \\x1f &lt;***&gt;\"");
  assert_has(c, ">line1\nline2\ttab \\x01 \\x1f &lt;***&gt;</failure>");
  free(c);

  free(doc);
  free(job);
  free(xml);
  rm_scratch(dir, (const char *const[]){"job.json", "out.xml", NULL});
}

/* --- names, nesting, containers that fail on their own ---------------------- */

/*
 * "name" is the test case's name (the id stays in the JSON report); the
 * classname is the job and the ids of the containers above; a gather whose
 * own timeout expires is a case of its own (its children are skipped, and
 * nothing else would say why); commands that timed out or were cancelled
 * keep what they printed.
 */
static const char nested_job[] =
    "{\"name\": \"nest\", \"vars\": {\"env\": \"staging\"}, \"tasks\": [\n"
    " {\"id\": \"outer\", \"kind\": \"gather\", \"name\": \"Outer\","
    "  \"tasks\": [\n"
    "   {\"id\": \"inner\", \"kind\": \"gather\", \"tasks\": [\n"
    "     {\"id\": \"probe\", \"kind\": \"sleep\", \"seconds\": 0,"
    "      \"name\": \"probe ${env} <1>\"}]}]},\n"
    " {\"id\": \"hang\", \"kind\": \"exec\", \"shell\": \"echo started; "
    "echo warming >&2; exec sleep 30\", \"timeout\": \"300ms\","
    "  \"kill_grace\": \"1s\"},\n"
    " {\"id\": \"box\", \"kind\": \"gather\", \"timeout\": \"300ms\","
    "  \"tasks\": [\n"
    "   {\"id\": \"boxed\", \"kind\": \"exec\", \"shell\": \"echo inside; "
    "exec sleep 30\", \"kill_grace\": \"1s\"}]}\n"
    "]}\n";

Test(junit, names_nesting_and_containers_failing_on_their_own)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(dir, "job.json", nested_job);
  char *xml = path_join(dir, "out.xml");
  char *doc, *c, *order;
  struct proc *p;

  p = CLI(NULL, "-q", "--junit", xml, job);
  cr_assert_eq(p->status, 1, "exit %d, stderr: %s", p->status, p->err);
  proc_free(p);
  assert_valid(xml);
  doc = slurp_file(xml, NULL);
  order = case_order(doc);
  cr_assert_str_eq(order, "probe staging &lt;1&gt; hang box boxed");
  free(order);
  assert_has(doc, "tests=\"4\" failures=\"2\" errors=\"0\" skipped=\"1\"");

  c = case_of(doc, "probe staging &lt;1&gt;");
  assert_has(c, "classname=\"nest.outer.inner\"");
  free(c);
  /* A container that fails only through its children is no case. */
  assert_lacks(doc, "name=\"Outer\"");

  /* The command that timed out keeps what it printed. */
  c = case_of(doc, "hang");
  assert_has(c, "<failure type=\"timeout\"");
  assert_has(c, "<system-out>started\n</system-out>");
  assert_has(c, "<system-err>warming\n</system-err>");
  free(c);

  /* The gather's own timeout: its case; its child cancelled, skipped. */
  c = case_of(doc, "box");
  assert_has(c, "classname=\"nest\"");
  assert_has(c, "<failure type=\"timeout\" message=\"timed out after 0.3s\"");
  free(c);
  c = case_of(doc, "boxed");
  assert_has(c, "classname=\"nest.box\"");
  assert_has(c, "<skipped message=\"cancelled: parent &quot;box&quot; timed "
                "out\"/>");
  assert_has(c, "<system-out>inside\n</system-out>");
  free(c);

  free(doc);
  free(xml);
  free(job);
  rm_scratch(dir, (const char *const[]){"job.json", "out.xml", NULL});
}

/* --- pipelines ------------------------------------------------------------ */

/* The summary case of a 30-item pipeline whose stage is stage (JSON). */
static void one_summary_case(char *dir, const char *stage)
{
  char text[1024];
  char *job, *xml = path_join(dir, "out.xml");
  char *doc, *c;
  struct proc *p;

  snprintf(text, sizeof(text),
           "{\"name\": \"pl\", \"tasks\": [\n"
           " {\"id\": \"crawl\", \"kind\": \"pipeline\","
           "  \"source\": {\"range\": [0, 30]},\n"
           "  \"stages\": [{%s}]}\n"
           "]}\n",
           stage);
  job = put_file(dir, "job.json", text);
  p = CLI(NULL, "-q", "--junit", xml, job);
  cr_assert_eq(p->status, 1, "exit %d, stderr: %s", p->status, p->err);
  proc_free(p);
  assert_valid(xml);
  doc = slurp_file(xml, NULL);
  assert_has(doc, "tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\"");
  cr_assert_eq(count_of(doc, "<testcase "), 1);
  c = case_of(doc, "crawl");
  assert_has(c, "<failure type=\"child\" message=\"25 of 30 items failed");
  assert_has(c, "; failed items: 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, "
                "17, 18, 19, 20, 21, 22, 23, 24 and 5 more\"");
  assert_lacks(c, "25,");
  free(c);
  free(doc);
  free(xml);
  free(job);
}

/*
 * 30 items, 25 of them fail: the one case names the 20 of lowest index, in
 * item order, with one worker and with 30 that race, failing the items of
 * higher index first.
 */
Test(junit, pipeline_summary_is_one_case_naming_failed_items)
{
  static const char *const stages[] = {
      "\"task\": {\"kind\": \"exec\", \"argv\": [\"test\", \"${item}\", "
      "\"-lt\", \"5\"]}",
      "\"workers\": 30, \"task\": {\"kind\": \"exec\", \"shell\": "
      "\"sleep 0.$((40 - ${item})); test ${item} -lt 5\"}"};
  char *dir = tmp_dir("junit");
  size_t k;

  for (k = 0; k < 2; k++)
    one_summary_case(dir, stages[k]);
  rm_scratch(dir, (const char *const[]){"job.json", "out.xml", NULL});
}

/*
 * "junit": "items": a case per item, in source order, named by the last
 * stage's task's "name" filled with the item (or the source item itself),
 * with its duration, failure or skip; the pipeline itself is no case when
 * its items say why it failed. The JSON report is the same either way.
 */
static const char items_job[] =
    "{\"name\": \"pl\", \"tasks\": [\n"
    " {\"id\": \"named\", \"kind\": \"pipeline\", \"junit\": \"items\","
    "  \"source\": {\"items\": [{\"host\": \"a\", \"ok\": 0},"
    "    {\"host\": \"b\", \"ok\": 1}, {\"host\": \"c\", \"ok\": 0}]},\n"
    "  \"stages\": [{\"workers\": 3, \"task\": {\"kind\": \"exec\","
    "   \"name\": \"ping ${item.host} #${index}\","
    "   \"shell\": \"echo to ${item.host}; exit ${item.ok}\"}}]},\n"
    " {\"id\": \"plain\", \"kind\": \"pipeline\", \"junit\": \"items\","
    "  \"source\": {\"items\": [\"x\", 7, {\"k\": true}]},\n"
    "  \"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": 0}},"
    "   {\"task\": {\"kind\": \"sleep\", \"seconds\": 0}}]},\n"
    " {\"id\": \"stop\", \"kind\": \"pipeline\", \"junit\": \"items\","
    "  \"on_error\": \"cancel\", \"source\": {\"range\": [0, 5]},\n"
    "  \"stages\": [{\"workers\": 1, \"queue\": 10, \"task\": {\"kind\": "
    "\"sleep\", \"seconds\": 0.05, \"fail\": \"no ${item}\", "
    "\"name\": \"n${item}\"}}]}\n"
    "]}\n";

Test(junit, pipeline_items_are_cases_of_their_own)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(dir, "job.json", items_job);
  char *xml = path_join(dir, "out.xml"), *rep = path_join(dir, "r.json");
  char *doc, *c, *order, *report;
  struct proc *p;

  p = CLI(NULL, "-q", "--junit", xml, "--report", rep, job);
  cr_assert_eq(p->status, 1, "exit %d, stderr: %s", p->status, p->err);
  proc_free(p);
  assert_valid(xml);
  doc = slurp_file(xml, NULL);
  order = case_order(doc);
  cr_assert_str_eq(order, "ping a #0 ping b #1 ping c #2 x 7 {&quot;k&quot;:"
                          "true} n0 n1 n2 n3 n4");
  free(order);
  /* 11 items: 1 failed in named, 1 failed and 4 cancelled in stop. */
  assert_has(doc, "tests=\"11\" failures=\"2\" errors=\"0\" skipped=\"4\"");
  c = case_of(doc, "ping b #1");
  assert_has(c, "classname=\"pl.named\"");
  assert_has(c, "<failure type=\"exit_status\" message=\"exit status 1\"");
  free(c);
  c = case_of(doc, "ping a #0");
  assert_has(c, "classname=\"pl.named\" time=\"0.");
  assert_has(c, "/>");
  free(c);
  c = case_of(doc, "n0");
  assert_has(c, "<failure type=\"fail\" message=\"no 0\"");
  free(c);
  c = case_of(doc, "n3");
  assert_has(c, "<skipped message=\"cancelled: the pipeline stopped while "
                "this item waited for a worker\"/>");
  free(c);
  assert_lacks(doc, "<testcase name=\"named\"");
  assert_lacks(doc, "<testcase name=\"stop\"");
  /* The JSON report knows nothing of the mode. */
  report = slurp_file(rep, NULL);
  assert_lacks(report, "junit");
  assert_lacks(report, "ping");
  free(report);
  free(doc);
  free(xml);
  free(rep);
  free(job);
  rm_scratch(dir,
             (const char *const[]){"job.json", "out.xml", "r.json", NULL});
}

/* A pipeline that fails on its own (its timeout) is a case besides its items. */
Test(junit, pipeline_items_and_its_own_timeout)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(
      dir, "job.json",
      "{\"name\": \"pl\", \"tasks\": [\n"
      " {\"id\": \"slow\", \"kind\": \"pipeline\", \"junit\": \"items\","
      "  \"timeout\": \"200ms\", \"source\": {\"items\": [0, 10]},\n"
      "  \"stages\": [{\"workers\": 2, \"task\": {\"kind\": \"sleep\", "
      "\"seconds\": \"${item}\"}}]}\n"
      "]}\n");
  char *xml = path_join(dir, "out.xml");
  char *doc, *c, *order;
  struct proc *p;

  p = CLI(NULL, "-q", "--junit", xml, job);
  cr_assert_eq(p->status, 1, "exit %d, stderr: %s", p->status, p->err);
  proc_free(p);
  assert_valid(xml);
  doc = slurp_file(xml, NULL);
  order = case_order(doc);
  cr_assert_str_eq(order, "0 10 slow");
  free(order);
  assert_has(doc, "tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\"");
  c = case_of(doc, "slow");
  assert_has(c, "<failure type=\"timeout\"");
  free(c);
  c = case_of(doc, "10");
  assert_has(c, "classname=\"pl.slow\"");
  assert_has(c, "<skipped message=\"cancelled");
  free(c);
  free(doc);
  free(xml);
  free(job);
  rm_scratch(dir, (const char *const[]){"job.json", "out.xml", NULL});
}

Test(junit, pipeline_junit_field_is_checked)
{
  char *e = load_err("{\"tasks\": [{\"kind\": \"pipeline\", \"junit\": "
                     "\"each\", \"source\": {\"items\": [1]}, \"stages\": "
                     "[{\"task\": {\"kind\": \"sleep\", \"seconds\": 0}}]}]}");

  cr_assert(strstr(e, "\"junit\""), "%s", e);
  cr_assert(strstr(e, "summary"), "%s", e);
  free(e);
}

/* --- where it goes -------------------------------------------------------- */

Test(junit, dash_writes_to_stdout)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(dir, "job.json", statuses_job);
  char *xml;
  struct proc *p;

  p = CLI(NULL, "-q", "--junit", "-", job);
  cr_assert_eq(p->status, 1, "stderr: %s", p->err);
  /* The document alone: task output goes to stderr then. */
  cr_assert(strncmp(p->out, "<?xml ", 6) == 0, "%s", p->out);
  cr_assert_not_null(strstr(p->err, "quick done\n"), "%s", p->err);
  xml = put_file(dir, "out.xml", p->out);
  assert_valid(xml);
  proc_free(p);

  /* With --report to a file both are written. */
  free(xml);
  xml = path_join(dir, "r.json");
  p = CLI(NULL, "-q", "--report", xml, "--junit=-", job);
  cr_assert_eq(p->status, 1, "stderr: %s", p->err);
  assert_has(p->out, "</testsuites>\n");
  free(slurp_file(xml, NULL));
  proc_free(p);

  free(xml);
  free(job);
  rm_scratch(dir, (const char *const[]){"job.json", "out.xml", "r.json", NULL});
}

static void assert_usage_error(struct proc *p, const char *mentions)
{
  cr_assert_eq(p->status, 2, "exit %d, stderr: %s", p->status, p->err);
  cr_assert_str_empty(p->out, "something ran: %s", p->out);
  cr_assert(strncmp(p->err, "corun: ", 7) == 0, "%s", p->err);
  cr_assert_not_null(strstr(p->err, mentions), "%s", p->err);
}

Test(junit, usage_errors_before_anything_runs)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(dir, "job.json",
                       "{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", "
                       "\"seconds\": 0, \"message\": \"ran\"}]}");
  char *same = path_join(dir, "same.out");
  struct proc *p;

  p = CLI(NULL, "--report", "-", "--junit", "-", job);
  assert_usage_error(p, "standard output");
  proc_free(p);
  p = CLI(NULL, "--report", same, "--junit", same, job);
  assert_usage_error(p, "--junit");
  proc_free(p);
  p = CLI(NULL, "--junit=", job);
  assert_usage_error(p, "--junit needs a file name");
  proc_free(p);
  p = CLI(NULL, job, "--junit");
  assert_usage_error(p, "--junit");
  proc_free(p);
  p = CLI(NULL, "--junti", "x.xml", job);
  assert_usage_error(p, "did you mean '--junit'?");
  proc_free(p);
  /* The probe: a directory that does not exist is found before the run. */
  p = CLI(NULL, "-q", "--junit", "/nonexistent/corun-dir/j.xml", job);
  assert_usage_error(p, "cannot write the JUnit report");
  assert_has(p->err, "/nonexistent/corun-dir/j.xml");
  proc_free(p);
  cr_assert_neq(access(same, F_OK), 0, "%s was written", same);

  free(same);
  free(job);
  rm_scratch(dir, (const char *const[]){"job.json", NULL});
}

Test(junit, help_lists_it)
{
  struct proc *p = CLI(NULL, "--help");

  cr_assert_eq(p->status, 0);
  assert_has(p->out, "--junit FILE");
  proc_free(p);
}

/* --- runs that do not end by themselves ----------------------------------- */

static const char long_job[] =
    "{\"name\": \"long\", \"tasks\": [\n"
    " {\"id\": \"done\", \"kind\": \"sleep\", \"seconds\": 0},\n"
    " {\"id\": \"group\", \"kind\": \"gather\", \"tasks\": [\n"
    "   {\"id\": \"nap\", \"kind\": \"sleep\", \"seconds\": 30}]},\n"
    " {\"id\": \"sig\", \"kind\": \"exec\", \"shell\": \"${cmd}\"}\n"
    "]}\n";

Test(junit, written_when_the_whole_run_times_out)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(dir, "job.json", long_job);
  char *xml = path_join(dir, "out.xml");
  char *doc, *c;
  struct proc *p;
  size_t len;

  p = CLI(NULL, "-q", "--timeout", "200ms", "--var", "cmd=sleep 30", "--junit",
          xml, job);
  cr_assert_eq(p->status, 124, "exit %d, stderr: %s", p->status, p->err);
  cr_assert_lt(p->wall, 10.0);
  proc_free(p);
  assert_valid(xml);
  doc = slurp_file(xml, &len);
  assert_no_forbidden_bytes(doc, len);
  /* done, nap, sig, and the run's own case, which never reads passed. */
  assert_has(doc, "tests=\"4\" failures=\"0\" errors=\"1\" skipped=\"2\"");
  c = case_of(doc, "nap");
  assert_has(c, "<skipped message=\"cancelled: the run&apos;s --timeout "
                "expired\"/>");
  free(c);
  assert_lacks(doc, "<testcase name=\"group\"");
  c = case_of(doc, "corun");
  assert_has(c, "classname=\"long\"");
  assert_has(c, "<error type=\"timeout\" message=\"the run&apos;s --timeout "
                "expired");
  free(c);
  cr_assert(strstr(doc, "<testcase name=\"corun\"") >
                strstr(doc, "<testcase name=\"sig\""),
            "the run's case comes last:\n%s", doc);
  c = case_of(doc, "done");
  assert_has(c, "/>");
  free(c);
  free(doc);
  free(xml);
  free(job);
  rm_scratch(dir, (const char *const[]){"job.json", "out.xml", NULL});
}

Test(junit, written_when_interrupted)
{
  char *dir = tmp_dir("junit");
  char *job = put_file(dir, "job.json", long_job);
  char *xml = path_join(dir, "out.xml");
  char *doc, *c;
  struct proc *p;

  /* The exec's shell is corun's child: it interrupts its parent. */
  p = CLI(NULL, "-q", "--var", "cmd=sleep 0.1; kill -INT $PPID; sleep 30",
          "--junit", xml, job);
  cr_assert_eq(p->status, 130, "exit %d, stderr: %s", p->status, p->err);
  cr_assert_lt(p->wall, 10.0);
  proc_free(p);
  assert_valid(xml);
  doc = slurp_file(xml, NULL);
  c = case_of(doc, "nap");
  assert_has(c, "<skipped message=\"cancelled: interrupted (SIGINT)\"/>");
  free(c);
  c = case_of(doc, "sig");
  assert_has(c, "<skipped message=\"cancelled: interrupted (SIGINT)\"/>");
  free(c);
  assert_has(doc, "tests=\"4\" failures=\"0\" errors=\"1\" skipped=\"2\"");
  c = case_of(doc, "corun");
  assert_has(c, "<error type=\"interrupted\" message=\"the run was "
                "interrupted by SIGINT");
  free(c);
  free(doc);
  free(xml);
  free(job);
  rm_scratch(dir, (const char *const[]){"job.json", "out.xml", NULL});
}

/* --- the library call and the schema itself ------------------------------- */

/* Every control character in a message, through corun_report_junit(). */
Test(junit, library_report_escapes_every_control_character)
{
  struct corun_buf msg = CORUN_BUF_INIT, out = CORUN_BUF_INIT;
  struct result *r;
  char *path, *said;
  int c;

  corun_buf_puts(&msg, "{\"tasks\": [{\"id\": \"all\", \"kind\": \"sleep\", "
                       "\"seconds\": 0, \"fail\": \"");
  for (c = 1; c < 0x20; c++)
    corun_buf_printf(&msg, "\\u%04x", c);
  corun_buf_puts(&msg, "\\u007f end\"}]}");
  r = run_job(corun_buf_str(&msg), NULL);
  corun_report_junit(r->run, &out);
  cr_assert(!out.oom);
  assert_no_forbidden_bytes(out.p, out.len);
  assert_has(out.p, "message=\"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08&#9;"
                    "&#10;\\x0b\\x0c&#13;\\x0e");
  assert_has(out.p, "\\x1e\\x1f\x7f end\"");
  path = write_temp("lib.xml", out.p);
  cr_assert_eq(xmllint(path, &said), 0, "%s\n%s", said, out.p);
  free(said);
  unlink(path);
  *strrchr(path, '/') = '\0';
  rmdir(path);
  free(path);
  corun_buf_free(&out);
  corun_buf_free(&msg);
  result_free(r);
}

/* The XSD is not a rubber stamp: it rejects what readers would choke on. */
Test(junit, schema_rejects_malformed_reports)
{
  static const char *const bad[] = {
      /* time not a decimal */
      "<testsuites><testsuite name=\"j\" tests=\"1\"><testcase name=\"a\" "
      "time=\"5ms\"/></testsuite></testsuites>",
      /* a testcase without a name */
      "<testsuites><testsuite name=\"j\" tests=\"1\"><testcase "
      "classname=\"j\"/></testsuite></testsuites>",
      /* output before the failure */
      "<testsuites><testsuite name=\"j\"><testcase name=\"a\"><system-out>x"
      "</system-out><failure type=\"t\"/></testcase></testsuite>"
      "</testsuites>",
      /* a failure without a type */
      "<testsuites><testsuite name=\"j\"><testcase name=\"a\"><failure "
      "message=\"m\"/></testcase></testsuite></testsuites>",
      /* a count that is not one */
      "<testsuites><testsuite name=\"j\" failures=\"-1\"/></testsuites>",
      /* a testcase outside any suite */
      "<testsuites><testcase name=\"a\"/></testsuites>",
      /* a time stamp that is not one */
      "<testsuites><testsuite name=\"j\" timestamp=\"yesterday\"/>"
      "</testsuites>",
      /* a control character as a reference: not XML 1.0 at all */
      "<testsuites><testsuite name=\"j\"><testcase name=\"a&#1;\"/>"
      "</testsuite></testsuites>",
      NULL};
  const char *good = "<testsuites><testsuite name=\"j\" tests=\"1\" "
                     "timestamp=\"2026-11-24T00:00:00.000Z\"><properties>"
                     "<property name=\"k\" value=\"v\"/></properties>"
                     "<testcase name=\"a\" classname=\"j\" time=\"0.250\">"
                     "<skipped message=\"m\"/><system-out>o</system-out>"
                     "<system-err>e</system-err></testcase><system-out>s"
                     "</system-out></testsuite></testsuites>";
  char *path, *said;
  size_t i;

  path = write_temp("good.xml", good);
  cr_assert_eq(xmllint(path, &said), 0, "the schema rejects:\n%s\n%s", good,
               said);
  free(said);
  unlink(path);
  *strrchr(path, '/') = '\0';
  rmdir(path);
  free(path);
  for (i = 0; bad[i]; i++) {
    path = write_temp("bad.xml", bad[i]);
    cr_expect_neq(xmllint(path, &said), 0, "the schema accepts:\n%s", bad[i]);
    free(said);
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
    free(path);
  }
}
