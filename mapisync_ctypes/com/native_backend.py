"""The native backend: the compiled core (csrc/core.h and its parts) serves Python COM objects.

Object blocks, vtables, atomic reference counts and QueryInterface live in C, so AddRef,
Release and QueryInterface never take the GIL; Python is entered only when a count reaches
zero, to drop the keep-alive. Declared methods dispatch through compiled trampolines that
decode text in C and call the Python method through the C API; proxies call native objects
through compiled callers. A method the core cannot carry (floating point, more than eight
argument words) gets a ctypes thunk instead.

The core is a plain C library loaded with ctypes (com/corelib.py): functions named ``msc_py_*``
touch Python objects and are called through ``ctypes.PyDLL``, which keeps the GIL; the rest
are plain C and go through ``ctypes.CDLL``. ``_FUNCTIONS`` below lists those this backend uses.
"""

import ctypes
import logging
import sysconfig
import time
from ctypes import POINTER, Structure, c_char_p, c_int, c_int32, c_size_t, c_uint8, c_uint32, c_void_p, py_object
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import _locate
from . import corelib, debugstate, lifecycle, thunks
from .contract import Backend, ClassSpec, dead_stubs, dead_vtable, log_not_live
from .declare import MAX_WORDS, Interface, Method
from .hresult import E_UNEXPECTED
from .iunknown import IUnknown

__all__ = ["NativeBackend", "BACKEND", "gil_violations"]

logger = logging.getLogger("mapisync_ctypes")

if sysconfig.get_config_var("Py_GIL_DISABLED"):
    raise ImportError("the native backend is not enabled on free-threaded CPython builds")

_PATH = _locate.native_library()
if _PATH is None:
    raise ImportError("the native library was not built (reinstall with a C compiler: pip install .)")


class _MscClass(Structure):  # csrc/core.h: msc_class
    _fields_ = [("n_iids", c_uint32), ("iids", POINTER(c_uint8)), ("slot_of_iid", POINTER(c_uint32))]


_P = c_void_p
_FUNCTIONS: corelib.Functions = {
    "msc_py_init": (c_int, [py_object] * 10 + [c_size_t]),
    "msc_gil_violations": (c_int, [POINTER(c_char_p)]),
    "msc_gil_check_probe": (c_int, []),
    "msc_gil_reset": (None, []),
    "msc_class_new": (POINTER(_MscClass), [c_uint32]),
    "msc_vtable_new": (_P, [c_uint32]),
    "msc_vtable_set": (None, [_P, c_uint32, _P, c_uint32]),
    "msc_object_size": (c_size_t, [c_uint32]),
    "msc_object_new": (_P, [c_uint32, POINTER(_MscClass), _P, POINTER(c_void_p)]),
    "msc_object_free": (None, [_P]),
    "msc_addref_from_python": (c_int32, [_P]),
    "msc_object_of": (_P, [_P]),
    "msc_iunknown": (_P, [c_int]),
    "msc_trampoline": (_P, [c_int, c_int]),
    "msc_notimpl_stub": (_P, [c_int]),
    "msc_py_method_set": (c_int, [_P, c_uint32, c_char_p, c_uint32, py_object, py_object]),
    "msc_py_caller_new": (py_object, [c_uint32, c_char_p, c_uint32, c_uint32, py_object]),
    "msc_park": (None, []),
    "msc_calls_in_flight": (c_int, []),
    "msc_alive_now": (c_int, []),
}


lib: Any = corelib.Library(_PATH, _FUNCTIONS)
_OBJECT_ITF = int(lib.msc_object_size(0))  # offsetof(msc_object, itf)
_SLOT = 2 * ctypes.sizeof(c_void_p)  # {lpVtbl, object}

_live: Dict[int, Any] = {}  # object address -> object, while its count > 0 (the keep-alive)
_state = {"parked": False}


