/* SPDX-License-Identifier: MIT */
/* posix_spawn_file_actions_addchdir_np(), pipe2(). */
#define _GNU_SOURCE
#include "util/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#if defined(__linux__)
#include <spawn.h>
#include <sys/syscall.h>
#if defined(POSIX_SPAWN_SETSID) && defined(SYS_pidfd_open)
#define FAST_SPAWN 1
#endif
#endif

extern char **environ;

static int libuv_only;
static int last_fast;

void corun__spawn_libuv_only(int on)
{
  libuv_only = on;
}

int corun__spawn_last_fast(void)
{
  return last_fast;
}

static struct corun_process *of_handle(void *h)
{
  return (struct corun_process *)((char *)h -
                                  offsetof(struct corun_process, h));
}

static void libuv_exited(uv_process_t *h, int64_t status, int sig)
{
  struct corun_process *p = of_handle(h);

  p->exit_cb(p, status, sig);
}

static int spawn_libuv(uv_loop_t *loop, struct corun_process *p,
                       const uv_process_options_t *options)
{
  uv_process_options_t o = *options;
  int r;

  o.exit_cb = libuv_exited;
  r = uv_spawn(loop, &p->h.uv, &o);
  if (r == 0) {
    p->pid = p->h.uv.pid;
    last_fast = 0;
  }
  return r;
}

#ifdef FAST_SPAWN

/* 1: pidfds work here; -1: the kernel (or a filter) refuses them; 0: not
 * known yet. */
static int pidfd_state;

