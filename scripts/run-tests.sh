#!/bin/sh
# Run every test suite in the normal build, then under ASan+UBSan (clang build,
# which also carries the libFuzzer targets), and print one closing line.
set -u
status=0
for dir in "$@"; do
	echo "=== meson test -C $dir"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
done
/usr/bin/python3 - "$@" <<'PY'
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
