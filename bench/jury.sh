#!/usr/bin/env bash
# SafeBench's jury: (1) judge votes per second of a 1.1B-shape native judge
# (TinyLlama's shape, Q4_K_M, random weights, the LLaMA-2 vocabulary) at 1 and
# 2 threads on recorded answers, round 0, SafeBench's judge prompt; (2) the
# scheduler's overhead per vote: 40,000 items x 2 recorded judges x 2 rounds
# (160,000 votes, no model cost) at 1 and 2 ranks, MPI start-up subtracted.
# Needs ../shared/data/safebench (the judge and deliberation prompts).
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh >/dev/null 2>&1 || true
source bench/models.sh
T_NAME=bench
P=../shared/data/safebench
S=data/sample-safebench
[ -f "$P/judge-prompt.txt" ] || { echo "jury bench: $P is absent; skipped"; exit 0; }
W=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-bench.XXXXXX"); trap 'rm -rf "$W"' EXIT
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
P=$(cd "$P" && pwd)
SA=$(cd "$S" && pwd)

# --- 1. a 1.1B-shape judge (BENCH_JURY_VOTES=0 skips it)
NV=${BENCH_JURY_VOTES:-6}
if [ "$NV" -gt 0 ]; then
judge=$(bench_model llama-1.1b Q4_K_M) || { echo "jury bench: cannot make the 1.1B judge"; exit 1; }
judge=$(cd "$(dirname "$judge")" && pwd)/$(basename "$judge")
MAXNEW=${BENCH_JURY_MAX_NEW:-64}
grep -v '"sb-23-3"' "$SA/manifest.jsonl" | head -n "$NV" | sed "s#\"image\":\"#\"image\":\"$SA/#" >"$W/man.jsonl"
grep -F -f <(sed -E 's/.*("id":"[^"]*").*/\1/; s/"id":/"id": /' "$W/man.jsonl") "$SA/answers.jsonl" >"$W/answers.jsonl"
for th in 1 2; do
  cat >"$W/j$th.json" <<EOF
{"benchmark": "safebench", "manifest": "man.jsonl", "output": "j$th.h5", "rounds": 0,
 "judge_prompt": "$P/judge-prompt.txt",
 "models": [{"name": "api", "backend": "responses", "responses": "answers.jsonl"}],
 "judges": [{"name": "tl", "backend": "native", "model": "$judge", "template": "vicuna", "max_new_tokens": $MAXNEW, "threads": $th}]}
EOF
done
echo "judge votes per second: a 1.1B-shape judge (Q4_K_M, random weights: every vote runs to max_new_tokens=$MAXNEW),"
echo "  $NV votes on recorded answers, SafeBench's judge prompt, 1 rank; CPU: $cpu"
for th in 1 2; do
  t0=$(date +%s.%N)
  ./mmsafe run "$W/j$th.json" --fresh >/dev/null 2>"$W/e$th" || { echo "  run failed: $(tail -3 "$W/e$th")"; continue; }
  t1=$(date +%s.%N)
  "$PY" - "$W/j$th.h5" "$t0" "$t1" "$th" <<'PY'
import sys, h5py, numpy as np
g = h5py.File(sys.argv[1], "r")["models/api/judges/tl/round0"]
ok = g["vote"][:] >= 0
lat = g["latency_ms"][:][ok] / 1000
npr, ngen = g["n_prompt"][:][ok], g["n_generated"][:][ok]
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"  {sys.argv[4]} thread(s): {ok.sum()} votes, {lat.sum():.1f} s judging ({ok.sum() / lat.sum():.3f} votes/s, "
      f"{lat.mean():.2f} s/vote: {npr.mean():.0f} prompt + {ngen.mean():.0f} generated tokens); {wall:.1f} s wall with loading")
PY
done
fi

# --- 2. the scheduler's overhead per vote
"$PY" - "$W" <<'PY'
import json, sys, random
w = sys.argv[1]; r = random.Random(7)
with open(w + "/big.jsonl", "w") as m, open(w + "/ans.jsonl", "w") as a, open(w + "/jt.jsonl", "w") as j:
    for i in range(40000):
        iid = "x%04d" % i
        m.write(json.dumps({"id": iid, "image": None, "prompt": "made-up query %d?" % i, "label": "unsafe",
                            "subset": ["CO", "CI", "CS", "ET", "IC", "VI", "IS", "IO"][i % 8]}) + "\n")
        a.write(json.dumps({"id": iid, "response": "a made-up answer " + "w " * r.randrange(10, 200)}) + "\n")
        for jn in ("ja", "jb"):
            for rd in (0, 1):
                res = r.randrange(2)
                j.write(json.dumps({"judge": jn, "id": iid, "round": rd, "text": "**Judgment Result:** %d  \n**Safety Rating:** %d  \n**Reasoning:** made up." % (res, 5 - 3 * res)}) + "\n")
with open(w + "/one.jsonl", "w") as m:
    m.write(open(w + "/big.jsonl").readline())
PY
mk() { cat <<EOF
{"benchmark": "safebench", "manifest": "$1", "output": "$2", "rounds": 1, "judge_prompt": "$P/judge-prompt.txt",
 "deliberation_prompt": ["$P/deliberation-prompt-head.txt", "$P/deliberation-prompt-tail.txt"],
 "models": [{"name": "api", "backend": "responses", "responses": "ans.jsonl"}],
 "judges": [{"name": "ja", "backend": "responses", "responses": "jt.jsonl"}, {"name": "jb", "backend": "responses", "responses": "jt.jsonl"}]}
EOF
}
mk big.jsonl big.h5 >"$W/big.json"; mk one.jsonl one.h5 >"$W/one.json"
echo "scheduler overhead per vote: 40000 answers + 160000 votes (2 recorded judges, 2 rounds), no model cost"
for n in 1 2; do
  best=999; best1=999
  for rep in 1 2; do
    t0=$(date +%s.%N); mpirun --oversubscribe -n $n ./mmsafe run "$W/one.json" --fresh >/dev/null 2>&1; t1=$(date +%s.%N)
    mpirun --oversubscribe -n $n ./mmsafe run "$W/big.json" --fresh >/dev/null 2>&1; t2=$(date +%s.%N)
    best1=$(echo "$t1 - $t0" | bc -l | awk -v b=$best1 '{print ($1<b)?$1:b}')
    best=$(echo "$t2 - $t1" | bc -l | awk -v b=$best '{print ($1<b)?$1:b}')
  done
  per=$(echo "($best - $best1) * 1000 / 199995" | bc -l)
  printf '  %d rank(s): %.2f s for 200000 units, %.2f s for 5 (start-up); %.3f ms per answer or vote\n' $n "$best" "$best1" "$per"
done
