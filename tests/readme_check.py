#!/usr/bin/python3
"""tests/readme_check.py - what README says against what the program does.

  readme_check.py blocks README.md SECTION          print the commands of the
        first ```sh block under '## SECTION' (comments and blank lines dropped)
  readme_check.py output README.md SECTION          print the first plain ```
        block under '## SECTION' (a shown output)
  readme_check.py python README.md SECTION          print the last ```python
        block under '## SECTION'
  readme_check.py options README.md MMSAFE          compare every command's
        options in README's "Commands" table with its --help (usage lines and
        option list); prints one 'ok ...' or 'FAIL ...' line per check
"""
import re
import subprocess
import sys


def section(text, name):
    m = re.search(r"^## " + re.escape(name) + r"\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        sys.exit(f"readme_check: no section '## {name}' in README")
    return m.group(1)


def fences(body, lang):
    """The fenced blocks of body whose info string is lang ('' = a plain fence)."""
    out, cur, info = [], None, None
    for ln in body.splitlines(keepends=True):
        if ln.startswith("```"):
            if cur is None:
                cur, info = [], ln[3:].strip()
            else:
                if info == lang:
                    out.append("".join(cur))
                cur = None
        elif cur is not None:
            cur.append(ln)
    return out


OPT = re.compile(r"(?<![\w/.-])(--?[a-zA-Z][\w-]*)")


def opts(s):
    return set(o for o in OPT.findall(s) if o != "-")


def help_opts(mmsafe, cmd):
    h = subprocess.run([mmsafe, cmd, "--help"], capture_output=True, text=True)
    lines = h.stdout.splitlines()
    usage, i = [], 0
    while i < len(lines) and lines[i].strip():   # the usage block: up to the first blank line
        usage.append(lines[i])
        i += 1
    listed = set()
    for ln in lines[i:]:
        m = re.match(r"^  (-[-\w]+)", ln)
        if m:
            listed.add(m.group(1))
    u = opts(" ".join(usage))
    u.discard("--help")
    return h.returncode, u, listed


def main():
    what, readme = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
    if what == "blocks":
        b = fences(section(readme, sys.argv[3]), "sh")
        for ln in b[0].splitlines():
            ln = re.sub(r"\s+#.*$", "", ln).rstrip()
            if ln and not ln.startswith("#"):
                print(ln)
    elif what == "python":
        print(fences(section(readme, sys.argv[3]), "python")[-1], end="")
    elif what == "output":
        print(fences(section(readme, sys.argv[3]), "")[0], end="")
    elif what == "options":
        mmsafe, bad = sys.argv[3], 0
        rows = re.findall(r"^\| `mmsafe ([a-z-]+)([^`]*)` \|", section(readme, "Commands"), re.M)
        if len(rows) < 6:
            print(f"FAIL README's Commands table: only {len(rows)} rows found")
            bad += 1
        for cmd, args in rows:
            rc, usage, listed = help_opts(mmsafe, cmd)
            r = opts(args)
            if rc != 0:
                print(f"FAIL mmsafe {cmd} --help exits {rc}"); bad += 1; continue
            if r != usage:
                print(f"FAIL mmsafe {cmd}: README {sorted(r)} vs --help usage {sorted(usage)}"); bad += 1
            else:
                print(f"ok   mmsafe {cmd}: README and --help usage give the same options {sorted(r)}")
            if listed and listed != usage:
                print(f"FAIL mmsafe {cmd} --help: usage line {sorted(usage)} vs option list {sorted(listed)}"); bad += 1
            elif listed:
                print(f"ok   mmsafe {cmd} --help: usage line and option list agree")
        # README's per-command option table of the engine commands ("Models")
        mrows = re.findall(r"^\| `(inspect|tokenize|logits|generate|preprocess|embed-image)[^`]*` \| ([^|]*) \|$",
                           section(readme, "Models"), re.M)
        if len(mrows) < 6:
            print(f"FAIL README's model-command option table: only {len(mrows)} rows found"); bad += 1
        for cmd, cell in mrows:
            rc, usage, listed = help_opts(mmsafe, cmd)
            r = opts(" ".join(re.findall(r"`([^`]*)`", cell)))
            h = usage | listed
            if r != h:
                print(f"FAIL mmsafe {cmd}: README's option table {sorted(r)} vs --help {sorted(h)}"); bad += 1
            else:
                print(f"ok   mmsafe {cmd}: README's option table and --help list the same options")
        # Every option a parser in src/ compares against is in some command's --help
        # (no hidden aliases).
        import glob, os
        helped = {"--help", "-h", "--version"}
        cmds = re.findall(r"^  ([a-z][a-z-]+) ", subprocess.run([mmsafe, "--help"], capture_output=True, text=True).stdout, re.M)
        for c in cmds:
            _, u, l = help_opts(mmsafe, c)
            helped |= u | l
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
        hidden = set()
        files = glob.glob(os.path.join(src, "**", "*.c"), recursive=True)
        if len(files) < 10:
            print(f"FAIL found only {len(files)} C files under {src}"); bad += 1
        for f in files:
            for o in re.findall(r'strcmp\(\s*\w+(?:\[\w+\])?\s*,\s*"(-[-\w]*)"\s*\)', open(f, encoding="utf-8").read()):
                if o not in helped:
                    hidden.add(f"{os.path.basename(f)}: {o}")
        if hidden:
            print(f"FAIL options accepted by the parsers but in no --help: {sorted(hidden)}"); bad += 1
        else:
            print(f"ok   every option the parsers accept is in a --help ({len(cmds)} commands)")
        sys.exit(1 if bad else 0)


main()
