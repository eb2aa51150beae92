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
# With ORACLE_LM=path/to/oracle_lm (tools/reference/README.md) it first compares
# tokenizing the 1,523 MMSafeAware prompts (tools/tok_bench vs `oracle_lm tokbench`).
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
med() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "vs-reference: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg); prompt $P, decode $D, $R interleaved runs each, median; reference: $REF/llama-bench"
if [ -n "${ORACLE_LM:-}" ] && [ -f ../shared/fixtures/vocab/mmsafeaware-llama3.json ]; then
  W=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-vsref.XXXXXX"); trap 'rm -rf "$W"' EXIT
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
