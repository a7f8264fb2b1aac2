"""SyncProvider driven from C: every rule of the background-sync protocol."""

import ctypes
import logging
import threading

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import COMError, IMAPISync, MAPISIB, SyncCancelled, SyncProvider, com_pointer, com_refcount, wrap
from mapisync_ctypes import _locate, donehandle

import native_build

FOLDERS = ("Inbox", "Sent Items", "Drafts")


class FolderSync(SyncProvider):
    """Reports one Progress per folder; optional error, failure or exception at the end."""

    def __init__(self, raise_at_end=None, ignore_cancel=False, result=None):
        self.raise_at_end = raise_at_end
        self.ignore_cancel = ignore_cancel
        self.result = result
        self.sync_threads = []
        self.hook_log = []
        self.cancelled_reports = 0

    def thread_started(self, job):
        self.hook_log.append(("started", threading.get_ident()))

    def synchronize(self, job):
        self.sync_threads.append(threading.get_ident())
        for i, folder in enumerate(FOLDERS, 1):
            try:
                job.progress(folder, i, len(FOLDERS))
            except SyncCancelled:
                if not self.ignore_cancel:
                    raise
                self.cancelled_reports += 1  # carries on regardless: nothing may reach the host
        if self.raise_at_end is not None:
            raise self.raise_at_end
        return self.result

    def thread_finishing(self, job):
        self.hook_log.append(("finishing", threading.get_ident(), job._callback.address))


def run_from_c(native, provider, cancel_at=0, close_in_done=False, flags=m.SYNC_DOWNLOAD_CONTENTS):
    report = native_build.SyncReport()
    address = com_pointer(provider, IMAPISync)
    try:
        native.sync.sync_host_run(address, flags, cancel_at, int(close_in_done), 10000, ctypes.byref(report))
    finally:
        native.host.host_release(address, 1)
    return report


def assert_clean(report, progress=len(FOLDERS)):
    assert report.sync_hr == m.S_OK
    assert report.signalled == 1, "the done handle was not signalled"
    assert (report.progress, report.errors, report.dones) == (progress, 0, 1)
    assert report.on_caller_thread == 0 and report.after_done == 0 and report.handle_mismatch == 0
    assert report.refs_left == 0, "the provider kept callback references past the signal"
    assert report.session_refs_left == 0, "the provider kept session references past the signal"
    # rule 3: during the sync the provider holds its own references (the host holds one each)
    assert report.min_refs_in_calls >= 2 and report.session_min_refs >= 2


def test_normal_run_from_c(native):
    provider = FolderSync()
    report = run_from_c(native, provider)
    assert_clean(report)
    assert report.done_hr == m.S_OK
    assert threading.get_ident() not in provider.sync_threads
    started, finishing = provider.hook_log
    assert started[1] == finishing[1] == provider.sync_threads[0]  # hooks on the sync thread
    assert finishing[2] == 0  # by thread_finishing the callback reference is already released


def test_success_hresult_returned_by_synchronize_reaches_done(native):
    report = run_from_c(native, FolderSync(result=m.MAPI_W_PARTIAL_COMPLETION))
    assert_clean(report)
    assert report.done_hr == m.MAPI_W_PARTIAL_COMPLETION


def test_comerror_from_synchronize_is_done_hresult(native):
    report = run_from_c(native, FolderSync(raise_at_end=COMError(m.MAPI_E_NETWORK_ERROR, "server gone")))
    assert_clean(report)
    assert report.done_hr == m.MAPI_E_NETWORK_ERROR


def test_exception_in_synchronize_gives_e_fail_and_a_traceback(native, caplog):
    with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
        report = run_from_c(native, FolderSync(raise_at_end=KeyError("folder id")))
    assert_clean(report)
    assert report.done_hr == m.E_FAIL
    assert "Traceback" in caplog.text and "KeyError" in caplog.text


def test_cancel_stops_the_sync_and_done_carries_it(native):
    report = run_from_c(native, FolderSync(), cancel_at=2)
    assert_clean(report, progress=2)
    assert report.done_hr == m.MAPI_E_USER_CANCEL


def test_nothing_reaches_the_host_after_cancel_even_if_caught(native):
    provider = FolderSync(ignore_cancel=True, raise_at_end=None)
    report = run_from_c(native, provider, cancel_at=1)
    assert_clean(report, progress=1)
    assert provider.cancelled_reports == 3  # the first answered cancel, the next two never left Python
    assert report.done_hr == m.MAPI_E_USER_CANCEL


