#!/usr/bin/env bash
# test_judge_cli.sh - a judge runs end to end (issue 8): `mmsafe generate
# --template auto --system S --prompt-file F` on the Llama-3-, Qwen2- and
# Qwen3-shaped F32 models of tests/fixtures/decoders (rewritten here with
# gguf_write from the real vocabularies, chat templates included) gives the
# greedy ids llama.cpp gave for the same templated prompt (the fixture's "chat"
# case, rendered by the reference's own template code), in both arithmetic
# paths and at 1 and 2 threads; auto names the template it picked; the text line
# is the ids decoded independently here (byte-level BPE: GPT-2's byte map
# inverted, bytes that are not UTF-8 shown as U+FFFD); -n 0 prints nothing.
source "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
if [ -z "$PY" ]; then skip "Debian python3 with h5py/numpy not found"; done_t; exit $?; fi
if ! have_shared fixtures/vocab; then skip "../shared/fixtures/vocab absent (the judges use its vocabularies)"; done_t; exit $?; fi
IDX=tests/fixtures/decoders/index.json
GW=${BUILD:-build}/tools/gguf_write
W=$T_TMP/j; mkdir -p "$W"
SYS=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["prompts"][2]["system"])' $IDX)
"$PY" -c 'import json,sys; open(sys.argv[2], "w").write(json.load(open(sys.argv[1]))["prompts"][2]["user"])' $IDX "$W/q.txt"
for m in qwen2-A-F32 qwen3-A-F32 llama3-A-F32; do
  # the model, as the goldens were made on it
  mapfile -t args < <("$PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
m = [x for x in d["models"] if x["name"] == sys.argv[2]][0]
for a in m["gguf_write_args"]: print(a.replace("VOCAB_DIR", sys.argv[3]))' $IDX $m "$SHARED/fixtures/vocab")
  "$GW" "$W/$m.gguf" "${args[@]}" >/dev/null 2>&1; check_eq "$m: gguf_write" $? 0
  want=$("$PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
c = [x for x in d["cases"] if x["id"] == sys.argv[2] + "/chat"][0]
print("[" + ", ".join(str(i) for i in c["greedy"]) + "]")' $IDX $m)
  tmpl=chatml; [ $m = llama3-A-F32 ] && tmpl=llama3
  for run in "fast 1" "fast 2" "exact 1"; do
    set -- $run
    "$MMSAFE" generate --model "$W/$m.gguf" --template auto --system "$SYS" --prompt-file "$W/q.txt" -n 8 --kv f32 \
      --arith $1 --threads $2 >"$W/out" 2>"$W/err"
    check_eq "$m ($run): exit 0" $? 0
    check_eq "$m ($run): the reference's greedy ids" "$(head -1 "$W/out")" "$want"
  done
  check_grep "$m: auto says it picked $tmpl" "^mmsafe: template $tmpl \(auto: " "$W/err"
  # the text line, decoded independently from the file's token strings
  "$PY" - "$W/$m.gguf" "$(head -1 "$W/out")" "$W/want.txt" <<'PY'
import json, sys
sys.path.insert(0, "tools/reference")
import float64_lm
g = float64_lm.Gguf(sys.argv[1])
toks, types = g.kv["tokenizer.ggml.tokens"], g.kv["tokenizer.ggml.token_type"]
bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
inv = {chr(c): b for b, c in zip(bs, cs)}
out = b""
for i in json.loads(sys.argv[2]):
    if types[i] in (3,):     # control tokens are hidden
        continue
    out += bytes(inv[ch] for ch in toks[i]) if types[i] == 1 else toks[i].encode()
open(sys.argv[3], "wb").write(out + b"\n")
PY
  sed -n 2p "$W/out" >"$W/got.txt"
  check "$m: the text is the ids' bytes, decoded independently" cmp "$W/got.txt" "$W/want.txt"
done
"$MMSAFE" generate --model "$W/qwen2-A-F32.gguf" --template auto --prompt-file "$W/q.txt" -n 0 >"$W/out" 2>"$W/err"
check_eq "-n 0: exit 0" $? 0
check_eq "-n 0: no ids" "$(head -1 "$W/out")" "[]"
done_t
