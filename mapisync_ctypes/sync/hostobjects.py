"""The objects a host hands a provider, as run_sync plays the host: the progress callback that
records every report and watches the rules as they arrive, a counted session, and a callback
that refuses IMAPISyncProgressCallback. How the host behaves (cancel, a slow answer, calls back
into the provider, closing its handle inside Done) is a :class:`HostBehaviour`."""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

from ..com.comobject import COMObject
from ..com.hresult import S_OK, failed, format_hresult
from ..com.proxy import Proxy
from ..com.text import replace_lone_surrogates
from .donehandle import Squatter
from .hresults import MAPI_E_USER_CANCEL
from .interfaces import IMAPISync, IMAPISyncProgressCallback, IUnknown
from .rules import Violation

__all__ = ["HostBehaviour", "HostCallback", "CountedSession", "RefusingCallback", "SyncEvent", "CancelPolicy"]

logger = logging.getLogger("mapisync_ctypes")

CancelPolicy = Union[None, int, Callable[[Optional[str], int, int], Optional[int]]]


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

    def describe(self) -> str:
        """'Progress("Inbox", 1, 4) at 0.012 s', for messages."""
        if self.kind == "Done":
            shown = f"0x{self.args[0] or 0:x}, {format_hresult(self.args[1])}"
        elif self.kind == "Error":
            shown = f"{format_hresult(self.args[0])}, {self.args[1]!r}"
        else:
            shown = ", ".join(repr(a) for a in self.args)
        return f"{self.kind}({shown}) at {self.time:.3f} s"


@dataclass
class HostBehaviour:
    """How the host answers and what it does besides, the well-behaved host by default.

    - ``cancel_after``: answer MAPI_E_USER_CANCEL from the N-th Progress on (or a callable
      ``(text, index, index_max) -> HRESULT`` decides each answer);
    - ``cancel_on_error``: answer the first Error with MAPI_E_USER_CANCEL;
    - ``slow_host``: seconds each Progress blocks before it answers;
    - ``reenter``: call the provider's QueryInterface from inside every Progress;
    - ``close_in_done``: close the done handle inside Done and give its number to something
      else at once, then watch that nothing touches it.
    """

    cancel_after: CancelPolicy = None
    cancel_on_error: bool = False
    slow_host: float = 0.0
    reenter: bool = False
    close_in_done: bool = False


