/* SPDX-License-Identifier: MIT */
/*
 * The public side of a run (corun.h): making one from a loaded job,
 * starting it, interrupting it, telling how it ended and closing it. It
 * sits above the tasks; core/run.c is what tasks themselves call.
 */
#include "core/run.h"

#include <assert.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "util/fdlimit.h"
#include "util/libcurl.h"
#include "core/http.h"
#include "core/instance.h"
#include "core/job.h" /* the job's tasks, limits and secrets */
#include "core/kind.h"
#include "core/task.h"

/* The run's timers belong to tasks (or to nothing, e.g. a rate's token). */
static void timer_watch(struct corun_timers *h, const struct corun_timer *t,
                        uint64_t began_ns)
{
  struct corun_run *run = h->uv.data;

  const struct corun_task *task = t->data;

  corun__run_check_slow(run, began_ns, task ? task->id : NULL, "timer");
}

/* Link timers on the run's heap are tasks' queue links (a sleep's). */
static void timer_watch_link(struct corun_timers *h,
                             const struct corun_list *link, uint64_t began_ns)
{
  struct corun_run *run = h->uv.data;
  const struct corun_task *task =
      corun_list_entry(link, struct corun_task, qlink);

  corun__run_check_slow(run, began_ns, task->id, "timer");
}

/*
 * Leaf tasks that may run at once for the descriptors left: each holds up
 * to three (a fetch's socket pair while resolving, or its socket and save
 * file; a command's three pipes), and may leave one more behind, an idle
 * kept-alive connection (http.c keeps at most as many as there are
 * slots). FD_RESERVE stay free for results files, FIFO sources and
 * spawning. 0: no cap worth having.
 */
#define FD_PER_TASK 4
#define FD_RESERVE 16

static uint32_t fd_slots(void)
{
  long room = corun__fd_room();

  if ((unsigned long)room >= UINT32_MAX)
    return 0;
  return room > FD_RESERVE + FD_PER_TASK
             ? (uint32_t)((room - FD_RESERVE) / FD_PER_TASK)
             : 1;
}

const char *corun_version(void)
{
  return CORUN_VERSION_STRING;
}

const char *corun_libcurl_version(const char **why)
{
  if (corun__libcurl_load(why) < 0)
    return NULL;
  return curl_version_info(CURLVERSION_NOW)->version;
}

unsigned corun_version_hex(void)
{
  return CORUN_VERSION_HEX;
}

enum corun_code corun_global_init(struct corun_error *err)
{
  /* libcurl's process-wide set-up, or the leave to do it at a first fetch. */
  if (corun__http_global_init() < 0)
    return corun_failf(err, CORUN_ELOOP, "libcurl failed to initialise");
  return CORUN_OK;
}

void corun_global_cleanup(void)
{
  corun__http_global_cleanup();
}

enum corun_code corun_run_new(struct corun_run **out, struct corun_job *job,
                              uv_loop_t *loop,
                              const struct corun_run_opts *opts,
                              struct corun_error *err)
{
  struct corun_run *run;
  size_t i;

