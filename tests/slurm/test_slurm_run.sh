#!/usr/bin/env bash
# slurm/mmsafe.sbatch on a real (throwaway) Slurm:
#  1. the demo job with 2 tasks gives the same statistics as a serial run;
#  2. a job that hits its time limit mid-run is requeued by the script and
#     finishes with every (model, item) pair evaluated exactly once;
#  3. a job submitted with --fresh that is requeued keeps its progress
#     (--fresh applies to the first start only);
#  4. scancel (TERM) of a running job, under srun and under mpirun: a clean,
#     resumable stop; resubmitting completes, every pair evaluated once.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/slurm/common.sh"
export MMSAFE

[ -x "$MMSAFE" ] || { fail "$MMSAFE not built (run make)"; done_t; exit 1; }
slurm_up 4
SB=$ROOT/slurm/mmsafe.sbatch
cd "$T_TMP" || exit 1

# --- 1. the demo job, 2 tasks ------------------------------------------------
if [ ! -f "$ROOT/jobs/demo.json" ]; then
  fail "jobs/demo.json is missing"
else
  "$MMSAFE" run "$ROOT/jobs/demo.json" --output "$T_TMP/demo-serial.h5" >serial.log 2>&1 ||
    fail "serial demo run: $(tail -n 3 serial.log)"
  id=$(submit -n 2 -o demo-%j.out "$SB" "$ROOT/jobs/demo.json" --output "$T_TMP/demo.h5")
  check_eq "demo job with 2 tasks completes" "$(final_states "$id" 120)" "$id COMPLETED 0:0"
  check_grep "2 ranks, 1 thread each" "2 rank\(s\), 1 thread\(s\) per rank, launcher srun" "demo-$id.out"
  check_grep "srun --mpi=pmix --ntasks=2" "srun --mpi=pmix --ntasks=2 " "demo-$id.out"
  check_grep "script reports completion" "mmsafe.sbatch: complete: $T_TMP/demo.h5" "demo-$id.out"
  check_eq "results written by 2 ranks" "$(h5attr demo.h5 n_ranks)" 2
  check_eq "no pair pending" "$("$MMSAFE" reduce demo.h5 --pending 2>/dev/null)" 0
  want=$(stats_of demo-serial.h5)
  same_stats "statistics equal to the serial run's" demo.h5 "" demo-serial.h5
  # the same under mpirun inside the allocation
  id=$(MMSAFE_LAUNCHER=mpirun submit -n 2 -o mpi-%j.out "$SB" "$ROOT/jobs/demo.json" --output "$T_TMP/demo-mpirun.h5")
  check_eq "MMSAFE_LAUNCHER=mpirun: completes" "$(final_states "$id" 120)" "$id COMPLETED 0:0"
  check_grep "MMSAFE_LAUNCHER=mpirun: mpirun -n 2" "mpirun -n 2 " "mpi-$id.out"
  check_eq "MMSAFE_LAUNCHER=mpirun: 2 ranks, same statistics" \
    "$(h5attr demo-mpirun.h5 n_ranks) $(stats_of demo-mpirun.h5)" "2 $want"
fi

# --- 2. time limit, requeue, resume --------------------------------------------
# Under a 1-minute limit, warned 55 s before it (Slurm checks limits every
# ~30 s, so the warning lands 5-35 s in), two things at once:
#  a. a 2-rank job with 60 items x 1.5 s = 45 s of work;
#  b. a sweep of 2 checkpoints, 1 rank per task, 30 items x 1.5 s each: an
#     array task must requeue itself only (one task's job id is the array's).
n=60 ns=30
make_job tl "$n" 1500 m
# --fresh: it must apply to the first start only, or every restart starts over
id=$(submit -n 2 --time=1 --signal=B:USR1@55 -o tl-%j.out "$SB" tl/job.json --fresh)
make_job ts "$ns" 1500 p q
printf 'p p.jsonl\nq q.jsonl\n' >ts/ckpts.txt
"$ROOT/slurm/sweep" -o ts/out ts/job.json ts/ckpts.txt -- -n 1 --time=1 --signal=B:USR1@55 >ts.out 2>&1 ||
  fail "time-limited sweep: $(cat ts.out)"
