"""run_sync: play Outlook's part against a provider, and check the protocol as it goes.

``run_sync(provider)`` builds a MAPISIB with a Python IMAPISyncProgressCallback,
calls SynchronizeInBackground, waits on the done handle, closes it, and returns a
:class:`SyncResult` with every event and every breach of the protocol it saw.
"""

import ctypes
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ..com.comobject import COMObject, com_pointer, com_refcount
from ..com.hresult import S_OK, COMError, format_hresult
from ..com.proxy import Proxy, wrap
from ..com.text import replace_lone_surrogates
from ..com.types import HANDLE
from .donehandle import HostHandle, open_descriptors
from .factory import load_factory
from .flags import SYNC_DOWNLOAD_CONTENTS, SYNC_DOWNLOAD_HIERARCHY, SyncFlags
from .hresults import MAPI_E_USER_CANCEL
from .interfaces import IMAPISync, IMAPISyncProgressCallback, IUnknown
from .rules import Violation
from .types import MAPISIB

__all__ = ["run_sync", "SyncResult", "SyncEvent", "ProtocolViolation", "load_factory"]

logger = logging.getLogger("mapisync_ctypes")

CancelPolicy = Union[None, int, Callable[[Optional[str], int, int], Optional[int]]]
ProviderLike = Union[int, Proxy, COMObject]

# Callbacks of syncs that timed out: kept for the process's life, so a provider that
# calls them late meets a live object (or a clean E_UNEXPECTED), never freed memory.
_orphans: List[COMObject] = []


class ProtocolViolation(AssertionError):
    """A provider broke the background-sync protocol (see ``.result.violations``)."""

    def __init__(self, result: "SyncResult") -> None:
        self.result = result
        super().__init__("; ".join(result.violations))


@dataclass
class SyncEvent:
    """One call the provider made on the host's callback: which, its arguments, its thread."""

    kind: str  # "Progress", "Error" or "Done"
    args: Tuple[Any, ...]
    thread_id: int
    time: float  # seconds since SynchronizeInBackground was called

    def as_dict(self) -> Dict[str, Any]:
        """The event as JSON-ready data (with the HRESULT's name)."""
        names = {"Progress": ("text", "index", "index_max"), "Error": ("hresult", "text"),
                 "Done": ("handle", "hresult")}[self.kind]
        data: Dict[str, Any] = {"kind": self.kind, "thread_id": self.thread_id, "time": round(self.time, 6)}
        data.update(zip(names, self.args))
        if "hresult" in data:
            data["hresult_name"] = format_hresult(data["hresult"])
        return data


@dataclass
class SyncResult:
    """Everything one sync did, in the host's view: Done's HRESULT, the reports, every event
    in order, and every breach of the protocol (:class:`~mapisync_ctypes.sync.rules.Violation`)."""

    hresult: Optional[int] = None  # what Done carried; None if Done never came
    progress: List[Tuple[Optional[str], int, int]] = field(default_factory=list)
    errors: List[Tuple[int, Optional[str]]] = field(default_factory=list)
    events: List[SyncEvent] = field(default_factory=list)
    violations: List[str] = field(default_factory=list)
    handle: int = 0  # what the provider stored in *phSyncDoneEvent
    flags: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """Done carried a success HRESULT and no rule was broken."""
        return not self.violations and self.hresult is not None and self.hresult >= 0

    def check(self) -> "SyncResult":
        """Raise ProtocolViolation if any rule was broken; returns self otherwise."""
        if self.violations:
            raise ProtocolViolation(self)
        return self

    def as_dict(self) -> Dict[str, Any]:
        """The result as JSON-ready data: Done's HRESULT, every event, every violation."""
        return {
            "hresult": self.hresult,
            "hresult_name": None if self.hresult is None else format_hresult(self.hresult),
            "flags": self.flags, "handle": self.handle, "elapsed": round(self.elapsed, 6),
            "violations": list(self.violations),
            "events": [e.as_dict() for e in self.events],
        }


