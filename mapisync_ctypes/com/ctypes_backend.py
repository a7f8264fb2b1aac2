"""The ctypes backend: pure Python, for where nothing could be compiled.

Native layout of one object (a ctypes Structure, one type per interface count)::

    struct { int32_t refcount;  /* unused here */  uint32_t n_interfaces;  void *owner;
             struct { const void *lpVtbl; void *object; } itf[n_interfaces]; };

Here the count lives in Python under one lock, and ``_live`` maps every interface address
of an object whose count is above zero to the object. That map is also the keep-alive: at
zero the entries go, and the object is free to be collected once Python drops it.
"""

import ctypes
import logging
import threading
from ctypes import Structure, c_int32, c_uint32, c_void_p
from typing import Any, Dict, Tuple

from . import debugstate, lifecycle, threadstates, thunks
from .contract import Backend, ClassSpec, dead_stubs, dead_vtable, log_not_live, retire_vtables
from .declare import Interface
from .hresult import E_INVALIDARG, E_NOINTERFACE, E_POINTER, E_UNEXPECTED, S_OK
from .iunknown import IUnknown

__all__ = ["CtypesBackend", "BACKEND"]

logger = logging.getLogger("mapisync_ctypes")

_lock = threading.Lock()
_acquire, _release_lock = _lock.acquire, _lock.release  # cheaper than `with` on the hot path
_live: Dict[int, Any] = {}  # interface address -> object, while its count > 0
_live_blocks: Dict[int, "Block"] = {}  # the same addresses -> the object's Block, for IUnknown
_state = {"parked": False}


class _InterfaceSlot(Structure):
    _fields_ = [("lpVtbl", c_void_p), ("object", c_void_p)]


_block_types: Dict[int, Any] = {}


def _block_type(n: int) -> Any:
    """The ctypes Structure of a block with ``n`` interfaces (one type per n)."""
    block_type = _block_types.get(n)
    if block_type is None:
        block_type = _block_types[n] = type(f"MapiSyncObject{n}", (Structure,), {"_fields_": [
            ("refcount", c_int32),
            ("n_interfaces", c_uint32),
            ("owner", c_void_p),
            ("itf", _InterfaceSlot * n),
        ]})
    return block_type


def _not_live(this: int, method: str) -> int:
    if not _state["parked"]:
        log_not_live(method, this)
    return E_UNEXPECTED


class ClassInfo:
    """One COMObject subclass: its ctypes vtables."""

    def __init__(self, spec: ClassSpec, cls: type) -> None:
        self.spec = spec
        self.block_type = _block_type(len(spec.interfaces))
        self.vtables = [self._build_vtable(cls, interface) for interface in spec.interfaces]
        self.vtable_addresses = [ctypes.addressof(v) for v in self.vtables]

    def _build_vtable(self, cls: type, interface: Interface) -> Any:
        slots: Dict[str, Any] = {"QueryInterface": _query_interface, "AddRef": _add_ref, "Release": _release}
        for method in ClassSpec.own_methods(interface):
            func = ClassSpec.implementation(cls, method)
            if func is not None:
                slots[method.name] = thunks.make_method_thunk(method, func, _live.get, _not_live, keep_threads=True)
            else:
                slots[method.name] = thunks.make_notimpl_thunk(method, cls.__name__, _live.get, _not_live,
                                                                   keep_threads=True)
        return interface.vtable_type(**slots)


class Block:
    """One object's native memory and COM count."""

    __slots__ = ("info", "memory", "addresses", "count")

    def __init__(self, obj: Any, info: ClassInfo) -> None:
        self.info = info
        self.memory = memory = info.block_type()
        self.count = 0
        memory.n_interfaces = len(info.spec.interfaces)
        memory.owner = id(obj)
        header = ctypes.addressof(memory)
        for slot, vtable in zip(memory.itf, info.vtable_addresses):
            slot.lpVtbl = vtable
            slot.object = header
        first = header + type(memory).itf.offset
        size = ctypes.sizeof(_InterfaceSlot)
        self.addresses: Tuple[int, ...] = tuple(first + i * size for i in range(len(info.spec.interfaces)))


