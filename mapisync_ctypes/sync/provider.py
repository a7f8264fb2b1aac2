"""SyncProvider: IMAPISync in Python, by the background-sync protocol (docs/protocol.md).

A subclass overrides :meth:`SyncProvider.synchronize`, which runs on a thread
of its own, never on the caller's::

    class MyStore(SyncProvider):
        def synchronize(self, job):
            for i, folder in enumerate(FOLDERS, 1):
                job.progress(f"Synchronizing {folder}", i, len(FOLDERS))

Returning calls Done(handle, S_OK) (or the success HRESULT returned); raising
COMError(hr) calls Done(handle, hr); any other exception calls Done(handle,
E_FAIL) and is logged with its traceback. When the host answers Progress or
Error with a failure (MAPI_E_USER_CANCEL is how a host cancels), the job
raises SyncCancelled, nothing more reaches the host, and Done carries that
HRESULT.
"""

import ctypes
import logging
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from ..com import lifecycle
from ..com.comobject import COMObject
from ..com.hresult import E_ABORT, E_FAIL, E_INVALIDARG, E_UNEXPECTED, S_OK, COMError, format_hresult, to_hresult
from ..com.proxy import Proxy, wrap
from ..com.types import IS_WINDOWS
from .donehandle import DoneSignal
from .flags import SYNC_KNOWN_FLAGS, SyncFlags
from .hresults import MAPI_E_UNKNOWN_FLAGS
from .interfaces import IMAPISync, IMAPISyncProgressCallback, IUnknown
from .types import MAPISIB

__all__ = ["SyncProvider", "SyncJob", "SyncCancelled", "MAPIThreadProvider", "SHUTDOWN_GRACE"]

logger = logging.getLogger("mapisync_ctypes")

#: seconds a sync still running at shutdown gets to notice (its next report raises
#: SyncCancelled) before the shutdown ends it: Done(handle, E_ABORT), references released,
#: handle signalled
SHUTDOWN_GRACE = 2.0


class SyncCancelled(COMError):
    """The host answered Progress or Error with a failure HRESULT: the sync must stop."""