class _HostCallback(COMObject):
    """The host's IMAPISyncProgressCallback: records, answers, and watches the rules."""

    _com_interfaces_ = [IMAPISyncProgressCallback]

    def __init__(self, result: SyncResult, caller_thread: int, cancel: CancelPolicy,
                 on_event: Optional[Callable[[SyncEvent], None]]) -> None:
        self.result = result
        self.caller_thread = caller_thread
        self.cancel = cancel
        self.on_event = on_event
        self.lock = threading.Lock()
        self.progress_calls = 0
        self.done_calls = 0
        self.done_handle: Optional[int] = None
        self.done_event = threading.Event()
        self.start = time.monotonic()

    def _record(self, kind: str, *args: Any) -> None:
        event = SyncEvent(kind, args, threading.get_ident(), time.monotonic() - self.start)
        violations = self.result.violations
        with self.lock:
            self.result.events.append(event)
            if event.thread_id == self.caller_thread:
                violations.append(Violation(1, f"{kind} was called on the thread that called SynchronizeInBackground"))
            if self.done_calls and kind != "Done":
                violations.append(Violation(4, f"{kind} was called after Done"))
            if kind == "Progress":
                self.result.progress.append(args)
            elif kind == "Error":
                self.result.errors.append(args)
            else:
                self.done_calls += 1
                if self.done_calls == 2:
                    violations.append(Violation(4, "Done was called more than once"))
                else:
                    self.done_handle, self.result.hresult = args
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logger.exception("run_sync: on_event raised")

    def Progress(self, text: Optional[str], ulIndex: int, ulIndexMax: int) -> Optional[int]:
        text = replace_lone_surrogates(text)
        self._record("Progress", text, ulIndex, ulIndexMax)
        with self.lock:
            self.progress_calls += 1
            n = self.progress_calls
        if self.cancel is None:
            return S_OK
        if callable(self.cancel):
            return self.cancel(text, ulIndex, ulIndexMax)
        return MAPI_E_USER_CANCEL if n >= self.cancel else S_OK

    def Error(self, hResult: int, text: Optional[str]) -> int:
        self._record("Error", hResult, replace_lone_surrogates(text))
        return S_OK

    def Done(self, hThreadDoneEvent: int, hResult: int) -> int:
        self._record("Done", hThreadDoneEvent, hResult)
        self.done_event.set()
        return S_OK


def _provider_proxy(provider: ProviderLike) -> Proxy:
    """An IMAPISync proxy with its own reference, from an address, a proxy or a COMObject."""
    if isinstance(provider, COMObject):
        return wrap(com_pointer(provider, IMAPISync), IMAPISync, addref=False)
    if isinstance(provider, Proxy):
        return provider.QueryInterface(IMAPISync)
    with wrap(provider, IUnknown) as unknown:
        return unknown.QueryInterface(IMAPISync)


