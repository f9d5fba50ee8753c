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
#include "util/list.h"
#include "sched/timer.h"

struct corun_sem;

/* A FIFO of waiters, linked through a struct corun_list each. */
struct corun_waitq {
  struct corun_list list;
  uint32_t len;
};

/* What a waiter was served. */
enum corun_sem_grant {
  CORUN_SEM_SLOT,  /* a slot, now held for it */
  CORUN_SEM_TOKEN, /* its rate token */
  CORUN_SEM_NOMEM  /* nothing: the token timer could not be armed */
};

/*
 * Wakes a waiter the sem served: w has left the queue already. Installed
 * by the sem's owner (the run makes the task ready again); it may call
 * into the sem.
 */
typedef void (*corun_sem_wake_cb)(struct corun_sem *s, struct corun_list *w,
                                  enum corun_sem_grant what);

struct corun_sem {
  char *name;        /* "limits" key; NULL for the concurrency pool */
  uint32_t cap;      /* 0: no cap on how many run at once */
  uint32_t in_use;
  uint32_t hold_flag; /* the owner's: its mark of a slot held; never read */
  struct corun_rate rate; /* between two starts; clock ms */
  struct corun_waitq waiters;
  struct corun_waitq token_waiters; /* hold their slots, wait for the rate */
  struct corun_timer timer;         /* the next token, for token_waiters */
  struct corun_timers *timers;      /* its heap and clock */
  corun_sem_wake_cb wake;
};

/*
 * Ready s (its limits set) for use: empty queues, token timers on timers,
 * served waiters woken through wake. s must not be copied afterwards.
 */
void corun__sem_bind(struct corun_sem *s, struct corun_timers *timers,
                     corun_sem_wake_cb wake);
/* Take a slot now if one is free and nobody waits. Returns 1 if taken. */
int corun__sem_try(struct corun_sem *s);
/* Queue w; it is woken (CORUN_SEM_SLOT, the slot held) when served. */
void corun__sem_wait(struct corun_sem *s, struct corun_list *w);
/* Take w out of the queue, e.g. when its task is cancelled while waiting. */
void corun__sem_unwait(struct corun_sem *s, struct corun_list *w);
/* Give back a slot. */
void corun__sem_release(struct corun_sem *s);
/*
 * The rate step: take a token now if one is due and nobody waits for one
 * (1), else queue w, to be woken with CORUN_SEM_TOKEN once its token is
 * due (0). Always 1 without a rate. -1 (w not queued) when the timer for
 * the token cannot be armed (out of memory); if re-arming it fails later,
 * the waiters left are woken with CORUN_SEM_NOMEM.
 */
int corun__sem_token(struct corun_sem *s, struct corun_list *w);
/* Take w out of the token queue. */
void corun__sem_token_unwait(struct corun_sem *s, struct corun_list *w);

#endif
