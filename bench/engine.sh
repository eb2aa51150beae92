#!/usr/bin/env bash
# bench/engine.sh - speed and memory of the native engine (called by `make bench`
# through bench/run.sh) on the 1.1B LLaMA shape of bench/models.sh (n_embd 2048,
# 22 layers, 32 heads, 4 KV heads, n_ff 5632, vocab 32000) in F16, Q8_0 and
# Q4_K_M: prefill tokens/s for a 600-token prompt, decode tokens/s, at 1 and 2
# threads, and peak RSS, one process per run.
#   BENCH_TYPES="Q4_K_M"  BENCH_THREADS="1 2"  BENCH_DECODE=32  BENCH_EXTRA=1 (also --arith exact and --no-blas)
# With Q4_K_M among the types it also runs the plain rows (MMSAFE_REPACK=0) interleaved
# with the repacked ones (README "Q4_K repacked by 8 rows") on a 32-token prompt (the
# remainder a reused prefix leaves) and the decode, twice each.
set -u
cd "$(dirname "$0")/.."
# OpenMP threads that block instead of spinning between the ~180 parallel regions of
# a decoded token: on a shared (or oversubscribed) node the default spin-then-sleep
# policy made 2-thread decode 7x slower than 1 thread here; passive costs ~2% when idle.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
B=${BUILD:-build}
OUT=$B/bench/engine   # bench/models.sh's llama-1.1b files
types=${BENCH_TYPES:-"Q4_K_M Q8_0 F16"}
threads=${BENCH_THREADS:-"1 2"}
decode=${BENCH_DECODE:-32}
source bench/models.sh
for t in $types; do bench_model llama-1.1b "$t" >/dev/null || exit 1; done
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
case " $types " in *" Q4_K_M "*)
  echo "Q4_K repacked by 8 rows vs plain rows (MMSAFE_REPACK=0), 1 thread, 32-token prompt, interleaved:"
  for _ in 1 2; do
    for r in 1 0; do
      printf 'repack=%s ' "$r"; MMSAFE_REPACK=$r "$B/tools/engine_bench" "$OUT/tl-Q4_K_M.gguf" --threads 1 --prompt 32 --decode "$decode" || exit 1
    done
  done ;;
esac