def run_sync(provider: ProviderLike, flags: int = SYNC_DOWNLOAD_HIERARCHY | SYNC_DOWNLOAD_CONTENTS,
             session: Optional[Union[int, Proxy, COMObject]] = None, timeout: Optional[float] = 30.0,
             cancel_after: CancelPolicy = None,
             on_event: Optional[Callable[[SyncEvent], None]] = None) -> SyncResult:
    """Run one background sync against ``provider`` as a host would, and check the protocol.

    - ``provider``: an interface pointer address, a proxy or a COMObject implementing IMAPISync.
    - ``session``: what goes in MAPISIB.psesSync (an address, proxy or COMObject), or None.
    - ``cancel_after``: N makes Progress answer MAPI_E_USER_CANCEL from its N-th call on; a
      callable ``(text, index, index_max) -> HRESULT or None`` decides each answer itself.
    - ``on_event``: called with each SyncEvent as it arrives (on the provider's thread).

    A synchronous failure raises COMError (its ``.result`` lists any rule the failure broke);
    a done handle not signalled within ``timeout`` seconds raises TimeoutError (with ``.result``).
    Breaches of the protocol are listed in ``SyncResult.violations``.
    """
    if isinstance(cancel_after, bool) or not (cancel_after is None or callable(cancel_after)
                                              or (isinstance(cancel_after, int) and cancel_after >= 1)):
        raise ValueError(f"cancel_after must be None, a positive int or a callable, not {cancel_after!r}")
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds or None, not {timeout!r}")
    result = SyncResult(flags=int(flags))
    callback = _HostCallback(result, threading.get_ident(), cancel_after, on_event)
    sync = _provider_proxy(provider)
    session_address, session_refs = 0, None
    if isinstance(session, COMObject):
        session_refs = com_refcount(session)
        session_address = com_pointer(session)
    elif session is not None:
        session_address = wrap(session, IUnknown).detach()  # our reference, released below

    handle = HANDLE()
    sib = MAPISIB(ulSize=ctypes.sizeof(MAPISIB), ulFlags=int(SyncFlags(int(flags))),
                  psesSync=session_address or None, punkCallBack=com_pointer(callback),
                  phSyncDoneEvent=ctypes.pointer(handle))
    before = open_descriptors()
    try:
        try:
            callback.start = time.monotonic()
            sync.SynchronizeInBackground(sib)
        finally:
            # Our own references; the provider holds its own for the sync.
            wrap(sib.punkCallBack, IUnknown, addref=False).release()
            if session_address:
                wrap(session_address, IUnknown, addref=False).release()
    except COMError as exc:
        _check_clean_failure(result, callback, handle, session, session_refs)
        exc.result = result  # type: ignore[attr-defined]
        raise
    finally:
        sync.release()

    result.handle = handle.value or 0
    done = HostHandle(result.handle, before)
    if done.problem:  # nothing to wait on: wait for Done, then for the references to go
        result.violations.append(Violation(done.rule, f"SynchronizeInBackground succeeded but stored {done.problem}"))
        signalled = callback.done_event.wait(timeout)
        _wait_for_releases(callback, 1.0)
    else:
        signalled = done.wait(timeout)
        if done.problem:
            result.violations.append(Violation(done.rule, f"the done handle was unusable: {done.problem}"))
            signalled = callback.done_event.wait(timeout)
    result.elapsed = time.monotonic() - callback.start
    try:
        if not signalled:
            result.violations.append(Violation(4, f"Done did not come within {timeout} s") if done.problem
                                     else Violation(5, f"the done handle was not signalled within {timeout} s"))
            _orphans.append(callback)
            error = TimeoutError(f"the sync did not finish within {timeout} s")
            error.result = result  # type: ignore[attr-defined]
            raise error
        _check_finished(result, callback, session, session_refs)
    finally:
        refused = done.close()
        if refused:
            result.violations.append(Violation(5, refused))
    return result


def _wait_for_releases(callback: "_HostCallback", seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while com_refcount(callback) and time.monotonic() < deadline:
        time.sleep(0.005)


def _check_finished(result: SyncResult, callback: _HostCallback, session: Any,
                    session_refs: Optional[int]) -> None:
    """Rules 4 and 5, once the handle is signalled."""
    with callback.lock:
        if callback.done_calls == 0:
            result.violations.append(Violation(4, "the handle was signalled but Done was never called"))
        elif callback.done_handle != result.handle:
            result.violations.append(Violation(4, f"Done got handle 0x{callback.done_handle or 0:x}, but "
                                                  f"*phSyncDoneEvent was 0x{result.handle:x}"))
    if com_refcount(callback) != 0:
        result.violations.append(Violation(5, f"the provider still holds {com_refcount(callback)} reference(s) "
                                                  "to the callback after signalling the handle"))
        _orphans.append(callback)
    if session_refs is not None and com_refcount(session) != session_refs:
        result.violations.append(Violation(5, f"the provider still holds {com_refcount(session) - session_refs} "
                                                  "reference(s) to the session after signalling the handle"))


def _check_clean_failure(result: SyncResult, callback: _HostCallback, handle: HANDLE, session: Any,
                         session_refs: Optional[int]) -> None:
    """Rule 2: a synchronous failure starts nothing, calls nothing and keeps nothing."""
    if handle.value:
        result.violations.append(Violation(2, "SynchronizeInBackground failed but wrote *phSyncDoneEvent"))
    if result.events:
        result.violations.append(Violation(2, "SynchronizeInBackground failed but the callback was called"))
    if com_refcount(callback) != 0:
        result.violations.append(Violation(2, "SynchronizeInBackground failed but kept a reference to the callback"))
        _orphans.append(callback)
    if session_refs is not None and com_refcount(session) != session_refs:
        result.violations.append(Violation(2, "SynchronizeInBackground failed but kept a reference to the session"))
