"""The native backend: the same seam as _backend.py, over the compiled _native module.

Object blocks, vtables, atomic reference counts and QueryInterface live in C
(_native_build.py), so AddRef, Release and QueryInterface never enter Python
or take the GIL; Python is entered only when the count reaches zero, to drop
the keep-alive. Declared methods dispatch through compiled trampolines into
``extern "Python"`` handlers generated here; methods of interfaces declared
only at run time fall back to the ctypes thunks of _vtbl.
"""

import atexit
import ctypes
import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _vtbl, debug as _debug
from ._backend import _argument_words, declared_interfaces, per_class, per_object, slots_by_iid
from ._native import ffi, lib
from .abi import GUID, HANDLE, LPCWSTR, REFIID
from .declare import Interface, Method
from .hresult import E_FAIL, E_UNEXPECTED
from .interfaces import INTERFACES, IUnknown

logger = logging.getLogger("mapisync_ctypes")

NAME = "cffi"
_lock = threading.Lock()
_live: Dict[int, Any] = {}  # MSObject address -> object, while its count > 0 (the keep-alive)
_class_infos: List["ClassInfo"] = []
_finalizing = False
_MIN, _MAX = -0x80000000, 0xFFFFFFFF


def _address(name: str) -> int:
    return int(ffi.cast("uintptr_t", ffi.addressof(lib, name)))


def _not_live(okey: int, method: str) -> int:
    if not _finalizing:
        try:
            logger.error("%s called on the object at 0x%x, which is not a live COM object "
                         "(used after its final Release?); returning E_UNEXPECTED", method, okey)
        except BaseException:
            pass
    return E_UNEXPECTED


@ffi.def_extern(error=None)
def ms_py_not_live(okey: int, which: int) -> None:
    if which == 2:
        if not _finalizing:
            logger.error("Release on the object at 0x%x, whose COM count is already zero; returning 0", okey)
    else:
        _not_live(okey, ("QueryInterface", "AddRef")[which])


@ffi.def_extern(error=None)
def ms_py_last_release(okey: int) -> None:
    """The count reached zero in C: drop the keep-alive, unless Python took a new reference."""
    with _lock:
        if ffi.cast("MSObject *", okey).refcount == 0:
            obj = _live.pop(okey, None)
            if _debug.tracing():
                logger.debug("Release of the object at 0x%x reached 0", okey)
            if obj is not None and _debug.enabled():
                block = obj.__dict__["_com_block"]
                _debug.poison(obj, block, block.info.interfaces, block.addresses)


def _from_native(conversion_ctype: Any) -> Tuple[int, Optional[Callable[..., Any]]]:
    """(how many C arguments, converter to what the Python method receives) for one parameter."""
    if conversion_ctype is LPCWSTR:
        unpack = ffi.unpack
        return 2, lambda text, length: unpack(text, length) if text else None
    if conversion_ctype is HANDLE or conversion_ctype is ctypes.c_void_p:
        return 1, (None if conversion_ctype is HANDLE else (lambda address: address or None))
    if conversion_ctype is REFIID:
        return 1, lambda address: GUID(ctypes.cast(address, REFIID).contents) if address else None
    if isinstance(conversion_ctype, type) and issubclass(conversion_ctype, ctypes._Pointer):
        return 1, lambda address: ctypes.cast(address, conversion_ctype) if address else None
    return 1, None


def _install_handler(method: Method) -> None:
    """The extern "Python" handler of one compiled trampoline (generated like _vtbl's thunks)."""
    env: Dict[str, Any] = {"live": _live, "not_live": _not_live, "failure": _vtbl._failure,
                           "bad_return": _vtbl._bad_return, "BaseException": BaseException,
                           "int": int, "MIN": _MIN, "MAX": _MAX, "NAME": method.name}
    c_args, call_args = ["okey"], []
    for i, p in enumerate(method.params):
        count, convert = _from_native(p.ctype)
        names = [f"a{i}"] if count == 1 else [f"a{i}", f"n{i}"]
        c_args += names
        if convert is None:
            call_args.append(names[0])
        else:
            env[f"conv{i}"] = convert
            call_args.append(f"conv{i}({', '.join(names)})")
    source = f"""
def handler({", ".join(c_args)}):
    obj = live.get(okey)
    if obj is None:
        return not_live(okey, NAME)
    try:
        hr = getattr(obj.__class__, NAME)(obj, {", ".join(call_args)})
    except BaseException as exc:
        return failure(exc, obj, NAME)
    if hr is None:
        return 0
    if hr.__class__ is not int or not MIN <= hr <= MAX:
        hr = bad_return(hr, obj, NAME)
    return hr - 0x100000000 if hr > 0x7FFFFFFF else hr
"""
    exec(compile(source, _vtbl.source_name("native", method, source), "exec"), env)
    ffi.def_extern(name=f"ms_py_{method.interface.name}_{method.name}", error=E_FAIL)(env["handler"])


def _compiled(method: Method) -> bool:
    return hasattr(lib, f"ms_tr_{method.interface.name}_{method.name}")


def _direct(method: Method) -> bool:
    """Text, integer and handle parameters only: its trampoline calls Python through the C API."""
    return all(p.ctype is LPCWSTR or p.ctype is HANDLE
               or (isinstance(p.ctype, type) and issubclass(p.ctype, ctypes._SimpleCData)
                   and p.ctype._type_ not in "PzZfdg?")
               for p in method.params)


