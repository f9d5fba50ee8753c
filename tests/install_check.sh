#!/usr/bin/env bash
# cmake --install into a temporary prefix puts every piece where it
# belongs (one public header, the shared library with its soname beside
# the static one), and a small program builds against the installed
# library through pkg-config, shared and static, checks the version and
# runs a job with it.
# Usage: install_check.sh BUILD_DIR SRC_DIR [EXTRA_CFLAGS...]
set -u
build=$1
src=$2
shift 2
extra=("$@")
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
bad=0
fail() { echo "FAIL: $*"; bad=1; }

cmake --install "$build" --prefix "$prefix" >/dev/null || { echo "FAIL: install"; exit 1; }
libdir=$(cd "$prefix" && ls -d lib* | head -1)
for f in bin/corun "$libdir/libcorun.a" "$libdir/libcorun.so" \
         "$libdir/libcorun.so.0" include/corun/corun.h \
         "$libdir/pkgconfig/corun.pc" share/man/man1/corun.1 \
         share/bash-completion/completions/corun share/zsh/site-functions/_corun; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
# corun.h is the one public header: nothing else under include/.
others=$(cd "$prefix/include" && find . -type f ! -path ./corun/corun.h)
[ -z "$others" ] || fail "headers installed beside corun.h: $others"
# The shared library's soname is libcorun.so.0, and libcorun.so.0 is it.
soname=$(objdump -p "$prefix/$libdir/libcorun.so" 2>/dev/null |
         awk '$1 == "SONAME" {print $2}')
[ "$soname" = libcorun.so.0 ] || fail "soname: '$soname', not libcorun.so.0"
# It exports the library's public names only.
if command -v nm >/dev/null; then
  exported=$(nm -D --defined-only "$prefix/$libdir/libcorun.so" |
          awk '{print $3}' | grep -v '^corun_' | grep -v '^_' | head -5)
  [ -z "$exported" ] || fail "libcorun.so exports: $exported"
  internal=$(nm -D --defined-only "$prefix/$libdir/libcorun.so" |
             awk '{print $3}' | grep '^corun__' | head -5)
  [ -z "$internal" ] || fail "libcorun.so exports internal names: $internal"
fi
if [ -e "$src/schema/corun.schema.json" ]; then
  [ -e "$prefix/share/corun/corun.schema.json" ] || fail "missing the schema"
fi
"$prefix/bin/corun" --version >/dev/null || fail "the installed corun does not run"

cat > "$prefix/tiny.c" <<'C'
#include <corun.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#if !defined(CORUN_VERSION_MAJOR) || !defined(CORUN_VERSION_MINOR) ||       \
    !defined(CORUN_VERSION_PATCH)
#error "no version macros"
#endif

static void on_closed(struct corun_run *run, void *arg)
{
  (void)run;
  *(int *)arg = 1;
}

int main(void)
{
  const char *text = "{\"tasks\": [{\"id\": \"hi\", \"kind\": \"sleep\", "
                     "\"seconds\": 0.01, \"result\": 42}]}";
  struct corun_job *job;
  struct corun_run *run;
  struct corun_error err = {0};
  struct corun_buf out = CORUN_BUF_INIT;
  struct corun_load_opts lo = CORUN_LOAD_OPTS_INIT;
  struct corun_run_opts ro = CORUN_RUN_OPTS_INIT;
  struct corun_outcome o;
  char want[32];
  uv_loop_t loop;
  int rc, closed = 0;

  snprintf(want, sizeof(want), "%d.%d.%d", CORUN_VERSION_MAJOR,
           CORUN_VERSION_MINOR, CORUN_VERSION_PATCH);
  if (strcmp(want, CORUN_VERSION_STRING) != 0 ||
      strcmp(corun_version(), CORUN_VERSION_STRING) != 0 ||
      corun_version_hex() != CORUN_VERSION_HEX)
    return 9;
  printf("version %s\n", corun_version());
  signal(SIGPIPE, SIG_IGN);
  if (corun_global_init(&err) != CORUN_OK)
    return 12;
  if (corun_job_load_text(&job, text, strlen(text), "tiny", ".", &lo, NULL,
                          &err) != CORUN_OK)
    return 10;
  uv_loop_init(&loop);
  ro.arg = &closed;
  if (corun_run_new(&run, job, &loop, &ro, &err) != CORUN_OK)
    return 11;
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  corun_report_json(run, &out);
  corun_run_outcome(run, &o);
  rc = o.done && o.end == CORUN_END_NORMAL && o.roots_ok && o.ok == 1 ? 0 : 1;
  puts(strstr(corun_buf_str(&out), "\"result\": 42") ? "result 42" : "no");
  corun_buf_free(&out);
  /* Released from the loop: the close callback, then uv_run returns. */
  corun_run_close(run, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (!closed || uv_loop_close(&loop) != 0)
    rc = 13;
  corun_job_free(job);
  corun_global_cleanup();
  return rc;
}
C
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
pkg-config --exists corun || fail "pkg-config does not find corun"
version=$(pkg-config --modversion corun)
want="version $version
result 42"
# Linked as pkg-config says: against the shared library.
flags=$(pkg-config --cflags --libs corun) || fail "pkg-config corun"
if cc -Wall -Wextra -Werror -o "$prefix/tiny" "$prefix/tiny.c" "${extra[@]}" $flags; then
  needed=$(objdump -p "$prefix/tiny" | awk '$1 == "NEEDED" {print $2}')
  case "$needed" in
    *libcorun.so.0*) ;;
    *) fail "tiny does not need libcorun.so.0 (needs: $needed)" ;;
  esac
  got=$(LD_LIBRARY_PATH="$prefix/$libdir" "$prefix/tiny") || fail "tiny exited $?"
  [ "$got" = "$want" ] || fail "tiny printed: $got"
else
  fail "tiny does not build against the installed library"
fi
# And the static library, with its dependencies as the installed corun.pc
# names them (Requires and Requires.private; linked shared: a system need
# not have libcurl's static one).
deps="$(pkg-config --print-requires corun) $(pkg-config --print-requires-private corun)"
sflags=$(pkg-config --libs $deps) || fail "pkg-config deps: $deps"
sflags="$sflags -lm"
if cc -Wall -Werror -o "$prefix/tiny-static" "$prefix/tiny.c" "${extra[@]}" \
      $(pkg-config --cflags corun) "$prefix/$libdir/libcorun.a" $sflags; then
  got=$("$prefix/tiny-static") || fail "tiny-static exited $?"
  [ "$got" = "$want" ] || fail "tiny-static printed: $got"
else
  fail "tiny does not build against the installed static library"
fi
[ $bad = 0 ] && echo "install: ok"
exit $bad
