/* SPDX-License-Identifier: MIT */
/*
 * The HTML report (--html): one file that needs nothing else, network
 * included (its style and script are inline), for a person who wants to
 * see what a run did.
 *
 * Static HTML, readable without JavaScript: the summary, the root causes
 * with their whole messages, every task that did not end ok, the critical
 * path and each pipeline's stages. The timeline of every task is drawn by
 * the inline script from a JSON copy of the tasks: it draws only the rows
 * in view once there are many, so a run of 10,000 tasks or more scrolls
 * as easily as one of ten, and filters by status and text.
 *
 * Every piece of task text goes through the secrets' redaction the JSON
 * report uses, then HTML (or script-safe JSON) escaping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corun.h"
#include "report/report.h"
#include "core/common.h"
#include "core/job.h"
#include "core/kind.h"
#include "core/run.h"
#include "core/task.h"

/* Characters of a message a failure's row and a timeline tooltip show. */
#define MSG_SHORT 300

/* What the reports call a task: its id, until tasks get display names. */
/* Its "name", or its id (core/common.c decides, as for every report). */
static const char *display_name(const struct corun_task *t)
{
  return corun__task_name(t->run ? t->run->job : NULL, t);
}

static int ran(const struct corun_task *t)
{
  return t->t_start != CORUN_NO_TIME && t->t_end != CORUN_NO_TIME;
}

/*
 * s (n bytes, already redacted) as HTML text: markup characters as
 * references, bytes that are not UTF-8 and control characters other than
 * tab and line breaks as U+FFFD. At most max characters (0: all), "..."
 * marking a cut.
 */
static void put_escaped(struct corun_buf *out, const char *s, size_t n,
                        size_t max)
{
  const unsigned char *p = (const unsigned char *)s, *e = p + n;
  size_t used = 0, bad, k;

  while (p < e) {
    if (max && used++ == max) {
      corun_buf_puts(out, "...");
      return;
    }
    k = corun__utf8_seq(p, (size_t)(e - p), &bad);
    if (k == 0) {
      corun_buf_puts(out, "\xef\xbf\xbd");
      p += bad;
      continue;
    }
    if (k > 1) {
      corun_buf_add(out, p, k);
      p += k;
      continue;
    }
    switch (*p) {
    case '&':
      corun_buf_puts(out, "&amp;");
      break;
    case '<':
      corun_buf_puts(out, "&lt;");
      break;
    case '>':
      corun_buf_puts(out, "&gt;");
      break;
    case '"':
      corun_buf_puts(out, "&quot;");
      break;
    case '\'':
      corun_buf_puts(out, "&#39;");
      break;
    default:
      if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f)
        corun_buf_puts(out, "\xef\xbf\xbd");
      else
        corun_buf_putc(out, (char)*p);
    }
    p++;
  }
}

/* Task text (an id, a message): redacted, then escaped. */
static void put_text(struct corun_buf *out, const char *s,
                     const struct corun_secrets *sec, size_t max)
{
  struct corun_buf red = CORUN_BUF_INIT;

  corun_secrets_redact(sec, s ? s : "", s ? strlen(s) : 0, &red);
  if (red.oom)
    out->oom = 1;
  put_escaped(out, corun_buf_str(&red), red.len, max);
  corun_buf_free(&red);
}

/*
 * JSON text inside <script>: "<", ">" and "&" (which occur only inside
 * its strings) as \u escapes, so no task text can close the element.
 */
static void put_script_json(struct corun_buf *out, const struct corun_buf *j)
{
  size_t i, run = 0;

  if (j->oom)
    out->oom = 1;
  for (i = 0; i < j->len; i++) {
    const char *rep = j->p[i] == '<'   ? "\\u003c"
                      : j->p[i] == '>' ? "\\u003e"
                      : j->p[i] == '&' ? "\\u0026"
                                       : NULL;

    if (rep == NULL)
      continue;
    corun_buf_add(out, j->p + run, i - run);
    corun_buf_puts(out, rep);
    run = i + 1;
  }
  corun_buf_add(out, j->p + run, j->len - run);
}

static void put_secs(struct corun_buf *out, double secs)
{
  char d[32];

  corun__fmt_duration(secs, d, sizeof(d));
  corun_buf_puts(out, d);
}

static const char *status_name(const struct corun_task *t)
{
  return corun__task_status_name((enum corun_status)t->status);
}

/* The task's position in the job's list, or -1. */
static long index_of(const struct corun_job *job, const struct corun_task *t)
{
  if (t && t->index < job->ntasks && job->tasks[t->index] == t)
    return (long)t->index;
  return -1;
}

static unsigned depth_of(const struct corun_task *t)
{
  unsigned d = 0;

  for (t = t->parent; t; t = t->parent)
    d++;
  return d;
}

/* ---- the critical path ------------------------------------------------ */

enum link { LINK_FIRST, LINK_AFTER, LINK_PARENT };

struct crit {
  const struct corun_task **v; /* first to last */
  enum link *how;              /* what v[i] waited for to start: */
  const struct corun_task **why; /* that "after" task, or its parent */
  size_t n;
};

