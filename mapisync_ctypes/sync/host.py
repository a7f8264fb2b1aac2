"""run_sync: play Outlook's part against a provider, and check the protocol as it goes.

``run_sync(provider)`` builds a MAPISIB with a Python IMAPISyncProgressCallback, calls
SynchronizeInBackground, waits on the done handle, closes it, and returns a
:class:`SyncResult` with every event and every breach of the protocol it saw. Its options
are the host behaviours the protocol allows (early releases, a cancel through Error, a slow
host, closing the handle inside Done, bad input...); ``run_concurrent`` (in .concurrent)
runs several syncs at once. ``mapisync drive`` and ``mapisync check`` are built on these two.
"""

import ctypes
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ..com.comobject import COMObject, com_pointer, com_refcount
from ..com.hresult import COMError, E_INVALIDARG, E_NOINTERFACE, format_hresult
from ..com.proxy import Proxy, wrap
from ..com.types import HANDLE
from .donehandle import HostHandle, open_descriptors
from .factory import load_factory
from .flags import SYNC_DOWNLOAD_CONTENTS, SYNC_DOWNLOAD_HIERARCHY, SYNC_KNOWN_FLAGS
from .hostobjects import CancelPolicy, CountedSession, HostBehaviour, HostCallback, RefusingCallback, SyncEvent
from .hresults import MAPI_E_UNKNOWN_FLAGS
from .interfaces import IMAPISync, IUnknown
from .rules import Violation
from .types import MAPISIB

__all__ = ["run_sync", "SyncResult", "SyncEvent", "ProtocolViolation", "load_factory",
           "MAPISIB_SHAPES", "CountedSession", "expected_refusals"]

ProviderLike = Union[int, Proxy, COMObject]
SessionLike = Union[None, str, int, Proxy, COMObject]

#: what ``mapisib=`` may ask for: the valid shapes, then the invalid ones of rule 2
MAPISIB_SHAPES: Dict[str, str] = {
    "valid": "a valid MAPISIB", "larger": "a MAPISIB with a larger ulSize (a newer host's)",
    "null": "a NULL MAPISIB", "short": "ulSize one byte short of sizeof(MAPISIB)", "zero-size": "ulSize 0",
    "no-handle": "a NULL phSyncDoneEvent", "no-callback": "a NULL punkCallBack",
}
#: what each rule asks of the done handle, for the "expected" of a bad handle
_HANDLE_EXPECTED = {3: "a new handle of the provider's own in *phSyncDoneEvent", 5: "a handle the provider signals "
                    "through a private duplicate, after Done", 6: "a waitable handle: an event (Windows), an eventfd "
                    "or a pipe (POSIX)"}
_GRACE = 0.2  # seconds a host watches a closed handle's number after the sync's references are back

# Callbacks a provider may still call (a timeout, a kept reference): kept for the process's
# life, so a late call meets a live object (or a clean E_UNEXPECTED), never freed memory.
_orphans: List[COMObject] = []


class ProtocolViolation(AssertionError):
    """A provider broke the background-sync protocol (see ``.result.violations``)."""

    def __init__(self, result: "SyncResult") -> None:
        self.result = result
        super().__init__("; ".join(result.violations))


@dataclass
class SyncResult:
    """Everything one sync did, in the host's view: what SynchronizeInBackground returned,
    Done's HRESULT, the reports, every event in order, and every breach of the protocol
    (:class:`~mapisync_ctypes.sync.rules.Violation`)."""

    events: List[SyncEvent] = field(default_factory=list)
    violations: List[str] = field(default_factory=list)
    call_hresult: int = 0  # what SynchronizeInBackground returned
    handle: int = 0  # what the provider stored in *phSyncDoneEvent
    flags: int = 0
    elapsed: float = 0.0

    @property
    def hresult(self) -> Optional[int]:
        """What (the first) Done carried; None if Done never came."""
        return next((e.args[1] for e in self.events if e.kind == "Done"), None)

    @property
    def progress(self) -> List[Tuple[Optional[str], int, int]]:
        """Every Progress: (text or None, index, index_max)."""
        return [e.args for e in self.events if e.kind == "Progress"]

    @property
    def errors(self) -> List[Tuple[int, Optional[str]]]:
        """Every Error: (hresult, text or None)."""
        return [e.args for e in self.events if e.kind == "Error"]

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
            "call_hresult": self.call_hresult, "call_hresult_name": format_hresult(self.call_hresult),
            "hresult": self.hresult,
            "hresult_name": None if self.hresult is None else format_hresult(self.hresult),
            "flags": self.flags, "handle": self.handle, "elapsed": round(self.elapsed, 6),
            "violations": [v.as_dict() if isinstance(v, Violation) else {"text": v} for v in self.violations],
            "events": [e.as_dict() for e in list(self.events)],
        }


