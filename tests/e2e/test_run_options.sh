#!/usr/bin/env bash
# Options no other test exercised, with exact expectations:
#  - `run --model-index I` runs exactly the job's I-th model (the results equal
#    that model's in a whole-job run) and refuses an index out of range;
#  - `check --no-images` skips decoding (a broken image is then not reported,
#    and an image that would block on open is never opened);
#  - `check --threads N` uses N threads and gives the same report for any N;
#  - `--timings` on `logits` (image path) and `embed-image` prints its line
#    with plausible numbers, and nothing without it.
source "$(dirname "$0")/../lib.sh"
B=$T_TMP/b
"$PY" tests/mpi/gen_bench.py "$B" 45 3
cat >"$B/job.json" <<J
{"name": "opts", "manifest": "manifest.jsonl", "output": "all.h5",
 "models": [{"name": "a", "backend": "responses", "responses": "resp0.jsonl"},
            {"name": "b", "backend": "responses", "responses": "resp1.jsonl"},
            {"name": "c", "backend": "responses", "responses": "resp2.jsonl"}]}
J
"$MMSAFE" run "$B/job.json" >/dev/null 2>&1 || fail "set-up: the whole job failed"
"$PY" tests/h5cols.py "$B/all.h5" >"$B/all.cols"
models_of() { "$PY" -c 'import h5py,sys; print(" ".join(h5py.File(sys.argv[1],"r")["models"]))' "$1" 2>&1; }

# --- 1. run --model-index
i=0
for m in a b c; do
  "$MMSAFE" run "$B/job.json" --model-index $i --output "$B/p$i.h5" >"$B/p$i.out" 2>"$B/p$i.err"
  check_eq "--model-index $i: exit 0" $? 0
  check_eq "--model-index $i: the file holds model $m only" "$(models_of "$B/p$i.h5")" "$m"
  "$PY" tests/h5cols.py "$B/p$i.h5" >"$B/p$i.cols"
  grep -P "^$m\t" "$B/all.cols" >"$B/want$i.cols"
  check_eq "--model-index $i: 45 rows" "$(wc -l <"$B/p$i.cols")" 45
  check "--model-index $i: rows equal model $m's in the whole-job run" cmp -s "$B/want$i.cols" "$B/p$i.cols"
  check_grep "--model-index $i: the table shows model $m" "^$m " "$B/p$i.out"
  i=$((i + 1))
done
check "the three models' results differ (the comparison means something)" \
  test "$(md5sum <"$B/p0.cols")" != "$(md5sum <"$B/p1.cols")" -a "$(md5sum <"$B/p1.cols")" != "$(md5sum <"$B/p2.cols")"
# --model NAME selects the same thing
"$MMSAFE" run "$B/job.json" --model b --output "$B/nb.h5" >/dev/null 2>&1
"$PY" tests/h5cols.py "$B/nb.h5" >"$B/nb.cols" 2>&1
check "--model b equals --model-index 1" cmp -s "$B/nb.cols" "$B/p1.cols"
# refused: exit code, message, no results file
"$MMSAFE" run "$B/job.json" --model-index 3 --output "$B/x3.h5" >/dev/null 2>"$B/e"
check_eq "--model-index 3 of 3 models: exit 1" $? 1
check_grep "--model-index 3: says why" "error: .*job.json: --model-index 3 but the job has 3 model\(s\)" "$B/e"
check "--model-index 3: no results file" test ! -e "$B/x3.h5"
$MPIRUN -n 2 "$MMSAFE" run "$B/job.json" --model-index 7 --output "$B/x7.h5" >/dev/null 2>"$B/e"
check_eq "--model-index 7 under mpirun -n 2: exit 1" $? 1
check_eq "--model-index 7 under mpirun -n 2: one message" "$(grep -c 'error: .*--model-index 7 but the job has 3' "$B/e")" 1
for bad in -1 x 1x ''; do
  "$MMSAFE" run "$B/job.json" --model-index "$bad" --output "$B/xb.h5" >/dev/null 2>"$B/e"
  check_eq "--model-index '$bad': usage error (exit 2)" $? 2
  check_grep "--model-index '$bad': says what it wants" "--model-index needs a number >= 0" "$B/e"
