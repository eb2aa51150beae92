#!/usr/bin/env bash
# Every statistic, recomputed independently (tests/stats_recompute.py: its own
# parsers, numpy) from a benchmark with unequal subsets, scenarios, both
# labels, unparsed answers, errors and recorded p_unsafe scores with ties, and
# compared with `reduce --json`, the file's /models/NAME/stats and every cell
# of the tables printed by `run` and `reduce`: with the strict and the paper
# parser, on 1 rank and under mpirun -n 2 and -n 4.
source "$(dirname "$0")/../lib.sh"
D=$T_TMP/bench
"$PY" tests/stats_recompute.py gen "$D" || { fail "cannot generate the benchmark"; done_t; exit 1; }
models=(--model "alpha=$D/alpha.jsonl" --model "beta=$D/beta.jsonl" --model "gamma=$D/gamma.jsonl")
# absorb FILE: a checker's "checks: N passed, M failed" added to this test's counts
absorb() {
  local line; line=$(tail -1 "$1")
  if [[ $line =~ ^checks:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    T_PASS=$((T_PASS + BASH_REMATCH[1])); T_FAIL=$((T_FAIL + BASH_REMATCH[2]))
    grep '^FAIL ' "$1" | head -20 | sed "s/^FAIL /FAIL $T_NAME: $2: /" >&2
  else
    fail "$2: the checker did not finish: $(tail -5 "$1")"
  fi
}
# recompute PARSER TAG MANIFEST MODELS... : run + reduce outputs in $D/TAG.*
recompute() {
  local parser=$1 tag=$2 man=$3; shift 3
  if ! "$MMSAFE" reduce "$D/$tag.h5" --json >"$D/$tag.json" 2>"$D/$tag.rerr" ||
     ! "$MMSAFE" reduce "$D/$tag.h5" >"$D/$tag.red" 2>>"$D/$tag.rerr"; then
    fail "$tag: reduce failed: $(head -3 "$D/$tag.rerr")"; return
  fi
  "$PY" tests/stats_recompute.py check --manifest "$man" "$@" --parser "$parser" \
    "$D/$tag.h5" "$D/$tag.json" "$D/$tag.run" "$D/$tag.red" >"$D/$tag.chk" 2>&1
  absorb "$D/$tag.chk" "$tag"
}
for parser in strict paper; do
  for n in 1 2 4; do
    [ "$parser" = strict ] && [ "$n" = 4 ] && continue
    tag=$parser-n$n
    if [ "$n" = 1 ]; then "$MMSAFE" run "$D/$parser.json" --output "$D/$tag.h5" >"$D/$tag.run" 2>"$D/$tag.err"
    else $MPIRUN -n "$n" "$MMSAFE" run "$D/$parser.json" --output "$D/$tag.h5" >"$D/$tag.run" 2>"$D/$tag.err" </dev/null; fi
    rc=$?
    if [ $rc -ne 0 ]; then fail "$tag: run exits $rc: $(grep error "$D/$tag.err" | head -3)"; continue; fi
    recompute "$parser" "$tag" "$D/manifest.jsonl" "${models[@]}"
  done
done
# Rates with an empty denominator: "-" and the reason, not "nan%".
U=$D/undef
"$MMSAFE" run "$U/job.json" --output "$D/undef.h5" >"$D/undef.run" 2>"$D/undef.err"
rc=$?
if [ $rc -eq 0 ]; then
  recompute strict undef "$U/manifest.jsonl" --model "talk=$U/talk.jsonl" --model "mute=$U/mute.jsonl" --model "absent=$U/absent.jsonl"
  check_nogrep "no nan in the run's table" "nan" "$D/undef.run"
  check_grep "FNR undefined: dash and reason" "^talk: n=7 TP=0 FN=0 FP=2 TN=4; accuracy 57\.1% \[25\.0, 84\.2\], FNR - \(no unsafe item with a parsed verdict\), FPR 33\.3% \[9\.7, 70\.0\] \(Wilson 95%\), parser strict$" "$D/undef.run"
  check_grep "all errors: every rate a dash" "^absent: n=7 TP=0 FN=0 FP=0 TN=0; accuracy - \(no item without an error\), FNR - \(no unsafe item with a parsed verdict\), FPR - \(no safe item with a parsed verdict\)" "$D/undef.run"
else
  fail "undef: run exits $rc: $(grep error "$D/undef.err" | head -3)"
fi
# A recorded score must be a number in [0, 1]: the error names the file and line.
mkdir -p "$D/bad"
printf '{"id": "u0", "response": "Yes", "p_unsafe": 0.2}\n{"id": "u1", "response": "No", "p_unsafe": %s}\n' 1.5 >"$D/bad/talk.jsonl"
cp "$U/manifest.jsonl" "$D/bad/"; cp "$D/bad/talk.jsonl" "$D/bad/mute.jsonl"; cp "$D/bad/talk.jsonl" "$D/bad/absent.jsonl"
sed 's/"undef.h5"/"bad.h5"/' "$U/job.json" >"$D/bad/job.json"
for v in 1.5 -0.1 '"0.3"' true 1e999; do
  sed -i "2s/\"p_unsafe\": .*}/\"p_unsafe\": $v}/" "$D/bad/talk.jsonl"
  "$MMSAFE" run "$D/bad/job.json" >"$D/bad/out" 2>"$D/bad/err"; rc=$?
  check_eq "p_unsafe $v is refused (exit 1)" $rc 1
  check_grep "p_unsafe $v: the error names the file and line" "talk\.jsonl:2: \"p_unsafe\" must be a number from 0 to 1" "$D/bad/err"
done
done_t
