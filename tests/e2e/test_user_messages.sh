#!/usr/bin/env bash
# What a user is told: a manifest line without an "image" key (run and check
# warn, naming the line), what sweep-job wrote, and `mmsafe report` on a
# missing, non-HDF5 or foreign HDF5 file (a message naming it, no traceback).
. "$(dirname "$0")/../lib.sh"
D=$T_TMP
printf '%s\n' '{"id":"1","image":null,"prompt":"p","label":"safe"}' \
  '{"id":"2","prompt":"p","label":"unsafe"}' '{"id":"3","image":null,"prompt":"p","label":"unsafe"}' \
  '{"id":"4","prompt":"p","label":"safe"}' >"$D/m.jsonl"
printf '%s\n' '{"id":"1","response":"Yes"}' '{"id":"2","response":"No"}' '{"id":"3","response":"No"}' '{"id":"4","response":"Yes"}' >"$D/r.jsonl"
cat >"$D/j.json" <<'J'
{"name": "t", "manifest": "m.jsonl", "output": "o.h5",
 "models": [{"name": "r", "backend": "responses", "responses": "r.jsonl"}]}
J
"$MMSAFE" run "$D/j.json" >"$D/run.out" 2>"$D/run.err"; rc=$?
if [ $rc -eq 0 ]; then
  check_grep "run warns about lines without an \"image\" key, counting them and naming the first" \
    'm\.jsonl: 2 line\(s\) have no "image" key \(the first: line 2\)' "$D/run.err"
  check_grep "the warning says what to write instead" 'write "image": null to say so' "$D/run.err"
  check_grep "items without an image are still counted" 'm\.jsonl: 4 item\(s\) have no image' "$D/run.err"
else fail "run of a 4-item responses job exited $rc: $(cat "$D/run.err")"; fi
"$MMSAFE" check "$D/j.json" >"$D/chk.out" 2>&1
check_grep "check warns too" 'warning: 2 line\(s\) have no "image" key \(the first: line 2\)' "$D/chk.out"
sed -i 's/^{"id":"2","prompt"/{"id":"2","image":null,"prompt"/; s/^{"id":"4","prompt"/{"id":"4","image":null,"prompt"/' "$D/m.jsonl"
"$MMSAFE" check "$D/j.json" >"$D/chk2.out" 2>&1
check_nogrep "explicit \"image\": null gives no such warning" 'no "image" key' "$D/chk2.out"

# sweep-job says what it wrote
printf 'ckpt-100 a.gguf\n# a comment\nckpt-200 b.gguf mm.gguf\n' >"$D/ck.txt"
cat >"$D/tmpl.json" <<'J'
{"name": "s", "manifest": "m.jsonl", "output": "s.h5",
 "models": [{"name": "x", "backend": "llava", "model": "x.gguf", "mmproj": "mm.gguf"}]}
J
out=$("$MMSAFE" sweep-job "$D/tmpl.json" "$D/ck.txt" -o "$D/sweep.json" 2>&1)
check_eq "sweep-job names the file, the count and the models in task order" "$out" \
  "wrote $D/sweep.json: 2 model(s), one per checkpoint (array tasks 0..1: \`mmsafe run $D/sweep.json --model-index I\`): ckpt-100 ckpt-200"

# mmsafe report (analysis/report.py): errors name the file, exit 1, no Python traceback
if [ -n "$PY" ] && "$PY" -c 'import matplotlib' 2>/dev/null; then
  cmp_err() {  # desc file pattern
    "$MMSAFE" report "$2" -o "$D/rep" >"$D/c.out" 2>&1; local rc=$?
    check_eq "report $1: exit 1" "$rc" 1
    check_grep "report $1: says so" "$3" "$D/c.out"
    check_nogrep "report $1: no traceback" 'Traceback' "$D/c.out"
  }
  cmp_err "on a missing file" "$D/nope.h5" "^mmsafe: error: '$D/nope.h5': no such file$"
  cmp_err "on a text file" "$D/m.jsonl" "^mmsafe: error: '$D/m.jsonl' is not a readable HDF5 file"
  "$PY" -c "import h5py, sys; h5py.File(sys.argv[1], 'w').create_dataset('x', data=[1])" "$D/other.h5"
  cmp_err "on a foreign HDF5 file" "$D/other.h5" "^mmsafe: error: '$D/other.h5' is HDF5 but not an mmsafe results file"
  cmp_err "on a folder" "$D" "is a folder, not a results file"
else skip "Debian python3 with h5py/numpy/matplotlib not found"; fi
done_t