  *out = NULL;
  if (job->ran)
    return corun_failf(err, CORUN_EUSAGE, "a job can be run only once");
  run = calloc(1, sizeof(*run));
  if (run == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  run->loop = loop;
  run->dispatch = corun__task_dispatch_link;
  run->fill = corun__task_fill;
  run->job = job;
  run->exit_code = -1;
  run->secrets = &job->secrets;
  run->dir = job->dir;
  run->root = job->root;
  run->per_host = job->per_host;
  if (opts)
    run->opts = *opts;
  if (run->opts.slow_ms == 0)
    run->opts.slow_ms = 100;
  if (corun__timers_init(&run->timers, loop, &run->clock) < 0 ||
      uv_idle_init(loop, &run->idle) != 0) {
    free(run);
    return corun_failf(err, CORUN_ELOOP, "cannot set up the event loop");
  }
  run->timers.uv.data = run;
  if (run->opts.debug) {
    run->timers.watch = timer_watch;
    run->timers.watch_link = timer_watch_link;
  }
  run->idle.data = run;
  corun_list_init(&run->ready);
  corun_list_init(&run->observers);
  /* The journal, an opaque type here, is an observer underneath. */
  if (run->opts.journal)
    corun__run_observe(run, (struct corun_observer *)run->opts.journal);
  run->global.cap = job->concurrency;
  run->global.hold_flag = CORUN_TF_HOLD_GLOBAL;
  corun__sem_bind(&run->global, &run->timers, corun__task_sem_wake);
  run->fds.cap = fd_slots();
  run->fds.hold_flag = CORUN_TF_HOLD_FDS;
  corun__sem_bind(&run->fds, &run->timers, corun__task_sem_wake);
  for (i = 0; i < job->nlimits; i++)
    corun__sem_bind(job->limits[i], &run->timers, corun__task_sem_wake);
  for (i = 0; i < job->ntasks; i++)
    job->tasks[i]->run = run;
  run->active = job->ntasks;
  job->ran = 1;
  *out = run;
  return CORUN_OK;
}

void corun_run_start(struct corun_run *run)
{
  struct corun_job *job = run->job;
  struct timeval tv;
  size_t i;

  gettimeofday(&tv, NULL);
  run->started_wall = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
  run->clock.t0_ns = uv_hrtime();
  run->started = 1;
  if (run->active == 0) {
    run->active = 1;
    corun__run_task_ended(run);
    return;
  }
  for (i = 0; i < job->nroots; i++)
    corun__task_activate(job->roots[i]);
}

int corun_run_done(const struct corun_run *run)
{
  return run->finished;
}

static void run_cancel(struct corun_task *t, enum corun_cancel_how how)
{
  if (t->state == CORUN_STATE_DONE || corun__task_spared(t))
    return;
  t->flags |= CORUN_TF_RUN_CANCEL;
  corun__task_cancel(t, CORUN_STATUS_CANCELLED, how);
}

/* Whether a shielded task still running encloses t. */
static int under_live_shield(const struct corun_task *t)
{
  for (t = t->parent; t; t = t->parent)
    if ((t->flags & CORUN_TF_SHIELD) && t->state != CORUN_STATE_DONE)
      return 1;
  return 0;
}

/* Whether some cleanup ("run_if": "all_done") has yet to end. */
static int cleanup_left(const struct corun_run *run)
{
  const struct corun_job *job = run->job;
  size_t i;

  for (i = 0; i < job->ntasks; i++)
    if (corun__task_is_cleanup(job->tasks[i]) &&
        job->tasks[i]->state != CORUN_STATE_DONE)
      return 1;
  return 0;
}

/*
 * The run is stopping: cancel_all() will spare the cleanups (spare) or
 * cancel them too. Returns whether the cleanups were being spared already:
 * this stop is then the second one.
 */
static int stop_sparing(struct corun_run *run, int spare)
{
  int was = run->spare;

  run->spare = spare && !was && cleanup_left(run);
  return was;
}

static void cancel_all(struct corun_run *run, enum corun_cancel_how how)
{
  struct corun_job *job = run->job;
  size_t i;

  /*
   * Roots first, so each subtree is cancelled from its top. Then the tasks
   * no parent waits for any more: children a wait left running
   * (cancel_pending false) are cancelled like everything else, unless a
   * shield covers them; --timeout and a second stop take shielded tasks
   * too.
   */
  corun__task_cancel_pass(run, 1);
  for (i = 0; i < job->nroots && !run->finished; i++)
    run_cancel(job->roots[i], how);
  for (i = 0; i < job->ntasks && !run->finished; i++) {
    struct corun_task *t = job->tasks[i];

    if (how == CORUN_CANCEL_FORCE || how == CORUN_CANCEL_HARD ||
        ((t->flags & CORUN_TF_DETACHED) && !(t->flags & CORUN_TF_SHIELD) &&
         !under_live_shield(t)))
      run_cancel(t, how);
  }
  corun__task_cancel_pass(run, 0);
}

void corun_run_interrupt(struct corun_run *run, int signum)
{
  int second;

  if (!run->started || run->finished)
    return;
  run->interrupts++;
  /*
   * A signal after --timeout is the second stop, for the cleanups and for
   * commands in the grace --timeout gave them.
   */
  second = stop_sparing(run, run->interrupts == 1) || run->interrupts > 1 ||
           run->end == CORUN_END_TIMEOUT;
  if (run->end == CORUN_END_NORMAL)
    run->end = signum == SIGTERM  ? CORUN_END_SIGTERM
               : signum == SIGHUP ? CORUN_END_SIGHUP
                                  : CORUN_END_SIGINT;
  if (run->opts.debug)
    corun__run_logf(run, "%s: %s",
                    signum == SIGTERM  ? "SIGTERM"
                    : signum == SIGHUP ? "SIGHUP"
                                       : "SIGINT",
                    !second ? "cancelling all tasks (shielded ones finish, "
                              "cleanups run)"
                            : "stopping now");
  cancel_all(run, !second ? CORUN_CANCEL_OUTSIDE : CORUN_CANCEL_FORCE);
}

/*
 * What corun_run_waiting() lists: 0 none, 1 shielded, 2 in its grace,
 * 3 a cleanup the run spared.
 */
static int waiting_kind(const struct corun_task *t)
{
  if (t->state == CORUN_STATE_DONE)
    return 0;
  /* Waiting for its "after" tasks or running, the run waits for it. */
  if (t->run->spare && corun__task_is_cleanup(t) && t->deps->spared &&
      t->cancel_status == CORUN_STATUS_NONE)
    return 3;
  if (t->state != CORUN_STATE_RUNNING)
    return 0;
  if ((t->flags & CORUN_TF_SHIELD) && t->cancel_status == CORUN_STATUS_NONE)
    return 1;
  /* Told to stop, its process has its kill grace to exit. */
  if (t->cancel_status != CORUN_STATUS_NONE && t->kind->process &&
      t->kind->process(t) > 0)
    return 2;
  return 0;
}

/*
 * "a, b, c" from the first ids of tasks of that waiting kind, "..." after
 * five; ids shown as every output shows them (secrets, control bytes).
 * The pid of the last one listed in *pid.
 */
static void id_list(const struct corun_run *run, int kind,
                    struct corun_buf *out, int *pid)
{
  const struct corun_job *job = run->job;
  size_t i, n = 0;

  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    struct corun_buf red = CORUN_BUF_INIT;

