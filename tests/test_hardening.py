"""Bad input from native code, property-based (hypothesis), through C callers."""

import ctypes
import gc
import weakref

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import mapisync_ctypes as m
from mapisync_ctypes import (
    COMObject, GUID, IMAPISync, IMAPISyncProgressCallback, IUnknown, MAPISIB, SyncProvider, com_pointer,
    com_refcount, donehandle, wrap,
)

from support import Recorder

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Quick(SyncProvider):
    def synchronize(self, job):
        job.progress("x", 1, 1)


class Refuser(COMObject):
    _com_interfaces_ = [IUnknown]  # no IMAPISyncProgressCallback


@pytest.fixture(scope="module")
def provider():
    obj = Quick()
    address = com_pointer(obj, IMAPISync)
    yield obj, address
    wrap(address, IUnknown, addref=False).release()


@FUZZ
@given(size=st.integers(0, 0xFFFFFFFF), flags=st.integers(0, 0xFFFFFFFF),
       session=st.booleans(), callback=st.sampled_from(["null", "valid", "refuses"]),
       handle_out=st.booleans(), null_block=st.booleans())
def test_random_mapisibs_from_c_get_documented_hresults(native, provider, size, flags, session, callback,
                                                        handle_out, null_block):
    _, sync = provider
    callback_obj = {"null": None, "valid": Recorder(), "refuses": Refuser()}[callback]
    session_obj = Recorder() if session else None
    handle = m.HANDLE()
    sib = MAPISIB(ulSize=size, ulFlags=flags,
                  psesSync=com_pointer(session_obj) if session_obj else None,
                  punkCallBack=com_pointer(callback_obj) if callback_obj else None,
                  phSyncDoneEvent=ctypes.pointer(handle) if handle_out else None)
    data = bytes(sib)
    try:
        hr = native.host.host_sync_bytes(sync, data, len(data), int(null_block))
    finally:
        for address in (sib.psesSync, sib.punkCallBack):
            if address:
                wrap(address, IUnknown, addref=False).release()
    if null_block or size < ctypes.sizeof(MAPISIB) or not handle_out or callback == "null":
        expected = m.E_INVALIDARG
    elif flags & ~m.SYNC_KNOWN_FLAGS:
        expected = m.MAPI_E_UNKNOWN_FLAGS
    elif callback == "refuses":
        expected = m.E_NOINTERFACE
    else:
        expected = m.S_OK
    assert hr == expected
    # the provider wrote through *our* struct's copy in C, so read the handle from the copy's
    # effect: on success, wait for the sync and check nothing is kept
    if hr == m.S_OK:
        assert donehandle.wait_done(handle.value, 10) if handle.value else True
    for obj in (callback_obj, session_obj):
        if obj is not None and hr != m.S_OK:
            assert com_refcount(obj) == 0


@FUZZ
@given(iid=st.binary(min_size=16, max_size=16))
def test_random_iids_to_query_interface(native, iid):
    obj = Recorder()
    address = com_pointer(obj)
    out = ctypes.c_void_p(0x1234)
    guid = GUID.from_buffer_copy(iid)
    try:
        hr = native.host.host_query(address, ctypes.byref(guid), ctypes.byref(out))
        if guid in (m.IID_IUnknown, m.IID_IMAPISyncProgressCallback):
            assert hr == m.S_OK and out.value == address
            native.host.host_release(address, 1)
        else:
            assert hr == m.E_NOINTERFACE and out.value is None
    finally:
        native.host.host_release(address, 1)
    assert com_refcount(obj) == 0


@FUZZ
@given(text=st.one_of(st.none(), st.text(max_size=40)), index=st.integers(0, 0xFFFFFFFF),
       index_max=st.integers(0, 0xFFFFFFFF))
def test_text_and_extreme_indexes_arrive_exactly(native, text, index, index_max):
    obj = Recorder()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    buffer = None
    if text is not None:
        units = (text + "\0").encode("utf-16-le", "surrogatepass")
        buffer = ctypes.create_string_buffer(units, len(units))
    try:
        assert native.host.host_progress(address, buffer, index, index_max) == m.S_OK
    finally:
        native.host.host_release(address, 1)
    # WCHAR* text ends at its first NUL, as in C
    assert obj.events == [("Progress", None if text is None else text.split("\0")[0], index, index_max)]


@FUZZ
@given(extra=st.integers(1, 50), held=st.integers(1, 50))
def test_release_storms_never_go_below_zero(native, extra, held):
    obj = Recorder()
    ref = weakref.ref(obj)
    address = com_pointer(obj)
    for _ in range(held - 1):
        native.host.host_addref(address)
    assert native.host.host_release(address, held) == 0
    assert native.host.host_release(address, extra) == 0  # past zero: logged, refused
    assert com_refcount(obj) == 0
    del obj
    gc.collect()
    assert ref() is None


@FUZZ
@given(value=st.one_of(st.none(), st.integers(), st.text(), st.binary(), st.floats(), st.lists(st.integers())))
def test_wrap_rejects_anything_but_an_address_clearly(value):
    if value is None or (type(value) is int and value == 0):
        with pytest.raises(ValueError, match="NULL"):
            wrap(value, IUnknown)
    elif type(value) is int:
        if value < 0 or value >= 1 << (8 * ctypes.sizeof(ctypes.c_void_p)):
            with pytest.raises(ValueError, match="not a valid address"):
                wrap(value, IUnknown)
        # a plausible address cannot be checked from here: never dereference it in a test
    else:
        with pytest.raises(TypeError, match="address"):
            wrap(value, IUnknown)
