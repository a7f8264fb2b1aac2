"""Debug mode, for hunting lifetime bugs in hosts: MAPISYNC_DEBUG=1 (or =trace), or enable().

While it is on:

- every COM object records where it was created;
- ``live_objects()`` lists the objects native code still holds, with counts and creation stacks;
- after an object's final Release its interfaces point at a *poisoned* vtable: a call through
  a stale pointer logs an error naming the class and its creation stack and returns
  E_UNEXPECTED (AddRef/Release return 0), instead of reaching freed memory. The object's
  native block is kept for that (a deliberate leak: debug mode only);
- with ``trace=True``, AddRef/Release that enter Python are logged at DEBUG (all of them on
  the ctypes backend; on the native backend, which counts in C, the releases to zero).
"""

from typing import Any, List, NamedTuple

from .backends import active
from .debugstate import disable, enable, enabled, tracked

__all__ = ["enable", "disable", "enabled", "live_objects", "LiveObject"]


class LiveObject(NamedTuple):
    """One object native code still holds, as ``live_objects()`` reports it."""

    cls: str
    refcount: int
    created: str  # the creation stack, formatted
    obj: Any


def live_objects() -> List[LiveObject]:
    """Tracked objects native code still holds a reference to."""
    backend = active()
    result = []
    for obj in tracked():
        count = backend.refcount(obj)
        if count > 0:
            result.append(LiveObject(type(obj).__name__, count, obj.__dict__["_com_created_"], obj))
    return result
