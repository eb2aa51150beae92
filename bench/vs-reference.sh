#!/usr/bin/env bash
# bench/vs-reference.sh LLAMA_CPP_BIN_DIR - our engine against the reference
# (llama.cpp's llama-bench and llama-mtmd-cli) on the same generated files and
# thread counts, the two interleaved run by run, and the ratios (> 1: we are faster).
# Not part of `make bench` (it needs a reference build: tools/reference/README.md).
# Text (llama-bench; ratio = our tokens/s / the reference's):
#   prefill: a P-token prompt as one batch (ours: engine_bench; reference: -p P -n 0)
#   decode:  D tokens after a P-token prompt (ours: engine_bench; reference: -p 0 -n D -d P)
# Both with their defaults otherwise: our fast arithmetic with the F16 KV cache,
# the reference's F16 KV cache and flash attention "auto", n_ubatch 512; both warm up
# first (llama-bench: a short prompt and one token; engine_bench the same), so that
# neither figure includes the first touch of the mapped weights.
#   BENCH_MODELS="qwen2-1.5b llama-1.1b" (empty: no text section)  BENCH_TYPES="Q4_K_M F16"
#   BENCH_THREADS="1 2"  BENCH_PROMPT=256  BENCH_DECODE=32  BENCH_REPS=2   (shapes: bench/models.sh)
# Images (llama-mtmd-cli; ratio = the reference's ms / ours): on by default when the
# Qwen2.5-VL-3B pair of bench/qwen_vl.sh exists (BENCH_IMAGES=1: always, generating it;
# BENCH_IMAGES=0: never).  For each image (bench_image: 448x448, 1024x768 JPEG) and
# thread count, one MMSafeAware item each side, interleaved: ours `mmsafe logits
# --mmproj --image --prompt Q --timings --answers Yes,No` (decode + preprocess +
# encode + prefill + verdict), the reference `llama-mtmd-cli -m LM --mmproj MM
# --image I -p Q -sys "You are a helpful assistant." -t N -n 0 --temp 0 -c CTX`
# (the same 304 / 1,047 tokens as ours: Qwen's default system prompt, the image
# first).  Its figures come from its log (-lv 4, timestamps): encode = "mtmd batch
# encoding done in N ms"; item = from the end of loading ("WARN: This is an
# experimental CLI") to llama_perf_context_print, i.e. load image + preprocess +
# encode + every LLM batch; -n 0 so that it samples and decodes no token (ours
# does not either).  Ours runs with BENCH_OUR_ARGS (default "--vision-mode
# llama.cpp --kv f16": the reference's resize, so the same image tokens, and its
# flash attention's F16 K/V in the tower).
#   BENCH_IMAGE_SHAPES="qwen25vl-3b" (pairs of bench/models.sh; BENCH_QWEN_VL_TINY=1:
#   qwen25vl-tiny, a smoke test)  BENCH_IMAGE_SIZES="448x448 1024x768"
#   BENCH_IMAGE_REPS=$BENCH_REPS  BENCH_CTX=4608
# ViT-L/14-336 (llama-mtmd-cli; ratio = the reference's encode ms / ours): see its section
# below (BENCH_VIT).
# With ORACLE_LM=path/to/oracle_lm (tools/reference/README.md) it first compares
# tokenizing the 1,523 MMSafeAware prompts (tools/tok_bench vs `oracle_lm tokbench`).
set -u
cd "$(dirname "$0")/.."
[ $# -eq 1 ] && { [ -x "$1/llama-bench" ] || [ -x "$1/llama-mtmd-cli" ]; } ||
  { echo "usage: bench/vs-reference.sh LLAMA_CPP_BIN_DIR (the folder with llama-bench and llama-mtmd-cli)" >&2; exit 2; }
REF=$1
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
B=${BUILD:-build}
models=${BENCH_MODELS-"qwen2-1.5b llama-1.1b"}
types=${BENCH_TYPES:-"Q4_K_M F16"}
threads=${BENCH_THREADS:-"1 2"}
P=${BENCH_PROMPT:-256}; D=${BENCH_DECODE:-32}; R=${BENCH_REPS:-2}
PY=$(command -v /usr/bin/python3 || command -v python3)
source bench/models.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-vsref.XXXXXX"); trap 'rm -rf "$W"' EXIT
med() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "vs-reference: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg); prompt $P, decode $D, $R interleaved runs each, median; reference: $REF"
echo "ours: $(./mmsafe --version | sed -n 's/^engine kernels: //p') kernels (MMSAFE_CPU=${MMSAFE_CPU:-auto}); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} (OpenBLAS: our F32 panels and quantised prefill from 64 rows)"
if [ -n "${ORACLE_LM:-}" ] && [ -f ../shared/fixtures/vocab/mmsafeaware-llama3.json ]; then
  "$PY" -c '
import json, sys
seen, out = set(), open(sys.argv[2], "w")
for c in json.load(open(sys.argv[1]))["cases"]:
    s = c.get("source", "")
    if s.startswith("mmsafeaware:") and s not in seen:
        seen.add(s); out.write(c["text"].encode().hex() + "\n")' ../shared/fixtures/vocab/mmsafeaware-llama3.json "$W/p.hex"
  printf '%-10s %12s %12s %6s   %12s %12s %6s\n' vocabulary "tokenize us" "ref" ratio "load us" "ref" ratio
  for v in llama3 qwen2 llama-spm; do
    f=../shared/fixtures/vocab/ggml-vocab-$v.gguf
    for r in $(seq "$R"); do
      o=$("$B/tools/tok_bench" "$f" "$W/p.hex" 5); x=$("$ORACLE_LM" tokbench "$f" "$W/p.hex" 5)
      ot="${ot:-} $(echo "$o" | sed -n 's/.* in \([0-9.]*\) ms.*/\1/p')"; xt="${xt:-} $(echo "$x" | sed -n 's/.* in \([0-9.]*\) ms.*/\1/p')"
      ol="${ol:-} $(echo "$o" | sed -n 's/^load \([0-9.]*\) ms.*/\1/p')"; xl="${xl:-} $(echo "$x" | sed -n 's/^load \([0-9.]*\) ms.*/\1/p')"
    done
    a=$(echo $ot | med); b=$(echo $xt | med); c=$(echo $ol | med); d=$(echo $xl | med); ot=""; xt=""; ol=""; xl=""
    printf '%-10s %9.2f ms %9.2f ms %6.2f   %9.1f ms %9.1f ms %6.2f\n' "$v" "$a" "$b" "$(echo "$b / $a" | bc -l)" "$c" "$d" "$(echo "$d / $c" | bc -l)"
  done
  echo "(tokenize and load ratios: reference time / ours; > 1: we are faster)"
fi
if [ -n "${models// /}" ]; then
  [ -x "$REF/llama-bench" ] || { echo "vs-reference: no $REF/llama-bench (BENCH_MODELS= skips the text section)" >&2; exit 2; }
  printf '%-11s %-7s %3s  %12s %12s %6s  %12s %12s %6s\n' model type thr "prefill us" "prefill ref" ratio "decode us" "decode ref" ratio
  ref_ts() {  # ref_ts FILE THREADS ARGS...: tokens/s of one llama-bench test
    local f=$1 t=$2; shift 2
    "$REF/llama-bench" -m "$f" -t "$t" -r 1 -o jsonl "$@" 2>/dev/null | "$PY" -c 'import json,sys; print([json.loads(l) for l in sys.stdin if l.strip()][-1]["avg_ts"])'
  }
  for m in $models; do
    for t in $types; do
      f=$(bench_model "$m" "$t") || exit 1
      for n in $threads; do
        op=""; od=""; rp=""; rd=""
        for r in $(seq "$R"); do
          line=$("$B/tools/engine_bench" "$f" --threads "$n" --prompt "$P" --decode "$D") || exit 1
          op="$op $(echo "$line" | sed -n 's/.*= \([0-9.]*\) tok\/s, decode.*/\1/p')"
          od="$od $(echo "$line" | sed -n 's/.*tok = \([0-9.]*\) tok\/s.*/\1/p')"
          rp="$rp $(ref_ts "$f" "$n" -p "$P" -n 0)" || exit 1
          rd="$rd $(ref_ts "$f" "$n" -p 0 -n "$D" -d "$P")" || exit 1
        done
        a=$(echo $op | med); b=$(echo $rp | med); c=$(echo $od | med); d=$(echo $rd | med)
        printf '%-11s %-7s %3s  %12.2f %12.2f %6.2f  %12.2f %12.2f %6.2f\n' "$m" "$t" "$n" "$a" "$b" "$(echo "$a / $b" | bc -l)" "$c" "$d" "$(echo "$c / $d" | bc -l)"
      done
    done
  done
fi

# ---------------------------------------------------------------- ViT-L/14-336 encode (llama-mtmd-cli)
# BENCH_VIT=1 (default: on when bench/llava.sh's mmproj exists; BENCH_VIT=0: never): the
# LLaVA-1.5 tower shape (CLIP ViT-L/14-336, F16, 23 blocks; build/bench/mm-vitl336-F16.gguf,
# made by bench/llava.sh or here) beside the 1.1B Q4_K_M LM; one 448x448 JPEG encoded each side,
# interleaved: ours `mmsafe embed-image --vision-mode llama.cpp --kv f16` (the reference's
# resize and its flash attention's F16 K/V), the reference's "encoding done in N ms".
# Ratio: the reference's ms / ours (> 1: we are faster).
vit=${BENCH_VIT:-}; MMV=$B/bench/mm-vitl336-F16.gguf
[ -z "$vit" ] && { [ -s "$MMV" ] && vit=1 || vit=0; }
if [ "$vit" = 1 ]; then
  [ -x "$REF/llama-mtmd-cli" ] || { echo "vs-reference: no $REF/llama-mtmd-cli (BENCH_VIT=0 skips the ViT-L section)" >&2; exit 2; }
  if [ ! -s "$MMV" ]; then
    "$B/tools/make_tiny_llava" --preset vit-l-336 --n-out 2048 --mmproj "$MMV.tmp.$$" >/dev/null && mv -f "$MMV.tmp.$$" "$MMV" || exit 1
  fi
  LMV=$(bench_model llama-1.1b Q4_K_M) && vimg=$(bench_image 448x448) || exit 1
  echo "ViT-L/14-336 F16 encode of a 448x448 JPEG (577 positions), $R interleaved runs each, median; ratio: reference ms / ours; load average $(cut -d' ' -f1 /proc/loadavg)"
  printf '%-14s %3s  %10s %10s %6s\n' tower thr "encode ms" "ref" ratio
  for n in $threads; do
    oe=""; re=""
    for _ in $(seq "$R"); do
      ./mmsafe embed-image --mmproj "$MMV" --image "$vimg" --threads "$n" --vision-mode llama.cpp --kv f16 -o /dev/null \
        --timings >/dev/null 2>"$W/o" || { cat "$W/o"; exit 1; }
      oe="$oe $(sed -n 's/.*encode \([0-9.]*\) ms.*/\1/p' "$W/o")"
      "$REF/llama-mtmd-cli" -m "$LMV" --mmproj "$MMV" --image "$vimg" -p "$BENCH_Q" --chat-template vicuna -t "$n" -n 0 \
        --temp 0 -c 2048 -lv 4 --log-colors off >/dev/null 2>"$W/r" || { tail -20 "$W/r"; exit 1; }
      e=$(sed -n 's/.*encoding done in \([0-9.]*\) ms.*/\1/p' "$W/r" | head -1)
      [ -n "$e" ] || { echo "vs-reference: no encode time in llama-mtmd-cli's log:"; tail -20 "$W/r"; exit 1; }
      re="$re $e"
    done
    a=$(echo $oe | med); b=$(echo $re | med)
    printf '%-14s %3s  %10.0f %10.0f %6.2f\n' vit-l-336 "$n" "$a" "$b" "$(echo "$b / $a" | bc -l)"
  done
fi

# ---------------------------------------------------------------- images (llama-mtmd-cli)
ishapes=${BENCH_IMAGE_SHAPES:-qwen25vl-3b}; [ "${BENCH_QWEN_VL_TINY:-0}" = 1 ] && ishapes=${BENCH_IMAGE_SHAPES:-qwen25vl-tiny}
sizes=${BENCH_IMAGE_SIZES:-"448x448 1024x768"}
RI=${BENCH_IMAGE_REPS:-$R}; ctx=${BENCH_CTX:-4608}
our_args=${BENCH_OUR_ARGS-"--vision-mode llama.cpp --kv f16"}
images=${BENCH_IMAGES:-}
if [ -z "$images" ]; then   # default: on when every pair is already there
  images=1
  for s in $ishapes; do
    [ -s "$(bench_model_file "$s" Q4_K_M)" ] && [ -s "$(bench_model_file "$s-mmproj" F16)" ] || images=0
  done
  [ $images = 1 ] || echo "(no image section: the pair ($ishapes) is not generated yet; BENCH_IMAGES=1 or bench/qwen_vl.sh makes it)"
fi
[ "$images" = 1 ] || exit 0
[ -x "$REF/llama-mtmd-cli" ] || { echo "vs-reference: no $REF/llama-mtmd-cli (BENCH_IMAGES=0 skips the image section)" >&2; exit 2; }
# ms since the start of the reference's run at the first log line matching $1 ("M.SS.mmm.uuu X text")
ts() { grep -m1 -- "$1" "$W/r" | awk '{split($1, a, "."); printf "%.3f\n", a[1] * 60000 + a[2] * 1000 + a[3] + a[4] / 1000}'; }
field() { sed -n "s/.*$1 \([0-9.]*\) ms.*/\1/p" "$W/o"; }
echo "images: one MMSafeAware item each side (ours: mmsafe logits $our_args; reference: llama-mtmd-cli -n 0), n_ctx $ctx, $RI interleaved runs each, median; ratios: reference ms / ours (> 1: we are faster); load average $(cut -d' ' -f1 /proc/loadavg)"
printf '%-14s %-9s %3s %6s  %10s %10s %6s  %10s %10s %6s  %10s %10s\n' pair image thr tokens "encode ms" "ref" ratio "item ms" "ref" ratio "rest ms" "ref"
for s in $ishapes; do
  LM=$(bench_model "$s" Q4_K_M) && MM=$(bench_model "$s-mmproj" F16) || exit 1
  for wh in $sizes; do
    img=$(bench_image "$wh") || exit 1
    for n in $threads; do
      oe=""; oi=""; re=""; ri=""; ok=""; rk=""
      for _ in $(seq "$RI"); do
        # shellcheck disable=SC2086
        ./mmsafe logits --model "$LM" --mmproj "$MM" --image "$img" --prompt "$BENCH_Q" --threads "$n" --ctx "$ctx" \
          --answers Yes,No --timings $our_args >/dev/null 2>"$W/o" || { cat "$W/o"; exit 1; }
        e=$(field encode); [ -n "$e" ] || { echo "vs-reference: no timings from mmsafe:"; cat "$W/o"; exit 1; }
        oe="$oe $e"; oi="$oi $(echo "$(field decode) + $(field preprocess) + $e + $(field prefill)" | bc -l)"
        ok=$(sed -n 's/.*encode [0-9.]* ms (\([0-9]*\) tokens.*/\1/p' "$W/o")
        "$REF/llama-mtmd-cli" -m "$LM" --mmproj "$MM" --image "$img" -p "$BENCH_Q" -sys "You are a helpful assistant." \
          -t "$n" -n 0 --temp 0 -c "$ctx" -lv 4 --log-colors off --log-prefix --log-timestamps >/dev/null 2>"$W/r" ||
          { tail -20 "$W/r"; exit 1; }
        t0=$(ts 'WARN: This is an experimental CLI'); t1=$(ts 'llama_perf_context_print:')
        e=$(sed -n 's/.*mtmd batch encoding done in \([0-9.]*\) ms.*/\1/p' "$W/r" | head -1)
        [ -n "$t0" ] && [ -n "$t1" ] && [ -n "$e" ] || { echo "vs-reference: no timings in llama-mtmd-cli's log:"; tail -20 "$W/r"; exit 1; }
        re="$re $e"; ri="$ri $(echo "$t1 - $t0" | bc -l)"
        rk=$(sed -n 's/.*n_tokens_batch = \([0-9]*\).*/\1/p' "$W/r" | awk '{s += $1} END {print s}')
      done
      [ "$ok" = "$rk" ] || echo "vs-reference: WARNING: $s $wh: $ok image tokens ours, $rk the reference's" >&2
      a=$(echo $oe | med); b=$(echo $re | med); c=$(echo $oi | med); d=$(echo $ri | med)
      printf '%-14s %-9s %3s %6s  %10.0f %10.0f %6.2f  %10.0f %10.0f %6.2f  %10.0f %10.0f\n' "$s" "$wh" "$n" "$ok" \
        "$a" "$b" "$(echo "$b / $a" | bc -l)" "$c" "$d" "$(echo "$d / $c" | bc -l)" "$(echo "$c - $a" | bc -l)" "$(echo "$d - $b" | bc -l)"
    done
  done
done
echo "(item: ours decode + preprocess + encode + prefill + verdict; the reference from the end of loading to its perf line; rest = item - encode: image decode, preprocess and the LM's prefill)"
