"""The seam between Python COM objects and native memory (the ctypes backend).

Everything that knows how an object looks to native code lives here: the
per-class vtables, the per-object native block, reference counting and the
IUnknown methods. A compiled backend can replace this module by producing the
same block layout and taking over QueryInterface/AddRef/Release.

Native layout of one object::

    struct MapiSyncObject {
        int32_t  refcount;       /* a compiled backend's atomic COM count (unused here) */
        uint32_t n_interfaces;
        void    *owner;          /* PyObject * of the Python object */
        struct { const void *lpVtbl; struct MapiSyncObject *object; } itf[n_interfaces];
    };

``this`` is ``&itf[i]`` for interface ``i`` of the class's ``_com_interfaces_``;
``itf[0]`` is the identity returned for IID_IUnknown, and ``this->object``
leads to the header whatever ``i`` is.

Here the count lives in Python under one lock, and ``_live`` maps every
interface address of an object whose count is above zero to the object.
That map is also the keep-alive: at zero the entries go, and the object is
free to be collected once Python drops it.
"""

import atexit
import ctypes
import logging
import threading
from ctypes import Structure, c_int32, c_uint32, c_void_p
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _vtbl, debug as _debug
from .abi import GUID
from .declare import Interface
from .hresult import E_INVALIDARG, E_NOINTERFACE, E_POINTER, E_UNEXPECTED, S_OK
from .interfaces import IUnknown

logger = logging.getLogger("mapisync_ctypes")

NAME = "ctypes"
_lock = threading.Lock()
_acquire, _release_lock = _lock.acquire, _lock.release  # cheaper than `with` on the hot path
_live: Dict[int, Any] = {}  # interface address -> object, while its count > 0
_live_blocks: Dict[int, "Block"] = {}  # the same addresses -> the object's Block, for IUnknown
_class_infos: List["ClassInfo"] = []  # every class's vtables, kept for the process's life
_finalizing = False


class _InterfaceSlot(Structure):
    _fields_ = [("lpVtbl", c_void_p), ("object", c_void_p)]


_block_types: Dict[int, type] = {}


def _block_type(n: int) -> type:
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


# ---- shared by both backends ----------------------------------------------------------

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


def per_class(cls: type, attr: str, make: Callable[[type], Any], registry: List[Any]) -> Any:
    """``make(cls)`` once per class (not inherited), kept in ``registry`` for the process's life."""
    value = cls.__dict__.get(attr)
    if value is None:
        with _lock:
            value = cls.__dict__.get(attr)
            if value is None:
                value = make(cls)
                registry.append(value)
                setattr(cls, attr, value)
    return value


def per_object(obj: Any, make: Callable[[Any], Any]) -> Any:
    """``make(obj)`` once per object, as its _com_block."""
    block = obj.__dict__.get("_com_block")
    if block is None:
        with _lock:
            block = obj.__dict__.get("_com_block")
            if block is None:
                block = obj.__dict__["_com_block"] = make(obj)
    return block


# ---- the ctypes backend --------------------------------------------------------------

class ClassInfo:
    """What one COMObject subclass shares across its objects: vtables and the IID map."""

    def __init__(self, cls: type) -> None:
        self.name = cls.__name__
        self.interfaces = interfaces = declared_interfaces(cls)
        self.block_type = _block_type(len(interfaces))
        self.vtables = [self._build_vtable(cls, interface) for interface in interfaces]
        self.vtable_addresses = [ctypes.addressof(v) for v in self.vtables]
        self.slot_by_iid = slots_by_iid(interfaces)

    def _build_vtable(self, cls: type, interface: Interface) -> Any:
        slots: Dict[str, Any] = {"QueryInterface": _query_interface,
                                 "AddRef": _add_ref, "Release": _release}
        for method in interface.methods[len(IUnknown.methods):]:
            func = getattr(cls, method.name, None)
            if callable(func):
                slots[method.name] = _vtbl.make_method_thunk(method, func, _live.get, _not_live)
            else:
                slots[method.name] = _vtbl.make_notimpl_thunk(method, cls.__name__, _live.get, _not_live)
        return interface.vtable_type(**slots)


def class_info(cls: type) -> ClassInfo:
    """The class's vtables, built on first use and never rebuilt."""
    return per_class(cls, "_com_class_info_", ClassInfo, _class_infos)


class Block:
    """One object's native memory and COM count."""

    __slots__ = ("info", "memory", "addresses", "count")

    def __init__(self, obj: Any, info: ClassInfo) -> None:
        self.info = info
        self.memory = memory = info.block_type()
        self.count = 0
        memory.n_interfaces = len(info.interfaces)
        memory.owner = id(obj)
        header = ctypes.addressof(memory)
        for slot, vtable in zip(memory.itf, info.vtable_addresses):
            slot.lpVtbl = vtable
            slot.object = header
        first = header + type(memory).itf.offset
        size = ctypes.sizeof(_InterfaceSlot)
        self.addresses: Tuple[int, ...] = tuple(first + i * size for i in range(len(info.interfaces)))


def block_of(obj: Any) -> Block:
    """The object's block, created on first use."""
    info = class_info(type(obj))
    return per_object(obj, lambda o: Block(o, info))


def _take_reference(obj: Any, block: Block) -> int:
    """A reference taken from Python; the first one makes the object live."""
    if _debug.enabled():
        _debug.track(obj)
    with _lock:
        block.count += 1
        if block.count == 1:
            if _debug.enabled():
                _debug.revive(block, block.info.vtable_addresses, block.addresses)
            for address in block.addresses:
                _live[address] = obj
                _live_blocks[address] = block
        return block.count


