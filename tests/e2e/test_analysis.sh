#!/usr/bin/env bash
# What analysis/compare.py did, now done by `mmsafe report` (compare.py was
# folded into it): the paper's columns per model, AUROC, the paired McNemar
# test between two models and a plot, over results made by real runs of the
# demo jobs (two models in one file, and a model split over two files).
source "$(dirname "$0")/../lib.sh"
if [ -z "$PY" ] || ! "$PY" -c 'import matplotlib' 2>/dev/null; then
  skip "Debian python3 with h5py/numpy/matplotlib not found (make deps)"; done_t; exit $?
fi
check "analysis/compare.py is gone: one tool for the job" test ! -e analysis/compare.py
# set-up (a failure fails the test; success is not a check of report)
"$MMSAFE" run jobs/demo.json --output "$T_TMP/a.h5" >/dev/null 2>&1 || fail "set-up: the demo run failed"
"$MMSAFE" run jobs/demo.json --model recorded --output "$T_TMP/r.h5" >/dev/null 2>&1 || fail "set-up: one model of the demo failed"
"$MMSAFE" run jobs/demo.json --model tiny-llava --output "$T_TMP/l.h5" >/dev/null 2>&1 || fail "set-up: the other model failed"
"$MMSAFE" report "$T_TMP/a.h5" -o "$T_TMP/rep" >"$T_TMP/out" 2>&1
check_eq "report exits 0" $? 0
check_grep "row with the paper's columns (hand-checked: 6/8, 4/7, 6/8, mean 69.0; 3 unparsed, 1 error)" \
  "^\| recorded \| 75\.0 \[[0-9.]+, [0-9.]+\] \| 57\.1 \[[0-9.]+, [0-9.]+\] \| 75\.0 \[[0-9.]+, [0-9.]+\] \| 69\.0 \[[0-9.]+, [0-9.]+\] \| 23\.1 \| 14\.3 \| – \| – \| 3 \| 1 \| 0 \|$" "$T_TMP/out"
# the llava model's AUROC, recomputed from its scores (every positive/negative pair, ties half)
au=$("$PY" - "$T_TMP/a.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); g = f["models/tiny-llava"]
y = f["items/label"][:]; v = g["verdict"][:]; s = g["p_unsafe"][:].astype(np.float64)
k = (v != 3) & (v >= 0) & np.isfinite(s)
d = s[k & (y == 1)][:, None] - s[k & (y == 0)][None, :]
print(f"{((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size:.3f}")
PY
)
if [[ $au =~ ^[01]\.[0-9]{3}$ ]]; then
  check_grep "the llava model's AUROC is the one recomputed from its scores ($au)" "^\| tiny-llava \|.* \| ${au//./\\.} \|" "$T_TMP/out"
else fail "cannot recompute the llava model's AUROC: '$au'"; fi
check_grep "paired comparison (McNemar) in report.md" "^\| tiny-llava \| recorded \| baseline\+predecessor \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9.e-]+ \|" "$T_TMP/rep/report.md"
check_eq "plots are PNGs" "$(head -c 4 "$T_TMP/rep/curves.png" | od -An -c | tr -d ' ')" "211PNG"
"$MMSAFE" report "$T_TMP/a.h5" "$T_TMP/r.h5" -o "$T_TMP/rep2" >"$T_TMP/dup" 2>&1; check_eq "the same model in two files is refused" $? 1
check_grep "names the model" "model 'recorded' appears in two files" "$T_TMP/dup"
# a model split over two files: the same table as the file with both
"$MMSAFE" report "$T_TMP/r.h5" "$T_TMP/l.h5" -o "$T_TMP/rep3" >"$T_TMP/out3" 2>&1
check_eq "two files of one manifest: the same table" "$(grep '^|' "$T_TMP/out3")" "$(grep '^|' "$T_TMP/out")"
done_t
