/* SPDX-License-Identifier: MIT */
/*
 * Admission limits: named semaphores from the job's "limits", with an
 * optional token-bucket rate, and the run-wide concurrency slot pool.
 *
 * Waiters are served strictly first come, first served: a task that asks
 * while others wait joins the back of the queue even if a slot is free, so
 * a steady stream of newcomers cannot starve an early waiter.
 *
 * A rate is a separate, last step: a task takes its token only once it
 * holds every slot it needs (limit, concurrency, descriptors), right
 * before it starts, so tasks held up elsewhere cannot gather tokens and
 * then start in a burst.
 */
#ifndef CORUN_SEM_H
#define CORUN_SEM_H

#include <stdint.h>

#include "sched/rate.h"
#include "sched/timer.h"

struct corun_task;
struct corun_run;

/* An intrusive FIFO of tasks, linked through the tasks' qprev/qnext. */
struct corun_tq {
  struct corun_task *head;
  struct corun_task *tail;
  uint32_t len;
};

void corun__tq_push(struct corun_tq *q, struct corun_task *t);
struct corun_task *corun__tq_pop(struct corun_tq *q);
void corun__tq_remove(struct corun_tq *q, struct corun_task *t);

struct corun_sem {
  char *name;        /* "limits" key; NULL for the concurrency pool */
  uint32_t cap;      /* 0: no cap on how many run at once */
  uint32_t in_use;
  uint32_t hold_flag; /* task flag marking a slot of this sem as held */
  struct corun_rate rate; /* between two starts; run-clock ms */
  struct corun_tq waiters;
  struct corun_tq token_waiters; /* hold their slots, wait for the rate */
  struct corun_timer timer;      /* the next token, for token_waiters */
  struct corun_run *run;
};

/* Take a slot now if one is free and nobody waits. Returns 1 if taken. */
int corun__sem_try(struct corun_sem *s, struct corun_task *t);
/* Queue t; it is made ready again (with the slot held) when served. */
void corun__sem_wait(struct corun_sem *s, struct corun_task *t);
/* Take t out of the queue, e.g. when it is cancelled while waiting. */
void corun__sem_unwait(struct corun_sem *s, struct corun_task *t);
/* Give back the slot t held. */
void corun__sem_release(struct corun_sem *s, struct corun_task *t);
/*
 * The rate step: take a token now if one is due and nobody waits for one
 * (1), else queue t, to be made ready with CORUN_TF_TOKEN set once its
 * token is due (0). Always 1 without a rate.
 */
int corun__sem_token(struct corun_sem *s, struct corun_task *t);
/* Take t out of the token queue. */
void corun__sem_token_unwait(struct corun_sem *s, struct corun_task *t);

#endif
