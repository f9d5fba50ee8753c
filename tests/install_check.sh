#!/usr/bin/env bash
# cmake --install into a temporary prefix puts every piece where it
# belongs, and a small program builds against the installed library
# through pkg-config and runs a job with it.
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
for f in bin/corun "$libdir/libcorun.a" include/corun/corun.h \
         include/corun/util/buf.h include/corun/util/error.h \
         "$libdir/pkgconfig/corun.pc" share/man/man1/corun.1 \
         share/bash-completion/completions/corun share/zsh/site-functions/_corun; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
if [ -e "$src/schema/corun.schema.json" ]; then
  [ -e "$prefix/share/corun/corun.schema.json" ] || fail "missing the schema"
fi
"$prefix/bin/corun" --version >/dev/null || fail "the installed corun does not run"

cat > "$prefix/tiny.c" <<'C'
#include <corun.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
  const char *text = "{\"tasks\": [{\"id\": \"hi\", \"kind\": \"sleep\", "
                     "\"seconds\": 0.01, \"result\": 42}]}";
  struct corun_job *job;
  struct corun_run *run;
  struct corun_error err = {0};
  struct corun_buf out = CORUN_BUF_INIT;
  uv_loop_t loop;
  int rc;

  if (corun_job_load_text(&job, text, strlen(text), "tiny", ".", NULL, NULL,
                          &err) != CORUN_OK)
    return 10;
  uv_loop_init(&loop);
  if (corun_run_new(&run, job, &loop, NULL, &err) != CORUN_OK)
    return 11;
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  corun_report_json(run, &out);
  rc = corun_run_exit_code(run);
  puts(strstr(corun_buf_str(&out), "\"result\": 42") ? "result 42" : "no");
  corun_buf_free(&out);
  corun_run_free(run);
  uv_loop_close(&loop);
  corun_job_free(job);
  return rc;
}
C
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
pkg-config --exists corun || fail "pkg-config does not find corun"
flags=$(pkg-config --cflags --libs corun) || fail "pkg-config corun"
if cc -Wall -Werror -o "$prefix/tiny" "$prefix/tiny.c" "${extra[@]}" $flags; then
  got=$("$prefix/tiny") || fail "tiny exited $?"
  [ "$got" = "result 42" ] || fail "tiny printed: $got"
else
  fail "tiny does not build against the installed library"
fi
[ $bad = 0 ] && echo "install: ok"
exit $bad
