#!/usr/bin/env bash
# `mmsafe preprocess` and `mmsafe embed-image`, end to end from image files:
#  - against the llava-tiny goldens (../shared/fixtures; skipped when absent):
#    the preprocessed tensor exactly (PNGs; the JPEG within the decoder
#    difference) and image_embd within the fixtures README tolerances;
#  - at the real LLaVA size S = 336, on a random-weight mmproj written here:
#    llava mode against Pillow 9.4 itself (python3-pil) and llama.cpp mode
#    against a numpy transcription of spec §5.3, exactly, on images of the
#    MMSafeAware release (../shared/data; skipped when absent) and our fixtures;
#  - the command-line contract: usage errors exit 2, bad inputs exit 1 naming the file.
source "$(dirname "$0")/../lib.sh"
FIX="$SHARED/fixtures/llava-tiny"
IMG="$ROOT/tests/fixtures/images"
out=$T_TMP/out; err=$T_TMP/err

for c in preprocess embed-image; do
  "$MMSAFE" $c --help >"$out" 2>&1; check_eq "$c --help exits 0" $? 0
  check_grep "$c --help prints usage" "usage: mmsafe $c" "$out"
  check_grep "$c --help explains the vision modes" "llava \(default\) or llama.cpp" "$out"
done
"$MMSAFE" --help >"$out"; check_grep "--help lists embed-image" "^  embed-image " "$out"
"$MMSAFE" embed-image --image x.png -o y 2>"$err"; check_eq "no --mmproj exits 2" $? 2
check_grep "no --mmproj message" "^mmsafe: error: --mmproj is required" "$err"
"$MMSAFE" preprocess --mmproj m --image x --vision-mode hf2 -o y 2>"$err"; check_eq "bad --vision-mode exits 2" $? 2
"$MMSAFE" embed-image --mmproj m --image x --threads 0 -o y 2>"$err"; check_eq "--threads 0 exits 2" $? 2

if [ -z "$PY" ] || ! "$PY" -c 'import PIL' 2>/dev/null; then
  skip "Debian python3 with numpy and PIL not found"; done_t; exit $?
fi

# ---------------------------------------------------------------- goldens (S = 56)
if have_shared fixtures/llava-tiny; then
  MM="$FIX/models/mmA-F32.gguf"
  "$MMSAFE" embed-image --mmproj "$FIX/models/lmA-F32.gguf" --image "$FIX/images/sq56.png" -o "$T_TMP/x" 2>"$err"
  check_eq "an LM as --mmproj exits 1" $? 1
  check_grep "and says why" "lmA-F32.gguf: not an mmproj file" "$err"
  "$MMSAFE" embed-image --mmproj "$MM" --image "$IMG/truncated.jpg" -o "$T_TMP/x" 2>"$err"
  check_eq "a truncated image exits 1" $? 1
  check_grep "and names it" "^mmsafe: error: .*truncated.jpg: truncated JPEG data" "$err"
  "$MMSAFE" preprocess --mmproj "$MM" --image "$FIX/images/alpha_64x48.png" --max-pixels 3000 -o "$T_TMP/x" 2>"$err"
  check_eq "--max-pixels refuses a 64x48 image at 3000" $? 1
  check_grep "limit message" "64x48 pixels, above the limit of 3000" "$err"
  [ -e "$T_TMP/x" ] && fail "no output file after an error" || ok "no output file after an error"

  for im in sq56 small_40x25 mmsafeaware_140 alpha_64x48 mmsafeaware_1063; do
    f=$(ls "$FIX/images/$im".*)
    for mode in llama.cpp llava; do
      suf=$([ $mode = llava ] && echo preproc_llava_56 || echo preproc_56)
      "$MMSAFE" preprocess --mmproj "$MM" --image "$f" --vision-mode $mode -o "$T_TMP/pre.bin" >"$out" 2>"$err"
      check_eq "preprocess $im $mode exits 0" $? 0
      gold="$FIX/expected/images/$im.$suf.f32.bin"
      if [ "$im" = mmsafeaware_1063 ]; then
        # our JPEG decoder is libjpeg-turbo, not stb_image: README 9.1 / 12.6
        # allow a level or two after preprocessing; in normalised units 2/255/0.26 < 0.031
        check "preprocess $im $mode within 2 levels of the golden" "$PY" - "$T_TMP/pre.bin" "$gold" <<'EOF'
