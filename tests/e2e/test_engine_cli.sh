#!/usr/bin/env bash
# test_engine_cli.sh - the model commands end to end: inspect, tokenize,
# logits, generate on the llava-tiny fixtures (../shared, skipped when absent)
# and on models made by build/tools/gguf_write; bad GGUF files must give
# "mmsafe: error: FILE: ..." and exit 1, usage errors exit 2.
source "$(dirname "$0")/../lib.sh"
GW="$ROOT/${BUILD:-build}/tools/gguf_write"
TINY="$SHARED/fixtures/llava-tiny"

# --- help and usage ---
for c in inspect tokenize logits generate; do
  check "$c --help exits 0" "$MMSAFE" "$c" --help
done
"$MMSAFE" logits --help >"$T_TMP/h" 2>&1
check_grep "logits --help names the default arith and why" "fast \(default\)" "$T_TMP/h"
"$MMSAFE" logits --prompt x -o /dev/null >/dev/null 2>&1; check_eq "missing --model: exit 2" "$?" 2
"$MMSAFE" logits --model x.gguf --prompt x --arith slow -o /dev/null >/dev/null 2>&1; check_eq "bad --arith: exit 2" "$?" 2
"$MMSAFE" tokenize --model x.gguf --bogus x >/dev/null 2>&1; check_eq "unknown option: exit 2" "$?" 2

# --- a generated model: inspect, logits, generate, thread invariance ---
M="$T_TMP/m.gguf"
"$GW" "$M" --type Q4_K_M --embd 256 --layers 2 --heads 8 --kv-heads 2 --ff 512 --vocab 400 --ctx 64 >/dev/null 2>&1
check "gguf_write makes a Q4_K_M model" test -s "$M"
"$MMSAFE" inspect "$M" >"$T_TMP/insp" 2>&1; check_eq "inspect: exit 0" "$?" 0
check_grep "inspect: tensor table" "blk\.1\.ffn_down\.weight +Q6_K +\[512, 256\]" "$T_TMP/insp"
check_grep "inspect: hyper-parameters" "n_head 8, n_head_kv 2" "$T_TMP/insp"
check_grep "inspect: validation" "validation: ok" "$T_TMP/insp"
check_grep "inspect: the Q4_K matrices repacked by 8 rows" "Q4_K matrices: ([0-9]+) of \\1 repacked by 8 rows" "$T_TMP/insp"
MMSAFE_REPACK=0 "$MMSAFE" inspect "$M" >"$T_TMP/insp0" 2>&1
check_grep "inspect under MMSAFE_REPACK=0 says so" "repacked by 8 rows at load .*not now: MMSAFE_REPACK=0" "$T_TMP/insp0"
check_grep "inspect: the kernel path" "^engine kernels: (avx512(\+vnni)?(\+bf16)?|avx2|scalar) " "$T_TMP/insp"
"$MMSAFE" logits --model "$M" --prompt "hello" -o "$T_TMP/l1.bin" --threads 1 2>"$T_TMP/err"; check_eq "logits: exit 0" "$?" 0
check_eq "logits: n_vocab float32" "$(stat -c %s "$T_TMP/l1.bin" 2>/dev/null)" 1600
"$MMSAFE" logits --model "$M" --prompt "hello" -o "$T_TMP/l2.bin" --threads 2 2>/dev/null
check "logits: 1 and 2 threads bit-identical" cmp -s "$T_TMP/l1.bin" "$T_TMP/l2.bin"
"$MMSAFE" logits --model "$M" --prompt "hello" -o "$T_TMP/l3.bin" --arith exact 2>/dev/null
check "logits --arith exact runs" test -s "$T_TMP/l3.bin"
if cmp -s "$T_TMP/l1.bin" "$T_TMP/l3.bin"; then fail "fast and exact differ on a Q4_K_M model"; else ok; fi
"$MMSAFE" logits --model "$M" --prompt "x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x" \
  -o "$T_TMP/l4.bin" >/dev/null 2>"$T_TMP/err"; check_eq "prompt longer than the context: exit 1" "$?" 1
