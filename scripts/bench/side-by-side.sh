#!/usr/bin/env bash
# Side-by-side A/B of two built trees (e.g. a `git worktree` of the old commit and this one):
# runs `cpu-per-command.js N` of both AT THE SAME TIME, each on its own private Redis, PAIRS
# times, and prints each run's rate and CPU per command. On a shared 2-core VM the speed
# drifts by up to 2x within minutes; two runs that share the minutes share the drift, so their
# CPU per command compares where runs one after another do not. (Each gets about half the
# machine: compare the pair, not a pair's rate with a run alone.)
#   bash scripts/bench/side-by-side.sh <tree A> <tree B> [N=30000] [PAIRS=3]
set -euo pipefail
a=$1; b=$2; n=${3:-30000}; pairs=${4:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
summary() { printf '%s %-10s %s\n' "$1" "$(sed -n 1p "$2" | sed 's/.*: //')" "$(grep -E '^  (redis|bench-r[0-9]|swarm-[0-9]|producer|all) ' "$2" | tr -s ' ' | cut -d' ' -f2-3 | tr '\n' ' ')"; }
for _ in $(seq 1 "$pairs"); do
  (cd "$a" && node dist/scripts/bench/cpu-per-command.js "$n" > "$out/a" 2>&1) &
  (cd "$b" && node dist/scripts/bench/cpu-per-command.js "$n" > "$out/b" 2>&1) &
  wait
  summary A "$out/a"
  summary B "$out/b"
done