aid=$(sed -nE 's/^array job: +([0-9]+) .*/\1/p' ts.out)
mid=$(sed -nE 's/^merge job: +([0-9]+) .*/\1/p' ts.out)
# A requeued job may start again once its credential expires (cred_expire,
# 10 s on the test cluster, 120 s by default); a second run can be cut too.
final_states "$id" 240 >/dev/null
final_states "${aid:-0}" 120 >/dev/null
final_states "${mid:-0}" 60 >/dev/null
read -r _ st r <<<"$(slurm_restarts "$id")"
check_eq "a: cut job ends COMPLETED" "$st" COMPLETED
check "a: cut job was requeued (Restarts=$r)" test "${r:-0}" -ge 1
log=tl-$id.out
check_grep "a: warning signal reached the script" "time limit near \(USR1\)" "$log"
check_grep "a: first run left work" "incomplete: [1-9][0-9]* \(model, item\) pair" "$log"
check_grep "a: script requeued the job" "requeued job $id" "$log"
check_grep "a: next run resumed" "resuming .*: [1-9][0-9]* \(model, item\) pair\(s\) left" "$log"
check_grep "a: the restart dropped --fresh" "restart 1: dropping --fresh" "$log"
check_grep "a: last run completed" "mmsafe.sbatch: complete: " "$log"
check_eq "a: results file: one run per start, complete" \
  "$(h5attr tl/results/job.h5 runs) $(h5attr tl/results/job.h5 complete)" "$((${r:-0} + 1)) 1"
check_eq "a: every item evaluated exactly once (records distinct max)" "$(journal_tally tl/results/job.h5)" "$n $n 1"
make_job tlref "$n" 0 m     # the same answers without the delay
"$MMSAFE" run tlref/job.json >/dev/null 2>&1 || fail "reference run failed"
same_stats "a: statistics equal to an uninterrupted run's" tl/results/job.h5 "" tlref/results/job.h5

check_eq "b: both array tasks were requeued, then completed" \
  "$(slurm_restarts "${aid:-0}" | sort | sed -E 's/ [1-9][0-9]*$/ requeued/' | tr '\n' ' ')" \
  "${aid}_0 COMPLETED requeued ${aid}_1 COMPLETED requeued "