check_grep "prompt longer than the context: message" "^mmsafe: error: .*m\.gguf: prompt of [0-9]+ positions .*exceeds the context of 64" "$T_TMP/err"
"$MMSAFE" generate --model "$M" --prompt "hello" -n 5 >"$T_TMP/g" 2>/dev/null; check_eq "generate: exit 0" "$?" 0
check_grep "generate: 5 ids" "^\[[0-9]+, [0-9]+, [0-9]+, [0-9]+, [0-9]+\]$" "$T_TMP/g"

# --- bad files ---
bad() {  # bad NAME EXPECTED-REGEX: logits and inspect both refuse NAME
  local f="$T_TMP/$1" want=$2 rc
  "$MMSAFE" logits --model "$f" --prompt hi -o "$T_TMP/x.bin" >/dev/null 2>"$T_TMP/err"; rc=$?
  check_eq "$1: logits exit 1" "$rc" 1
  check_grep "$1: message" "^mmsafe: error: $f: .*$want" "$T_TMP/err"
  "$MMSAFE" inspect "$f" >/dev/null 2>"$T_TMP/err"; rc=$?
  check_eq "$1: inspect exit 1" "$rc" 1
}
printf 'GGUX\3\0\0\0' >"$T_TMP/magic.gguf"; bad magic.gguf "bad magic"
head -c 5000 "$M" >"$T_TMP/trunc.gguf"; bad trunc.gguf "truncated"
head -c $(( $(stat -c %s "$M") - 64 )) "$M" >"$T_TMP/short.gguf"; bad short.gguf "runs past the end"
"$GW" "$T_TMP/gemma.gguf" --arch gemma3 --vocab 300 >/dev/null 2>&1; bad gemma.gguf "architecture 'gemma3' is not supported: Gemma"
"$GW" "$T_TMP/nokey.gguf" --drop-key llama.block_count --vocab 300 >/dev/null 2>&1; bad nokey.gguf "missing required key llama.block_count"
"$GW" "$T_TMP/notensor.gguf" --drop-tensor output_norm.weight --vocab 300 >/dev/null 2>&1; bad notensor.gguf "missing tensor output_norm.weight"
"$GW" "$T_TMP/heads.gguf" --embd 64 --heads 3 --kv-heads 3 --vocab 300 >/dev/null 2>&1; bad heads.gguf "head_count 3 does not divide embedding_length 64"
"$GW" "$T_TMP/kv.gguf" --embd 64 --heads 4 --kv-heads 3 --vocab 300 >/dev/null 2>&1; bad kv.gguf "not a multiple of head_count_kv 3"
"$GW" "$T_TMP/bert.gguf" --tokenizer bert --vocab 300 >/dev/null 2>&1; bad bert.gguf "tokenizer 'bert' is not supported \(SentencePiece \"llama\" or byte-level BPE \"gpt2\"\)"
"$GW" "$T_TMP/v4.gguf" --version 4 --vocab 300 >/dev/null 2>&1; bad v4.gguf "unsupported GGUF version 4"
"$MMSAFE" tokenize --model "$T_TMP/missing.gguf" hi >/dev/null 2>"$T_TMP/err"; check_eq "missing file: exit 1" "$?" 1
check_grep "missing file: message" "^mmsafe: error: .*missing\.gguf: cannot open" "$T_TMP/err"