/* Ends later than b; at the same time, the deeper (later in the file). */
static int ends_later(const struct corun_task *a, const struct corun_task *b)
{
  if (b == NULL)
    return 1;
  if (a->t_end != b->t_end)
    return a->t_end > b->t_end;
  return a->index > b->index;
}

/*
 * From t down to the descendant whose end t's end waited for: a child that
 * ended after t (shielded, or let go by a won race) was not waited for.
 */
static const struct corun_task *last_inside(const struct corun_task *t)
{
  for (;;) {
    const struct corun_task *best = NULL;
    uint32_t i;

    for (i = 0; i < t->nchildren; i++)
      if (ran(t->children[i]) && t->children[i]->t_end <= t->t_end &&
          ends_later(t->children[i], best))
        best = t->children[i];
    if (best == NULL)
      return t;
    t = best;
  }
}

/*
 * The chain of tasks that set the run's length: from the task that ended
 * last (inside a container, the child it waited for), back through what
 * each one waited for to start: the "after" task that ended last, when it
 * ended once the parent had started, else the parent that started it.
 * Walked backwards, then turned around. Each task is taken once.
 */
static int critical_path(const struct corun_job *job, struct crit *c)
{
  const struct corun_task *t = NULL;
  unsigned char *seen;
  size_t i, cap = 16;

  memset(c, 0, sizeof(*c));
  for (i = 0; i < job->ntasks; i++)
    if (ran(job->tasks[i]) && ends_later(job->tasks[i], t))
      t = job->tasks[i];
  if (t == NULL)
    return 0;
  seen = calloc(job->ntasks, 1);
  c->v = malloc(cap * sizeof(*c->v));
  c->how = malloc(cap * sizeof(*c->how));
  c->why = malloc(cap * sizeof(*c->why));
  if (seen == NULL || c->v == NULL || c->how == NULL || c->why == NULL)
    goto oom;
  t = last_inside(t);
  while (t) {
    const struct corun_task *prev = NULL, *a = NULL;
    enum link how = LINK_FIRST;
    long at = index_of(job, t);

    if (at < 0 || seen[at])
      break;
    seen[at] = 1;
    if (c->n == cap) {
      const struct corun_task **nv, **nw;
      enum link *nh;

      cap *= 2;
      nv = realloc(c->v, cap * sizeof(*nv));
      if (nv == NULL)
        goto oom;
      c->v = nv;
      nh = realloc(c->how, cap * sizeof(*nh));
      if (nh == NULL)
        goto oom;
      c->how = nh;
      nw = realloc(c->why, cap * sizeof(*nw));
      if (nw == NULL)
        goto oom;
      c->why = nw;
    }
    for (i = 0; t->deps && i < t->deps->nafter; i++)
      if (ran(t->deps->after[i]) && ends_later(t->deps->after[i], a))
        a = t->deps->after[i];
    if (a && (t->parent == NULL || t->parent->t_start == CORUN_NO_TIME ||
              a->t_end >= t->parent->t_start)) {
      how = LINK_AFTER;
      c->why[c->n] = a;
      /* A container ended with what it waited for: go on from there. */
      prev = last_inside(a);
    } else if (t->parent) {
      how = LINK_PARENT;
      c->why[c->n] = prev = t->parent;
    } else {
      c->why[c->n] = NULL;
    }
    c->v[c->n] = t;
    c->how[c->n++] = how;
    t = prev;
  }
  free(seen);
  /* Backwards to forwards; how[i] and why[i] stay with their task. */
  for (i = 0; i < c->n / 2; i++) {
    size_t k = c->n - 1 - i;
    const struct corun_task *x = c->v[i], *w = c->why[i];
    enum link h = c->how[i];

    c->v[i] = c->v[k];
    c->v[k] = x;
    c->how[i] = c->how[k];
    c->how[k] = h;
    c->why[i] = c->why[k];
    c->why[k] = w;
  }
  return 0;
oom:
  free(seen);
  free(c->v);
  free(c->how);
  free(c->why);
  memset(c, 0, sizeof(*c));
  return -1;
}

/* ---- the page ---------------------------------------------------------- */

