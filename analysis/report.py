#!/usr/bin/python3
"""mmsafe report: the picture of a sweep of checkpoints or ablations.

    mmsafe report RESULTS.h5 [MORE.h5 ...] -o DIR [options]
    (or analysis/report.py with the same arguments)

Reads mmsafe results files (one run, the merged file of a Slurm sweep, or
several files of the same manifest) and writes into DIR: report.html,
report.md, tables.tex (booktabs), summary.json and every figure as PNG and
SVG.  README "Reports" describes each table and figure.

Uses Debian's python3-h5py, python3-numpy and python3-matplotlib only.
"""
import argparse
import hashlib
import html
import json
import math
import os
import re
import subprocess
import sys
import time

PROG = "mmsafe report"
SUMMARY_VERSION = 1


def fail(msg, code=1):
    print(f"mmsafe: error: {msg}", file=sys.stderr)
    sys.exit(code)


def warn(msg):
    print(f"mmsafe: warning: {msg}", file=sys.stderr)


try:
    import numpy as np
    import h5py
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "mmsafe-report"   # deterministic SVG ids
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
except ImportError as e:
    fail(f"report needs Debian's python3-h5py, python3-numpy and python3-matplotlib "
         f"(`make deps` as root installs them): {e} (python: {sys.executable}; "
         f"set MMSAFE_PYTHON to an interpreter that has them)")

V_PENDING, V_SAFE, V_UNSAFE, V_UNPARSED, V_ERROR = -1, 0, 1, 2, 3
Z95 = 1.959963984540054
# The paper's columns, in its order; other subsets follow in name order.
KNOWN_SUBSETS = [("typical", "Typical"), ("attack", "Attack"), ("oversafe", "Over-Safe")]
# Okabe & Ito's colour-blind-safe palette.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
STEP_RE = re.compile(r"(?i)(?:global[_-]?step|step|ckpt|checkpoint|iteration|iter|epoch)[-_=]?(\d+)")
SB_CATEGORIES = ["CO", "CI", "CS", "ET", "IC", "VI", "IS", "IO"]


def skey(s):
    return re.sub(r"[^a-z0-9]", "", s.lower())


def sattr(obj, k):
    v = obj.attrs.get(k)
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return b"".join(v.tolist()).decode("utf-8", "replace")
    return str(v)


def strs(ds):
    return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in ds[:]]


# --------------------------------------------------------------------- reading
def open_results(p):
    if not os.path.exists(p):
        fail(f"'{p}': no such file")
    if os.path.isdir(p):
        fail(f"'{p}' is a folder, not a results file")
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        fail(f"'{p}' is not a readable HDF5 file ({str(e).split('(')[0].strip()}); "
             "give a results file written by mmsafe run or merge")
    if "items/label" not in f or "items/id" not in f or "models" not in f:
        f.close()
        fail(f"'{p}' is HDF5 but not an mmsafe results file (no /items or /models)")
    return f


def job_order(job_text):
    """The model names in the order the job lists them (a sweep's order)."""
    try:
        return [m.get("name") for m in json.loads(job_text).get("models", [])]
    except (ValueError, AttributeError, TypeError):
        return []


def load_h5(p):
    with open_results(p) as f:
        info = {"path": p, "manifest": sattr(f, "manifest"), "manifest_sha256": sattr(f, "manifest_sha256"),
                "benchmark": sattr(f, "benchmark") or "mmsafeaware", "job_path": sattr(f, "job_path")}
        info["ids"] = strs(f["items/id"])
        info["label"] = f["items/label"][:].astype(np.int8)
        n = len(info["ids"])
        info["subset"] = strs(f["items/subset"]) if "items/subset" in f else [""] * n
        info["scenario"] = strs(f["items/scenario"]) if "items/scenario" in f else [""] * n
        order = job_order(sattr(f, "job") or "")
        names = list(f["models"])
        names.sort(key=lambda m: (order.index(m) if m in order else len(order), m))
        models = []
        for name in names:
            g = f["models"][name]
            if "verdict" not in g:
                fail(f"'{p}': model '{name}' has no verdicts")
            v = g["verdict"][:].astype(np.int8)
            s = g["p_unsafe"][:].astype(np.float64) if "p_unsafe" in g else np.full(n, np.nan)
            models.append({"name": name, "file": p, "verdict": v, "p_unsafe": s,
                           "backend": sattr(g, "backend"), "parser": sattr(g, "parser")})
        info["models"] = models
    return info


def mmsafe_binary():
    m = os.environ.get("MMSAFE")
    if m and os.access(m, os.X_OK):
        return m
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cand = os.path.join(here, "mmsafe")
    return cand if os.access(cand, os.X_OK) else "mmsafe"


def load_safebench_json(p, obj):
    if not isinstance(obj, dict) or not str(obj.get("benchmark", "")).startswith("safebench") \
            or not isinstance(obj.get("models"), list):
        fail(f"'{p}': not the `mmsafe reduce --json` output of a SafeBench file "
             "(want {\"benchmark\": \"safebench\", \"models\": [...]}); give MMSafeAware results as .h5 files")
    return {"path": p, "benchmark": obj["benchmark"], "models": obj["models"]}


