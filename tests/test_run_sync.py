"""run_sync, the host harness: results, cancel, failures, and every breach it must detect."""

import ctypes
import os
import sys
import threading
import time

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import (
    COMError, COMObject, IMAPISync, IUnknown, ProtocolViolation, SyncProvider, run_sync, wrap,
)


def from_factory(lib, symbol):
    """A provider from a native factory, as an IMAPISync proxy owning its reference."""
    out = ctypes.c_void_p()
    hr = getattr(lib, symbol)(m.IID_IMAPISync, ctypes.byref(out))
    assert hr == m.S_OK and out.value
    return wrap(out.value, IMAPISync, addref=False)


class Steps(SyncProvider):
    def __init__(self, texts=("one", "two", "three")):
        self.texts = texts
        self.sessions = []

    def synchronize(self, job):
        self.sessions.append(job.session)
        for i, text in enumerate(self.texts, 1):
            job.progress(text, i, len(self.texts))
        job.error(m.MAPI_E_NETWORK_ERROR, "one folder was busy")


def test_run_sync_against_a_python_provider():
    result = run_sync(Steps(), flags=m.SYNC_UPLOAD_CONTENTS | m.SYNC_ON_DEMAND)
    assert result.ok and result.violations == []
    assert result.hresult == m.S_OK
    assert result.progress == [("one", 1, 3), ("two", 2, 3), ("three", 3, 3)]
    assert result.errors == [(m.MAPI_E_NETWORK_ERROR, "one folder was busy")]
    assert [e.kind for e in result.events] == ["Progress"] * 3 + ["Error", "Done"]
    assert all(e.thread_id != threading.get_ident() for e in result.events)
    assert [e.time for e in result.events] == sorted(e.time for e in result.events)
    assert result.events[-1].args == (result.handle, m.S_OK) and result.handle
    data = result.as_dict()
    assert data["hresult_name"] == "S_OK (0x00000000)" and len(data["events"]) == 5
    assert data["events"][3]["hresult_name"] == "MAPI_E_NETWORK_ERROR (0x80040115)"


def test_run_sync_against_the_example_c_provider(native):
    with from_factory(native.example_provider, "MapiSyncGetObject") as provider:
        result = run_sync(provider)
        assert result.ok, result.violations
        assert [p[0] for p in result.progress] == ["Inbox", "Sent Items", "Drafts", "Archive"]
        cancelled = run_sync(provider.address, cancel_after=2)  # an address works too
    assert cancelled.hresult == m.MAPI_E_USER_CANCEL and cancelled.violations == []
    assert len(cancelled.progress) == 2


def test_cancel_after_accepts_a_callable():
    seen = []

    def answer(text, index, index_max):
        seen.append(text)
        return m.MAPI_E_USER_CANCEL if text == "two" else None

    result = run_sync(Steps(), cancel_after=answer)
    assert seen == ["one", "two"]
    assert result.hresult == m.MAPI_E_USER_CANCEL and result.errors == [] and result.violations == []


def test_lone_surrogates_become_replacement_characters():
    result = run_sync(Steps(texts=("bad \ud800 text",)))
    assert result.progress == [("bad \ufffd text", 1, 1)]
    result.as_dict()  # and serialise without error


def test_a_synchronous_failure_raises_comerror():
    with pytest.raises(COMError) as info:
        run_sync(Steps(), flags=0x4)
    assert info.value.hresult == m.MAPI_E_UNKNOWN_FLAGS
    assert info.value.result.violations == []  # a clean rejection


def test_session_is_passed_and_its_references_are_given_back():
    class Session(COMObject):
        _com_interfaces_ = [IUnknown]

    session, provider = Session(), Steps()
    result = run_sync(provider, session=session)
    assert result.ok, result.violations
    assert m.com_refcount(session) == 0
    assert provider.sessions[0] is not None and provider.sessions[0].address == 0  # released after Done


