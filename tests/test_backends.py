"""Both backends, through their written contract (com/contract.py), in one process.

Whatever backend is active, the other one is exercised here too: the same objects, vtables
and IUnknown rules from C, the same counts and keep-alive, the same E_NOTIMPL for an
undefined method and the same HRESULT for an exception.
"""

import ctypes
import gc
import weakref

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import GUID, IID_IMAPISync, IID_IMAPISyncProgressCallback, IMAPISync, IMAPISyncProgressCallback
from mapisync_ctypes.com.contract import Backend, declared_interfaces


def _backends():
    from mapisync_ctypes.com.ctypes_backend import BACKEND as ctypes_backend
    found = [pytest.param(ctypes_backend, id="ctypes")]
    try:
        from mapisync_ctypes.com.native_backend import BACKEND as native_backend
    except ImportError as exc:
        found.append(pytest.param(None, id="native", marks=pytest.mark.skip(f"no native backend: {exc}")))
    else:
        found.append(pytest.param(native_backend, id="native"))
    return found


@pytest.fixture(params=_backends())
def backend(request) -> Backend:
    return request.param


class Callback(m.COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback, IMAPISync]

    def __init__(self):
        self.calls = []

    def Progress(self, text, ulIndex, ulIndexMax):
        self.calls.append((text, ulIndex, ulIndexMax))
        if text == "boom":
            raise RuntimeError("boom")
        return m.S_FALSE if text == "false" else None


def test_both_backends_implement_the_contract(backend):
    assert isinstance(backend, Backend) and backend.name in ("native", "ctypes")
    assert backend.object_bytes(1) >= 8 + 2 * ctypes.sizeof(ctypes.c_void_p)


def test_one_class_one_set_of_vtables(backend):
    first, second = Callback(), Callback()
    assert backend.class_info(Callback) is backend.class_info(type(second))
    a, b = backend.interface_pointer(first, IMAPISyncProgressCallback.iid), backend.interface_pointer(
        second, IMAPISyncProgressCallback.iid)
    assert ctypes.c_void_p.from_address(a).value == ctypes.c_void_p.from_address(b).value  # same vtable
    for obj, address in ((first, a), (second, b)):
        m.wrap(address, m.IUnknown, addref=False).release()
        assert backend.refcount(obj) == 0


def test_counts_keep_alive_and_iunknown_from_c(backend, native):
    obj = Callback()
    ref = weakref.ref(obj)
    assert backend.refcount(obj) == 0
    address = backend.interface_pointer(obj, IMAPISyncProgressCallback.iid)
    assert backend.refcount(obj) == 1
    assert backend.interface_pointer(obj, GUID("{11111111-2222-3333-4444-555555555555}")) is None
    iids = (GUID * 2)(IID_IMAPISyncProgressCallback, IID_IMAPISync)
    message = ctypes.create_string_buffer(8192)
    failures = native.host.host_check_iunknown(address, iids, 2, GUID("{11111111-2222-3333-4444-555555555556}"),
                                               message, len(message))
    assert failures == 0, message.value.decode()
    del obj
    gc.collect()
    assert ref() is not None  # native code holds it
    assert native.host.host_release(address, 1) == 0
    gc.collect()
    assert ref() is None  # collected after the final Release


def test_dispatch_results_and_errors_alike(backend, native):
    obj = Callback()
    address = backend.interface_pointer(obj, IMAPISyncProgressCallback.iid)
    try:
        text = (m.WCHAR * 6)(*b"false\0")
        assert native.host.host_progress(address, text, 1, 2) == m.S_FALSE
        boom = (m.WCHAR * 5)(*b"boom\0")
        assert native.host.host_progress(address, boom, 3, 4) == m.E_FAIL
        assert native.host.host_progress(address, None, 5, 6) == m.S_OK
        assert native.host.host_error(address, m.E_FAIL, None) == m.E_NOTIMPL  # Error is not defined
        assert obj.calls == [("false", 1, 2), ("boom", 3, 4), (None, 5, 6)]
    finally:
        native.host.host_release(address, 1)


def test_class_checks_are_shared(backend):
    class Bad:
        _com_interfaces_ = ["IMAPISync"]

    with pytest.raises(TypeError, match="not an Interface"):
        declared_interfaces(Bad)