static const char style[] =
    ":root{--ok:#2e7d32;--failed:#c62828;--timeout:#8e24aa;"
    "--cancelled:#ef6c00;--skipped:#757575;--queued:#b0bec5;"
    "--fg:#1b1f23;--muted:#5f6b76;--line:#dde1e5;--bg:#fff}\n"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;"
    "padding:16px 24px;max-width:1600px}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;"
    "border-bottom:1px solid var(--line);padding-bottom:4px}\n"
    "code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"
    "monospace;font-size:12.5px}\n"
    "pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;"
    "background:#f6f8fa;padding:6px 8px;border-radius:4px}\n"
    "table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;"
    "border-bottom:1px solid var(--line);vertical-align:top}"
    "th{font-weight:600;color:var(--muted)}td.n,th.n{text-align:right}\n"
    ".meta{color:var(--muted)}.badge{display:inline-block;padding:0 7px;"
    "border-radius:9px;color:#fff;font-size:12px;font-weight:600}\n"
    ".b-ok{background:var(--ok)}.b-failed{background:var(--failed)}"
    ".b-timeout{background:var(--timeout)}.b-cancelled{background:"
    "var(--cancelled)}.b-skipped{background:var(--skipped)}\n"
    ".counts td{font-size:16px}.cause{margin:10px 0;padding-left:10px;"
    "border-left:3px solid var(--failed)}\n"
    "ol.crit li{margin:2px 0}.none{color:var(--muted);font-style:italic}\n"
    "#filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;"
    "margin:6px 0}#filters label{cursor:pointer}"
    "#tl-search{min-width:260px;padding:3px 6px}\n"
    ".legend span{display:inline-block;margin-right:12px}.legend i{"
    "display:inline-block;width:12px;height:10px;margin-right:4px;"
    "vertical-align:middle}\n"
    "#tl-axis{position:relative;height:18px;margin:0 24px 0 273px;"
    "color:var(--muted);font-size:11px;border-bottom:1px solid var(--line)}"
    "#tl-axis span{position:absolute;transform:translateX(-50%)}\n"
    "#tl-box{position:relative;max-height:70vh;overflow:auto;"
    "border:1px solid var(--line)}#tl-rows{position:relative}\n"
    ".row{position:absolute;left:0;right:0;height:22px;display:flex;"
    "box-sizing:border-box;"
    "border-bottom:1px solid #f0f2f4}.row:hover{background:#f6f8fa}\n"
    ".lab{width:272px;box-sizing:border-box;flex:none;overflow:hidden;"
    "white-space:nowrap;"
    "text-overflow:ellipsis;padding:2px 8px 0 0;font-size:12.5px}\n"
    ".bars{position:relative;flex:1;margin-right:8px}\n"
    ".q,.r,.m{position:absolute;top:5px;height:12px;min-width:1px}"
    ".q{background:repeating-linear-gradient(45deg,var(--queued),"
    "var(--queued) 3px,#eceff1 3px,#eceff1 6px)}.r{border-radius:2px;"
    "overflow:hidden}.m{width:2px;background:var(--skipped)}\n"
    ".st-ok .r{background:var(--ok)}.st-failed .r{background:var(--failed)}"
    ".st-timeout .r{background:var(--timeout)}.st-cancelled .r{background:"
    "var(--cancelled)}.st-skipped .r{background:var(--skipped)}\n"
    ".crit .lab{font-weight:700}.crit .r{outline:2px solid #0d47a1;"
    "outline-offset:1px}\n"
    ".ph{position:absolute;top:0;bottom:0}.p-dns{background:#4fc3f7}"
    ".p-connect{background:#ffb74d}.p-tls{background:#ba68c8}"
    ".p-wait{background:#90a4ae}.p-receive{background:#1565c0}\n";

