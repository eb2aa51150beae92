#!/usr/bin/env bash
# Durability: a rank killed with SIGKILL mid-run, a SIGTERM drain, a results
# file damaged by a dying writer, and the guards against resuming a different
# experiment.  Every case ends with results identical to one clean run.
source "$(dirname "$0")/../lib.sh"
B=$T_TMP/b
"$PY" tests/mpi/gen_bench.py "$B" 240 2
job() { # DELAY_MS -> job file on stdout
cat <<J
{"name": "resume", "manifest": "manifest.jsonl", "output": "out.h5", "chunk": 4,
 "models": [{"name": "m0", "backend": "responses", "responses": "resp0.jsonl", "delay_ms": $1},
            {"name": "m1", "backend": "responses", "responses": "resp1.jsonl", "delay_ms": $1}]}
J
}
job 0 >"$B/fast.json"; job 15 >"$B/slow.json"
# set-up, not a check: the reference every case is compared with
"$MMSAFE" run "$B/fast.json" --output "$B/ref.h5" >/dev/null 2>&1 || { fail "reference run failed"; done_t; exit 1; }
"$PY" tests/h5cols.py "$B/ref.h5" >"$B/ref.cols"
# The slow job has the same items and answers; only its per-item latency differs.
same_as_ref() { "$PY" tests/h5cols.py "$1" >"$B/got.cols" 2>&1 && cmp -s "$B/ref.cols" "$B/got.cols"; }
rank_pids() { pgrep -f "^$MMSAFE run $B/slow.json" || true; }
wait_records() { # FILE-GLOB MIN: wait until the journals hold at least MIN bytes of records
  for _ in $(seq 1 200); do
    local sz; sz=$(cat $1 2>/dev/null | wc -c); [ "$sz" -ge "$2" ] && return 0; sleep 0.05
  done; return 1
}

# --- 1. kill -9 of one rank mid-run, then resume with a different rank count
$MPIRUN -n 2 "$MMSAFE" run "$B/slow.json" --output "$B/k.h5" >"$B/k1.out" 2>"$B/k1.err" &
mp=$!
wait_records "$B/k.h5.journal/*.jnl" 6000 || fail "journals did not grow"
victim=$(rank_pids | tail -1)
[ -n "$victim" ] && kill -9 "$victim"
wait $mp; rc=$?
[ "$rc" -ne 0 ] && ok "killed run fails (rc $rc)" || fail "killed run exited 0"
check "results file still readable by h5py after kill -9" "$PY" tests/h5cols.py "$B/k.h5"
$MPIRUN -n 3 "$MMSAFE" run "$B/slow.json" --output "$B/k.h5" >"$B/k2.out" 2>"$B/k2.err"
check_eq "resume after kill -9 (3 ranks) exits 0" $? 0
check_grep "resume reports what was already done" "resuming: [1-9][0-9]* of 480" "$B/k2.err"
if same_as_ref "$B/k.h5"; then ok "results after kill -9 + resume identical to a clean run"; else fail "kill -9 resume differs: $(diff "$B/ref.cols" "$B/got.cols" | head -4)"; fi
check_eq "no pending after resume" "$("$MMSAFE" reduce "$B/k.h5" --pending)" 0

# --- 2. SIGTERM (what Slurm sends at the time limit) to every rank: drain and exit 0
$MPIRUN -n 2 "$MMSAFE" run "$B/slow.json" --output "$B/t.h5" >"$B/t1.out" 2>"$B/t1.err" &
mp=$!
wait_records "$B/t.h5.journal/*.jnl" 4000 || fail "journals did not grow"
for p in $(rank_pids); do kill -TERM "$p"; done
wait $mp; check_eq "SIGTERM drain exits 0" $? 0
check_grep "drained run says it is incomplete" "incomplete: [0-9]+ .* pending \(stopped by a signal\)" "$B/t1.out"
pend=$("$MMSAFE" reduce "$B/t.h5" --pending)
[ "$pend" -gt 0 ] && [ "$pend" -lt 480 ] && ok "drained file consistent, $pend pending" || fail "pending after drain: '$pend'"
check_eq "drained file marked incomplete" "$("$PY" -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs['complete']))" "$B/t.h5")" 0
$MPIRUN -n 2 "$MMSAFE" run "$B/slow.json" --output "$B/t.h5" >"$B/t2.out" 2>"$B/t2.err"; check_eq "resume after drain" $? 0
if same_as_ref "$B/t.h5"; then ok "results after drain + resume identical"; else fail "drain resume differs"; fi
# every item evaluated exactly once over the two runs: count journal records per (model, item)
# journal_tally DIR: "PAIRS MAX MIN RECORDS" over every journal record in DIR
journal_tally() { "$PY" tests/journal_file.py tally "$1" | awk '{print $2, $3, $4, $1}'; }
check_eq "each of 480 pairs evaluated exactly once across drain + resume" "$(journal_tally "$B/t.h5.journal")" "480 1 1 480"

