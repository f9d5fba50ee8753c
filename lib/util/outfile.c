/* SPDX-License-Identifier: MIT */
/* O_PATH: a directory to create files in, without reading it. */
#define _GNU_SOURCE
#include "util/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/confine.h"

/*
 * The first prefix of dir that exists and is not a directory, for the
 * message: which part stands in the way. malloc'd, or NULL.
 */
static char *in_the_way(const char *dir)
{
  char *p = strdup(dir), *q;
  struct stat st;

  if (p == NULL)
    return NULL;
  for (q = p + 1;; q++) {
    int last = *q == '\0';

    if (*q != '/' && !last)
      continue;
    *q = '\0';
    if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode))
      return p;
    if (last)
      break;
    *q = '/';
  }
  free(p);
  return NULL;
}

static int not_a_dir(const char *dir, struct corun_buf *why)
{
  char *way = in_the_way(dir);

  corun_buf_printf(why, "cannot create directory %s: %s is not a directory",
                   dir, way ? way : "a part of it");
  free(way);
  return -1;
}

/*
 * A directory as a descriptor, opened beneath root (the root itself
 * included, which corun__open_confined() would look for in its parent).
 */
static int open_dir_beneath(const char *dir, const char *root)
{
  char *real = realpath(dir, NULL);
  int same = real && strcmp(real, root) == 0;

  free(real);
  if (same)
    return open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  return corun__open_confined(dir, root, O_PATH | O_DIRECTORY | O_CLOEXEC,
                              0);
}

/*
 * mkdir -p of dir beneath root: each directory is made with mkdirat() in
 * a descriptor of its parent opened beneath the root, so a link swapped
 * in during the run can neither be followed out of the root nor have a
 * directory made through it.
 */
static int mkdirs_beneath(const char *dir, const char *root,
                          struct corun_buf *why)
{
  char *parent, *slash;
  const char *last;
  int fd, pfd, e;

  fd = open_dir_beneath(dir, root);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  e = errno;
  if (e == EXDEV) {
    corun_buf_printf(why, "cannot create directory %s: outside --root %s",
                     dir, root);
    return -1;
  }
  if (e == ENOTDIR)
    return not_a_dir(dir, why);
  if (e != ENOENT) {
    corun_buf_printf(why, "cannot create directory %s: %s", dir, strerror(e));
    return -1;
  }
  slash = strrchr(dir, '/');
  if (slash == NULL || slash == dir) {
    /* The root of the file system is there; "x" lies in ".". */
    parent = strdup(slash ? "/" : ".");
    last = slash ? slash + 1 : dir;
  } else {
    parent = strndup(dir, (size_t)(slash - dir));
    last = slash + 1;
  }
  if (parent == NULL) {
    corun_buf_puts(why, "out of memory");
    return -1;
  }
  if (mkdirs_beneath(parent, root, why) < 0) {
    free(parent);
    return -1;
  }
  pfd = open_dir_beneath(parent, root);
  e = errno;
  free(parent);
  if (pfd < 0) {
    corun_buf_printf(why, "cannot create directory %s: %s", dir,
                     corun__confine_strerror(e));
    return -1;
  }
  if (*last && mkdirat(pfd, last, 0777) < 0 && errno != EEXIST) {
    e = errno;
    close(pfd);
    corun_buf_printf(why, "cannot create directory %s: %s", dir, strerror(e));
    return -1;
  }
  /* What is there now must be a directory, not a link to one. */
  fd = *last ? openat(pfd, last, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
             : dup(pfd);
  e = errno;
  close(pfd);
  if (fd < 0)
    return e == ENOTDIR || e == ELOOP ? not_a_dir(dir, why)
                                      : (corun_buf_printf(
                                             why, "cannot create directory "
                                                  "%s: %s",
                                             dir, strerror(e)),
                                         -1);
  close(fd);
  return 0;
}

/* mkdir -p of dir, with no root to keep to. */
static int mkdirs_plain(char *dir, struct corun_buf *why)
{
  struct stat st;
  char *p;

  for (p = dir + 1;; p++) {
    int last = *p == '\0';

    if (*p != '/' && !last)
      continue;
    *p = '\0';
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
      int e = errno;

      if (e == ENOTDIR) {
        if (!last)
          *p = '/';
        return not_a_dir(dir, why);
      }
      corun_buf_printf(why, "cannot create directory %s: %s", dir,
                       strerror(e));
      return -1;
    }
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
      if (!last)
        *p = '/';
      return not_a_dir(dir, why);
    }
    if (last)
      return 0;
    *p = '/';
  }
}

