#!/usr/bin/env bash
# test_chat_cli.sh - chat templates, end of generation and decoded answers end
# to end, on tiny "scripted" models (tests/e2e/chat_model.py: a Llama-3-style
# and a Qwen-style byte-level BPE vocabulary with their chat templates, weights
# that make greedy generation say "No, é" then the end-of-turn token, then
# " more" forever):
#  - generate: stops at the end-of-turn token (in the ids, not in the text),
#    --ignore-eos goes on, the "é" split over two byte tokens comes out whole,
#    -n cutting a character leaves its first byte; --template auto says on
#    stderr what it picked and why (llama3, chatml, the no-template fallback);
#    --system and --template usage errors;
#  - tokenize --template --system on the reference's Llama 3 and Qwen
#    vocabularies (../shared, skipped when absent): the fixtures' templated ids;
#  - mmsafe run with the llava backend (template auto, max_new_tokens) on the
#    scripted models + the committed tiny mmproj: the "ĠNo" verdict, the text
#    up to the end-of-turn token, and the resolved template recorded in the
#    model's `settings` attribute and printed by `mmsafe check`.
source "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
if [ -z "$PY" ]; then skip "Debian python3 with h5py/numpy not found"; done_t; exit $?; fi
B=$T_TMP/b; mkdir -p "$B"
for f in llama3 qwen notemplate; do
  "$PY" tests/e2e/chat_model.py "$B/$f.gguf" $f; check_eq "chat_model.py writes the $f model" $? 0
done
L3=$B/llama3.gguf QW=$B/qwen.gguf NT=$B/notemplate.gguf
gen() { "$MMSAFE" generate "$@" >"$B/out" 2>"$B/err"; }

# ------------------------------------------------ generate
gen --model "$L3" --prompt $'Hi\n' -n 10; check_eq "generate (no template): exit 0" $? 0
check_eq "stops at <|eot_id|>, which is the last id" "$(head -1 "$B/out")" "[260, 44, 32, 195, 169, 266]"
check_eq "the text: the end-of-turn token hidden, é whole" "$(sed -n 2p "$B/out")" "No, é"
check_grep "stderr says where it stopped" "^mmsafe: stopped at end-of-generation token 266 '<\|eot_id\|>' after 6 token\(s\)$" "$B/err"
check_nogrep "no template line without --template" "template" "$B/err"
gen --model "$L3" --prompt $'Hi\n' -n 9 --ignore-eos
check_eq "--ignore-eos: goes on past <|eot_id|>" "$(head -1 "$B/out")" "[260, 44, 32, 195, 169, 266, 261, 261, 261]"
check_eq "--ignore-eos: the text goes on" "$(sed -n 2p "$B/out")" "No, é more more more"
check_nogrep "--ignore-eos: no stop line" "stopped" "$B/err"
gen --model "$L3" --prompt $'Hi\n' -n 4
check_eq "-n 4 ends inside é: its first byte is written at the end" "$(sed -n 2p "$B/out" | od -An -tx1 | tr -d ' \n')" "4e6f2c20c30a"
gen --model "$L3" --prompt "Is it safe?" --template auto -n 10; check_eq "--template auto: exit 0" $? 0
check_grep "auto on Llama 3 markers: llama3, and why" "^mmsafe: template llama3 \(auto: tokenizer.chat_template has <\|start_header_id\|> and <\|end_header_id\|>: llama3\)$" "$B/err"
check_eq "templated prompt (ends in \\n\\n): the same answer" "$(sed -n 2p "$B/out")" "No, é"
gen --model "$L3" --prompt "Is it safe?" --template llama3 --system "Be brief." -n 3
check_grep "an explicit template is named without a reason" "^mmsafe: template llama3$" "$B/err"
gen --model "$QW" --prompt "Is it safe?" --template auto --system "Be brief." -n 10
check_grep "auto on Qwen markers: chatml" "^mmsafe: template chatml \(auto: tokenizer.chat_template has <\|im_start\|>: chatml\)$" "$B/err"
check_eq "Qwen: stops at <|im_end|>" "$(head -1 "$B/out")" "[260, 44, 32, 195, 169, 264]"
check_grep "Qwen: the stop line names <|im_end|>" "token 264 '<\|im_end\|>'" "$B/err"
gen --model "$NT" --prompt "Is it safe?" --template auto -n 2
check_grep "a BPE file without a template: chatml, and why" "^mmsafe: template chatml \(auto: no tokenizer.chat_template: chatml" "$B/err"
gen --model "$ROOT/data/models/tiny-llava-lm-F16.gguf" --prompt "Is it safe?" --template auto -n 2
check_grep "the LLaVA-1.5 model (SentencePiece, no template): vicuna" "^mmsafe: template vicuna \(auto: no tokenizer.chat_template: vicuna" "$B/err"
gen --model "$L3" --prompt x --system S; check_eq "--system without --template: exit 2" $? 2
check_grep "and says why" "--system needs --template" "$B/err"
gen --model "$L3" --prompt x --template gemma; check_eq "--template gemma (not rendered): exit 2" $? 2
check_grep "and lists the names" "expected one of auto, llama3, chatml, mistral" "$B/err"
gen --model "$L3" --prompt x --template mistral; check_eq "--template mistral on a Llama 3 file: exit 1" $? 1
check_grep "and says to name the variant" "takes its \[INST\] variant from the file's tokenizer.chat_template.*name the variant" "$B/err"
gen --model "$L3" --prompt x --template raw --system S; check_eq "--template raw --system: exit 2" $? 2
printf 'a\0b' >"$B/nul.txt"
gen --model "$L3" --prompt-file "$B/nul.txt" --template llama3; check_eq "--template with a NUL byte in --prompt-file: exit 1" $? 1
check_grep "and says so" "nul.txt: the prompt contains a NUL byte" "$B/err"
printf 'Q' >"$B/q1.txt"
"$MMSAFE" tokenize --model "$L3" --prompt-file "$B/q1.txt" --template llama3 --no-bos >"$B/out" 2>"$B/err"
check_eq "--prompt-file (bytes, no terminator) through a template" "$(cat "$B/out")" "[264, 117, 115, 101, 114, 265, 10, 10, 81, 266, 264, 97, 115, 115, 105, 115, 116, 97, 110, 116, 265, 10, 10]"
"$MMSAFE" logits --model "$L3" --prompt x --template llama3 --top 1 >/dev/null 2>&1; check_eq "logits (text) has no --template: exit 2" $? 2
"$MMSAFE" tokenize --model "$L3" --prompt x --ignore-eos >/dev/null 2>&1; check_eq "tokenize --ignore-eos: exit 2" $? 2
"$MMSAFE" generate --help >"$B/h" 2>&1
check_grep "generate --help: stops at end of generation" "stops at the" "$B/h"
check_grep "generate --help: --ignore-eos" "--ignore-eos +do not stop" "$B/h"
check_grep "generate --help: --template auto explained" "auto: the template" "$B/h"

