#!/usr/bin/env bash
# bench/engine.sh - speed and memory of the native engine (called by `make bench`
# through bench/run.sh).  Generates, with the project's own GGUF writer, a
# random-weight decoder of real shape -- the 1.1B LLaMA shape: n_embd 2048,
# 22 layers, 32 heads, 4 KV heads, n_ff 5632, vocab 32000 -- in F16, Q8_0 and
# Q4_K_M (into build/bench/engine/, never committed; reused while the writer is
# source unchanged; written to a temporary name and renamed, so a run that has
# the old file mapped keeps it), then reports prefill tokens/s for a 600-token prompt, decode
# tokens/s, at 1 and 2 threads, and peak RSS, one process per run.
#   BENCH_TYPES="Q4_K_M"  BENCH_THREADS="1 2"  BENCH_DECODE=32  BENCH_EXTRA=1 (also --arith exact and --no-blas)
set -u
cd "$(dirname "$0")/.."
# OpenMP threads that block instead of spinning between the ~180 parallel regions of
# a decoded token: on a shared (or oversubscribed) node the default spin-then-sleep
# policy made 2-thread decode 7x slower than 1 thread here; passive costs ~2% when idle.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
B=${BUILD:-build}
OUT=$B/bench/engine   # own directory: other benches regenerate their models on their own schedule
mkdir -p "$OUT"
types=${BENCH_TYPES:-"Q4_K_M Q8_0 F16"}
threads=${BENCH_THREADS:-"1 2"}
decode=${BENCH_DECODE:-32}
vocab=()
[ -f ../shared/fixtures/vocab/ggml-vocab-llama-spm.gguf ] && vocab=(--vocab-from ../shared/fixtures/vocab/ggml-vocab-llama-spm.gguf)
[ ${#vocab[@]} -eq 0 ] && vocab=(--vocab 32000)
for t in $types; do
  f=$OUT/tl-$t.gguf
  if [ ! -s "$f" ] || [ tools/gguf_write.c -nt "$f" ]; then
    echo "generating $f (1.1B shape, random weights)"
    "$B/tools/gguf_write" "$f.tmp.$$" --type "$t" --embd 2048 --layers 22 --heads 32 --kv-heads 4 --ff 5632 --ctx 2048 "${vocab[@]}" &&
      mv -f "$f.tmp.$$" "$f" || { rm -f "$f.tmp.$$"; exit 1; }
  fi
done
echo "engine: 1.1B LLaMA shape, 600-token prompt prefilled as one batch, $decode tokens decoded; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg), OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
for t in $types; do
  for n in $threads; do
    printf '%-7s ' "$t"; "$B/tools/engine_bench" "$OUT/tl-$t.gguf" --threads "$n" --prompt 600 --decode "$decode" || exit 1
  done
  if [ -n "${BENCH_EXTRA:-}" ]; then
    printf '%-7s ' "$t"; "$B/tools/engine_bench" "$OUT/tl-$t.gguf" --threads 1 --prompt 600 --decode 8 --no-blas
    printf '%-7s ' "$t"; "$B/tools/engine_bench" "$OUT/tl-$t.gguf" --threads 1 --prompt 600 --decode 8 --arith exact
  fi
done