def _provider_proxy(provider: ProviderLike) -> Proxy:
    """An IMAPISync proxy with its own reference, from an address, a proxy or a COMObject."""
    if isinstance(provider, COMObject):
        return wrap(com_pointer(provider, IMAPISync), IMAPISync, addref=False)
    if isinstance(provider, Proxy):
        return provider.QueryInterface(IMAPISync)
    with wrap(provider, IUnknown) as unknown:
        return unknown.QueryInterface(IMAPISync)


class _Refs:
    """A host's own references to an object it hands the provider, and the count it expects."""

    def __init__(self, obj: Optional[COMObject]) -> None:
        self.obj = obj
        self.base = com_refcount(obj) if obj is not None else 0
        self.address = com_pointer(obj) if obj is not None else 0
        self.held = obj is not None

    def count(self) -> int:
        return com_refcount(self.obj) - self.base if self.obj is not None else 0

    def release(self) -> None:
        if self.held and self.obj is not None:
            self.held = False
            if com_refcount(self.obj) > 0:  # a provider that over-released took ours already
                wrap(self.address, IUnknown, addref=False).release()

    def check(self, what: str, when: str, rule: int, violations: List[str]) -> None:
        """The provider's references must be back to none; say how they are not."""
        extra = self.count() - (1 if self.held else 0)
        if extra > 0:
            violations.append(Violation(rule, f"the provider still holds {extra} reference(s) to the {what} {when}",
                                        "every reference the provider took is released",
                                        f"{extra} still held"))
        elif extra < 0:
            violations.append(Violation(3, f"the provider released {-extra} reference(s) to the {what} more than "
                                           "it took", "AddRef and Release in pairs",
                                        "the host's own reference was released by the provider"))
        if extra and self.obj is not None:
            _orphans.append(self.obj)