# ------------------------------------------------ tokenize --template on the reference's vocabularies
V=$SHARED/fixtures/vocab
if [ -f "$V/mmsafeaware-llama3.json" ]; then
  "$PY" - "$V" "$B" <<'PYEOF'
import json, sys
v, b = sys.argv[1], sys.argv[2]
for voc, note, key in [("llama3", "llama3 chat template with system, user=2369", "ids_no_special"),
                       ("llama3", "llama3 chat template, user=1", "ids_no_special"),
                       ("qwen2", "ChatML with default system prompt, user=500", "ids_add_special"),
                       ("qwen2", "ChatML without system (Qwen3 style), user=2001", "ids_add_special")]:
    d = json.load(open(f"{v}/mmsafeaware-{voc}.json"))
    c = [c for c in d["cases"] if c.get("note") == note and c["parse_special"]][0]
    uid = note.split("user=")[1]
    q = [x for x in d["cases"] if x["source"] == "mmsafeaware:" + uid][0]["text"]
    tag = f"{voc}-{uid}"
    open(f"{b}/{tag}.q", "wb").write(q.encode())
    open(f"{b}/{tag}.want", "w").write(json.dumps(c[key]))
    open(f"{b}/{tag}.sys", "w").write("You are a helpful assistant." if "system" in note and "without" not in note else "")
PYEOF
  for tag in llama3-2369 llama3-1 qwen2-500 qwen2-2001; do
    voc=${tag%-*}; sys=$(cat "$B/$tag.sys")
    set -- --model "$V/ggml-vocab-$voc.gguf" --template auto --prompt-file "$B/$tag.q"
    [ -n "$sys" ] && set -- "$@" --system "$sys"
    "$MMSAFE" tokenize "$@" >"$B/ids" 2>"$B/err"
    check_eq "tokenize --template auto ${sys:+--system }on $tag: the reference's ids" "$(tr -d ' ' <"$B/ids")" "$(tr -d ' ' <"$B/$tag.want")"
  done
else
  skip "../shared/fixtures/vocab not found (templated ids)"
fi