class SyncJob:
    """One background sync, as ``synchronize`` sees it."""

    def __init__(self, flags: int, session: Optional[Proxy], callback: Proxy, signal: DoneSignal) -> None:
        self.flags: SyncFlags = SyncFlags(flags)
        #: a proxy for MAPISIB.psesSync (an IUnknown; MAPI's IMAPISession), or None
        self.session: Optional[Proxy] = session
        #: the value stored in ``*phSyncDoneEvent`` and passed to Done
        self.handle: int = signal.handle
        self._callback = callback
        self._signal = signal
        self._lock = threading.Lock()
        self._stopped_by: Optional[int] = None
        self._closed = False  # no more reports
        self._ended = False  # Done sent (or being sent), references released, handle signalled
        self._stopping = threading.Event()  # set when the host cancels or Python shuts down
        self._handle_stored = threading.Event()  # the sync thread starts work only after this

    @property
    def stopped_by(self) -> Optional[int]:
        """The failure HRESULT the host answered, once it has cancelled; else None."""
        return self._stopped_by

    def progress(self, text: Optional[str], index: int, index_max: int) -> int:
        """Report progress; returns the host's success HRESULT, raises SyncCancelled on a failure."""
        return self._report("Progress", text, index, index_max)

    def error(self, hresult: int, text: Optional[str] = None) -> int:
        """Report a non-fatal error; returns the host's HRESULT, raises SyncCancelled on a failure."""
        return self._report("Error", to_hresult(hresult), text)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, but wake at once if the host cancels or Python shuts down, and
        raise SyncCancelled then. A provider that waits between reports waits this way."""
        if self._stopping.wait(seconds):
            raise SyncCancelled(self._stopped_by if self._stopped_by is not None else E_ABORT,
                                "the sync was stopped while it waited")

    def _abort(self, hr: int) -> None:
        """Stop this sync from outside (shutdown): its next report or sleep raises SyncCancelled."""
        with self._lock:
            if self._stopped_by is None:
                self._stopped_by = hr
        self._stopping.set()

    def _report(self, method: str, *args: Any) -> int:
        # One lock keeps reports in order even if synchronize() uses helper threads.
        with self._lock:
            if self._closed:
                raise RuntimeError(f"job.{method.lower()}() after the sync has ended")
            if self._stopped_by is not None:
                raise SyncCancelled(self._stopped_by, "the host has already stopped this sync")
            try:
                answer: int = getattr(self._callback, method)(*args)
                return answer
            except COMError as exc:
                self._stopped_by = exc.hresult
                self._stopping.set()
                raise SyncCancelled(exc.hresult, f"the host answered {method} with a failure") from None


class SyncProvider(COMObject):
    """A Python message store provider's IMAPISync."""

    _com_interfaces_ = [IMAPISync]

    # -- what subclasses override ------------------------------------------------
    def synchronize(self, job: SyncJob) -> Optional[int]:
        """The work, on the sync thread. Return None (S_OK) or a success HRESULT."""
        raise NotImplementedError(f"{type(self).__name__} must override synchronize()")

    def thread_started(self, job: SyncJob) -> None:
        """On the sync thread, before synchronize(). A Windows provider calls MAPIInitialize here."""

    def thread_finishing(self, job: SyncJob) -> None:
        """On the sync thread after Done and after every host reference is released, before the
        handle is signalled. A Windows provider calls MAPIUninitialize here."""

    # -- IMAPISync ---------------------------------------------------------------
    def SynchronizeInBackground(self, psibpb: Any) -> int:
        """IMAPISync::SynchronizeInBackground: validate, take references, store the handle,
        start the sync thread, return (the rules are in the class's and module's docstrings)."""
        hr = self._validate(psibpb)
        if hr != S_OK:
            return hr
        sib = psibpb.contents
        borrowed = wrap(sib.punkCallBack, IUnknown, addref=False)
        try:
            callback = borrowed.QueryInterface(IMAPISyncProgressCallback)
        except COMError as exc:
            logger.warning("SynchronizeInBackground: punkCallBack gives no IMAPISyncProgressCallback: %s", exc)
            return exc.hresult
        finally:
            borrowed.detach()  # the host's reference: never ours to release
        session = wrap(sib.psesSync, IUnknown) if sib.psesSync else None
        try:
            signal = DoneSignal()
        except OSError:
            logger.exception("SynchronizeInBackground: cannot create the done handle")
            self._release(callback, session)
            return E_FAIL
        job = SyncJob(sib.ulFlags, session, callback, signal)
        thread = threading.Thread(target=self._run, args=(job,), daemon=True,
                                  name=f"mapisync-{type(self).__name__}-{signal.handle:x}")
        try:
            thread.start()
        except RuntimeError:
            logger.exception("SynchronizeInBackground: cannot start the sync thread")
            self._release(callback, session)
            signal.discard()
            return E_FAIL
        _running.add(self, job, thread)
        # Store the handle first, then let the thread work: Done can never come before a host
        # can find its sync through *phSyncDoneEvent, and a failure above wrote nothing.
        sib.phSyncDoneEvent[0] = signal.handle
        job._handle_stored.set()
        return S_OK

    def _validate(self, psibpb: Any) -> int:
        """Protocol rule 2: reject synchronously, touching nothing."""
        if lifecycle.is_shutting_down():
            return self._reject(E_UNEXPECTED, "Python is shutting down")
        if not psibpb:
            return self._reject(E_INVALIDARG, "psibpb is NULL")
        size = psibpb.contents.ulSize  # read first: a short block may end before the rest
        if size < ctypes.sizeof(MAPISIB):
            return self._reject(E_INVALIDARG, f"ulSize {size} < sizeof(MAPISIB) {ctypes.sizeof(MAPISIB)}")
        sib = psibpb.contents
        if not sib.phSyncDoneEvent:
            return self._reject(E_INVALIDARG, "phSyncDoneEvent is NULL")
        if not sib.punkCallBack:
            return self._reject(E_INVALIDARG, "punkCallBack is NULL")
        unknown = sib.ulFlags & ~SYNC_KNOWN_FLAGS
        if unknown:
            return self._reject(MAPI_E_UNKNOWN_FLAGS, f"unknown flag bits 0x{unknown:08X}")
        return S_OK

    def _reject(self, hr: int, why: str) -> int:
        logger.warning("%s.SynchronizeInBackground: %s; returning %s", type(self).__name__, why,
                       format_hresult(hr))
        return hr

    # -- the sync thread -----------------------------------------------------------
    def _run(self, job: SyncJob) -> None:
        job._handle_stored.wait()
        hr = S_OK
        try:
            self.thread_started(job)
            result = self.synchronize(job)
            hr = S_OK if result is None else to_hresult(result)
            if hr < 0:
                raise COMError(hr, "synchronize() returned a failure HRESULT")
        except COMError as exc:
            hr = exc.hresult
            logger.info("%s.synchronize ended with %s", type(self).__name__, format_hresult(hr))
        except BaseException:
            hr = E_FAIL
            logger.exception("%s.synchronize raised; Done gets E_FAIL", type(self).__name__)
        self._end(job, hr, on_sync_thread=True)

    def _end(self, job: SyncJob, hr: int, on_sync_thread: bool) -> None:
        """Done(handle, hr) exactly once, then release every host reference, then (on the sync
        thread) thread_finishing(), then signal the private copy of the handle."""
        with job._lock:
            if job._ended:
                return
            job._ended = job._closed = True
            if job._stopped_by is not None:  # the host's cancel (or a shutdown) wins
                hr = job._stopped_by
        try:
            job._callback.Done(job.handle, hr)
        except COMError as exc:
            logger.warning("the host answered Done with %s", exc)
        except BaseException:
            logger.exception("calling Done failed")
        finally:
            self._release(job._callback, job.session)
            if on_sync_thread:
                try:
                    self.thread_finishing(job)
                except BaseException:
                    logger.exception("%s.thread_finishing raised", type(self).__name__)
            _running.discard(job)
            job._signal.signal()

    @staticmethod
    def _release(callback: Proxy, session: Optional[Proxy]) -> None:
        callback.release()
        if session is not None:
            session.release()