done
"$MMSAFE" run "$B/job.json" --model-index >/dev/null 2>"$B/e"; check_eq "--model-index without a value: exit 2" $? 2
"$MMSAFE" run "$B/job.json" --model b --model-index 1 >/dev/null 2>"$B/e"; check_eq "--model and --model-index: exit 2" $? 2
check_grep "--model and --model-index: says why" "give --model or --model-index, not both" "$B/e"

# --- 2. check --no-images and --threads
F=$ROOT/tests/fixtures/images
C=$T_TMP/c; mkdir -p "$C/img"
cp "$F"/{rgb_32x24.jpg,gray.jpg,rgba.png,lossy.webp,truncated.jpg,garbage.jpg} "$C/img/"
{
  for k in $(seq 0 23); do
    case $((k % 6)) in 0) f=rgb_32x24.jpg ;; 1) f=gray.jpg ;; 2) f=rgba.png ;; 3) f=lossy.webp ;; 4) f=truncated.jpg ;; *) f=garbage.jpg ;; esac
    [ $k -ge 12 ] && [ $((k % 6)) -ge 4 ] && f=rgb_32x24.jpg     # 4 broken images in all
    printf '{"id": "i%02d", "image": "img/%s", "prompt": "Safe? Yes or No.", "label": "safe", "subset": "typical"}\n' "$k" "$f"
  done
} >"$C/manifest.jsonl"
cat >"$C/job.json" <<J
{"manifest": "manifest.jsonl", "output": "out.h5", "models": [{"name": "m", "backend": "responses", "responses": "resp.jsonl"}]}
J
: >"$C/resp.jsonl"
"$MMSAFE" check "$C/job.json" >"$C/full" 2>&1; check_eq "check: exit 0" $? 0
check_grep "check decodes every image" "^images: 20 decoded, 4 unreadable" "$C/full"
check_eq "check lists the 4 broken images" "$(grep -c '^  unreadable: item ' "$C/full")" 4
check_grep "check names a broken image" "unreadable: item i04: .*truncated.jpg" "$C/full"
"$MMSAFE" check "$C/job.json" --no-images >"$C/noimg" 2>&1; check_eq "check --no-images: exit 0" $? 0
check_nogrep "check --no-images: no broken image reported" "unreadable" "$C/noimg"
check_nogrep "check --no-images: no image decoded" "^images:" "$C/noimg"
check "check --no-images: the rest of the report is the same" \
  cmp -s <(grep -vE '^(images:|  unreadable:)' "$C/full") "$C/noimg"
# an image whose open would block (a FIFO nobody writes) is never opened
mkfifo "$C/img/fifo.jpg"
sed -i '1s/rgb_32x24.jpg/fifo.jpg/' "$C/manifest.jsonl"
timeout 20 "$MMSAFE" check "$C/job.json" --no-images >/dev/null 2>&1
check_eq "check --no-images never opens an image (a FIFO does not block it)" $? 0
sed -i '1s/fifo.jpg/rgb_32x24.jpg/' "$C/manifest.jsonl"
# --threads N: the same report, N threads used
norm() { sed -E 's/ in [0-9.]+ s \([0-9]+ images\/s, [0-9]+ thread\(s\)\)$//' "$1"; }
for t in 1 2 3; do
  "$MMSAFE" check "$C/job.json" --threads $t >"$C/t$t" 2>&1; check_eq "check --threads $t: exit 0" $? 0
  check_grep "check --threads $t: uses $t thread(s)" "^images: .*, $t thread\(s\)\)$" "$C/t$t"
  check "check --threads $t: the same report as the default" cmp -s <(norm "$C/full") <(norm "$C/t$t")
done
for bad in 0 -2 x; do
  "$MMSAFE" check "$C/job.json" --threads "$bad" >/dev/null 2>"$C/e"
  check_eq "check --threads '$bad': exit 2" $? 2
  check_grep "check --threads '$bad': says what it wants" "--threads needs a number from 1 to 4096, not '$bad'" "$C/e"
done
"$MMSAFE" check "$C/job.json" --threads >/dev/null 2>"$C/e"; check_eq "check --threads without a value: exit 2" $? 2

