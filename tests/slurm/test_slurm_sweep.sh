#!/usr/bin/env bash
# slurm/sweep on a real (throwaway) Slurm:
#  1. 3 checkpoints from a list file: a throttled job array, then the
#     dependent merge; the merged file holds all three models, each with the
#     statistics of its own per-checkpoint file;
#  2. 3 checkpoints from a glob, one of them broken: its task fails with a
#     clear message, the other two and the merge complete, and the merge
#     names the missing model;
#  3. once the checkpoint is fixed, `slurm/sweep --resume` reruns that task only;
#  4. a SafeBench sweep: 2 checkpoints' (recorded) answers judged by one jury of
#     2 recorded judges with a deliberation round, run unchanged by the same
#     scripts; the merged file holds each model's answers and votes as its own
#     file does (needs ../shared's SafeBench prompts; skipped without).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/slurm/common.sh"
export MMSAFE

[ -x "$MMSAFE" ] || { fail "$MMSAFE not built (run make)"; done_t; exit 1; }
slurm_up 4
cd "$T_TMP" || exit 1

# ids_of SWEEP_OUTPUT: "ARRAY_ID MERGE_ID" from what slurm/sweep printed.
ids_of() {
  echo "$(sed -nE 's/^array job: +([0-9]+) .*/\1/p' "$1") $(sed -nE 's/^merge job: +([0-9]+) .*/\1/p' "$1")"
}

# --- 1. a sweep of 3 checkpoints ------------------------------------------------
make_job sw 24 0 alpha beta gamma
printf '# name  checkpoint\nalpha alpha.jsonl\n\nbeta  beta.jsonl\ngamma gamma.jsonl\n' >sw/ckpts.txt
"$ROOT/slurm/sweep" -o sw/out -t 2 sw/job.json sw/ckpts.txt -- -n 1 >sweep1.out 2>&1 || fail "sweep: $(cat sweep1.out)"
read -r aid mid <<<"$(ids_of sweep1.out)"
check_grep "sweep prints where the results go" "^combined: +$T_TMP/sw/out/all.h5" sweep1.out
check_grep "array is throttled to 2 tasks" "ArrayTaskThrottle=2" <(scontrol show job "${aid:-0}" 2>&1)
check_grep "merge depends on the array (afterany)" "Dependency=afterany:${aid:-x}" <(scontrol show job "${mid:-0}" 2>&1)
states=$(final_states "${aid:-0}" 120)
check_eq "3 array tasks complete" "$(sort <<<"$states" | tr '\n' ' ')" \
  "${aid}_0 COMPLETED 0:0 ${aid}_1 COMPLETED 0:0 ${aid}_2 COMPLETED 0:0 "
check_eq "merge job completes" "$(final_states "${mid:-0}" 60)" "$mid COMPLETED 0:0"
out=sw/out
for m in alpha beta gamma; do
  check "per-checkpoint file $m.h5" test -f "$out/results/$m.h5"
done
check_eq "merged file holds the three models" \
  "$("$PY" -c 'import h5py,sys; print(" ".join(sorted(h5py.File(sys.argv[1],"r")["models"])))' "$out/all.h5" 2>&1)" \
  "alpha beta gamma"
for m in alpha beta gamma; do
  same_stats "merged statistics of $m equal its own file's" "$out/all.h5" "$m" "$out/results/$m.h5" "$m"
done
check_eq "stats.json holds the three models" "$("$PY" -c 'import json,sys; print(sorted(json.load(open(sys.argv[1]))["models"]))' "$out/stats.json" 2>&1)" \
  "['alpha', 'beta', 'gamma']"
check "stats.json is reduce --json of all.h5" cmp -s "$out/stats.json" <("$MMSAFE" reduce "$out/all.h5" --json 2>/dev/null)
check_grep "stats.txt has the table" "^gamma " "$out/stats.txt"
check_eq "nothing missing" "$(cat "$out/missing.txt" 2>&1)" ""
check_eq "the models differ (so the comparison means something)" \
  "$(for m in alpha beta gamma; do stats_of "$out/all.h5" "$m"; done | sort -u | wc -l)" 3

# --- 2. a glob sweep with one broken checkpoint ----------------------------------
make_job sb 24 0 alpha gamma
mkdir -p sb/ck
mv sb/alpha.jsonl sb/gamma.jsonl sb/ck/
printf '{"id": "q000", "response": "Yes"}\nthis is not JSON\n' >sb/ck/broken.jsonl
"$ROOT/slurm/sweep" -o sb/out sb/job.json "$T_TMP/sb/ck/*.jsonl" -- -n 1 >sweep2.out 2>&1 || fail "glob sweep: $(cat sweep2.out)"
read -r aid mid <<<"$(ids_of sweep2.out)"
check_eq "glob gives the models in name order" "$(tr '\n' ' ' <sb/out/models.txt 2>&1)" "alpha broken gamma "
states=$(final_states "${aid:-0}" 120)
check_eq "the broken checkpoint's task fails, the others complete" "$(sort <<<"$states" | tr '\n' ' ')" \
  "${aid}_0 COMPLETED 0:0 ${aid}_1 FAILED 1:0 ${aid}_2 COMPLETED 0:0 "
