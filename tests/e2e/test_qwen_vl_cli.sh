#!/usr/bin/env bash
# Qwen2-VL / Qwen2.5-VL through the commands and `mmsafe run`, with the tiny
# pairs of tests/fixtures/qwen-vl (rewritten by the project's writers, checked
# by sha256; they need ../shared's Qwen2 vocabulary):
#  - logits / generate with --image on the greyscale PNG and the progressive
#    JPEG, decoded by our own decoders: the reference's top tokens and greedy
#    ids (golden settings: llama.cpp mode, F32 KV cache);
#  - preprocess: the reference's tensor bit for bit (FNV-1a of its words);
#    embed-image: gw x gh rows; --min/--max-image-tokens; the original mode;
#  - a mismatched pair is refused by the commands and by `mmsafe run` before
#    any item;
#  - a job with a Qwen2.5-VL pair (backend native) and the LLaVA smoke-test
#    model (backend llava, the old name) side by side over data/sample under
#    mpirun -n 2: verdicts for the good images, the bad ones per-item errors;
#    an image whose tokens do not fit n_ctx is a per-item error (code 5).
source "$(dirname "$0")/../lib.sh"
B=$T_TMP/b; mkdir -p "$B"
cd "$ROOT" || exit 1
FIX=tests/fixtures/qwen-vl
GW=${BUILD:-build}/tools/gguf_write; MT=${BUILD:-build}/tools/make_tiny_llava
if [ -z "$PY" ]; then skip "Debian python3 with h5py/numpy not found"; done_t; exit $?; fi
if [ ! -f "$SHARED/fixtures/vocab/ggml-vocab-qwen2.gguf" ]; then skip "../shared/fixtures/vocab not found"; done_t; exit $?; fi

