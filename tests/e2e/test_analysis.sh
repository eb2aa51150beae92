#!/usr/bin/env bash
# analysis/compare.py: the comparison table, the paired McNemar test and the
# plot, over results made by real runs of the demo jobs (two models in one
# file, and a model split over two files).
source "$(dirname "$0")/../lib.sh"
"$MMSAFE" run jobs/demo.json --output "$T_TMP/a.h5" >/dev/null 2>&1; check_eq "demo run (recorded + tiny-llava)" $? 0
"$MMSAFE" run jobs/demo.json --model recorded --output "$T_TMP/r.h5" >/dev/null 2>&1; check_eq "one model of the demo" $? 0
"$PY" analysis/compare.py "$T_TMP/a.h5" --paired recorded tiny-llava --plot "$T_TMP/p.png" >"$T_TMP/out" 2>&1
check_eq "compare.py exits 0" $? 0
check_grep "row with the paper's columns (hand-checked: 6/8, 4/7, 6/8, mean 69.0)" "^recorded +75.0 +57.1 +75.0 +69.0 +23.1 +14.3 +- +24$" "$T_TMP/out"
check_grep "the llava model has an AUROC" "^tiny-llava .* [01]\.[0-9]{3} +24$" "$T_TMP/out"
check_grep "paired comparison" "^paired on [0-9]+ items: .* McNemar exact p = " "$T_TMP/out"
check_eq "plot is a PNG" "$(head -c 4 "$T_TMP/p.png" | od -An -c | tr -d ' ')" "211PNG"
"$PY" analysis/compare.py "$T_TMP/a.h5" "$T_TMP/r.h5" >"$T_TMP/dup" 2>&1; check_eq "the same model in two files is refused" $? 1
check_grep "names the model" "model 'recorded' appears in two files" "$T_TMP/dup"
done_t
