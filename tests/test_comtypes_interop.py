"""Interop with comtypes, the established Python COM library (Windows interpreters only)."""

import ctypes
import gc
import logging
import sys
import weakref

import pytest

if sys.platform != "win32":
    pytest.skip("comtypes runs on Windows only (the Windows lane)", allow_module_level=True)
comtypes = pytest.importorskip("comtypes")

import mapisync_ctypes as m  # noqa: E402
from mapisync_ctypes.comtypes_bridge import comtypes_interface  # noqa: E402
from mapisync_ctypes import IMAPISyncProgressCallback, IUnknown, com_pointer, com_refcount, wrap  # noqa: E402

from support import Recorder  # noqa: E402


# comtypes' declaration, made from ours
ICTProgressCallback = comtypes_interface(IMAPISyncProgressCallback)


def test_comtypes_client_calls_our_object(caplog):
    obj = Recorder()
    ref = weakref.ref(obj)
    pointer = ctypes.cast(ctypes.c_void_p(com_pointer(obj, IMAPISyncProgressCallback)),
                          ctypes.POINTER(ICTProgressCallback))  # adopts com_pointer's reference
    with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
        pointer.Progress("from comtypes", 1, 2)
        pointer.Error(m.MAPI_E_NETWORK_ERROR, None)
        pointer.Done(0x42, m.S_OK)
        unknown = pointer.QueryInterface(comtypes.IUnknown)
        assert com_refcount(obj) == 2
        again = unknown.QueryInterface(ICTProgressCallback)
        assert ctypes.cast(again, ctypes.c_void_p).value == ctypes.cast(pointer, ctypes.c_void_p).value
        assert pointer.AddRef() == 4 and pointer.Release() == 3
        del unknown, again
        gc.collect()
        assert com_refcount(obj) == 1
        del obj
        assert ref() is not None  # comtypes' pointer still holds it
        del pointer  # comtypes releases through its own lifetime handling
        gc.collect()
    assert ref() is None, "our object was not collected after comtypes released it"
    assert "already zero" not in caplog.text, "comtypes released twice"


def test_comtypes_sees_failure_hresults_from_our_object():
    obj = Recorder(answer=m.MAPI_E_USER_CANCEL)
    pointer = ctypes.cast(ctypes.c_void_p(com_pointer(obj, IMAPISyncProgressCallback)),
                          ctypes.POINTER(ICTProgressCallback))
    with pytest.raises(comtypes.COMError) as info:
        pointer.Progress("cancel me", 1, 1)
    assert info.value.hresult == m.MAPI_E_USER_CANCEL
    with pytest.raises(comtypes.COMError) as info:
        pointer.QueryInterface(comtypes.IPersist)
    assert info.value.hresult == m.E_NOINTERFACE
    del pointer, info  # the traceback holds comtypes' frames, and they hold the pointer
    gc.collect()
    assert com_refcount(obj) == 0


class CTCallback(comtypes.COMObject):
    _com_interfaces_ = [ICTProgressCallback]

    def __init__(self):
        super().__init__()
        self.events = []

    def Progress(self, text, ulIndex, ulIndexMax):
        self.events.append(("Progress", text, ulIndex, ulIndexMax))

    def IMAPISyncProgressCallback_Error(self, this, hResult, text):
        # comtypes' low-level form: it receives `this` and its return value is the HRESULT
        self.events.append(("Error", hResult, text))
        return m.S_FALSE

    def Done(self, hThreadDoneEvent, hResult):
        self.events.append(("Done", hThreadDoneEvent, hResult))
        raise comtypes.COMError(m.MAPI_E_USER_CANCEL, "cancelled", None)


def test_our_proxy_calls_a_comtypes_object():
    obj = CTCallback()
    pointer = obj.QueryInterface(ICTProgressCallback)
    address = ctypes.cast(pointer, ctypes.c_void_p).value
    with wrap(address, IMAPISyncProgressCallback) as proxy:
        assert proxy.Progress("to comtypes \U0001F600", 3, 4) == m.S_OK
        assert proxy.Error(m.E_FAIL, None) == m.S_FALSE
        with pytest.raises(m.COMError) as info:
            proxy.Done(0x99, m.S_OK)
        assert info.value.hresult == m.MAPI_E_USER_CANCEL
        with proxy.QueryInterface(IUnknown) as unknown:
            assert unknown.address != 0
    assert obj.events == [("Progress", "to comtypes \U0001F600", 3, 4), ("Error", m.E_FAIL, None),
                          ("Done", 0x99, m.S_OK)]
    del pointer


def test_the_comtypes_declaration_matches_ours():
    assert str(ICTProgressCallback._iid_) == str(m.IID_IMAPISyncProgressCallback)
    assert [name for _, name, *_ in ICTProgressCallback._methods_] == ["Progress", "Error", "Done"]
    assert comtypes_interface(IMAPISyncProgressCallback) is ICTProgressCallback
    assert comtypes_interface(IUnknown) is comtypes.IUnknown
