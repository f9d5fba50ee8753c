#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer targets with clang into build-fuzz/ and run each for
# SECONDS (default 20) on a fresh seed corpus in a scratch directory, then
# print the executions per target and in all.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     TARGET: jobfile duration template decode pick
#
# .ci/run calls "fuzz/run.sh 20". Environment:
#   CORUN_FUZZ_CORPUS=DIR  keep the corpus in DIR/TARGET across runs (it
#                          grows with what the fuzzer finds) instead of a
#                          scratch directory
#   CORUN_FUZZ_BUILD=DIR   build directory (default build-fuzz)
#   CORUN_FUZZ_ARGS=...    more libFuzzer flags, e.g. "-jobs=4 -workers=4"
# Exit status: 0 when every target ran clean; 1 when one found a crash, a
# leak, undefined behaviour, a failed check or a hang. The input that did
# it is copied to BUILD/artifacts/; see fuzz/README.md for what to do next.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jobfile duration template decode pick)
case $secs in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
for t in "${targets[@]}"; do
  case $t in
    jobfile | duration | template | decode | pick) ;;
    *) echo "$0: unknown target '$t' (jobfile, duration, template, decode, pick)" >&2; exit 2 ;;
  esac
done

build=${CORUN_FUZZ_BUILD:-$src/build-fuzz}
cc=${CC:-clang}
case $cc in *clang*) ;; *) cc=clang ;; esac
command -v "$cc" >/dev/null || { echo "$0: needs clang (libFuzzer)" >&2; exit 1; }

echo "== building fuzz targets in $build ($cc)"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCORUN_FUZZ=ON \
  -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
  --target "${targets[@]/#/fuzz_}"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/corun-fuzz-run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
corpus=${CORUN_FUZZ_CORPUS:-$scratch/corpus}
bash "$src/fuzz/make-corpus.sh" "$corpus" >/dev/null
mkdir -p "$build/artifacts"

# Leaks count (detect_leaks); any sanitizer report ends the run.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1

total=0
failed=()
summary=()
for t in "${targets[@]}"; do
  log=$scratch/$t.log
  echo "== fuzz_$t for ${secs}s"
  rc=0
  # -max_len: job files beyond 64 KiB only repeat what smaller ones reach.
  # -timeout: one input taking 10 s is a hang.
  # shellcheck disable=SC2086
  "$build/fuzz/fuzz_$t" -dict="$src/fuzz/corun.dict" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -max_total_time="$secs" \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
    ${CORUN_FUZZ_ARGS:-} "$corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  runs=${runs:-0}
  total=$((total + runs))
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    summary+=("fuzz_$t: $runs executions, FAILED (exit $rc)")
    echo "fuzz_$t failed (exit $rc); the end of its log:" >&2
    tail -n 60 "$log" >&2
    grep -h '^artifact_prefix=.*Test unit written to' "$log" >&2 || true
  else
    summary+=("fuzz_$t: $runs executions, clean")
  fi
done

echo "== fuzzing summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
echo "total: $total executions"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]} (inputs in $build/artifacts/)" >&2
  exit 1
fi
