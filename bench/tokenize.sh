#!/usr/bin/env bash
# bench/tokenize.sh - tokenizer speed (called by `make bench` through bench/run.sh):
# every MMSafeAware prompt (the 1,523 of ../shared/fixtures/vocab/mmsafeaware-*.json)
# tokenized with the Llama 3, Qwen2 and LLaMA-2 vocabularies, one thread, load
# excluded (best of 5), and the load time.  Issue 8 quotes the reference at
# 15-17 ms (Llama 3) and 53-66 ms (Qwen); bench/vs-reference.sh measures it here.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
V=../shared/fixtures/vocab
PY=$(command -v /usr/bin/python3 || command -v python3)
[ -f $V/mmsafeaware-llama3.json ] || { echo "tokenize: ../shared/fixtures/vocab absent, skipped"; exit 0; }
W=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-tokbench.XXXXXX"); trap 'rm -rf "$W"' EXIT
# the prompt texts: the first case of each mmsafeaware:ID source
"$PY" - $V/mmsafeaware-llama3.json "$W/prompts.hex" <<'PY'
import json, sys
seen, out = set(), open(sys.argv[2], "w")
for c in json.load(open(sys.argv[1]))["cases"]:
    s = c.get("source", "")
    if s.startswith("mmsafeaware:") and s not in seen:
        seen.add(s)
        out.write(c["text"].encode().hex() + "\n")
PY
echo "tokenize: $(wc -l <"$W/prompts.hex") MMSafeAware prompts, one thread; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1 /proc/loadavg)"
for v in llama3 qwen2 llama-spm; do
  printf '%-10s ' "$v"; "$B/tools/tok_bench" $V/ggml-vocab-$v.gguf "$W/prompts.hex" 5 || exit 1
done
