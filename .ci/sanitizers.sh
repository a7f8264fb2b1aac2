#!/usr/bin/env bash
# The sanitizer job: the native test hosts and the compiled extension built with
# AddressSanitizer + UndefinedBehaviorSanitizer run the native-facing tests; then valgrind
# memcheck runs a C test host that embeds Python. Any report fails the job.
#
#   bash .ci/sanitizers.sh          (from a checkout; it works on a copy in a temporary folder)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
python=${PYTHON:-python3}
# -fno-sanitize=vptr: a C++ host calling a COM object made in C or Python is the COM ABI at work,
# but UBSan's vptr check wants C++ RTTI behind every virtual call.
san="-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
asan_rt=$(gcc -print-file-name=libasan.so)
ubsan_rt=$(gcc -print-file-name=libubsan.so)

git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$work") 2>/dev/null \
    || cp -r "$repo"/. "$work"
cd "$work"
rm -f mapisync_ctypes/*.so
"$python" -m venv "$work/venv"
. "$work/venv/bin/activate"
pip install -q --upgrade pip >/dev/null
CFLAGS="$san" LDFLAGS="$san" MAPISYNC_REQUIRE_NATIVE=1 pip install -q -e '.[test]' >"$work/build.log" 2>&1 \
    || { cat "$work/build.log"; exit 1; }

status=0
echo "=== ASan + UBSan: native-facing tests on both backends ==="
for backend in native ctypes; do
    log="$work/asan-$backend.log"
    # Python itself is not instrumented and keeps memory at exit: leak checking is off.
    MAPISYNC_BACKEND=$backend MAPISYNC_TEST_CFLAGS="$san" LD_PRELOAD="$asan_rt $ubsan_rt" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        python -m pytest -q -p no:cacheprovider tests/test_iunknown.py tests/test_calls_from_c.py \
        tests/test_proxy.py tests/test_lifetime.py tests/test_sync_provider.py tests/test_run_sync.py \
        tests/test_hardening.py tests/test_stress.py tests/test_native_backend.py tests/test_debug.py \
        tests/test_shutdown.py tests/test_gil.py >"$log" 2>&1
    rc=$?
    reports=$(grep -cE "ERROR: AddressSanitizer|runtime error:" "$log")
    echo "$backend: $(tail -n 1 "$log") (exit $rc, sanitizer reports: $reports)"
    if [ "$rc" != 0 ] || [ "$reports" != 0 ]; then status=1; grep -E -A20 "AddressSanitizer|runtime error" "$log" | head -60; fi
done

echo "=== valgrind memcheck: a C host embedding Python (4 concurrent syncs, shutdown) ==="
deactivate
if command -v valgrind >/dev/null 2>&1; then
    # an uninstrumented build: the caller's checkout (built by pip install -e, as .ci/run does)
    build="$work/vg"; mkdir -p "$build"
    (cd "$repo" && "$python" - "$build" <<'PY'
import sys
from pathlib import Path
sys.path[:0] = ["tests", "."]
import native_build
print(native_build.compile_executable("embed_host", Path(sys.argv[1])))
PY
    )
    libpython=$("$python" -c "import sysconfig, os; print(os.path.join(sysconfig.get_config_var('LIBDIR'), sysconfig.get_config_var('INSTSONAME')))")
    site=$("$python" -c "import site; print(':'.join(site.getsitepackages()))")
    log="$work/valgrind.log"
    PYTHONMALLOC=malloc MAPISYNC_PYTHON="$libpython" PYTHONPATH="$repo:$repo/tests:$site" \
        valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite "$build/embed_host" run embed_factories:fast >"$log" 2>&1
    rc=$?
    echo "$(grep -E 'ERROR SUMMARY|definitely lost' "$log" | tr -s ' ' | head -2 | tr '\n' ' ')(exit $rc)"
    # Ours: errors whose top frame is in our C, and definite leaks allocated by our C
    # (CPython itself reports a few known uninitialised reads under valgrind).
    ours=$("$python" - "$log" <<'PY'
import re, sys
blocks = re.split(r"==\d+== \n", open(sys.argv[1], errors="replace").read())
mine = re.compile(r"\((embed_host|sync_host|mapisync_python|testsupport)\.[ch]:")
count = 0
for block in blocks:
    frames = re.findall(r"(?:at|by) 0x[0-9A-F]+: .*", block)
    if "definitely lost" in block:
        first = next((f for f in frames if not re.search(r"malloc|calloc|realloc|new", f)), "")
        count += bool(mine.search(first))
    elif re.search(r"Invalid|uninitialised|Mismatched|overlap", block) and frames:
        count += bool(mine.search(frames[0]))
print(count)
PY
)
    echo "reports in our code: $ours"
    if [ "$ours" != 0 ]; then status=1; grep -B5 -A25 "Invalid\|definitely lost" "$log" | head -80; fi
    grep -qE "^result=ok" "$log" || { echo "embed_host did not pass under valgrind"; status=1; }
else
    echo "valgrind is not installed: the valgrind step could not run"
    status=1
fi
exit $status
