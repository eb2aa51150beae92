#!/usr/bin/python3
"""Compare models (checkpoints, ablations) across mmsafe results files.

    analysis/compare.py RESULTS.h5 [MORE.h5 ...] [--plot OUT.png] [--paired A B]

Prints one row per model with the paper's columns (accuracy % on Typical,
Attack, Over-Safe, their unweighted mean Total) plus FNR, FPR and AUROC, read
from the statistics each file stores (/models/NAME/stats, the same numbers
`mmsafe reduce` prints).  --plot draws the subset accuracies as grouped bars.
--paired A B compares two models item by item on the items both answered
(McNemar's exact test on the discordant pairs): is the difference between two
checkpoints more than noise?

Uses Debian's python3-h5py, python3-numpy and python3-matplotlib (make deps).
"""
import argparse
import math
import sys

import h5py
import numpy as np

SUBSETS = [("typical", "Typical"), ("attack", "Attack"), ("oversafe", "Over-Safe")]


def fail(msg):
    sys.exit(f"compare.py: error: {msg}")


def open_results(p):
    """Opens p as an mmsafe results file, or ends with a message naming it."""
    import os
    if not os.path.exists(p):
        fail(f"'{p}': no such file")
    if os.path.isdir(p):
        fail(f"'{p}' is a folder, not a results file")
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        fail(f"'{p}' is not a readable HDF5 file ({str(e).split('(')[0].strip()}); give a results file written by mmsafe run or merge")
    if "items/label" not in f or "items/id" not in f or "models" not in f:
        f.close()
        fail(f"'{p}' is HDF5 but not an mmsafe results file (no /items or /models)")
    return f


def load(paths):
    models = {}
    for p in paths:
        with open_results(p) as f:
            label = f["items/label"][:]
            ids = [x.decode() for x in f["items/id"][:]]
            for name, g in f["models"].items():
                if name in models:
                    sys.exit(f"compare.py: model '{name}' appears in two files ({models[name]['file']}, {p})")
                if "stats" not in g:
                    fail(f"'{p}': model '{name}' has no statistics yet (an unfinished run?); run `mmsafe reduce {p}` or resume the run")
                st = g["stats"][:]
                rows = {r["group"].decode(): r for r in st}
                models[name] = {"file": p, "rows": rows, "total": float(g["stats"].attrs["total"]),
                                "verdict": g["verdict"][:], "label": label, "ids": ids}
    return models


def pct(x):
    return "      -" if x is None or not np.isfinite(x) else f"{100 * x:7.1f}"


def table(models):
    w = max(5, *(len(n) for n in models))
    print(f"{'model':<{w}} " + " ".join(f"{t:>9}" for _, t in SUBSETS) + f" {'Total':>7} {'FNR':>7} {'FPR':>7} {'AUROC':>7} {'n':>6}")
    for name, m in models.items():
        cells = []
        for key, _ in SUBSETS:
            r = m["rows"].get("subset:" + key)
            cells.append(f"  {pct(r['accuracy']) if r is not None else '      -'}")
        a = m["rows"]["all"]
        au = a["auroc"]
        print(f"{name:<{w}} " + " ".join(cells) + f" {pct(m['total'])} {pct(a['fnr'])} {pct(a['fpr'])} "
              + (f"{au:7.3f}" if np.isfinite(au) else "      -") + f" {int(a['n']):6d}")


def mcnemar(models, a, b):
    for n in (a, b):
        if n not in models:
            sys.exit(f"compare.py: no model '{n}' (have: {', '.join(models)})")
    A, B = models[a], models[b]
    if A["ids"] != B["ids"]:
        sys.exit("compare.py: the two models were evaluated on different items")
    y = A["label"]
    ok = (A["verdict"] <= 2) & (B["verdict"] <= 2) & (A["verdict"] >= 0) & (B["verdict"] >= 0)
    ca = (A["verdict"] == y) & ok
    cb = (B["verdict"] == y) & ok
    n01 = int((ca & ~cb & ok).sum())
    n10 = int((~ca & cb & ok).sum())
    k, n = min(n01, n10), n01 + n10
    p = 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
    print(f"paired on {int(ok.sum())} items: {a} right / {b} wrong: {n01}; {a} wrong / {b} right: {n10}; "
          f"accuracy {100 * ca[ok].mean():.1f}% vs {100 * cb[ok].mean():.1f}%; McNemar exact p = {p:.4g}")


def plot(models, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(models)
    x = np.arange(len(SUBSETS) + 1)
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(2 + 1.5 * len(x), 4))
    for i, n in enumerate(names):
        vals = [models[n]["rows"].get("subset:" + k, {"accuracy": np.nan})["accuracy"] for k, _ in SUBSETS]
        vals.append(models[n]["total"])
        ax.bar(x + i * width, 100 * np.array(vals, dtype=float), width, label=n)
    ax.set_xticks(x + width * (len(names) - 1) / 2)
    ax.set_xticklabels([t for _, t in SUBSETS] + ["Total"])
    ax.set_ylabel("accuracy %")
    ax.set_ylim(0, 100)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"plot: {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--plot")
    ap.add_argument("--paired", nargs=2, metavar=("A", "B"))
    args = ap.parse_args()
    models = load(args.files)
    table(models)
    if args.paired:
        mcnemar(models, *args.paired)
    if args.plot:
        plot(models, args.plot)


if __name__ == "__main__":
    main()
