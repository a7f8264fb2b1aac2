"""Python calling native COM objects through wrap() proxies."""

import ctypes
import gc
import threading

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import (
    COMError, IMAPISync, IMAPISyncProgressCallback, IUnknown, MAPISIB, com_pointer, wrap,
)

from support import Recorder, read_utf16

EV_PROGRESS, EV_ERROR, EV_DONE = 1, 2, 3


def native_events(native, address):
    events = []
    for i in range(native.objects.native_callback_events(address)):
        text, a, b = ctypes.c_void_p(), ctypes.c_uint64(), ctypes.c_uint64()
        kind = native.objects.native_callback_event(address, i, ctypes.byref(text), ctypes.byref(a), ctypes.byref(b))
        events.append((kind, read_utf16(text.value), a.value, b.value))
    return events


@pytest.fixture
def native_callback(native):
    """A proxy adopting the one reference of a new native callback, and that callback's address."""
    address = native.objects.native_callback_new(m.S_OK)
    native.host.host_addref(address)  # the test keeps one reference to read the log afterwards
    proxy = wrap(address, IMAPISyncProgressCallback, addref=False)
    yield proxy, address
    proxy.release()
    assert native.host.host_release(address, 1) == 0


def test_proxy_methods_pass_text_and_numbers(native, native_callback):
    proxy, address = native_callback
    assert proxy.Progress("Inbox \U0001F600", 3, 10) == m.S_OK
    assert proxy.Progress(None, 0, 0xFFFFFFFF) == m.S_OK
    assert proxy.Progress(text="lone \ud800", ulIndex=1, ulIndexMax=2) == m.S_OK
    assert proxy.Error(m.MAPI_E_NETWORK_ERROR, "offline") == m.S_OK
    assert proxy.Error(0x80040113, None) == m.S_OK  # the unsigned spelling is accepted
    assert proxy.Done(0x4321, m.S_OK) == m.S_OK
    assert proxy.Done(None, m.E_FAIL) == m.S_OK
    mask = (1 << 64) - 1
    assert native_events(native, address) == [
        (EV_PROGRESS, "Inbox \U0001F600", 3, 10),
        (EV_PROGRESS, None, 0, 0xFFFFFFFF),
        (EV_PROGRESS, "lone \ud800", 1, 2),
        (EV_ERROR, "offline", m.MAPI_E_NETWORK_ERROR & mask, 0),
        (EV_ERROR, None, m.MAPI_E_USER_CANCEL & mask, 0),
        (EV_DONE, None, 0x4321, 0),
        (EV_DONE, None, 0, m.E_FAIL & mask),
    ]


def test_failure_hresult_raises_comerror_with_the_name(native):
    address = native.objects.native_callback_new(m.MAPI_E_USER_CANCEL)
    with wrap(address, IMAPISyncProgressCallback, addref=False) as proxy:
        with pytest.raises(COMError) as info:
            proxy.Progress("x", 1, 2)
    assert info.value.hresult == m.MAPI_E_USER_CANCEL
    assert "MAPI_E_USER_CANCEL (0x80040113)" in str(info.value)
    assert "IMAPISyncProgressCallback::Progress" in str(info.value)


def test_success_codes_are_returned(native):
    address = native.objects.native_callback_new(m.MAPI_W_PARTIAL_COMPLETION)
    with wrap(address, IMAPISyncProgressCallback, addref=False) as proxy:
        assert proxy.Done(0, m.S_OK) == m.MAPI_W_PARTIAL_COMPLETION


def test_bad_arguments_raise_clear_python_errors(native_callback):
    proxy, _ = native_callback
    with pytest.raises(TypeError, match="str or None"):
        proxy.Progress(b"bytes", 1, 2)
    with pytest.raises(TypeError, match="handle"):
        proxy.Done("handle?", 0)
    with pytest.raises(ValueError, match="32-bit HRESULT"):
        proxy.Error(1 << 40, "x")
    with pytest.raises(TypeError):
        proxy.Progress("x", 1)