int corun__outfile_mkdirs(const char *target, const char *root,
                          struct corun_buf *why)
{
  struct stat st;
  char *dir = strdup(target), *slash;
  int r;

  if (dir == NULL) {
    corun_buf_puts(why, "out of memory");
    return -1;
  }
  slash = strrchr(dir, '/');
  if (slash == NULL || slash == dir) {
    /* Nothing to make: the file goes into "/" or ".". */
    free(dir);
    return 0;
  }
  *slash = '\0';
  if (root)
    r = mkdirs_beneath(dir, root, why);
  else if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
    r = 0;
  else
    r = mkdirs_plain(dir, why);
  free(dir);
  return r;
}

/* Where in dirfd a temporary name is free: base.corun-XXXXXX, created. */
static int make_temp(struct corun_outfile *o, const char *base)
{
  static unsigned counter;
  size_t n = strlen(base) + 16;
  int tries;

  o->tmp = malloc(n);
  if (o->tmp == NULL)
    return ENOMEM;
  for (tries = 0; tries < 1000; tries++) {
    unsigned long long x = (unsigned long long)getpid() * 2654435761u ^
                           (unsigned long long)time(NULL) * 40503u ^
                           (unsigned long long)++counter * 2246822519u;

    snprintf(o->tmp, n, "%s.corun-%06llx", base, x & 0xffffff);
    /* O_EXCL: never a file (or a link) that was already there. */
    o->fd = openat(o->dirfd, o->tmp,
                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (o->fd >= 0)
      return 0;
    if (errno != EEXIST)
      break;
  }
  {
    int e = o->fd < 0 ? errno : EEXIST;

    free(o->tmp);
    o->tmp = NULL;
    return e;
  }
}

/*
 * The path a symbolic link's text names, taken from where the link is: a
 * link to a file not written yet cannot be resolved by realpath(). NULL
 * when it cannot be read (the link itself is then the target).
 */
static char *link_text_path(const char *link)
{
  char text[4096], *out;
  const char *slash = strrchr(link, '/');
  ssize_t n = readlink(link, text, sizeof(text) - 1);
  size_t dl;

  if (n <= 0)
    return NULL;
  text[n] = '\0';
  if (text[0] == '/' || slash == NULL)
    return strdup(text);
  dl = (size_t)(slash - link) + 1;
  out = malloc(dl + (size_t)n + 1);
  if (out) {
    memcpy(out, link, dl);
    memcpy(out + dl, text, (size_t)n + 1);
  }
  return out;
}

/*
 * Open the directory target goes into and see whether target is written
 * directly; probe: only check that it could be, opening nothing but the
 * directory. Returns 0 or an errno (o is then let go).
 */
static int open_target(struct corun_outfile *o, const char *target,
                       const char *root, const struct corun_outfile_how *how,
                       int probe)
{
  struct stat st;
  char *real = NULL;
  const char *base;
  int fl, e;

  o->direct = 0;
  o->fd = -1;
  o->mode = how ? how->mode : 0;
  /* A symbolic link stays one: the file it points to is replaced. */
  if (lstat(target, &st) == 0 && S_ISLNK(st.st_mode)) {
    real = realpath(target, NULL);
    if (real == NULL)
      real = link_text_path(target);
    if (real)
      target = real;
  }
  base = strrchr(target, '/');
  base = base ? base + 1 : target;
  o->name = strdup(base);
  {
    /* The directory, by its own path ("dir/." of "dir/name"). */
    size_t dl = (size_t)(base - target);
    char *dir = malloc(dl + 2);

    if (dir && dl)
      snprintf(dir, dl + 2, "%.*s.", (int)dl, target);
    else if (dir)
      strcpy(dir, ".");
    o->dirfd = dir ? corun__open_confined(dir, root,
                                          O_PATH | O_DIRECTORY | O_CLOEXEC, 0)
                   : -1;
    e = dir ? errno : ENOMEM;
    free(dir);
  }
  free(real);
  if (o->name == NULL || o->dirfd < 0) {
    if (o->name == NULL)
      e = ENOMEM;
    corun__outfile_abort(o);
    return e;
  }
  /* A directory (or "dir/") is no file to write: say so now, not after. */
  if (*o->name == '\0' ||
      (fstatat(o->dirfd, o->name, &st, 0) == 0 && S_ISDIR(st.st_mode))) {
    corun__outfile_abort(o);
    return EISDIR;
  }
  if (fstatat(o->dirfd, o->name, &st, 0) == 0 && !S_ISREG(st.st_mode)) {
    int wait = how && how->wait_reader;

    o->direct = 1;
    if (probe) {
      e = faccessat(o->dirfd, o->name, W_OK, 0) < 0 ? errno : 0;
      corun__outfile_abort(o);
      return e;
    }
    /*
     * Unless told to wait, not blocking: a FIFO nobody reads would hold
     * the whole event loop in open(). With no reader it fails now
     * (ENXIO); once open, writes wait for the reader, as a pipe's writer
     * does.
     */
    o->fd = openat(o->dirfd, o->name,
                   O_WRONLY | O_CLOEXEC | (wait ? 0 : O_NONBLOCK));
    if (o->fd < 0) {
      e = errno;
      corun__outfile_abort(o);
      return e;
    }
    fl = wait ? -1 : fcntl(o->fd, F_GETFL);
    if (fl >= 0)
      fcntl(o->fd, F_SETFL, fl & ~O_NONBLOCK);
    return 0;
  }
  e = make_temp(o, o->name);
  if (e || probe)
    corun__outfile_abort(o);
  return e;
}

int corun__outfile_open_as(struct corun_outfile *o, const char *target,
                           const char *root,
                           const struct corun_outfile_how *how)
{
  return open_target(o, target, root, how, 0);
}

int corun__outfile_open(struct corun_outfile *o, const char *target,
                        const char *root)
{
  return open_target(o, target, root, NULL, 0);
}

int corun__outfile_probe(const char *target, const char *root)
{
  struct corun_outfile o = CORUN_OUTFILE_INIT;

  return open_target(&o, target, root, NULL, 1);
}

/* The process's umask: mkstemp makes 0600, a new file should get 0666&~. */
static mode_t umask_now(void)
{
  mode_t m = umask(0);

  umask(m);
  return m;
}

int corun__write_all(int fd, const void *data, size_t n)
{
  const char *p = data;

  while (n > 0) {
    ssize_t w = write(fd, p, n);

    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int corun__outfile_write(struct corun_outfile *o, const void *data, size_t n)
{
  return corun__write_all(o->fd, data, n);
}

int corun__outfile_commit(struct corun_outfile *o)
{
  int e = 0;

  if (o->fd < 0)
    return 0;
  if (!o->direct &&
      (fchmod(o->fd, o->mode ? (mode_t)o->mode : 0666 & ~umask_now()) < 0 ||
       fsync(o->fd) < 0))
    e = errno;
  if (close(o->fd) < 0 && e == 0)
    e = errno;
  o->fd = -1;
  /* By name in the directory opened: the same place whatever changed. */
  if (e == 0 && o->tmp && renameat(o->dirfd, o->tmp, o->dirfd, o->name) < 0)
    e = errno;
  if (e == 0 && o->tmp) {
    free(o->tmp);
    o->tmp = NULL;
  }
  corun__outfile_abort(o);
  return e;
}

void corun__outfile_abort(struct corun_outfile *o)
{
  if (o->fd >= 0)
    close(o->fd);
  o->fd = -1;
  if (o->tmp) {
    unlinkat(o->dirfd, o->tmp, 0);
    free(o->tmp);
    o->tmp = NULL;
  }
  if (o->dirfd >= 0)
    close(o->dirfd);
  o->dirfd = -1;
  free(o->name);
  o->name = NULL;
}
