#!/usr/bin/env bash
# The test harness itself (tests/run.sh): selectors, the closing line, skips
# counted locally and failing under CI=true, a crash counted as a failure.
. "$(dirname "$0")/../lib.sh"
H=$T_TMP/h; mkdir -p "$H/tests/e2e" "$H/tests/mpi"
cp tests/run.sh "$H/tests/"
cat >"$H/tests/e2e/test_good.sh" <<'T'
echo "test_good: 3 passed, 0 failed"
T
cat >"$H/tests/e2e/test_skips.sh" <<'T'
echo "skip test_skips: ../shared absent" >&2
echo "test_skips: 2 passed, 0 failed, 1 skipped"
T
cat >"$H/tests/mpi/test_crash.sh" <<'T'
echo "half a line"; exit 139
T
out=$(cd "$H" && CI= bash tests/run.sh e2e 2>&1); rc=$?
check_eq "locally a skip is not a failure (exit)" "$rc" 0
check_eq "locally the closing line counts the skip" "$(tail -1 <<<"$out")" "5 passed, 0 failed, 1 skipped"
out=$(cd "$H" && CI=true bash tests/run.sh e2e 2>&1); rc=$?
check_eq "CI=true: a skipped check fails the run (exit)" "$rc" 1
check_eq "CI=true: the skip is counted as a failure" "$(tail -1 <<<"$out")" "5 passed, 1 failed"
grep -q 'FAIL e2e/test_skips: 1 check(s) skipped under CI=true' <<<"$out" && ok "CI=true names the skipping test" || fail "CI message: $out"
out=$(cd "$H" && CI= bash tests/run.sh e2e/test_good mpi 2>&1); rc=$?
check_eq "a crash without a result line fails (exit)" "$rc" 1
check_eq "selector + group: closing line" "$(tail -1 <<<"$out")" "3 passed, 1 failed"
grep -q 'FAIL mpi/test_crash: no result line (exit 139)' <<<"$out" && ok "the crash is named with its exit code" || fail "crash message: $out"
out=$(cd "$H" && CI= bash tests/run.sh e2e/test_nonexistent 2>&1); rc=$?
check_eq "an unknown selector fails" "$rc" 1
done_t