static const char script[] =
    "(function(){'use strict';var t0=performance.now();\n"
    "var D=JSON.parse(document.getElementById('corun-data').textContent);\n"
    "var T=D.tasks,span=Math.max(D.end,1),ROW=22,ALL=500;\n"
    "var $=function(i){return document.getElementById(i);};\n"
    "var box=$('tl-box'),rows=$('tl-rows'),axis=$('tl-axis'),"
    "search=$('tl-search'),crit=$('tl-crit'),count=$('tl-count');\n"
    "var shown=[],want={},drawn=[-1,-1];\n"
    "function fmt(us){var s=us/1e6;if(s<1)return Math.round(s*1000)+'ms';"
    "if(s<60)return s.toFixed(2)+'s';var m=Math.floor(s/60);"
    "if(m<60)return m+'m'+('0'+Math.floor(s%60)).slice(-2)+'s';"
    "return Math.floor(m/60)+'h'+('0'+m%60).slice(-2)+'m';}\n"
    "function pc(us){return (us/span*100).toFixed(4)+'%';}\n"
    "function el(tag,cls){var e=document.createElement(tag);"
    "if(cls)e.className=cls;return e;}\n"
    "function tip(t){var s=(t[14]||t[0])+' ('+t[1]+'): '+t[3];"
    "if(t[14])s+='\\nid: '+t[0];"
    "if(t[5]!==null&&t[6]!==null&&t[6]>t[5])s+='\\nqueued '+fmt(t[6]-t[5]);"
    "if(t[6]!==null)s+='\\nstart '+fmt(t[6])+', ran '+fmt(t[7]-t[6]);"
    "if(t[8]>1)s+='\\nattempts '+t[8];if(t[12])s+='\\npid '+t[12];"
    "if(t[11]){var n=['dns','connect','tls','ttfb','total'];"
    "s+='\\n'+n.map(function(k,i){return k+' '+fmt(t[11][i]);}).join(', ');}"
    "if(t[9])s+='\\n'+t[9]+': '+t[10];return s;}\n"
    "function phases(r,t){var p=t[11],len=t[7]-t[6];if(!p||len<=0)return;"
    "var b=Math.max(t[7]-p[4],t[6])-t[6],"
    "e=[0,p[0],p[1],p[2]>p[1]?p[2]:p[1],p[3],p[4]],"
    "n=['dns','connect','tls','wait','receive'];"
    "for(var i=0;i<5;i++){var a=b+e[i],z=Math.min(b+e[i+1],len);"
    "if(z<=a)continue;var s=el('i','ph p-'+n[i]);"
    "s.style.left=(a/len*100)+'%';s.style.width=((z-a)/len*100)+'%';"
    "r.appendChild(s);}}\n"
    "function row(i,k){var t=T[i],r=el('div','row st-'+t[3]+"
    "(t[13]?' crit':''));r.style.top=(k*ROW)+'px';r.title=tip(t);"
    "var l=el('div','lab');l.style.paddingLeft=(t[4]*14+6)+'px';"
    "l.textContent=t[14]||t[0];r.appendChild(l);var b=el('div','bars');"
    "if(t[5]!==null&&t[6]!==null&&t[6]>t[5]){var q=el('div','q');"
    "q.style.left=pc(t[5]);q.style.width=pc(t[6]-t[5]);b.appendChild(q);}"
    "if(t[6]!==null){var x=el('div','r');x.style.left=pc(t[6]);"
    "x.style.width=pc(t[7]-t[6]);phases(x,t);b.appendChild(x);}"
    "else if(t[7]!==null){var m=el('div','m');m.style.left=pc(t[7]);"
    "b.appendChild(m);}r.appendChild(b);return r;}\n"
    "function draw(force){var a=0,z=shown.length;if(z>ALL){"
    "a=Math.max(0,Math.floor(box.scrollTop/ROW)-20);"
    "z=Math.min(shown.length,a+Math.ceil(box.clientHeight/ROW)+40);}"
    "if(!force&&a===drawn[0]&&z===drawn[1])return;drawn=[a,z];"
    "var f=document.createDocumentFragment();"
    "for(var k=a;k<z;k++)f.appendChild(row(shown[k],k));"
    "rows.textContent='';rows.appendChild(f);}\n"
    "function filter(){var q=search.value.trim().toLowerCase(),"
    "c=crit.checked;shown=[];for(var i=0;i<T.length;i++){var t=T[i];"
    "if(!want[t[3]]||(c&&!t[13]))continue;if(q&&(t[0]+' '+(t[14]||'')+' '"
    "+t[1]+' '+t[9]+' '+t[10]).toLowerCase().indexOf(q)<0)continue;"
    "shown.push(i);}count.textContent=shown.length+' of '+T.length+"
    "' tasks';rows.style.height=(shown.length*ROW)+'px';draw(true);}\n"
    "var boxes=document.querySelectorAll('#filters input[type=checkbox]"
    "[data-status]');\n"
    "Array.prototype.forEach.call(boxes,function(b){"
    "want[b.getAttribute('data-status')]=b.checked;"
    "b.addEventListener('change',function(){"
    "want[b.getAttribute('data-status')]=b.checked;filter();});});\n"
    /* A link may carry filters: #status=failed,timeout&q=api&critical */
    "location.hash.slice(1).split('&').forEach(function(kv){"
    "var i=kv.indexOf('='),k=i<0?kv:kv.slice(0,i),v='';"
    "try{v=decodeURIComponent(i<0?'':kv.slice(i+1));}catch(e){return;}"
    "if(k==='q')search.value=v;else if(k==='critical')crit.checked=true;"
    "else if(k==='status')Array.prototype.forEach.call(boxes,function(b){"
    "var s=b.getAttribute('data-status');"
    "b.checked=want[s]=v.split(',').indexOf(s)>=0;});});\n"
    "crit.addEventListener('change',filter);"
    "search.addEventListener('input',filter);\n"
    "var busy=false;box.addEventListener('scroll',function(){"
    "if(busy||shown.length<=ALL)return;busy=true;"
    "requestAnimationFrame(function(){busy=false;draw(false);});});\n"
    "for(var k=0;k<=5;k++){var s=el('span');s.style.left=(k*20)+'%';"
    "s.textContent=fmt(span*k/5);axis.appendChild(s);}\n"
    "$('timeline').hidden=false;filter();\n"
    /* How long the first drawing took, for whoever measures it. */
    "document.body.setAttribute('data-render-ms',"
    "Math.round(performance.now()-t0));\n"
    "})();\n";

static const char *const statuses[] = {"ok", "failed", "timeout", "cancelled",
                                       "skipped"};

static void head(const struct corun_run *run, const char *state,
                 struct corun_buf *out)
{
  const struct corun_job *job = run->job;

  corun_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                      "<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width,"
                      "initial-scale=1\">\n"
                      "<meta name=\"generator\" content=\"corun ");
  corun_buf_puts(out, corun_version());
  corun_buf_puts(out, "\">\n<title>corun: ");
  put_text(out, job->name, &job->secrets, 0);
  corun_buf_printf(out, " (%s)</title>\n<style>\n%s</style>\n</head>\n"
                        "<body>\n",
                   state, style);
}

