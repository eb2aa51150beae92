#!/usr/bin/env bash
# The same job under 1, 2 and 4 ranks (oversubscribed) and 3 ranks over TCP
# only (no shared memory, as across nodes): identical per-item results, every
# rank did work, reduce prints what the run printed, h5py/h5dump read the file.
source "$(dirname "$0")/../lib.sh"
B=$T_TMP/bench
"$PY" tests/mpi/gen_bench.py "$B" 400 3
cat >"$B/job.json" <<J
{"name": "ranks", "manifest": "manifest.jsonl", "output": "out.h5", "response_width": 256,
 "models": [{"name": "m0", "backend": "responses", "responses": "resp0.jsonl", "delay_ms": 1},
            {"name": "m1", "backend": "responses", "responses": "resp1.jsonl"},
            {"name": "m2", "backend": "responses", "responses": "resp2.jsonl", "delay_ms": 0.5}]}
J
run_n() { # N EXTRA...
  local n=$1; shift
  $MPIRUN -n "$n" "$@" "$MMSAFE" run "$B/job.json" --output "$B/r$n$*.h5" >"$B/out$n" 2>"$B/err$n"
}
for n in 1 2 4; do
  run_n $n; check_eq "mpirun -n $n exits 0" $? 0
  "$PY" tests/h5cols.py "$B/r$n.h5" >"$B/cols$n" 2>&1 || fail "h5py cannot read the -n $n file"
done
$MPIRUN -n 3 --mca btl tcp,self "$MMSAFE" run "$B/job.json" --output "$B/rtcp.h5" >"$B/outtcp" 2>"$B/errtcp"
check_eq "mpirun -n 3 --mca btl tcp,self exits 0" $? 0
"$PY" tests/h5cols.py "$B/rtcp.h5" >"$B/colstcp" 2>&1
check_eq "1200 result lines" "$(wc -l <"$B/cols1")" 1200
for n in 2 4 tcp; do
  if cmp -s "$B/cols1" "$B/cols$n"; then ok "-n $n results identical to -n 1"; else fail "-n $n differs from -n 1: $(diff "$B/cols1" "$B/cols$n" | head -5)"; fi
done
check_nogrep "no pending verdicts" "	-1	" "$B/cols1"
# every rank evaluated items (rank 0 included), per model affinity visible in the rank column
"$PY" - "$B/r4.h5" "$B/rtcp.h5" >"$B/ranks" <<'PY'
import sys, h5py, numpy as np
for p in sys.argv[1:]:
    f = h5py.File(p, "r")
    r = np.concatenate([f["models"][m]["rank"][:] for m in f["models"]])
    print(p.split("/")[-1], sorted(set(int(x) for x in r)), int(f.attrs["n_ranks"]), int(f.attrs["complete"]))
PY
check_grep "all 4 ranks worked" "^r4.h5 \[0, 1, 2, 3\] 4 1$" "$B/ranks"
check_grep "all 3 TCP ranks worked" "^rtcp.h5 \[0, 1, 2\] 3 1$" "$B/ranks"
# the run's table equals reduce's
for n in 1 4; do
  "$MMSAFE" reduce "$B/r$n.h5" >"$B/red$n"
  grep -v -E '^(results:|incomplete:)' "$B/out$n" >"$B/outt$n"
  if cmp -s "$B/outt$n" "$B/red$n"; then ok "reduce prints what the -n $n run printed"; else fail "reduce differs from run -n $n: $(diff "$B/outt$n" "$B/red$n" | head -6)"; fi
