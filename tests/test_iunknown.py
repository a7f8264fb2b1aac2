"""IUnknown of Python objects, driven from C through raw vtables."""

import ctypes
import logging

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import (
    GUID, IID_IMAPISync, IID_IMAPISyncProgressCallback, IMAPISync, IMAPISyncProgressCallback,
    COMError, COMObject, com_pointer, com_refcount,
)

from support import PySync, Recorder


class Both(COMObject):
    _com_interfaces_ = [IMAPISync, IMAPISyncProgressCallback]


def check_iunknown(native, obj, iids, absent):
    address = com_pointer(obj)
    array = (GUID * len(iids))(*iids)
    msg = ctypes.create_string_buffer(8192)
    try:
        failures = native.host.host_check_iunknown(address, array, len(iids), absent, msg, len(msg))
    finally:
        assert native.host.host_release(address, 1) == 0
    assert failures == 0, msg.value.decode()


def test_iunknown_rules_one_interface(native):
    check_iunknown(native, Recorder(), [IID_IMAPISyncProgressCallback], IID_IMAPISync)


def test_iunknown_rules_two_interfaces(native):
    check_iunknown(native, Both(), [IID_IMAPISync, IID_IMAPISyncProgressCallback],
                   GUID("{11111111-2222-3333-4444-555555555555}"))


def test_identity_is_the_first_interface_and_stable(native):
    obj = Both()
    unknown = com_pointer(obj)
    sync = com_pointer(obj, IMAPISync)
    callback = com_pointer(obj, IID_IMAPISyncProgressCallback)
    assert unknown == sync != callback
    assert com_pointer(obj, "{00000000-0000-0000-C000-000000000046}") == unknown
    out = ctypes.c_void_p()
    assert native.host.host_query(callback, m.IID_IUnknown, ctypes.byref(out)) == m.S_OK
    assert out.value == unknown
    assert com_refcount(obj) == 5
    native.host.host_release(unknown, 3)
    native.host.host_release(callback, 2)
    assert com_refcount(obj) == 0


def test_com_pointer_refuses_unsupported_interfaces_with_e_nointerface():
    with pytest.raises(COMError) as info:
        com_pointer(Recorder(), IMAPISync)
    assert info.value.hresult == m.E_NOINTERFACE
    assert "E_NOINTERFACE (0x80004002)" in str(info.value) and "Recorder" in str(info.value)


def test_com_pointer_rejects_non_com_objects():
    with pytest.raises(TypeError, match="COMObject"):
        com_pointer(object())

    class Nothing(COMObject):
        pass

    with pytest.raises(TypeError, match="lists no interface"):
        com_pointer(Nothing())


def test_query_interface_unknown_iid_nulls_out_pointer(native):
    obj = Recorder()
    address = com_pointer(obj)
    out = ctypes.c_void_p(0x1234)
    assert native.host.host_query(address, IID_IMAPISync, ctypes.byref(out)) == m.E_NOINTERFACE
    assert out.value is None
    assert native.host.host_query(address, IID_IMAPISync, None) == m.E_POINTER
    out = ctypes.c_void_p(0x1234)
    assert native.host.host_query(address, None, ctypes.byref(out)) == m.E_INVALIDARG
    assert out.value is None
    assert native.host.host_release(address, 1) == 0


def test_concurrent_addref_release_from_native_threads(native):
    obj = Both()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    msg = ctypes.create_string_buffer(4096)
    failures = native.host.host_hammer_refcount(address, 8, 2000, msg, len(msg))
    assert failures == 0, msg.value.decode()
    assert com_refcount(obj) == 1
    assert native.host.host_release(address, 1) == 0


def test_addref_and_release_return_the_new_count(native):
    obj = PySync()
    address = com_pointer(obj, IMAPISync)
    assert native.host.host_addref(address) == 2
    assert native.host.host_addref(address) == 3
    assert native.host.host_release(address, 1) == 2
    assert native.host.host_release(address, 2) == 0
    assert com_refcount(obj) == 0


def test_release_past_zero_logs_and_returns_zero(native, caplog):
    obj = Recorder()
    address = com_pointer(obj)
    assert native.host.host_release(address, 1) == 0
    with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
        assert native.host.host_release(address, 3) == 0
    assert caplog.text.count("already zero") == 3
    assert com_refcount(obj) == 0
    # the object is intact: a new reference works as before
    address = com_pointer(obj)
    assert native.host.host_addref(address) == 2
    assert native.host.host_release(address, 2) == 0


def test_calls_after_final_release_return_e_unexpected(native, caplog):
    obj = Recorder()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    native.host.host_release(address, 1)
    with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
        assert native.host.host_progress(address, None, 1, 2) == m.E_UNEXPECTED
        out = ctypes.c_void_p()
        assert native.host.host_query(address, m.IID_IUnknown, ctypes.byref(out)) == m.E_UNEXPECTED
        assert out.value is None
    assert obj.events == []
    assert "not a live COM object" in caplog.text
