#!/usr/bin/env bash
# bench/decoders.sh - the new decoder architectures on real shapes (called by
# `make bench` through bench/run.sh): the Qwen2.5-1.5B shape of bench/models.sh
# (n_embd 1536, 28 layers, 12 heads, 2 KV heads, n_ff 8960, vocab 151936, Q/K/V
# biases, tied embeddings) in Q4_K_M and F16: prefill tokens/s for a 600-token
# prompt, decode tokens/s after it, at 1 and 2 threads, and peak RSS, one
# process per run.  The reference's figures on the same files: bench/vs-reference.sh.
#   BENCH_TYPES="Q4_K_M F16"  BENCH_THREADS="1 2"  BENCH_DECODE=32
set -u
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}   # as bench/engine.sh
B=${BUILD:-build}
types=${BENCH_TYPES:-"Q4_K_M F16"}
threads=${BENCH_THREADS:-"1 2"}
decode=${BENCH_DECODE:-32}
source bench/models.sh
echo "decoders: qwen2 1.5B shape, 600-token prompt prefilled as one batch, $decode tokens decoded; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg), OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
for t in $types; do
  f=$(bench_model qwen2-1.5b "$t") || exit 1
  for n in $threads; do
    printf 'qwen2 %-7s ' "$t"; "$B/tools/engine_bench" "$f" --threads "$n" --prompt 600 --decode "$decode" || exit 1
  done
done
