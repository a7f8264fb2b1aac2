"""Kept Python thread states for native threads, on the ctypes backend (the compiled core does
the same in csrc/threadstate.c).

A ctypes callback called from a thread Python never saw runs in a thread state that ctypes
creates (PyGILState_Ensure) and deletes again (PyGILState_Release) around that one call: some
13 us, ten times the call itself. On the first call from such a thread, :func:`note_thread`
takes one more PyGILState_Ensure, never released by the call, so ctypes' Release leaves the
state alive and later calls only take the GIL. When the thread ends, the state is deleted:

- Linux (glibc 2.18+, musl): ``__cxa_thread_atexit_impl``, the hook C++ ``thread_local``
  destructors use, runs a ctypes callback on the ending thread. It gives back that one Ensure,
  and ctypes' own Release around the destructor deletes the state, as the GIL API intends. It
  runs before the C library empties its thread-specific slots, so Python's own slot still
  finds the state. Without the hook, nothing is kept.
- Windows: the compiled core's keeper (``msc_py_keep_thread``), when the package's native
  library is installed (every wheel has it). A thread-end callback there must not take the
  GIL (Windows runs fiber-local-storage callbacks holding a lock that a GIL holder may wait
  for), and a Python thread that deleted another thread's state would lose its own binding to
  the GIL API (CPython 3.12+ clears the caller's slot), so the core's reaper thread, which has
  no state of its own, deletes it. Without the library (an sdist built with no compiler),
  nothing is kept.

The Linux destructor is a ctypes callback that is never freed, so a thread that ends late never
jumps into freed memory. States are kept only in a Python process that finalizes as it
exits: an interpreter embedded through the shim or the C API may be finalized while host
threads live on, so :func:`disable` (called on the first create) turns keeping off there;
embedded hosts normally run on the compiled backend anyway.
"""

import ctypes
import logging
import os
import sys
import sysconfig
import threading
import time
from _thread import get_ident
from typing import Any, Dict, Optional

from .. import _locate
from . import corelib, lifecycle

__all__ = ["local", "note_thread", "disable", "kept_count", "AVAILABLE", "HOW", "BY_CORE"]

logger = logging.getLogger("mapisync_ctypes")

#: empty on a thread state not looked at yet: the hot path's one test is ``if not local.__dict__``.
#: It lives and dies with the thread state, so a new thread that reuses an old one's ident
#: is looked at afresh.
local = threading.local()
_pins: Dict[int, int] = {}  # ident -> the id of the thread state kept for it
_lock = threading.Lock()
_enabled = True

_api = ctypes.pythonapi
_api.PyGILState_Ensure.restype = ctypes.c_int
_api.PyGILState_Release.argtypes = [ctypes.c_int]
_api.PyGILState_GetThisThreadState.restype = ctypes.c_void_p
_api.PyThreadState_GetID.restype = ctypes.c_uint64
_api.PyThreadState_GetID.argtypes = [ctypes.c_void_p]
_GIL_LOCKED = 0  # PyGILState_LOCKED: what Ensure returns inside a callback, which holds the GIL


def _thread_ended(state: Optional[int]) -> None:
    """The destructor, on the ending thread, inside ctypes' own Ensure/Release: give back the
    kept Ensure, so ctypes' Release deletes the state."""
    try:
        ident = get_ident()
        with _lock:
            pinned = _pins.pop(ident, None)
        current = _api.PyGILState_GetThisThreadState()
        if pinned is not None and state and current == state and _api.PyThreadState_GetID(current) == pinned:
            _api.PyGILState_Release(_GIL_LOCKED)
    except BaseException:  # a destructor must not raise (and may run at interpreter exit)
        pass


_register: Any = None
_keep_alive: Any = None
_core: Any = None  # the compiled core, once a native thread first calls in (Windows)
_core_tried = False
# MAPISYNC_THREAD_END=core: Linux uses the core too (tests: its keeper then runs in every lane)
_USE_CORE = sys.platform == "win32" or os.environ.get("MAPISYNC_THREAD_END", "").strip() == "core"
_CORE_PATH = (_locate.native_library() if _USE_CORE and not sysconfig.get_config_var("Py_GIL_DISABLED")
              else None)