static void summary(const struct corun_run *run, const char *state,
                    const unsigned *counts, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  time_t secs = (time_t)run->started_wall;
  struct tm tm;
  char stamp[32];
  size_t i;

  gmtime_r(&secs, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", &tm);
  corun_buf_puts(out, "<header id=\"summary\">\n<h1>");
  put_text(out, job->name, &job->secrets, 0);
  corun_buf_printf(out, " <span class=\"badge b-%s\" id=\"run-status\">%s"
                        "</span></h1>\n<p class=\"meta\">",
                   strcmp(state, "ok") == 0 ? "ok"
                   : strcmp(state, "failed") == 0 ? "failed"
                                                  : "cancelled",
                   state);
  if (run->exit_code >= 0)
    corun_buf_printf(out, "exit status %d, ", run->exit_code);
  corun_buf_printf(out, "%zu task%s, started %s, took ", job->ntasks,
                   job->ntasks == 1 ? "" : "s", stamp);
  put_secs(out, corun__secs(run->finished ? run->end_ns : corun__now_ns(run)));
  corun_buf_puts(out, "</p>\n<table class=\"counts\" id=\"counts\">\n<tr>");
  for (i = 0; i < 5; i++)
    corun_buf_printf(out, "<th class=\"n\">%s</th>", statuses[i]);
  corun_buf_puts(out, "<th class=\"n\">total</th></tr>\n<tr>");
  for (i = 0; i < 5; i++)
    corun_buf_printf(out, "<td class=\"n\" data-status=\"%s\">%u</td>",
                     statuses[i], counts[CORUN_STATUS_OK + i]);
  corun_buf_printf(out, "<td class=\"n\">%zu</td></tr>\n</table>\n"
                        "<p class=\"meta\"><a href=\"#causes\">root causes"
                        "</a> &middot; <a href=\"#timeline\">timeline</a> "
                        "&middot; <a href=\"#critical\">critical path</a> "
                        "&middot; <a href=\"#pipelines\">pipelines</a> "
                        "&middot; <a href=\"#failures\">tasks not ok</a>"
                        "</p>\n"
                        "</header>\n",
                   job->ntasks);
}

/* The root causes first, each with its whole message. */
static void causes(const struct corun_job *job, struct corun_buf *out)
{
  const struct corun_secrets *sec = &job->secrets;
  struct corun_buf resp = CORUN_BUF_INIT;
  size_t i, n = 0;

  corun_buf_puts(out, "<section id=\"causes\">\n<h2>Root causes</h2>\n");
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];

    if (!corun__report_root_cause(t))
      continue;
    n++;
    corun_buf_puts(out, "<div class=\"cause\"><b class=\"mono\">");
    put_text(out, display_name(t), sec, 0);
    corun_buf_printf(out, "</b> (%s) <span class=\"badge b-%s\">%s</span> "
                          "<code>%s</code>\n<pre class=\"msg\">",
                     t->kind->name, status_name(t), status_name(t),
                     corun_errtype_name((enum corun_errtype)t->err_type));
    put_text(out, t->err_msg, sec, 0);
    corun_buf_puts(out, "</pre>\n");
    corun_buf_reset(&resp);
    if (corun__report_response(t, sec, &resp)) {
      corun_buf_puts(out, "<pre class=\"response\">");
      /* Redacted already: only escaped here. */
      put_escaped(out, corun_buf_str(&resp), resp.len, 0);
      corun_buf_puts(out, "</pre>\n");
    }
    corun_buf_puts(out, "</div>\n");
  }
  if (resp.oom)
    out->oom = 1;
  corun_buf_free(&resp);
  if (n == 0)
    corun_buf_puts(out, "<p class=\"none\">None: no task failed the run on "
                        "its own.</p>\n");
  corun_buf_puts(out, "</section>\n");
}

/* Every task that did not end ok, in file order. */
static void failures(const struct corun_job *job, struct corun_buf *out)
{
  const struct corun_secrets *sec = &job->secrets;
  size_t i, n = 0;

  corun_buf_puts(out, "<section id=\"failures\">\n<h2>Tasks not ok</h2>\n");
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];

    if (t->status == CORUN_STATUS_OK)
      continue;
    if (n++ == 0)
      corun_buf_puts(out, "<table id=\"failures-table\">\n<tr><th>task</th>"
                          "<th>kind</th><th>status</th><th>error</th>"
                          "<th>parent</th><th class=\"n\">duration</th>"
                          "<th>message</th></tr>\n");
    corun_buf_printf(out, "<tr class=\"st-%s\"><td class=\"mono\">",
                     status_name(t));
    put_text(out, display_name(t), sec, 0);
    corun_buf_printf(out, "</td><td>%s</td><td><span class=\"badge b-%s\">%s"
                          "</span></td><td><code>%s</code></td>"
                          "<td class=\"mono\">",
                     t->kind->name, status_name(t), status_name(t),
                     corun_errtype_name((enum corun_errtype)t->err_type));
    if (t->parent)
      put_text(out, display_name(t->parent), sec, 0);
    corun_buf_puts(out, "</td><td class=\"n\">");
    if (ran(t))
      put_secs(out, corun__secs(t->t_end - t->t_start));
    else
      corun_buf_puts(out, "-");
    corun_buf_puts(out, "</td><td>");
    put_text(out, t->err_msg, sec, MSG_SHORT);
    corun_buf_puts(out, "</td></tr>\n");
  }
  if (n)
    corun_buf_puts(out, "</table>\n");
  else
    corun_buf_puts(out, "<p class=\"none\">None: every task ended ok.</p>\n");
  corun_buf_puts(out, "</section>\n");
}

