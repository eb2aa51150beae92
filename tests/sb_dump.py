#!/usr/bin/python3
"""tests/sb_dump.py - a SafeBench results file as text lines, read with h5py
alone (the tests' independent reader of the layout in src/run/store.h).

    sb_dump.py rows FILE     one line per written row of every column: path,
                             item id, status/vote, rating, paths, stop,
                             n_prompt, n_generated, error, text (repr) --
                             everything but rank and latency, which differ
                             between runs
    sb_dump.py ranks FILE    the ranks that wrote rows, sorted
"""
import sys
import h5py


def columns(f):
    for m in f["models"]:
        g = f["models"][m]
        yield "/models/" + m, g
        if "judges" in g:
            for j in g["judges"]:
                for r in sorted(g["judges"][j], key=lambda s: int(s[5:])):
                    yield "/models/%s/judges/%s/%s" % (m, j, r), g["judges"][j][r]


def main():
    what, path = sys.argv[1], sys.argv[2]
    f = h5py.File(path, "r")
    ids = [x.decode() for x in f["items/id"][:]]
    if what == "rows":
        for p, g in columns(f):
            vote = "vote" in g
            st = g["vote" if vote else "status"][:]
            text = g["text" if vote else "answer"][:] if ("text" if vote else "answer") in g else None
            ln = g["text_len" if vote else "answer_len"][:]
            for i, s in enumerate(st):
                if s < 0:
                    continue
                t = text[i].decode() if text is not None else ""
                assert len(t.encode()) == ln[i], (p, ids[i], len(t.encode()), ln[i])
                extra = (g["rating"][i], g["result_path"][i], g["rating_path"][i]) if vote else (g["verdict"][i], round(float(g["rating"][i]), 4))
                print(p, ids[i], s, *extra, g["stop"][i], g["n_prompt"][i], g["n_generated"][i], g["error"][i], repr(t), sep="\t")
    elif what == "ranks":
        rs = set()
        for _, g in columns(f):
            st = g["vote" if "vote" in g else "status"][:]
            rs |= set(int(r) for r, s in zip(g["rank"][:], st) if s >= 0)
        print(sorted(rs))


if __name__ == "__main__":
    main()
