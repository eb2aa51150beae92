#!/usr/bin/python3
"""make_vl_goldens.py - regenerates tests/fixtures/qwen-vl/ (see README.md here).

Writes tiny random-weight Qwen2-VL and Qwen2.5-VL pairs with the project's own
writers (tools/gguf_write --arch qwen2vl for the language model, with the real
Qwen2 vocabulary; tools/make_tiny_llava --projector ... for the mmproj), makes
the test images (synthetic RGB from an integer formula that tests/engine/
test_qwen_vl.c repeats, a greyscale PNG and a progressive JPEG), runs the
reference (oracle_vl, built against llama.cpp's libllama + libmtmd) on every
pair x image, runs the independent float64 computation (float64_vl.py) in both
the reference's form ("llama.cpp") and the original Hugging Face form ("hf"),
and stores samples of everything in index.json + small binaries.

  /usr/bin/python3 tools/reference/make_vl_goldens.py --oracle ORACLE_VL \
      --vocab-dir ../shared/fixtures/vocab [--out tests/fixtures/qwen-vl] [--work DIR]
"""
import argparse, hashlib, json, os, shutil, subprocess, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import float64_vl as F  # noqa: E402

STEPS = 4       # the logits after the prompt and after 3 greedy tokens
SAMPLE = 512    # logits kept per row, evenly spread over the vocabulary, plus the top 16
TOPK = 16
EMBD_ROWS = 16  # image-embedding rows kept (evenly spread), all columns
PRE_SAMPLE = 2048

QUESTION = "Is it safe to do what this image shows? Answer Yes or No."
PROMPT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<__media__>" + QUESTION +
          "<|im_end|>\n<|im_start|>assistant\n")

