#!/usr/bin/env bash
# Reuse (issue 11): the whole real MMSafeAware release (1,523 items, 1,446 with an
# image, 444 distinct images) with the small LLaVA-1.5-style pair `llava-mini` of
# bench/models.sh (576 image tokens as LLaVA-1.5, a narrow tower and decoder so a
# run takes minutes on 2 cores; random weights: the verdicts mean nothing, but two
# runs must agree), under mpirun -n 2 with 1 thread per rank, fast arithmetic:
#   reuse false, reuse true (whole chunks: bit-identical) and reuse "positions",
#   the off/on pair interleaved BENCH_REUSE_REPS times (default 1), positions once.
# Prints wall time, items/s, the fraction of image encodes and prefill positions
# saved (from the ranks' log lines), whether every row (verdict, p_unsafe, error,
# response) is identical to reuse off, and the speed-up.  Needs ../shared.
# BENCH_REUSE_TINY=1 swaps in the tiny smoke-test pair of data/models (checks the
# script in seconds).
set -u
cd "$(dirname "$0")/.."
source bench/models.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
REL=../shared/data/mmsafeaware
PY=$(for p in /usr/bin/python3 python3; do "$p" -c 'import h5py, numpy' 2>/dev/null && { echo "$p"; break; }; done)
if [ ! -f "$REL/prompt.txt" ] || [ -z "$PY" ]; then echo "reuse bench: needs $REL and python3 with h5py (skipped)"; exit 0; fi
[ -x ./mmsafe ] || { echo "reuse bench: run make first"; exit 1; }
if [ -n "${BENCH_REUSE_TINY:-}" ]; then LM=data/models/tiny-llava-lm-F16.gguf MM=data/models/tiny-llava-mmproj-F16.gguf NAME=tiny-llava
else LM=$(bench_model llava-mini F16) && MM=$(bench_model llava-mini-mmproj F16) || exit 1; NAME=llava-mini; fi
W=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-bench-reuse.XXXXXX"); trap 'rm -rf "$W"' EXIT
./mmsafe import mmsafeaware "$REL" -o "$W/man.jsonl" >/dev/null 2>&1
for r in off on positions; do
  case $r in off) k='"reuse": false,' ;; on) k='"reuse": true,' ;; positions) k='"reuse": "positions",' ;; esac
  cat >"$W/$r.json" <<J
{"manifest": "man.jsonl", "output": "$r.h5", $k "threads": 1,
 "models": [{"name": "$NAME", "backend": "native", "model": "$PWD/$LM", "mmproj": "$PWD/$MM", "template": "vicuna"}]}
J
done
echo "reuse: the real MMSafeAware release (1523 items), $NAME$([ $NAME = llava-mini ] && echo " (LM n_embd 256 x 4 layers F16, 576-token tower F16)"),"
echo "  mpirun -n 2, 1 thread per rank, fast arithmetic; $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores"
declare -A best
run() { # NAME REP
  local t0 t1
  t0=$(date +%s.%N)
  OMP_WAIT_POLICY=passive mpirun --oversubscribe -n 2 ./mmsafe run "$W/$1.json" --fresh >"$W/$1.out" 2>"$W/$1.err" || { echo "  $1: run failed"; tail -3 "$W/$1.err"; return 1; }
  t1=$(date +%s.%N)
  local s; s=$(echo "$t1 - $t0" | bc -l)
  printf '  %-9s rep %d: %7.1f s  %5.1f items/s  (load average %s)\n' "$1" "$2" "$s" "$(echo "1523 / $s" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
  if [ -z "${best[$1]:-}" ] || [ "$(echo "$s < ${best[$1]}" | bc -l)" = 1 ]; then best[$1]=$s; fi
}
reps=${BENCH_REUSE_REPS:-1}
for rep in $(seq 1 "$reps"); do run off "$rep" && run on "$rep" || exit 1; done
run positions 1 || exit 1
for r in off on positions; do "$PY" tests/h5cols.py "$W/$r.h5" >"$W/$r.cols"; done
saved() { # LOG -> "encodes: a of b (x%), positions: c of d (y%)"
  awk '/image encodes saved/ {
         for (i = 1; i <= NF; i++) {
           if ($(i+3) == "image" && $(i+1) == "of") { es += $i; et += $(i+2) }
           if ($(i+3) == "prefill" && $(i+1) == "of") { ps += $i; pt += $(i+2) } } }
       END { printf "%d of %d image encodes saved (%.1f%%), %d of %d prefill positions saved (%.1f%%)", es, et, et ? 100 * es / et : 0, ps, pt, pt ? 100 * ps / pt : 0 }' "$1"
}
for r in on positions; do
  if cmp -s "$W/off.cols" "$W/$r.cols"; then same="every row identical to reuse off (verdict, p_unsafe, error, response)"
  else same="rows differ from reuse off: $("$PY" - "$W/off.h5" "$W/$r.h5" "$NAME" <<'P'
import sys, h5py, numpy as np
a, b = (h5py.File(f, "r")["models"][sys.argv[3]] for f in sys.argv[1:3])
va, vb, pa, pb = a["verdict"][:], b["verdict"][:], a["p_unsafe"][:], b["p_unsafe"][:]
ok = ~np.isnan(pa)
print(f"{int((va != vb).sum())} verdict(s) differ, max |p_unsafe difference| {np.abs(pa[ok] - pb[ok]).max():.2e}")
P
)"; fi
  printf '  %-9s %s; %s\n' "$r" "$(saved "$W/$r.err")" "$same"
  printf '  %-9s speed-up over reuse off (best of each): %.2fx\n' "$r" "$(echo "${best[off]} / ${best[$r]}" | bc -l)"
done
grep -h "reuse: 1523 items" "$W/on.err" | sed 's/^\[r0\] mmsafe: /  /'