static void critical(const struct corun_run *run, const struct crit *c,
                     struct corun_buf *out)
{
  const struct corun_secrets *sec = &run->job->secrets;
  size_t i;

  corun_buf_puts(out, "<section id=\"critical\">\n<h2>Critical path</h2>\n");
  if (c->n == 0) {
    corun_buf_puts(out, "<p class=\"none\">No task ran.</p>\n</section>\n");
    return;
  }
  corun_buf_puts(out, "<p class=\"meta\">The chain of tasks that set the "
                      "run's length: from the task that ended last, back "
                      "through the task each one waited for to start.</p>\n"
                      "<ol class=\"crit\" id=\"critical-list\">\n");
  for (i = 0; i < c->n; i++) {
    const struct corun_task *t = c->v[i];

    corun_buf_puts(out, "<li><b class=\"mono\">");
    put_text(out, display_name(t), sec, 0);
    corun_buf_printf(out, "</b> (%s) <span class=\"badge b-%s\">%s</span> ",
                     t->kind->name, status_name(t), status_name(t));
    put_secs(out, corun__secs(t->t_start));
    corun_buf_puts(out, " &rarr; ");
    put_secs(out, corun__secs(t->t_end));
    corun_buf_puts(out, " (");
    put_secs(out, corun__secs(t->t_end - t->t_start));
    /* Below a millisecond it is only the scheduler's own turn. */
    if (t->t_ready != CORUN_NO_TIME && t->t_start >= t->t_ready + 1000000) {
      corun_buf_puts(out, ", queued ");
      put_secs(out, corun__secs(t->t_start - t->t_ready));
    }
    corun_buf_puts(out, ")");
    if (c->how[i] != LINK_FIRST) {
      corun_buf_puts(out, c->how[i] == LINK_AFTER
                              ? " <span class=\"meta\">after "
                              : " <span class=\"meta\">started by ");
      put_text(out, display_name(c->why[i]), sec, 0);
      corun_buf_puts(out, "</span>");
    }
    corun_buf_puts(out, "</li>\n");
  }
  corun_buf_puts(out, "</ol>\n</section>\n");
}

/*
 * t's result as the JSON report has it (redacted), parsed back: what a
 * kind with its own result writer tells is only there. NULL when none.
 */
static cJSON *result_of(const struct corun_task *t,
                        const struct corun_secrets *sec, struct corun_buf *j,
                        int *oom)
{
  cJSON *v;

  corun_buf_reset(j);
  corun__task_write_result(t, sec, j);
  if (j->oom) {
    *oom = 1;
    return NULL;
  }
  v = cJSON_ParseWithLength(corun_buf_str(j), j->len);
  if (v == NULL && j->len > 0)
    *oom = 1; /* what corun writes is JSON: only memory can fail here */
  return v;
}

static double num(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void put_pct(struct corun_buf *out, const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

  if (cJSON_IsNumber(v))
    put_secs(out, v->valuedouble);
  else
    corun_buf_puts(out, "-");
}

/* Each pipeline as its stages and counts, from its result. */
static void pipelines(const struct corun_job *job, struct corun_buf *out)
{
  const struct corun_secrets *sec = &job->secrets;
  struct corun_buf j = CORUN_BUF_INIT;
  size_t i, n = 0;
  int oom = 0;

  corun_buf_puts(out, "<section id=\"pipelines\">\n<h2>Pipelines</h2>\n");
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    const cJSON *stages, *st;
    cJSON *r;
    int k = 0;

    /* Containers of items, not of tasks of the job: pipelines. */
    if (!corun__kind_is_container(t->kind) || t->kind->parent ||
        t->kind->result == NULL || t->t_start == CORUN_NO_TIME)
      continue;
    r = result_of(t, sec, &j, &oom);
    stages = cJSON_GetObjectItemCaseSensitive(r, "stages");
    if (!cJSON_IsArray(stages)) {
      cJSON_Delete(r);
      continue;
    }
    n++;
    corun_buf_puts(out, "<div class=\"pipeline\"><h3><span class=\"mono\">");
    put_text(out, display_name(t), sec, 0);
    corun_buf_printf(out, "</span> <span class=\"badge b-%s\">%s</span></h3>\n"
                          "<p>%.0f items: %.0f ok, %.0f failed, %.0f "
                          "cancelled</p>\n<table class=\"stages\">\n<tr>"
                          "<th>stage</th><th class=\"n\">processed</th>"
                          "<th class=\"n\">failed</th><th class=\"n\">queue "
                          "max</th><th class=\"n\">p50</th><th class=\"n\">"
                          "p90</th><th class=\"n\">p99</th><th class=\"n\">"
                          "items/s</th></tr>\n",
                     status_name(t), status_name(t), num(r, "items"),
                     num(r, "ok"), num(r, "failed"), num(r, "cancelled"));
    cJSON_ArrayForEach(st, stages)
    {
      corun_buf_printf(out, "<tr><td>%d</td><td class=\"n\">%.0f</td>"
                            "<td class=\"n\">%.0f</td><td class=\"n\">%.0f"
                            "</td><td class=\"n\">",
                       ++k, num(st, "processed"), num(st, "failed"),
                       num(st, "queue_max"));
      put_pct(out, st, "p50");
      corun_buf_puts(out, "</td><td class=\"n\">");
      put_pct(out, st, "p90");
      corun_buf_puts(out, "</td><td class=\"n\">");
      put_pct(out, st, "p99");
      corun_buf_printf(out, "</td><td class=\"n\">%.1f</td></tr>\n",
                       num(st, "items_per_s"));
    }
    corun_buf_puts(out, "</table></div>\n");
    cJSON_Delete(r);
  }
  if (n == 0)
    corun_buf_puts(out, "<p class=\"none\">None in this job.</p>\n");
  corun_buf_puts(out, "</section>\n");
  if (oom)
    out->oom = 1;
  corun_buf_free(&j);
}