    if (waiting_kind(t) != kind)
      continue;
    if (n++ == 5) {
      corun_buf_puts(out, ", ...");
      break;
    }
    corun_secrets_redact(&job->secrets, t->id, strlen(t->id), &red);
    if (n > 1)
      corun_buf_puts(out, ", ");
    corun_buf_escaped(out, corun_buf_str(&red), 0);
    corun_buf_free(&red);
    if (pid && t->kind->process)
      *pid = t->kind->process(t);
  }
}

void corun_run_waiting(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  size_t ns = 0, ne = 0, nc = 0, i;
  int pid = 0;

  if (!run->started || run->finished)
    return;
  for (i = 0; i < job->ntasks; i++) {
    int k = waiting_kind(job->tasks[i]);

    ns += k == 1;
    ne += k == 2;
    nc += k == 3;
  }
  if (ns) {
    corun_buf_printf(out, "%zu shielded task%s (", ns, ns == 1 ? "" : "s");
    id_list(run, 1, out, NULL);
    corun_buf_putc(out, ')');
  }
  if (nc) {
    corun_buf_printf(out, "%s%zu cleanup%s (", ns ? (ne ? ", " : " and ") : "",
                     nc, nc == 1 ? "" : "s");
    id_list(run, 3, out, NULL);
    corun_buf_putc(out, ')');
  }
  if (ne) {
    corun_buf_printf(out, "%s%zu command%s in %s kill grace (",
                     ns || nc ? " and " : "", ne, ne == 1 ? "" : "s",
                     ne == 1 ? "its" : "their");
    id_list(run, 2, out, &pid);
    if (ne == 1 && pid > 0)
      corun_buf_printf(out, ", pid %d", pid);
    corun_buf_putc(out, ')');
  }
}

void corun_run_expire(struct corun_run *run)
{
  if (!run->started || run->finished)
    return;
  if (run->end == CORUN_END_NORMAL)
    run->end = CORUN_END_TIMEOUT;
  /* After a signal, --timeout is the second stop: cleanups go too. */
  (void)stop_sparing(run, run->interrupts == 0);
  if (run->opts.debug)
    corun__run_logf(run, "--timeout expired: cancelling all tasks%s",
                    run->spare ? " but cleanups" : "");
  /* The first stop: commands get their grace. After a signal, none. */
  cancel_all(run,
             run->interrupts > 0 ? CORUN_CANCEL_FORCE : CORUN_CANCEL_HARD);
}