# --- byte-level BPE (gpt2) vocabularies made by gguf_write ---
B="$T_TMP/bpe.gguf"
"$GW" "$B" --tokenizer gpt2 --vocab 300 >/dev/null 2>&1
"$MMSAFE" inspect "$B" >"$T_TMP/insp" 2>&1; check_eq "BPE model: inspect exit 0" "$?" 0
check_grep "BPE model: inspect names the pre-tokenizer" "tokenizer: gpt2 \(byte-level BPE, pre llama-bpe, ignore_merges true\), 300 tokens" "$T_TMP/insp"
"$MMSAFE" logits --model "$B" --prompt "hello world" -o "$T_TMP/b.bin" 2>/dev/null; check_eq "BPE model: logits exit 0" "$?" 0
BV="$T_TMP/bpe-vocab.gguf"
"$GW" "$BV" --tokenizer gpt2 --vocab 300 --vocab-only >/dev/null 2>&1
"$MMSAFE" inspect "$BV" >"$T_TMP/insp" 2>&1; check_eq "BPE vocab-only: inspect exit 0" "$?" 0
check_grep "BPE vocab-only: inspect says so" "validation: ok \(vocabulary only\)" "$T_TMP/insp"
# merges: "hell o" -> 259 "hello", "Ġwor ld" -> 264 "Ġworld"; BOS 270; <think> (USER_DEFINED) 272 without --parse-special;
# "  123 1234": Ġ | Ġ | 123 | Ġ | 123 | 4 (digits in threes, never joined to the space)
check_eq "BPE vocab-only: tokenize" "$("$MMSAFE" tokenize --model "$BV" "hello world<think>  123 1234")" "[270, 259, 264, 272, 32, 32, 267, 32, 267, 52]"
check_eq "BPE vocab-only: control token only with --parse-special" "$("$MMSAFE" tokenize --model "$BV" --no-bos --parse-special "<|end_of_text|>")" "[271]"
check_eq "BPE vocab-only: the lower-ranked merge wins ('a b' 12 before 'b c' 13)" "$("$MMSAFE" tokenize --model "$BV" --no-bos "abc")" "[268, 99]"
"$MMSAFE" logits --model "$BV" --prompt hi -o "$T_TMP/x.bin" >/dev/null 2>"$T_TMP/err"; check_eq "BPE vocab-only: logits exit 1" "$?" 1
printf 'ab\377c' >"$T_TMP/notutf8.txt"
"$MMSAFE" tokenize --model "$BV" --prompt-file "$T_TMP/notutf8.txt" >/dev/null 2>"$T_TMP/err"; check_eq "prompt not UTF-8: exit 1" "$?" 1
check_grep "prompt not UTF-8: message names the prompt file" "^mmsafe: error: $T_TMP/notutf8\.txt: the text is not valid UTF-8 \(byte 0xFF at offset 2\)" "$T_TMP/err"
badv() {  # badv NAME EXPECTED-REGEX GGUF_WRITE-ARGS...: tokenize and inspect both refuse it, exit 1
  local f="$T_TMP/$1" want=$2 rc; shift 2
  "$GW" "$f" --tokenizer gpt2 --vocab 300 --vocab-only "$@" >/dev/null 2>&1
  "$MMSAFE" tokenize --model "$f" hi >/dev/null 2>"$T_TMP/err"; rc=$?
  check_eq "$(basename "$f"): tokenize exit 1" "$rc" 1
  check_grep "$(basename "$f"): message" "^mmsafe: error: $f: .*$want" "$T_TMP/err"
  "$MMSAFE" inspect "$f" >/dev/null 2>"$T_TMP/err"; rc=$?
  check_eq "$(basename "$f"): inspect exit 1" "$rc" 1
}
badv pre-unknown.gguf "tokenizer.ggml.pre 'falcon' is not supported \(supported: llama-bpe, qwen2\)" --pre falcon
badv pre-missing.gguf "without tokenizer.ggml.pre" --pre ""
badv merges-missing.gguf "without tokenizer.ggml.merges" --drop-key tokenizer.ggml.merges
badv merge-unknown.gguf "merges entry 14 \('wor zq'\) refers to 'wor', which is not in the token list" --bpe-flaw merge-unknown
badv merge-nospace.gguf "merges entry 14 \('abc'\) is not two tokens separated by a space" --bpe-flaw merge-no-space
badv type-count.gguf "token_type has 299 entries for 300 tokens" --bpe-flaw type-count
badv no-byte.gguf "no token for byte 0x41 .*byte tokens are missing" --bpe-flaw no-byte-token