# --- 3. a results file left unreadable by a dying writer is rebuilt from the journals
head -c 3000 "$B/t.h5" >"$B/t.tmp" && mv "$B/t.tmp" "$B/t.h5"
"$MMSAFE" run "$B/slow.json" --output "$B/t.h5" >"$B/t3.out" 2>"$B/t3.err"; check_eq "run over a damaged file exits 0" $? 0
check_grep "damaged file moved aside" "moved it to .*damaged" "$B/t3.err"
if same_as_ref "$B/t.h5"; then ok "rebuilt from journals without re-evaluating"; else fail "rebuild differs"; fi
check_grep "every result folded back from the journals" "folded 480 result\(s\) from the journals" "$B/t3.err"
check_grep "the rebuild found nothing left to do" "resuming: 480 of 480 \(model, item\) pairs" "$B/t3.err"
check_eq "nothing re-evaluated: no journal record added" "$(journal_tally "$B/t.h5.journal")" "480 1 1 480"

# --- 4. a run-level error in the middle of a run, on one rank (a model that will not load):
#        the queue stops, every rank winds down, one message, exit 1, the file stays resumable
MMSAFE_FAULT_OPEN='m1:*' timeout 120 $MPIRUN -n 3 "$MMSAFE" run "$B/slow.json" --output "$B/f.h5" >"$B/f1.out" 2>"$B/f1.err"
check_eq "mid-run model failure: exit 1" $? 1
check_eq "exactly one error message" "$(grep -c 'mmsafe: error:' "$B/f1.err")" 1
check_grep "the message names the model and the rank" "error: model 'm1': cannot load it on rank [0-2]: injected fault" "$B/f1.err"
check "the file is readable after the failed run" "$PY" tests/h5cols.py "$B/f.h5"
pend=$("$MMSAFE" reduce "$B/f.h5" --pending)
[ "$pend" -ge 240 ] && ok "m1's items left pending ($pend)" || fail "pending after the mid-run failure: '$pend'"
$MPIRUN -n 2 "$MMSAFE" run "$B/slow.json" --output "$B/f.h5" >/dev/null 2>&1; check_eq "rerun without the fault" $? 0
if same_as_ref "$B/f.h5"; then ok "results after the failure + resume identical"; else fail "failure resume differs"; fi

# --- 5. guards: a changed job or manifest is not resumed silently
job 0 | sed 's/"chunk": 4/"chunk": 5/' >"$B/changed.json"
"$MMSAFE" run "$B/changed.json" --output "$B/ref.h5" >/dev/null 2>"$B/g1"; check_eq "changed job refused" $? 1
check_grep "says the job changed" "different job text" "$B/g1"
touch -d '+1 minute' "$B/resp0.jsonl"
"$MMSAFE" run "$B/fast.json" --output "$B/ref.h5" >/dev/null 2>"$B/g3"; check_eq "changed model/response file refused" $? 1
check_grep "names the files that changed" "resp0.jsonl.*changed since" "$B/g3"
echo '{"id": "extra", "prompt": "p", "label": "safe"}' >>"$B/manifest.jsonl"
"$MMSAFE" run "$B/fast.json" --output "$B/ref.h5" >/dev/null 2>"$B/g2"; check_eq "changed manifest refused" $? 1
check_grep "says the manifest changed" "another manifest" "$B/g2"
"$MMSAFE" run "$B/fast.json" --output "$B/ref.h5" --fresh >/dev/null 2>&1; check_eq "--fresh starts over" $? 0
check_eq "fresh run has the new item" "$("$PY" tests/h5cols.py "$B/ref.h5" | wc -l)" 482
done_t