static int pidfd_open(int pid)
{
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Whether processes can be watched through pidfds; asked once. */
static int pidfds_work(void)
{
  int fd;

  if (pidfd_state)
    return pidfd_state > 0;
  fd = pidfd_open((int)getpid());
  if (fd >= 0) {
    close(fd);
    pidfd_state = 1;
  } else if (errno == ENOSYS || errno == EPERM || errno == EINVAL) {
    pidfd_state = -1;
  }
  /* Out of descriptors, say: libuv this time, the question open. */
  return fd >= 0;
}

/*
 * Whether a program named without a '/' would be looked up in a PATH other
 * than corun's own: posix_spawnp() searches the parent's, libuv's child
 * the new environment's.
 */
static int other_path(const uv_process_options_t *o)
{
  const char *ours = getenv("PATH"), *theirs = NULL;
  size_t i;

  if (o->env == NULL || strchr(o->file, '/'))
    return 0;
  /* The first, as getenv() in the child would find it. */
  for (i = 0; o->env[i] && theirs == NULL; i++)
    if (strncmp(o->env[i], "PATH=", 5) == 0)
      theirs = o->env[i] + 5;
  if (ours == NULL || theirs == NULL)
    return ours != theirs;
  return strcmp(ours, theirs) != 0;
}

/* Whether the fast path gives what these options ask for. */
static int fast_fits(const uv_process_options_t *o)
{
  int i;

  if (libuv_only || (o->flags & ~(unsigned)UV_PROCESS_DETACHED) ||
      o->stdio_count > 3 || other_path(o))
    return 0;
  for (i = 0; i < o->stdio_count; i++) {
    unsigned f = o->stdio[i].flags;

    if (f == UV_IGNORE)
      continue;
    /* A pipe goes one way: the child reads it or writes it. */
    if (!(f & UV_CREATE_PIPE) ||
        (f & ~(unsigned)(UV_CREATE_PIPE | UV_READABLE_PIPE |
                         UV_WRITABLE_PIPE)) ||
        !(f & UV_READABLE_PIPE) == !(f & UV_WRITABLE_PIPE) ||
        o->stdio[i].data.stream == NULL ||
        o->stdio[i].data.stream->type != UV_NAMED_PIPE)
      return 0;
  }
  return pidfds_work();
}

static void close_fds(int (*fds)[2])
{
  int i, k;

  for (i = 0; i < 3; i++)
    for (k = 0; k < 2; k++)
      if (fds[i][k] >= 0) {
        close(fds[i][k]);
        fds[i][k] = -1;
      }
}

/*
 * The child's attributes, as libuv's child sets them up: every signal
 * default (what corun ignores or catches is not the command's business),
 * nothing blocked, and a new session where asked (attrs[1]). They do not
 * depend on the command, so they are built once for the process; under
 * pthread_once, since two loops in two threads may each start commands
 * (posix_spawn() only reads them then). They live as long as the process.
 */
static posix_spawnattr_t attrs[2];
static int attrs_err; /* an errno if they could not be built */
static pthread_once_t attrs_once = PTHREAD_ONCE_INIT;

static int build_attr(posix_spawnattr_t *at, short flags)
{
  sigset_t set;
  int r;

  if ((r = posix_spawnattr_init(at)) != 0)
    return r;
  sigemptyset(&set);
  r = posix_spawnattr_setsigmask(at, &set);
  /*
   * Every signal, set bit by bit: sigfillset() leaves out the two glibc
   * keeps for itself (32 and 33), and posix_spawn() would then leave them
   * ignored in the child, where fork() and exec give the command their
   * default. SIGKILL and SIGSTOP cannot be set and are left as they are.
   */
  memset(&set, 0xff, sizeof(set));
  if (r == 0)
    r = posix_spawnattr_setsigdefault(at, &set);
  if (r == 0)
    r = posix_spawnattr_setflags(at, flags);
  if (r != 0)
    posix_spawnattr_destroy(at);
  return r;
}

static void build_attrs(void)
{
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;

  attrs_err = build_attr(&attrs[0], flags);
  if (attrs_err == 0 &&
      (attrs_err = build_attr(&attrs[1], flags | POSIX_SPAWN_SETSID)) != 0)
    posix_spawnattr_destroy(&attrs[0]);
}

/* The attributes for these options, or NULL with *err an errno. */
static const posix_spawnattr_t *attrs_for(const uv_process_options_t *o,
                                          int *err)
{
  if ((*err = pthread_once(&attrs_once, build_attrs)) == 0)
    *err = attrs_err;
  if (*err != 0)
    return NULL;
  return &attrs[(o->flags & UV_PROCESS_DETACHED) ? 1 : 0];
}

/*
 * The child's descriptors as libuv's child sets them up: stdio from the
 * pipes or /dev/null, then cwd. Returns 0 or an errno.
 */
static int prepare(const uv_process_options_t *o, const int *child,
                   posix_spawn_file_actions_t *fa)
{
  int i, r = 0;

  for (i = 0; r == 0 && i < 3; i++)
    r = child[i] >= 0
            ? posix_spawn_file_actions_adddup2(fa, child[i], i)
            : posix_spawn_file_actions_addopen(
                  fa, i, "/dev/null", i == 0 ? O_RDONLY : O_RDWR, 0);
  if (r == 0 && o->cwd)
    r = posix_spawn_file_actions_addchdir_np(fa, o->cwd);
  return r;
}

/* A child that was started but cannot be watched: gone before it runs on. */
static void discard_child(int pid)
{
  int st;

  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
}

static void pidfd_readable(uv_poll_t *h, int status, int events)
{
  struct corun_process *p = of_handle(h);
  int st = 0, r;
  int64_t code;
  int sig = 0;

  (void)events;
  /*
   * A poll that failed (libuv has stopped it) would never call again: the
   * process is then waited for here, as uv_spawn's SIGCHLD would.
   */
  do
    r = waitpid(p->pid, &st, status < 0 ? 0 : WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return; /* not yet: a pidfd is readable only once it has exited */
  (void)uv_poll_stop(h);
  if (r < 0) {
    /*
     * Reaped by someone else (SIGCHLD set to SIG_IGN by the program that
     * embeds corun): the status is lost. libuv would wait forever; an
     * exit status of -1 says what happened instead.
     */
    code = -1;
  } else if (WIFSIGNALED(st)) {
    code = 0;
    sig = WTERMSIG(st);
  } else {
    code = WEXITSTATUS(st);
  }
  p->exit_cb(p, code, sig);
}

/*
 * The fast path. Returns 0, a libuv error code, or 1: take libuv's path
 * (nothing was started).
 */
static int spawn_fast(uv_loop_t *loop, struct corun_process *p,
                      const uv_process_options_t *o)
{
  int fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  int child[3] = {-1, -1, -1}, parent[3] = {-1, -1, -1};
  const posix_spawnattr_t *at;
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int i, r, slot;

  for (i = 0; i < o->stdio_count && i < 3; i++) {
    int reads;

    if (o->stdio[i].flags == UV_IGNORE)
      continue;
    if (pipe2(fds[i], O_CLOEXEC) < 0) {
      r = uv_translate_sys_error(errno);
      goto fail;
    }
    reads = (o->stdio[i].flags & UV_READABLE_PIPE) != 0;
    child[i] = fds[i][reads ? 0 : 1];
    parent[i] = fds[i][reads ? 1 : 0];
  }
  /*
   * A child's end among 0-2 (corun started with its stdio closed) could be
   * overwritten by another's before it is moved into place: libuv sorts
   * that out.
   */
  for (i = 0; i < 3; i++)
    if (child[i] >= 0 && child[i] < 3) {
      close_fds(fds);
      return 1;
    }
  if ((at = attrs_for(o, &r)) == NULL ||
      (r = posix_spawn_file_actions_init(&fa)) != 0) {
    r = uv_translate_sys_error(r);
    goto fail;
  }
  /*
   * The pidfd's descriptor is held before the command starts: a command
   * that could not be watched would have to be killed after it had run.
   */
  slot = open("/dev/null", O_RDONLY | O_CLOEXEC);
  r = slot < 0 ? errno : prepare(o, child, &fa);
  if (r == 0)
    r = strchr(o->file, '/')
            ? posix_spawn(&pid, o->file, &fa, at, o->args,
                          o->env ? o->env : environ)
            : posix_spawnp(&pid, o->file, &fa, at, o->args,
                           o->env ? o->env : environ);
  posix_spawn_file_actions_destroy(&fa);
  if (slot >= 0)
    close(slot);
  for (i = 0; i < 3; i++)
    if (child[i] >= 0) {
      close(child[i]);
      fds[i][parent[i] == fds[i][0] ? 1 : 0] = -1;
    }
  if (r == ENOEXEC) {
    /* libuv's execvp() hands it to /bin/sh: so must we. */
    close_fds(fds);
    return 1;
  }
  if (r != 0) {
    r = uv_translate_sys_error(r);
    goto fail;
  }
  p->pid = (int)pid;
  p->pidfd = pidfd_open((int)pid);
  r = p->pidfd < 0 ? uv_translate_sys_error(errno)
                   : uv_poll_init(loop, &p->h.poll, p->pidfd);
  if (r != 0) {
    /*
     * ESRCH: reaped already (SIGCHLD ignored by the embedding program);
     * its pid may be another process's by now, so nothing is killed.
     */
    if (p->pidfd >= 0 || r != UV_ESRCH)
      discard_child((int)pid);
    if (p->pidfd >= 0)
      close(p->pidfd);
    p->pidfd = -1;
    goto fail;
  }
  /* From here on each descriptor is its pipe's, or closed. */
  for (i = 0; i < 3; i++) {
    if (parent[i] < 0)
      continue;
    fds[i][0] = fds[i][1] = -1;
    if (r == 0 &&
        (r = uv_pipe_open((uv_pipe_t *)o->stdio[i].data.stream,
                          parent[i])) == 0)
      continue;
    close(parent[i]);
  }
  if (r == 0)
    r = uv_poll_start(&p->h.poll, UV_READABLE, pidfd_readable);
  if (r != 0) {
    discard_child((int)pid);
    return r;
  }
  last_fast = 1;
  return 0;

fail:
  /* Nothing runs: the caller still closes p, so it gets a handle. */
  close_fds(fds);
  (void)uv_idle_init(loop, &p->h.idle);
  return r;
}

#endif /* FAST_SPAWN */

int corun__spawn(uv_loop_t *loop, struct corun_process *p,
                 const uv_process_options_t *options, corun_exit_cb exit_cb)
{
  int r = 1;

  p->pid = 0;
  p->pidfd = -1;
  p->exit_cb = exit_cb;
#ifdef FAST_SPAWN
  if (fast_fits(options))
    r = spawn_fast(loop, p, options);
#endif
  if (r == 1)
    r = spawn_libuv(loop, p, options);
  return r;
}

void corun__process_close(struct corun_process *p, uv_close_cb cb)
{
  uv_handle_t *h = (uv_handle_t *)&p->h;

  if (uv_is_closing(h))
    return;
  h->data = p->data;
  uv_close(h, cb);
  /* Closing the handle stopped the polling: the pidfd can go now. */
  if (p->pidfd >= 0) {
    close(p->pidfd);
    p->pidfd = -1;
  }
}