def run_sync(provider: ProviderLike, flags: int = SYNC_DOWNLOAD_HIERARCHY | SYNC_DOWNLOAD_CONTENTS,
             session: SessionLike = None, timeout: Optional[float] = 30.0, cancel_after: CancelPolicy = None,
             on_event: Optional[Callable[[SyncEvent], None]] = None, *, cancel_on_error: bool = False,
             slow_host: float = 0.0, reenter: bool = False, close_in_done: bool = False,
             release_early: bool = False, release_provider: bool = False, mapisib: str = "valid",
             refusing_callback: bool = False, _before: Any = None, _keep: Optional[List[Any]] = None) -> SyncResult:
    """Run one background sync against ``provider`` as a host would, and check the protocol.

    - ``provider``: an interface pointer address, a proxy or a COMObject implementing IMAPISync.
    - ``session``: MAPISIB.psesSync: None, ``"counted"`` (a host object whose references are
      counted), an address, a proxy or a COMObject.
    - ``cancel_after``: N makes Progress answer MAPI_E_USER_CANCEL from its N-th call on; a
      callable ``(text, index, index_max) -> HRESULT or None`` decides each answer itself.
      ``cancel_on_error`` answers the first Error with MAPI_E_USER_CANCEL.
    - ``slow_host``: seconds each Progress blocks; ``reenter``: call the provider's
      QueryInterface from inside each Progress; ``close_in_done``: close the handle inside
      Done and give its number to something else, then watch it.
    - ``release_early``: release the host's callback and session references as soon as
      SynchronizeInBackground returns; ``release_provider``: the same for the provider (a
      proxy passed as ``provider`` is released too: it is the host's reference).
    - ``mapisib``: one of :data:`MAPISIB_SHAPES` (the invalid ones expect rule 2's refusal);
      ``refusing_callback``: a punkCallBack without IMAPISyncProgressCallback.
    - ``on_event``: called with each SyncEvent as it arrives (on the provider's thread).

    A synchronous failure raises COMError; its ``.result`` has ``call_hresult`` and lists any
    rule the failure broke (a kept reference; for bad input passed on purpose, an HRESULT
    other than rule 2's). Bad input that is accepted is a violation in the result. A sync not
    finished within ``timeout`` seconds raises TimeoutError (with ``.result``).
    """
    if isinstance(cancel_after, bool) or not (cancel_after is None or callable(cancel_after)
                                              or (isinstance(cancel_after, int) and cancel_after >= 1)):
        raise ValueError(f"cancel_after must be None, a positive int or a callable, not {cancel_after!r}")
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds or None, not {timeout!r}")
    if mapisib not in MAPISIB_SHAPES:
        raise ValueError(f"mapisib must be one of {', '.join(MAPISIB_SHAPES)}, not {mapisib!r}")
    if reenter and release_provider:
        raise ValueError("reenter needs the provider, which release_provider gives back at once")
    if isinstance(session, str) and session != "counted":
        raise ValueError(f"session must be None, 'counted', an address, a proxy or a COMObject, not {session!r}")
    flags = int(flags) & 0xFFFFFFFF
    expected = expected_refusals(flags, mapisib, refusing_callback)
    result = SyncResult(flags=flags)
    sync = _provider_proxy(provider)
    behaviour = HostBehaviour(cancel_after, cancel_on_error, slow_host, reenter, close_in_done)
    callback = HostCallback(result.violations, threading.get_ident(), behaviour, on_event,
                            sync if reenter else None)
    result.events = callback.events
    if session == "counted":
        session = CountedSession()
    session_refs = _Refs(session if isinstance(session, COMObject) else None)
    session_address = session_refs.address or (wrap(session, IUnknown).detach() if session is not None else 0)
    punk = _Refs(None if mapisib == "no-callback" else RefusingCallback() if refusing_callback else callback)

    handle = HANDLE()
    size = ctypes.sizeof(MAPISIB)
    block = (ctypes.c_ubyte * (size + 16))()  # room for the larger shape
    sib = MAPISIB.from_buffer(block)
    sib.ulSize = {"larger": size + 16, "short": size - 1, "zero-size": 0}.get(mapisib, size)
    sib.ulFlags = flags
    sib.psesSync = session_address or None
    sib.punkCallBack = punk.address or None
    sib.phSyncDoneEvent = None if mapisib == "no-handle" else ctypes.pointer(handle)
    before = open_descriptors() if _before is None else _before
    callback.start = time.monotonic()
    try:
        sync.SynchronizeInBackground(None if mapisib == "null" else ctypes.addressof(block))
    except COMError as exc:
        result.call_hresult = exc.hresult
    # Does the provider hold references of its own? Read the counts first, then whether Done
    # came: a count with only the host's reference while Done is still to come is a breach.
    counts = (punk.count(), session_refs.count())
    if not result.call_hresult and not callback.done_calls and punk.obj is callback:
        for refs, count, what in ((punk, counts[0], "callback"), (session_refs, counts[1], "session")):
            if refs.obj is not None and count <= 1:
                result.violations.append(Violation(
                    3, f"SynchronizeInBackground returned without a reference of its own to the {what}",
                    f"the provider holds its own reference to the {what} until after Done",
                    f"the {what}'s count was {count} (the host's own) while the sync ran"))
    if release_early:
        punk.release()
        session_refs.release()
    if release_provider:  # every host reference: ours, and the caller's proxy
        sync.release()
        if isinstance(provider, Proxy):
            provider.release()
    try:
        return _finish(result, sync, callback, punk, session_refs, handle, before, expected, mapisib,
                       timeout, close_in_done, _keep)
    finally:
        sync.release()
        punk.release()
        session_refs.release()
        if session_address and not session_refs.obj:
            wrap(session_address, IUnknown, addref=False).release()


