/* SPDX-License-Identifier: MIT */
/*
 * corun ps: a running corun answers on a Unix socket with its task dump,
 * and "corun ps" asks. The socket lives in a directory only its user can
 * enter ($XDG_RUNTIME_DIR/corun, else /tmp/corun-UID, mode 0700), named
 * after the run's process id, mode 0600.
 */
#ifndef CORUN_CMD_PS_H
#define CORUN_CMD_PS_H

#include <uv.h>

#include "corun.h"

struct ps_conn;

struct ps_server {
  uv_pipe_t pipe;
  int open;       /* pipe is initialised; close it */
  int bound;      /* path is ours: unlink it */
  char path[108]; /* sockaddr_un's sun_path */
  const char *job_name;
  const char *job_file;
  struct corun_run *const *run; /* the run, NULL once it is released */
  struct ps_conn *conns;        /* connections being answered */
};

/*
 * Serve the run's dump on loop. Returns 0, or -1 with why (static text)
 * when there is nowhere safe to put the socket: the run goes on without.
 * The server holds no reference on the loop.
 */
int ps_serve(struct ps_server *s, uv_loop_t *loop, struct corun_run *const *run,
             const char *job_name, const char *job_file, const char **why);
/* Close the socket and its connections, and remove it. Idempotent. */
void ps_close(struct ps_server *s);

/* "corun ps [--json] [PID]": argv[0] is "ps". Returns the exit status. */
int ps_main(int argc, char **argv);

#endif
