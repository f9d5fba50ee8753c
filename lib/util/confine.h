/* SPDX-License-Identifier: MIT */
/*
 * Opening a file so that it lies inside --root at the moment it is
 * opened, not only when the job was loaded: a symbolic link swapped in
 * during the run must not lead a save, a results file or a lines source
 * outside. The kernel resolves the path beneath the root (openat2's
 * RESOLVE_BENEATH), so no component, ".." or link, can step out of it
 * between our look and the open.
 */
#ifndef CORUN_CONFINE_H
#define CORUN_CONFINE_H

#include "util/error.h"

/*
 * open(path, flags, mode), with root (resolved; NULL for none) holding
 * every step of the resolution. Returns the descriptor, or -1 with errno
 * set; EXDEV means the path leads outside the root.
 */
CORUN_MUST_CHECK int corun__open_confined(const char *path, const char *root,
                                          int flags, int mode);
/*
 * path (absolute) resolved as far as it exists (realpath of the longest
 * existing prefix), the rest added with "." and ".." folded: a path that
 * does not exist yet (a file to save) can still be compared. malloc'd;
 * NULL when out of memory.
 */
char *corun__path_resolve(const char *path);
/* Whether the resolved path real lies in the resolved root (or is it). */
int corun__path_inside(const char *real, const char *root);
/* strerror(e), but for EXDEV what it means here. */
const char *corun__confine_strerror(int e);

#endif