class HostCallback(COMObject):
    """The host's IMAPISyncProgressCallback: records, answers, and watches rules 1 and 4."""

    _com_interfaces_ = [IMAPISyncProgressCallback]

    def __init__(self, violations: List[str], caller_thread: int, behaviour: HostBehaviour,
                 on_event: Optional[Callable[[SyncEvent], None]] = None, provider: Optional[Proxy] = None) -> None:
        self.violations = violations
        self.caller_thread = caller_thread
        self.behaviour = behaviour
        self.on_event = on_event
        self.provider = provider  # for `reenter`
        self.lock = threading.Lock()
        self.events: List[SyncEvent] = []
        self.progress_calls = 0
        self.done_calls = 0
        self.done_handle: Optional[int] = None
        self.done_hresult: Optional[int] = None
        self.cancelled_with: Optional[int] = None  # the failure the host answered
        self.active = 0  # reports running now
        self.reentering: Optional[float] = None  # when a QueryInterface from Progress began
        self.done_event = threading.Event()
        self.handle_seen = threading.Event()  # the host has looked at *phSyncDoneEvent
        self.handle: int = 0
        self.squatter: Optional[Squatter] = None
        self.start = time.monotonic()
        self._said: Set[str] = set()

    def breach(self, rule: int, message: str, expected: Optional[str] = None, seen: Optional[str] = None) -> None:
        """Note a breach once (a provider repeating one mistake gives one line)."""
        if message not in self._said:
            self._said.add(message)
            self.violations.append(Violation(rule, message, expected, seen))

    def _enter(self, kind: str, *args: Any) -> SyncEvent:
        event = SyncEvent(kind, args, threading.get_ident(), time.monotonic() - self.start)
        with self.lock:
            self.events.append(event)
            self.active += 1
            if self.active > 1:
                self.breach(4, f"{kind} was called while another report to the same callback was still running",
                            "reports one at a time, in order, from the sync thread", event.describe())
            if event.thread_id == self.caller_thread:
                self.breach(1, f"{kind} was called on the thread that called SynchronizeInBackground",
                            "every report from a thread of the provider's", event.describe())
            if self.done_calls and kind != "Done":
                self.breach(4, f"{kind} was called after Done", "nothing after Done", event.describe())
            elif self.cancelled_with is not None and kind != "Done":
                self.breach(4, f"{kind} was called after the host answered {format_hresult(self.cancelled_with)}",
                            "no Progress or Error once the host answered a failure: the sync stops",
                            event.describe())
            if kind == "Done":
                self.done_calls += 1
                if self.done_calls == 2:
                    self.breach(4, "Done was called more than once", "Done exactly once", event.describe())
                else:
                    self.done_handle, self.done_hresult = args
                    if self.cancelled_with is not None and args[1] != self.cancelled_with:
                        self.breach(4, f"Done carried {format_hresult(args[1])} after the host cancelled with "
                                       f"{format_hresult(self.cancelled_with)}",
                                    f"Done({format_hresult(self.cancelled_with)})", event.describe())
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logger.exception("run_sync: on_event raised")
        return event

    def _leave(self, answer: int) -> int:
        with self.lock:
            self.active -= 1
            if failed(answer) and self.cancelled_with is None:
                self.cancelled_with = answer
        return answer

    def Progress(self, text: Optional[str], ulIndex: int, ulIndexMax: int) -> int:
        """Record; answer by the behaviour (S_OK, or the cancel)."""
        text = replace_lone_surrogates(text)
        self._enter("Progress", text, ulIndex, ulIndexMax)
        behaviour, answer = self.behaviour, S_OK
        try:
            with self.lock:
                self.progress_calls += 1
                n = self.progress_calls
            if behaviour.slow_host:
                time.sleep(behaviour.slow_host)
            if behaviour.reenter and self.provider is not None:
                self._reenter()
            policy = behaviour.cancel_after
            if callable(policy):
                answer = policy(text, ulIndex, ulIndexMax) or S_OK
            elif policy is not None and n >= policy:
                answer = MAPI_E_USER_CANCEL
        finally:
            self._leave(answer)
        return answer

    def _reenter(self) -> None:
        """The host calls back into the provider from inside a report, as hosts do."""
        assert self.provider is not None
        self.reentering = time.monotonic()
        try:
            for interface in (IUnknown, IMAPISync):
                self.provider.QueryInterface(interface).release()
        except Exception as exc:
            self.breach(1, "the provider's QueryInterface failed when called from inside Progress",
                        "a provider stays callable while it reports", f"{type(exc).__name__}: {exc}")
        finally:
            self.reentering = None

    def Error(self, hResult: int, text: Optional[str]) -> int:
        """Record; answer S_OK, or the cancel under ``cancel_on_error``."""
        self._enter("Error", hResult, replace_lone_surrogates(text))
        answer = MAPI_E_USER_CANCEL if self.behaviour.cancel_on_error else S_OK
        return self._leave(answer)

    def Done(self, hThreadDoneEvent: int, hResult: int) -> int:
        """Record; under ``close_in_done``, close the handle here and give its number away."""
        self._enter("Done", hThreadDoneEvent, hResult)
        try:
            if self.behaviour.close_in_done and self.done_calls == 1:
                self.handle_seen.wait(5.0)  # the host inspects the handle before it goes
                if self.handle:  # a good handle: a bad one is the host's to report, not to reuse
                    self.squatter = Squatter.replace(self.handle)
        finally:
            self._leave(S_OK)
            self.done_event.set()
        return S_OK


class CountedSession(COMObject):
    """A stand-in for IMAPISession: IUnknown only, so the host can count the references a
    provider takes and gives back."""

    _com_interfaces_ = [IUnknown]


class RefusingCallback(COMObject):
    """A punkCallBack that is an IUnknown but not an IMAPISyncProgressCallback: rule 2 says the
    provider returns the QueryInterface failure (E_NOINTERFACE) and starts nothing."""

    _com_interfaces_ = [IUnknown]
