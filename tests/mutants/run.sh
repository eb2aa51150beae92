#!/usr/bin/env bash
# tests/mutants/run.sh - deliberate bugs, one at a time: each must make the
# tests that guard it fail.  Not part of `make test` (it rebuilds once per
# mutant); run it with `make mutants` or `tests/mutants/run.sh [FILE|NAME...]`.
#
# Mutants live in tests/mutants/*.txt, one block per mutant, blocks separated
# by blank lines, '#' lines are comments.  Each line is KEY, a colon, ONE space,
# then the value taken literally (so `from` may start with indentation):
#   name: stats-auroc-inverted
#   why: reporting 1 - AUROC
#   file: src/benchmarks/stats.c
#   from: res = (rank_sum
#   to: res = 1.0 - (rank_sum
#   tests: unit/test_stats e2e/test_stats_recompute
# name is unique; file is the one file it changes; from must occur in it exactly
# once; \n, \t and \\ are escapes in from/to; tests are tests/run.sh selectors.
# The working tree is copied (with build/, so only what changes is rebuilt)
# into a scratch folder; the selected tests must pass there unmutated first.
# Ends with "N passed, M failed": a passed mutant is one the tests caught (a
# mutant whose tests hang past MUTANT_TIMEOUT seconds, default 900, counts as
# caught: make test would never finish).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
sel=("$@")
files=(); names=()
for a in "${sel[@]:+${sel[@]}}"; do
  if [ -f "$a" ]; then files+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")"); else names+=("$a"); fi
done
[ ${#files[@]} -eq 0 ] && files=("$ROOT"/tests/mutants/*.txt)
list=$(mktemp)
"$PY" - "$list" "${files[@]}" <<'PYEOF' || exit 2
import sys
out, files = sys.argv[1], sys.argv[2:]
seen = set(); rows = []
for f in files:
    blocks = open(f, encoding="utf-8").read().split("\n\n")
    for b in blocks:
        d = {}
        for line in b.splitlines():
            if not line.strip() or line.startswith("#"): continue
            k, _, v = line.partition(":")
            d[k.strip()] = v[1:] if v.startswith(" ") else v
        if not d: continue
        for k in ("name", "file", "from", "to", "tests"):
            if k not in d: sys.exit(f"{f}: mutant {d.get('name','?')}: missing '{k}:'")
        if d["name"] in seen: sys.exit(f"{f}: duplicate mutant name {d['name']}")
        seen.add(d["name"])
        rows.append("\x1f".join([d["name"], d["file"], d["from"], d["to"], d["tests"], d.get("why", "")]))
open(out, "w", encoding="utf-8").write("\n".join(rows) + ("\n" if rows else ""))
PYEOF
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-mutants.XXXXXX")
trap 'rm -rf "$SCRATCH" "$list"' EXIT
W=$SCRATCH/w; mkdir -p "$W"
echo "copying the tree to $W" >&2
(cd "$ROOT" && tar --exclude=./build-asan --exclude=./build/bench --exclude=./.git --exclude=./results -cf - .) | (cd "$W" && tar -xf -)
# The tests look for ../shared beside the tree.
[ -d "$ROOT/../shared" ] && ln -s "$(cd "$ROOT/../shared" && pwd)" "$SCRATCH/shared"
killed=0; survived=0; logdir=${MUTANT_LOGS:-$SCRATCH/logs}; mkdir -p "$logdir"
apply() {  # file from to -> 0 applied, 1 not exactly once
  "$PY" - "$W/$1" "$2" "$3" <<'PYEOF'
import sys
p, a, b = sys.argv[1:4]
import re
esc = lambda t: re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), t)
a, b = esc(a), esc(b)
s = open(p, encoding="utf-8").read()
if s.count(a) != 1: sys.exit(f"'{a}' occurs {s.count(a)} times in {p}")
open(p, "w", encoding="utf-8").write(s.replace(a, b))
PYEOF
}
declare -A baseline
while IFS=$'\x1f' read -r -u 3 name file from to tests why; do
  if [ ${#names[@]} -gt 0 ]; then m=0; for n in "${names[@]}"; do [ "$n" = "$name" ] && m=1; done; [ $m -eq 1 ] || continue; fi
  if [ -z "${baseline[$tests]:-}" ]; then
    if (cd "$W" && make -s test TEST_GROUPS="$tests") </dev/null >"$logdir/baseline-$name.log" 2>&1; then baseline[$tests]=ok
    else baseline[$tests]=bad; fi
  fi
  if [ "${baseline[$tests]}" != ok ]; then
    echo "FAIL $name: its tests ($tests) fail without the mutant (see $logdir/baseline-$name.log)"; survived=$((survived+1)); continue
  fi
  cp "$ROOT/$file" "$W/$file.orig"
  if ! apply "$file" "$from" "$to" 2>"$logdir/$name.log"; then
    echo "FAIL $name: stale mutant: $(cat "$logdir/$name.log")"; survived=$((survived+1)); mv "$W/$file.orig" "$W/$file"; continue
  fi
  t0=$SECONDS
  if ! (cd "$W" && make -s test-programs) >>"$logdir/$name.log" 2>&1; then
    echo "FAIL $name: the mutant does not build (a mutant must compile to mean anything): $(grep -m1 error "$logdir/$name.log")"
    survived=$((survived+1))
  elif (cd "$W" && timeout "${MUTANT_TIMEOUT:-900}" make -s test TEST_GROUPS="$tests") </dev/null >>"$logdir/$name.log" 2>&1; then
    echo "FAIL $name: survived ($why) - $tests all passed"; survived=$((survived+1))
  else
    caught=$(grep -E '^[a-z0-9-]+/test_[a-z0-9_]+ +[0-9]+ passed, [1-9]' "$logdir/$name.log" | awk '{print $1}' | tr '\n' ' ')
    [ -z "$caught" ] && caught="a failed run (see $logdir/$name.log) "
    printf 'ok   %-34s caught by %s(%ds)\n' "$name" "$caught" $((SECONDS-t0)); killed=$((killed+1))
  fi
  mv "$W/$file.orig" "$W/$file"; touch "$W/$file"
done 3< "$list"   # not stdin: mpirun in the tests reads stdin and would eat the list
echo "mutants: $killed passed, $survived failed"
[ "$survived" -eq 0 ]