# --- 3. --timings
LM=$ROOT/data/models/tiny-llava-lm-F16.gguf
MM=$ROOT/data/models/tiny-llava-mmproj-F16.gguf
IMG=$F/rgb_32x24.jpg
# plausible FILE WALL_MS: every "N ms" in the timings line is > 0 and their sum <= the command's wall time
plausible() {
  "$PY" - "$1" "$2" <<'PY'
import re, sys
line = [l for l in open(sys.argv[1]) if l.startswith("timings: ")]
ms = [float(x) for x in re.findall(r"([0-9.]+) ms", line[0])] if len(line) == 1 else []
ok = len(ms) >= 3 and all(x > 0 for x in ms) and sum(ms) <= float(sys.argv[2])
print("plausible" if ok else f"implausible: {ms} (wall {sys.argv[2]} ms, {len(line)} line(s))")
PY
}
t0=$(date +%s%N)
"$MMSAFE" embed-image --mmproj "$MM" --image "$IMG" --threads 2 --timings -o "$T_TMP/e.bin" >"$T_TMP/e.out" 2>"$T_TMP/e.err"
rc=$?; wall=$((($(date +%s%N) - t0) / 1000000))
check_eq "embed-image --timings: exit 0" $rc 0
check_grep "embed-image --timings: its line" \
  "^timings: decode [0-9.]+ ms \(jpeg 32x24\), preprocess [0-9.]+ ms \(llava mode\), encode [0-9.]+ ms \(64 tokens, 2 thread\(s\)\)$" "$T_TMP/e.err"
check_eq "embed-image --timings: plausible numbers" "$(plausible "$T_TMP/e.err" "$wall")" plausible
"$MMSAFE" embed-image --mmproj "$MM" --image "$IMG" --threads 2 -o "$T_TMP/e2.bin" >/dev/null 2>"$T_TMP/e2.err"
check "embed-image --timings: same embeddings as without" cmp -s "$T_TMP/e.bin" "$T_TMP/e2.bin"
check_nogrep "embed-image without --timings: no timings line" "^timings:" "$T_TMP/e2.err"
t0=$(date +%s%N)
"$MMSAFE" logits --model "$LM" --mmproj "$MM" --image "$IMG" --prompt "Is it safe?" --threads 1 --timings -o "$T_TMP/l.bin" \
  >"$T_TMP/l.out" 2>"$T_TMP/l.err"
rc=$?; wall=$((($(date +%s%N) - t0) / 1000000))
check_eq "logits --timings: exit 0" $rc 0
check_grep "logits --timings: its line" \
  "^timings: decode [0-9.]+ ms \(jpeg 32x24\), preprocess [0-9.]+ ms \(llava mode\), encode [0-9.]+ ms \(64 tokens\), prefill [0-9.]+ ms \(([0-9]+) positions\), 1 thread\(s\), fast arithmetic, peak RSS [0-9]+ MiB$" "$T_TMP/l.err"
check_eq "logits --timings: plausible numbers" "$(plausible "$T_TMP/l.err" "$wall")" plausible
pos=$(sed -nE 's/.*prefill [0-9.]+ ms \(([0-9]+) positions\).*/\1/p' "$T_TMP/l.err")
check "logits --timings: more positions ($pos) than image tokens (64)" test "${pos:-0}" -gt 64
rss=$(sed -nE 's/.*peak RSS ([0-9]+) MiB.*/\1/p' "$T_TMP/l.err")
check "logits --timings: peak RSS ($rss MiB) at least the model files, under 2 GiB" test "${rss:-0}" -ge 2 -a "${rss:-0}" -lt 2048
"$MMSAFE" logits --model "$LM" --mmproj "$MM" --image "$IMG" --prompt "Is it safe?" --threads 1 -o "$T_TMP/l2.bin" >/dev/null 2>"$T_TMP/l2.err"
check "logits --timings: same logits as without" cmp -s "$T_TMP/l.bin" "$T_TMP/l2.bin"
check_nogrep "logits without --timings: no timings line" "^timings:" "$T_TMP/l2.err"
done_t