class _RunningSyncs:
    """Every sync still running, so a shutdown can end each one with Done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._syncs: Dict[int, Tuple[SyncProvider, SyncJob, threading.Thread]] = {}

    def add(self, provider: SyncProvider, job: SyncJob, thread: threading.Thread) -> None:
        with self._lock:
            self._syncs[id(job)] = (provider, job, thread)

    def discard(self, job: SyncJob) -> None:
        with self._lock:
            self._syncs.pop(id(job), None)

    def snapshot(self) -> List[Tuple[SyncProvider, SyncJob, threading.Thread]]:
        with self._lock:
            return list(self._syncs.values())

    def finish(self) -> None:
        """Shutdown step FINISH: every running sync ends with Done(handle, E_ABORT) and a
        signalled handle, within SHUTDOWN_GRACE seconds (plus the host's time in Done)."""
        syncs = self.snapshot()
        if not syncs:
            return
        logger.info("shutting down: ending %d running sync(s) with E_ABORT", len(syncs))
        for _provider, job, _thread in syncs:
            job._abort(E_ABORT)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for _provider, _job, thread in syncs:
            thread.join(max(0.0, deadline - time.monotonic()))
        for provider, job, thread in syncs:
            if thread.is_alive():  # synchronize() did not notice in time: end it from here
                logger.warning("%s's sync did not end within %.1f s of the shutdown; Done(E_ABORT) sent for it",
                               type(provider).__name__, SHUTDOWN_GRACE)
                provider._end(job, E_ABORT, on_sync_thread=False)


_running = _RunningSyncs()
lifecycle.on_shutdown(lifecycle.FINISH, _running.finish)


class MAPIThreadProvider(SyncProvider):
    """A SyncProvider whose sync thread calls MAPIInitialize first and MAPIUninitialize last,
    as MAPI asks of every thread that uses it (Windows, mapi32.dll). A failing MAPIInitialize
    ends the sync with its HRESULT. Off Windows there is no MAPI and the hooks do nothing, so
    the same provider runs in tests anywhere.
    """

    _mapi_thread = threading.local()

    def thread_started(self, job: SyncJob) -> None:
        self._mapi_thread.initialized = False
        if not IS_WINDOWS:
            return
        hr = _mapi32().MAPIInitialize(None)
        if hr < 0:
            raise COMError(hr, "MAPIInitialize failed on the sync thread")
        self._mapi_thread.initialized = True

    def thread_finishing(self, job: SyncJob) -> None:
        if getattr(self._mapi_thread, "initialized", False):
            self._mapi_thread.initialized = False
            _mapi32().MAPIUninitialize()


_mapi32_dll: Any = None


def _mapi32() -> Any:
    """mapi32.dll, with the two functions a MAPI thread needs declared (Windows only)."""
    global _mapi32_dll
    if _mapi32_dll is None and sys.platform == "win32":
        dll = ctypes.WinDLL("mapi32")
        dll.MAPIInitialize.restype = ctypes.c_int32
        dll.MAPIInitialize.argtypes = [ctypes.c_void_p]
        dll.MAPIUninitialize.restype = None
        dll.MAPIUninitialize.argtypes = []
        _mapi32_dll = dll
    return _mapi32_dll
