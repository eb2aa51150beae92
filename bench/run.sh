#!/usr/bin/env bash
# make bench: runs every bench/*.sh (except this one) and prints their figures.
cd "$(dirname "$0")/.."
for b in bench/*.sh; do
  [ "$b" = bench/run.sh ] && continue
  echo "== $b"; bash "$b"
done
