#!/usr/bin/env bash
# slurm/mmsafe.sbatch on a real (throwaway) Slurm:
#  1. the demo job with 2 tasks gives the same statistics as a serial run;
#  2. a job that hits its time limit mid-run is requeued by the script and
#     finishes with every (model, item) pair evaluated exactly once.
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
  [ -n "$want" ] || fail "no statistics from the serial run"
  check_eq "statistics equal to the serial run's" "$(stats_of demo.h5)" "$want"
  # the same under mpirun inside the allocation
  id=$(MMSAFE_LAUNCHER=mpirun submit -n 2 -o mpi-%j.out "$SB" "$ROOT/jobs/demo.json" --output "$T_TMP/demo-mpirun.h5")
  check_eq "MMSAFE_LAUNCHER=mpirun: completes" "$(final_states "$id" 120)" "$id COMPLETED 0:0"
  check_grep "MMSAFE_LAUNCHER=mpirun: mpirun -n 2" "mpirun -n 2 " "mpi-$id.out"
  check_eq "MMSAFE_LAUNCHER=mpirun: 2 ranks, same statistics" \
    "$(h5attr demo-mpirun.h5 n_ranks) $(stats_of demo-mpirun.h5)" "2 $want"
fi

# --- 2. time limit, requeue, resume --------------------------------------------
# 2 ranks x 60 items x 1.5 s = 45 s of work under a 1-minute limit, warned 55 s
# before it: Slurm checks limits every ~30 s, so the warning lands 5-35 s in.
n=60
make_job tl "$n" 1500 m
id=$(submit -n 2 --time=1 --signal=B:USR1@55 -o tl-%j.out "$SB" tl/job.json)
t0=$SECONDS restarted=0
while [ $((SECONDS - t0)) -lt 150 ]; do
  line=$(scontrol show job -o "$id" 2>/dev/null)
  st=$(sed -nE 's/.*JobState=([A-Z_]+).*/\1/p' <<<"$line")
  r=$(sed -nE 's/.*Restarts=([0-9]+).*/\1/p' <<<"$line")
  if [ "${r:-0}" -ge 1 ] && [ "$st" = PENDING ] && [ $restarted -eq 0 ]; then
    # Slurm holds a requeued job ~2 minutes before it may start again; skip
    # the wait, and give the second run room to finish.
    scontrol update JobId="$id" StartTime=now TimeLimit=5 || fail "scontrol update of the requeued job"
    restarted=1
  fi
  case $st in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) break ;; esac
  sleep 0.5
done
check_eq "cut job ends COMPLETED after a requeue" "$(slurm_states "$id")" "$id COMPLETED 0:0"
check_eq "requeued once" "$(sed -nE 's/.*Restarts=([0-9]+).*/\1/p' <<<"$(scontrol show job -o "$id")")" 1
log=tl-$id.out
check_grep "warning signal reached the script" "time limit near \(USR1\)" "$log"
check_grep "first run left work" "incomplete: [1-9][0-9]* \(model, item\) pair" "$log"
check_grep "script requeued the job" "requeued job $id" "$log"
check_grep "second run resumed" "resuming .*: [1-9][0-9]* \(model, item\) pair\(s\) left" "$log"
check_grep "second run completed" "mmsafe.sbatch: complete: " "$log"
check_eq "results file: 2 runs" "$(h5attr tl/results/job.h5 runs)" 2
check_eq "results file: complete" "$(h5attr tl/results/job.h5 complete)" 1
check_eq "every item evaluated exactly once (records distinct max)" "$(journal_tally tl/results/job.h5)" "$n $n 1"
make_job tlref "$n" 0 m     # the same answers without the delay
"$MMSAFE" run tlref/job.json >/dev/null 2>&1 || fail "reference run failed"
check_eq "statistics equal to an uninterrupted run's" "$(stats_of tl/results/job.h5)" "$(stats_of tlref/results/job.h5)"

done_t
