/* SPDX-License-Identifier: MIT */
/*
 * Starting a command without fork(): uv_spawn() in the libuv corun builds
 * with (1.44) forks, which copies the page tables of the whole corun
 * process and then takes a copy-on-write fault for every page corun
 * touches before the child has exec'd. corun__spawn() takes the same
 * options and gives the same child (its own session, stdio on pipes or
 * /dev/null, signal dispositions default, an empty signal mask, cwd,
 * env, PATH search), but starts it with posix_spawn(), which glibc does
 * with clone(CLONE_VM | CLONE_VFORK): nothing is copied.
 *
 * libuv reaps only the processes of its own uv_process_t handles (a
 * waitpid() of each, never of -1), so a process started here is watched
 * through a pidfd (Linux 5.3) polled on the loop, and reaped with
 * waitpid() once the pidfd says it has exited: no one else can reap it
 * first, and its pid cannot be reused before that.
 *
 * Where the fast path cannot give the same child, corun__spawn() is
 * uv_spawn() itself: a kernel without pidfds (or a seccomp filter that
 * refuses them), options it does not handle (anything but
 * UV_PROCESS_DETACHED, stdio other than ignored or a new pipe), an env
 * whose PATH differs from corun's own for a program named without a '/'
 * (glibc's posix_spawnp() searches the parent's PATH, libuv's child the
 * new environment's), and a program the kernel cannot execute (ENOEXEC:
 * libuv's execvp() then runs it with /bin/sh, posix_spawnp() does not).
 *
 * One difference remains, by choice: the fast path's pipes are pipes,
 * where libuv's are socket pairs, so "/dev/stdout" can be opened by the
 * command.
 */
#ifndef CORUN_SPAWN_H
#define CORUN_SPAWN_H

#include <stdint.h>
#include <uv.h>

struct corun_process;

typedef void (*corun_exit_cb)(struct corun_process *p, int64_t exit_status,
                              int term_signal);

struct corun_process {
  union {
    uv_process_t uv; /* libuv's path */
    uv_poll_t poll;  /* the fast path: the pidfd */
    uv_idle_t idle;  /* the fast path failed: only something to close */
  } h;
  void *data; /* the caller's; also the handle's data in close callbacks */
  int pid;
  int pidfd; /* -1 on libuv's path */
  corun_exit_cb exit_cb;
};

/*
 * uv_spawn(), with options->exit_cb replaced by exit_cb (called once, when
 * the process has exited and been reaped). Returns 0 or a libuv error
 * code, as uv_spawn() does, so that its caller tells a missing program
 * from a lack of descriptors the same way on either path. Whatever it
 * returns, p is then closed once with corun__process_close(); the close
 * callback gets a handle whose data is p->data.
 */
int corun__spawn(uv_loop_t *loop, struct corun_process *p,
                 const uv_process_options_t *options, corun_exit_cb exit_cb);
void corun__process_close(struct corun_process *p, uv_close_cb cb);

/*
 * For tests only: 1 makes every later corun__spawn() of this process take
 * libuv's path, as on a kernel without pidfds; 0 undoes it.
 */
void corun__spawn_libuv_only(int on);
/* Whether the last successful corun__spawn() took the fast path. */
int corun__spawn_last_fast(void);

#endif
