#!/usr/bin/env bash
# `mmsafe merge` outside Slurm: per-model files from `run --model-index` merge
# into one file whose per-model datasets and statistics equal each input's;
# every error path (different manifests, a model in two inputs with other
# results, the output among the inputs, an unreadable input, usage) exits
# with the right code, names the offending files and writes nothing.
source "$(dirname "$0")/../lib.sh"
B=$T_TMP/b
"$PY" tests/mpi/gen_bench.py "$B" 90 3
cat >"$B/job.json" <<J
{"name": "merge", "manifest": "manifest.jsonl", "output": "all.h5",
 "models": [{"name": "a", "backend": "responses", "responses": "resp0.jsonl"},
            {"name": "b", "backend": "responses", "responses": "resp1.jsonl"},
            {"name": "c", "backend": "responses", "responses": "resp2.jsonl"}]}
J
# set-up (not checks): one file per model, and the whole job in one run
for i in 0 1 2; do
  "$MMSAFE" run "$B/job.json" --model-index $i --output "$B/p$i.h5" >/dev/null 2>&1 || fail "set-up: run --model-index $i failed"
done
"$MMSAFE" run "$B/job.json" >/dev/null 2>&1 || fail "set-up: the whole job failed"

# same_datasets A MODEL_A B MODEL_B: every dataset of models/MODEL_A in A equals models/MODEL_B in B
# (items/* too); prints "same N" or what differs.
same_datasets() {
  "$PY" - "$@" <<'PY'
import sys, h5py, numpy as np
a, ma, b, mb = h5py.File(sys.argv[1], "r"), sys.argv[2], h5py.File(sys.argv[3], "r"), sys.argv[4]
ga, gb = a["models"][ma], b["models"][mb]
bad = [k for k in ga if k not in gb] + [k for k in gb if k not in ga]
n = 0
for k in ga:
    if k not in gb: continue
    x, y = ga[k][()], gb[k][()]
    if x.dtype.names:   # the stats table: compare field by field (NaN == NaN)
        ok = x.shape == y.shape and all(np.array_equal(x[f], y[f], equal_nan=x[f].dtype.kind == "f") for f in x.dtype.names)
    else:
        ok = x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
    if ok: n += 1
    else: bad.append(k)
for k in ("id", "label", "subset", "scenario"):
    if not np.array_equal(a["items"][k][()], b["items"][k][()]): bad.append("items/" + k)
print("differ: " + " ".join(bad) if bad else f"same {n}")
PY
}
# stats_of FILE MODEL: one model's statistics from `reduce --json`, sorted
stats_of() {
  "$MMSAFE" reduce "$1" --json 2>/dev/null | "$PY" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["models"][sys.argv[1]], sort_keys=True))' "$2" 2>/dev/null
}

# --- 1. three per-model files merge into one
"$MMSAFE" merge "$B/p0.h5" "$B/p1.h5" "$B/p2.h5" -o "$B/m.h5" >"$B/m.out" 2>"$B/m.err"
check_eq "merge of 3 files exits 0" $? 0
check_grep "merge says what it did" "^merged 3 model\(s\) from 3 file\(s\) into $B/m.h5$" "$B/m.out"
check_eq "merged file holds a b c, complete" \
  "$("$PY" -c 'import h5py,sys; f=h5py.File(sys.argv[1],"r"); print(" ".join(f["models"]), int(f.attrs["complete"]))' "$B/m.h5" 2>&1)" "a b c 1"
i=0
for m in a b c; do
  # 10 datasets per model: verdict p_unsafe error rank latency_ms response error_msg response_len response_truncated stats
  check_eq "$m: every dataset equals its input's" "$(same_datasets "$B/m.h5" $m "$B/p$i.h5" $m)" "same 11"
  s=$(stats_of "$B/p$i.h5" $m)
  [ -n "$s" ] || fail "$m: no statistics in p$i.h5"
  check_eq "$m: merged statistics equal its input's" "$(stats_of "$B/m.h5" $m)" "$s"
  check_eq "$m: ... and the whole-job run's" "$(stats_of "$B/all.h5" $m)" "$s"
  i=$((i + 1))
done
check_eq "the three models' statistics differ (the comparison means something)" \
  "$(for m in a b c; do stats_of "$B/m.h5" $m; done | sort -u | wc -l)" 3
"$MMSAFE" reduce "$B/m.h5" >"$B/m.red"
grep -v '^merged ' "$B/m.out" >"$B/m.tab"
check "merge prints the table reduce prints for the merged file" cmp -s "$B/m.red" "$B/m.tab"
# an identical model in two inputs is kept once, with a warning
cp "$B/p0.h5" "$B/p0copy.h5"
"$MMSAFE" merge "$B/p0.h5" "$B/p0copy.h5" "$B/p1.h5" -o "$B/dup.h5" >"$B/dup.out" 2>"$B/dup.err"
check_eq "an identical duplicate: exit 0" $? 0
check_grep "an identical duplicate: warned, naming both files" "model 'a' is in both '$B/p0.h5' and '$B/p0copy.h5' \(identical; kept once\)" "$B/dup.err"
check_eq "an identical duplicate: kept once" "$("$PY" -c 'import h5py,sys; print(" ".join(h5py.File(sys.argv[1],"r")["models"]))' "$B/dup.h5" 2>&1)" "a b"

