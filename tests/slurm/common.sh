# tests/slurm/common.sh - sourced by tests/slurm/test_*.sh after tests/lib.sh:
# starts a throwaway Slurm for this test (tests/slurm/cluster.sh) and makes
# sure it is stopped, by PID, however the test ends.  If Slurm cannot start,
# the test fails and says why; it is never skipped.
# shellcheck source=cluster.sh
. "$ROOT/tests/slurm/cluster.sh"

# A signal must still run lib.sh's EXIT trap (which stops the cluster).
trap 'exit 130' INT TERM HUP

SL_DIR=$T_TMP/slurm
# slurm_up [CPUS]: starts the cluster or fails the test (and exits).
slurm_up() {
  local why
  t_cleanup_hooks+=("slurm_stop '$SL_DIR'")
  if ! why=$(SLURM_GUARD_PID=$$ slurm_start "$SL_DIR" "${1:-4}" 2>&1); then
    fail "Slurm could not start on this machine: $why"
    done_t; exit 1
  fi
  export SLURM_CONF=$SL_DIR/etc/slurm.conf
  ok "slurm cluster up"
}

# submit ARGS...: sbatch --parsable, prints the job id (fails the test if not).
submit() {
  local id
  if ! id=$(sbatch --parsable "$@" 2>"$T_TMP/sbatch.err"); then
    fail "sbatch $*: $(cat "$T_TMP/sbatch.err")"; echo 0; return 1
  fi
  echo "${id%%;*}"
}

# final_states ID [TIMEOUT]: waits for the job (all array tasks) to end;
# prints "ID STATE EXIT" lines; a timeout fails the test.
final_states() {
  local out
  if ! out=$(slurm_wait "$1" "${2:-120}"); then
    fail "job $1 did not end within ${2:-120} s: $(tr '\n' ';' <<<"$out")"
    scancel "$1" 2>/dev/null
  fi
  echo "$out"
}