# The direct trampolines report through these (kept alive by this module).
lib.ms_setup(id(_vtbl._failure), id(_vtbl._bad_return), id(_not_live))

for _interface in INTERFACES:
    for _method in _interface.own_methods:
        if _interface is not IUnknown and _compiled(_method) and not _direct(_method):
            _install_handler(_method)


def _lookup_for_thunks(this: int) -> Any:
    """For ctypes thunks (interfaces declared at run time): `this` -> the live object."""
    return _live.get(lib.ms_object_of(this))


class ClassInfo:
    """One COMObject subclass: its vtables and IID table, in C memory that is never freed."""

    def __init__(self, cls: type) -> None:
        self.interfaces = interfaces = declared_interfaces(cls)
        self.thunks: List[Any] = []  # ctypes thunks of run-time interfaces, kept alive here
        self.vtables = [self._vtable(cls, interface) for interface in interfaces]
        self.vtable_addresses = [int(ffi.cast("uintptr_t", v)) for v in self.vtables]
        self.slot_by_iid = order = slots_by_iid(interfaces)
        self.cls = lib.ms_class_new(len(order))
        for i, (iid, slot) in enumerate(order.items()):
            ffi.memmove(self.cls.iids + 16 * i, iid, 16)
            self.cls.slots[i] = slot

    def _vtable(self, cls: type, interface: Interface) -> Any:
        vtable = lib.ms_vtable_new(len(interface.methods))
        for name, index in (("ms_QueryInterface", 0), ("ms_AddRef", 1), ("ms_Release", 2)):
            vtable[index] = ffi.cast("void *", _address(name))
        for method in interface.methods[len(IUnknown.methods):]:
            defined = callable(getattr(cls, method.name, None))
            words = _argument_words(method)
            if defined and _compiled(method):
                address = _address(f"ms_tr_{method.interface.name}_{method.name}")
            elif not defined and words <= 8:
                address = _address(f"ms_notimpl{words}")
            else:  # an interface declared at run time (or a very wide method): a ctypes thunk
                if defined:
                    thunk = _vtbl.make_method_thunk(method, getattr(cls, method.name), _lookup_for_thunks,
                                                    _not_live)
                else:
                    thunk = _vtbl.make_notimpl_thunk(method, cls.__name__, _lookup_for_thunks, _not_live)
                self.thunks.append(thunk)
                address = ctypes.cast(thunk, ctypes.c_void_p).value
            vtable[method.index] = ffi.cast("void *", address)
        return vtable


def class_info(cls: type) -> ClassInfo:
    return per_class(cls, "_com_native_info_", ClassInfo, _class_infos)


class Block:
    """One object's MSObject; freed with the Python object (its count is zero by then)."""

    __slots__ = ("info", "object", "key", "addresses")

    def __init__(self, obj: Any, info: ClassInfo) -> None:
        self.info = info
        vtables = ffi.new("void *[]", info.vtables)
        self.object = lib.ms_object_new(len(info.interfaces), info.cls, ffi.cast("void *", id(obj)), vtables)
        if self.object == ffi.NULL:
            raise MemoryError("cannot allocate a COM object block")
        self.key = int(ffi.cast("uintptr_t", self.object))
        self.addresses = tuple(int(ffi.cast("uintptr_t", ffi.addressof(self.object.itf[i])))
                               for i in range(len(info.interfaces)))

    def __del__(self) -> None:
        try:
            if not _finalizing and self.object.refcount == 0:
                lib.ms_object_free(self.object)
        except Exception:  # module globals already gone at interpreter exit: keep the memory
            pass


def block_of(obj: Any) -> Block:
    info = class_info(type(obj))
    return per_object(obj, lambda o: Block(o, info))


def interface_pointer(obj: Any, iid: GUID) -> Optional[int]:
    block = block_of(obj)
    index = block.info.slot_by_iid.get(bytes(iid))
    if index is None:
        return None
    if _debug.enabled():
        _debug.track(obj)
    with _lock:  # 0 -> 1 and the keep-alive together, against ms_py_last_release
        if lib.ms_addref_from_python(block.object) == 1:
            if _debug.enabled():
                _debug.revive(block, block.info.vtable_addresses, block.addresses)
            _live[block.key] = obj
    return block.addresses[index]


def refcount(obj: Any) -> int:
    block = obj.__dict__.get("_com_block")
    return block.object.refcount if block is not None else 0


def object_bytes(n_interfaces: int) -> int:
    """Native bytes of one object block with ``n_interfaces`` interfaces."""
    return int(lib.ms_object_size(n_interfaces))


def _park_locked() -> None:
    global _finalizing
    _finalizing = True
    lib.ms_set_alive(0)  # trampolines now answer E_UNEXPECTED without entering Python
    parked = (list(_live.values()), list(_class_infos))
    _live.clear()
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(parked))


def retire(stubs: Sequence[int]) -> None:
    """Python is going away (embedding shutdown): nothing may enter it again."""
    with _lock:
        _park_locked()


@atexit.register
def _park_at_exit() -> None:
    with _lock:
        _park_locked()
