#!/usr/bin/env bash
# Runner overhead per item on the real MMSafeAware manifest with the responses
# backend at 1 and 2 ranks (everything included: MPI start-up excluded by
# subtracting a 1-item run, then scheduling, parsing, journal + fsync, HDF5
# writes, reduce), and `mmsafe check` throughput on the real release.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh >/dev/null 2>&1 || true
T_NAME=bench
REL=../shared/data/mmsafeaware
W=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-bench.XXXXXX"); trap 'rm -rf "$W"' EXIT
if [ -f "$REL/prompt.txt" ]; then
  ./mmsafe import mmsafeaware "$REL" -o "$W/man.jsonl" >/dev/null 2>&1
  src="the real MMSafeAware manifest (1523 items)"
else
  "$PY" tests/mpi/gen_bench.py "$W/g" 1523 1 && mv "$W/g/manifest.jsonl" "$W/man.jsonl"
  src="a synthetic 1523-item manifest (../shared absent)"
fi
"$PY" - "$W/man.jsonl" "$W/resp.jsonl" <<'PY'
import json, random, sys
r = random.Random(5)
with open(sys.argv[2], "w") as f:
    for l in open(sys.argv[1]):
        i = json.loads(l)["id"]
        f.write(json.dumps({"id": i, "response": r.choice(["Yes, it is safe.", "No, this is unsafe.", "I cannot tell."]) + " " + "w " * r.randrange(0, 120)}) + "\n")
PY
head -1 "$W/man.jsonl" >"$W/one.jsonl"; head -1 "$W/resp.jsonl" >"$W/resp1.jsonl"
mkjob() { printf '{"manifest": "%s", "output": "%s", "models": [{"name": "api", "backend": "responses", "responses": "%s"}]}\n' "$1" "$2" "$3"; }
mkjob man.jsonl out.h5 resp.jsonl >"$W/job.json"; mkjob one.jsonl one.h5 resp1.jsonl >"$W/one.json"
echo "runner overhead on $src, responses backend"
for n in 1 2; do
  best=999; best1=999
  for rep in 1 2 3; do
    t0=$(date +%s.%N); mpirun --oversubscribe -n $n ./mmsafe run "$W/one.json" --fresh >/dev/null 2>&1; t1=$(date +%s.%N)
    mpirun --oversubscribe -n $n ./mmsafe run "$W/job.json" --fresh >/dev/null 2>&1; t2=$(date +%s.%N)
    best1=$(echo "$t1 - $t0" | bc -l | awk -v b=$best1 '{print ($1<b)?$1:b}')
    best=$(echo "$t2 - $t1" | bc -l | awk -v b=$best '{print ($1<b)?$1:b}')
  done
  per=$(echo "($best - $best1) * 1000 / 1522" | bc -l)
  printf '  %d rank(s): %.3f s for 1523 items, %.3f s for 1 item (start-up); overhead %.3f ms/item (target < 2 ms)\n' $n "$best" "$best1" "$per"
done
if [ -f "$REL/prompt.txt" ]; then
  for th in 1 2; do
    ./mmsafe check "$W/job.json" --threads $th 2>/dev/null | grep '^images:' | sed "s/^/  check, $th thread(s): /"
  done
fi
