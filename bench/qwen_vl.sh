#!/usr/bin/env bash
# bench/qwen_vl.sh - speed of the Qwen2.5-VL path (called by `make bench` through
# bench/run.sh).  With the project's own generators (bench/models.sh), into
# build/bench/ (never committed; reused while the generators are unchanged):
#   - a real-shape random-weight Qwen2.5-VL-3B pair: the LM (qwen2vl, n_embd 2048,
#     36 layers, 16 heads, 2 KV heads, n_ff 11008, the Qwen2 vocabulary) in Q4_K_M
#     and the mmproj (32 blocks, width 1280, MLP 3420, window attention, merger
#     to 2048) in F16: ~3.4 GB together;
#   - a 448x448 and a 1024x768 JPEG (Pillow, quality 90): 256 and 999 image tokens.
# Reports, one `mmsafe logits --mmproj --image --timings` process per figure: the
# vision encode ms of each image and one full MMSafeAware item (decode +
# preprocess + encode + prefill of the templated prompt + the Yes/No verdict) at
# 1 and 2 threads.  The reference's figures on the same files: bench/vs-reference.sh.
# Env: BENCH_THREADS="1 2", BENCH_IMAGE_SIZES="448x448 1024x768", BENCH_CTX=4608
# (the jobs' default n_ctx), BENCH_VL_ARGS (more `mmsafe logits` options, e.g.
# "--vision-mode llama.cpp --kv f16"), BENCH_QWEN_VL_TINY=1 (a tiny pair instead of
# the 3B one: checks this script in seconds; its figures mean nothing).
set -u
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}   # as bench/engine.sh: no spinning on a shared node
B=${BUILD:-build}
threads=${BENCH_THREADS:-"1 2"}
sizes=${BENCH_IMAGE_SIZES:-"448x448 1024x768"}
ctx=${BENCH_CTX:-4608}
shape=qwen25vl-3b; [ "${BENCH_QWEN_VL_TINY:-0}" = 1 ] && shape=qwen25vl-tiny
[ -x "$B/tools/make_tiny_llava" ] && [ -x "$B/tools/gguf_write" ] && [ -x ./mmsafe ] || { echo "qwen_vl bench: run make first"; exit 1; }
source bench/models.sh
LM=$(bench_model_file $shape Q4_K_M); MM=$(bench_model_file $shape-mmproj F16)
if [ $shape = qwen25vl-3b ] && { [ ! -s "$LM" ] || [ ! -s "$MM" ]; }; then
  free_kb=$(df -Pk "$B" | awk 'NR==2 {print $4}')
  [ "${free_kb:-0}" -ge $((4 * 1024 * 1024)) ] || { echo "qwen_vl bench: the Qwen2.5-VL-3B pair needs ~3.5 GB in $B/bench; only $((free_kb / 1024 / 1024)) GB free" >&2; exit 1; }
fi
LM=$(bench_model $shape Q4_K_M) && MM=$(bench_model $shape-mmproj F16) || exit 1
imgs=()
for s in $sizes; do x=$(bench_image "$s") || exit 1; imgs+=("$x"); done
W=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-qvl.XXXXXX"); trap 'rm -rf "$W"' EXIT
field() { sed -n "s/.*$1 \([0-9.]*\) ms.*/\1/p"; }
echo "qwen_vl: $shape pair ($(basename "$LM") + $(basename "$MM")), n_ctx $ctx${BENCH_VL_ARGS:+, options $BENCH_VL_ARGS}; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
for img in "${imgs[@]}"; do
  for t in $threads; do
    # shellcheck disable=SC2086
    ./mmsafe logits --model "$LM" --mmproj "$MM" --image "$img" --prompt "$BENCH_Q" --threads "$t" --ctx "$ctx" \
      --answers Yes,No --timings ${BENCH_VL_ARGS:-} >/dev/null 2>"$W/t" || { cat "$W/t"; exit 1; }
    d=$(field decode <"$W/t"); p=$(field preprocess <"$W/t"); e=$(field encode <"$W/t"); f=$(field prefill <"$W/t")
    n=$(sed -n 's/.*prefill [0-9.]* ms (\([0-9]*\) positions).*/\1/p' "$W/t")
    k=$(sed -n 's/.*encode [0-9.]* ms (\([0-9]*\) tokens.*/\1/p' "$W/t")
    mode=$(sed -n 's/.*preprocess [0-9.]* ms (\([^)]*\)).*/\1/p' "$W/t")
    rss=$(sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p' "$W/t")
    [ -n "$e" ] && [ -n "$f" ] || { echo "qwen_vl bench: no timings in:"; cat "$W/t"; exit 1; }
    printf 'vision encode  %-9s %4s image tokens, %d thread(s): %9.1f ms\n' "$(basename "$img" .jpg | sed 's/^img-//')" "$k" "$t" "$e"
    printf 'full item      %-9s %d thread(s): decode %.0f + preprocess %.0f + encode %.0f + prefill %.0f ms (%s positions) = %.2f s, peak RSS %.0f MiB (%s)\n' \
      "$(basename "$img" .jpg | sed 's/^img-//')" "$t" "$d" "$p" "$e" "$f" "$n" "$(echo "($d + $p + $e + $f) / 1000" | bc -l)" "$rss" "$mode"
  done
done
