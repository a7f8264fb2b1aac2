"""The calling convention: stdcall vtables on 32-bit Windows, the C convention elsewhere."""

import ctypes
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer, wrap
from mapisync_ctypes.interfaces import INTERFACES

from support import Recorder

WIN32 = sys.platform == "win32" and ctypes.sizeof(ctypes.c_void_p) == 4


def test_every_prototype_uses_the_platform_com_convention():
    for interface in INTERFACES:
        for method in interface.methods:
            cdecl = bool(method.prototype._flags_ & ctypes._FUNCFLAG_CDECL)
            # stdcall exactly where it exists; x64 Windows and POSIX have one convention
            assert cdecl == (sys.platform != "win32"), (interface.name, method.name)


def test_c_compiled_stdcall_caller_and_python_callee_agree(native):
    """A C caller built for stdcall finds the stack where it left it after each call into Python."""
    obj = Recorder()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    try:
        moved = native.host.host_stack_balance(address, 2000)
    finally:
        native.host.host_release(address, 1)
    if WIN32:
        assert moved == 0, f"the stack pointer moved after {moved} of 14000 calls"
    else:
        assert moved == -1  # nothing to measure with one convention
    assert len(obj.events) == (6000 if WIN32 else 0)  # Progress, Error and Done, 2000 each


class Silent(COMObject):
    """Defines no method: every slot after IUnknown is an E_NOTIMPL stub."""

    _com_interfaces_ = [IMAPISyncProgressCallback]


def test_c_compiled_stdcall_caller_and_e_notimpl_stubs_agree(native):
    address = com_pointer(Silent(), IMAPISyncProgressCallback)
    try:
        moved = native.host.host_stack_balance(address, 2000)
    finally:
        native.host.host_release(address, 1)
    assert moved == (0 if WIN32 else -1), f"the stack pointer moved after {moved} calls"


def test_python_caller_and_c_compiled_stdcall_callee_agree(native):
    """Python calls a C object compiled with STDMETHODCALLTYPE many times: no drift, no crash."""
    address = native.objects.native_callback_new(m.S_OK)
    with wrap(address, IMAPISyncProgressCallback, addref=False) as cb:
        for i in range(3000):
            assert cb.Progress(None, i, 3000) == m.S_OK
            assert cb.Done(i, m.S_OK) == m.S_OK


MISTAKE = textwrap.dedent("""
    import ctypes, sys
    sys.path[:0] = [{tests!r}, {root!r}]
    from pathlib import Path
    import native_build
    from mapisync_ctypes import IMAPISyncProgressCallback

    libs = native_build.load(Path({build!r}))
    # The classic mistake: a vtable of CFUNCTYPE callbacks where the caller uses stdcall.
    proto = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32)
    keep = [ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(lambda this: 1)]
    slots = (ctypes.c_void_p * 6)()
    for i in range(3):
        slots[i] = ctypes.cast(keep[0], ctypes.c_void_p)
    wrong = proto(lambda this, text, i, n: 0)
    for i in range(3, 6):
        slots[i] = ctypes.cast(wrong, ctypes.c_void_p)
    obj = ctypes.c_void_p(ctypes.addressof(slots))
    moved = libs["host"].host_stack_balance(ctypes.addressof(obj), 2000)
    print("moved", moved, flush=True)
""")


@pytest.mark.skipif(not WIN32, reason="only 32-bit Windows has a second calling convention")
def test_the_stdcall_check_catches_a_cfunctype_vtable(native, tmp_path):
    """Proof that the check above can fail: with CFUNCTYPE thunks it reports drift or crashes."""
    here = Path(__file__).resolve().parent
    script = tmp_path / "mistake.py"
    build = Path(native.host._name).parent
    script.write_text(MISTAKE.format(tests=str(here), root=str(here.parent), build=str(build)))
    env = dict(os.environ, MAPISYNC_TEST_NATIVE_DIR=str(build))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                            env=env, stdin=subprocess.DEVNULL)
    crashed = result.returncode != 0
    drifted = "moved" in result.stdout and result.stdout.split("moved")[1].split()[0] not in ("0", "-1")
    assert crashed or drifted, (result.returncode, result.stdout, result.stderr)
