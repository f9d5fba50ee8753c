/* SPDX-License-Identifier: MIT */
/*
 * What the loader needs of sleep to make a plain sleep task itself
 * (load/tasks.c): a big job is mostly sleeps of one whole number of
 * seconds, and reading those without a cJSON object each is much faster.
 */
#ifndef CORUN_KINDS_SLEEP_H
#define CORUN_KINDS_SLEEP_H

#include "core/task.h"

extern const struct corun_kind corun_kind_sleep;

/* t, a new sleep task, sleeps secs (checked as "seconds" is) and no more. */
void corun__sleep_plain(struct corun_task *t, double secs);

#endif
