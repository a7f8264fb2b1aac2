"""The end of Python's life in this process, in order, once.

Native code may still hold and call Python COM objects when the interpreter exits, or when
an embedding host calls MapiSyncShutdownPython. Before that happens every layer gets its
turn, in a fixed order:

- ``FINISH`` (sync): background syncs still running end with Done and a signalled handle;
- ``PARK`` (com): every vtable of a Python object is pointed at native stubs that answer
  E_UNEXPECTED (AddRef/Release 0) without entering Python, and the objects native code
  holds, their vtables and thunks are kept for the process's life.

:func:`shutdown` runs them; an ``atexit`` hook calls it, and so does the embedding shutdown.
"""

import atexit
import logging
import threading
from typing import Callable, List, Tuple

__all__ = ["FINISH", "PARK", "on_shutdown", "shutdown", "is_shutting_down"]

logger = logging.getLogger("mapisync_ctypes")

FINISH, PARK = 10, 90

_lock = threading.Lock()
_steps: List[Tuple[int, int, Callable[[], None]]] = []
_state = {"started": False}


def on_shutdown(order: int, step: Callable[[], None]) -> None:
    """Run ``step`` at shutdown, after the steps of a lower ``order``."""
    with _lock:
        _steps.append((order, len(_steps), step))


def is_shutting_down() -> bool:
    """True once shutdown has begun: nothing new should start."""
    return _state["started"]


def shutdown() -> None:
    """Run every shutdown step once, in order (later calls do nothing)."""
    with _lock:
        if _state["started"]:
            return
        _state["started"] = True
        steps = sorted(_steps)
    for _order, _index, step in steps:
        try:
            step()
        except BaseException:  # one layer's failure must not keep the others from running
            try:
                logger.exception("a shutdown step failed")
            except BaseException:
                pass


atexit.register(shutdown)
