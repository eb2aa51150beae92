#!/usr/bin/env bash
# slurm/sweep on a real (throwaway) Slurm:
#  1. 3 checkpoints from a list file: a throttled job array, then the
#     dependent merge; the merged file holds all three models, each with the
#     statistics of its own per-checkpoint file;
#  2. 3 checkpoints from a glob, one of them broken: its task fails with a
#     clear message, the other two and the merge complete, and the merge
#     names the missing model;
#  3. once the checkpoint is fixed, `slurm/sweep --resume` reruns that task only.
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

done_t
