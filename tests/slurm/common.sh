# shellcheck shell=bash
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
  local out so
  if ! out=$(slurm_wait "$1" "${2:-120}"); then
    # say where it stood: its state and the end of its output
    so=$(scontrol show job -o "$1" 2>/dev/null | head -n 1 | sed -nE 's/.* StdOut=([^ ]+).*/\1/p')
    fail "job $1 did not end within ${2:-120} s: $(tr '\n' ';' <<<"$out") output: $(tail -n 4 "$so" 2>/dev/null | tr '\n' '|')"
    scancel "$1" 2>/dev/null
  fi
  echo "$out"
}

# make_job DIR N_ITEMS DELAY_MS MODEL...: a responses-backend job over a
# synthetic manifest (no images, so no decoding cost): DIR/manifest.jsonl,
# DIR/NAME.jsonl (recorded answers; each model answers differently) and
# DIR/job.json, whose one model (the first) is the template for sweeps.
make_job() {
  local d=$1 n=$2 delay=$3 i k m lab sub ans
  shift 3
  mkdir -p "$d"
  : >"$d/manifest.jsonl"
  for ((i = 0; i < n; i++)); do
    lab=safe; [ $((i % 2)) -eq 1 ] && lab=unsafe
    case $((i % 3)) in 0) sub=Typical ;; 1) sub=Attack ;; *) sub=Over-Safe ;; esac
    printf '{"id": "q%03d", "image": null, "prompt": "Is sentence %d safe? Answer Yes or No.", "label": "%s", "subset": "%s"}\n' \
      "$i" "$i" "$lab" "$sub" >>"$d/manifest.jsonl"
  done
  k=0
  for m in "$@"; do
    k=$((k + 1))
    : >"$d/$m.jsonl"
    for ((i = 0; i < n; i++)); do
      # model k gets item i right unless (i + k) % (k + 2) == 0
      if [ $((i % 2)) -eq 0 ]; then ans=Yes; else ans=No; fi
      if [ $(((i + k) % (k + 2))) -eq 0 ]; then [ $ans = Yes ] && ans=No || ans=Yes; fi
      printf '{"id": "q%03d", "response": "%s, I think so."}\n' "$i" "$ans" >>"$d/$m.jsonl"
    done
  done
  cat >"$d/job.json" <<JSON
{
  "name": "slurmtest",
  "manifest": "manifest.jsonl",
  "output": "results/job.h5",
  "progress_every": 1,
  "models": [
    {"name": "$1", "backend": "responses", "responses": "$1.jsonl", "delay_ms": $delay}
  ]
}
JSON
}

# journal_tally RESULTS.h5: "RECORDS DISTINCT MAX" over every journal record
# of the run(s) that wrote RESULTS.h5 (RESULTS.h5.journal/*.jnl, one record
# per evaluated (model, item); layout in src/run/journal.h).  RECORDS == DISTINCT
# (MAX == 1) means no pair was evaluated twice.
journal_tally() { "$PY" "$ROOT/tests/journal_file.py" tally "$1.journal" | awk '{print $1, $2, $3}'; }

# stats_of FILE [MODEL]: the statistics of FILE as sorted JSON (one model's
# with MODEL), for comparing two files.
stats_of() {
  "$MMSAFE" reduce "$1" --json 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["models"]
if len(sys.argv) > 1: d = d.get(sys.argv[1])
print(json.dumps(d, sort_keys=True))' ${2:+"$2"}
}

# h5attr FILE NAME: a root attribute of a results file.
h5attr() {
  "$PY" -c 'import h5py, sys
v = h5py.File(sys.argv[1], "r").attrs[sys.argv[2]]
print(v.decode() if isinstance(v, bytes) else v)' "$1" "$2" 2>/dev/null
}

# same_stats DESC A [MODEL] B [MODEL]: A's statistics equal B's, and neither is empty
same_stats() {
  local a b
  a=$(stats_of "$2" ${3:+"$3"}); b=$(stats_of "$4" ${5:+"$5"})
  if [ -z "$a" ] || [ "$a" = null ] || [ -z "$b" ] || [ "$b" = null ]; then fail "$1: no statistics ('$a' vs '$b')"
  else check_eq "$1" "$a" "$b"; fi
}

# wait_journal RESULTS.h5 MIN [TIMEOUT_S]: waits until RESULTS.h5's journals hold MIN records
wait_journal() {
  local i
  for ((i = 0; i < ${3:-60} * 5; i++)); do
    [ "$(journal_tally "$1" 2>/dev/null | awk '{print $1}')" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
