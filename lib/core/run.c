/* SPDX-License-Identifier: MIT */
/*
 * A run: executes a loaded job on the caller's libuv loop and records how
 * it ended. See run.h for the ready queue.
 */
#include "core/run.h"

#include <assert.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/job.h"
#include "core/kind.h"
#include "util/slab.h"

static void drain(uv_idle_t *idle);

uint64_t corun__now_ns(const struct corun_run *run)
{
  return corun__clock_ns(&run->clock);
}

uint64_t corun__now_ms(const struct corun_run *run)
{
  return corun__now_ns(run) / 1000000;
}

void corun__run_enqueue(struct corun_run *run, struct corun_list *link)
{
  if (corun_list_empty(&run->ready) && !run->finished)
    (void)uv_idle_start(&run->idle, drain); /* fails only with no cb */
  corun_list_push(&run->ready, link);
}

/*
 * How long one pass of the ready queue may run before the loop gets a turn:
 * a pipeline of zero-delay tasks keeps the queue full for as long as it
 * runs, and signals, timers and I/O must still be served.
 */
#define DRAIN_SLICE_NS (10 * 1000 * 1000)

static void drain(uv_idle_t *idle)
{
  struct corun_run *run = idle->data;
  struct corun_list *link;
  uint64_t pass_began = uv_hrtime();
  unsigned n = 0;

  /* Work queued while draining runs in this same pass, up to the slice. */
  while ((link = corun_list_shift(&run->ready)) != NULL) {
    corun__clock_tick(&run->clock, &n);
    run->dispatch(link);
    if (n % CORUN_CLOCK_BATCH == 0 && !corun_list_empty(&run->ready) &&
        run->clock.batch_ns - pass_began > DRAIN_SLICE_NS) {
      /* The idle handle stays on: the next pass comes after a poll. */
      corun__clock_batch_end(&run->clock);
      return;
    }
  }
  corun__clock_batch_end(&run->clock);
  uv_idle_stop(&run->idle);
}

void corun__run_observe(struct corun_run *run, struct corun_observer *o)
{
  corun_list_push(&run->observers, &o->link);
}

void *corun__run_kind_state_if(const struct corun_run *run,
                               const struct corun_kind *k)
{
  size_t i;

  for (i = 0; i < run->nkstate; i++)
    if (run->kstate[i].kind == k)
      return run->kstate[i].state;
  return NULL;
}

void *corun__run_kind_state(struct corun_run *run, const struct corun_kind *k,
                            const char **why)
{
  struct corun_kind_state *ks;
  void *state = corun__run_kind_state_if(run, k);

  if (state)
    return state;
  ks = realloc(run->kstate, (run->nkstate + 1) * sizeof(*ks));
  if (ks == NULL) {
    *why = "out of memory";
    return NULL;
  }
  run->kstate = ks;
  if ((state = k->run_open(run, why)) == NULL)
    return NULL;
  ks[run->nkstate].kind = k;
  ks[run->nkstate].state = state;
  run->nkstate++;
  return state;
}

void corun__run_task_ended(struct corun_run *run)
{
  struct corun_list *it;
  size_t i;

  if (--run->active > 0 || run->finished)
    return;
  run->finished = 1;
  run->end_ns = corun__now_ns(run);
  uv_idle_stop(&run->idle);
  uv_timer_stop(&run->timers.uv);
  /* Idle kept-alive connections must not keep the loop running. */
  for (i = 0; i < run->nkstate; i++)
    if (run->kstate[i].kind->run_quiesce)
      run->kstate[i].kind->run_quiesce(run->kstate[i].state);
  for (it = run->observers.next; it != &run->observers; it = it->next) {
    struct corun_observer *o =
        corun_list_entry(it, struct corun_observer, link);

    if (o->run_ended)
      o->run_ended(o, run);
  }
  if (run->opts.finished)
    run->opts.finished(NULL, run->opts.arg);
}

void corun__run_logf(const struct corun_run *run, const char *fmt, ...)
{
  struct corun_buf msg = CORUN_BUF_INIT, b = CORUN_BUF_INIT;
  struct corun_buf red = CORUN_BUF_INIT;
  va_list ap;
  uint64_t ns = run->started ? corun__now_ns(run) : 0;

  if (run->opts.log == NULL)
    return;
  va_start(ap, fmt);
  corun_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  /*
   * Redact what the message carries (ids, task text), not our own
   * timestamp: a short secret such as "0.5" would otherwise eat digits.
   */
  corun_buf_printf(&b, "corun: [%9.3fs] ", (double)ns / 1e9);
  corun_secrets_redact(run->secrets, corun_buf_str(&msg), msg.len, &red);
  corun_buf_escaped(&b, corun_buf_str(&red), 0);
  run->opts.log(corun_buf_str(&b), run->opts.arg);
  corun_buf_free(&red);
  corun_buf_free(&msg);
  corun_buf_free(&b);
}

void corun__run_output(const struct corun_run *run, const char *line)
{
  struct corun_buf red = CORUN_BUF_INIT, b = CORUN_BUF_INIT;

  if (run->opts.output == NULL)
    return;
  corun_secrets_redact(run->secrets, line, strlen(line), &red);
  /* A message is one line of output (corun(1), sleep). */
  corun_buf_escaped(&b, corun_buf_str(&red), 0);
  run->opts.output(corun_buf_str(&b), run->opts.arg);
  corun_buf_free(&red);
  corun_buf_free(&b);
}

void corun__run_group(const struct corun_run *run, int pgid, int alive)
{
  if (run->opts.group)
    run->opts.group(pgid, alive, run->opts.arg);
}

void corun__run_stream(const struct corun_run *run, const char *id,
                       int to_err, const char *line, size_t n)
{
  corun_line_cb cb = to_err ? run->opts.output_err : run->opts.output;
  struct corun_buf raw = CORUN_BUF_INIT, red = CORUN_BUF_INIT;
  struct corun_buf b = CORUN_BUF_INIT;
  size_t i;

  if (cb == NULL)
    return;
  corun_buf_printf(&raw, "[%s] ", id);
  /* A NUL would end the line there: shown as the escape writes a control. */
  for (i = 0; i < n; i++) {
    if (line[i])
      corun_buf_putc(&raw, line[i]);
    else
      corun_buf_puts(&raw, "\\x00");
  }
  corun_secrets_redact(run->secrets, corun_buf_str(&raw), raw.len, &red);
  corun_buf_escaped(&b, corun_buf_str(&red), 0);
  cb(corun_buf_str(&b), run->opts.arg);
  corun_buf_free(&raw);
  corun_buf_free(&red);
  corun_buf_free(&b);
}

void corun__run_check_slow(const struct corun_run *run, uint64_t began_ns,
                           const char *id, const char *what)
{
  uint64_t ms = (uv_hrtime() - began_ns) / 1000000;

  if (ms >= run->opts.slow_ms)
    corun__run_logf(run,
                    "warning: a %s callback of task \"%s\" blocked the event "
                    "loop for %llu ms",
                    what, id ? id : "(none)", (unsigned long long)ms);
}

void *corun__run_keep(struct corun_run *run, size_t n, size_t align)
{
  return corun_slab_alloc(&run->job->slabs, n, align);
}
