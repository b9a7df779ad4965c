#!/bin/bash
# Run every test suite and close with one summary line:
#   "check: N passed, N failed, N skipped"
# Env: NESTPLAN (binary), UNIT_TESTS (Check runner), REPLAY_DIR (fuzz replay
# binaries), VALGRIND=1 for memcheck of the unit tests, CHECK_JOBS (Python
# test files run at once; default 4: they mostly wait for simulated EC2).
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0; skipped=0; status=0
log=$(mktemp -d "${TMPDIR:-/tmp}/nestplan-check.XXXXXX")
trap 'rm -rf "$log"' EXIT INT TERM

add() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + ${3:-0})); }

echo "== unit tests (Check)"
if [ "${VALGRIND:-}" = 1 ]; then
	# CK_FORK=no: valgrind follows one process and sees every leak.
	CK_FORK=no valgrind --quiet --child-silent-after-fork=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
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

# Fuzz corpora and every input a fuzzer ever crashed on, replayed through the
# fuzz targets built with the normal compiler (tests/fuzz/fuzz.mk); one test
# per target. The log names each input, the failing one last.
REPLAY_DIR=${REPLAY_DIR:-$(dirname "$NESTPLAN")/fuzz-replay}
echo "== fuzz corpora and regressions (replay)"
for t in config xml planfile state; do
	dirs=""
	for d in "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t"; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	if [ ! -x "$REPLAY_DIR/replay_$t" ]; then
		echo "replay $t: skipped (no $REPLAY_DIR/replay_$t: make fuzz-replay-bins)" | tee -a "$log/replay-skipped"
		add 0 0 1
		continue
	fi
	vg=""
	[ "${VALGRIND:-}" = 1 ] && vg="valgrind --quiet --child-silent-after-fork=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
	# shellcheck disable=SC2086 # word splitting of $vg and $dirs is wanted
	if $vg "$REPLAY_DIR/replay_$t" -v $dirs >"$log/replay" 2>&1; then
		echo "replay $t: $(tail -n 1 "$log/replay" | sed 's/^replay: //')"
		add 1 0
	else
		cat "$log/replay"
		echo "replay $t: FAILED (the input named last above)"
		add 0 1
		status=1
	fi
done

# Python suites: the simulator, config/schema agreement, end-to-end. Each
# test file is its own process (own simulator, own directories), so several
# run at once; their output is shown in a fixed order.
files=$(ls tests/ec2sim/test_*.py tests/s3sim/test_*.py tests/config/test_*.py tests/integration/test_*.py 2>/dev/null)
jobs=${CHECK_JOBS:-4}
for f in $files; do
	mod=$(echo "${f%.py}" | tr / .)
	out="$log/$(echo "$mod" | tr . _)"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
	( NESTPLAN="$NESTPLAN" python3 -m tests.pyrun "$mod" >"$out" 2>&1; echo $? >"$out.rc" ) &
done
wait
for f in $files; do
	mod=$(echo "${f%.py}" | tr / .)
	out="$log/$(echo "$mod" | tr . _)"
	echo "== $mod (python unittest)"
	cat "$out"
	rc=$(cat "$out.rc")
	ran=$(grep -E '^Ran [0-9]+ test' "$out" | sed -E 's/Ran ([0-9]+).*/\1/')
	ran=${ran:-0}
	sk=$(grep -Eo 'skipped=[0-9]+' "$out" | tail -n 1 | cut -d= -f2)
	fl=$(grep -Eo 'failures=[0-9]+' "$out" | tail -n 1 | cut -d= -f2)
	er=$(grep -Eo 'errors=[0-9]+' "$out" | tail -n 1 | cut -d= -f2)
	sk=${sk:-0}; fl=${fl:-0}; er=${er:-0}
	if [ "$rc" -ne 0 ] && [ $((fl + er)) -eq 0 ]; then er=1; fi
	add $((ran - sk - fl - er)) $((fl + er)) "$sk"
	[ "$rc" -eq 0 ] || status=1
done

echo
# Each skipped test with its reason (tests/pyrun.py prints them), then the
# summary: the last line, whatever happened above.
if [ "$skipped" -gt 0 ]; then
	echo "skipped, with the reason:"
	grep -h '^skipped ' "$log"/* 2>/dev/null | sed 's/^skipped /  /'
	[ -f "$log/replay-skipped" ] && sed 's/^/  /' "$log/replay-skipped"
fi
echo "check: $passed passed, $failed failed, $skipped skipped"
exit $status