# --- 2. error paths: exit 1, the culprits named, no output written
# refused DESC EXIT PATTERN OUT ARGS...: merge ARGS exits EXIT, says PATTERN once, OUT not created
refused() {
  local d=$1 want=$2 pat=$3 out=$4; shift 4
  rm -f "$out" "$out.tmp"
  "$MMSAFE" merge "$@" >"$B/e.out" 2>"$B/e.err"
  check_eq "$d: exit $want" $? "$want"
  check_grep "$d: the message names the files" "$pat" "$B/e.err"
  check "$d: no output written" test ! -e "$out" -a ! -e "$out.tmp"
}
# another manifest: same number of items, other prompts
mkdir -p "$B/o"
sed 's/Is item/Was item/' "$B/manifest.jsonl" >"$B/o/manifest.jsonl"
cp "$B/resp0.jsonl" "$B/resp1.jsonl" "$B/resp2.jsonl" "$B/o/"
cp "$B/job.json" "$B/o/job.json"
"$MMSAFE" run "$B/o/job.json" --model-index 1 --output "$B/o/p1.h5" >/dev/null 2>&1 || fail "set-up: run on the other manifest failed"
refused "different manifests" 1 "error: '$B/p0.h5' and '$B/o/p1.h5' come from different manifests" "$B/x.h5" \
  "$B/p0.h5" "$B/o/p1.h5" -o "$B/x.h5"
# another manifest with more items
"$PY" tests/mpi/gen_bench.py "$B/n" 91 1
sed 's/"resp1.jsonl"/"resp0.jsonl"/; s/"resp2.jsonl"/"resp0.jsonl"/' "$B/job.json" >"$B/n/job.json"
"$MMSAFE" run "$B/n/job.json" --model-index 0 --output "$B/n/p0.h5" >/dev/null 2>&1 || fail "set-up: run on the 91-item manifest failed"
refused "a manifest with more items" 1 "error: '$B/p1.h5' and '$B/n/p0.h5' come from different manifests" "$B/x.h5" \
  "$B/p1.h5" "$B/n/p0.h5" -o "$B/x.h5"
# model 'a' again, with model b's answers
sed 's/"name": "b"/"name": "a"/; s/"name": "a", "backend": "responses", "responses": "resp0.jsonl"/"name": "z", "backend": "responses", "responses": "resp0.jsonl"/' \
  "$B/job.json" >"$B/clash.json"
"$MMSAFE" run "$B/clash.json" --model a --output "$B/clash.h5" >/dev/null 2>&1 || fail "set-up: clash run failed"
refused "a model in two inputs with different results" 1 \
  "error: model 'a' is in both '$B/p0.h5' and '$B/clash.h5' with different results" "$B/x.h5" \
  "$B/p0.h5" "$B/p2.h5" "$B/clash.h5" -o "$B/x.h5"
cp "$B/p1.h5" "$B/p1.before"
refused "the output among the inputs" 1 "error: the output '$B/p1.h5' is also an input" "$B/none.h5" \
  "$B/p0.h5" "$B/p1.h5" -o "$B/p1.h5"
check "the output among the inputs: that input is untouched" cmp -s "$B/p1.h5" "$B/p1.before"
(cd "$B" && "$MMSAFE" merge p0.h5 p1.h5 -o ./p1.h5 >"$B/e.out" 2>"$B/e.err")
check_eq "the output among the inputs, spelt differently: exit 1" $? 1
check_grep "the output among the inputs, spelt differently: named" "error: the output './p1.h5' is also an input \('p1.h5'\)" "$B/e.err"
check "the output among the inputs, spelt differently: that input is untouched" cmp -s "$B/p1.h5" "$B/p1.before"
echo "not hdf5" >"$B/junk.h5"
refused "an unreadable input" 1 "error: .*$B/junk.h5" "$B/x.h5" "$B/p0.h5" "$B/junk.h5" -o "$B/x.h5"
refused "a missing input" 1 "error: .*$B/nope.h5" "$B/x.h5" "$B/p0.h5" "$B/nope.h5" -o "$B/x.h5"
refused "no -o" 2 "usage: mmsafe merge" "$B/x.h5" "$B/p0.h5" "$B/p1.h5"
refused "an unknown option" 2 "unknown option '--bogus'" "$B/x.h5" "$B/p0.h5" --bogus -o "$B/x.h5"
done_t
