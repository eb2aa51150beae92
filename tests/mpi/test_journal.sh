#!/usr/bin/env bash
# Damaged journals, end to end: a run's results file is lost (rebuilt from the
# journals) while its journals hold a torn tail and corrupt records in the
# middle (a flipped byte in the payload, the header, the length, the magic).
# The resume warns with the file and byte offset of each, evaluates exactly
# those items again and nothing else, and every other item's stored row is
# bit-identical to the first run's.  Then: of two records of an item, the
# newer journal's wins.
source "$(dirname "$0")/../lib.sh"
B=$T_TMP/b
"$PY" tests/mpi/gen_bench.py "$B" 60 2
cat >"$B/job.json" <<J
{"name": "journal", "manifest": "manifest.jsonl", "output": "out.h5", "chunk": 4,
 "models": [{"name": "m0", "backend": "responses", "responses": "resp0.jsonl", "delay_ms": 2},
            {"name": "m1", "backend": "responses", "responses": "resp1.jsonl", "delay_ms": 2}]}
J
# set-up: one complete run (not a check)
$MPIRUN -n 2 "$MMSAFE" run "$B/job.json" >"$B/r1.out" 2>"$B/r1.err" || { fail "first run failed: $(tail -3 "$B/r1.err")"; done_t; exit 1; }
cp "$B/out.h5" "$B/orig.h5"
"$PY" tests/h5cols.py "$B/orig.h5" >"$B/ref.cols"
ls "$B/out.h5.journal" >"$B/old.list"

# journal_records DIR [LIST]: "model item" of every intact record in DIR's
# journals (only those named in LIST when given), sorted.
journal_records() { "$PY" tests/journal_file.py list "$@"; }

# --- damage: 4 records in the middle of the first journal, a torn tail in the last
"$PY" - "$B/out.h5.journal" "$B/damaged" "$B/want_warn" <<'PY'
import os, sys
sys.path.insert(0, "tests")
from journal_file import walk
d, dam_out, warn_out = sys.argv[1:4]
names = sorted(os.listdir(d))
assert len(names) == 2, names
def records(path):
    return [(off, ln, model, item) for off, ln, model, _, item, _ in walk(path)]
damaged, warns = [], []
a = os.path.join(d, names[0]); ra = records(a)
assert len(ra) > 20, len(ra)
buf = bytearray(open(a, "rb").read())
# (record index, byte within the record): payload, item field (header), length, magic
for k, at in ((5, 44 + 1), (9, 16), (13, 8), (17, 2)):
    off, ln, model, item = ra[k]
    buf[off + at] ^= 0x5a
    damaged.append((model, item))
    warns.append(f"journal '{a}': corrupt record at byte {off} ({ln} byte(s) skipped, next intact record at byte {off + ln})")
