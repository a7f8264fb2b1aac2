"""The contract between Python COM objects and the two backends that serve them.

A backend gives each COMObject subclass its vtables (once per class) and each object its
native block (once per object): ``itf[i] = {lpVtbl, object}`` for interface ``i`` of the
class's ``_com_interfaces_``, ``itf[0]`` being the IUnknown identity. It counts COM
references, keeps an object alive while its count is above zero, and parks everything when
Python goes away. What differs is where that work happens: in Python (ctypes_backend.py)
or in the compiled core (native_backend.py, csrc/core.h).
"""

import ctypes
import logging
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import debugstate
from .declare import MAX_WORDS, Interface, Method
from .iunknown import IUnknown
from .types import GUID

__all__ = ["Backend", "ClassSpec", "declared_interfaces", "slots_by_iid", "log_not_live", "dead_stubs",
           "retire_vtables", "dead_vtable"]

logger = logging.getLogger("mapisync_ctypes")


def declared_interfaces(cls: type) -> Tuple[Interface, ...]:
    """The class's _com_interfaces_, checked."""
    interfaces = tuple(getattr(cls, "_com_interfaces_", ()))
    if not interfaces:
        raise TypeError(f"{cls.__name__}._com_interfaces_ lists no interface")
    for interface in interfaces:
        if not isinstance(interface, Interface):
            raise TypeError(f"{cls.__name__}._com_interfaces_ holds {interface!r}, not an Interface")
    return interfaces


def slots_by_iid(interfaces: Sequence[Interface]) -> Dict[bytes, int]:
    """IID bytes -> interface index; a base IID maps to the first interface deriving from it."""
    slots: Dict[bytes, int] = {}
    for index, interface in enumerate(interfaces):
        for declared in interface.bases():
            slots.setdefault(bytes(declared.iid), index)
    return slots


class ClassSpec:
    """What both backends need to know of one COMObject subclass."""

    def __init__(self, cls: type) -> None:
        self.name = cls.__name__
        self.interfaces = declared_interfaces(cls)
        self.slot_by_iid = slots_by_iid(self.interfaces)

    @staticmethod
    def implementation(cls: type, method: Method) -> Optional[Callable[..., Any]]:
        """The class's function for ``method``, or None (the slot answers E_NOTIMPL)."""
        func = getattr(cls, method.name, None)
        return func if callable(func) else None

    @staticmethod
    def own_methods(interface: Interface) -> Tuple[Method, ...]:
        """The slots after IUnknown's, which the class itself serves."""
        return interface.methods[len(IUnknown.methods):]


def log_not_live(method: str, address: int) -> None:
    """A call through an object whose COM count is zero (a host's use after Release)."""
    try:
        if method == "Release":
            logger.error("Release on 0x%x, whose COM count is already zero; returning 0", address)
        else:
            logger.error("%s called on 0x%x, which is not a live COM object (used after its final "
                         "Release?); returning %s", method, address, "0" if method == "AddRef" else "E_UNEXPECTED")
    except BaseException:  # logging itself may fail at interpreter exit
        pass


# ---- the exit stubs: native functions that answer without entering Python -----------------

#: stubs an embedding host hands over (its own mapisync_python.c), for when the package's
#: native library was not built
fallback_stubs: List[int] = []


def dead_stubs() -> Optional[List[int]]:
    """[QueryInterface, AddRef/Release, methods of 0..MAX_WORDS argument words]: the native
    stubs of the compiled library (MapiSyncDeadStubs), or None if there are none."""
    from .. import _locate

    path = _locate.native_library()
    if path is None:
        return list(fallback_stubs) or None
    try:
        table = (ctypes.c_void_p * 16)()
        count = ctypes.CDLL(path).MapiSyncDeadStubs(table, 16)
        return [int(table[i] or 0) for i in range(count)]
    except (OSError, AttributeError):
        logger.debug("could not load the native stubs from %s", path, exc_info=True)
        return None


