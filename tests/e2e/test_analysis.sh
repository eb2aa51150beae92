#!/usr/bin/env bash
# analysis/compare.py: the comparison table, the paired McNemar test and the
# plot, over results made by real runs of the demo jobs (two models in one
# file, and a model split over two files).
source "$(dirname "$0")/../lib.sh"
# set-up (a failure fails the test; success is not a check of compare.py)
"$MMSAFE" run jobs/demo.json --output "$T_TMP/a.h5" >/dev/null 2>&1 || fail "set-up: the demo run failed"
"$MMSAFE" run jobs/demo.json --model recorded --output "$T_TMP/r.h5" >/dev/null 2>&1 || fail "set-up: one model of the demo failed"
"$PY" analysis/compare.py "$T_TMP/a.h5" --paired recorded tiny-llava --plot "$T_TMP/p.png" >"$T_TMP/out" 2>&1
check_eq "compare.py exits 0" $? 0
check_grep "row with the paper's columns (hand-checked: 6/8, 4/7, 6/8, mean 69.0)" "^recorded +75.0 +57.1 +75.0 +69.0 +23.1 +14.3 +- +24$" "$T_TMP/out"
# the llava model's AUROC, recomputed from its scores (every positive/negative pair, ties half)
au=$("$PY" - "$T_TMP/a.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); g = f["models/tiny-llava"]
y = f["items/label"][:]; v = g["verdict"][:]; s = g["p_unsafe"][:].astype(np.float64)
k = (v != 3) & (v >= 0) & np.isfinite(s)
d = s[k & (y == 1)][:, None] - s[k & (y == 0)][None, :]
print(f"{((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size:7.3f}")
PY
)
au=${au// /}
if [[ $au =~ ^[01]\.[0-9]{3}$ ]]; then
  check_grep "the llava model's AUROC is the one recomputed from its scores ($au)" "^tiny-llava .* ${au//./\\.} +24$" "$T_TMP/out"
else fail "cannot recompute the llava model's AUROC: '$au'"; fi
check_grep "paired comparison" "^paired on [0-9]+ items: .* McNemar exact p = " "$T_TMP/out"
check_eq "plot is a PNG" "$(head -c 4 "$T_TMP/p.png" | od -An -c | tr -d ' ')" "211PNG"
"$PY" analysis/compare.py "$T_TMP/a.h5" "$T_TMP/r.h5" >"$T_TMP/dup" 2>&1; check_eq "the same model in two files is refused" $? 1
check_grep "names the model" "model 'recorded' appears in two files" "$T_TMP/dup"
done_t