def test_host_may_close_the_handle_inside_done(native):
    report = run_from_c(native, FolderSync(), close_in_done=True)
    assert report.sync_hr == m.S_OK and report.dones == 1 and report.done_hr == m.S_OK
    assert report.signalled == 1  # every reference was released
    assert report.reused_signalled == 0, "the provider signalled a handle the host had closed"


@pytest.mark.parametrize("which, expected", [
    (0, m.E_INVALIDARG), (1, m.E_INVALIDARG), (2, m.E_INVALIDARG), (3, m.E_INVALIDARG),
    (4, m.MAPI_E_UNKNOWN_FLAGS), (5, m.E_NOINTERFACE),
])
def test_synchronous_rejections(native, caplog, which, expected):
    provider = FolderSync()
    before = {t.name for t in threading.enumerate()}
    report = native_build.SyncReport()
    address = com_pointer(provider, IMAPISync)
    try:
        with caplog.at_level(logging.WARNING, logger="mapisync_ctypes"):
            assert native.sync.sync_host_reject(address, which, ctypes.byref(report)) == expected
    finally:
        native.host.host_release(address, 1)
    assert report.handle_touched == 0 and report.refs_left == 0 and report.session_refs_left == 0
    assert (report.progress, report.errors, report.dones) == (0, 0, 0)
    assert provider.sync_threads == [] and provider.hook_log == []
    assert not [t for t in threading.enumerate() if t.name not in before and t.name.startswith("mapisync-")]
    assert m.format_hresult(expected) in caplog.text  # the cause is logged


def test_a_larger_ulsize_is_accepted():
    result = m.run_sync(FolderSync(), mapisib="larger", timeout=10)
    assert result.call_hresult == m.S_OK and result.violations == []
    assert [e.kind for e in result.events] == ["Progress"] * 3 + ["Done"]


def test_sixteen_concurrent_syncs_from_sixteen_native_threads(native):
    provider = FolderSync()
    reports = (native_build.SyncReport * 16)()
    address = com_pointer(provider, IMAPISync)
    try:
        assert native.sync.sync_host_concurrent(address, 16, 0, reports) == 16
        assert com_refcount(provider) == 1  # only the test's own reference is left
    finally:
        native.host.host_release(address, 1)
    for report in reports:
        assert_clean(report)
        assert report.done_hr == m.S_OK
    assert len(provider.sync_threads) == 16  # one synchronize() per sync (idents may be reused)
    assert threading.get_ident() not in provider.sync_threads


def test_done_handle_kind_matches_the_platform():
    expected = {"win32": "event", "linux": "eventfd"}.get(__import__("sys").platform, "pipe")
    assert donehandle.KIND == expected


def test_the_example_python_provider_from_c(native):
    import importlib.util
    from pathlib import Path

    path = Path(_locate.examples_dir()) / "python_provider.py"
    spec = importlib.util.spec_from_file_location("example_python_provider", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    store = example.create()
    report = run_from_c(native, store, flags=m.SYNC_DOWNLOAD_HIERARCHY | m.SYNC_DOWNLOAD_CONTENTS)
    assert_clean(report, progress=len(store.folders) + 1)  # + the hierarchy step
    assert report.done_hr == m.S_OK
    assert run_from_c(native, store, cancel_at=3).done_hr == m.MAPI_E_USER_CANCEL


class NoWork(SyncProvider):
    def synchronize(self, job):
        return None  # Done at once: the race with storing the handle is at its widest


@pytest.mark.parametrize("provider", ["python", "c example"])
def test_done_never_comes_before_the_handle_is_stored(native, provider):
    """A host that finds its sync through *phSyncDoneEvent inside Done must find it there."""
    if provider == "python":
        address = com_pointer(NoWork(), IMAPISync)
    else:
        out = ctypes.c_void_p()
        assert native.example_provider.MapiSyncGetObject(m.IID_IMAPISync, ctypes.byref(out)) == m.S_OK
        address = out.value
    reports = (native_build.SyncReport * 8)()
    early = 0
    try:
        for _ in range(40):  # 320 syncs, 8 at a time
            assert native.sync.sync_host_concurrent(address, 8, 0, reports) == 8
            for report in reports:
                assert report.dones == 1 and report.signalled
                early += report.done_before_handle
    finally:
        native.host.host_release(address, 1)
    assert early == 0, f"{early} of 320 Done calls came before the handle was stored"