# --- the reference's vocabulary-only files (no tensors): tokenize and inspect ---
V="$SHARED/fixtures/vocab"
if [ -f "$V/ggml-vocab-llama3.gguf" ]; then
  # ids from README-bpe.md §5.8 (the reference's)
  check_eq "llama3 vocab: tokenize adds BOS" "$("$MMSAFE" tokenize --model "$V/ggml-vocab-llama3.gguf" 1234567)" "[128000, 4513, 10961, 22]"
  check_eq "llama3 vocab: ignore_merges" "$("$MMSAFE" tokenize --model "$V/ggml-vocab-llama3.gguf" --no-bos " jeho")" "[101503]"
  check_eq "qwen2 vocab: no BOS, single digits" "$("$MMSAFE" tokenize --model "$V/ggml-vocab-qwen2.gguf" 1234567)" "[16, 17, 18, 19, 20, 21, 22]"
  check_eq "qwen2 vocab: <think> without --parse-special" "$("$MMSAFE" tokenize --model "$V/ggml-vocab-qwen2.gguf" "<think>ok</think>")" "[151667, 562, 151668]"
  check_eq "qwen2 vocab: </s> with --parse-special" "$("$MMSAFE" tokenize --model "$V/ggml-vocab-qwen2.gguf" --parse-special "x</s>")" "[87, 128247]"
  check_eq "SPM vocab: tokenize" "$("$MMSAFE" tokenize --model "$V/ggml-vocab-llama-spm.gguf" "Hello world")" "[1, 15043, 3186]"
  for v in llama3 qwen2 llama-spm; do
    "$MMSAFE" inspect "$V/ggml-vocab-$v.gguf" >"$T_TMP/insp" 2>&1; check_eq "$v vocab: inspect exit 0" "$?" 0
    check_grep "$v vocab: inspect: vocabulary only" "validation: ok \(vocabulary only\)" "$T_TMP/insp"
  done
  "$MMSAFE" inspect "$V/ggml-vocab-qwen2.gguf" >"$T_TMP/insp" 2>&1
  check_grep "qwen2 vocab: inspect shows the pre-tokenizer and merges" "pre qwen2, ignore_merges false\\), 151936 tokens .* 151387 merges" "$T_TMP/insp"
else
  skip "../shared/fixtures/vocab not found (vocabulary-only files)"
fi
# --- inspect on every file the engine loads: the mmproj (data/models, in the repository) ---
MMP="$ROOT/data/models/tiny-llava-mmproj-F16.gguf"
"$MMSAFE" inspect "$MMP" >"$T_TMP/insp_mm" 2>"$T_TMP/err"; check_eq "inspect mmproj: exit 0" "$?" 0
check_nogrep "inspect mmproj: no 'not supported'" "not supported" "$T_TMP/insp_mm"
check_grep "inspect mmproj: kind" "^  kind: mmproj \(general.architecture clip\): CLIP ViT vision tower \+ LLaVA-1.5 MLP projector$" "$T_TMP/insp_mm"
check_grep "inspect mmproj: vision sizes" "^  vision: image_size 112, patch_size 14 \(8x8 = 64 patches \+ CLS\), n_embd 64, n_head 4, head_dim 16, n_ff 128,$" "$T_TMP/insp_mm"
check_grep "inspect mmproj: blocks" "^  blocks 3 stored \(run: 2 in llama.cpp mode, 3 in llava mode\), feature_layer 0, layer_norm_eps 1e-05,$" "$T_TMP/insp_mm"
check_grep "inspect mmproj: activation and norms" "^  activation quick_gelu, pre_ln yes, post_ln no, FFN naming standard$" "$T_TMP/insp_mm"
check_grep "inspect mmproj: projector" "^  projector: mlp, 64 -> 128 -> 128 \(GELU between\); 64 image tokens of width 128" "$T_TMP/insp_mm"
check_grep "inspect mmproj: mean/std" "^  image_mean 0.48145467 0.45782751 0.40821072, image_std 0.26862955 0.26130259 0.2757771$" "$T_TMP/insp_mm"
check_grep "inspect mmproj: tensor table" "^  mm.2.weight +F16 +\[128, 128\] +32768$" "$T_TMP/insp_mm"
check_grep "inspect mmproj: tensor table (patch)" "^  v.patch_embd.weight +F16 +\[14, 14, 3, 64\] +75264$" "$T_TMP/insp_mm"
check_grep "inspect mmproj: validation" "^validation: ok$" "$T_TMP/insp_mm"
"$MMSAFE" inspect "$ROOT/data/models/tiny-llava-lm-F16.gguf" >"$T_TMP/insp_lm" 2>&1
check_grep "inspect LM: kind" "^  kind: language model \(general.architecture llama\)$" "$T_TMP/insp_lm"
printf 'P6\n2 2\n255\n0123456789ab' >"$T_TMP/notgguf.ppm"
"$MMSAFE" inspect "$T_TMP/notgguf.ppm" >/dev/null 2>"$T_TMP/err"; check_eq "inspect a non-GGUF file: exit 1" "$?" 1
check_grep "inspect a non-GGUF file: message" "^mmsafe: error: .*notgguf\.ppm: .*bad magic" "$T_TMP/err"
"$MMSAFE" inspect --help >"$T_TMP/h" 2>&1
check_grep "inspect --help: mmproj files" "an mmproj \(general.architecture clip\)" "$T_TMP/h"