class CtypesBackend(Backend):
    """Vtables of ctypes callbacks; counts and IUnknown in Python under one lock."""

    name = "ctypes"

    def _new_class(self, spec: ClassSpec, cls: type) -> ClassInfo:
        return ClassInfo(spec, cls)

    def _new_block(self, obj: Any, info: ClassInfo) -> Block:
        return Block(obj, info)

    def _take_reference(self, obj: Any, block: Block) -> int:
        with _lock:
            block.count += 1
            if block.count == 1:
                if debugstate.enabled():
                    debugstate.revive(block, block.info.vtable_addresses, block.addresses)
                for address in block.addresses:
                    _live[address] = obj
                    _live_blocks[address] = block
            return block.count

    def _count(self, block: Block) -> int:
        return block.count

    def object_bytes(self, n_interfaces: int) -> int:
        return ctypes.sizeof(_block_type(n_interfaces))

    def park(self) -> None:
        """Every vtable slot -> a native stub from the compiled library, if it was built
        (calls then return E_UNEXPECTED without entering Python); either way the objects
        native code still holds, and every vtable and thunk, are kept for the process's life."""
        stubs = dead_stubs()
        with _lock:
            _state["parked"] = self.parked = True
            parked = (list(_live.values()), list(self._classes), _block_types)
            _live.clear()
            _live_blocks.clear()
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(parked))
            if stubs:
                for info in self._classes:
                    retire_vtables(info.spec.interfaces, info.vtable_addresses, stubs)
        if stubs:
            debugstate.park(lambda interface: dead_vtable(interface, stubs))


def _internal_error(where: str, result: int) -> int:
    try:
        logger.error("unexpected error in %s; returning 0x%x", where, result & 0xFFFFFFFF, exc_info=True)
    except BaseException:
        pass
    return result


# The IUnknown thunks are shared by every class and interface. Each catches everything
# itself: an exception escaping a ctypes callback would return 0, which is S_OK.

_thread_seen = threadstates.local


def _query_interface_py(this: int, riid: Any, ppv: Any) -> int:
    if not _thread_seen.__dict__:  # a native thread's first call: keep its state
        threadstates.note_thread()
    try:
        if not ppv:
            return E_POINTER
        ppv[0] = None
        obj = _live.get(this)
        if obj is None:
            return _not_live(this, "QueryInterface")
        if not riid:
            return E_INVALIDARG
        block = _live_blocks[this]
        index = block.info.spec.slot_by_iid.get(ctypes.string_at(riid, 16))
        if index is None:
            return E_NOINTERFACE
        with _lock:
            live = block.count > 0  # not if another thread released it to zero meanwhile
            if live:
                block.count += 1
        if not live:
            return _not_live(this, "QueryInterface")
        ppv[0] = block.addresses[index]
        return S_OK
    except BaseException:
        return _internal_error("QueryInterface", E_UNEXPECTED)


def _add_ref_py(this: int) -> int:
    if not _thread_seen.__dict__:  # a native thread's first call: keep its state
        threadstates.note_thread()
    try:
        block = _live_blocks.get(this)
        if block is not None:
            _acquire()
            try:
                if block.count > 0:
                    block.count += 1
                    if debugstate.tracing():
                        logger.debug("AddRef 0x%x -> %d", this, block.count)
                    return block.count
            finally:
                _release_lock()
        _not_live(this, "AddRef")
        return 0
    except BaseException:
        return _internal_error("AddRef", 0)


def _release_py(this: int) -> int:
    if not _thread_seen.__dict__:  # a native thread's first call: keep its state
        threadstates.note_thread()
    try:
        block = _live_blocks.get(this)
        if block is not None:
            _acquire()
            try:
                count = block.count
                if count > 0:
                    block.count = count = count - 1
                    if debugstate.tracing():
                        logger.debug("Release 0x%x -> %d", this, count)
                    if count == 0:  # drop the keep-alive
                        obj = None
                        for address in block.addresses:
                            obj = _live.pop(address, None) or obj
                            _live_blocks.pop(address, None)
                        if debugstate.enabled() and obj is not None:
                            debugstate.poison(obj, block, block.info.spec.interfaces, block.addresses)
                    return count
            finally:
                _release_lock()
        # Also reached when another thread took it to zero between the look-up and the lock.
        _not_live(this, "Release")
        return 0
    except BaseException:
        return _internal_error("Release", 0)


# the ctypes callbacks every vtable's IUnknown slots hold
_query_interface: Any = IUnknown.methods[0].prototype(_query_interface_py)
_add_ref: Any = IUnknown.methods[1].prototype(_add_ref_py)
_release: Any = IUnknown.methods[2].prototype(_release_py)

BACKEND = CtypesBackend()
lifecycle.on_shutdown(lifecycle.PARK, BACKEND.park)
