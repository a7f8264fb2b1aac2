#!/usr/bin/env bash
# The Debian packages CI needs beyond a machine of this kind: clang (the header must compile
# warning-free with it too), Wine (32- and 64-bit) and the mingw-w64 cross compilers (the
# Windows wheels and the Windows lane). Installs only what is missing; needs root the first
# time. Exit status 0 when everything is there afterwards, 1 otherwise (it says what).
set -uo pipefail
log=${1:-/tmp/mapisync-packages.log}
missing=()
for tool in clang wine i686-w64-mingw32-gcc x86_64-w64-mingw32-gcc i686-w64-mingw32-g++ x86_64-w64-mingw32-g++; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} = 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing ${missing[*]}, and no apt-get to install them"
    exit 1
fi
# Pin the release the machine runs (bookworm on Debian 12, trixie on 13), so the i386 and amd64
# library versions stay in step even when one index lags (seen: a lagging i386 security index).
codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
pin=()
[ -n "$codename" ] && pin=(-t "$codename")
{
    dpkg --add-architecture i386
    apt-get update -qq || echo "note: apt-get update reported errors; trying the install anyway"
    apt-get install -y -qq "${pin[@]}" --no-install-recommends clang wine wine64 wine32:i386 \
        gcc-mingw-w64-i686 gcc-mingw-w64-x86-64 g++-mingw-w64-i686 g++-mingw-w64-x86-64
} >"$log" 2>&1
still=()
for tool in "${missing[@]}"; do command -v "$tool" >/dev/null 2>&1 || still+=("$tool"); done
if [ ${#still[@]} != 0 ]; then
    echo "could not install ${still[*]} (see $log)"
    exit 1
fi
