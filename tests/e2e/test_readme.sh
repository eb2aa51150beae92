#!/usr/bin/env bash
# README as a new user reads it: the Demo and "Running MMSafeAware" commands run
# as written (from a fresh copy of the checkout, on this 2-core machine: no
# oversubscription), the demo prints exactly the output README shows, and every
# command's options agree between README's Commands table and its --help.
. "$(dirname "$0")/../lib.sh"
if [ -z "$PY" ]; then skip "Debian python3 not found"; done_t; exit $?; fi
RC() { "$PY" tests/readme_check.py "$@"; }
# A copy of the checkout, as a fresh clone would be, with the built binary.
R=$T_TMP/repo; mkdir -p "$R"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$R"
else tar --exclude=./build --exclude=./build-asan --exclude=./results --exclude=./mmsafe -cf - . | tar -xf - -C "$R"; fi
ln -sf "$MMSAFE" "$R/mmsafe"
[ -d "$SHARED" ] && ln -s "$SHARED" "$T_TMP/shared"
# Open MPI as root is allowed by lib.sh (README: "as root add --allow-run-as-root");
# oversubscription is not: the commands must fit the cores README promises.
unset OMPI_MCA_rmaps_base_oversubscribe
run_block() {  # section -> runs each command; output of command i in $T_TMP/out.i
  local i=0 cmd
  while IFS= read -r cmd; do
    i=$((i+1))
    (cd "$R" && eval "$cmd") </dev/null >"$T_TMP/out.$i" 2>"$T_TMP/err.$i"
    local rc=$?
    if [ $rc -eq 0 ]; then ok "README $1: '$cmd' exits 0"
    else fail "README $1: '$cmd' exits $rc: $(tail -3 "$T_TMP/err.$i")"; fi
  done < <(RC blocks README.md "$1")
  check "README $1: has commands" test "$i" -gt 0
}
run_block Demo
RC output README.md Demo >"$T_TMP/shown"
if diff "$T_TMP/shown" "$T_TMP/out.1" >"$T_TMP/diff"; then ok "the demo prints exactly the output README shows"
else fail "the demo's output differs from README's:"; sed 's/^/    /' "$T_TMP/diff" >&2; fi
grep -v '^results: ' "$T_TMP/out.1" >"$T_TMP/table"
check_eq "reduce prints the run's table again" "$(cat "$T_TMP/out.2")" "$(cat "$T_TMP/table")"
if [ -f "$SHARED/data/mmsafeaware/prompt.txt" ]; then
  run_block "Running MMSafeAware"
  check_grep "the MMSafeAware run covers all 1,523 items" '"n":	1523' "$T_TMP/out.4"
else skip "../shared/data/mmsafeaware absent: README's MMSafeAware commands not run"; fi
# The results-reading snippet computes what reduce calls micro accuracy.
RC python README.md "Running on a cluster" | sed "s|sweep1/all.h5|$R/results/demo.h5|" >"$T_TMP/snip.py"
got=$(cd "$T_TMP" && "$PY" snip.py 2>&1 | awk '{printf "%s %.6f\n", $1, $2}')
want=$("$MMSAFE" reduce "$R/results/demo.h5" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["models"]; [print("%s %.6f" % (k, v["all"]["accuracy"])) for k, v in d.items()]')
check_eq "README's h5py snippet gives reduce's micro accuracy per model" "$got" "$want"
# Options: README's Commands table vs each command's --help.
RC options README.md "$MMSAFE" >"$T_TMP/opts" 2>&1
while IFS= read -r l; do case $l in ok*) ok "$l" ;; *) fail "$l" ;; esac; done <"$T_TMP/opts"
# ... and the comparison does notice a difference (README without check's --no-images).
sed 's/`mmsafe check JOB.json \[--threads N\] \[--no-images\]`/`mmsafe check JOB.json [--threads N]`/' README.md >"$T_TMP/README.md"
RC options "$T_TMP/README.md" "$MMSAFE" >"$T_TMP/opts2" 2>&1
check_eq "a README row missing an option fails the comparison" "$?" 1
check_grep "... naming the command and both option lists" "^FAIL mmsafe check: README \['--threads'\] vs --help usage \['--no-images', '--threads'\]" "$T_TMP/opts2"
done_t