def test_wrap_rejects_null_and_wrong_types():
    with pytest.raises(ValueError, match="NULL"):
        wrap(0, IUnknown)
    with pytest.raises(ValueError, match="NULL"):
        wrap(None, IUnknown)
    with pytest.raises(ValueError, match="NULL"):
        wrap(ctypes.c_void_p(), IUnknown)
    with pytest.raises(TypeError, match="address"):
        wrap("0x1234", IUnknown)
    with pytest.raises(TypeError, match="Interface"):
        wrap(0x1234, "IUnknown")
    with pytest.raises(ValueError, match="not a valid address"):
        wrap(-8, IUnknown)
    with pytest.raises(ValueError, match="NULL"):
        wrap(ctypes.POINTER(ctypes.c_void_p)(), IUnknown)


def test_wrap_takes_typed_pointers_as_comtypes_users_hold_them(native_callback):
    proxy, address = native_callback
    typed = ctypes.cast(ctypes.c_void_p(address), ctypes.POINTER(ctypes.c_void_p))  # like POINTER(IFoo)
    with wrap(typed, IMAPISyncProgressCallback) as again:
        assert again.address == address
        assert again.Progress("typed", 1, 1) == m.S_OK


def test_addref_and_adoption_counts(native):
    address = native.objects.native_callback_new(m.S_OK)
    assert native.objects.native_refs(address) == 1
    taken = wrap(address, IMAPISyncProgressCallback)  # addref=True: a new reference
    assert native.objects.native_refs(address) == 2
    assert taken.AddRef() == 3 and taken.Release() == 2
    adopted = wrap(address, IUnknown, addref=False)
    assert native.objects.native_refs(address) == 2
    taken.release()
    assert native.objects.native_refs(address) == 1
    adopted.release()  # frees the native object


def test_release_is_idempotent_and_gc_never_releases_twice(native):
    address = native.objects.native_callback_new(m.S_OK)
    native.host.host_addref(address)  # the test's own reference, to observe the count
    proxy = wrap(address, IMAPISyncProgressCallback, addref=False)
    proxy.release()
    proxy.release()
    assert native.objects.native_refs(address) == 1
    with pytest.raises(ValueError, match="released"):
        proxy.Progress("after release", 0, 0)
    assert proxy.address == 0 and "released" in repr(proxy)
    del proxy
    gc.collect()
    assert native.objects.native_refs(address) == 1  # no second Release from __del__
    # and a proxy dropped without release() gives its reference back exactly once
    wrap(address, IMAPISyncProgressCallback)
    gc.collect()
    assert native.objects.native_refs(address) == 1
    assert native.host.host_release(address, 1) == 0


def test_context_manager_releases_once_even_with_explicit_release(native):
    address = native.objects.native_callback_new(m.S_OK)
    native.host.host_addref(address)
    with wrap(address, IMAPISyncProgressCallback) as proxy:
        assert native.objects.native_refs(address) == 3
        proxy.release()
    assert native.objects.native_refs(address) == 2
    native.host.host_release(address, 2)


