"""Native code calling Python-implemented methods: arguments, results, exceptions, threads."""

import ctypes
import logging
import threading

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import (
    COMError, COMObject, IMAPISync, IMAPISyncProgressCallback, MAPISIB, com_pointer, com_refcount,
)

from support import PySync, Recorder, utf16


@pytest.fixture
def callback(native):
    """(recorder, its IMAPISyncProgressCallback address); released after the test."""
    obj = Recorder()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    yield obj, address
    assert native.host.host_release(address, 1) == 0


def test_progress_texts_from_c_literals(native, callback):
    obj, address = callback
    results = (m.HRESULT * 5)()
    assert native.host.host_progress_texts(address, results) == 5
    assert list(results) == [m.S_OK] * 5
    assert obj.events == [
        ("Progress", "Inbox", 0, 4),
        ("Progress", "a\U0001F600b", 1, 4),       # a surrogate pair becomes one code point
        ("Progress", "x\ud800y", 2, 4),           # a lone surrogate is kept, never raises
        ("Progress", "", 3, 4),
        ("Progress", None, 4, 0xFFFFFFFF),        # NULL text, the largest ULONG
    ]


def test_repeated_and_rewritten_arguments_arrive_exactly(native, callback):
    """The compiled backend shares the str and int it made last when a host repeats an
    argument; one buffer rewritten in place, texts equal in length, a text longer than what
    is kept, surrogates and extreme integers must still arrive exactly as sent."""
    obj, address = callback
    buffer = (ctypes.c_uint16 * 80)()  # one address, rewritten between calls, as a host's buffer is

    def send(text, index, count):
        units = list(memoryview((text + "\0").encode("utf-16-le", "surrogatepass")).cast("H"))
        buffer[:len(units)] = units
        assert native.host.host_progress(address, buffer, index, count) == m.S_OK

    sent = [("Inbox", 1, 9), ("Inbox", 2, 9), ("Index", 2, 9), ("Inbox2", 3, 9), ("Inbox", 3, 10),
            ("x" * 64, 0xFFFFFFFF, 10), ("x" * 64, 0, 0xFFFFFFFF), ("x" * 65, 0, 0xFFFFFFFF),
            ("x" * 65, 0, 0xFFFFFFFF), ("x" * 63 + "y", 5, 5), ("a\U0001F600b", 5, 5),
            ("a\U0001F601b", 5, 5), ("a\ud800b", 5, 5), ("a\ud800b", 5, 5), ("", 5, 5), ("Inbox", 5, 5)]
    for event in sent:
        send(*event)
    assert native.host.host_error(address, -1, utf16("Inbox")) == m.S_OK  # HRESULT: signed
    send("Inbox", 0xFFFFFFFF, 0xFFFFFFFF)                                   # ULONG: the same bits
    assert obj.events == [("Progress", *event) for event in sent] + [
        ("Error", -1, "Inbox"), ("Progress", "Inbox", 0xFFFFFFFF, 0xFFFFFFFF)]


def test_error_and_done_arguments(native, callback):
    obj, address = callback
    assert native.host.host_error(address, m.MAPI_E_NETWORK_ERROR, utf16("offline")) == m.S_OK
    assert native.host.host_error(address, m.E_FAIL, None) == m.S_OK
    handle = (1 << (8 * ctypes.sizeof(ctypes.c_void_p))) - 1  # INVALID_HANDLE_VALUE's bits
    assert native.host.host_done(address, handle, m.MAPI_W_PARTIAL_COMPLETION) == m.S_OK
    assert native.host.host_done(address, None, m.S_OK) == m.S_OK
    assert obj.events == [
        ("Error", m.MAPI_E_NETWORK_ERROR, "offline"),
        ("Error", m.E_FAIL, None),
        ("Done", handle, m.MAPI_W_PARTIAL_COMPLETION),
        ("Done", 0, m.S_OK),                       # a NULL HANDLE arrives as 0
    ]


@pytest.mark.parametrize("answer", [m.S_FALSE, m.MAPI_E_USER_CANCEL, 0x80040113, m.MAPI_W_PARTIAL_COMPLETION])
def test_returned_hresults_reach_c(native, answer):
    obj = Recorder(answer=answer)
    address = com_pointer(obj, IMAPISyncProgressCallback)
    try:
        assert native.host.host_progress(address, utf16("x"), 1, 1) == m.to_hresult(answer)
    finally:
        native.host.host_release(address, 1)


class Raising(COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback]

    def __init__(self, exc):
        self.exc = exc

    def Progress(self, text, ulIndex, ulIndexMax):
        raise self.exc


@pytest.mark.parametrize("exc, expected", [
    (COMError(m.MAPI_E_USER_CANCEL), m.MAPI_E_USER_CANCEL),
    (NotImplementedError(), m.E_NOTIMPL),
    (MemoryError(), m.E_OUTOFMEMORY),
    (ValueError("bad index"), m.E_INVALIDARG),
    (TypeError("bad type"), m.E_INVALIDARG),
    (KeyError("anything else"), m.E_FAIL),
    (ZeroDivisionError(), m.E_FAIL),
    (KeyboardInterrupt(), m.E_FAIL),
    (SystemExit(3), m.E_FAIL),
])
def test_exceptions_become_hresults_and_are_logged_with_traceback(native, caplog, exc, expected):
    obj = Raising(exc)
    address = com_pointer(obj, IMAPISyncProgressCallback)
    try:
        with caplog.at_level(logging.DEBUG, logger="mapisync_ctypes"):
            assert native.host.host_progress(address, utf16("t"), 1, 2) == expected
    finally:
        native.host.host_release(address, 1)
    assert "Traceback (most recent call last)" in caplog.text
    assert "raise self.exc" in caplog.text  # the method's own line is in the traceback
    assert type(exc).__name__ in caplog.text and m.format_hresult(expected) in caplog.text


