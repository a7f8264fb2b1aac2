#!/usr/bin/env bash
# What a free-threaded CPython 3.13 (python3.13t) gets from the Linux wheel, checked:
#
#   bash .ci/free-threaded.sh PYTHON3.13t WHEEL WORKDIR
#
# cffi, a dependency, refuses to build for free-threaded 3.13 (it supports free threading
# from 3.14), so today the answer is a clear refusal: `pip install` stops with cffi's
# message, and an install without it (--no-deps) fails at first use with mapisync_ctypes'
# own ImportError. Neither may crash. Should a cffi that supports 3.13t appear, the install
# succeeds and this check fails on purpose: the README's statement would then be out of date.
# Prints one line of result last; exit status 0 when what happened is what the README says.
set -uo pipefail
python=$1 wheel=$2 work=$3
venv="$work/venv-3.13t" log="$work/pip-3.13t.log"
mkdir -p "$work"

"$python" -c 'import sysconfig, sys; sys.exit(0 if sysconfig.get_config_var("Py_GIL_DISABLED") else 1)' \
    || { echo "FAILED: $python is not a free-threaded build"; exit 1; }
"$python" -m venv --clear "$venv" >"$log" 2>&1 || { cat "$log"; echo "FAILED: $python -m venv"; exit 1; }
"$venv/bin/python" -m pip install -q --upgrade pip >>"$log" 2>&1

if "$venv/bin/pip" install "$wheel" >>"$log" 2>&1; then
    # what the README says is out of date: a cffi for free-threaded 3.13 exists now
    echo "FAILED: the wheel installed into 3.13t with its cffi: the README's free-threaded section and this check need updating"
    exit 1
fi

# the refusal: cffi's own words, at install time
if ! grep -q "CFFI does not support the free-threaded build" "$log"; then
    tail -n 30 "$log"; echo "FAILED: installing the wheel into 3.13t failed, but not with cffi's refusal"; exit 1
fi
# without cffi (--no-deps): our ImportError at first use; exit status 1 from Python, not a signal
"$venv/bin/pip" install -q --no-deps "$wheel" >>"$log" 2>&1 || { tail -n 30 "$log"; echo "FAILED: pip install --no-deps"; exit 1; }
(cd "$work" && "$venv/bin/python" -c 'import mapisync_ctypes; mapisync_ctypes.COMObject') >"$work/import-3.13t.log" 2>&1
rc=$?
if [ $rc != 1 ] || ! grep -q "ImportError: mapisync_ctypes needs cffi, and cffi does not support free-threaded" "$work/import-3.13t.log"; then
    cat "$work/import-3.13t.log"; echo "FAILED: without cffi, 3.13t did not get mapisync_ctypes' ImportError (exit $rc)"; exit 1
fi
echo "free-threaded 3.13t: refused clearly (pip: cffi's refusal; --no-deps: our ImportError at first use, exit 1)"