def expected_refusals(flags: int, mapisib: str, refusing: bool) -> Dict[int, str]:
    """The HRESULTs rule 2 asks for, for the bad input this run passes on purpose."""
    expected: Dict[int, str] = {}
    if flags & ~SYNC_KNOWN_FLAGS:
        expected[MAPI_E_UNKNOWN_FLAGS] = f"unknown flag bits 0x{flags & ~SYNC_KNOWN_FLAGS & 0xFFFFFFFF:X}"
    if mapisib not in ("valid", "larger"):
        expected[E_INVALIDARG] = MAPISIB_SHAPES[mapisib]
    if refusing:
        expected[E_NOINTERFACE] = "a callback without IMAPISyncProgressCallback"
    return expected


def _finish(result: SyncResult, sync: Proxy, callback: HostCallback, punk: _Refs, session: _Refs,
            handle: HANDLE, before: Any, expected: Dict[int, str], mapisib: str, timeout: Optional[float],
            close_in_done: bool, keep: Optional[List[Any]]) -> SyncResult:
    hr = result.call_hresult
    wanted = " or ".join(format_hresult(code) for code in expected)
    what = " and ".join(expected.values())
    if hr < 0:
        _check_clean_failure(result, handle, punk, session)
        if expected and hr not in expected:
            result.violations.append(Violation(2, f"SynchronizeInBackground answered {what} with "
                                                  f"{format_hresult(hr)}", wanted, format_hresult(hr)))
        error = COMError(hr, "IMAPISync::SynchronizeInBackground")
        error.result = result  # type: ignore[attr-defined]
        raise error
    if expected:
        result.violations.append(Violation(2, f"SynchronizeInBackground accepted {what}",
                                           f"{wanted}, with nothing started", f"{format_hresult(hr)}: it started"))
    result.handle = handle.value or 0
    if mapisib in ("null", "no-handle") or punk.obj is not callback:
        # nothing to wait on, or no callback of ours: give a sync it started anyway its time
        callback.handle_seen.set()
        signalled = callback.done_event.wait(timeout) if punk.obj is callback else True
        return _ended(keep, result, callback, punk, session, signalled, timeout, None, False)
    done = HostHandle(result.handle, before)
    if not done.problem:
        callback.handle = result.handle  # only a good handle may be closed and reused inside Done
    callback.handle_seen.set()
    if done.problem:
        result.violations.append(Violation(done.rule, f"SynchronizeInBackground succeeded but stored {done.problem}",
                                           _HANDLE_EXPECTED[done.rule], f"*phSyncDoneEvent = {done.problem}"))
        return _ended(keep, result, callback, punk, session, callback.done_event.wait(timeout), timeout, done, False)
    if close_in_done:  # the host's handle goes inside Done: wait for Done, then for the references
        signalled = callback.done_event.wait(timeout)
        if signalled:
            _wait_for_releases(callback, punk, session, timeout or 30.0)
            time.sleep(_GRACE)
        return _ended(keep, result, callback, punk, session, signalled, timeout, done, False)
    signalled = done.wait(timeout)
    if done.problem:
        result.violations.append(Violation(done.rule, f"the done handle was unusable: {done.problem}",
                                           _HANDLE_EXPECTED[done.rule], done.problem))
        return _ended(keep, result, callback, punk, session, callback.done_event.wait(timeout), timeout, done, False)
    return _ended(keep, result, callback, punk, session, signalled, timeout, done, True)