def load_safebench_h5(p):
    try:
        out = subprocess.run([mmsafe_binary(), "reduce", p, "--json"], capture_output=True, text=True)
    except OSError as e:
        fail(f"cannot run mmsafe reduce for the SafeBench file '{p}': {e}")
    if out.returncode != 0:
        fail(f"'{p}': mmsafe reduce --json failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
    try:
        obj = json.loads(out.stdout)
    except ValueError as e:
        fail(f"'{p}': mmsafe reduce --json printed something that is not JSON ({e})")
    return load_safebench_json(p, obj)


# ------------------------------------------------------------------ statistics
def wilson(k, n):
    if n <= 0:
        return (None, None, None)
    p = k / n
    d = 1 + Z95 * Z95 / n
    c = (p + Z95 * Z95 / (2 * n)) / d
    h = Z95 * math.sqrt(p * (1 - p) / n + Z95 * Z95 / (4 * n * n)) / d
    return (p, max(0.0, c - h), min(1.0, c + h))


def ratio(a, b):
    return a / b if b > 0 else None


def auroc(y, s):
    """Mann-Whitney AUROC, tied scores get their average rank."""
    npos, nneg = int((y == 1).sum()), int((y == 0).sum())
    if npos == 0 or nneg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(ss):
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def ece(y, s, bins=10):
    """Expected calibration error of P(unsafe): equal-width bins, weighted by count."""
    if len(s) == 0:
        return None, []
    idx = np.minimum((s * bins).astype(int), bins - 1)
    tot, rows = 0.0, []
    for b in range(bins):
        m = idx == b
        if m.any():
            conf, freq = float(s[m].mean()), float(y[m].mean())
            tot += m.sum() / len(s) * abs(conf - freq)
            rows.append({"bin": b, "n": int(m.sum()), "mean_p": conf, "frac_unsafe": freq})
    return float(tot), rows


def roc_points(y, s):
    th = np.unique(s)[::-1]
    P, N = max(1, (y == 1).sum()), max(1, (y == 0).sum())
    tpr = [0.0] + [float(((s >= t) & (y == 1)).sum() / P) for t in th]
    fpr = [0.0] + [float(((s >= t) & (y == 0)).sum() / N) for t in th]
    return fpr, tpr


def mcnemar_exact(b, c):
    """Two-sided exact McNemar p: binomial(b + c, 1/2) on the discordant pairs."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def holm(ps):
    """Holm's step-down adjusted p-values (same order as ps)."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adj, run = [0.0] * m, 0.0
    for r, i in enumerate(order):
        run = max(run, min(1.0, (m - r) * ps[i]))
        adj[i] = run
    return adj


class Data:
    """Items and their clusters (shared by every model of the report)."""

    def __init__(self, info, subsets):
        self.ids, self.y = info["ids"], info["label"].astype(np.int64)
        self.n = len(self.ids)
        keys = [skey(s) for s in info["subset"]]
        self.subsets = subsets
        self.sub = np.array([next((i for i, (k, _) in enumerate(subsets) if k == kk), -1) for kk in keys])
        self.scen_names = []
        for s in info["scenario"]:
            if s and s not in self.scen_names:
                self.scen_names.append(s)
        self.scen = np.array([self.scen_names.index(s) if s else -1 for s in info["scenario"]])


def subsets_of(info):
    seen = {}
    for s in info["subset"]:
        if s:
            seen.setdefault(skey(s), s)
    out = [(k, t) for k, t in KNOWN_SUBSETS if k in seen]
    out += sorted((k, t) for k, t in seen.items() if k not in dict(KNOWN_SUBSETS))
    return out


def metrics(D, v, s):
    scored = (v >= 0) & (v != V_ERROR)
    correct = scored & (v == D.y)
    parsed = (v == V_SAFE) | (v == V_UNSAFE)
    tp = int((parsed & (D.y == 1) & (v == 1)).sum()); fn = int((parsed & (D.y == 1) & (v == 0)).sum())
    fp = int((parsed & (D.y == 0) & (v == 1)).sum()); tn = int((parsed & (D.y == 0) & (v == 0)).sum())
    out = {"n": D.n, "scored": int(scored.sum()), "correct": int(correct.sum()), "tp": tp, "fn": fn, "fp": fp, "tn": tn,
           "unparsed": int((v == V_UNPARSED).sum()), "errors": int((v == V_ERROR).sum()),
           "pending": int((v == V_PENDING).sum())}
    out["micro"] = ratio(out["correct"], out["scored"])
    subs = {}
    for i, (k, t) in enumerate(D.subsets):
        m = scored & (D.sub == i)
        a, lo, hi = wilson(int(correct[m].sum()), int(m.sum()))
        subs[k] = {"name": t, "n": int(m.sum()), "correct": int(correct[m].sum()), "accuracy": a, "lo": lo, "hi": hi}
    out["subsets"] = subs
    accs = [x["accuracy"] for x in subs.values() if x["accuracy"] is not None]
    out["total"] = float(np.mean(accs)) if accs else None
    out["fnr"] = ratio(fn, tp + fn); out["fpr"] = ratio(fp, fp + tn)
    out["recall"] = ratio(tp, tp + fn); out["benign_acceptance"] = ratio(tn, fp + tn)
    scen = {}
    for j, name in enumerate(D.scen_names):
        m = scored & (D.scen == j)
        scen[name] = {"n": int(m.sum()), "accuracy": ratio(int(correct[m].sum()), int(m.sum()))}
    out["scenarios"] = scen
    sm = scored & np.isfinite(s)
    out["n_scored_p"] = int(sm.sum())
    if sm.any():
        out["auroc"] = auroc(D.y[sm], s[sm])
        out["ece"], out["reliability"] = ece(D.y[sm], s[sm])
    else:
        out["auroc"] = out["ece"] = None
        out["reliability"] = []
    return out, scored, correct


class Boot:
    """Bootstrap weights: clusters (images) and items, drawn once with a fixed seed."""

    def __init__(self, cl, B, seed):
        self.cl, self.B, self.seed = cl, B, seed
        self.rng = np.random.default_rng(seed)
        self.cache = {}

    def weights(self, ncl, kind):
        # one weight matrix per (kind, size): every model and comparison of the
        # same size shares the draws (common random numbers)
        key = (kind, ncl)
        if key not in self.cache:
            self.cache[key] = self.rng.multinomial(ncl, np.full(ncl, 1.0 / ncl), size=self.B).astype(np.float64)
        return self.cache[key]

    def totals(self, D, mask, corrects, by):
        """Bootstrap replicates of Total for each correctness vector in corrects,
        over the items in mask, resampling clusters (by='cluster') or items."""
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return [np.full(self.B, np.nan) for _ in corrects]
        g = self.cl[idx] if by == "cluster" else np.arange(len(idx))
        uniq, gi = np.unique(g, return_inverse=True)
        S = len(D.subsets)
        N = np.zeros((len(uniq), S))
        np.add.at(N, (gi, D.sub[idx]), 1)
        # clusters that are single items are items: the same draws, so the two
        # intervals then agree exactly (width ratio 1)
        W = self.weights(len(uniq), "item" if len(uniq) == len(idx) else by)
        Nb = W @ N
        out = []
        for c in corrects:
            K = np.zeros((len(uniq), S))
            np.add.at(K, (gi, D.sub[idx]), c[idx].astype(np.float64))
            with np.errstate(invalid="ignore", divide="ignore"):
                acc = (W @ K) / Nb
            have = (N.sum(axis=0) > 0)
            out.append(np.nanmean(acc[:, have], axis=1) if have.any() else np.full(self.B, np.nan))
        return out


def pct_interval(x):
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return (None, None)
    lo, hi = np.percentile(x, [2.5, 97.5])
    return (float(lo), float(hi))


def total_on(D, mask, c):
    accs = []
    for i in range(len(D.subsets)):
        m = mask & (D.sub == i)
        if m.any():
            accs.append(c[m].sum() / m.sum())
    return float(np.mean(accs)) if accs else None


# ------------------------------------------------------------------ clustering
def find_manifest(info, override):
    tried = []
    if override:
        return override, []
    p = info.get("manifest")
    if not p:
        return None, ["the file records no manifest path"]
    cands = [p] if os.path.isabs(p) else [p, os.path.join(os.path.dirname(os.path.abspath(info["path"])), p)]
    for c in cands:
        if os.path.isfile(c):
            return c, []
        tried.append(c)
    return None, [f"manifest '{p}' not found (tried {', '.join(tried)}; give --manifest)"]


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()


def clusters(info, D, manifest_override, mode):
    """Per item a cluster id: the image's content digest when the image file is
    readable, its path otherwise, the item itself when it has no image or the
    manifest cannot be read.  Returns (cl, description)."""
    desc = {"requested": mode, "manifest": None}
    per_item = [f"item:{i}" for i in D.ids]
    if mode == "item":
        desc.update(by="item", why="--cluster item")
    else:
        mp, why = find_manifest(info, manifest_override)
        images = None
        if mp:
            try:
                dig = sha256_file(mp)
                if info.get("manifest_sha256") and dig != info["manifest_sha256"]:
                    why = [f"manifest '{mp}' has changed since the run (sha256 {dig[:12]}... vs {info['manifest_sha256'][:12]}...)"]
                else:
                    images = {}
                    with open(mp, encoding="utf-8") as f:
                        for line in f:
                            if line.strip():
                                o = json.loads(line)
                                images[str(o.get("id"))] = o.get("image")
                    desc["manifest"] = mp
            except (OSError, ValueError) as e:
                why = [f"manifest '{mp}' unreadable: {e}"]
        if images is None:
            desc.update(by="item", why="; ".join(why) + ": clustered by item (intervals too narrow if items share images)")
            warn(f"cannot cluster by image: {desc['why']}")
        else:
            base = os.path.dirname(mp)
            n_content = n_path = n_none = 0
            digests = {}
            for k, i in enumerate(D.ids):
                im = images.get(i)
                if not im:
                    n_none += 1
                    continue
                full = im if os.path.isabs(im) else os.path.join(base, im)
                if mode == "auto" or mode == "content":
                    if full not in digests:
                        try:
                            digests[full] = "content:" + sha256_file(full)
                        except OSError:
                            digests[full] = None
                    if digests[full]:
                        per_item[k] = digests[full]
                        n_content += 1
                        continue
                per_item[k] = "path:" + os.path.normpath(full)
                n_path += 1
            by = "image content" if n_content and not n_path else "image path" if n_path and not n_content else \
                "image content, path where unreadable" if n_content else "item"
            desc.update(by=by, items_by_content=n_content, items_by_path=n_path, items_without_image=n_none,
                        why="items without an image are their own cluster" if n_none else "")
    uniq = {}
    cl = np.array([uniq.setdefault(x, len(uniq)) for x in per_item])
    desc["n_clusters"] = len(uniq)
    desc["n_items"] = D.n
    if desc["by"] != "item":
        desc["n_image_paths"] = len({images.get(i) for i in D.ids if images.get(i)})
        desc["n_distinct_images"] = len({x for x in per_item if not x.startswith("item:")})
    return cl, desc


# ---------------------------------------------------------------------- order
def parse_step(name):
    if re.fullmatch(r"\d+", name):
        return int(name)
    m = STEP_RE.findall(name)
    return int(m[-1]) if m else None


def order_models(models, order_opt):
    steps = [parse_step(m["name"]) for m in models]
    use = order_opt == "step" or (order_opt == "auto" and all(s is not None for s in steps)
                                  and len(set(steps)) == len(steps))
    if order_opt == "step" and any(s is None for s in steps):
        bad = [m["name"] for m, s in zip(models, steps) if s is None]
        fail(f"--order step: no step number in model name(s) {', '.join(bad)} (want e.g. ckpt-1200, step_500)")
    for m, s in zip(models, steps):
        m["step"] = s
    if use:
        models.sort(key=lambda m: m["step"])
        for m in models:
            m["x"] = m["step"]
        return "step"
    for i, m in enumerate(models):
        m["x"] = i + 1
    return "job"


# -------------------------------------------------------------------- figures
def fmt(x, d=1, pct=True, dash="–"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return dash
    return f"{100 * x:.{d}f}" if pct else f"{x:.{3 if d == 1 else d}f}"


def save(fig, out, stem, figs, caption):
    fig.savefig(os.path.join(out, stem + ".png"), dpi=150, bbox_inches="tight")
    fig.savefig(os.path.join(out, stem + ".svg"), bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    figs.append({"name": stem, "png": stem + ".png", "svg": stem + ".svg", "caption": caption})


def seq_colors(n):
    if n <= len(OKABE_ITO):
        return OKABE_ITO[:n]
    cm = plt.get_cmap("viridis")
    return [cm(i / max(1, n - 1)) for i in range(n)]


def xlabel_of(order):
    return "training step (from the model name)" if order == "step" else "checkpoint (job order)"


def set_xticks(ax, models, order):
    xs = [m["x"] for m in models]
    if order != "step":
        step = max(1, len(xs) // 20)
        ax.set_xticks(xs[::step])
        ax.set_xticklabels([m["name"] for m in models][::step], rotation=45 if len(xs) > 3 else 0,
                           ha="right" if len(xs) > 3 else "center", fontsize=8)


def fig_curves(out, models, D, order, figs):
    if len(models) == 1:
        return fig_one_model(out, models[0], D, figs)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    xs = np.array([m["x"] for m in models], dtype=float)
    series = [(k, t) for k, t in D.subsets] + [("total", "Total")]
    for j, (k, t) in enumerate(series):
        if k == "total":
            y = [m["stats"]["total"] for m in models]
            lo = [m["total_ci"][0] for m in models]; hi = [m["total_ci"][1] for m in models]
        else:
            y = [m["stats"]["subsets"][k]["accuracy"] for m in models]
            lo = [m["stats"]["subsets"][k]["lo"] for m in models]; hi = [m["stats"]["subsets"][k]["hi"] for m in models]
        f = lambda a: 100 * np.array([np.nan if v is None else v for v in a], dtype=float)
        c = "#000000" if k == "total" else OKABE_ITO[j % 7]
        mk = ["o", "s", "^", "D", "v", "P"][j % 6]
        ax.plot(xs, f(y), marker=mk if len(models) <= 25 else None, ms=4, color=c, lw=2.2 if k == "total" else 1.4,
                label=t)
        ax.fill_between(xs, f(lo), f(hi), color=c, alpha=0.15, lw=0)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_xlabel(xlabel_of(order))
    set_xticks(ax, models, order)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("Accuracy per subset across the sweep (bands: 95% intervals)")
    save(fig, out, "curves", figs, "Accuracy per subset and Total across checkpoints; bands are Wilson 95% intervals "
         "(subsets) and the image-clustered bootstrap 95% interval (Total).")


def fig_one_model(out, m, D, figs):
    """One checkpoint: no curve to draw, the subsets and Total with their intervals."""
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    st = m["stats"]
    rows = [(t, st["subsets"][k]["accuracy"], st["subsets"][k]["lo"], st["subsets"][k]["hi"]) for k, t in D.subsets]
    rows.append(("Total", st["total"], *m["total_ci"]))
    for j, (t, a, lo, hi) in enumerate(rows):
        if a is None:
            continue
        c = "#000000" if t == "Total" else OKABE_ITO[j % 7]
        ax.errorbar([j], [100 * a], yerr=[[100 * (a - lo)], [100 * (hi - a)]], fmt="o", color=c, capsize=4, ms=7)
        ax.annotate(f"{100 * a:.1f}", (j, 100 * a), textcoords="offset points", xytext=(8, -3), fontsize=8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r[0] for r in rows])
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylim(0, 104)
    ax.set_xlabel("subset")
    ax.set_ylabel("accuracy (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"Accuracy of {m['name']} (95% intervals)", fontsize=10)
    save(fig, out, "curves", figs, "Accuracy per subset and Total of the one model, with Wilson 95% intervals "
         "(subsets) and the image-clustered bootstrap 95% interval (Total); with more checkpoints this is a curve "
         "across them.")


def pareto(points):
    """Indices of the points no other point beats on both coordinates."""
    front = []
    for i, (x, y) in enumerate(points):
        if x is None or y is None:
            continue
        if not any(j != i and a is not None and b is not None and a >= x and b >= y and (a > x or b > y)
                   for j, (a, b) in enumerate(points)):
            front.append(i)
    return front


def fig_tradeoff(out, models, figs):
    pts = [(m["stats"]["benign_acceptance"], m["stats"]["recall"]) for m in models]
    front = set(pareto(pts))
    for i, m in enumerate(models):
        m["pareto"] = i in front
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    cols = seq_colors(len(models))
    for i, (m, (x, y)) in enumerate(zip(models, pts)):
        if x is None or y is None:
            continue
        ax.scatter(100 * x, 100 * y, s=70 if i in front else 36, color=cols[i], edgecolor="black" if i in front else "none",
                   linewidth=1.2, zorder=3, label=m["name"] if len(models) <= 8 else None)
        if len(models) <= 12:
            ax.annotate(m["name"], (100 * x, 100 * y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    fp = sorted((pts[i] for i in front))
    if fp:
        ax.plot([100 * a for a, _ in fp], [100 * b for _, b in fp], ls="--", color="#555555", lw=1, zorder=2,
                label="Pareto front")
    if len(models) > 8:
        sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(1, len(models)))
        cb = fig.colorbar(sm, ax=ax, fraction=0.05)
        cb.set_label("checkpoint (sweep order)")
    ax.set_xlabel("benign acceptance: 1 − FPR on safe items (%)")
    ax.set_ylabel("unsafe detection: recall on unsafe items (%)")
    ax.set_xlim(-2, 105); ax.set_ylim(-2, 105)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False, fontsize=8)
    ax.set_title("Safety vs helpfulness per checkpoint")
    save(fig, out, "tradeoff", figs, "Unsafe-detection rate (recall on unsafe items) against benign acceptance "
         "(1 − FPR) per checkpoint; outlined points joined by the dashed line are the Pareto front "
         "(no other checkpoint is better on both).")


def fig_heatmap(out, names, rows, vals, base_col, figs, what, higher_is_better, stem, caption, rows_label="scenario"):
    """rows × checkpoints; colour = difference from the baseline column (pp),
    red = worse whichever direction is worse; cells print the value."""
    A = np.array([[np.nan if v is None else 100 * v for v in r] for r in vals], dtype=float)
    d = A - A[:, [base_col]]
    if not higher_is_better:
        d = -d
    lim = np.nanmax(np.abs(d)) if np.isfinite(d).any() else 1.0
    lim = max(lim, 1.0)
    w = min(24, max(5.5, 3.5 + 0.45 * len(names))); h = min(30, max(3.0, 1.8 + 0.3 * len(rows)))
    fig, ax = plt.subplots(figsize=(w, h))
    cmap = plt.get_cmap("RdBu").copy()
    cmap.set_bad("#dddddd")
    im = ax.imshow(np.ma.masked_invalid(d), cmap=cmap, norm=TwoSlopeNorm(0, -lim, lim), aspect="auto",
                   interpolation="nearest")
    ax.set_yticks(range(len(rows))); ax.set_yticklabels(rows, fontsize=8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center",
                       fontsize=8 if len(names) <= 30 else 6)
    ax.set_xlabel("checkpoint"); ax.set_ylabel(rows_label)
    if len(names) <= 20 and len(rows) <= 40:
        for i in range(len(rows)):
            for j in range(len(names)):
                if np.isfinite(A[i, j]):
                    ax.text(j, i, f"{A[i, j]:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if np.isfinite(d[i, j]) and abs(d[i, j]) > 0.6 * lim else "black")
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label(f"change vs baseline {names[base_col]} (pp)\nblue better, red worse", fontsize=8)
    ax.set_title(f"{what[0].upper() + what[1:]} per {rows_label} (%, in the cells)", fontsize=10)
    save(fig, out, stem, figs, caption)


def fig_scores(out, models, D, figs):
    sc = [m for m in models if m["stats"]["n_scored_p"] > 0]
    if not sc:
        return
    cols = seq_colors(len(sc))
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    for c, m in zip(cols, sc):
        k = m["scored"] & np.isfinite(m["p_unsafe"])
        fpr, tpr = roc_points(D.y[k], m["p_unsafe"][k])
        au = m["stats"]["auroc"]
        ax.plot(100 * np.array(fpr), 100 * np.array(tpr), color=c, lw=1.5,
                label=f"{m['name']} (AUROC {au:.3f})" if au is not None else m["name"])
    ax.plot([0, 100], [0, 100], ls=":", color="#888888", lw=1, label="chance")
    ax.set_xlabel("false-positive rate: safe items flagged (%)")
    ax.set_ylabel("true-positive rate: unsafe items flagged (%)")
    ax.set_xlim(0, 100); ax.set_ylim(0, 100); ax.grid(alpha=0.3)
    if len(sc) <= 12:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    else:
        sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(1, len(sc)))
        fig.colorbar(sm, ax=ax, fraction=0.05).set_label("checkpoint (sweep order)")
    ax.set_title("ROC of P(unsafe)")
    save(fig, out, "roc", figs, "ROC curves of the models' P(unsafe) scores (items with a score and no error), "
         "AUROC in the legend.")
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    for c, m in zip(cols, sc):
        rel = m["stats"]["reliability"]
        e = m["stats"]["ece"]
        ax.plot([100 * r["mean_p"] for r in rel], [100 * r["frac_unsafe"] for r in rel], marker="o", ms=3, color=c,
                lw=1.3, label=f"{m['name']} (ECE {100 * e:.1f} pp)" if e is not None else m["name"])
    ax.plot([0, 100], [0, 100], ls=":", color="#888888", lw=1, label="perfect calibration")
    ax.set_xlabel("mean predicted P(unsafe) in bin (%)")
    ax.set_ylabel("observed fraction unsafe (%)")
    ax.set_xlim(0, 100); ax.set_ylim(0, 100); ax.grid(alpha=0.3)
    if len(sc) <= 12:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    else:
        sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(1, len(sc)))
        fig.colorbar(sm, ax=ax, fraction=0.05).set_label("checkpoint (sweep order)")
    ax.set_title("Reliability of P(unsafe) (10 equal-width bins)")
    save(fig, out, "calibration", figs, "Reliability diagram: per bin of P(unsafe), the observed fraction of unsafe "
         "items; ECE = bin-size-weighted mean gap.")


def fig_significance(out, models, comps, order, figs):
    """Two panels against the checkpoint axis: Δ Total vs the baseline, and vs
    the predecessor; filled = significant after Holm (scales to 50 checkpoints)."""
    if not comps:
        return
    x_of = {m["name"]: m["x"] for m in models}
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 6.0), sharex=True)
    for ax, key, title, col in ((axes[0], "baseline", "against the baseline", OKABE_ITO[0]),
                                (axes[1], "predecessor", "against the previous checkpoint", OKABE_ITO[5])):
        cs = [c for c in comps if key in c["kind"] and c["diff_total"] is not None]
        for c in cs:
            x, d = x_of[c["model"]], 100 * c["diff_total"]
            lo, hi = (100 * c["ci"][0], 100 * c["ci"][1]) if None not in c["ci"] else (d, d)
            sig = c["p_holm"] < 0.05
            ax.errorbar(x, d, yerr=[[d - lo], [hi - d]], fmt="o", ms=5, color=col, mfc=col if sig else "white",
                        capsize=2, lw=1.2)
        ax.axhline(0, color="#888888", lw=1)
        ax.set_ylabel("Δ Total (pp)")
        ax.set_title(f"Difference in Total {title}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[1].set_xlabel(xlabel_of(order))
    set_xticks(axes[1], models, order)
    from matplotlib.lines import Line2D
    axes[0].legend(handles=[Line2D([], [], marker="o", ls="", color="black", label="Holm p < 0.05"),
                            Line2D([], [], marker="o", ls="", color="black", mfc="white", label="Holm p ≥ 0.05")],
                   loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    fig.tight_layout()
    save(fig, out, "significance", figs, "Difference in Total (percentage points) of each checkpoint against the "
         "baseline (top) and against the previous checkpoint (bottom), paired on the items both answered, with the "
         "image-clustered bootstrap 95% interval; filled markers: McNemar's exact test significant after Holm "
         "correction across all comparisons (p < 0.05).")


def fig_score_curves(out, models, order, figs):
    sc = [m for m in models if m["stats"]["auroc"] is not None or m["stats"]["ece"] is not None]
    if not sc:
        return
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    xs = [m["x"] for m in sc]
    f = lambda k: [np.nan if m["stats"][k] is None else m["stats"][k] for m in sc]
    mk = "o" if len(sc) <= 25 else None
    ax.plot(xs, f("auroc"), marker=mk, ms=4, color=OKABE_ITO[0], label="AUROC")
    ax.plot(xs, f("ece"), marker="s" if mk else None, ms=4, color=OKABE_ITO[5], ls="--", label="ECE")
    ax.set_ylim(0, 1)
    ax.set_ylabel("AUROC / ECE (fraction)")
    ax.set_xlabel(xlabel_of(order))
    set_xticks(ax, sc, order)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("Quality of P(unsafe) across the sweep", fontsize=10)
    save(fig, out, "scores", figs, "AUROC and expected calibration error (ECE) of P(unsafe) per checkpoint.")


# -------------------------------------------------------------------- tables
def tex_escape(s):
    return re.sub(r"([&%$#_{}])", r"\\\1", s).replace("~", r"\textasciitilde{}").replace("^", r"\^{}")


def cell_ci(a, lo, hi):
    return f"{fmt(a)} [{fmt(lo)}, {fmt(hi)}]" if a is not None else "–"


def main_table_rows(models, D):
    rows = []
    for m in models:
        st = m["stats"]
        r = [m["name"]]
        for k, _ in D.subsets:
            s = st["subsets"][k]
            r.append(cell_ci(s["accuracy"], s["lo"], s["hi"]))
        r.append(cell_ci(st["total"], *m["total_ci"]))
        r += [fmt(st["fnr"]), fmt(st["fpr"]), fmt(st["auroc"], 3, pct=False), fmt(st["ece"], 1),
              str(st["unparsed"]), str(st["errors"]), str(st["pending"])]
        rows.append(r)
    head = ["model"] + [t for _, t in D.subsets] + ["Total", "FNR", "FPR", "AUROC", "ECE (pp)", "unparsed", "errors", "pending"]
    return head, rows


def comp_rows(comps):
    head = ["model", "reference", "comparison", "paired items", "ref right / model wrong", "ref wrong / model right",
            "McNemar p", "Holm p", "Δ Total (pp)", "95% CI, images", "95% CI, items", "width ratio"]
    rows = []
    for c in comps:
        rows.append([c["model"], c["reference"], c["kind"], str(c["paired_items"]), str(c["b"]), str(c["c"]),
                     f"{c['p']:.4g}", f"{c['p_holm']:.4g}", fmt(c["diff_total"], 1),
                     f"[{fmt(c['ci'][0])}, {fmt(c['ci'][1])}]", f"[{fmt(c['ci_items'][0])}, {fmt(c['ci_items'][1])}]",
                     "–" if c["width_ratio"] is None else f"{c['width_ratio']:.2f}"])
    return head, rows


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def html_table(head, rows):
    h = "<table><thead><tr>" + "".join(f"<th>{html.escape(x)}</th>" for x in head) + "</tr></thead><tbody>\n"
    for r in rows:
        h += "<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in r) + "</tr>\n"
    return h + "</tbody></table>\n"


def tex_paper_table(models, D, sb=None):
    if sb is not None:
        cols = "l" + "rr" * (len(SB_CATEGORIES) + 1)
        out = [r"\begin{table}[t]", r"\centering", r"\small", r"\caption{SafeBench: attack success rate (ASR, \%) and "
               r"safety risk index (SRI) per major category and their unweighted average (AVG).}",
               r"\label{tab:safebench}", r"\begin{tabular}{" + cols + "}", r"\toprule",
               "Model & " + " & ".join(r"\multicolumn{2}{c}{" + c + "}" for c in SB_CATEGORIES + ["AVG"]) + r" \\",
               " ".join(r"\cmidrule(lr){%d-%d}" % (2 + 2 * i, 3 + 2 * i) for i in range(len(SB_CATEGORIES) + 1)),
               " & " + " & ".join(["ASR & SRI"] * (len(SB_CATEGORIES) + 1)) + r" \\", r"\midrule"]
        for m in sb:
            out.append(tex_escape(m["name"]) + " & " + " & ".join(
                f"{sbfmt(c.get('asr'))} & {sbfmt(c.get('sri'))}" for c in m["cats"] + [m["avg"]]) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
        return "\n".join(out)
    cols = "l" + "c" * (len(D.subsets) + 1) + "rrrr"
    out = [r"\begin{table}[t]", r"\centering", r"\small",
           r"\caption{Accuracy (\%) per subset and Total (unweighted mean of the subsets, as in MMSafeAware), with 95\% "
           r"intervals (Wilson for subsets, image-clustered bootstrap for Total); FNR, FPR and the expected calibration "
           r"error (ECE) of P(unsafe) in \%.}",
           r"\label{tab:mmsafeaware}", r"\begin{tabular}{" + cols + "}", r"\toprule",
           "Model & " + " & ".join(t for _, t in D.subsets) + r" & Total & FNR & FPR & AUROC & ECE \\", r"\midrule"]
    for m in models:
        st = m["stats"]
        cells = []
        for k, _ in D.subsets:
            s = st["subsets"][k]
            cells.append(texci(s["accuracy"], s["lo"], s["hi"]))
        cells.append(texci(st["total"], *m["total_ci"]))
        cells += [fmt(st["fnr"], dash="--"), fmt(st["fpr"], dash="--"), fmt(st["auroc"], 3, pct=False, dash="--"),
                  fmt(st["ece"], dash="--")]
        out.append(tex_escape(m["name"]) + " & " + " & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(out)


def texci(a, lo, hi):
    if a is None:
        return "--"
    return f"{fmt(a)}" + r"\,{\scriptsize[" + f"{fmt(lo, dash='--')}, {fmt(hi, dash='--')}" + "]}"


def sbfmt(x, d=1, dash="--"):
    return dash if x is None else f"{x:.{d}f}"


# ------------------------------------------------------------------- SafeBench
def safebench_models(sbs):
    out, seen = [], {}
    for s in sbs:
        for m in s["models"]:
            name = m.get("name")
            if name in seen:
                fail(f"model '{name}' appears in two files ({seen[name]}, {s['path']})")
            seen[name] = s["path"]
            cons = m.get("consensus") or {}
            cats = {c.get("code"): c for c in cons.get("categories", [])}
            out.append({"name": name, "file": s["path"],
                        "cats": [cats.get(c, {"code": c}) for c in SB_CATEGORIES],
                        "cat_names": {c: cats.get(c, {}).get("name", c) for c in SB_CATEGORIES},
                        "avg": cons.get("avg") or {}, "pooled": cons.get("pooled") or {},
                        "scenarios": cons.get("scenarios", [])})
    return out


def run_safebench(args, sbs, out):
    models = safebench_models(sbs)
    order = order_models(models, args.order)
    names = [m["name"] for m in models]
    base = pick_baseline(args, names)
    figs = []
    scen_codes = []
    for m in models:
        for s in m["scenarios"]:
            if s.get("code") not in scen_codes:
                scen_codes.append(s.get("code"))
    scen_label = {}
    vals = []
    for code in scen_codes:
        row = []
        for m in models:
            s = next((x for x in m["scenarios"] if x.get("code") == code), None)
            if s:
                scen_label[code] = f"{s.get('name', code)} ({code})"
            row.append(None if not s or s.get("asr") is None else s["asr"] / 100)
        vals.append(row)
    if scen_codes:
        fig_heatmap(out, names, [scen_label.get(c, c) for c in scen_codes], vals, names.index(base), figs, "ASR",
                    False, "heatmap", "Attack success rate (%) per scenario and checkpoint; colour = change from the "
                    "baseline (red = more attacks succeed).")
    head = ["model"] + [f"{c} ASR / SRI" for c in SB_CATEGORIES] + ["AVG ASR / SRI"]
    rows = [[m["name"]] + [f"{sbfmt(c.get('asr'), dash='–')} / {sbfmt(c.get('sri'), dash='–')}"
                           for c in m["cats"] + [m["avg"]]] for m in models]
    summary = {"mmsafe_report": SUMMARY_VERSION, "benchmark": sbs[0]["benchmark"],
               "files": [{"path": s["path"], "benchmark": s["benchmark"]} for s in sbs],
               "order": order, "baseline": base,
               "models": [{"name": m["name"], "file": m["file"], "step": m["step"], "x": m["x"],
                           "categories": {c.get("code"): {"asr": c.get("asr"), "sri": c.get("sri"), "n": c.get("n"),
                                                          "asr_lo": c.get("asr_lo"), "asr_hi": c.get("asr_hi")}
                                          for c in m["cats"]},
                           "avg": {"asr": m["avg"].get("asr"), "sri": m["avg"].get("sri")},
                           "scenarios": {s.get("code"): s.get("asr") for s in m["scenarios"]}} for m in models],
               "figures": figs}
    title = "mmsafe report: SafeBench"
    md = [f"# {title}\n", f"Files: {', '.join(s['path'] for s in sbs)}. Baseline: {base}. ASR in %, SRI 0–100; "
          "AVG = the unweighted mean of the 8 major categories.\n", "## SafeBench\n", md_table(head, rows)]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>Files: {html.escape(', '.join(s['path'] for s in sbs))}. "
            f"Baseline: {html.escape(base)}. ASR in %, SRI 0–100; AVG = unweighted mean of the 8 major categories.</p>",
            "<h2>SafeBench</h2>", html_table(head, rows)]
    write_outputs(out, title, md, body, figs, tex_paper_table(None, None, sb=models), summary)


# ----------------------------------------------------------------------- main
def pick_baseline(args, names):
    if args.baseline:
        if args.baseline not in names:
            fail(f"--baseline '{args.baseline}': no such model (have: {', '.join(names)})")
        return args.baseline
    return names[0]


def write_outputs(out, title, md, body, figs, tex, summary):
    for f in figs:
        md.append(f"![{f['caption']}]({f['png']})\n\n{f['caption']} ([SVG]({f['svg']}))\n")
        body.append(f"<figure><img src=\"{html.escape(f['png'])}\" alt=\"{html.escape(f['name'])}\">"
                    f"<figcaption>{html.escape(f['caption'])} <a href=\"{html.escape(f['svg'])}\">SVG</a></figcaption></figure>")
    css = ("body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222}"
           "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.85em}"
           "th,td{border-bottom:1px solid #ccc;padding:0.2em 0.6em;text-align:right}"
           "th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #444}"
           "img{max-width:100%;height:auto}figure{margin:1em 0 2em}figcaption{font-size:0.9em;color:#444}"
           ".wide{overflow-x:auto}")
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
    with open(os.path.join(out, "report.html"), "w", encoding="utf-8") as f:
        f.write(page.replace("<table>", "<div class=\"wide\"><table>").replace("</table>", "</table></div>"))
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "tables.tex"), "w", encoding="utf-8") as f:
        f.write("% mmsafe report: needs \\usepackage{booktabs}\n" + tex)
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, allow_nan=False)
        f.write("\n")


def jnum(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", metavar="RESULTS.h5")
    ap.add_argument("-o", dest="out", required=True, metavar="DIR")
    ap.add_argument("--baseline", metavar="NAME")
    ap.add_argument("--order", choices=["auto", "step", "job"], default="auto")
    ap.add_argument("--manifest", metavar="FILE")
    ap.add_argument("--cluster", choices=["auto", "content", "path", "item"], default="auto")
    ap.add_argument("--bootstrap", type=int, default=2000, metavar="B")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.error = lambda msg: (print(f"mmsafe: error: {msg}\nTry 'mmsafe report --help'.", file=sys.stderr), sys.exit(2))
    args = ap.parse_args(argv)
    if args.bootstrap < 100:
        ap.error("--bootstrap needs at least 100 replicates")
    t0 = time.time()
    h5s, sbs = [], []
    for p in args.files:
        if p.endswith(".json"):
            try:
                with open(p, encoding="utf-8") as f:
                    sbs.append(load_safebench_json(p, json.load(f)))
            except (OSError, ValueError) as e:
                fail(f"'{p}': {e}")
            continue
        info = load_h5(p)
        if info["benchmark"].startswith("safebench"):
            sbs.append(load_safebench_h5(p))
        else:
            h5s.append(info)
    if h5s and sbs:
        fail(f"'{h5s[0]['path']}' ({h5s[0]['benchmark']}) and '{sbs[0]['path']}' ({sbs[0]['benchmark']}) are results "
             "of different benchmarks: one report per benchmark")
    for s in sbs[1:]:
        if s["benchmark"] != sbs[0]["benchmark"]:
            fail(f"'{sbs[0]['path']}' and '{s['path']}' are results of different benchmarks "
                 f"({sbs[0]['benchmark']}, {s['benchmark']})")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        fail(f"cannot create '{args.out}': {e}")
    if sbs:
        run_safebench(args, sbs, args.out)
        print(f"report: {os.path.join(args.out, 'report.html')}")
        return
    first = h5s[0]
    for h in h5s[1:]:
        if h["manifest_sha256"] != first["manifest_sha256"] or not h["manifest_sha256"]:
            fail(f"'{first['path']}' and '{h['path']}' come from different manifests (sha256 "
                 f"{(first['manifest_sha256'] or '?')[:12]}... vs {(h['manifest_sha256'] or '?')[:12]}...); "
                 "a report compares models on one manifest")
        if h["benchmark"] != first["benchmark"]:
            fail(f"'{first['path']}' and '{h['path']}' are results of different benchmarks "
                 f"({first['benchmark']}, {h['benchmark']})")
        if h["ids"] != first["ids"] or not np.array_equal(h["label"], first["label"]):
            fail(f"'{first['path']}' and '{h['path']}' list different items in spite of the same manifest")
    models, seen = [], {}
    for h in h5s:
        for m in h["models"]:
            if m["name"] in seen:
                fail(f"model '{m['name']}' appears in two files ({seen[m['name']]}, {h['path']})")
            seen[m["name"]] = h["path"]
            models.append(m)
    if not models:
        fail(f"'{first['path']}' holds no model")
    order = order_models(models, args.order)
    names = [m["name"] for m in models]
    base = pick_baseline(args, names)
    D = Data(first, subsets_of(first))
    cl, cdesc = clusters(first, D, args.manifest, args.cluster)
    boot = Boot(cl, args.bootstrap, args.seed)
    for m in models:
        m["stats"], m["scored"], m["correct"] = metrics(D, m["verdict"], m["p_unsafe"])
        if m["stats"]["pending"]:
            warn(f"model '{m['name']}' ({m['file']}): {m['stats']['pending']} item(s) still pending; "
                 "they are left out")
        rep = boot.totals(D, m["scored"], [m["correct"]], "cluster")[0]
        m["total_ci"] = pct_interval(rep)
    # comparisons: against the baseline, and against the predecessor
    pairs = []
    bi = names.index(base)
    for i in range(len(models)):
        if i != bi:
            pairs.append((bi, i, "baseline"))
        if i > 0:
            if i - 1 == bi:
                pairs[-1] = (bi, i, "baseline+predecessor")
            else:
                pairs.append((i - 1, i, "predecessor"))
    comps = []
    for r, i, kind in pairs:
        R, M = models[r], models[i]
        mask = R["scored"] & M["scored"]
        cr, cm = R["correct"] & mask, M["correct"] & mask
        b = int((cr & ~cm).sum()); c = int((~cr & cm).sum())
        tr, tm = total_on(D, mask, cr), total_on(D, mask, cm)
        diff = None if tr is None or tm is None else tm - tr
        br, bm = boot.totals(D, mask, [cr, cm], "cluster")
        ir, im_ = boot.totals(D, mask, [cr, cm], "item")
        ci, cii = pct_interval(bm - br), pct_interval(im_ - ir)
        wr = None
        if None not in ci and None not in cii and cii[1] - cii[0] > 0:
            wr = (ci[1] - ci[0]) / (cii[1] - cii[0])
        comps.append({"model": M["name"], "reference": R["name"], "kind": kind, "paired_items": int(mask.sum()),
                      "paired_clusters": int(len(np.unique(cl[mask]))),
                      "b": b, "c": c, "p": mcnemar_exact(b, c), "total_reference": tr, "total_model": tm,
                      "diff_total": diff, "ci": ci, "ci_items": cii, "width_ratio": wr})
    for c, a in zip(comps, holm([c["p"] for c in comps])):
        c["p_holm"] = a
    out = args.out
    figs = []
    fig_curves(out, models, D, order, figs)
    fig_tradeoff(out, models, figs)
    if D.scen_names:
        vals = [[m["stats"]["scenarios"][s]["accuracy"] for m in models] for s in D.scen_names]
        fig_heatmap(out, names, D.scen_names, vals, bi, figs, "accuracy", True, "heatmap",
                    f"Accuracy (%) per scenario and checkpoint; colour = change from the baseline {base} "
                    "(red = regression, blue = improvement, grey = no scored item).")
    else:   # a manifest without scenarios (the MMSafeAware release): its subsets
        vals = [[m["stats"]["subsets"][k]["accuracy"] for m in models] for k, _ in D.subsets]
        fig_heatmap(out, names, [t for _, t in D.subsets], vals, bi, figs, "accuracy", True, "heatmap",
                    f"Accuracy (%) per subset and checkpoint (the manifest has no scenarios); colour = change from "
                    f"the baseline {base} (red = regression, blue = improvement).", rows_label="subset")
    fig_significance(out, models, comps, order, figs)
    fig_scores(out, models, D, figs)
    fig_score_curves(out, models, order, figs)
    # clustered vs item interval width
    ratios = [c["width_ratio"] for c in comps if c["width_ratio"] is not None]
    cdesc["median_width_ratio"] = float(np.median(ratios)) if ratios else None
    # ---- outputs
    head, rows = main_table_rows(models, D)
    chead, crows = comp_rows(comps)
    clus_txt = (f"Items are clustered by {cdesc['by']} ({cdesc['n_clusters']} clusters for {cdesc['n_items']} items"
                + (f"; {cdesc['why']}" if cdesc.get("why") else "") + ")")
    wr_txt = (f"; the image-clustered interval of a difference in Total is {cdesc['median_width_ratio']:.2f}× as wide as "
              "the one resampling items (median over the comparisons)") if cdesc["median_width_ratio"] else ""
    intro = (f"Files: {', '.join(h['path'] for h in h5s)} (manifest sha256 {first['manifest_sha256'][:12]}...). "
             f"{len(models)} model(s) in {'step' if order == 'step' else 'job'} order; baseline {base}. "
             f"Accuracy in %: an unparsed answer counts as wrong, errors are left out; Total = unweighted mean of the "
             f"subsets (as in the MMSafeAware paper). Subset intervals are Wilson 95%; Total's is a 95% percentile "
             f"bootstrap ({args.bootstrap} replicates, seed {args.seed}) resampling clusters. {clus_txt}{wr_txt}.")
    sig_txt = ("Each checkpoint against the baseline and against its predecessor, paired on the items both answered: "
               "McNemar's exact test on the discordant items, Holm-corrected across all the comparisons below; the "
               "difference in Total with 95% bootstrap intervals resampling images (and, for comparison, items).")
    title = "mmsafe report"
    md = [f"# {title}\n", intro + "\n", "## Accuracy (paper's columns)\n", md_table(head, rows),
          "## Significance\n", sig_txt + "\n", md_table(chead, crows) if crows else "(one model: nothing to compare)\n",
          "## Figures\n"]
    body = [f"<h1>{title}</h1>", f"<p>{html.escape(intro)}</p>", "<h2>Accuracy (paper's columns)</h2>",
            html_table(head, rows), "<h2>Significance</h2>", f"<p>{html.escape(sig_txt)}</p>",
            html_table(chead, crows) if crows else "<p>One model: nothing to compare.</p>", "<h2>Figures</h2>"]
    summary = {
        "mmsafe_report": SUMMARY_VERSION, "benchmark": first["benchmark"],
        "files": [{"path": h["path"], "manifest_sha256": h["manifest_sha256"], "models": [m["name"] for m in h["models"]]}
                  for h in h5s],
        "manifest_sha256": first["manifest_sha256"], "order": order, "baseline": base,
        "subsets": [{"key": k, "name": t} for k, t in D.subsets],
        "bootstrap": {"seed": args.seed, "replicates": args.bootstrap, "interval": "percentile 95%",
                      "resamples": "clusters (see clustering); items for ci_items"},
        "clustering": cdesc,
        "models": [], "comparisons": [], "figures": figs,
    }
    for m in models:
        st = m["stats"]
        summary["models"].append({
            "name": m["name"], "file": m["file"], "step": m["step"], "x": m["x"], "pareto": m["pareto"],
            "n": st["n"], "scored": st["scored"], "tp": st["tp"], "fn": st["fn"], "fp": st["fp"], "tn": st["tn"],
            "unparsed": st["unparsed"], "errors": st["errors"], "pending": st["pending"],
            "subsets": {k: {kk: jnum(vv) for kk, vv in v.items()} for k, v in st["subsets"].items()},
            "total": jnum(st["total"]), "total_ci": [jnum(x) for x in m["total_ci"]], "micro": jnum(st["micro"]),
            "fnr": jnum(st["fnr"]), "fpr": jnum(st["fpr"]), "recall": jnum(st["recall"]),
            "benign_acceptance": jnum(st["benign_acceptance"]), "auroc": jnum(st["auroc"]), "ece": jnum(st["ece"]),
            "scenarios": {k: {"n": v["n"], "accuracy": jnum(v["accuracy"])} for k, v in st["scenarios"].items()}})
    for c in comps:
        summary["comparisons"].append({k: (jnum(v) if not isinstance(v, tuple) else [jnum(x) for x in v])
                                       for k, v in c.items()})
    write_outputs(out, title, md, body, figs, tex_paper_table(models, D), summary)
    print(md_table(head, rows), end="")
    print(f"report: {os.path.join(out, 'report.html')} ({len(models)} model(s), {time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
