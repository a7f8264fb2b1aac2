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

import ctypes
import logging
import os
import threading
import traceback
import weakref
from typing import Any, Dict, List, NamedTuple, Sequence

from .declare import Interface
from .hresult import E_UNEXPECTED

__all__ = ["enable", "disable", "enabled", "live_objects", "LiveObject"]

logger = logging.getLogger("mapisync_ctypes")

_state = {"on": False, "trace": False}
_lock = threading.Lock()
_tracked: Dict[int, "weakref.ref[Any]"] = {}  # id -> the object, for live_objects()
_graveyard: Dict[int, Any] = {}  # interface address -> (class name, stack, block) once poisoned
_poison_vtables: Dict[int, Any] = {}  # id(interface) -> ctypes vtable whose slots all refuse


class LiveObject(NamedTuple):
    cls: str
    refcount: int
    created: str  # the creation stack, formatted
    obj: Any


def enable(trace: bool = False) -> None:
    """Switch debug mode on (for objects that get their first com_pointer from now on)."""
    _state["on"], _state["trace"] = True, trace


def disable() -> None:
    _state["on"] = _state["trace"] = False


def enabled() -> bool:
    return _state["on"]


def tracing() -> bool:
    return _state["trace"]


def track(obj: Any) -> None:
    """Record where ``obj`` was created (from COMObject.__new__; else at its first com_pointer)."""
    if "_com_created_" in obj.__dict__:
        return
    obj.__dict__["_com_created_"] = "".join(traceback.format_stack()[:-2])
    key = id(obj)
    _tracked[key] = weakref.ref(obj, lambda _, key=key: _tracked.pop(key, None))


def live_objects() -> List[LiveObject]:
    """Tracked objects native code still holds a reference to."""
    from .comobject import com_refcount
    result = []
    for ref in list(_tracked.values()):
        obj = ref()
        if obj is not None and com_refcount(obj) > 0:
            result.append(LiveObject(type(obj).__name__, com_refcount(obj), obj.__dict__["_com_created_"], obj))
    return result


def _poison_vtable(interface: Interface) -> int:
    vtable = _poison_vtables.get(id(interface))
    if vtable is None:
        slots = {}
        for method in interface.methods:
            slots[method.name] = method.prototype(_refuser(method.name, method.index))
        vtable = _poison_vtables[id(interface)] = interface.vtable_type(**slots)
    return ctypes.addressof(vtable)


def _refuser(name: str, index: int) -> Any:
    def refuse(this: int, *args: Any) -> int:
        try:
            cls, stack, _ = _graveyard.get(this, ("?", "(unknown)", None))
            logger.error("%s called on a %s after its final Release; returning %s. It was created at:\n%s",
                         name, cls, "0" if index in (1, 2) else "E_UNEXPECTED", stack)
            if index == 0 and len(args) == 2 and args[1]:
                args[1][0] = None  # QueryInterface: *ppv = NULL
        except BaseException:
            pass
        return 0 if index in (1, 2) else E_UNEXPECTED
    return refuse


def poison(obj: Any, block: Any, interfaces: Sequence[Interface], addresses: Sequence[int]) -> None:
    """The final Release: point every interface at a poisoned vtable and keep the block."""
    stack = obj.__dict__.get("_com_created_", "(created before debug mode was on)")
    with _lock:
        for interface, address in zip(interfaces, addresses):
            _graveyard[address] = (type(obj).__name__, stack, block)
            ctypes.c_void_p.from_address(address).value = _poison_vtable(interface)


def revive(block: Any, vtable_addresses: Sequence[int], addresses: Sequence[int]) -> None:
    """A new reference from Python (0 -> 1): the real vtables again."""
    with _lock:
        for vtable, address in zip(vtable_addresses, addresses):
            if _graveyard.pop(address, None) is not None:
                ctypes.c_void_p.from_address(address).value = vtable


if os.environ.get("MAPISYNC_DEBUG", "").strip().lower() in ("1", "true", "yes", "on", "trace"):
    enable(trace=os.environ["MAPISYNC_DEBUG"].strip().lower() == "trace")
