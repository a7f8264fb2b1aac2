"""What only the native backend promises: IUnknown never takes the GIL."""

import ctypes

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import IMAPISyncProgressCallback, com_pointer, com_refcount

from support import Recorder

native_only = pytest.mark.skipif(m.BACKEND != "native", reason="the ctypes backend enters Python for AddRef/Release")


def test_the_backend_is_named_and_forced_by_the_environment():
    import os
    forced = os.environ.get("MAPISYNC_BACKEND")
    assert m.BACKEND in ("native", "ctypes")
    if forced:
        assert m.BACKEND == {"cffi": "native"}.get(forced, forced)


@native_only
def test_addref_release_and_query_interface_run_while_python_holds_the_gil(native):
    obj = Recorder()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    qi = m.HRESULT(1)
    try:
        finished = native.host_gil.host_refcount_without_gil(address, 100000, 10000, ctypes.byref(qi))
        assert finished == 1, "AddRef/Release/QueryInterface waited for the GIL"
        assert qi.value == m.S_OK
        assert com_refcount(obj) == 1
    finally:
        native.host.host_release(address, 1)
    assert com_refcount(obj) == 0


@native_only
def test_native_bytes_per_object():
    from mapisync_ctypes.com.backends import active
    pointer = ctypes.sizeof(ctypes.c_void_p)
    assert active().object_bytes(1) == 8 + 2 * pointer + 2 * pointer  # header + one slot