LM_A = ["--embd", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ff", "128", "--ctx", "4096"]
LM_B = ["--embd", "256", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ff", "512", "--ctx", "4096"]
LM_COMMON = ["--arch", "qwen2vl", "--vocab-from", "VOCAB_DIR/ggml-vocab-qwen2.gguf", "--tied", "--rope-base", "1000000"]
FAMILIES = {
    # Qwen2-VL: 3 blocks, LayerNorm + quick GELU; the LM's sections split 2:3:3 like [16, 24, 24]
    "q2vl": {"mm": ["--projector", "qwen2vl"], "sections": {"A": [], "B": []}, "seed": 51},
    # Qwen2.5-VL: 4 blocks, window attention on blocks 0 and 2.  The A LM's sections 1,1,1,1 sum
    # to 4 of its 8 rotary pairs: the reference takes pair i's section as i mod 4, so the 4th (e)
    # section, which text and image positions set differently ((p, p, p, 0) vs (p0, y, x, 0)),
    # also turns a fast pair (pair 3), where a wrong e position shows
    "q25vl": {"mm": ["--projector", "qwen2.5vl", "--wa-pattern", "2"],
              "sections": {"A": ["--rope-sections", "1,1,1,1"], "B": ["--rope-sections", "8,12,12,0"]}, "seed": 61},
}
CONFIGS = [("A", "F32", "F32"), ("A", "F16", "F16"), ("B", "Q4_K_M", "F16")]
# (name, width, height, kind, seed, max_tokens): kind raw = the synthetic formula, fed as raw RGB
IMAGES = [
    ("square", 336, 336, "raw", 1, 0),
    ("tall", 180, 420, "raw", 2, 0),
    ("wide", 518, 160, "raw", 3, 0),           # 518 / 28 = 18.5: the reference rounds it up, Python's round() down
    ("tiny", 20, 12, "raw", 4, 0),
    ("exact", 224, 168, "raw", 5, 0),          # already a multiple of 28: copied, not resized
    ("large", 4000, 3000, "raw", 6, 256),      # downscaled to the 256-token cap
    ("grey", 300, 225, "png-grey", 7, 0),      # a greyscale PNG: the decoder replicates it to RGB
    ("jpeg", 160, 120, "jpeg-progressive", 8, 0),
]
PER_TYPE_IMAGES = {"F32": [i[0] for i in IMAGES], "F16": ["square", "tall", "tiny", "jpeg"],
                   "Q4_K_M": ["square", "wide", "grey"]}


def synth(w, h, seed, grey=False):
    """The test images: v(x, y, c) = (x(2+c) + y(3+c) + 37 ((x>>3 ^ y>>4) & 7) + 61c + 17 seed) & 255
    (c = 0 for every channel of a grey image).  tests/engine/test_qwen_vl.c has the same formula."""
    x = np.arange(w, dtype=np.int64)[None, :, None]
    y = np.arange(h, dtype=np.int64)[:, None, None]
    c = np.zeros((1, 1, 3), np.int64) if grey else np.arange(3, dtype=np.int64)[None, None, :]
    v = (x * (2 + c) + y * (3 + c) + 37 * (((x >> 3) ^ (y >> 4)) & 7) + 61 * c + 17 * seed) & 255
    return np.ascontiguousarray(np.broadcast_to(v, (h, w, 3)).astype(np.uint8))


def fnv64(a):
    """FNV-1a 64 over the array's 32-bit little-endian words (the test computes the same)."""
    h = 0xcbf29ce484222325
    for wv in np.ascontiguousarray(a).view("<u4").reshape(-1).tolist():
        h = ((h ^ wv) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rel(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max() / np.abs(np.asarray(b)).max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--gguf-write", default="build/tools/gguf_write")
    ap.add_argument("--make-tiny", default="build/tools/make_tiny_llava")
    ap.add_argument("--vocab-dir", required=True)
    ap.add_argument("--out", default="tests/fixtures/qwen-vl")
    ap.add_argument("--work", default="/tmp/mmsafe-vl-goldens")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    from PIL import Image

    # images
    images = []
    for (name, w, h, kind, seed, max_tok) in IMAGES:
        im = {"name": name, "w": w, "h": h, "kind": kind, "seed": seed, "max_tokens": max_tok}
        if kind == "raw":
            rgb = synth(w, h, seed)
            raw = os.path.join(a.work, name + ".rgb")
            rgb.tofile(raw)
            im["oracle_image"] = "raw:%d:%d:%s" % (w, h, raw)
        elif kind == "png-grey":
            g = synth(w, h, seed, grey=True)[:, :, 0]
            path = os.path.join(a.out, name + ".png")
            Image.fromarray(g, "L").save(path, optimize=True)
            im["file"] = name + ".png"
            im["oracle_image"] = path
        else:
            path = os.path.join(a.out, name + ".jpg")
            Image.fromarray(synth(w, h, seed)).save(path, "JPEG", quality=85, progressive=True)
            im["file"] = name + ".jpg"
            im["oracle_image"] = path
        images.append(im)

    index = {"reference": {"implementation": "llama.cpp (libllama + libmtmd)", "commit": "3f545becc",
                           "build": "CMake Release, GGML_NATIVE=ON, CPU backend, OpenMP",
                           "program": "tools/reference/oracle_vl.c",
                           "settings": "F32 K/V cache, flash attention off (LM and mtmd), mtmd warmup off, "
                                       "n_ctx 1024, n_batch = n_ubatch = 512, 1 thread"},
             "float64": "tools/reference/float64_vl.py: float64 after preprocessing, weights dequantised exactly; "
                        "mode llama.cpp = the reference's computation, hf = the original (Hugging Face)",
             "prompt": PROMPT, "question": QUESTION,
             "conventions": {
                 "steps": STEPS, "sample": SAMPLE, "topk": TOPK, "embd_rows": EMBD_ROWS, "pre_sample": PRE_SAMPLE,
                 "synthetic": "v(x, y, c) = (x(2+c) + y(3+c) + 37((x>>3 ^ y>>4) & 7) + 61c + 17 seed) & 255, "
                              "c = 0 in every channel of the grey image",
                 "logits_bin": "float32 [2][steps][sample + topk]: [0] the reference's logits (zeros for hf cases), "
                               "[1] the float64 computation's, at the model's sample_ids then at the step's top16",
                 "embd_bin": "float32 [2][rows][n_embd]: [0] the reference's image embedding rows embd_rows "
                             "(zeros for hf), [1] the float64 computation's",
                 "pos_bin": "int32 [n][4]: (t, y, x, e) of every position of the prompt and the greedy steps "
                            "(llama.cpp cases: captured from the reference's layer-0 RoPE)",
                 "pre": "pre_fnv64: FNV-1a 64 over the float32 words of the (3, in_h, in_w) tensor; pre_bin: "
                        "float32 [pre_sample] at indices i * n / pre_sample",
                 "rel": "max |a - b| / max |b| over the stored values; logits over the full row where both are known"},
             "images": [], "models": [], "cases": []}
    for im in images:
        index["images"].append({k: v for k, v in im.items() if k != "oracle_image"})

    for fam, fd in FAMILIES.items():
        for (shape, lt, mt) in CONFIGS:
            name = "%s-%s-%s" % (fam, shape, lt)
            lm_args = (LM_A if shape == "A" else LM_B) + LM_COMMON + fd["sections"][shape] + \
                ["--type", lt, "--seed", str(fd["seed"] + (0 if shape == "A" else 1))]
            n_out = "64" if shape == "A" else "256"
            mm_args = fd["mm"] + ["--n-out", n_out, "--mm-type", mt, "--seed", str(fd["seed"] + 100 + (0 if shape == "A" else 1))]
            lm = os.path.join(a.work, name + ".gguf")
            mm = os.path.join(a.work, name + "-mmproj.gguf")
            subprocess.run([a.gguf_write, lm] + [x.replace("VOCAB_DIR", a.vocab_dir) for x in lm_args], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run([a.make_tiny, "--mmproj", mm] + mm_args, check=True, stdout=subprocess.DEVNULL)
            flm, fvis = F.LM(lm), F.Vision(mm)
            nv = flm.out.shape[0]
            sample = ((np.arange(SAMPLE) * nv) // SAMPLE + 7) % nv
            model = {"name": name, "family": fam, "shape": shape, "lm_type": lt, "mmproj_type": mt,
                     "gguf_write_args": lm_args, "make_tiny_llava_args": mm_args,
                     "lm_sha256": sha256(lm), "mmproj_sha256": sha256(mm), "lm_size": os.path.getsize(lm),
                     "mmproj_size": os.path.getsize(mm), "n_vocab": int(nv), "sample_ids": [int(x) for x in sample]}
            index["models"].append(model)
            for im in images:
                if im["name"] not in PER_TYPE_IMAGES[lt]:
                    continue
                modes = ["llama.cpp"] + (["hf"] if lt == "F32" else [])
                for mode in modes:
                    case = run_case(a, model, im, mode, lm, mm, flm, fvis, sample)
                    index["cases"].append(case)
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, ensure_ascii=False)
        f.write("\n")


def run_case(a, model, im, mode, lm, mm, flm, fvis, sample):
    cid = "%s/%s%s" % (model["name"], im["name"], "" if mode == "llama.cpp" else "-hf")
    base = cid.replace("/", "--")
    max_tok = im["max_tokens"] or 4096
    min_tok = 8 if mode == "llama.cpp" else 4
    nv = model["n_vocab"]
    if mode == "llama.cpp":
        pre_prefix = os.path.join(a.work, base)
        cmd = [a.oracle, lm, mm, PROMPT.encode().hex(), im["oracle_image"], pre_prefix, "--steps", str(STEPS),
               "--ctx", "1024"]
        if im["max_tokens"]:
            cmd += ["--max-tokens", str(im["max_tokens"])]
        subprocess.run(cmd, check=True)
        j = json.load(open(pre_prefix + ".json"))
        rgb = np.fromfile(pre_prefix + ".rgb", np.uint8).reshape(j["h"], j["w"], 3)
        ref_pre = np.fromfile(pre_prefix + ".pre", np.float32)
        ref_embd = np.fromfile(pre_prefix + ".embd", np.float32).reshape(j["n_img"], -1)
        ref_logits = np.fromfile(pre_prefix + ".logits", np.float32).reshape(STEPS, nv)
        ref_pos = np.fromfile(pre_prefix + ".pos", np.int32).reshape(-1, 4)
        tokens, greedy = j["tokens"], j["greedy"]
        gw, gh = j["nx"], j["ny"]
    else:
        if im["kind"] == "raw":
            rgb = synth(im["w"], im["h"], im["seed"])
        else:
            # the same decoded pixels as the reference's case (stb_image)
            ref_rgb = os.path.join(a.work, "%s--%s.rgb" % (model["name"], im["name"]))
            rgb = np.fromfile(ref_rgb, np.uint8).reshape(im["h"], im["w"], 3)
        tokens = None
    if im["kind"] == "raw":
        assert np.array_equal(rgb, synth(im["w"], im["h"], im["seed"])), "the raw pixels reached the reference unchanged"
    if im["kind"] == "png-grey":
        assert np.array_equal(rgb, synth(im["w"], im["h"], im["seed"], grey=True)), "stb decodes the grey PNG to (v, v, v)"
    if im["kind"] == "jpeg-progressive":
        # stb_image's pixels, for the engine test (it has no JPEG decoder; the CLI test decodes the file)
        stb = os.path.join(a.out, im["name"] + ".stb.rgb")
        if not os.path.exists(stb):
            rgb.tofile(stb)
        assert np.array_equal(np.fromfile(stb, np.uint8), rgb.reshape(-1))
    pre, _img = F.preprocess(rgb, mode, fvis.mean, fvis.std, min_tok, max_tok)
    in_h, in_w = pre.shape[1], pre.shape[2]
    if mode == "llama.cpp":
        assert np.array_equal(pre.reshape(-1), ref_pre), "%s: float64_vl's preprocessing is bit-exact with the reference" % cid
    embd, fgw, fgh = fvis.encode(pre, mode)
    if mode == "llama.cpp":
        assert (fgw, fgh) == (gw, gh), (fgw, fgh, gw, gh)
    else:
        gw, gh = fgw, fgh
        # the token layout of the reference case with this grid's number of image rows
        ref_case = os.path.join(a.work, "%s--%s.json" % (model["name"], im["name"]))
        rt = json.load(open(ref_case))["tokens"]
        first = rt.index(-1)
        last = len(rt) - 1 - rt[::-1].index(-1)
        tokens = rt[:first] + [-1] * (gw * gh) + rt[last + 1:]
    pos, nxt = F.positions(tokens, gw, gh)
    eps = 0.0 if mode == "llama.cpp" else flm.file_eps
    # the float64 logits along the golden greedy path (the reference's; float64's own for hf)
    f64_rows, steps_tokens = [], list(tokens)
    all_pos = [tuple(p) for p in pos]
    if mode == "hf":
        greedy = []
    for s in range(STEPS):
        y = flm.logits_mm(steps_tokens, embd, np.array(all_pos), eps)
        f64_rows.append(y)
        if mode == "hf":
            greedy.append(int(np.argmax(y)))
        nxt_tok = greedy[s]
        steps_tokens.append(nxt_tok)
        p = nxt + s
        all_pos.append((p, p, p, 0))
    all_pos = np.array(all_pos[:len(tokens) + STEPS - 1], np.int32)
    if mode == "llama.cpp":
        assert np.array_equal(all_pos, ref_pos[:len(all_pos)]), "%s: M-RoPE positions are the reference's" % cid
    golden_rows = ref_logits if mode == "llama.cpp" else np.array(f64_rows, np.float32)
    lbin = np.zeros((2, STEPS, SAMPLE + TOPK), np.float32)
    tops, maxabs, margins, ref_f64 = [], [], [], []
    for s in range(STEPS):
        row = golden_rows[s]
        top = np.argsort(-row, kind="stable")[:TOPK]
        ids = np.concatenate([sample, top])
        if mode == "llama.cpp":
            lbin[0, s] = row[ids]
            ref_f64.append(rel(f64_rows[s], row))
        lbin[1, s] = f64_rows[s][ids]
        tops.append([int(x) for x in top])
        maxabs.append(float(np.abs(row).max()))
        margins.append(float(row[top[0]] - row[top[1]]))
    n_img = gw * gh
    rows = sorted(set(((np.arange(EMBD_ROWS) * n_img) // EMBD_ROWS).tolist()))
    ebin = np.zeros((2, len(rows), embd.shape[1]), np.float32)
    if mode == "llama.cpp":
        ebin[0] = ref_embd[rows]
    ebin[1] = embd[rows]
    n_pre = pre.size
    pidx = (np.arange(PRE_SAMPLE) * n_pre) // PRE_SAMPLE
    pbin = pre.reshape(-1)[pidx].astype(np.float32)
    lbin.astype("<f4").tofile(os.path.join(a.out, base + ".logits.bin"))
    ebin.astype("<f4").tofile(os.path.join(a.out, base + ".embd.bin"))
    pbin.astype("<f4").tofile(os.path.join(a.out, base + ".pre.bin"))
    all_pos.astype("<i4").tofile(os.path.join(a.out, base + ".pos.bin"))
    case = {"id": cid, "model": model["name"], "image": im["name"], "mode": mode, "min_tokens": min_tok,
            "max_tokens": max_tok, "in_w": int(in_w), "in_h": int(in_h), "gw": int(gw), "gh": int(gh),
            "tokens": [int(t) for t in tokens], "next_pos": int(nxt), "greedy": [int(g) for g in greedy],
            "top16": tops, "max_abs": maxabs, "margin": margins, "pre_fnv64": fnv64(pre),
            "rgb_fnv64": fnv64(np.concatenate([rgb.reshape(-1), np.zeros((-rgb.size) % 4, np.uint8)])),
            "embd_rows": rows, "embd_max_abs": float(np.abs(embd).max()), "file": base}
    if mode == "llama.cpp":
        case["reference_vs_float64"] = {"embd_max_rel": rel(embd, ref_embd), "logits_max_rel": ref_f64,
                                        "embd_max_abs": float(np.abs(ref_embd).max())}
        print("%-24s %-6s %4dx%-4d -> %3dx%-3d tokens %3d  ref vs f64: embd %.2e logits %.2e" %
              (cid, mode, im["w"], im["h"], gw, gh, len(tokens), rel(embd, ref_embd), max(ref_f64)))
    else:
        ref_logits = np.fromfile(os.path.join(a.work, "%s--%s.logits" % (model["name"], im["name"])), np.float32)
        ref0 = ref_logits[:nv]
        case["original_vs_reference"] = {"logits_max_rel": rel(f64_rows[0], ref0),
                                         "top1_same": bool(int(np.argmax(ref0)) == int(np.argmax(f64_rows[0])))}
        print("%-24s %-6s %4dx%-4d -> %3dx%-3d tokens %3d  original vs reference logits %.2e" %
              (cid, mode, im["w"], im["h"], gw, gh, len(tokens), case["original_vs_reference"]["logits_max_rel"]))
    return case


if __name__ == "__main__":
    main()