def gil_violations() -> Tuple[int, Optional[str]]:
    """(C-API calls made without the GIL, the first such function) under MAPISYNC_GIL_CHECK=1."""
    first = c_char_p()
    count = lib.msc_gil_violations(ctypes.byref(first))
    return count, first.value.decode() if first.value else None


def _not_live(okey: int, name: Optional[str]) -> int:
    if not _state["parked"]:
        log_not_live(name or "Release", okey)
    return E_UNEXPECTED


def _last_release(okey: int) -> None:
    """The count reached zero in C: drop the keep-alive, unless Python took a new reference."""
    with BACKEND.lock:
        if c_int32.from_address(okey).value == 0:
            obj = _live.pop(okey, None)
            if debugstate.tracing():
                logger.debug("Release of the object at 0x%x reached 0", okey)
            if obj is not None and debugstate.enabled():
                block = obj.__dict__[BACKEND._block_attr]
                debugstate.poison(obj, block, block.info.spec.interfaces, block.addresses)


def _lookup_for_thunks(this: int) -> Any:
    """For ctypes thunks in native vtables: `this` -> the live object."""
    return _live.get(lib.msc_object_of(this) or 0)


def _callee(method: Method, func: Callable[..., Any]) -> Callable[..., Any]:
    """What a trampoline calls as callee(obj, *plain args): the class's function itself, or
    for pointer parameters an adapter that converts them first (as the ctypes thunks do)."""
    if not method.needs_adapter:
        return func
    names = [f"a{i}" for i in range(len(method.params))]
    env: Dict[str, Any] = {"func": func}
    call = []
    for name, param in zip(names, method.params):
        if param.boundary.adapt is None:
            call.append(name)
        else:
            env[f"adapt_{name}"] = param.boundary.adapt
            call.append(f"adapt_{name}({name})")
    source = (f"def adapter(obj, {', '.join(names)}):\n"
              f"    return func(obj, {', '.join(call)})\n")
    exec(compile(source, thunks.source_name("adapter", method, source), "exec"), env)
    return env["adapter"]  # type: ignore[no-any-return]


class ClassInfo:
    """One COMObject subclass: its IID table and vtables, in C memory that is never freed."""

    def __init__(self, spec: ClassSpec, cls: type) -> None:
        self.spec = spec
        self.thunks: List[Any] = []  # ctypes thunks for methods the core cannot carry
        self.vtable_addresses = [self._vtable(cls, interface) for interface in spec.interfaces]
        self.cls = lib.msc_class_new(len(spec.slot_by_iid))
        if not self.cls:
            raise MemoryError("cannot allocate a COM class table")
        for i, (iid, slot) in enumerate(spec.slot_by_iid.items()):
            ctypes.memmove(ctypes.addressof(self.cls.contents.iids.contents) + 16 * i, iid, 16)
            self.cls.contents.slot_of_iid[i] = slot

    def _vtable(self, cls: type, interface: Interface) -> int:
        vtable = lib.msc_vtable_new(len(interface.methods))
        if not vtable:
            raise MemoryError("cannot allocate a vtable")
        for index in range(3):
            lib.msc_vtable_set(vtable, index, lib.msc_iunknown(index), interface.methods[index].words)
        for method in ClassSpec.own_methods(interface):
            func = ClassSpec.implementation(cls, method)
            trampoline = lib.msc_trampoline(method.index, method.words) if method.kinds is not None else None
            if func is not None and trampoline:
                lib.msc_py_method_set(vtable, method.index, method.kinds, len(method.params), method.name,
                                      _callee(method, func))
                address = trampoline
            elif func is None and method.words <= MAX_WORDS:
                address = lib.msc_notimpl_stub(method.words)
            else:  # floating point, or wider than the core serves: a ctypes thunk
                thunk = (thunks.make_method_thunk(method, func, _lookup_for_thunks, _not_live) if func
                         else thunks.make_notimpl_thunk(method, cls.__name__, _lookup_for_thunks, _not_live))
                self.thunks.append(thunk)
                address = ctypes.cast(thunk, c_void_p).value
            lib.msc_vtable_set(vtable, method.index, address, method.words)
        return int(vtable)


