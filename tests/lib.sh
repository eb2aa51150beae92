# tests/lib.sh - helpers for the shell tests (sourced).  Each test script
# counts its checks and ends with "NAME: N passed, M failed[, K skipped]",
# the line tests/run.sh adds up.  Scripts run from the repository root.
set -u
T_NAME=${T_NAME:-$(basename "$0" .sh)}
T_PASS=0; T_FAIL=0; T_SKIP=0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MMSAFE="${MMSAFE:-$ROOT/mmsafe}"
SHARED="$ROOT/../shared"
# Open MPI as root, more ranks than cores, yield when idle (ranks > cores crawl otherwise).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_rmaps_base_oversubscribe=1
export HDF5_USE_FILE_LOCKING=FALSE
# Debian's interpreter: the one that sees python3-h5py / python3-numpy.
PY=$(for p in /usr/bin/python3 python3; do "$p" -c 'import h5py, numpy' 2>/dev/null && { echo "$p"; break; }; done)
MPIRUN="mpirun --oversubscribe"

T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mmsafe-test.XXXXXX")
t_cleanup_hooks=()
t_on_exit() { local h; for h in "${t_cleanup_hooks[@]:+${t_cleanup_hooks[@]}}"; do eval "$h" || true; done; if [ -n "${T_KEEP:-}" ]; then echo "kept $T_TMP" >&2; else rm -rf "$T_TMP"; fi; }
trap t_on_exit EXIT

ok()   { T_PASS=$((T_PASS+1)); [ -n "${T_VERBOSE:-}" ] && echo "ok   $*" >&2; return 0; }
fail() { T_FAIL=$((T_FAIL+1)); echo "FAIL $T_NAME: $*" >&2; return 0; }
skip() { T_SKIP=$((T_SKIP+1)); echo "skip $T_NAME: $*" >&2; return 0; }
# check DESC CMD...: passes when CMD exits 0.
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else fail "$d"; fi; }
# check_eq DESC A B
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi; }
# check_grep DESC PATTERN FILE
check_grep() { if grep -qE -- "$2" "$3"; then ok "$1"; else fail "$1: /$2/ not in $3: $(head -c 600 "$3")"; fi; }
check_nogrep() { if ! grep -qE -- "$2" "$3"; then ok "$1"; else fail "$1: /$2/ found in $3"; fi; }
have_shared() { [ -d "$SHARED/$1" ]; }
done_t() {
  if [ "$T_SKIP" -gt 0 ]; then echo "$T_NAME: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
  else echo "$T_NAME: $T_PASS passed, $T_FAIL failed"; fi
  [ "$T_FAIL" -eq 0 ]
}