void corun_run_stalled(struct corun_run *run)
{
  if (!run->started || run->finished)
    return;
  if (run->end == CORUN_END_NORMAL)
    run->end = CORUN_END_STALLED;
  (void)stop_sparing(run, 0);
  cancel_all(run, CORUN_CANCEL_FORCE);
}

void corun_run_outcome(const struct corun_run *run, struct corun_outcome *out)
{
  const struct corun_job *job = run->job;
  size_t i;

  memset(out, 0, sizeof(*out));
  out->done = run->finished;
  out->end = run->end;
  out->tasks = job->ntasks;
  for (i = 0; i < job->ntasks; i++) {
    switch (job->tasks[i]->status) {
    case CORUN_STATUS_OK:
      out->ok++;
      break;
    case CORUN_STATUS_FAILED:
      out->failed++;
      break;
    case CORUN_STATUS_TIMEOUT:
      out->timeout++;
      break;
    case CORUN_STATUS_CANCELLED:
      out->cancelled++;
      break;
    case CORUN_STATUS_SKIPPED:
      out->skipped++;
      break;
    case CORUN_STATUS_NONE:
      break;
    }
  }
  out->roots_ok = 1;
  for (i = 0; i < job->nroots; i++)
    if (!corun__task_no_failure(job->roots[i]))
      out->roots_ok = 0;
}

void corun_run_set_exit_code(struct corun_run *run, int code)
{
  run->exit_code = code;
}

static void closed(uv_handle_t *h)
{
  struct corun_run *run = h->data;

  run->closing--;
}

static void kind_closed(void *arg)
{
  struct corun_run *run = arg;

  run->closing--;
}

/* The last handle is closed: nothing of the run is in the loop any more. */
static void released(uv_handle_t *h)
{
  struct corun_run *run = h->data;

  free(run->kstate);
  corun__timers_free(&run->timers);
  if (run->close_cb)
    run->close_cb(run, run->opts.arg);
  free(run);
}

/*
 * From the idle handle, so from the loop itself and never from inside a
 * task's or libcurl's callback. The first pass closes every handle but the
 * idle one; their close callbacks run at the end of that loop iteration,
 * and the idle (which keeps the loop from blocking meanwhile) closes
 * itself on a later pass, once none is pending.
 */
static void close_step(uv_idle_t *idle)
{
  struct corun_run *run = idle->data;

  if (run->close_stage == 1) {
    size_t i;

    run->close_stage = 2;
    run->closing++;
    uv_close((uv_handle_t *)&run->timers.uv, closed);
    /* What kinds kept for the run (fetch's curl handles) closes too. */
    for (i = 0; i < run->nkstate; i++) {
      run->closing++;
      run->kstate[i].kind->run_close(run->kstate[i].state, kind_closed, run);
    }
    return;
  }
  if (run->closing > 0)
    return;
  uv_close((uv_handle_t *)&run->idle, released);
}

static void start_release(struct corun_run *run)
{
  uv_idle_stop(&run->idle);
  (void)uv_idle_start(&run->idle, close_step); /* fails only with no cb */
}

/*
 * Before every poll while a closed run still has tasks ending (commands
 * being killed): a prepare handle, unlike an idle one, lets the loop block
 * until their events come, and, unlike a check one, sees an end that came
 * in the last iteration's close callbacks before the loop blocks again.
 */
static void wait_finished(uv_prepare_t *prepare)
{
  struct corun_run *run = prepare->data;

  if (!run->finished)
    return;
  run->closing++;
  uv_close((uv_handle_t *)prepare, closed);
  start_release(run);
}

void corun_run_close(struct corun_run *run, corun_close_cb cb)
{
  if (run == NULL || run->close_stage)
    return;
  run->close_stage = 1;
  run->close_cb = cb;
  if (run->started && !run->finished) {
    (void)stop_sparing(run, 0);
    cancel_all(run, CORUN_CANCEL_FORCE);
  }
  if (!run->started || run->finished) {
    start_release(run);
    return;
  }
  /* Neither can fail: init only fills the handle, start needs a cb. */
  (void)uv_prepare_init(run->loop, &run->closer);
  run->closer.data = run;
  (void)uv_prepare_start(&run->closer, wait_finished);
}