def _load_core() -> Any:
    """The core's keeper (under _lock), loaded on first use: the compiled backend, which keeps
    states itself, never needs it."""
    global _core, _core_tried
    if _core_tried or _CORE_PATH is None or lifecycle.is_shutting_down():
        return _core
    _core_tried = True
    try:
        core: Any = corelib.Library(_CORE_PATH, {
            "msc_py_keep_thread": (ctypes.c_int, []),
            "msc_threads_keeping": (None, [ctypes.c_int]),
            "msc_threads_kept": (ctypes.c_int, []),
            "msc_calls_in_flight": (ctypes.c_int, []),
        })
        corelib.bind(core)
    except (OSError, AttributeError, ImportError) as exc:  # an old or foreign library: keep nothing
        logger.warning("the ctypes backend keeps no thread states for native threads: %s", exc)
        return None
    core.msc_threads_keeping(1)
    lifecycle.on_shutdown(lifecycle.PARK, _stop)
    _core = core
    return core


if not _USE_CORE:
    _DTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_thread_ended)
    _keep_alive = _DTOR
    _cxa: Any = None
    try:
        _cxa = ctypes.CDLL(None).__cxa_thread_atexit_impl
    except (OSError, AttributeError):
        pass
    if _cxa is not None:
        _cxa.restype = ctypes.c_int
        _cxa.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]

        # glibc wants an address inside a loaded object, to keep that object loaded while a
        # destructor is pending (NULL is not accepted): Python's own library will do
        _DSO = ctypes.cast(_api.PyGILState_Ensure, ctypes.c_void_p)

        def _register(state: int) -> bool:
            return bool(_cxa(ctypes.cast(_DTOR, ctypes.c_void_p), state, _DSO) == 0)

# never freed, not even when the interpreter finalizes: a destructor may still be on its way
_api.Py_IncRef(ctypes.py_object(_keep_alive))

#: False where no thread-exit hook exists: every call from a native thread then pays in full
AVAILABLE = _register is not None or _CORE_PATH is not None

#: how the compiled core keeps states (the native backend's way), in words
BY_CORE = "kept, freed by the compiled core at thread end"
#: how this backend keeps states, in words (``mapisync info``)
HOW = (BY_CORE if _CORE_PATH is not None
       else "kept, freed by the C library's thread-exit hook" if _register is not None
       else "not kept: each call makes and deletes one (no thread-end hook here)")


def note_thread() -> None:
    """Called by a callback, with the GIL, the first time it runs on a thread: keep the
    thread state of a native thread (one Python did not create) until that thread ends.
    Never raises: it runs before a callback's own error handling, where an exception would
    come back to native code as 0 (S_OK)."""
    try:
        _note_thread()
    except BaseException:  # keeping a state is an optimisation: the call goes on without it
        logger.exception("could not keep the thread state of a native thread")


def _note_thread() -> None:
    ident = get_ident()
    local.seen = True
    with _lock:
        if not (_enabled and AVAILABLE) or ident in _pins:
            return
        owner = threading._active.get(ident)  # type: ignore[attr-defined]
        if owner is not None and not isinstance(owner, threading._DummyThread):
            return  # a thread Python made: its state is Python's
        state = _api.PyGILState_GetThisThreadState()
        if not state:
            return
        if _USE_CORE:
            core = _load_core()
            if core is not None:
                core.msc_py_keep_thread()  # the core's Ensure, slot and reaper (with the GIL: PyDLL)
            return
        _api.PyGILState_Ensure()  # the kept one: ctypes' Release no longer reaches zero
        if not _register(state):
            _api.PyGILState_Release(_GIL_LOCKED)
            return
        _pins[ident] = _api.PyThreadState_GetID(state)


def disable() -> None:
    """Keep no more states (embedding: the interpreter may be finalized before host threads
    end, and a destructor must not enter it then)."""
    global _enabled
    with _lock:
        if _enabled:
            _enabled = False
            if _core is not None:
                _core.msc_threads_keeping(0)
            logger.debug("the ctypes backend keeps no thread states in an embedded interpreter")


def kept_count() -> int:
    """How many native threads have a kept state now (for tests and diagnostics)."""
    if _core is not None:
        return int(_core.msc_threads_kept())
    with _lock:
        return len(_pins)


def _stop() -> None:
    """At the park, before the interpreter finalizes: the core's reaper deletes no more states
    (the interpreter frees them itself), once a deletion under way has finished."""
    _core.msc_threads_keeping(0)
    deadline = time.monotonic() + 2.0
    while _core.msc_calls_in_flight() > 0 and time.monotonic() < deadline:
        time.sleep(0.001)

