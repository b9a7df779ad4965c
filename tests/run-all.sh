#!/bin/sh
# Run every test suite and close with one summary line:
#   "check: N passed, N failed, N skipped"
# Env: NESTPLAN (binary), UNIT_TESTS (Check runner), VALGRIND=1 for memcheck.
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0; skipped=0; status=0
log=$(mktemp -d "${TMPDIR:-/tmp}/nestplan-check.XXXXXX")
trap 'rm -rf "$log"' EXIT INT TERM

add() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + ${3:-0})); }

echo "== unit tests (Check)"
if [ "${VALGRIND:-}" = 1 ]; then
	# CK_FORK=no: valgrind follows one process and sees every leak.
	CK_FORK=no valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$UNIT_TESTS" >"$log/unit" 2>&1
else
	"$UNIT_TESTS" >"$log/unit" 2>&1
fi
rc=$?
cat "$log/unit"
line=$(grep -E '^[0-9]+%: Checks: ' "$log/unit" | tail -n 1)
if [ -n "$line" ]; then
	n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
	e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
	add $((n - f - e)) $((f + e))
else
	add 0 1
fi
[ $rc -eq 0 ] || status=1

# Python suites: the simulator, config/schema agreement, end-to-end.
for dir in tests/ec2sim tests/config tests/integration; do
	ls "$dir"/test_*.py >/dev/null 2>&1 || continue
	echo "== $dir (python unittest)"
	NESTPLAN="$NESTPLAN" python3 -m unittest discover -s "$dir" -t . -p 'test_*.py' >"$log/py" 2>&1
	rc=$?
	cat "$log/py"
	ran=$(grep -E '^Ran [0-9]+ test' "$log/py" | sed -E 's/Ran ([0-9]+).*/\1/')
	ran=${ran:-0}
	sk=$(grep -Eo 'skipped=[0-9]+' "$log/py" | tail -n 1 | cut -d= -f2)
	fl=$(grep -Eo 'failures=[0-9]+' "$log/py" | tail -n 1 | cut -d= -f2)
	er=$(grep -Eo 'errors=[0-9]+' "$log/py" | tail -n 1 | cut -d= -f2)
	sk=${sk:-0}; fl=${fl:-0}; er=${er:-0}
	if [ $rc -ne 0 ] && [ $((fl + er)) -eq 0 ]; then er=1; fi
	add $((ran - sk - fl - er)) $((fl + er)) "$sk"
	[ $rc -eq 0 ] || status=1
done

echo
echo "check: $passed passed, $failed failed, $skipped skipped"
exit $status
