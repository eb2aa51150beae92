#!/usr/bin/python3
"""tests/journal_file.py - mmsafe's per-rank result journals as the tests read
them: the one place in tests/ that knows the record layout (src/run/journal.h).

    journal_file.py tally DIR             "RECORDS DISTINCT MAX MIN": intact records
                                          per (model, item) over DIR/*.jnl
    journal_file.py list DIR [NAMES]      "model item" per intact record, sorted
                                          (only the journals named in file NAMES)

A file's intact records are those before its first bad one (magic, length or
CRC), as a reader without resynchronisation sees them.  Tests that damage
journals import walk() for the raw offsets.
"""
import collections
import os
import struct
import sys
import zlib

HEADER = 80                 # file header: magic, manifest sha256, job sha256
RECORD = 44                 # record header: magic crc len model rank item ...
MAGIC = 0x4A524543          # "JREC"


def walk(path):
    """(offset, length, model, rank, item, intact) for each record header that
    fits, following the length fields; stops at a length that cannot be."""
    b = open(path, "rb").read()
    off = HEADER
    while off + RECORD <= len(b):
        magic, crc, ln, model, rank, item = struct.unpack_from("<IIIHHI", b, off)
        fits = RECORD <= ln <= len(b) - off
        intact = magic == MAGIC and fits and zlib.crc32(b[off + 8:off + ln]) == crc
        yield off, ln, model, rank, item, intact
        if not fits:
            break
        off += ln


def intact(path):
    """(model, item) of the records before the file's first bad one."""
    out = []
    for _, _, model, _, item, ok in walk(path):
        if not ok:
            break
        out.append((model, item))
    return out


def journals(d, names=None):
    return [os.path.join(d, n) for n in (names if names is not None else sorted(os.listdir(d))) if n.endswith(".jnl")]


def main():
    what, d = sys.argv[1], sys.argv[2]
    if what == "tally":
        c = collections.Counter(r for f in journals(d) for r in intact(f))
        v = c.values()
        print(sum(v), len(c), max(v) if c else 0, min(v) if c else 0)
    elif what == "list":
        names = [l.strip() for l in open(sys.argv[3]) if l.strip()] if len(sys.argv) > 3 else None
        for m, i in sorted(r for f in journals(d, names) for r in intact(f)):
            print(m, i)
    else:
        sys.exit(f"journal_file.py: unknown command '{what}'")


if __name__ == "__main__":
    main()
