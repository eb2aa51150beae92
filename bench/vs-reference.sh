#!/usr/bin/env bash
# bench/vs-reference.sh LLAMA_CPP_BIN_DIR - our engine against the reference
# (llama.cpp's llama-bench) on the same generated files and thread counts, the
# two interleaved run by run, and the ratios (ours / reference; > 1: we are faster).
# Not part of `make bench` (it needs a reference build: tools/reference/README.md).
#   prefill: a P-token prompt as one batch (ours: engine_bench; reference: -p P -n 0)
#   decode:  D tokens after a P-token prompt (ours: engine_bench; reference: -p 0 -n D -d P)
# Both with their defaults otherwise: our fast arithmetic with the F16 KV cache,
# the reference's F16 KV cache and flash attention "auto", n_ubatch 512.
#   BENCH_MODELS="qwen2-1.5b llama-1.1b"  BENCH_TYPES="Q4_K_M F16"  BENCH_THREADS="1 2"
#   BENCH_PROMPT=256  BENCH_DECODE=32  BENCH_REPS=2   (shapes: bench/models.sh)
set -u
cd "$(dirname "$0")/.."
[ $# -eq 1 ] && [ -x "$1/llama-bench" ] || { echo "usage: bench/vs-reference.sh LLAMA_CPP_BIN_DIR (the folder with llama-bench)" >&2; exit 2; }
REF=$1
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
B=${BUILD:-build}
models=${BENCH_MODELS:-"qwen2-1.5b llama-1.1b"}
types=${BENCH_TYPES:-"Q4_K_M F16"}
threads=${BENCH_THREADS:-"1 2"}
P=${BENCH_PROMPT:-256}; D=${BENCH_DECODE:-32}; R=${BENCH_REPS:-2}
PY=$(command -v /usr/bin/python3 || command -v python3)
source bench/models.sh
echo "vs-reference: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg); prompt $P, decode $D, $R interleaved runs each, median; reference: $REF/llama-bench"
printf '%-11s %-7s %3s  %12s %12s %6s  %12s %12s %6s\n' model type thr "prefill us" "prefill ref" ratio "decode us" "decode ref" ratio
med() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
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