check_grep "the failed task says what is wrong" "mmsafe: error: .*broken.jsonl.*(line )?2" "sb/out/logs/task-${aid}_1.out"
check_grep "the failed task names its model" "mmsafe run failed \(exit 1\) for model 'broken'" "sb/out/logs/task-${aid}_1.out"
check_eq "merge still completes" "$(final_states "${mid:-0}" 60)" "$mid COMPLETED 0:0"
check_grep "merge reports the missing model" "missing model 'broken': no results file \(array task 1 failed" "sb/out/logs/merge-$mid.out"
check_grep "merge warns the sweep is incomplete" "sweep incomplete: missing model\(s\): broken" "sb/out/logs/merge-$mid.out"
check_grep "missing.txt names it" "^broken " sb/out/missing.txt
check_eq "merged file holds the two good models" \
  "$("$PY" -c 'import h5py,sys; print(" ".join(sorted(h5py.File(sys.argv[1],"r")["models"])))' sb/out/all.h5 2>&1)" \
  "alpha gamma"
same_stats "merged statistics of gamma equal its own file's" sb/out/all.h5 gamma sb/out/results/gamma.h5 gamma

# --- 3. fix the checkpoint, resume: only its task runs again ----------------------
cp sb/ck/alpha.jsonl sb/ck/broken.jsonl
"$ROOT/slurm/sweep" --resume sb/out -- -n 1 >sweep3.out 2>&1 || fail "sweep --resume: $(cat sweep3.out)"
check_grep "resume resubmits only the failed task" "resubmitting 1 of 3 task\(s\): 1$" sweep3.out
read -r aid mid <<<"$(ids_of sweep3.out)"
check_eq "resumed task completes" "$(final_states "${aid:-0}" 60)" "${aid}_1 COMPLETED 0:0"
check_eq "second merge completes" "$(final_states "${mid:-0}" 60)" "$mid COMPLETED 0:0"
check_eq "merged file now holds all three" \
  "$("$PY" -c 'import h5py,sys; print(" ".join(sorted(h5py.File(sys.argv[1],"r")["models"])))' sb/out/all.h5 2>&1)" \
  "alpha broken gamma"
check_eq "nothing missing any more" "$(cat sb/out/missing.txt 2>&1)" ""

# --- 4. SafeBench: every checkpoint answers, one jury judges ------------------------
if have_shared data/safebench; then
  S=$ROOT/data/sample-safebench P=$SHARED/data/safebench
  mkdir -p sbj
  cp "$S/answers.jsonl" sbj/ck-100.jsonl
  # a second "checkpoint" whose API call failed where the first complied: one more item error
  sed 's/"response": "Sure[^"]*"/"response": "Error: rate limit exceeded"/' "$S/answers.jsonl" >sbj/ck-200.jsonl
  cat >sbj/job.json <<EOF
{"benchmark": "safebench", "manifest": "$S/manifest.jsonl", "output": "x.h5", "rounds": 1,
 "judge_prompt": "$P/judge-prompt.txt",
 "deliberation_prompt": ["$P/deliberation-prompt-head.txt", "$P/deliberation-prompt-tail.txt"],
 "models": [{"name": "t", "backend": "responses", "responses": "t.jsonl"}],
 "judges": [{"name": "judge-a", "backend": "responses", "responses": "$S/judges.jsonl"},
            {"name": "judge-b", "backend": "responses", "responses": "$S/judges.jsonl"}]}
EOF
  printf 'ck-100 ck-100.jsonl\nck-200 ck-200.jsonl\n' >sbj/ckpts.txt
  "$ROOT/slurm/sweep" -o sbj/out sbj/job.json sbj/ckpts.txt -- -n 1 >sweep4.out 2>&1 || fail "SafeBench sweep: $(cat sweep4.out)"
  read -r aid mid <<<"$(ids_of sweep4.out)"
  states=$(final_states "${aid:-0}" 120)
  check_eq "SafeBench: both array tasks complete" "$(sort <<<"$states" | tr '\n' ' ')" "${aid}_0 COMPLETED 0:0 ${aid}_1 COMPLETED 0:0 "
  check_eq "SafeBench: merge completes" "$(final_states "${mid:-0}" 60)" "$mid COMPLETED 0:0"
  check_grep "SafeBench: stats.txt has the paper's table" "CO +CI +CS +ET +IC +VI +IS +IO +AVG" sbj/out/stats.txt
  "$PY" - sbj/out/stats.json sbj/out/results/ck-100.h5 sbj/out/results/ck-200.h5 >sbj/cmp 2>&1 <<'PY'
import json, subprocess, sys, os
mm = os.environ["MMSAFE"]
allj = json.load(open(sys.argv[1]))
by = {m["name"]: m for m in allj["models"]}
for f in sys.argv[2:4]:
    one = json.loads(subprocess.run([mm, "reduce", f, "--json"], capture_output=True, text=True).stdout)["models"][0]
    print(one["name"], one == by[one["name"]])
print("models", sorted(by), "judges", [j["name"] for j in by["ck-100"]["judges"]], [len(j["rounds"]) for j in by["ck-100"]["judges"]])
print("errors", by["ck-100"]["answers"]["errors"], by["ck-200"]["answers"]["errors"], by["ck-100"]["consensus"]["pooled"]["judged"] - by["ck-200"]["consensus"]["pooled"]["judged"])
PY
  check_grep "SafeBench: merged ck-100 equals its own file" "^ck-100 True$" sbj/cmp
  check_grep "SafeBench: merged ck-200 equals its own file" "^ck-200 True$" sbj/cmp
  check_grep "SafeBench: both models, one jury of 2 judges x 2 rounds" "^models \['ck-100', 'ck-200'\] judges \['judge-a', 'judge-b'\] \[2, 2\]$" sbj/cmp
  check_grep "SafeBench: the second checkpoint's API error is never judged" "^errors 1 2 1$" sbj/cmp
  check_eq "SafeBench: nothing missing" "$(cat sbj/out/missing.txt 2>&1)" ""
else
  skip "SafeBench sweep: ../shared/data/safebench is absent"
fi

done_t
