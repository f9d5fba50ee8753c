#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the seed corpora of the fuzz targets under DIR:
#   DIR/jobfile   every jobs/*.json and tests/fixtures/**/*.json
#   DIR/duration  handwritten durations and rates, and those the fixtures use
#   DIR/template  handwritten templates, and the ${...} strings of the
#                 fixtures (byte 0 of a template input is its flags byte)
#   DIR/decode    gzip, zlib and raw deflate bodies, whole and cut (byte 0
#                 picks the Content-Encoding list)
# plus the regression inputs of tests/fixtures/fuzz/<target>/ for each.
# Seeds are named by content hash, so running it twice adds nothing.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
out=$1
mkdir -p "$out/jobfile" "$out/duration" "$out/template" "$out/decode" "$out/pick"

# seed TARGET: stdin becomes one seed file of that target.
seed() {
  local tmp h
  tmp=$(mktemp "$out/$1/.seed.XXXXXX")
  cat >"$tmp"
  h=$(sha1sum "$tmp" | cut -c1-40)
  mv -f "$tmp" "$out/$1/$h"
}

shopt -s nullglob globstar
for f in "$src"/jobs/*.json "$src"/tests/fixtures/**/*.json; do
  case $f in "$src"/tests/fixtures/fuzz/*) continue ;; esac
  seed jobfile <"$f"
done

durations=(0 1 1.5 0.25 .5 5. 250ms 1.5s 2m 1h 1e3 1e-3ms 1E+2s -1 -0 +1
  1000000000 1000000001 1e9 3.6e5h "" s ms 5\ s 0x10 inf nan 1e400 "1.5 s"
  1e-400 00 1.2.3 20/s 5/m 100/h 0/s 1e308/s 1e-300/h 2/ /s 2/x 200/s)
for d in "${durations[@]}"; do printf '%s' "$d" | seed duration; done

# Flags byte: 0 vars; 1 env_only (a variable's own value); 2 no vars.
templates=('plain text' '${a}' '${a}${b}' '$${a}' '$$${a}' '${item}'
  '${item.url}' '${item.a.b}' '${index}' '${item.}' '${item..x}' '${items}'
  '${login.token}' '${c.1.tok}' '${item.id}/${a.b}' '${env.x}' '$${a.b}'
  '${env:CORUN_FUZZ_SECRET}' '${env:CORUN_FUZZ_UNSET:-fallback}'
  '${env:CORUN_FUZZ_UNSET}' '${env:1BAD}' '${env:}' '${}' '${a' 'x${'
  '${b}{item}' '${b}${item}' '${c}' '${d}' '${e}a}' '${n}' '${o}'
  '${env:CORUN_FUZZ_DOLLAR}{x}' '${env:CORUN_FUZZ_BRACE}'
  '${env:CORUN_FUZZ_TEMPLATE}${index}' '${item.fail}' '${bse}/x' '$' '$$'
  '${base}/${item}?q=${index}')
for t in "${templates[@]}"; do
  for flags in '\000' '\001' '\002'; do
    { printf "$flags"; printf '%s' "$t"; } | seed template
  done
done

# Bodies for the decoder: byte 0 picks the list (0 gzip, 1 deflate, 5
# "deflate, zstd" ...), whole, cut, and two gzip members.
python3 - "$out/decode" <<'PY'
import hashlib, os, sys, zlib
out = sys.argv[1]
text = b"".join(b"line %d of the body, with some repeats\n" % i for i in range(200))
def pack(bits, data):
    c = zlib.compressobj(6, zlib.DEFLATED, bits)
    return c.compress(data) + c.flush()
bodies = [b"\x00" + pack(31, text), b"\x00" + pack(31, text)[:-5],
          b"\x00" + pack(31, text) + pack(31, b"more"),
          b"\x01" + pack(15, text), b"\x01" + pack(-15, text),
          b"\x01" + pack(15, text)[:40], b"\x00" + pack(31, b"")]
for b in bodies:
    with open(os.path.join(out, hashlib.sha1(b).hexdigest()), "wb") as f:
        f.write(b)
PY

# What the fixtures write: every string with a template, every duration
# and rate value.
for f in "$src"/jobs/*.json "$src"/tests/fixtures/**/*.json; do
  case $f in "$src"/tests/fixtures/fuzz/*) continue ;; esac
  grep -oE '"[^"\\]*\$\{[^"\\]*"' "$f" | sed 's/^"//; s/"$//' |
    while IFS= read -r t; do { printf '\000'; printf '%s' "$t"; } | seed template; done
  grep -oE '"(seconds|timeout|backoff|rate|attempt_timeout|connect_timeout|kill_grace|produce_delay)": *"[^"]*"' "$f" |
    sed 's/^"[a-z_]*": *"//; s/"$//' |
    while IFS= read -r d; do printf '%s' "$d" | seed duration; done
done || true

for t in jobfile duration template decode pick; do
  for f in "$src"/tests/fixtures/fuzz/$t/*; do seed "$t" <"$f"; done
done
for t in jobfile duration template decode pick; do
  echo "$t: $(find "$out/$t" -type f | wc -l) seeds"
done
