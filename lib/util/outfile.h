/* SPDX-License-Identifier: MIT */
/*
 * A file that must appear only complete: a fetch's "save", a pipeline's
 * "results", a report. The data goes to a temporary file beside the
 * target ("<target>.corun-XXXXXX"), which is synced and renamed into place
 * on commit and removed on abort, so the target is either untouched or
 * whole. A target that exists and is not a regular file (/dev/null, a
 * FIFO) has nothing to replace: it is written directly. Through a
 * symbolic link, the file it points to is replaced and the link kept,
 * also when that file is not there yet.
 */
#ifndef CORUN_OUTFILE_H
#define CORUN_OUTFILE_H

#include "util/error.h"
#include <stddef.h>

struct corun_outfile {
  int fd; /* -1 when not open */
  int direct;
  int dirfd;  /* the directory the file goes into, or -1 */
  char *tmp;  /* the temporary file's name in dirfd, or NULL */
  char *name; /* the target's name in dirfd, or NULL */
  unsigned mode; /* the file's mode; 0: 0666 less the umask */
};

#define CORUN_OUTFILE_INIT {-1, 0, -1, NULL, NULL, 0}

/*
 * How a file is made. {0} is a task's output: mode 0666 less the umask,
 * and a FIFO without a reader fails at once (ENXIO), for a wait there
 * would hold the whole event loop.
 */
struct corun_outfile_how {
  unsigned mode;   /* 0, or exactly this mode whatever the umask */
  int wait_reader; /* a FIFO: wait in open for its reader */
};

struct corun_buf;

/*
 * Create the missing directories above target, as "mkdir -p" does (mode
 * 0777 less the umask). With root (--root, resolved; NULL for none) no
 * directory is made outside it: the part that exists is resolved, symbolic
 * links and all, and checked before each directory is made under it.
 * Returns 0, or -1 with why ("cannot create directory D: reason") in why.
 */
CORUN_MUST_CHECK int corun__outfile_mkdirs(const char *target, const char *root,
                                           struct corun_buf *why);
/*
 * Open for target. With root (--root, resolved; NULL for none) the
 * directory it goes into must lie inside the root as it is opened (see
 * confine.h; EXDEV otherwise), and the file is created and renamed there
 * by name, so a link swapped in later leads nowhere else. Returns 0, or an
 * errno (corun__confine_strerror() says it).
 */
CORUN_MUST_CHECK int corun__outfile_open(struct corun_outfile *o,
                                         const char *target, const char *root);
/* As corun__outfile_open(), made as how says (NULL: {0}). */
CORUN_MUST_CHECK int
corun__outfile_open_as(struct corun_outfile *o, const char *target,
                       const char *root, const struct corun_outfile_how *how);
/*
 * Whether target could be opened as corun__outfile_open_as() would, so a
 * long run does not end in "cannot write": a temporary file is made and
 * removed; a target written directly is only checked, never opened.
 * Returns 0 or an errno.
 */
CORUN_MUST_CHECK int corun__outfile_probe(const char *target, const char *root);
/* Write all of n bytes to fd, through EINTR and short writes: 0 or errno. */
CORUN_MUST_CHECK int corun__write_all(int fd, const void *data, size_t n);
/* Write all of data. Returns 0, or an errno. */
CORUN_MUST_CHECK int corun__outfile_write(struct corun_outfile *o,
                                          const void *data, size_t n);
/* Put it in place (nothing if never opened). Returns 0, or an errno. */
CORUN_MUST_CHECK int corun__outfile_commit(struct corun_outfile *o);
/* Close and remove the temporary file, if any. */
void corun__outfile_abort(struct corun_outfile *o);

#endif
