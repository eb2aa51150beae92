#!/usr/bin/env bash
# mmsafe report (analysis/report.py), every number checked by
# tests/report_check.py, which recomputes it without the report's code:
#  1. a hand-made case (3 images, one under two names; 3 checkpoints listed out
#     of step order) whose McNemar counts and p-values, Holm correction and
#     image-clustered bootstrap interval are worked out by hand;
#  2. a sweep of 3 checkpoints with recorded answers and scores, the way
#     slurm/sweep runs it (sweep-job, one run per checkpoint, sweep-merge.sbatch),
#     to a report of the merged file, and of the per-checkpoint files (the same
#     numbers); every number recomputed and compared with reduce --json;
#  3. the HTML parses and references only files that exist, the LaTeX is booktabs;
#  4. determinism, refusals (different manifests, the same model twice, unknown
#     baseline), the fallback when the manifest cannot be read, 1 model;
#  5. SafeBench: a hand-made `reduce --json` through the same command.
source "$(dirname "$0")/../lib.sh"
if [ -z "$PY" ] || ! "$PY" -c 'import matplotlib' 2>/dev/null; then
  skip "Debian python3 with h5py/numpy/matplotlib not found (make deps)"; done_t; exit $?
fi
RC() { "$PY" tests/report_check.py "$@"; }
absorb() {  # absorb FILE WHAT: a checker's "checks: N passed, M failed"
  local line; line=$(tail -1 "$1")
  if [[ $line =~ ^checks:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    T_PASS=$((T_PASS + BASH_REMATCH[1])); T_FAIL=$((T_FAIL + BASH_REMATCH[2]))
    grep '^FAIL ' "$1" | head -20 | sed "s/^FAIL /FAIL $T_NAME: $2: /" >&2
  else fail "$2: the checker did not finish: $(tail -5 "$1")"; fi
}

# --- 1. the hand-made case ------------------------------------------------------
H=$T_TMP/hand
RC hand "$H"
(cd "$H" && "$MMSAFE" run job.json >run.out 2>&1) || fail "set-up: the hand-made run failed: $(tail -3 "$H/run.out")"
(cd "$H" && "$MMSAFE" report hand.h5 -o rep >rep.out 2>rep.err)
check_eq "report of the hand-made case exits 0" $? 0
RC check-hand "$H/rep/summary.json" >"$T_TMP/hand.chk" 2>&1; absorb "$T_TMP/hand.chk" "hand-made case"
check_grep "it says how much wider the clustered interval is" "as wide as the one resampling items" "$H/rep/report.md"
# Holm's step-down on p-values where the running maximum matters, by hand:
# sorted 0.01, 0.03, 0.04 -> 3(0.01) = 0.03, 2(0.03) = 0.06, max(0.06, 1(0.04)) = 0.06
check_eq "Holm's adjusted p-values are monotone (hand-worked)" \
  "$("$PY" -B -c 'import sys; sys.path.insert(0, "analysis"); import report; print([round(x, 12) for x in report.holm([0.01, 0.04, 0.03])])' 2>&1)" \
  "[0.03, 0.06, 0.06]"
# the same file clustered by image path: 4 clusters, so not the hand-worked interval
(cd "$H" && "$MMSAFE" report hand.h5 -o rep-path --cluster path >/dev/null 2>&1)
check_eq "--cluster path: clustered by path, 5 clusters" \
  "$("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["clustering"]; print(c["by"], c["n_clusters"])' "$H/rep-path/summary.json" 2>&1)" \
  "image path 5"

# --- 2. a sweep of 3 checkpoints, slurm/sweep style ----------------------------
S=$T_TMP/sweep; RC sweep "$S"
"$MMSAFE" sweep-job "$S/template.json" "$S/ckpts.txt" -o "$S/sweep.json" >/dev/null 2>&1 || fail "set-up: sweep-job failed"
mkdir -p "$S/out/results"; printf 'ckpt-1000\nckpt-2000\nckpt-3000\n' >"$S/out/models.txt"
for i in 0 1 2; do
  m=$(sed -n "$((i + 1))p" "$S/out/models.txt")
  "$MMSAFE" run "$S/sweep.json" --model-index $i --output "$S/out/results/$m.h5" >/dev/null 2>&1 || fail "set-up: task $i failed"
done
MMSAFE=$MMSAFE bash slurm/sweep-merge.sbatch "$S/out" >"$S/merge.out" 2>&1 || fail "set-up: sweep-merge failed: $(tail -3 "$S/merge.out")"
"$MMSAFE" report "$S/out/all.h5" -o "$S/rep" >"$S/rep.out" 2>"$S/rep.err"
check_eq "report of the merged sweep exits 0" $? 0
check_grep "prints the table" "^\| ckpt-3000 \| " "$S/rep.out"
"$MMSAFE" reduce "$S/out/all.h5" --json >"$S/reduce.json"
RC recompute "$S/out/all.h5" "$S/rep" "$S/reduce.json" >"$T_TMP/sweep.chk" 2>&1; absorb "$T_TMP/sweep.chk" "sweep recomputed"
RC html "$S/rep" >"$T_TMP/html.chk" 2>&1; absorb "$T_TMP/html.chk" "sweep report files"
check_eq "every figure is there" \
  "$("$PY" -c 'import json,sys; print(" ".join(f["name"] for f in json.load(open(sys.argv[1]))["figures"]))' "$S/rep/summary.json")" \
  "curves tradeoff heatmap significance roc calibration scores"
check_eq "clustered by image content on the sample (23 images, 1 item without)" \
  "$("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["clustering"]; print(c["by"], c["n_clusters"], c["items_without_image"])' "$S/rep/summary.json")" \
  "image content, path where unreadable 24 1"
# the per-checkpoint files together (a mix of files of one manifest): the same numbers
"$MMSAFE" report "$S"/out/results/ckpt-{3000,1000,2000}.h5 -o "$S/rep-files" >/dev/null 2>&1
check_eq "report of the per-checkpoint files exits 0" $? 0
strip() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("files"); [m.pop("file") for m in d["models"]]; print(json.dumps(d, sort_keys=True))' "$1"; }
check_eq "the per-checkpoint files give the merged file's summary" "$(strip "$S/rep-files/summary.json" | md5sum)" "$(strip "$S/rep/summary.json" | md5sum)"
# deterministic: the same summary and tables again
"$MMSAFE" report "$S/out/all.h5" -o "$S/rep2" >/dev/null 2>&1
check "summary.json is deterministic" cmp -s "$S/rep/summary.json" "$S/rep2/summary.json"
check "tables.tex is deterministic" cmp -s "$S/rep/tables.tex" "$S/rep2/tables.tex"
check "the SVGs are deterministic" cmp -s "$S/rep/curves.svg" "$S/rep2/curves.svg"
"$MMSAFE" report "$S/out/all.h5" -o "$S/rep3" --seed 7 >/dev/null 2>&1
check_eq "another seed is recorded" "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["bootstrap"]["seed"])' "$S/rep3/summary.json")" 7
# --baseline: comparisons against it
"$MMSAFE" report "$S/out/all.h5" -o "$S/rep-b" --baseline ckpt-3000 >/dev/null 2>&1
check_eq "--baseline NAME" "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["baseline"], sorted({c["reference"] for c in d["comparisons"] if "baseline" in c["kind"]}))' "$S/rep-b/summary.json")" \
  "ckpt-3000 ['ckpt-3000']"

# --- 3. one model, the demo's real runs (tiny LLaVA scores) ----------------------
"$MMSAFE" run jobs/demo.json --output "$T_TMP/demo.h5" >/dev/null 2>&1 || fail "set-up: the demo run failed"
"$MMSAFE" run jobs/demo.json --model recorded --output "$T_TMP/one.h5" >/dev/null 2>&1 || fail "set-up: one model failed"
"$MMSAFE" report "$T_TMP/demo.h5" -o "$T_TMP/rd" >/dev/null 2>&1; check_eq "report of the demo exits 0" $? 0
"$MMSAFE" reduce "$T_TMP/demo.h5" --json >"$T_TMP/demo.json"
RC recompute "$T_TMP/demo.h5" "$T_TMP/rd" "$T_TMP/demo.json" >"$T_TMP/demo.chk" 2>&1; absorb "$T_TMP/demo.chk" "demo recomputed"
"$MMSAFE" report "$T_TMP/one.h5" -o "$T_TMP/r1" >/dev/null 2>"$T_TMP/r1.err"; check_eq "a report of one model exits 0" $? 0
RC html "$T_TMP/r1" >"$T_TMP/r1.chk" 2>&1; absorb "$T_TMP/r1.chk" "one-model report files"
check_grep "one model: nothing to compare" "nothing to compare" "$T_TMP/r1/report.md"
# the manifest cannot be found (another working directory): cluster by item, and say so
(cd "$T_TMP" && "$MMSAFE" report demo.h5 -o r-noman >/dev/null 2>noman.err)
check_eq "without the manifest: clustered by item" \
  "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["clustering"]["by"])' "$T_TMP/r-noman/summary.json" 2>&1)" item
check_grep "... with a warning naming the manifest" "cannot cluster by image: manifest 'jobs/../data/sample/manifest.jsonl' not found" "$T_TMP/noman.err"
check_grep "... and the report says so" "clustered by item" "$T_TMP/r-noman/report.md"

# --- 4. refusals ------------------------------------------------------------------
"$MMSAFE" report "$T_TMP/demo.h5" "$H/hand.h5" -o "$T_TMP/rx" >/dev/null 2>"$T_TMP/mix.err"
check_eq "files of different manifests are refused" $? 1
check_grep "... naming both files" "error: '$T_TMP/demo.h5' and '$H/hand.h5' come from different manifests" "$T_TMP/mix.err"
"$MMSAFE" report "$T_TMP/demo.h5" "$T_TMP/one.h5" -o "$T_TMP/rx" >/dev/null 2>"$T_TMP/dup.err"
check_eq "the same model in two files is refused" $? 1
check_grep "... naming the model" "model 'recorded' appears in two files" "$T_TMP/dup.err"
"$MMSAFE" report "$T_TMP/demo.h5" -o "$T_TMP/rx" --baseline nope >/dev/null 2>"$T_TMP/bl.err"
check_eq "an unknown baseline is refused" $? 1
check_grep "... listing the models" "no such model \(have: recorded, tiny-llava\)" "$T_TMP/bl.err"
"$MMSAFE" report "$T_TMP/demo.h5" >/dev/null 2>"$T_TMP/use.err"; check_eq "no -o: usage error" $? 2
MMSAFE_PYTHON=/nonexistent/python3 "$MMSAFE" report "$T_TMP/demo.h5" -o "$T_TMP/rx" >/dev/null 2>"$T_TMP/py.err"
check_eq "no interpreter: exit 1" $? 1
check_grep "... saying what is needed" "python3-h5py, python3-numpy and python3-matplotlib" "$T_TMP/py.err"

# --- 5. SafeBench, through reduce's JSON contract --------------------------------
RC safebench "$T_TMP/sb.json"
"$MMSAFE" report "$T_TMP/sb.json" -o "$T_TMP/rsb" >/dev/null 2>"$T_TMP/sb.err"; check_eq "SafeBench report exits 0" $? 0
RC check-safebench "$T_TMP/rsb" >"$T_TMP/sb.chk" 2>&1; absorb "$T_TMP/sb.chk" "SafeBench"
RC html "$T_TMP/rsb" >"$T_TMP/sbh.chk" 2>&1; absorb "$T_TMP/sbh.chk" "SafeBench report files"
"$MMSAFE" report "$T_TMP/sb.json" "$T_TMP/demo.h5" -o "$T_TMP/rx" >/dev/null 2>"$T_TMP/sbmix.err"
check_eq "SafeBench and MMSafeAware in one report are refused" $? 1
done_t