static void put_us(struct corun_buf *j, uint64_t ns)
{
  if (ns == CORUN_NO_TIME)
    corun_buf_puts(j, "null");
  else
    corun_buf_printf(j, "%llu", (unsigned long long)((ns + 500) / 1000));
}

/* What the timeline draws of a fetch (curl's phases) or a command (pid). */
static void extras(const struct corun_task *t, const struct corun_secrets *sec,
                   struct corun_buf *scratch, struct corun_buf *j, int *oom)
{
  static const char *const names[] = {"dns", "connect", "tls", "ttfb",
                                      "total"};
  const cJSON *res = t->result, *timings, *pid;
  cJSON *parsed = NULL;
  double ph[5];
  int i;

  /* A kind with its own writer keeps its result elsewhere. */
  if (t->kind->leaf && t->kind->result && ran(t))
    res = parsed = result_of(t, sec, scratch, oom);
  timings = cJSON_GetObjectItemCaseSensitive(res, "timings");
  if (cJSON_IsObject(timings)) {
    corun_buf_putc(j, '[');
    for (i = 0; i < 5; i++)
      corun_buf_printf(j, "%s%.0f", i ? "," : "",
                       num(timings, names[i]) * 1e6);
    corun_buf_putc(j, ']');
  } else if (t->kind->phases && t->kind->phases(t, ph)) {
    /* A failed answer has no result, but its phases are known. */
    corun_buf_putc(j, '[');
    for (i = 0; i < 5; i++)
      corun_buf_printf(j, "%s%.0f", i ? "," : "", ph[i] * 1e6);
    corun_buf_putc(j, ']');
  } else {
    corun_buf_putc(j, '0');
  }
  pid = cJSON_GetObjectItemCaseSensitive(res, "pid");
  if (t->kind->pid && t->kind->pid(t) > 0)
    corun_buf_printf(j, ",%d", t->kind->pid(t));
  else if (cJSON_IsNumber(pid))
    corun_buf_printf(j, ",%.0f", pid->valuedouble);
  else
    corun_buf_puts(j, ",0");
  cJSON_Delete(parsed);
}

/*
 * The timeline's data: one array per task, times in microseconds since
 * the run began: [id, kind, parent index, status, depth, ready, start,
 * end, attempts, error type, message start, fetch phases or 0, pid or 0,
 * on the critical path, display name when not the id]. The script reads
 * it by position.
 */
