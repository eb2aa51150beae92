#!/usr/bin/env bash
# The test harness itself: a throwaway Slurm comes up, runs a batch job, an
# MPI program under srun (PMIx), a job array with dependent jobs, and goes
# away again leaving no process behind.  Needs no mmsafe.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/slurm/common.sh"

slurm_up 4
check_eq "one idle node with 4 CPUs" "$(sinfo -h -N -o '%t %c')" "idle 4"

cd "$T_TMP" || exit 1
# --- a batch job --------------------------------------------------------------
printf '#!/bin/bash\necho "hello from $SLURM_JOB_ID on $SLURMD_NODENAME"\n' >hello.sh
id=$(submit -o hello-%j.out hello.sh)
check_eq "batch job completes" "$(final_states "$id" 30)" "$id COMPLETED 0:0"
check_grep "batch job output" "^hello from $id on localhost$" "hello-$id.out"

# --- MPI under srun --mpi=pmix, in and out of a batch job ----------------------
cat >allsum.c <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int rank, size, sum = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("rank %d of %d sum %d\n", rank, size, sum);
    MPI_Finalize();
    return 0;
}
EOF
if mpicc -o allsum allsum.c 2>mpicc.err; then
  srun --mpi=pmix -n 3 ./allsum >srun.out 2>&1
  check_eq "srun --mpi=pmix -n 3: three ranks agree" "$(grep -c 'of 3 sum 3$' srun.out)" 3
  printf '#!/bin/bash\nsrun ./allsum\n' >mpi.sh
  id=$(submit -n 2 -o mpi-%j.out mpi.sh)
  check_eq "sbatch -n 2 + srun (MpiDefault=pmix)" "$(final_states "$id" 60)" "$id COMPLETED 0:0"
  check_eq "two ranks in the batch step" "$(grep -c 'of 2 sum 1$' "mpi-$id.out")" 2
else
  fail "mpicc: $(cat mpicc.err)"
fi

# --- an array with a failing task, then afterany / afterok dependents ----------
cat >task.sh <<'EOF'
#!/bin/bash
echo "task $SLURM_ARRAY_TASK_ID" >"res-$SLURM_ARRAY_TASK_ID.txt"
[ "$SLURM_ARRAY_TASK_ID" != 1 ]
EOF
printf '#!/bin/bash\nls res-*.txt | wc -l >merged.txt\n' >merge.sh
aid=$(submit --array=0-2%2 -o task-%A_%a.out task.sh)
mid=$(submit --dependency=afterany:"$aid" --kill-on-invalid-dep=yes -o merge-%j.out merge.sh)
kid=$(submit --dependency=afterok:"$aid" --kill-on-invalid-dep=yes -o never-%j.out hello.sh)
states=$(final_states "$aid" 60)
check_eq "array: tasks 0 and 2 complete, 1 fails" "$(sort <<<"$states" | tr '\n' ' ')" \
  "${aid}_0 COMPLETED 0:0 ${aid}_1 FAILED 1:0 ${aid}_2 COMPLETED 0:0 "
check_eq "afterany dependent runs after a failed task" "$(final_states "$mid" 30)" "$mid COMPLETED 0:0"
check_eq "afterany dependent saw every task's file" "$(cat merged.txt 2>/dev/null)" 3
check_grep "afterok dependent is cancelled, not left pending" "^$kid CANCELLED " <(final_states "$kid" 30)

# --- teardown leaves nothing behind --------------------------------------------
pids=$(awk '{print $2}' "$SL_DIR/pids")
slurm_stop "$SL_DIR"
alive=
for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
check_eq "daemons stopped" "$alive" ""
check_eq "no job process left" "$(_slurm_strays "$SL_DIR/etc/slurm.conf" | tr '\n' ' ')" ""
done_t
