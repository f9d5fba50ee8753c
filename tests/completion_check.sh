#!/usr/bin/env bash
# Checks the shell completions in completions/ against the corun binary:
# every option --help lists is offered by both, nothing else is, and the
# bash completion completes options, option values and *.json job files.
# Usage: completion_check.sh CORUN SRC_DIR
set -u
corun=$1
src=$(cd "$2" && pwd)
bad=0
fail() { echo "FAIL: $*"; bad=1; }

opts=$("$corun" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$opts" ] || fail "no options in corun --help"
for f in "$src/completions/corun.bash" "$src/completions/_corun"; do
  for o in $opts; do
    grep -q -- "$o\b" "$f" || fail "$f does not offer $o"
  done
  for o in $(grep -oE -- "--[a-z][a-z-]+" "$f" | sort -u); do
    echo "$opts" | grep -qx -- "$o" || fail "$f offers $o, which corun --help does not list"
  done
done

# bash: complete in a scratch directory holding one job file and one other.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/deploy.json" "$dir/notes.txt"
mkdir "$dir/jobs" "$dir/my jobs" "$dir/my jobs/inner dir"
touch "$dir/my jobs/nightly run.json" "$dir/[ab]*.json" "$dir/a.json"
complete_words() {
  (cd "$dir" && bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _corun
    printf "%s\n" "${COMPREPLY[@]}"' _ "$src/completions/corun.bash" "$@")
}
got=$(complete_words corun --rep)
[ "$got" = "--report" ] || fail "'corun --rep' gave: $got"
got=$(complete_words corun --progress "")
[ "$(echo $got)" = "auto always never" ] || fail "--progress values: $got"
got=$(complete_words corun "")
echo "$got" | grep -qx deploy.json || fail "'corun ' does not offer deploy.json: $got"
echo "$got" | grep -qx notes.txt && fail "'corun ' offers notes.txt"
echo "$got" | grep -qx graph || fail "'corun ' does not offer the graph command"
echo "$got" | grep -qx jobs/ || fail "'corun ' does not offer directories: $got"
got=$(complete_words corun --root "" | sort)
[ "$got" = "jobs/
my jobs/" ] || fail "--root offers: $got"
# A name with spaces is one word; a directory ends in '/' (no space after).
got=$(complete_words corun "my")
[ "$got" = "my jobs/" ] || fail "'corun my' gave: $got"
got=$(complete_words corun "my jobs/" | sort)
[ "$got" = "my jobs/inner dir/
my jobs/nightly run.json" ] || fail "'corun my jobs/' gave: $got"
got=$(complete_words corun --root "my")
[ "$got" = "my jobs/" ] || fail "'--root my' gave: $got"
got=$(complete_words corun --report "my jobs/n")
[ "$got" = "my jobs/nightly run.json" ] || fail "'--report my jobs/n' gave: $got"
# A name that looks like a pattern is a name, not a pattern.
got=$(complete_words corun "[")
[ "$got" = "[ab]*.json" ] || fail "'corun [' gave: $got"
# OPTION=ARG, as bash splits it at '=' and as one word (COMP_WORDBREAKS
# without '=').
got=$(complete_words corun --report = "dep")
[ "$got" = "deploy.json" ] || fail "'--report=dep' gave: $got"
got=$(complete_words corun --root = | sort)
[ "$got" = "jobs/
my jobs/" ] || fail "'--root=' gave: $got"
got=$(complete_words corun --progress = "al")
[ "$got" = "always" ] || fail "'--progress=al' gave: $got"
got=$(complete_words corun "--report=dep")
[ "$got" = "--report=deploy.json" ] || fail "'--report=dep' as one word: $got"
got=$(complete_words corun "--progress=n")
[ "$got" = "--progress=never" ] || fail "'--progress=n' as one word: $got"
# Abbreviations getopt accepts: the option they stand for.
got=$(complete_words corun --ro "" | sort)
[ "$got" = "jobs/
my jobs/" ] || fail "'--ro ' gave: $got"
got=$(complete_words corun "--prog=al")
[ "$got" = "--prog=always" ] || fail "'--prog=al' gave: $got"
got=$(complete_words corun --j "dep")
[ "$got" = "deploy.json" ] || fail "'--j dep' (ambiguous) gave: $got"
got=$(complete_words corun --var = "")
[ -z "$got" ] || fail "'--var=' offers: $got"
# --shard: K/N is the user's, 'auto' is offered; --shard-timings: a report.
got=$(complete_words corun --shard "")
[ "$got" = "auto" ] || fail "'--shard ' gave: $got"
got=$(complete_words corun "--shard=a")
[ "$got" = "--shard=auto" ] || fail "'--shard=a' as one word: $got"
got=$(complete_words corun --shard-timings "" | sort)
echo "$got" | grep -qx deploy.json || fail "'--shard-timings ' does not offer deploy.json: $got"
echo "$got" | grep -qx notes.txt && fail "'--shard-timings ' offers notes.txt"
echo "$got" | grep -qx jobs/ || fail "'--shard-timings ' does not offer directories: $got"
got=$(complete_words corun --shard-t "dep")
[ "$got" = "deploy.json" ] || fail "'--shard-t dep' gave: $got"
# corun merge: the command, its options, a file after each, reports.
got=$(complete_words corun "me")
[ "$got" = "merge" ] || fail "'corun me' gave: $got"
got=$(complete_words corun merge --res)
[ "$got" = "--results" ] || fail "'corun merge --res' gave: $got"
got=$(complete_words corun merge --junit "my jobs/n")
[ "$got" = "my jobs/nightly run.json" ] || fail "'merge --junit my jobs/n' gave: $got"
got=$(complete_words corun merge "")
echo "$got" | grep -qx deploy.json || fail "'corun merge ' does not offer reports: $got"
echo "$got" | grep -qx notes.txt && fail "'corun merge ' offers notes.txt"

# zsh: the function must at least parse (zsh is installed by .ci/run).
if command -v zsh >/dev/null; then
  zsh -n "$src/completions/_corun" || fail "_corun does not parse"
else
  fail "zsh is not installed (apt-get install zsh; .ci/run does)"
fi
[ $bad = 0 ] && echo "completions: ok"
exit $bad