def test_exception_on_a_native_thread_is_mapped_too(native, caplog):
    class Fails(COMObject):
        _com_interfaces_ = [IMAPISyncProgressCallback]

        def Error(self, hResult, text):
            assert threading.current_thread() is not threading.main_thread()
            raise RuntimeError(f"cannot handle {text}")

    address = com_pointer(Fails(), IMAPISyncProgressCallback)
    try:
        with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
            assert native.host.host_error_on_new_thread(address, m.E_FAIL) == m.E_FAIL
    finally:
        native.host.host_release(address, 1)
    assert "cannot handle offline" in caplog.text


@pytest.mark.parametrize("value", ["S_OK", 1.0, 1 << 32, -(1 << 31) - 1, object()])
def test_a_return_value_that_is_not_an_hresult_gives_e_fail(native, caplog, value):
    """ctypes would truncate 2**32 to 0 (S_OK) or print and return 0: never let it."""
    obj = Recorder(answer=value)
    address = com_pointer(obj, IMAPISyncProgressCallback)
    try:
        with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
            assert native.host.host_progress(address, None, 0, 0) == m.E_FAIL
    finally:
        native.host.host_release(address, 1)
    assert "not an HRESULT" in caplog.text


def test_undefined_methods_return_e_notimpl(native):
    class OnlyProgress(COMObject):
        _com_interfaces_ = [IMAPISyncProgressCallback]

        def Progress(self, text, ulIndex, ulIndexMax):
            return m.S_FALSE

    address = com_pointer(OnlyProgress(), IMAPISyncProgressCallback)
    try:
        assert native.host.host_progress(address, None, 0, 0) == m.S_FALSE
        assert native.host.host_error(address, m.E_FAIL, None) == m.E_NOTIMPL
        assert native.host.host_done(address, None, m.S_OK) == m.E_NOTIMPL
    finally:
        native.host.host_release(address, 1)


def test_calls_from_many_native_threads_arrive_exactly_once(native, callback):
    obj, address = callback
    threads, calls = 8, 250
    assert native.host.host_progress_threads(address, threads, calls) == 0
    assert len(obj.events) == threads * calls
    seen = {}
    for _, text, index, index_max in obj.events:
        seen.setdefault(text, []).append(index)
        assert index_max == calls
    assert sorted(seen) == sorted(f"t{i}" for i in range(threads))
    for indexes in seen.values():  # each thread's calls in order, none lost or doubled
        assert indexes == list(range(calls))
    assert threading.get_ident() not in obj.threads
    assert len(set(obj.threads)) == threads


def test_synchronize_in_background_receives_the_mapisib(native):
    sync, callback = PySync(), Recorder()
    sync_address = com_pointer(sync, IMAPISync)
    callback_address = com_pointer(callback)
    handle = m.HANDLE()
    sib = MAPISIB(ulSize=ctypes.sizeof(MAPISIB), ulFlags=m.SYNC_UPLOAD_CONTENTS | m.SYNC_ON_DEMAND,
                  punkCallBack=callback_address, phSyncDoneEvent=ctypes.pointer(handle))
    try:
        assert native.host.host_sync(sync_address, ctypes.byref(sib)) == m.S_OK
        assert native.host.host_sync(sync_address, None) == m.E_INVALIDARG
    finally:
        native.host.host_release(sync_address, 1)
        native.host.host_release(callback_address, 1)
    assert sync.calls == [(ctypes.sizeof(MAPISIB), 0x20000040, callback_address, True), None]
    assert handle.value == 0xD00E  # written through the [out] pointer


def test_cpp_host_calls_python_objects_virtually(native):
    obj = Recorder(answer=m.S_FALSE)
    address = com_pointer(obj)
    results = (m.HRESULT * 5)()
    try:
        assert native.cpp.cpp_host_exercise(address, results) == 5  # and QI failure NULLed the pointer
    finally:
        native.host.host_release(address, 1)
    assert list(results) == [m.S_OK, m.S_FALSE, m.S_FALSE, m.S_FALSE, m.E_NOINTERFACE]
    assert obj.events == [("Progress", "C++", 7, 9), ("Error", m.MAPI_E_NETWORK_ERROR, "C++"),
                          ("Done", 0x1234, m.S_OK)]
    assert com_refcount(obj) == 0


def test_cpp_host_starts_a_python_sync(native):
    sync, callback = PySync(), Recorder()
    sync_address, callback_address = com_pointer(sync), com_pointer(callback)
    handle = ctypes.c_void_p()
    try:
        hr = native.cpp.cpp_host_sync(sync_address, callback_address, m.SYNC_DOWNLOAD_HIERARCHY,
                                      ctypes.byref(handle))
        assert hr == m.S_OK
    finally:
        native.host.host_release(sync_address, 1)
        native.host.host_release(callback_address, 1)
    assert sync.calls == [(ctypes.sizeof(MAPISIB), 2, callback_address, True)]
    assert handle.value == 0xD00E