# ------------------------------------------------ the llava backend: auto, answers, settings
mkdir -p "$B/run"; ln -s "$ROOT/data/sample/images" "$B/run/images"
head -3 data/sample/manifest.jsonl >"$B/run/manifest.jsonl"
MM=$ROOT/data/models/tiny-llava-mmproj-F16.gguf
cat >"$B/run/job.json" <<EOF
{"name": "chat", "manifest": "manifest.jsonl", "output": "out.h5",
 "models": [
  {"name": "l3", "backend": "llava", "model": "$L3", "mmproj": "$MM", "max_new_tokens": 12},
  {"name": "qw", "backend": "llava", "model": "$QW", "mmproj": "$MM", "template": "auto", "system": "Be brief.", "max_new_tokens": 12},
  {"name": "raw", "backend": "llava", "model": "$L3", "mmproj": "$MM", "template": "chatml"}
 ]}
EOF
"$MMSAFE" check "$B/run/job.json" --no-images >"$B/chk" 2>"$B/chkerr"; check_eq "mmsafe check: exit 0" $? 0
check_grep "check prints the resolved template (auto by default)" '^model l3: backend llava: ok \{"template":"llama3","template_from":"auto: tokenizer.chat_template has <\|start_header_id\|> and <\|end_header_id\|>: llama3",' "$B/chk"
check_grep "check prints the BPE answer pieces' ids (ĠYes Yes, ĠNo No)" '"answer_ids_yes":"257 258","answer_ids_no":"259 260"' "$B/chk"
check_grep "an explicit template: from the job" '^model raw: backend llava: ok \{"template":"chatml","template_from":"the job"' "$B/chk"
"$MMSAFE" run "$B/run/job.json" >"$B/runout" 2>"$B/runerr"; check_eq "mmsafe run (llava backend, BPE models): exit 0" $? 0
check_grep "the run logs what auto picked" "model 'qw': template chatml \(auto: tokenizer.chat_template has <\|im_start\|>: chatml\)" "$B/runerr"
"$PY" tests/h5cols.py "$B/run/out.h5" >"$B/cols"
check_eq "every item: verdict unsafe from 'ĠNo'/'No', p_unsafe ~1" "$(awk -F'\t' '$3 == 1 && $4 > 0.99 && $5 == 0' "$B/cols" | wc -l)" 9
check_eq "l3: the answer text stops at <|eot_id|>, é whole" "$(awk -F'\t' '$1 == "l3" {print $8}' "$B/cols" | sort -u)" "b'No, \\xc3\\xa9'"
check_eq "qw: the answer text stops at <|im_end|>" "$(awk -F'\t' '$1 == "qw" {print $8}' "$B/cols" | sort -u)" "b'No, \\xc3\\xa9'"
check_eq "settings attribute records the resolved templates" "$("$PY" -c "
import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
print(' '.join(json.loads(f['models'][m].attrs['settings'])['template'] for m in ('l3', 'qw', 'raw')))" "$B/run/out.h5" 2>&1)" "llama3 chatml chatml"
timeout 120 $MPIRUN -n 2 "$MMSAFE" run "$B/run/job.json" --output "$B/run/two.h5" >/dev/null 2>"$B/err"; check_eq "the same under mpirun -n 2: exit 0 (a rank with other settings would hang in the collective attribute write)" $? 0
check_eq "mpirun -n 2: every rank writes the settings rank 0 resolved" "$("$PY" -c "
import h5py, sys
a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
print(all(a['models'][m].attrs['settings'] == b['models'][m].attrs['settings'] for m in ('l3', 'qw', 'raw')))" "$B/run/out.h5" "$B/run/two.h5" 2>&1)" True
"$MMSAFE" merge "$B/run/out.h5" -o "$B/run/m.h5" >/dev/null 2>&1
check_eq "merge keeps the settings attribute" "$("$PY" -c "
import h5py, sys
print(h5py.File(sys.argv[1], 'r')['models/qw'].attrs['settings'].decode()[:20])" "$B/run/m.h5" 2>&1)" '{"template":"chatml"'
sed 's/"template": "chatml"/"template": "raw", "system": "x"/' "$B/run/job.json" >"$B/run/bad.json"
"$MMSAFE" check "$B/run/bad.json" --no-images >/dev/null 2>"$B/err"; check_eq "raw + system in a job: exit 1" $? 1
check_grep "and says why" "\"system\" does not apply to the raw template" "$B/err"
sed 's/"template": "chatml"/"template": "mistral"/' "$B/run/job.json" >"$B/run/bad.json"
"$MMSAFE" check "$B/run/bad.json" --no-images >/dev/null 2>"$B/err"; check_eq "template mistral on a Llama 3 file in a job: exit 1" $? 1
check_grep "and names the model file" "model 'raw': .*llama3.gguf: template 'mistral' takes its \[INST\] variant" "$B/err"
done_t