# Every restart of a task must be its own doing: as many "requeued" lines in
# its log as Slurm counts restarts (requeueing a task by the bare job id it
# shares with the array would restart the other task too).
while read -r j st r; do
  t=${j#*_}
  check_eq "b: task $t restarted only by itself" "$(grep -c "requeued job ${aid}_$t:" "ts/out/logs/task-${aid}_$t.out")" "$r"
done < <(slurm_restarts "${aid:-0}")
check_eq "b: merge ran once, after both tasks" "$(slurm_restarts "${mid:-0}")" "$mid COMPLETED 0"
check_eq "b: nothing missing" "$(cat ts/out/missing.txt 2>&1)" ""
make_job tsref "$ns" 0 p q  # reference: both models, serially, without the delay
printf 'p p.jsonl\nq q.jsonl\n' >tsref/ckpts.txt
"$MMSAFE" sweep-job tsref/job.json tsref/ckpts.txt -o tsref/sweep.json >/dev/null 2>&1 &&
  "$MMSAFE" run tsref/sweep.json >/dev/null 2>&1 || fail "sweep reference run failed"
for m in p q; do
  f=ts/out/results/$m.h5
  check_eq "b: $m: complete" "$(h5attr "$f" complete)" 1
  check_eq "b: $m: every item evaluated exactly once" "$(journal_tally "$f")" "$ns $ns 1"
  same_stats "b: $m: merged statistics equal an uninterrupted run's" ts/out/all.h5 "$m" tsref/results/job.h5 "$m"
done

# --- 3. a --fresh job requeued from outside keeps its progress ---------------------
# (2a is a --fresh job too, requeued by the script itself at the time limit.)
n=24
make_job fr "$n" 500 m
make_job frref "$n" 0 m
"$MMSAFE" run frref/job.json >/dev/null 2>&1 || fail "set-up: reference run failed"
id=$(submit -n 2 -o fr-%j.out "$SB" fr/job.json --fresh)
wait_journal fr/results/job.h5 4 60 || fail "3: the --fresh start did not get going"
scontrol requeue "$id" 2>"$T_TMP/rq.err" || fail "3: scontrol requeue: $(cat "$T_TMP/rq.err")"
final_states "$id" 120 >/dev/null
read -r _ st r <<<"$(slurm_restarts "$id")"
log=fr-$id.out
check_eq "3: the requeued --fresh job ends COMPLETED after 1 restart" "$st $r" "COMPLETED 1"
check_grep "3: the restart drops --fresh" "restart 1: dropping --fresh \\(it applies to the first start only\\); resuming" "$log"
k=$(sed -nE 's/.*mmsafe: resuming: ([0-9]+) of [0-9]+ \(model, item\) pairs already have a verdict.*/\1/p' "$log" | tail -n 1)
check "3: the restart resumed the first start's work (${k:-no} pairs kept)" test "${k:-0}" -ge 1 -a "${k:-0}" -lt "$n"
check_nogrep "3: no 'no progress' give-up" "no progress" "$log"
check_eq "3: one run per start in the file, complete" \
  "$(h5attr fr/results/job.h5 runs) $(h5attr fr/results/job.h5 complete)" "2 1"
check_eq "3: every pair evaluated exactly once over both starts" "$(journal_tally fr/results/job.h5)" "$n $n 1"
same_stats "3: statistics equal an uninterrupted run's" fr/results/job.h5 "" frref/results/job.h5

# --- 4. scancel (TERM) mid-run: a clean, resumable stop; resubmit completes --------
n=40
make_job cref "$n" 0 m
"$MMSAFE" run cref/job.json >/dev/null 2>&1 || fail "set-up: reference run failed"
for launcher in srun mpirun; do
  d=c-$launcher
  make_job "$d" "$n" 400 m
  id=$(MMSAFE_LAUNCHER=$launcher submit -n 2 -o "$d-%j.out" "$SB" "$d/job.json")
  wait_journal "$d/results/job.h5" 6 60 || fail "4 $launcher: the run did not get going"
  scancel "$id"
  final_states "$id" 60 >/dev/null
  log=$d-$id.out
  check_grep "4 $launcher: TERM reached the script" "stopping \(TERM\)" "$log"
  check_grep "4 $launcher: the log says it stopped cleanly" \
    "mmsafe.sbatch: stopped cleanly \(TERM\): the results file is consistent and resumable" "$log"
  check_nogrep "4 $launcher: not reported as a failure" "mmsafe run failed|mmsafe: error:|mmsafe.sbatch: error:" "$log"
  check_eq "4 $launcher: the file is marked incomplete" "$(h5attr "$d/results/job.h5" complete)" 0
  p=$("$MMSAFE" reduce "$d/results/job.h5" --pending 2>/dev/null)
  check "4 $launcher: consistent file with work left (${p:-?} of $n pending)" test "${p:-0}" -gt 0 -a "${p:-$n}" -lt "$n"
  check_grep "4 $launcher: the log says how much is left" "incomplete: $p \(model, item\) pair\(s\) left" "$log"
  id2=$(MMSAFE_LAUNCHER=$launcher submit -n 2 -o "$d-%j.out" "$SB" "$d/job.json")
  check_eq "4 $launcher: resubmitting completes" "$(final_states "$id2" 120)" "$id2 COMPLETED 0:0"
  check_grep "4 $launcher: the resubmission resumed" "resuming .*: $p \(model, item\) pair\(s\) left" "$d-$id2.out"
  check_eq "4 $launcher: every pair evaluated exactly once" "$(journal_tally "$d/results/job.h5")" "$n $n 1"
  same_stats "4 $launcher: statistics equal an uninterrupted run's" "$d/results/job.h5" "" cref/results/job.h5
done

done_t
