#!/bin/sh
# Run every test suite in the normal build, then under ASan+UBSan (clang build,
# which also carries the libFuzzer targets), and print one closing line.
set -u
status=0
build=$1
san=$2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "=== meson test -C $build (every suite)"
meson test -C "$build" --print-errorlogs --num-processes 2 || status=1

# Under ASan/UBSan: everything that feeds packets or files into our code.
# The namespace suites (interop, scale-out, ...) run real peers for minutes
# and add nothing a sanitizer would see that conformance does not.
echo "=== meson test -C $san (sanitizers + libFuzzer)"
meson test -C "$san" --print-errorlogs --num-processes 2 \
	--suite unit --suite config --suite conformance --suite fuzz \
	--suite adversarial --suite fault || status=1
/usr/bin/python3 - "$build" "$san" <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or skipped or passed == 0 else 0)
PY
[ $? -eq 0 ] || status=1
exit $status
