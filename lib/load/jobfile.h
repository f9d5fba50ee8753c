/* SPDX-License-Identifier: MIT */
/*
 * The loaded job. The loader (the files of load/, see loader.h) reads the
 * file with the positional parser in json.c, expands templates, applies
 * defaults, hands each task's fields to its kind's parse(), then checks
 * ids, "after" references and cycles across the whole tree. What it makes
 * is a struct corun_job (core/job.h); code below the loader includes that
 * header, not this one.
 */
#ifndef CORUN_JOBFILE_H
#define CORUN_JOBFILE_H

#include "core/job.h"

#endif