import sys, numpy as np
a = np.fromfile(sys.argv[1], '<f4'); b = np.fromfile(sys.argv[2], '<f4')
assert a.shape == b.shape == (3 * 56 * 56,)
d = np.abs(a - b); print(d.max(), (d > 0).mean()); assert d.max() < 0.031 and (d > 0).mean() < 0.05
EOF
      else
        check "preprocess $im $mode equals the golden bit for bit" cmp -s "$T_TMP/pre.bin" "$gold"
      fi
    done
  done

  # image_embd: mmproj file -> a config that used it (README §2, §12); compared in one python run
  n=0; : >"$T_TMP/pairs"
  for pair in mmA-F32:A_F32 mmA-F16:A_F16 mmB-F32:B_F32 mmB-F16:B_Q4_K_M; do
    mm=${pair%%:*}; cfg=${pair##*:}
    for im in sq56:i_sq56 mmsafeaware_140:i_mmsa_0140 alpha_64x48:i_alpha_64x48; do
      img=${im%%:*}; cas=${im##*:}
      for mode in llama.cpp llava; do
        sfx=$([ $mode = llava ] && echo _llava)
        for arith in fast exact; do
          n=$((n + 1))
          "$MMSAFE" embed-image --mmproj "$FIX/models/$mm.gguf" --image "$FIX/images/$img.png" \
            --vision-mode $mode --arith $arith --threads 2 -o "$T_TMP/e$n.bin" >"$out" 2>"$err"
          check_eq "embed-image $mm $img $mode $arith exits 0" $? 0
          tol=$([ $arith = fast ] && echo 1e-3 || { [ "${mm#*-}" = F16 ] && echo 4e-3 || echo 3e-3; })
          echo "$T_TMP/e$n.bin $FIX/expected/$cfg$sfx/$cas.image_embd.f32.bin $tol embed-$mm-$img-$mode-$arith" >>"$T_TMP/pairs"
        done
      done
    done
  done
  # llama.cpp's default flash attention (F16 K/V) against its own golden config
  for img in sq56:i_sq56 alpha_64x48:i_alpha_64x48; do
    n=$((n + 1))
    "$MMSAFE" embed-image --mmproj "$FIX/models/mmB-F32.gguf" --image "$FIX/images/${img%%:*}.png" \
      --vision-mode llama.cpp --kv f16 -o "$T_TMP/e$n.bin" >"$out" 2>"$err"
    check_eq "embed-image --kv f16 ${img%%:*} exits 0" $? 0
    echo "$T_TMP/e$n.bin $FIX/expected/B_F32_kvf16_faauto/${img##*:}.image_embd.f32.bin 7e-4 embed-kvf16-${img%%:*}" >>"$T_TMP/pairs"
  done
  "$MMSAFE" embed-image --mmproj "$FIX/models/mmB-F32.gguf" --image "$FIX/images/sq56.png" --kv f8 -o "$T_TMP/x" 2>"$err"
  check_eq "--kv f8 exits 2" $? 2
  "$PY" - "$T_TMP/pairs" >"$T_TMP/r" 2>&1 <<'EOF'
import sys, numpy as np
for line in open(sys.argv[1]):
    got, gold, tol, label = line.split()
    a = np.fromfile(got, '<f4'); b = np.fromfile(gold, '<f4')
    r = np.abs(a - b).max() / np.abs(b).max() if a.shape == b.shape else 1e9
    print("%s %s max rel %.3g (tol %s)" % ("ok" if r <= float(tol) else "bad", label, r, tol))
EOF
  check_eq "every image_embd comparison ran" "$(grep -cE '^(ok|bad) ' "$T_TMP/r")" "$n"
  while read -r st rest; do
    if [ "$st" = ok ]; then ok "$rest"; else fail "$rest"; fi
  done < <(grep -E '^(ok|bad) ' "$T_TMP/r")

  # ------------------------------------------------ logits with an image (every image case)
  # `mmsafe logits --mmproj --image`: the fixtures' decoded pixels fed as PPM (P6), the
  # question put into the vicuna template, F32 KV as the goldens (F16 for the
  # default-attention config); last logits within the case's tolerance (README §9.4 /
  # §12.5), top-1 where top1_reliable.
  "$MMSAFE" logits --help >"$out" 2>&1
  check_grep "logits --help explains the image options" "--mmproj FILE .*vision projector" "$out"
  check_grep "logits --help explains --raw" "--raw .*<__media__>" "$out"
  check_grep "logits --help explains the vision modes" "--vision-mode MODE +llava \(default\)" "$out"
  "$PY" - "$FIX" "$T_TMP" >"$T_TMP/cases.tsv" <<'EOF'
import sys, json, numpy as np
fix, tmp = sys.argv[1], sys.argv[2]
j = json.load(open(fix + '/index.json'))
for name in j['images']:
    c = next(c for c in j['cases'] if c['kind'] == 'image' and c['image'] == name)
    o = c['outputs']['decoded_rgb']; h, w, _ = o['shape']
    px = np.fromfile(fix + '/' + o['file'], np.uint8)
    open('%s/%s.ppm' % (tmp, name), 'wb').write(b'P6\n%d %d\n255\n' % (w, h) + px.tobytes())
for i, c in enumerate(j['cases']):
    if c['kind'] != 'image': continue
    q = '%s/q%d.txt' % (tmp, i)
    open(q, 'wb').write(c['question'].encode())
    kv = 'f16' if j['configs'][c['config']]['settings'] == 'llama_cpp_default_attention' else 'f32'
    t = c['tolerance']; lim = 1e-2 if kv == 'f16' else t['logits_max_rel']
    print('\t'.join([c['id'], c['model'], c['mmproj'], c['image'], c['vision_mode'], kv, q, c['outputs']['logits']['file'],
                     str(lim), str(c['top1']) if c['top1_reliable'] else '-']))
EOF
  check_eq "case list written" $? 0
  n=0; : >"$T_TMP/lpairs"
  while IFS=$'\t' read -r id lm mm img mode kv qf gold lim top1; do
    n=$((n + 1))
    "$MMSAFE" logits --model "$FIX/$lm" --mmproj "$FIX/$mm" --image "$T_TMP/$img.ppm" --vision-mode "$mode" --kv "$kv" \
      --prompt-file "$qf" -o "$T_TMP/l$n.bin" --top 1 >"$out" 2>"$err"
    if [ $? -ne 0 ]; then fail "logits $id: $(cat "$err")"; continue; fi
    [ "$top1" != - ] && { read -r got _ <"$out"; check_eq "logits $id: top-1 (reliable)" "$got" "$top1"; }
    echo "$T_TMP/l$n.bin $FIX/$gold $lim logits-$id" >>"$T_TMP/lpairs"
  done <"$T_TMP/cases.tsv"
  check_eq "all 105 image cases ran through the CLI" "$n" 105
  "$PY" - "$T_TMP/lpairs" >"$T_TMP/r" 2>&1 <<'EOF'
import sys, numpy as np
for line in open(sys.argv[1]):
    got, gold, tol, label = line.split()
    a = np.fromfile(got, '<f4'); b = np.fromfile(gold, '<f4')
    r = np.abs(a - b).max() / np.abs(b).max() if a.shape == b.shape else 1e9
    print("%s %s max rel %.3g (tol %s)" % ("ok" if r <= float(tol) else "bad", label, r, tol))
EOF
  check_eq "every logits comparison ran" "$(grep -cE '^(ok|bad) ' "$T_TMP/r")" "$(wc -l <"$T_TMP/lpairs")"
  while read -r st rest; do
    if [ "$st" = ok ]; then ok "$rest"; else fail "$rest"; fi
  done < <(grep -E '^(ok|bad) ' "$T_TMP/r")

  # the same case three ways: --prompt, --prompt-file, --raw with the templated text
  LA="$FIX/models/lmA-F32.gguf"; MA="$FIX/models/mmA-F32.gguf"
  Q=$("$PY" -c "import json,sys; j=json.load(open('$FIX/index.json')); print(next(c['question'] for c in j['cases'] if c['id']=='A_F32_llava/i_mmsa_0140'))")
  printf '%s' "$Q" >"$T_TMP/q.txt"
  printf 'USER: <__media__>\n%s\nASSISTANT:' "$Q" >"$T_TMP/raw.txt"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image "$T_TMP/mmsafeaware_140.ppm" --prompt "$Q" -o "$T_TMP/a.bin" \
    --print-tokens --answers Yes,No >"$out" 2>"$err"
  check_eq "logits with an image, default options, exits 0" $? 0
  check_eq "--print-tokens: the case's sequence" "$(head -1 "$out")" \
    "$("$PY" -c "import json; j=json.load(open('$FIX/index.json')); print(json.dumps(next(c['tokens'] for c in j['cases'] if c['id']=='A_F32_llava/i_mmsa_0140')))")"
  check_grep "--answers prints the verdict line" "^answers Yes/No: delta -?[0-9.]+ p_No [0-9.]+ mass [0-9.]+ delta1 -?[0-9.]+ verdict (Yes|No)$" "$out"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image "$T_TMP/mmsafeaware_140.ppm" --prompt-file "$T_TMP/q.txt" -o "$T_TMP/b.bin" 2>"$err"
  check "--prompt-file gives the same logits as --prompt" cmp -s "$T_TMP/a.bin" "$T_TMP/b.bin"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image "$T_TMP/mmsafeaware_140.ppm" --raw --prompt-file "$T_TMP/raw.txt" -o "$T_TMP/c.bin" 2>"$err"
  check "--raw with the templated text gives the same logits" cmp -s "$T_TMP/a.bin" "$T_TMP/c.bin"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image "$T_TMP/mmsafeaware_140.ppm" --prompt "$Q" --vision-mode llama.cpp -o "$T_TMP/d.bin" 2>"$err"
  check "the two vision modes give different logits" "$PY" -c "
import numpy as np
a = np.fromfile('$T_TMP/a.bin', '<f4'); b = np.fromfile('$T_TMP/d.bin', '<f4'); assert np.abs(a - b).max() > 1e-3"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image "$T_TMP/mmsafeaware_140.ppm" --prompt "$Q" --system "Be careful." -o "$T_TMP/e.bin" \
    --print-tokens >"$out" 2>"$err"
  check "--system changes the sequence" "$PY" -c "
import json; t = json.loads(open('$out').readline()); assert t[0] == 1 and t[1:5] != [722, 969, 916, -1]"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image "$T_TMP/mmsafeaware_140.ppm" --raw --prompt "no marker here" -o "$T_TMP/x.bin" 2>"$err"
  check_eq "--raw without <__media__> exits 1" $? 1
  check_grep "and says the marker is missing" "^mmsafe: error: --prompt: the prompt has no image marker <__media__>" "$err"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image "$T_TMP/mmsafeaware_140.ppm" --prompt "$Q" --ctx 40 -o "$T_TMP/x.bin" 2>"$err"
  check_eq "prompt + image over --ctx exits 1" $? 1
  check_grep "and says why" "needs 76 positions \(60 text \+ 16 image\), more than the context of 40" "$err"
  "$MMSAFE" logits --model "$LA" --mmproj "$FIX/models/mmB-F32.gguf" --image "$T_TMP/mmsafeaware_140.ppm" --prompt "$Q" -o "$T_TMP/x.bin" 2>"$err"
  check_eq "an mmproj of another width exits 1" $? 1
  check_grep "and says so" "projector outputs 256 values per image token but .*lmA-F32.gguf has n_embd 64" "$err"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image "$IMG/truncated.jpg" --prompt "$Q" -o "$T_TMP/x.bin" 2>"$err"
  check_eq "a truncated image exits 1" $? 1
  check_grep "and names it" "^mmsafe: error: .*truncated.jpg: truncated JPEG data" "$err"
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --prompt "$Q" -o "$T_TMP/x.bin" 2>"$err"
  check_eq "--mmproj without --image exits 2" $? 2
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image x.png --prompt "$Q" 2>"$err"
  check_eq "image logits with nothing to do exits 2" $? 2
  "$MMSAFE" logits --model "$LA" --mmproj "$MA" --image x.png --prompt "$Q" --template chatml2 -o y 2>"$err"
  check_eq "unknown --template exits 2" $? 2

  # JPEG decoder impact (README §9.1, §12.6): mmsafeaware_1063.jpeg decoded by libjpeg-turbo
  # (ours) instead of the reference's stb_image pixels, through the whole pipeline;
  # the README allows about 1e-2 relative.  Prints the measured changes.
  : >"$T_TMP/jpeg"
  while IFS=$'\t' read -r id lm mm img mode kv qf gold lim top1; do
    [ "$img" = mmsafeaware_1063 ] || continue
    for src in ppm jpeg; do
      f=$([ $src = ppm ] && echo "$T_TMP/$img.ppm" || echo "$FIX/images/$img.jpeg")
      "$MMSAFE" logits --model "$FIX/$lm" --mmproj "$FIX/$mm" --image "$f" --vision-mode "$mode" --kv "$kv" \
        --prompt-file "$qf" -o "$T_TMP/j$src.bin" --answers Yes,No >"$T_TMP/j$src.txt" 2>"$err" || fail "logits $id from $src: $(cat "$err")"
    done
    "$PY" - "$T_TMP/jppm.bin" "$T_TMP/jjpeg.bin" "$FIX/$gold" "$T_TMP/jppm.txt" "$T_TMP/jjpeg.txt" "$id" "$lm" "$lim" >>"$T_TMP/jpeg" <<'EOF'
import sys, numpy as np
a = np.fromfile(sys.argv[1], '<f4'); b = np.fromfile(sys.argv[2], '<f4'); g = np.fromfile(sys.argv[3], '<f4')
da, db = [float(open(p).read().split()[3]) for p in sys.argv[4:6]]
ch = np.abs(a - b).max() / np.abs(a).max(); rb = np.abs(b - g).max() / np.abs(g).max(); lim = float(sys.argv[8])
# F32/F16 LMs: README 12.6 allows about 1e-2 with one's own decoder; quantised LMs
# amplify it (rounding flips of the 8-bit activations), so there the libjpeg
# result must stay within the case's own tolerance against the golden.
good = (ch <= 1e-2 and rb <= 1e-2) if ('F32' in sys.argv[7] or 'F16' in sys.argv[7]) else rb <= lim
print('%s %-26s stb->libjpeg: logits max abs %.2e max rel %.2e; vs golden %.2e (stb) %.2e (libjpeg, tol %g); top-1 %s; Yes/No delta %+.4f -> %+.4f'
      % ('ok' if good else 'bad', sys.argv[6], np.abs(a - b).max(), ch, np.abs(a - g).max() / np.abs(g).max(), rb, lim,
         'same' if a.argmax() == b.argmax() else 'DIFFERENT', da, db))
EOF
  done <"$T_TMP/cases.tsv"
  echo "JPEG decoder impact on the logits (mmsafeaware_1063.jpeg, every config):" >&2
  sed 's/^[a-z]* //' "$T_TMP/jpeg" >&2
  check_eq "JPEG impact measured on all 21 configs" "$(grep -c 'stb->libjpeg' "$T_TMP/jpeg")" 21
  while read -r st rest; do
    if [ "$st" = ok ]; then ok "JPEG impact $rest"; else fail "JPEG impact $rest"; fi
  done < <(grep -E '^(ok|bad) ' "$T_TMP/jpeg")
else
  skip "../shared/fixtures/llava-tiny absent"
fi

# ---------------------------------------------------------------- S = 336
# A random-weight LLaVA-1.5-shaped mmproj, tiny inside: image 336, patch 14,
# hidden 16, 2 heads, FFN 32 with the legacy (swapped) names, 3 blocks, projector 16 -> 32 -> 24.
# A second argument makes a broken variant, for the refusal checks below.
MM336=$T_TMP/mm336.gguf
cat >"$T_TMP/mkmm.py" <<'EOF'
import sys, struct, numpy as np
rng = np.random.default_rng(5)
V = sys.argv[2] if len(sys.argv) > 2 else ''
D, F, H, S, P, L, MID, OUT = 16, 32, 2, 336 if V != 'bad_size' else 330, 14, 3, 32, 24
kv, tensors = [], []
def s(x): b = x.encode(); return struct.pack('<Q', len(b)) + b
def add(k, t, v): kv.append(s(k) + struct.pack('<I', t) + v)
add('general.architecture', 8, s('clip')); add('clip.projector_type', 8, s('ldp' if V == 'ldp' else 'mlp'))
if V == 'anyres': add('clip.vision.image_grid_pinpoints', 9, struct.pack('<IQ', 5, 4) + struct.pack('<4i', 336, 672, 672, 336))
add('clip.has_vision_encoder', 7, b'\1'); add('clip.use_gelu', 7, b'\0')
for k, v in [('image_size', S), ('patch_size', P), ('embedding_length', D), ('feed_forward_length', F),
             ('projection_dim', OUT), ('attention.head_count', H), ('block_count', L)]:
    add('clip.vision.' + k, 4, struct.pack('<I', v))
add('clip.vision.attention.layer_norm_epsilon', 6, struct.pack('<f', 1e-5))
for k, v in [('image_mean', [0.48145466, 0.4578275, 0.40821073]), ('image_std', [0.26862954, 0.26130258, 0.27577711])]:
    add('clip.vision.' + k, 9, struct.pack('<IQ', 6, 3) + struct.pack('<3f', *v))
def T(name, shape, f16=True, scale=0.2):   # shape in numpy order (outermost first)
    a = (rng.standard_normal(shape) * scale).astype(np.float16 if f16 else np.float32)
    tensors.append((name, a, 1 if f16 else 0))
n = (S // P) ** 2 + 1
T('v.patch_embd.weight', (D, 3, P, P)); T('v.position_embd.weight', (n - (V == 'wrong_pos'), D))
if V != 'no_class': T('v.class_embd', (D,), False)
if V == 'mlp_norm': T('mm.3.weight', (OUT,), False)
T('v.pre_ln.weight', (D,), False, 1); T('v.pre_ln.bias', (D,), False)
for i in range(L):
    b = 'v.blk.%d.' % i
    for nm in ('ln1', 'ln2'): T(b + nm + '.weight', (D,), False, 1); T(b + nm + '.bias', (D,), False)
    for nm in ('attn_q', 'attn_k', 'attn_v', 'attn_out'): T(b + nm + '.weight', (D, D)); T(b + nm + '.bias', (D,), False)
    T(b + 'ffn_down.weight', (F, D)); T(b + 'ffn_down.bias', (F,), False)   # legacy: this is fc1
    T(b + 'ffn_up.weight', (D, F)); T(b + 'ffn_up.bias', (D,), False)
T('mm.0.weight', (MID, D)); T('mm.0.bias', (MID,), False); T('mm.2.weight', (OUT, MID)); T('mm.2.bias', (OUT,), False)
hdr = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kv)) + b''.join(kv)
off, infos, blobs = 0, [], []
for name, a, t in tensors:
    ne = list(a.shape[::-1])
    infos.append(s(name) + struct.pack('<I', len(ne)) + struct.pack('<%dQ' % len(ne), *ne) + struct.pack('<IQ', t, off))
    raw = a.tobytes(); pad = (-len(raw)) % 32
    blobs.append(raw + b'\0' * pad); off += len(raw) + pad
hdr += b''.join(infos); hdr += b'\0' * ((-len(hdr)) % 32)
open(sys.argv[1], 'wb').write(hdr + b''.join(blobs))
EOF
"$PY" "$T_TMP/mkmm.py" "$MM336"; check_eq "write the S=336 mmproj" $? 0
# Out of scope or malformed projectors are refused with a reason (spec §0.1, §5.2)
for v in "mlp_norm:mm.3.weight present: an mlp_norm .*not supported" "anyres:clip.vision.image_grid_pinpoints present: LLaVA-1.6" \
         "ldp:projector type 'ldp' is not supported" "no_class:missing tensor v.class_embd" \
         "bad_size:image_size 330 is not a multiple of patch_size 14" "wrong_pos:v.position_embd.weight has 576 rows"; do
  name=${v%%:*}; want=${v#*:}
  "$PY" "$T_TMP/mkmm.py" "$T_TMP/$name.gguf" "$name"
  "$MMSAFE" embed-image --mmproj "$T_TMP/$name.gguf" --image "$IMG/rgb_32x24.png" -o "$T_TMP/x.bin" 2>"$err"
  check_eq "mmproj variant $name refused with exit 1" $? 1
  check_grep "mmproj variant $name: the reason" "^mmsafe: error: .*$name.gguf: $want" "$err"
done

# Images: our fixtures (exact PNG/PPM-equivalents) and, when present, a spread
# of the release: large and small JPEGs, PNGs, the JPEG-in-.png, a WebP.
imgs=("$IMG/rgb_32x24.png" "$IMG/rgba.png" "$IMG/palette.png" "$IMG/gray.jpg" "$IMG/progressive.jpg")
if have_shared data/mmsafeaware; then
  D="$SHARED/data/mmsafeaware"
  for f in images/1.jpeg images/140.png images/1063.jpeg images/1002.png images2/2037.png; do
    [ -f "$D/$f" ] && imgs+=("$D/$f")
  done
  w=$(ls "$D"/images/*.webp "$D"/images2/*.webp 2>/dev/null | head -1); [ -n "$w" ] && imgs+=("$w")
else
  skip "../shared/data/mmsafeaware absent: release images not checked at S=336"
fi
n=0; : >"$T_TMP/list"
for f in "${imgs[@]}"; do
  for mode in llava llama.cpp; do
    n=$((n + 1))
    "$MMSAFE" preprocess --mmproj "$MM336" --image "$f" --vision-mode $mode -o "$T_TMP/p$n.bin" >"$out" 2>"$err"
    if [ $? -ne 0 ]; then fail "preprocess $(basename "$f") $mode at 336: $(cat "$err")"; continue; fi
    printf '%s\t%s\t%s\n' "$f" "$T_TMP/p$n.bin" $mode >>"$T_TMP/list"
  done
done
"$PY" - "$T_TMP/list" >"$T_TMP/r" 2>&1 <<'EOF'
import sys, numpy as np
from PIL import Image
S = 336
f32 = np.float32
mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
def reference(path, mode):
    im = Image.open(path).convert('RGB')           # libjpeg-turbo / libpng: the same pixels as mmsafe
    if mode == 'llava':                             # LLaVA expand2square + CLIPImageProcessor (Pillow BICUBIC)
        w, h = im.size; side = max(w, h)
        sq = Image.new('RGB', (side, side), tuple(int(x * 255) for x in mean.astype(float)))
        sq.paste(im, ((side - w) // 2, (side - h) // 2))
        u8 = np.asarray(sq.resize((S, S), Image.BICUBIC) if side != S else sq)
    else:                                           # spec 5.3, transcribed to numpy float32
        src = np.asarray(im).astype(np.float32); h, w = src.shape[:2]
        if w == S and h == S: u8 = np.asarray(im)
        else:
            s = min(f32(S) / f32(w), f32(S) / f32(h))
            nw = min(int(np.ceil(f32(w) * s)), S); nh = min(int(np.ceil(f32(h) * s)), S)
            tx, ty = f32(w) / f32(nw), f32(h) / f32(nh)
            fx = tx * np.arange(nw, dtype=np.float32); fy = ty * np.arange(nh, dtype=np.float32)
            x = fx.astype(np.int64); y = fy.astype(np.int64)
            dx = (fx - x.astype(np.float32)).astype(np.float32); dy = (fy - y.astype(np.float32)).astype(np.float32)
            def cubic(pm1, p0, p1, p2, t):
                d0, d2, d3 = (pm1 - p0).astype(f32), (p1 - p0).astype(f32), (p2 - p0).astype(f32)
                a1 = (-1.0 / 3 * d0.astype(float) + d2 - 1.0 / 6 * d3).astype(f32)
                a2 = (1.0 / 2 * d0.astype(float) + 1.0 / 2 * d2).astype(f32)
                a3 = (-1.0 / 6 * d0.astype(float) - 1.0 / 2 * d2 + 1.0 / 6 * d3).astype(f32)
                return ((p0 + a1 * t) + (a2 * t) * t) + ((a3 * t) * t) * t
            cx = [np.clip(x + k, 0, w - 1) for k in (-1, 0, 1, 2)]
            rows = []
            for m in range(4):
                r = src[np.clip(y - 1 + m, 0, h - 1)]                 # (nh, w, 3)
                rows.append(cubic(*[r[:, c] for c in cx], dx[None, :, None]))
            v = cubic(*rows, dy[:, None, None])
            r = np.floor(np.abs(v).astype(np.float64) + 0.5)   # roundf: half away from zero
            v = np.where(v >= 0, r, -r)
            res = np.clip(v, 0, 255).astype(np.uint8)
            u8 = np.empty((S, S, 3), np.uint8); u8[:] = (122, 116, 104)
            ox, oy = (S - nw) // 2, (S - nh) // 2
            u8[oy:oy + nh, ox:ox + nw] = res
    want = (u8.astype(np.float32) / np.float32(255) - mean) / std
    return want.transpose(2, 0, 1).astype('<f4').ravel()
for line in open(sys.argv[1]):
    path, got, mode = line.rstrip('\n').split('\t')
    want = reference(path, mode)
    a = np.fromfile(got, '<f4')
    nd = int((a != want).sum()) if a.shape == want.shape else -1
    print('%s %s %s at 336: %d of %d values differ from the reference' % ('ok' if nd == 0 else 'bad', path.split('/')[-1], mode, nd, want.size))
EOF
check_eq "every S=336 comparison ran" "$(grep -cE '^(ok|bad) ' "$T_TMP/r")" "$(wc -l <"$T_TMP/list")"
grep -q Traceback "$T_TMP/r" && fail "reference script: $(tail -3 "$T_TMP/r")"
while read -r st rest; do
  if [ "$st" = ok ]; then ok "$rest"; else fail "$rest"; fi
done < <(grep -E '^(ok|bad) ' "$T_TMP/r")

# embed-image at 336: 576 rows x 24; threads and arith behave
f=${imgs[1]}
for mode in llava llama.cpp; do
  for t in 1 2; do
    "$MMSAFE" embed-image --mmproj "$MM336" --image "$f" --vision-mode $mode --threads $t -o "$T_TMP/e$t.bin" >"$out" 2>"$err"
    check_eq "embed-image 336 $mode --threads $t exits 0" $? 0
  done
  check_grep "embed-image reports the shape" "float32 \[576, 24\] \($mode mode, fast arithmetic" "$out"
  check_eq "embed-image 336 $mode writes 576 x 24 floats" "$(stat -c %s "$T_TMP/e1.bin")" $((576 * 24 * 4))
  check "embed-image 336 $mode: 1 and 2 threads bit-identical" cmp -s "$T_TMP/e1.bin" "$T_TMP/e2.bin"
  cp "$T_TMP/e1.bin" "$T_TMP/$mode.bin"
  "$MMSAFE" embed-image --mmproj "$MM336" --image "$f" --vision-mode $mode --arith exact -o "$T_TMP/ex.bin" >"$out" 2>"$err"
  check "embed-image 336 $mode: exact within 1e-2 of fast, all finite" "$PY" -c "
import sys, numpy as np
a = np.fromfile('$T_TMP/e1.bin', '<f4'); b = np.fromfile('$T_TMP/ex.bin', '<f4')
assert np.isfinite(a).all() and np.isfinite(b).all() and a.std() > 0
r = np.abs(a - b).max() / np.abs(b).max(); print(r); assert 0 < r < 1e-2"
done
check "the two vision modes give different embeddings" "$PY" -c "
import numpy as np
a = np.fromfile('$T_TMP/llava.bin', '<f4'); b = np.fromfile('$T_TMP/llama.cpp.bin', '<f4')
assert np.abs(a - b).max() / np.abs(b).max() > 0.1"
done_t