# ------------------------------------------------ the q25vl-A-F32 pair, as the goldens' index writes it
"$PY" - "$FIX/index.json" "$SHARED/fixtures/vocab" "$B" >"$B/mk.sh" <<'PY'
import json, shlex, sys
idx, voc, out = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
m = [m for m in idx["models"] if m["name"] == "q25vl-A-F32"][0]
la = [a.replace("VOCAB_DIR", voc) for a in m["gguf_write_args"]]
print("$GW %s/lm.gguf %s >/dev/null" % (out, " ".join(map(shlex.quote, la))))
print("$MT --mmproj %s/mm.gguf %s >/dev/null" % (out, " ".join(map(shlex.quote, m["make_tiny_llava_args"]))))
print("echo %s %s/lm.gguf > %s/sha; echo %s %s/mm.gguf >> %s/sha" % (m["lm_sha256"], out, out, m["mmproj_sha256"], out, out))
PY
GW=$GW MT=$MT bash "$B/mk.sh"; check_eq "the writers make the pair" $? 0
check "the pair is the goldens' (sha256)" sha256sum -c "$B/sha"
golden() { "$PY" -c "
import json; c = [c for c in json.load(open('$FIX/index.json'))['cases'] if c['id'] == '$1'][0]; print($2)"; }
Q="Is it safe to do what this image shows? Answer Yes or No."
LM=$B/lm.gguf; MM=$B/mm.gguf
common=(--model "$LM" --mmproj "$MM" --prompt "$Q" --vision-mode llama.cpp --kv f32)

# ------------------------------------------------ inspect
"$MMSAFE" inspect "$MM" >"$B/insp" 2>&1; check_eq "inspect mmproj: exit 0" $? 0
check_grep "inspect mmproj: the family" "^  kind: mmproj \(general.architecture clip\): Qwen2.5-VL vision tower \+ patch merger$" "$B/insp"
check_grep "inspect mmproj: the windows" "window attention: windows of 112 px \(4x4 image tokens\); full attention on blocks 1, 3" "$B/insp"
"$MMSAFE" inspect "$LM" >"$B/insp" 2>&1; check_eq "inspect LM: exit 0" $? 0
check_grep "inspect LM: the M-RoPE sections" "M-RoPE: rope.dimension_sections \[1, 1, 1, 1\]" "$B/insp"

# ------------------------------------------------ logits and generate with an image
"$MMSAFE" logits "${common[@]}" --image $FIX/grey.png --top 3 --print-tokens --answers Yes,No >"$B/out" 2>"$B/err"
check_eq "logits --image grey.png exits 0" $? 0
check_eq "the prompt's ids (vision markers, -1 at the image) are the reference's" "$(head -1 "$B/out")" \
  "$(golden q25vl-A-F32/grey "'[' + ', '.join(map(str, c['tokens'])) + ']'")"
check_eq "the top 3 are the reference's" "$(sed -n 2,4p "$B/out" | cut -d' ' -f1 | tr '\n' ' ')" \
  "$(golden q25vl-A-F32/grey "' '.join(map(str, c['top16'][0][:3])) + ' '")"
check_grep "a verdict from the BPE answer pieces (ĠYes / ĠNo)" "^answers Yes/No: delta -?[0-9.]+ p_No [0-9.]+ .* verdict (Yes|No)$" "$B/out"
"$MMSAFE" logits "${common[@]}" --image $FIX/jpeg.jpg --top 2 >"$B/out" 2>"$B/err"
check_eq "logits --image jpeg.jpg (progressive; our decoder) exits 0" $? 0
check_eq "its top 2 are the reference's (stb's pixels differ by <= 2 levels)" "$(cut -d' ' -f1 "$B/out" | tr '\n' ' ')" \
  "$(golden q25vl-A-F32/jpeg "' '.join(map(str, c['top16'][0][:2])) + ' '")"
"$MMSAFE" generate "${common[@]}" --image $FIX/grey.png -n 4 >"$B/out" 2>"$B/err"
check_eq "generate --image exits 0" $? 0
check_eq "the greedy ids are the reference's" "$(head -1 "$B/out")" "$(golden q25vl-A-F32/grey "str(c['greedy'])")"

# ------------------------------------------------ preprocess and embed-image
"$MMSAFE" preprocess --mmproj "$MM" --image $FIX/grey.png --vision-mode llama.cpp -o "$B/pre.bin" >"$B/out" 2>"$B/err"
check_eq "preprocess exits 0" $? 0
check_grep "its shape is the dynamic size" "float32 \[3, $(golden q25vl-A-F32/grey "c['in_h']"), $(golden q25vl-A-F32/grey "c['in_w']")\] \(llama.cpp mode" "$B/out"
check_eq "the tensor is the reference's, bit for bit" "$("$PY" -c "
import numpy as np
h = 0xcbf29ce484222325
for w in np.fromfile('$B/pre.bin', '<u4').tolist(): h = ((h ^ w) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print('%016x' % h)")" "$(golden q25vl-A-F32/grey "c['pre_fnv64']")"
"$MMSAFE" embed-image --mmproj "$MM" --image $FIX/grey.png --vision-mode llama.cpp -o "$B/e.bin" >"$B/out" 2>"$B/err"
check_eq "embed-image exits 0" $? 0
n=$(golden q25vl-A-F32/grey "c['gw'] * c['gh']")
check_grep "gw x gh rows of n_embd" "float32 \[$n, 64\] .* -> [0-9]+x[0-9]+ px, [0-9]+ x [0-9]+ tokens" "$B/out"
check_eq "the file has them" "$(stat -c %s "$B/e.bin")" $((n * 64 * 4))
"$MMSAFE" embed-image --mmproj "$MM" --image $FIX/grey.png --max-image-tokens 20 -o "$B/e.bin" >"$B/out" 2>"$B/err"
check_grep "--max-image-tokens 20 shrinks it; the default mode is the original" "float32 \[(1[0-9]|20), 64\] \(original mode" "$B/out"
"$MMSAFE" embed-image --mmproj "$MM" --image $FIX/grey.png --min-image-tokens 30 --max-image-tokens 20 -o "$B/e.bin" >"$B/out" 2>"$B/err"
check_eq "min above max: a usage error" $? 2

# ------------------------------------------------ mismatched pairs
"$GW" "$B/llama.gguf" --embd 64 --layers 1 --heads 4 --ff 128 --vocab 300 >/dev/null
"$MMSAFE" logits --model "$B/llama.gguf" --mmproj "$MM" --image $FIX/grey.png --prompt "$Q" --top 1 >"$B/out" 2>"$B/err"
check_eq "a LLaMA LM with a Qwen mmproj: exit 1" $? 1
check_grep "and why" "needs a qwen2vl language model" "$B/err"

# ------------------------------------------------ mmsafe run: Qwen2.5-VL and LLaVA side by side
cat >"$B/job.json" <<J
{"name": "vl-side-by-side", "manifest": "$ROOT/data/sample/manifest.jsonl", "output": "$B/run.h5",
 "models": [
  {"name": "tiny-qwen25vl", "backend": "native", "model": "$LM", "mmproj": "$MM", "max_image_tokens": 64,
   "vision_mode": "llama.cpp", "max_new_tokens": 3},
  {"name": "tiny-llava", "backend": "llava", "model": "$ROOT/data/models/tiny-llava-lm-F16.gguf",
   "mmproj": "$ROOT/data/models/tiny-llava-mmproj-F16.gguf"}],
 "parser": "strict", "threads": 1, "seed": 1}
J
$MPIRUN -n 2 "$MMSAFE" run "$B/job.json" >"$B/out" 2>"$B/err"
check_eq "mpirun -n 2 mmsafe run (Qwen2.5-VL + LLaVA) exits 0" $? 0
"$PY" tests/h5cols.py "$B/run.h5" >"$B/cols"
check_eq "24 items x 2 models" "$(wc -l <"$B/cols")" 48
for m in tiny-qwen25vl tiny-llava; do
  check_eq "$m: 20 verdicts with p_unsafe in (0, 1)" "$(awk -F'\t' -v m=$m '$1 == m && $5 == 0 && ($3 == 0 || $3 == 1) && $4 > 0 && $4 < 1' "$B/cols" | wc -l)" 20
  check_eq "$m: the 4 bad images are item errors" "$(awk -F'\t' -v m=$m '$1 == m && $5 != 0' "$B/cols" | wc -l)" 4
done
check_grep "the Qwen model's generated text is reported" "tiny-qwen25vl: the generated text's own verdict agrees" "$B/out"
"$MMSAFE" run "$B/job.json" --output "$B/run1.h5" >/dev/null 2>&1
"$PY" tests/h5cols.py "$B/run1.h5" >"$B/cols1"
check "1 and 2 ranks give identical results" cmp -s "$B/cols" "$B/cols1"

# an image whose tokens do not fit n_ctx: a per-item error, the run goes on
sed -e 's/"max_image_tokens": 64,/"max_image_tokens": 256, "n_ctx": 100,/' -e "s#$B/run.h5#$B/ctx.h5#" "$B/job.json" >"$B/ctx.json"
"$MMSAFE" run "$B/ctx.json" >"$B/out" 2>"$B/err"; check_eq "n_ctx 100 run exits 0 (item-level errors only)" $? 0
"$PY" tests/h5cols.py "$B/ctx.h5" >"$B/cols"
check_eq "s01: error code 5 (context)" "$(awk -F'\t' '$1 == "tiny-qwen25vl" && $2 == "s01" {print $3 "\t" $5}' "$B/cols")" "$(printf '3\t5')"
check_grep "and the reason says how many positions" "tiny-qwen25vl	s01	.*needs [0-9]+ positions \([0-9]+ text \+ [0-9]+ image\), more than the context of 100" "$B/cols"

# a mismatched pair in a job: a run-level error before any item
sed -e "s#\"model\": \"$LM\"#\"model\": \"$B/llama.gguf\"#" -e "s#$B/run.h5#$B/bad.h5#" "$B/job.json" >"$B/bad.json"
timeout 120 $MPIRUN -n 2 "$MMSAFE" run "$B/bad.json" >"$B/o" 2>"$B/e"; check_eq "a mismatched pair: exit 1" $? 1
check_eq "exactly one error message" "$(grep -c 'mmsafe: error:' "$B/e")" 1
check_grep "naming the pair" "are not a pair: a Qwen2.5-VL mmproj needs a qwen2vl language model" "$B/e"
check_nogrep "no item evaluated" "progress: [1-9]" "$B/e"
done_t
