/* SPDX-License-Identifier: MIT */
/* O_PATH: a directory to create files in, without reading it. */
#define _GNU_SOURCE
#include "util/confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/buf.h"

/*
 * Resolve path as far as it exists (realpath of the longest existing
 * prefix), then add the rest with "." and ".." folded. A path that does
 * not exist yet (a file to save) can still be checked against the root.
 */
char *corun__path_resolve(const char *path)
{
  struct corun_buf b = CORUN_BUF_INIT;
  char *copy = strdup(path), *cut, *real = NULL, *tok, *save = NULL;
  size_t keep;

  if (copy == NULL)
    return NULL;
  cut = copy + strlen(copy);
  for (;;) {
    char c = *cut;

    *cut = '\0';
    real = realpath(*copy ? copy : "/", NULL);
    *cut = c;
    if (real || cut == copy)
      break;
    while (cut > copy && *--cut != '/')
      ;
  }
  corun_buf_puts(&b, real ? real : "/");
  free(real);
  for (tok = strtok_r(cut, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
    if (strcmp(tok, ".") == 0)
      continue;
    if (strcmp(tok, "..") == 0) {
      char *slash = strrchr(corun_buf_str(&b), '/');

      keep = slash ? (size_t)(slash - b.p) : 0;
      b.len = keep ? keep : 1;
      b.p[b.len] = '\0';
      continue;
    }
    if (b.len > 1)
      corun_buf_putc(&b, '/');
    corun_buf_puts(&b, tok);
  }
  free(copy);
  return corun_buf_detach(&b);
}

char *corun_path_canonical(const char *path)
{
  struct corun_buf b = CORUN_BUF_INIT;
  char cwd[4096], *real;

  if (*path != '/') {
    if (getcwd(cwd, sizeof(cwd)) == NULL)
      return NULL;
    corun_buf_printf(&b, "%s/%s", cwd, path);
    path = corun_buf_str(&b);
  }
  real = b.oom ? NULL : corun__path_resolve(path);
  corun_buf_free(&b);
  return real;
}

int corun__path_inside(const char *real, const char *root)
{
  size_t rl = strlen(root);

  if (strcmp(root, "/") == 0)
    return 1;
  return strncmp(real, root, rl) == 0 && (real[rl] == '/' || real[rl] == 0);
}

static int openat_beneath(int dirfd, const char *rel, int flags, int mode)
{
  struct open_how how;
  long fd;

  memset(&how, 0, sizeof(how));
  how.flags = (unsigned long long)flags;
  how.mode = (flags & O_CREAT) ? (unsigned long long)mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
  if (fd < 0 && errno == ENOSYS) {
    /*
     * A kernel older than 5.6: the directory was checked a moment ago,
     * which is as far as the check can go there.
     */
    fd = openat(dirfd, rel, flags, mode);
  }
  return (int)fd;
}

int corun__open_confined(const char *path, const char *root, int flags,
                         int mode)
{
  struct corun_buf rel = CORUN_BUF_INIT;
  const char *slash, *base;
  char *dir, *real;
  int rootfd, fd, e;

  if (root == NULL)
    return open(path, flags, mode);
  /* The directory is resolved now; the kernel holds the rest beneath. */
  slash = strrchr(path, '/');
  base = slash ? slash + 1 : path;
  dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
              : strdup(".");
  if (dir == NULL) {
    errno = ENOMEM;
    return -1;
  }
  real = realpath(dir, NULL);
  e = errno;
  free(dir);
  if (real == NULL) {
    errno = e;
    return -1;
  }
  if (!corun__path_inside(real, root)) {
    free(real);
    errno = EXDEV;
    return -1;
  }
  /* The path below the root, without a leading '/'. */
  if (strcmp(root, "/") == 0)
    corun_buf_puts(&rel, real + 1);
  else if (real[strlen(root)] == '/')
    corun_buf_puts(&rel, real + strlen(root) + 1);
  free(real);
  if (*base) {
    if (rel.len)
      corun_buf_putc(&rel, '/');
    corun_buf_puts(&rel, base);
  }
  if (rel.len == 0)
    corun_buf_putc(&rel, '.');
  if (rel.oom) {
    corun_buf_free(&rel);
    errno = ENOMEM;
    return -1;
  }
  rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    corun_buf_free(&rel);
    return -1;
  }
  fd = openat_beneath(rootfd, corun_buf_str(&rel), flags, mode);
  e = errno;
  close(rootfd);
  corun_buf_free(&rel);
  errno = e;
  return fd;
}

const char *corun__confine_strerror(int e)
{
  return e == EXDEV ? "it leads outside --root (a symbolic link changed?)"
                    : strerror(e);
}