# --- options: each command takes what its --help lists, refuses the rest ---
LM="$ROOT/data/models/tiny-llava-lm-F16.gguf"
"$MMSAFE" tokenize --model "$LM" --threads 2 hi >/dev/null 2>"$T_TMP/err"; check_eq "tokenize --threads: exit 2" "$?" 2
check_grep "tokenize --threads: message" "option '--threads' does not apply to tokenize" "$T_TMP/err"
"$MMSAFE" tokenize --model "$LM" --arith exact hi >/dev/null 2>&1; check_eq "tokenize --arith: exit 2" "$?" 2
"$MMSAFE" generate --model "$LM" --top 2 hi >/dev/null 2>&1; check_eq "generate --top: exit 2" "$?" 2
"$MMSAFE" logits --model "$LM" -n 2 --prompt hi --top 1 >/dev/null 2>&1; check_eq "logits -n: exit 2" "$?" 2
"$MMSAFE" preprocess --mmproj "$MMP" --image x.png --threads 2 -o "$T_TMP/x" >/dev/null 2>"$T_TMP/err"; check_eq "preprocess --threads: exit 2" "$?" 2
check_grep "preprocess --threads: message" "option '--threads' does not apply to preprocess" "$T_TMP/err"
"$MMSAFE" tokenize --model "$LM" --no-bos --parse-special hi >/dev/null 2>&1; check_eq "tokenize --no-bos --parse-special: exit 0" "$?" 0
"$MMSAFE" generate --model "$LM" --prompt hi -n 2 --threads 2 --arith exact --ctx 64 --kv f32 >/dev/null 2>&1; check_eq "generate with the compute options: exit 0" "$?" 0
for c in preprocess embed-image logits; do
  "$MMSAFE" $c --help >"$T_TMP/h" 2>&1
  check_grep "$c --help: --image accepts binary PPM (P6)" "--image FILE .*binary PPM \(P6\)" "$T_TMP/h"
done
printf 'P6\n4 3\n255\n' >"$T_TMP/im.ppm"; head -c 36 /dev/urandom >>"$T_TMP/im.ppm"
"$MMSAFE" preprocess --mmproj "$MMP" --image "$T_TMP/im.ppm" -o "$T_TMP/pre.bin" >/dev/null 2>&1; check_eq "preprocess a PPM: exit 0" "$?" 0
check_eq "preprocess a PPM: 3 x 112 x 112 floats" "$(stat -c %s "$T_TMP/pre.bin" 2>/dev/null)" $((3 * 112 * 112 * 4))

# --- fixtures: tokenizer, logits and greedy tokens against the reference ---
if [ -d "$TINY" ] && [ -n "$PY" ]; then
  # case A_F32/t_mmsa_0007-like: the first A_F32 text case with a reliable top-1 and greedy prefix 8
  "$PY" - "$TINY" "$T_TMP" <<'PYEOF'