open(a, "wb").write(buf)
z = os.path.join(d, names[1]); rz = records(z)
off, ln, model, item = rz[-1]
os.truncate(z, off + ln // 2)
damaged.append((model, item))
warns.append(f"journal '{z}': torn or corrupt record at byte {off} ({ln // 2} byte(s) up to the end)")
open(dam_out, "w").write("".join(f"{m} {i}\n" for m, i in sorted(damaged)))
open(warn_out, "w").write("".join(w + "\n" for w in warns))
PY
[ -s "$B/damaged" ] || { fail "could not damage the journals"; done_t; exit 1; }
head -c 3000 "$B/out.h5" >"$B/t.tmp" && mv "$B/t.tmp" "$B/out.h5"

$MPIRUN -n 2 "$MMSAFE" run "$B/job.json" >"$B/r2.out" 2>"$B/r2.err"
check_eq "resume over damaged journals exits 0" $? 0
check_grep "damaged results file moved aside" "moved it to .*damaged" "$B/r2.err"
while IFS= read -r w; do
  if grep -qF -- "$w" "$B/r2.err"; then ok "warning: $w"; else fail "no warning '$w' in: $(grep warning "$B/r2.err" | head -8)"; fi
done <"$B/want_warn"
check_eq "one warning per damaged record" "$(grep -c 'warning: journal .*record at byte' "$B/r2.err")" 5
check_grep "resume counts what the journals kept" "resuming: 115 of 120 \(model, item\) pairs already have a verdict" "$B/r2.err"
ls "$B/out.h5.journal" | grep -vxF -f "$B/old.list" >"$B/new.list"
journal_records "$B/out.h5.journal" "$B/new.list" >"$B/reeval"
check_eq "exactly the damaged records' items were evaluated again" "$(tr '\n' ',' <"$B/reeval")" "$(tr '\n' ',' <"$B/damaged")"
"$PY" - "$B/orig.h5" "$B/out.h5" "$B/damaged" >"$B/cmp" 2>&1 <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
dam = {tuple(map(int, l.split())) for l in open(sys.argv[3]) if l.strip()}
names = list(a["models"])
cols = ["verdict", "p_unsafe", "error", "rank", "latency_ms", "response", "error_msg", "response_len", "response_truncated"]
same_other = diff_other = same_dam_content = 0
for mi, m in enumerate(names):
    ga, gb = a["models"][m], b["models"][m]
    n = len(ga["verdict"])
    for i in range(n):
        def eq(c):
            x, y = ga[c][i], gb[c][i]
            return (np.isnan(x) and np.isnan(y)) if isinstance(x, np.floating) and np.isnan(x) else x == y
        if (mi, i) in dam:
            same_dam_content += all(eq(c) for c in cols if c not in ("rank", "latency_ms"))
        elif all(eq(c) for c in cols):
            same_other += 1
        else:
            diff_other += 1
print(f"untouched identical {same_other}, untouched changed {diff_other}, re-evaluated with the same answer {same_dam_content}")
PY
check_eq "h5py: every other item's stored row bit-identical (rank, latency too)" "$(cat "$B/cmp")" \
  "untouched identical 115, untouched changed 0, re-evaluated with the same answer 5"
"$PY" tests/h5cols.py "$B/out.h5" >"$B/got.cols"
check "results equal the first run's" cmp -s "$B/ref.cols" "$B/got.cols"
check_eq "nothing pending" "$("$MMSAFE" reduce "$B/out.h5" --pending)" 0

# --- of two records of an item, the newer journal's wins (whatever its rank)
# Forge two journals with the run's header: the newest (rank 7, far future)
# says m0/q7 answered "FORGED-NEW" (unsafe), the oldest (rank 0, time 1) says
# m0/q8 answered "FORGED-OLD"; the first must win, the second must lose.
"$PY" - "$B/out.h5.journal" <<'PY'
import os, struct, sys, zlib
d = sys.argv[1]
hdr = open(os.path.join(d, sorted(os.listdir(d))[0]), "rb").read()[:80]
def rec(model, item, verdict, resp):
    r = resp.encode()
    body = struct.pack("<HHIbbhffIII", model, 7, item, verdict, 0, 0, float("nan"), 1.0, len(r), 0, len(r)) + r
    ln = 12 + len(body)
    return struct.pack("<II", 0x4a524543, zlib.crc32(struct.pack("<I", ln) + body)) + struct.pack("<I", ln) + body
open(os.path.join(d, "r7-9999999999999-1.jnl"), "wb").write(hdr + rec(0, 7, 1, "FORGED-NEW"))
open(os.path.join(d, "r0-1000000000000-1.jnl"), "wb").write(hdr + rec(0, 8, 1, "FORGED-OLD"))
PY
head -c 3000 "$B/out.h5" >"$B/t.tmp" && mv "$B/t.tmp" "$B/out.h5"
"$MMSAFE" run "$B/job.json" >"$B/r3.out" 2>"$B/r3.err"; check_eq "rebuild with forged journals exits 0" $? 0
"$PY" - "$B/out.h5" >"$B/forged" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r"); g = f["models"]["m0"]
print(g["response"][7].decode(), int(g["verdict"][7]), g["response"][8].decode()[:10])
PY
o8=$("$PY" -c 'import sys,h5py; print(h5py.File(sys.argv[1],"r")["models"]["m0"]["response"][8].decode()[:10])' "$B/orig.h5")
check_eq "the newest journal's record of an item wins; the oldest's loses" "$(cat "$B/forged")" "FORGED-NEW 1 $o8"
done_t
