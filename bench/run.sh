#!/usr/bin/env bash
# make bench: runs every bench/*.sh (except this one, the sourced bench/models.sh and
# bench/vs-reference.sh, which needs a reference build) and prints their figures.
cd "$(dirname "$0")/.."
# The engine benches generate 1.1B-shape models (F16, Q8_0, Q4_K_M) and a
# ViT-L mmproj once, into build/bench/ (about 12 GB with the qwen2 1.5B and Qwen2.5-VL-3B files, kept for the next run;
# `make clean` or `rm -rf build/bench` frees it).
need_gb=13
have=$(du -sh build/bench 2>/dev/null | cut -f1)
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
echo "make bench: test models live in build/bench/ (~12 GB once generated${have:+; now $have}; rm -rf build/bench frees it)"
if [ ! -d build/bench/engine ] && [ "${free_kb:-0}" -lt $((need_gb * 1024 * 1024)) ]; then
  echo "make bench: only $((free_kb / 1024 / 1024)) GB free here; the models need ~${need_gb} GB" >&2; exit 1
fi
for b in bench/*.sh; do
  case $b in bench/run.sh|bench/models.sh|bench/vs-reference.sh) continue ;; esac   # a library; needs a reference build
  echo "== $b"; bash "$b"
done