def _stub_for(method: Method, stubs: Sequence[int]) -> Optional[int]:
    index = 0 if method.index == 0 else 1 if method.index in (1, 2) else 2 + method.words
    return stubs[index] if index < len(stubs) and method.words <= MAX_WORDS else None


def retire_vtables(interfaces: Sequence[Interface], vtables: Sequence[int], stubs: Sequence[int]) -> None:
    """Point every slot of these vtables at its stub (a method wider than any stub keeps its slot)."""
    pointer = ctypes.sizeof(ctypes.c_void_p)
    for interface, address in zip(interfaces, vtables):
        for method in interface.methods:
            stub = _stub_for(method, stubs)
            if stub is not None:
                ctypes.c_void_p.from_address(address + method.index * pointer).value = stub


_dead_vtables: Dict[int, Any] = {}


def dead_vtable(interface: Interface, stubs: Sequence[int]) -> Optional[int]:
    """A vtable of stubs for ``interface``, kept for the process's life."""
    vtable = _dead_vtables.get(id(interface))
    if vtable is None:
        slots = [_stub_for(method, stubs) for method in interface.methods]
        if None in slots:
            return None
        vtable = _dead_vtables[id(interface)] = (ctypes.c_void_p * len(slots))(*slots)
    return ctypes.addressof(vtable)


class Backend(ABC):
    """One way of serving Python COM objects to native code (see the module's docstring)."""

    #: "native" or "ctypes"
    name: str = ""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parked = False
        self._classes: List[Any] = []  # every class's vtables and thunks: kept for the process's life
        self._class_attr = f"_com_{self.name}_class_"
        self._block_attr = f"_com_{self.name}_block_"

    # ---- what each backend provides
    @abstractmethod
    def _new_class(self, spec: ClassSpec, cls: type) -> Any:
        """The vtables of one class (built once, never freed)."""

    @abstractmethod
    def _new_block(self, obj: Any, info: Any) -> Any:
        """One object's native block; ``.addresses`` holds its interface pointers."""

    @abstractmethod
    def _take_reference(self, obj: Any, block: Any) -> int:
        """A reference taken from Python; the first one (0 -> 1) makes the object live."""

    @abstractmethod
    def _count(self, block: Any) -> int:
        """The block's COM count."""

    @abstractmethod
    def object_bytes(self, n_interfaces: int) -> int:
        """Native bytes of one object block with ``n_interfaces`` interfaces."""

    @abstractmethod
    def park(self) -> None:
        """Python is going away: no native call may enter it again (shutdown step PARK)."""

    def caller(self, method: Method) -> Optional[Callable[..., int]]:
        """A compiled ``caller(this, *args) -> int`` for proxies of ``method``, or None."""
        return None

    # ---- shared by both
    def class_info(self, cls: type) -> Any:
        """The class's vtables, built on first use and never rebuilt (not inherited)."""
        info = cls.__dict__.get(self._class_attr)
        if info is None:
            with self.lock:
                info = cls.__dict__.get(self._class_attr)
                if info is None:
                    info = self._new_class(ClassSpec(cls), cls)
                    self._classes.append(info)
                    setattr(cls, self._class_attr, info)
        return info

    def block_of(self, obj: Any) -> Any:
        """The object's block, created on first use."""
        block = obj.__dict__.get(self._block_attr)
        if block is None:
            info = self.class_info(type(obj))
            with self.lock:
                block = obj.__dict__.get(self._block_attr)
                if block is None:
                    block = obj.__dict__[self._block_attr] = self._new_block(obj, info)
        return block

    def interface_pointer(self, obj: Any, iid: GUID) -> Optional[int]:
        """The address for ``iid`` with one new reference, or None if unsupported."""
        block = self.block_of(obj)
        index = block.info.spec.slot_by_iid.get(bytes(iid))
        if index is None:
            return None
        if debugstate.enabled():
            debugstate.track(obj)
        self._take_reference(obj, block)
        return int(block.addresses[index])

    def refcount(self, obj: Any) -> int:
        """The COM count native code holds on ``obj`` (0 for an object never handed out)."""
        block = obj.__dict__.get(self._block_attr)
        return self._count(block) if block is not None else 0