def _ended(keep: Optional[List[Any]], result: SyncResult, callback: HostCallback, punk: _Refs, session: _Refs, signalled: bool,
           timeout: Optional[float], done: Optional[HostHandle], by_handle: bool) -> SyncResult:
    """The sync ended (``signalled``: by the handle if ``by_handle``, else by Done) or timed out."""
    result.elapsed = time.monotonic() - callback.start
    try:
        if not signalled:
            result.violations.append(Violation(5, f"the done handle was not signalled within {timeout} s",
                                               "the handle signalled once the sync has ended", "not signalled")
                                     if by_handle else Violation(4, f"Done did not come within {timeout} s",
                                                                 "Done, then the handle", "no Done"))
            if callback.reentering is not None:
                result.violations.append(Violation(1, "QueryInterface, called from inside Progress, never returned",
                                                   "a provider stays callable while it reports (no lock held "
                                                   "across a report)", "the call blocked: a deadlock?"))
            _orphans.append(callback)
            error = TimeoutError(f"the sync did not finish within {timeout} s")
            error.result = result  # type: ignore[attr-defined]
            raise error
        if not by_handle:
            _wait_for_releases(callback, punk, session, 1.0)
        _check_finished(result, callback, punk, session, by_handle)
        if result.violations:  # a provider that broke a rule may call again: never into freed memory
            _orphans.append(callback)
    finally:
        if callback.squatter is not None:
            harm = callback.squatter.check()
            if harm:
                result.violations.append(Violation(5, f"after the host closed its handle inside Done, {harm}",
                                                   "the provider signals its private duplicate, never the host's "
                                                   "handle", harm))
            callback.squatter.close()
        elif done is not None and not done.problem:
            if keep is not None:  # run_concurrent closes it once every sync is over
                keep.append((result, done))
            else:
                close_handle(result, done)
    return result


def close_handle(result: SyncResult, done: HostHandle) -> None:
    """The host closes the handle, if it is still the provider's (rule 6)."""
    refused = done.close()
    if refused:
        result.violations.append(Violation(5, refused, "the host's handle untouched until the host closes it",
                                           "it was closed by someone else"))


def _wait_for_releases(callback: HostCallback, punk: _Refs, session: _Refs, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (punk.count() > punk.held or session.count() > session.held):
        time.sleep(0.005)


def _check_finished(result: SyncResult, callback: HostCallback, punk: _Refs, session: _Refs,
                    by_handle: bool) -> None:
    """Rules 4 and 5, once the sync has ended."""
    if punk.obj is callback:
        with callback.lock:
            if callback.done_calls == 0:
                result.violations.append(Violation(4, "the handle was signalled but Done was never called"
                                                   if by_handle else "Done was never called", "Done exactly once",
                                                   "no Done"))
            elif result.handle and callback.done_handle != result.handle:
                result.violations.append(Violation(4, f"Done got handle 0x{callback.done_handle or 0:x}, but "
                                                      f"*phSyncDoneEvent was 0x{result.handle:x}",
                                                   f"Done(0x{result.handle:x}, ...)",
                                                   f"Done(0x{callback.done_handle or 0:x}, ...)"))
    when = "after signalling the handle" if by_handle else "after the sync ended"
    punk.check("callback", when, 5, result.violations)
    session.check("session", when, 5, result.violations)


def _check_clean_failure(result: SyncResult, handle: HANDLE, punk: _Refs, session: _Refs) -> None:
    """Rule 2: a synchronous failure starts nothing, calls nothing and keeps nothing."""
    failure = format_hresult(result.call_hresult)
    if handle.value:
        result.violations.append(Violation(2, "SynchronizeInBackground failed but wrote *phSyncDoneEvent",
                                           "*phSyncDoneEvent left as it was", f"0x{handle.value:x}"))
    if result.events:
        result.violations.append(Violation(2, "SynchronizeInBackground failed but the callback was called",
                                           "no call", result.events[0].describe()))
    for refs, what in ((punk, "callback"), (session, "session")):
        kept = refs.count() - (1 if refs.held else 0)
        if kept > 0:
            result.violations.append(Violation(2, f"SynchronizeInBackground failed but kept a reference to the {what}",
                                               "no reference kept after a failure",
                                               f"{kept} reference(s) kept after {failure}"))
            _orphans.append(refs.obj)  # type: ignore[arg-type]