done
# statistics recomputed independently from the file with numpy
"$MMSAFE" reduce "$B/r2.h5" --json >"$B/json" || fail "reduce --json of the -n 2 file failed"
"$PY" - "$B/r2.h5" "$B/json" >"$B/chk" 2>&1 <<'PY'
import sys, json, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); rep = json.load(open(sys.argv[2]))
lab = f["items/label"][:]; sub = f["items/subset"][:]
bad = 0
for m in f["models"]:
    v = f["models"][m]["verdict"][:]
    M = rep["models"][m]
    tp = int(((v == 1) & (lab == 1)).sum()); fn = int(((v == 0) & (lab == 1)).sum())
    fp = int(((v == 1) & (lab == 0)).sum()); tn = int(((v == 0) & (lab == 0)).sum())
    unp = int((v == 2).sum()); err = int((v == 3).sum())
    a = M["all"]
    bad += (a["tp"], a["fn"], a["fp"], a["tn"], a["unparsed"], a["errors"]) != (tp, fn, fp, tn, unp, err)
    bad += abs(a["accuracy"] - (tp + tn) / (len(v) - err)) > 1e-12
    accs = []
    for s in (b"typical", b"attack", b"oversafe"):
        k = sub == s
        acc = (((v == 1) & (lab == 1) & k).sum() + ((v == 0) & (lab == 0) & k).sum()) / (k.sum() - ((v == 3) & k).sum())
        accs.append(acc)
        bad += abs(M["subsets"][s.decode()]["accuracy"] - acc) > 1e-12
    bad += abs(M["total"] - np.mean(accs)) > 1e-12
    # every interval, over its own denominator (Wilson in closed form)
    z = 1.959963984540054
    for key, k_, n_ in (("accuracy", tp + tn, len(v) - err), ("fnr", fn, tp + fn), ("fpr", fp, fp + tn),
                        ("precision", tp, tp + fp), ("recall", tp, tp + fn)):
        s_ = z * np.sqrt(z * z + 4.0 * k_ * (n_ - k_) / n_)
        want = (max(0.0, (2 * k_ + z * z - s_) / (2 * (n_ + z * z))), min(1.0, (2 * k_ + z * z + s_) / (2 * (n_ + z * z))))
        bad += any(abs(x - y) > 1e-9 for x, y in zip(M["all"]["ci"][key], want))
    st = f["models"][m]["stats"][:]
    bad += int(st[0]["tp"]) != tp or st[0]["group"] != b"all"
print("bad", bad)
PY
check_grep "reduce --json matches numpy over the file; /stats dataset too" "^bad 0$" "$B/chk"
h5dump -H "$B/r2.h5" >"$B/dump" 2>&1; check_eq "h5dump reads the file" $? 0
check_grep "h5dump shows the verdicts" 'DATASET "verdict"' "$B/dump"
# progress: plain lines every progress_every seconds when stderr is not a terminal (Slurm output files)
sed 's/"response_width": 256,/"response_width": 256, "progress_every": 0.3,/; s/"delay_ms": 1}/"delay_ms": 8}/' "$B/job.json" >"$B/prog.json"
$MPIRUN -n 2 "$MMSAFE" run "$B/prog.json" --output "$B/prog.h5" >/dev/null 2>"$B/prog.err" || fail "progress run failed"
np=$(grep -c "progress: [0-9]*/1200 items (.*%), .* items/s, elapsed .*s, ETA .*s" "$B/prog.err")
[ "$np" -ge 3 ] && ok "progress lines with done/total, items/s and ETA ($np)" || fail "only $np progress lines: $(cat "$B/prog.err" | head -5)"
check_grep "final progress line at 100%" "progress: 1200/1200 items \(100.0%\)" "$B/prog.err"
check_nogrep "no carriage returns when stderr is a file" $'\r' "$B/prog.err"
# provenance: the engine's kernel path per host (what MMSAFE_CPU or cpuid picked)
kern() { "$PY" -c 'import h5py,sys; print(h5py.File(sys.argv[1],"r").attrs["engine_kernels"].decode())' "$1" 2>&1; }
want=$("$MMSAFE" --version | sed -nE 's/^engine kernels: ([a-z0-9+]+).*/\1/p')   # avx2, avx512+vnni, ...
check_grep "engine_kernels records HOST=PATH with the path --version names" "^[^=,]+=${want//+/\\+}$" <(kern "$B/r4.h5")
MMSAFE_CPU=scalar $MPIRUN -n 2 -x MMSAFE_CPU "$MMSAFE" run "$B/job.json" --output "$B/rs.h5" >/dev/null 2>&1 || fail "MMSAFE_CPU=scalar run failed"
check_grep "... and the forced scalar path" "^[^=,]+=scalar$" <(kern "$B/rs.h5")
done_t
