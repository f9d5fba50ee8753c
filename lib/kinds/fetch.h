/* SPDX-License-Identifier: MIT */
/*
 * fetch's part the loader calls directly: a plain fetch, one with only a
 * kind and a URL, made without a field read (load/tasks.c reads such
 * tasks straight from the job's text), and a fetch written as the one
 * before it but for its URL (load/alike.c).
 */
#ifndef CORUN_KINDS_FETCH_H
#define CORUN_KINDS_FETCH_H

#include <stddef.h>

struct corun_task;
struct corun_fields_memo;
struct corun_prechecks;

extern const struct corun_kind corun_kind_fetch;

/*
 * t (a task of corun_kind_fetch, zeroed) as parse() makes a fetch of the
 * len bytes at url with every other field at its default; memo is the
 * load's. The URL is copied to room, len + 1 bytes that live as long as
 * t's job (a malloc a task saved). Returns 0, or -1 when out of memory,
 * the URL is not http(s) (then parse() on the same task says why) or the
 * task is the job's first fetch (pre: the load's) while libcurl is not
 * loaded (parse() notes where it stands, for the loader's message).
 */
int corun__fetch_plain(struct corun_task *t, const char *url, size_t len,
                       char *room, struct corun_fields_memo *memo,
                       const struct corun_prechecks *pre);

/*
 * t (zeroed) as the fetch as, made the general way, but for its URL, the
 * len bytes at url, copied to room: the two share as's conf. Returns as
 * corun__fetch_plain.
 */
int corun__fetch_like(struct corun_task *t, const struct corun_task *as,
                      const char *url, size_t len, char *room);

/*
 * Whether the fetch's field name goes into its conf and nowhere else,
 * read the same wherever the task stands in the job: tasks whose text
 * differs only in the URL, with only "kind", "url" and such fields, make
 * the same conf (load/alike.c).
 */
int corun__fetch_conf_field(const char *name);

#endif
