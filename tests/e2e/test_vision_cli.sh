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
