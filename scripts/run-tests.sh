#!/bin/sh
# Run every test suite in the normal build, then under ASan+UBSan (clang build,
# which also carries the libFuzzer targets), and print one closing line.
#
# The closing line counts only this run: each build's old test log is removed
# before its `meson test`, the number of results must equal what
# `meson test --list` says the run holds, and a meson failure without results
# (a rebuild error exits 125, an empty selection exits 0) is a failure.
# EXPECTEDFAIL is not a pass: no test here is meant to fail.
set -u
status=0
build=$1
san=$2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Under ASan/UBSan: everything that feeds packets or files into our code.
# The namespace suites (interop, scale-out, ...) run real peers for minutes
# and add nothing a sanitizer would see that conformance does not.
san_suites="--suite unit --suite config --suite conformance --suite fuzz --suite adversarial --suite fault --suite state"

# run_build DIR [meson test selection...]: runs the tests, leaves DIR/expected.
run_build() {
	dir=$1
	shift
	rm -f "$dir/meson-logs/testlog.json" "$dir/expected-tests"
	if ! meson test -C "$dir" --list "$@" >"$dir/list.out" 2>&1; then
		echo "run-tests: meson test --list failed in $dir:"
		cat "$dir/list.out"
		status=1
		return
	fi
	grep -c ' / ' "$dir/list.out" >"$dir/expected-tests"
	echo "=== meson test -C $dir $* ($(cat "$dir/expected-tests") tests)"
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "run-tests: meson test -C $dir exited $rc"
		status=1
	fi
}

run_build "$build"
# shellcheck disable=SC2086
run_build "$san" $san_suites

/usr/bin/python3 - "$build" "$san" <<'PY'
import json, sys
passed = failed = skipped = 0
ok = True
for d in sys.argv[1:]:
    p = f = s = 0
    try:
        expected = int(open(f"{d}/expected-tests").read())
    except (OSError, ValueError):
        expected = None
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        r = json.loads(line)["result"]
        if r == "OK":
            p += 1
        elif r == "SKIP":
            s += 1
        else:                      # FAIL, TIMEOUT, ERROR, EXPECTEDFAIL, UNEXPECTEDPASS
            f += 1
    got = p + f + s
    if expected is None or got != expected or expected == 0:
        print(f"{d}: {got} results, expected {expected} from meson test --list")
        f += max(1, (expected or 0) - got)
    print(f"{d}: {p} passed, {f} failed, {s} skipped")
    passed, failed, skipped = passed + p, failed + f, skipped + s
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or skipped or passed == 0 else 0)
PY
[ $? -eq 0 ] || status=1
exit $status