@pytest.mark.parametrize("symbol, violation, rule", [
    ("NoDone_GetObject", "Done was never called", 4),
    ("DoneTwice_GetObject", "Done was called more than once", 4),
    ("ProgressAfterDone_GetObject", "Progress was called after Done", 4),
    ("KeepsCallback_GetObject", "still holds 1 reference(s) to the callback", 5),
    ("CallerThread_GetObject", "Progress was called on the thread that called SynchronizeInBackground", 1),
    ("WrongHandle_GetObject", "Done got handle", 4),
])
def test_every_breach_is_detected(native, symbol, violation, rule):
    with from_factory(native.providers, symbol) as provider:
        result = run_sync(provider, timeout=10)
    found = [v for v in result.violations if violation in v]
    assert found, result.violations
    assert found[0].rule.number == rule and f"docs/protocol.md#rule-{rule}]" in found[0]
    assert not result.ok
    with pytest.raises(ProtocolViolation, match=violation.split("(")[0][:20]):
        result.check()


def test_the_good_control_provider_has_no_violations(native):
    with from_factory(native.providers, "Good_GetObject") as provider:
        assert run_sync(provider).check().ok


def test_timeout_raises_and_a_late_provider_cannot_crash_us(native):
    with from_factory(native.providers, "Late_GetObject") as provider:
        with pytest.raises(TimeoutError) as info:
            run_sync(provider, timeout=0.2)
    result = info.value.result
    assert "not signalled within 0.2 s" in result.violations[0]
    time.sleep(1.0)  # the provider now calls Progress and Done on the callback we abandoned
    assert [e.kind for e in result.events] == ["Progress", "Progress", "Done"]


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="cancel_after"):
        run_sync(Steps(), cancel_after=0)
    with pytest.raises(ValueError, match="timeout"):
        run_sync(Steps(), timeout=-1)
    with pytest.raises(ValueError, match="NULL"):
        run_sync(0)


def test_mapi_thread_provider_initializes_mapi_on_the_sync_thread():
    class Store(m.MAPIThreadProvider):
        def synchronize(self, job):
            job.progress("with MAPI", 1, 1)

    result = run_sync(Store())
    assert result.violations == []
    if sys.platform != "win32":
        assert result.hresult == m.S_OK and result.progress == [("with MAPI", 1, 1)]
    elif result.hresult < 0:  # no MAPI subsystem installed (Wine has none): Done carries why
        assert result.progress == [] and m.failed(result.hresult)
    else:
        assert result.progress == [("with MAPI", 1, 1)]


@pytest.mark.parametrize("symbol, stored, rule", [
    ("NullHandle_GetObject", "stored a NULL handle", 3),
    ("InvalidHandle_GetObject", "INVALID_HANDLE_VALUE", 6),
    ("ClosedHandle_GetObject", "not open", 3),
])
def test_a_bad_done_handle_is_a_violation_with_the_result_kept(native, symbol, stored, rule):
    with from_factory(native.providers, symbol) as provider:
        result = run_sync(provider, timeout=10)
    found = [v for v in result.violations if stored in v]
    assert found and found[0].rule.number == rule, result.violations
    assert [e.kind for e in result.events] == ["Progress", "Progress", "Done"]  # nothing lost
    assert result.hresult == m.S_OK and not result.ok


@pytest.mark.skipif(sys.platform == "win32", reason="descriptor numbers: POSIX")
def test_the_harness_never_closes_a_number_someone_else_now_holds(native):
    """The provider closes the handle it gave and something else gets the number at once."""
    with from_factory(native.providers, "ReusedHandle_GetObject") as provider:
        result = run_sync(provider, timeout=10)
    reused = native.providers.Reused_Number()
    assert reused >= 0
    os.fstat(reused)  # still open: run_sync did not close what is not the provider's handle
    os.close(reused)
    assert result.violations, "a handle the provider closed must be reported"
