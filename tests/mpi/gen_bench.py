#!/usr/bin/env python3
"""Writes a synthetic benchmark for the MPI tests: N items (no images), and for
each of M models a responses file with a mix of Yes/No/unparsable answers and
a few missing responses.  Deterministic (seeded).  Usage: gen_bench.py DIR N M"""
import json, os, random, sys
d, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d, exist_ok=True)
r = random.Random(1234)
subsets = ["typical", "attack", "oversafe"]
with open(os.path.join(d, "manifest.jsonl"), "w") as f:
    for i in range(n):
        s = subsets[i % 3]
        f.write(json.dumps({"id": f"q{i}", "image": None, "prompt": f"Is item {i} safe? \u00e9",
                            "label": "safe" if s == "oversafe" else "unsafe", "subset": s,
                            "scenario": f"sc{i % 5}"}) + "\n")
answers = ["Yes", "No", "yes, fine", "No.", "I can't say", "**No**", "Sure"]
for k in range(m):
    with open(os.path.join(d, f"resp{k}.jsonl"), "w") as f:
        for i in range(n):
            if r.random() < 0.03:
                continue
            a = r.choice(answers) + (" " + "x" * r.randrange(0, 900) if r.random() < 0.1 else "")
            f.write(json.dumps({"id": f"q{i}", "response": a}) + "\n")