class Block:
    """One object's msc_object; freed with the Python object (its count is zero by then)."""

    __slots__ = ("info", "key", "addresses")

    def __init__(self, obj: Any, info: ClassInfo) -> None:
        self.info = info
        n = len(info.spec.interfaces)
        vtables = (c_void_p * n)(*info.vtable_addresses)
        key = lib.msc_object_new(n, info.cls, id(obj), vtables)
        if not key:
            raise MemoryError("cannot allocate a COM object block")
        self.key = int(key)
        self.addresses = tuple(self.key + _OBJECT_ITF + i * _SLOT for i in range(n))

    def __del__(self) -> None:
        try:
            if not _state["parked"] and c_int32.from_address(self.key).value == 0:
                lib.msc_object_free(self.key)
        except Exception:  # module globals already gone at interpreter exit: keep the memory
            pass


class NativeBackend(Backend):
    """Counts, IUnknown and dispatch in the compiled core."""

    name = "native"

    def __init__(self) -> None:
        super().__init__()
        self._callers: Dict[int, Any] = {}

    def _new_class(self, spec: ClassSpec, cls: type) -> ClassInfo:
        return ClassInfo(spec, cls)

    def _new_block(self, obj: Any, info: ClassInfo) -> Block:
        return Block(obj, info)

    def _take_reference(self, obj: Any, block: Block) -> int:
        with self.lock:  # 0 -> 1 and the keep-alive together, against _last_release
            count = int(lib.msc_addref_from_python(block.key))
            if count == 1:
                if debugstate.enabled():
                    debugstate.revive(block, block.info.vtable_addresses, block.addresses)
                _live[block.key] = obj
            return count

    def _count(self, block: Block) -> int:
        return int(c_int32.from_address(block.key).value)

    def object_bytes(self, n_interfaces: int) -> int:
        return int(lib.msc_object_size(n_interfaces))

    def caller(self, method: Method) -> Optional[Callable[..., int]]:
        if method.kinds is None or method.result_kind is None:
            return None
        found = self._callers.get(id(method))
        if found is None:
            found = self._callers[id(method)] = lib.msc_py_caller_new(
                method.index, method.kinds, len(method.params), method.result_kind, method.coercer())
        return found  # type: ignore[no-any-return]

    def park(self, drain_seconds: float = 2.0) -> None:
        """Every vtable -> native stubs; calls already inside a trampoline may finish first."""
        with self.lock:
            _state["parked"] = self.parked = True
            lib.msc_park()
            parked = (list(_live.values()), list(self._classes))
            _live.clear()
            ctypes.pythonapi.Py_IncRef(py_object(parked))
        deadline = time.monotonic() + drain_seconds
        while lib.msc_calls_in_flight() > 0 and time.monotonic() < deadline:
            time.sleep(0.001)  # lets a call waiting for the GIL take it, see the park and leave
        stubs = dead_stubs()
        if stubs:
            debugstate.park(lambda interface: dead_vtable(interface, stubs))


def _type_offset() -> int:
    """Where an object keeps its type: the stable ABI's PyObject layout, checked on live objects."""
    offset = ctypes.sizeof(ctypes.c_ssize_t)
    for sample in (None, 1, "text", TypeError, object()):
        if c_void_p.from_address(id(sample) + offset).value != id(type(sample)):
            raise ImportError("this Python's object layout is not the stable ABI's")
    return offset


corelib.bind(lib)
BACKEND = NativeBackend()
lib.msc_py_init(None, int, str, TypeError, thunks.failure, thunks.bad_return, _not_live, _last_release,
                "QueryInterface", "AddRef", _type_offset())
lifecycle.on_shutdown(lifecycle.PARK, BACKEND.park)