def interface_pointer(obj: Any, iid: GUID) -> Optional[int]:
    """The address for ``iid`` with one new reference, or None if unsupported."""
    block = block_of(obj)
    index = block.info.slot_by_iid.get(bytes(iid))
    if index is None:
        return None
    _take_reference(obj, block)
    return block.addresses[index]


def refcount(obj: Any) -> int:
    block = obj.__dict__.get("_com_block")
    return block.count if block is not None else 0


def _not_live(this: int, method: str) -> int:
    """A call through an interface whose object has no COM reference."""
    if not _finalizing:
        try:
            logger.error("%s called on 0x%x, which is not a live COM object "
                         "(used after its final Release?); returning E_UNEXPECTED", method, this)
        except BaseException:
            pass
    return E_UNEXPECTED


def _internal_error(where: str, result: int) -> int:
    try:
        logger.error("unexpected error in %s; returning 0x%x", where, result & 0xFFFFFFFF, exc_info=True)
    except BaseException:
        pass
    return result


# The IUnknown thunks are shared by every class and interface. Each catches
# everything itself: an exception escaping a ctypes callback would return 0.

@IUnknown.methods[0].prototype
def _query_interface(this: int, riid: Any, ppv: Any) -> int:
    try:
        if not ppv:
            return E_POINTER
        ppv[0] = None
        obj = _live.get(this)
        if obj is None:
            return _not_live(this, "QueryInterface")
        if not riid:
            return E_INVALIDARG
        block = obj._com_block
        index = block.info.slot_by_iid.get(ctypes.string_at(riid, 16))
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


@IUnknown.methods[1].prototype
def _add_ref(this: int) -> int:
    try:
        block = _live_blocks.get(this)
        if block is not None:
            _acquire()
            try:
                if block.count > 0:
                    block.count += 1
                    if _debug.tracing():
                        logger.debug("AddRef 0x%x -> %d", this, block.count)
                    return block.count
            finally:
                _release_lock()
        _not_live(this, "AddRef")
        return 0
    except BaseException:
        return _internal_error("AddRef", 0)


@IUnknown.methods[2].prototype
def _release(this: int) -> int:
    try:
        block = _live_blocks.get(this)
        if block is not None:
            _acquire()
            try:
                count = block.count
                if count > 0:
                    block.count = count = count - 1
                    if _debug.tracing():
                        logger.debug("Release 0x%x -> %d", this, count)
                    if count == 0:  # drop the keep-alive
                        obj = None
                        for address in block.addresses:
                            obj = _live.pop(address, None) or obj
                            _live_blocks.pop(address, None)
                        if _debug.enabled() and obj is not None:
                            _debug.poison(obj, block, block.info.interfaces, block.addresses)
                    return count
            finally:
                _release_lock()
        # Also reached when another thread took it to zero between the look-up and the lock.
        if not _finalizing:
            logger.error("Release on 0x%x, whose COM count is already zero; returning 0", this)
        return 0
    except BaseException:
        return _internal_error("Release", 0)


def _argument_words(method: Any) -> int:
    """Stack words a stdcall callee pops for ``method``'s parameters (``this`` excluded)."""
    word = 4 if ctypes.sizeof(c_void_p) == 4 else ctypes.sizeof(c_void_p)
    return sum(-(-ctypes.sizeof(c.proto) // word) for c in method.conversions)


def retire(stubs: Sequence[int]) -> None:
    """Point every class's vtable slots at native stubs, for a Python that is going away.

    ``stubs`` is [QueryInterface, AddRef/Release, methods of 0..8 argument words] (see
    MapiSyncDeadStubs). From here on native calls return E_UNEXPECTED (AddRef/Release 0)
    without entering Python.
    """
    with _lock:
        _park_locked()
        pointer = ctypes.sizeof(c_void_p)
        for info in _class_infos:
            for interface, address in zip(info.interfaces, info.vtable_addresses):
                for method in interface.methods:
                    if method.index == 0:
                        stub = stubs[0]
                    elif method.index in (1, 2):
                        stub = stubs[1]
                    else:
                        words = _argument_words(method)
                        if words + 2 >= len(stubs):
                            continue  # no stub that wide: the Python thunk stays
                        stub = stubs[2 + words]
                    c_void_p.from_address(address + method.index * pointer).value = stub


def _park_locked() -> None:
    """With _lock held: serve no more calls from Python, and leak what native code may touch.

    Objects native code still holds, and every class's vtables and thunks, must outlive
    finalization: freeing them under a native caller would turn a late call into a crash.
    """
    global _finalizing
    _finalizing = True
    parked = (list(_live.values()), list(_class_infos), _block_types)
    _live.clear()
    _live_blocks.clear()
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(parked))


def _native_stubs() -> Optional[List[int]]:
    """The stubs of the shim library setup.py builds, if it is there."""
    from . import shim_path

    path = shim_path()
    if path is None:
        return None
    try:
        table = (c_void_p * 16)()
        count = ctypes.CDLL(path).MapiSyncDeadStubs(table, 16)
        return [table[i] for i in range(count)]
    except (OSError, AttributeError):
        logger.debug("could not load the native stubs from %s", path, exc_info=True)
        return None


@atexit.register
def _park_at_exit() -> None:
    """At interpreter exit, native code must never reach Python or freed memory.

    With the native stubs (the shim library), every vtable is switched to them: later
    calls return E_UNEXPECTED without entering Python at all. Without them, calls that
    still reach a thunk find no live object and get E_UNEXPECTED from Python. Either
    way objects native code still holds, and every vtable and thunk, are leaked.
    """
    stubs = _native_stubs()
    if stubs:
        retire(stubs)
        return
    with _lock:
        _park_locked()
