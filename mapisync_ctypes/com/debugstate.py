"""The state of debug mode and the hooks the backends call (the public API is debug.py).

Debug mode, for hunting lifetime bugs in hosts: MAPISYNC_DEBUG=1 (or =trace), or
debug.enable(). While it is on:
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
from typing import Any, Callable, Dict, List, Optional, Sequence

from .declare import Interface
from .hresult import E_UNEXPECTED

__all__ = ["enable", "disable", "enabled", "tracing", "track", "tracked", "poison", "revive", "park"]

logger = logging.getLogger("mapisync_ctypes")

_state = {"on": False, "trace": False}
_lock = threading.Lock()
_tracked: Dict[int, "weakref.ref[Any]"] = {}  # id -> the object, for live_objects()
_graveyard: Dict[int, Any] = {}  # interface address -> (class name, stack, block) once poisoned
_poison_vtables: Dict[int, Any] = {}  # id(interface) -> ctypes vtable whose slots all refuse


def enable(trace: bool = False) -> None:
    """Switch debug mode on (for objects that get their first com_pointer from now on)."""
    _state["on"], _state["trace"] = True, trace


def disable() -> None:
    """Switch debug mode off (objects already poisoned stay so)."""
    _state["on"] = _state["trace"] = False


def enabled() -> bool:
    """True while debug mode is on."""
    return _state["on"]


def tracing() -> bool:
    """True while AddRef/Release are logged."""
    return _state["trace"]


def track(obj: Any) -> None:
    """Record where ``obj`` was created (from COMObject.__new__; else at its first com_pointer)."""
    if "_com_created_" in obj.__dict__:
        return
    obj.__dict__["_com_created_"] = "".join(traceback.format_stack()[:-2])
    key = id(obj)

    def forget(_: Any) -> None:
        _tracked.pop(key, None)

    _tracked[key] = weakref.ref(obj, forget)


def tracked() -> List[Any]:
    """Every object tracked so far that is still alive."""
    objects = (ref() for ref in list(_tracked.values()))
    return [obj for obj in objects if obj is not None]


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
            cls, stack, _, _ = _graveyard.get(this, ("?", "(unknown)", None, None))
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
            _graveyard[address] = (type(obj).__name__, stack, block, interface)
            ctypes.c_void_p.from_address(address).value = _poison_vtable(interface)


def revive(block: Any, vtable_addresses: Sequence[int], addresses: Sequence[int]) -> None:
    """A new reference from Python (0 -> 1): the real vtables again."""
    with _lock:
        for vtable, address in zip(vtable_addresses, addresses):
            if _graveyard.pop(address, None) is not None:
                ctypes.c_void_p.from_address(address).value = vtable


def park(dead_vtable: Callable[[Interface], Optional[int]]) -> None:
    """Python is going away: poisoned interfaces get a native vtable that never enters it."""
    with _lock:
        for address, (_cls, _stack, _block, interface) in _graveyard.items():
            vtable = dead_vtable(interface)
            if vtable:
                ctypes.c_void_p.from_address(address).value = vtable


if os.environ.get("MAPISYNC_DEBUG", "").strip().lower() in ("1", "true", "yes", "on", "trace"):
    enable(trace=os.environ["MAPISYNC_DEBUG"].strip().lower() == "trace")