def test_concurrent_release_gives_back_exactly_one_reference(native):
    address = native.objects.native_callback_new(m.S_OK)
    for _ in range(50):
        proxy = wrap(address, IMAPISyncProgressCallback)
        threads = [threading.Thread(target=proxy.release) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert native.objects.native_refs(address) == 1
    native.host.host_release(address, 1)


def test_query_interface_and_detach(native):
    address = native.objects.native_callback_new(m.S_OK)
    with wrap(address, IUnknown, addref=False) as unknown:
        with unknown.QueryInterface(IMAPISyncProgressCallback) as callback:
            assert callback.address == address
            assert native.objects.native_refs(address) == 2
        with pytest.raises(COMError) as info:
            unknown.QueryInterface(IMAPISync)
        assert info.value.hresult == m.E_NOINTERFACE
        with pytest.raises(TypeError, match="Interface"):
            unknown.QueryInterface(m.IID_IMAPISync)
        raw = unknown.QueryInterface(IUnknown).detach()
        assert raw == address and native.objects.native_refs(address) == 2
        native.host.host_release(raw, 1)


def test_proxy_of_a_python_object_goes_through_its_vtable():
    obj = Recorder(answer=m.MAPI_E_USER_CANCEL)
    with wrap(com_pointer(obj, IMAPISyncProgressCallback), IMAPISyncProgressCallback, addref=False) as p:
        with pytest.raises(COMError) as info:
            p.Progress("to Python", 1, 1)
        assert info.value.hresult == m.MAPI_E_USER_CANCEL
    assert obj.events == [("Progress", "to Python", 1, 1)]
    assert m.com_refcount(obj) == 0


def test_native_sync_double_with_python_callback_on_a_native_thread(native):
    """Python drives a native IMAPISync; the native side reports to a Python callback."""
    sync = wrap(native.objects.native_sync_new(), IMAPISync, addref=False)
    callback = Recorder()
    handle = m.HANDLE()
    sib = MAPISIB(ulSize=ctypes.sizeof(MAPISIB), ulFlags=m.SYNC_DOWNLOAD_CONTENTS,
                  punkCallBack=com_pointer(callback), phSyncDoneEvent=ctypes.pointer(handle))
    punk = sib.punkCallBack
    try:
        assert sync.SynchronizeInBackground(sib) == m.S_OK
        assert handle.value and m.com_refcount(callback) == 2  # the provider holds its own reference
        stopped = m.HRESULT()
        assert native.objects.native_sync_run(sync, 3, ctypes.byref(stopped)) == m.S_OK
        assert stopped.value == m.S_OK
    finally:
        native.host.host_release(punk, 1)
        sync.release()
    assert callback.events == [("Progress", "folder", 0, 3), ("Progress", "folder", 1, 3),
                               ("Progress", "folder", 2, 3), ("Done", handle.value, m.S_OK)]
    assert threading.get_ident() not in callback.threads
    assert m.com_refcount(callback) == 0


def test_native_sync_double_rejections_raise_comerror(native):
    with wrap(native.objects.native_sync_new(), IMAPISync, addref=False) as sync:
        with pytest.raises(COMError) as info:
            sync.SynchronizeInBackground(None)
        assert info.value.hresult == m.E_INVALIDARG
        callback = Recorder()
        handle = m.HANDLE()
        sib = MAPISIB(ulSize=ctypes.sizeof(MAPISIB), ulFlags=0x4, punkCallBack=com_pointer(callback),
                      phSyncDoneEvent=ctypes.pointer(handle))
        try:
            with pytest.raises(COMError) as info:
                sync.SynchronizeInBackground(ctypes.pointer(sib))
            assert info.value.hresult == m.MAPI_E_UNKNOWN_FLAGS
            assert "MAPI_E_UNKNOWN_FLAGS (0x80040106)" in str(info.value)
            sib.ulFlags, sib.ulSize = 0, ctypes.sizeof(MAPISIB) - 1
            with pytest.raises(COMError) as info:
                sync.SynchronizeInBackground(ctypes.addressof(sib))
            assert info.value.hresult == m.E_INVALIDARG
        finally:
            native.host.host_release(sib.punkCallBack, 1)
        assert handle.value is None and m.com_refcount(callback) == 0  # nothing kept


def test_cpp_callback_through_a_proxy(native):
    address = native.cpp.cpp_callback_new()
    native.host.host_addref(address)
    with wrap(address, IMAPISyncProgressCallback, addref=False) as cb:
        assert cb.Progress("sync", 1, 2) == m.S_OK
        with pytest.raises(COMError) as info:
            cb.Progress(None, 2, 2)
        assert info.value.hresult == m.MAPI_E_USER_CANCEL
        cb.Error(m.E_FAIL, "net")
        cb.Done(9, m.S_OK)
    log = native.cpp.cpp_callback_log(address).decode()
    assert log == (f"Progress(sync,1,2);Progress(NULL,2,2);Error({m.E_FAIL},net);Done(9,0);")
    native.host.host_release(address, 1)


class Folder(str, __import__("enum").Enum):
    INBOX = "Inbox"


class Name(str):
    pass


def test_text_that_is_a_str_subclass_is_text(native, native_callback):
    """(str, Enum) members, StrEnum, numpy.str_: what the characters say, on both backends."""
    proxy, address = native_callback
    assert proxy.Progress(Folder.INBOX, 1, 2) == m.S_OK
    assert proxy.Progress(Name("Sent Items"), 2, 2) == m.S_OK
    assert proxy.Error(m.E_FAIL, Name("x")) == m.S_OK
    assert [e[1] for e in native_events(native, address)] == ["Inbox", "Sent Items", "x"]


def test_a_sync_provider_may_report_str_subclasses(native):
    class Enumerated(m.SyncProvider):
        def synchronize(self, job):
            job.progress(Folder.INBOX, 1, 1)

    result = m.run_sync(Enumerated())
    assert result.ok and result.progress == [("Inbox", 1, 1)]


@pytest.mark.parametrize("value", [1 << 32, -1, 2 ** 64])
def test_out_of_range_ulong_is_refused_with_the_parameter_name(native_callback, value):
    proxy, _ = native_callback
    with pytest.raises(ValueError, match=r"Progress: argument 'ulIndex': .* does not fit in a 32-bit ULONG"):
        proxy.Progress("x", value, 1)
    with pytest.raises(ValueError, match=r"argument 'ulIndexMax'"):
        proxy.Progress("x", 1, value)


def test_non_integers_for_ulong_are_refused_on_both_backends(native_callback):
    proxy, _ = native_callback
    with pytest.raises(TypeError, match="argument 'ulIndex': expected an int"):
        proxy.Progress("x", 1.5, 2)
    with pytest.raises(TypeError, match="argument 'ulIndex': expected an int"):
        proxy.Progress("x", "1", 2)


def test_what_ctypes_wintypes_and_comtypes_users_pass(native, native_callback):
    from ctypes import wintypes

    proxy, address = native_callback
    assert proxy.Progress(wintypes.LPCWSTR("wide"), wintypes.ULONG(3), ctypes.c_uint32(4)) == m.S_OK
    assert proxy.Done(wintypes.HANDLE(0x77), wintypes.LONG(m.E_FAIL)) == m.S_OK
    assert proxy.Done(ctypes.c_void_p(0x78), True) == m.S_OK  # bool is an int: S_FALSE
    events = native_events(native, address)
    assert events[0] == (EV_PROGRESS, "wide", 3, 4)
    assert events[1][2:] == (0x77, m.E_FAIL & ((1 << 64) - 1))
    assert events[2][2:] == (0x78, 1)


def test_mapisib_takes_what_windows_programmers_pass():
    from ctypes import wintypes

    handle = wintypes.HANDLE()
    sib = MAPISIB(ulSize=ctypes.sizeof(MAPISIB), phSyncDoneEvent=ctypes.pointer(handle))
    sib.phSyncDoneEvent[0] = 0x1234
    assert handle.value == 0x1234
    plain = ctypes.c_void_p()
    sib.phSyncDoneEvent = ctypes.byref(plain)
    sib.phSyncDoneEvent[0] = 0x99
    assert plain.value == 0x99
    ours = m.HANDLE()
    sib.phSyncDoneEvent = ctypes.pointer(ours)
    sib.phSyncDoneEvent[0] = 5
    assert ours.value == 5
    sib.punkCallBack = ctypes.c_void_p(0x1000)
    assert sib.punkCallBack == 0x1000
    with pytest.raises(TypeError, match="pointer-sized HANDLE"):
        sib.phSyncDoneEvent = ctypes.pointer(ctypes.c_uint8())