import json, sys
tiny, tmp = sys.argv[1], sys.argv[2]
d = json.load(open(tiny + "/index.json"))
c = [c for c in d["cases"] if c["config"] == "A_F32" and c["kind"] == "text" and c["top1_reliable"] and c["greedy_reliable_prefix"] >= 8][0]
open(tmp + "/prompt.txt", "wb").write(c["prompt_text"].encode())
open(tmp + "/tokens_bos", "w").write(json.dumps(c["tokens_bos"]))
open(tmp + "/tokens_nobos", "w").write(json.dumps(c["tokens_nobos"]))
open(tmp + "/greedy", "w").write(json.dumps(c["greedy"]))
open(tmp + "/logits_file", "w").write(tiny + "/" + c["outputs"]["logits"]["file"])
open(tmp + "/top1", "w").write(str(c["top1"]))
s = [c for c in d["cases"] if "tokens_bos_parse_special_false" in c][0]
open(tmp + "/sp.txt", "wb").write(s["prompt_text"].encode())
open(tmp + "/sp_true", "w").write(json.dumps(s["tokens_bos"]))
open(tmp + "/sp_false", "w").write(json.dumps(s["tokens_bos_parse_special_false"]))
PYEOF
  A="$TINY/models/lmA-F32.gguf"
  check_eq "tokenize --prompt-file (exact bytes)" "$("$MMSAFE" tokenize --model "$A" --prompt-file "$T_TMP/prompt.txt" --parse-special | tr -d ' ')" "$(tr -d ' ' <"$T_TMP/tokens_bos")"
  check_eq "tokenize --no-bos" "$("$MMSAFE" tokenize --model "$A" --prompt-file "$T_TMP/prompt.txt" --parse-special --no-bos | tr -d ' ')" "$(tr -d ' ' <"$T_TMP/tokens_nobos")"
  check_eq "tokenize --parse-special" "$("$MMSAFE" tokenize --model "$A" --prompt-file "$T_TMP/sp.txt" --parse-special | tr -d ' ')" "$(tr -d ' ' <"$T_TMP/sp_true")"
  check_eq "tokenize plain text (default)" "$("$MMSAFE" tokenize --model "$A" --prompt-file "$T_TMP/sp.txt" | tr -d ' ')" "$(tr -d ' ' <"$T_TMP/sp_false")"
  "$MMSAFE" logits --model "$A" --prompt-file "$T_TMP/prompt.txt" --parse-special --kv f32 -o "$T_TMP/a.bin" --top 3 >"$T_TMP/top" 2>"$T_TMP/err"
  check_eq "logits on lmA-F32: exit 0" "$?" 0
  check_eq "--top 3 prints 3 lines" "$(wc -l <"$T_TMP/top")" 3
  check_eq "--top: best id is the reference top-1" "$(head -1 "$T_TMP/top" | cut -d' ' -f1)" "$(cat "$T_TMP/top1")"
  rel=$("$PY" -c "import numpy as n,sys; a=n.fromfile(sys.argv[1],'<f4'); b=n.fromfile(open(sys.argv[2]).read(),'<f4'); print('%.3g' % (abs(a-b).max()/abs(b).max()) if a.shape==b.shape else 'shape')" "$T_TMP/a.bin" "$T_TMP/logits_file")
  if [ "$rel" != shape ] && "$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1e-4 else 1)" "$rel"; then ok; else fail "logits -o vs the reference: max rel $rel (bound 1e-4)"; fi
  "$MMSAFE" generate --model "$A" --prompt-file "$T_TMP/prompt.txt" --parse-special --kv f32 -n 8 --ignore-eos >"$T_TMP/gen" 2>/dev/null
  check_eq "generate: greedy tokens equal the reference's" "$(head -1 "$T_TMP/gen" | tr -d ' ')" "$(tr -d ' ' <"$T_TMP/greedy")"
else
  skip "../shared/fixtures/llava-tiny or Debian's python3 with numpy not found (fixture checks)"
fi
done_t
