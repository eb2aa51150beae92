#!/usr/bin/env python3
"""Prints the per-item results of an mmsafe results file, one line per
(model, item), without the columns that legitimately differ between runs
(rank, latency).  Used by the tests to compare runs with h5py, i.e. the file
read by a reader that is not mmsafe."""
import sys
import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f:
    ids = [x.decode() for x in f["items/id"][:]]
    for name in f["models"]:
        g = f["models"][name]
        v, p, e = g["verdict"][:], g["p_unsafe"][:], g["error"][:]
        r, em = g["response"][:], g["error_msg"][:]
        rl, tr = g["response_len"][:], g["response_truncated"][:]
        for i, iid in enumerate(ids):
            ps = "nan" if np.isnan(p[i]) else repr(float(p[i]))
            print(f"{name}\t{iid}\t{int(v[i])}\t{ps}\t{int(e[i])}\t{int(rl[i])}\t{int(tr[i])}\t{r[i]!r}\t{em[i]!r}")