static void data(const struct corun_run *run, const unsigned char *oncrit,
                 struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  const struct corun_secrets *sec = &job->secrets;
  struct corun_buf j = CORUN_BUF_INIT, scratch = CORUN_BUF_INIT,
                   msg = CORUN_BUF_INIT;
  size_t i;
  int oom = 0;

  corun_buf_puts(out, "<script type=\"application/json\" id=\"corun-data\">"
                      "{\"end\": ");
  corun_buf_reset(&j);
  put_us(&j, run->finished ? run->end_ns : corun__now_ns(run));
  put_script_json(out, &j);
  corun_buf_puts(out, ", \"tasks\": [");
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];

    corun_buf_reset(&j);
    corun_buf_puts(&j, i ? ",\n[" : "\n[");
    corun__json_write_str(&j, t->id, sec);
    corun_buf_printf(&j, ",\"%s\",%ld,\"%s\",%u,", t->kind->name,
                     index_of(job, t->parent), status_name(t), depth_of(t));
    put_us(&j, t->t_ready);
    corun_buf_putc(&j, ',');
    put_us(&j, t->t_start);
    corun_buf_putc(&j, ',');
    put_us(&j, t->t_end);
    corun_buf_printf(&j, ",%u,\"%s\",", t->attempts,
                     t->status == CORUN_STATUS_OK
                         ? ""
                         : corun_errtype_name((enum corun_errtype)t->err_type));
    corun_buf_reset(&msg);
    if (t->err_msg && t->status != CORUN_STATUS_OK) {
      /* Cut after redaction, so no part of a secret is left to show. */
      corun_secrets_redact(sec, t->err_msg, strlen(t->err_msg), &msg);
      if (msg.len > MSG_SHORT) {
        size_t n = MSG_SHORT;

        while (n > 0 && ((unsigned char)msg.p[n] & 0xc0) == 0x80)
          n--;
        msg.len = n;
        msg.p[n] = '\0';
      }
    }
    corun_buf_json_str(&j, corun_buf_str(&msg), msg.len);
    corun_buf_putc(&j, ',');
    extras(t, sec, &scratch, &j, &oom);
    corun_buf_printf(&j, ",%d", oncrit && oncrit[i]);
    if (strcmp(display_name(t), t->id) != 0) {
      corun_buf_putc(&j, ',');
      corun__json_write_str(&j, display_name(t), sec);
    }
    corun_buf_putc(&j, ']');
    if (msg.oom)
      oom = 1;
    put_script_json(out, &j);
  }
  corun_buf_puts(out, "]}</script>\n");
  if (oom || scratch.oom)
    out->oom = 1;
  corun_buf_free(&j);
  corun_buf_free(&scratch);
  corun_buf_free(&msg);
}

static void timeline(const unsigned *counts, struct corun_buf *out)
{
  size_t i;

  corun_buf_puts(out, "<section id=\"timeline\" hidden>\n<h2>Timeline</h2>\n"
                      "<div id=\"filters\" role=\"group\" "
                      "aria-label=\"filters\">\n");
  for (i = 0; i < 5; i++)
    corun_buf_printf(out, "<label><input type=\"checkbox\" data-status=\"%s\""
                          " checked> <span class=\"badge b-%s\">%s</span> %u"
                          "</label>\n",
                     statuses[i], statuses[i], statuses[i],
                     counts[CORUN_STATUS_OK + i]);
  corun_buf_puts(out, "<label><input type=\"checkbox\" id=\"tl-crit\"> "
                      "critical path only</label>\n"
                      "<input type=\"search\" id=\"tl-search\" "
                      "placeholder=\"search ids, kinds, messages\" "
                      "aria-label=\"search\">\n"
                      "<span id=\"tl-count\" class=\"meta\"></span>\n</div>\n"
                      "<p class=\"legend meta\"><span><i class=\"q\" "
                      "style=\"position:static\"></i>queued</span>"
                      "<span><i style=\"background:var(--ok)\"></i>running"
                      "</span><span><i class=\"p-dns\"></i>dns</span>"
                      "<span><i class=\"p-connect\"></i>connect</span>"
                      "<span><i class=\"p-tls\"></i>tls</span>"
                      "<span><i class=\"p-wait\"></i>wait</span>"
                      "<span><i class=\"p-receive\"></i>receive</span>"
                      "<span>bold: on the critical path</span></p>\n"
                      "<div id=\"tl-axis\"></div>\n<div id=\"tl-box\">"
                      "<div id=\"tl-rows\"></div></div>\n</section>\n"
                      "<noscript><p class=\"none\">The timeline needs "
                      "JavaScript; the rest of this page is complete without "
                      "it.</p></noscript>\n");
}

void corun_report_html(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  unsigned counts[CORUN_STATUS_SKIPPED + 1] = {0};
  unsigned char *oncrit = NULL;
  const char *state;
  struct crit c;
  size_t i;
  int roots_ok = 1;

  for (i = 0; i < job->ntasks; i++)
    counts[job->tasks[i]->status]++;
  for (i = 0; i < job->nroots; i++)
    roots_ok &= job->roots[i]->status == CORUN_STATUS_OK;
  /* As the JSON report's "status". */
  state = run->end == CORUN_END_STALLED  ? "failed"
          : run->end != CORUN_END_NORMAL ? "cancelled"
          : roots_ok                     ? "ok"
                                         : "failed";
  if (critical_path(job, &c) < 0)
    out->oom = 1;
  if (c.n && (oncrit = calloc(job->ntasks, 1)) == NULL)
    out->oom = 1;
  for (i = 0; oncrit && i < c.n; i++) {
    long at = index_of(job, c.v[i]);

    if (at >= 0)
      oncrit[at] = 1;
  }
  head(run, state, out);
  summary(run, state, counts, out);
  causes(job, out);
  timeline(counts, out);
  critical(run, &c, out);
  pipelines(job, out);
  failures(job, out);
  /* Last, so everything readable without it shows first. */
  data(run, oncrit, out);
  corun_buf_printf(out, "<script>\n%s</script>\n</body>\n</html>\n", script);
  free(oncrit);
  free(c.v);
  free(c.how);
  free(c.why);
}
