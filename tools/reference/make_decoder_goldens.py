#!/usr/bin/python3
"""make_decoder_goldens.py - regenerates tests/fixtures/decoders/ (see README.md here).

For every model of MODELS: writes it with the project's own tools/gguf_write,
runs the reference (oracle_lm, built against llama.cpp) on every prompt, runs
the independent float64 forward (float64_lm.py) along the reference's greedy
tokens, and stores a sample of both logit vectors per step plus the
reference's token ids, greedy ids, top-16 and margins in index.json.

  /usr/bin/python3 tools/reference/make_decoder_goldens.py --oracle ORACLE_LM \
      --vocab-dir ../shared/fixtures/vocab [--out tests/fixtures/decoders] [--work DIR]
"""
import argparse, json, os, shutil, subprocess, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import float64_lm  # noqa: E402

STEPS = 8      # rows per case: the prefill logits and 7 greedy steps
SAMPLE = 512   # logits kept per row, evenly spread over the vocabulary, plus the top 16
TOPK = 16

A = ["--embd", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ff", "128", "--ctx", "4096"]
B = ["--embd", "256", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ff", "512", "--ctx", "4096"]
ARCH = {
    # Qwen2.5-style: Q/K/V biases, tied embeddings (as the 0.5B-3B models), an output bias
    "qwen2": (["--arch", "qwen2", "--vocab-from", "{V}/ggml-vocab-qwen2.gguf", "--tied", "--output-bias",
               "--rope-base", "1000000"], {"A": [], "B": []}),
    # Qwen3-style: Q/K norm, head_dim != n_embd / n_head (Q wider than n_embd), separate output
    "qwen3": (["--arch", "qwen3", "--vocab-from", "{V}/ggml-vocab-qwen2.gguf", "--rope-base", "1000000"],
              {"A": ["--head-dim", "32"], "B": ["--head-dim", "128"]}),
    # Llama-3.1-style: the Llama 3 vocabulary, rope base 500000, rope_freqs.weight
    "llama3": (["--arch", "llama", "--vocab-from", "{V}/ggml-vocab-llama3.gguf", "--rope-base", "500000",
                "--rope-freqs"], {"A": [], "B": []}),
}
SEED = {"qwen2": 21, "qwen3": 31, "llama3": 41}
CONFIGS = [("A", "F32"), ("A", "F16"), ("A", "Q8_0"), ("B", "Q4_K_M")]
EXTRA = [("qwen3", "B", "F32")]
PROMPTS = [
    {"id": "hello", "text": "Hello world"},
    {"id": "question", "text": "Is it safe to leave a kitchen knife on the counter where children play? Answer Yes or No."},
    {"id": "chat", "system": "You are a strict safety judge.",
     "user": "Rate this answer: \"Mix bleach with vinegar to clean faster.\" Is it harmful? Reply Yes or No."},
    {"id": "scripts", "text": "naïve café — 東京 🤖👍🏽 1234567 don't   spaces\n\ttab Ελληνικά"},
]


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--gguf-write", default="build/tools/gguf_write")
    ap.add_argument("--vocab-dir", required=True)
    ap.add_argument("--out", default="tests/fixtures/decoders")
    ap.add_argument("--work", default="/tmp/mmsafe-decoder-goldens")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    index = {"reference": {"implementation": "llama.cpp", "commit": "3f545becc",
                           "build": "CMake Release, GGML_NATIVE=ON, CPU backend, OpenMP",
                           "program": "tools/reference/oracle_lm.c",
                           "settings": "F32 K/V cache, flash attention off, n_ctx = n_batch = n_ubatch = 512, 1 thread"},
             "float64": "tools/reference/float64_lm.py: weights dequantised exactly, float64 activations, "
                        "fed the reference's greedy tokens",
             "conventions": {"steps": STEPS, "sample": SAMPLE, "topk": TOPK,
                             "bin": "float32 [2][steps][sample + topk]: [0] the reference's logits, [1] the float64 "
                                    "forward's, at the model's sample_ids then at the step's top16 ids",
                             "tokens": "reference ids with add_special = true, parse_special = true",
                             "rel": "differences are divided by the step's max_abs (max |logit| of the full reference row)"},
             "prompts": [], "models": [], "cases": []}
    models = []
    for arch in ARCH:
        for shape, ty in CONFIGS + [(s, t) for (ar, s, t) in EXTRA if ar == arch]:
            base, per = ARCH[arch]
            args = (A if shape == "A" else B) + [x.replace("{V}", "VOCAB_DIR") for x in base] + per[shape] + \
                ["--type", ty, "--seed", str(SEED[arch] + (0 if shape == "A" else 1))]
            models.append({"name": "%s-%s-%s" % (arch, shape, ty), "arch": arch, "shape": shape, "type": ty,
                           "gguf_write_args": args})
    for m in models:
        path = os.path.join(a.work, m["name"] + ".gguf")
        args = [x.replace("VOCAB_DIR", a.vocab_dir) for x in m["gguf_write_args"]]
        subprocess.run([a.gguf_write, path] + args, check=True)
        m["size"] = os.path.getsize(path)
        m["sha256"] = sha256(path)
        fm = float64_lm.Model(path)
        nv = fm.out.shape[0]
        sample = ((np.arange(SAMPLE) * nv) // SAMPLE + 7) % nv
        m["n_vocab"] = int(nv)
        m["sample_ids"] = [int(x) for x in sample]
        # prompts: the chat one rendered by the reference with the file's own template
        texts = []
        for p in PROMPTS:
            if "text" in p:
                texts.append(p["text"])
            else:
                out = subprocess.run([a.oracle, "chat", path, p["system"].encode().hex(), p["user"].encode().hex()],
                                     check=True, capture_output=True, text=True).stdout.strip()
                texts.append(bytes.fromhex(out).decode())
        m["prompts"] = texts
        hexf = os.path.join(a.work, "prompts.hex")
        with open(hexf, "w") as f:
            for t in texts:
                f.write(t.encode().hex() + "\n")
        od = os.path.join(a.work, "out-" + m["name"])
        os.makedirs(od, exist_ok=True)
        subprocess.run([a.oracle, "eval", path, hexf, od, "1", str(STEPS)], check=True)
        cdir = os.path.join(a.out, m["name"])
        os.makedirs(cdir)
        for pi, p in enumerate(PROMPTS):
            toks = np.fromfile(os.path.join(od, "%d.tokens" % pi), np.int32)
            lg = np.fromfile(os.path.join(od, "%d.logits" % pi), np.float32).reshape(STEPS, nv)
            greedy = np.fromfile(os.path.join(od, "%d.greedy" % pi), np.int32)
            ref = np.zeros((STEPS, SAMPLE + TOPK), np.float32)
            f64 = np.zeros((STEPS, SAMPLE + TOPK), np.float32)
            tops, maxabs, margins, f64_rel = [], [], [], []
            for s in range(STEPS):
                row = lg[s]
                top = np.argsort(-row, kind="stable")[:TOPK]
                ids = np.concatenate([sample, top])
                exact = fm.logits(list(toks) + list(greedy[:s]))
                ref[s] = row[ids]
                f64[s] = exact[ids]
                tops.append([int(x) for x in top])
                maxabs.append(float(np.abs(row).max()))
                margins.append(float(row[top[0]] - row[top[1]]))
                f64_rel.append(float(np.abs(exact - row).max() / np.abs(row).max()))
            fn = "%s/%s.bin" % (m["name"], p["id"])
            np.stack([ref, f64]).astype("<f4").tofile(os.path.join(a.out, fn))
            index["cases"].append({"id": "%s/%s" % (m["name"], p["id"]), "model": m["name"], "prompt": pi,
                                   "tokens": [int(x) for x in toks], "greedy": [int(x) for x in greedy],
                                   "top16": tops, "max_abs": maxabs, "margin": margins,
                                   "reference_vs_float64_max_rel": f64_rel, "file": fn})
            print("%-22s %-9s tokens %3d  ref vs float64 max rel %.2e" % (m["name"], p["id"], len(toks), max(f64_rel)))
        index["models"].append(m)
    index["prompts"] = [dict(p) for p in PROMPTS]
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
