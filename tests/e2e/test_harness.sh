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
cat >"$H/tests/mpi/test_lies.sh" <<'T'
echo "test_lies: 4 passed, 0 failed"; exit 3
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
check_eq "selector + group: closing line (the crash and the non-zero exit with '0 failed' each fail)" "$(tail -1 <<<"$out")" "7 passed, 2 failed"
grep -q 'FAIL mpi/test_crash: no result line (exit 139)' <<<"$out" && ok "the crash is named with its exit code" || fail "crash message: $out"
out=$(cd "$H" && CI= bash tests/run.sh e2e/test_nonexistent 2>&1); rc=$?
check_eq "an unknown selector fails" "$rc" 1
# a test that writes into the checkout fails the suite, naming the file
( cd "$H" && git init -q . && git add -A && git -c user.email=t@t -c user.name=t commit -qm init ) >/dev/null 2>&1
cat >"$H/tests/e2e/test_litter.sh" <<'T'
mkdir -p results; : >results/demo.h5; echo "test_litter: 1 passed, 0 failed"
T
out=$(cd "$H" && CI= bash tests/run.sh e2e/test_litter 2>&1); rc=$?
check_eq "a test that leaves a file in the checkout fails the run" "$rc" 1
check_eq "... counted as one failure" "$(tail -1 <<<"$out")" "1 passed, 1 failed"
grep -q '^    results/demo.h5$' <<<"$out" && ok "... and the file is named" || fail "litter message: $out"
out=$(cd "$H" && CI= bash tests/run.sh e2e/test_good 2>&1); rc=$?
check_eq "a file left before the suite started is not blamed on it" "$rc" 0
done_t
