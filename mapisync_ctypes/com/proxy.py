"""Native COM pointers as Python objects: ``wrap(address, interface)``.

A proxy owns one reference to the interface pointer. It gives it back once:
by ``release()``, by leaving a ``with`` block, or when it is collected, and
never twice (a double Release from ``__del__`` is a classic COM-from-Python
crash). Methods carry the documented names; a failure HRESULT raises COMError.
"""

import ctypes
import threading
from ctypes import c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Tuple, Type

from .backends import active
from .declare import Interface, Method
from .hresult import E_POINTER, COMError
from .iunknown import IUnknown
from .thunks import source_name
from .types import HRESULT

__all__ = ["Proxy", "wrap", "proxy_class"]

_backend = active()
_release_lock = threading.Lock()
_proxy_classes: Dict[int, Type["Proxy"]] = {}
_functions_cache: Dict[Tuple[int, Tuple[Any, ...]], List[Any]] = {}


class Proxy:
    """Base of the generated per-interface proxy classes; use :func:`wrap`."""

    _interface_: Interface = IUnknown
    __slots__ = ("_this", "_owned", "_fns", "__weakref__")

    def __init__(self, address: int, *, addref: bool = True) -> None:
        self._this = 0
        self._owned = False
        address = _address(address)
        vtable = c_void_p.from_address(address).value
        if not vtable:
            raise ValueError(f"the COM object at 0x{address:x} has a NULL vtable pointer")
        self._fns: List[Any] = _slot_functions(self._interface_, vtable)
        self._this = address
        if addref:
            self._fns[1](address)
        self._owned = True

    # -- ownership -------------------------------------------------------
    @property
    def address(self) -> int:
        """The interface pointer, or 0 once released or detached."""
        return self._this

    @property
    def _as_parameter_(self) -> int:  # lets a proxy be passed to ctypes functions as void *
        return self._checked_this()

    def _checked_this(self) -> int:
        this = self._this
        if not this:
            raise ValueError(f"this {type(self).__name__} has been released")
        return this

    def release(self) -> None:
        """Give back the proxy's reference. Safe to call more than once."""
        with _release_lock:
            owned, this = self._owned, self._this
            self._owned, self._this = False, 0
        if owned and this:
            self._fns[2](this)

    def detach(self) -> int:
        """Hand the reference to the caller without releasing it; returns the address."""
        with _release_lock:
            this = self._checked_this()
            self._owned, self._this = False, 0
        return this

    def __enter__(self) -> "Proxy":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except BaseException:  # never raise from a finalizer
            pass

    def __repr__(self) -> str:
        state = f"0x{self._this:x}" if self._this else "released"
        return f"<{type(self).__name__} {state}>"

    if TYPE_CHECKING:  # the interface's methods are generated from its declaration
        def __getattr__(self, name: str) -> Any: ...

    # -- IUnknown --------------------------------------------------------
    def QueryInterface(self, interface: Interface) -> "Proxy":
        """A new proxy for ``interface`` (raises COMError, e.g. E_NOINTERFACE)."""
        if not isinstance(interface, Interface):
            raise TypeError(f"QueryInterface() needs an Interface, not {type(interface).__name__}")
        out = c_void_p()
        hr = self._fns[0](self._checked_this(), ctypes.byref(interface.iid), ctypes.byref(out))
        if hr < 0:
            raise COMError(hr, f"QueryInterface({interface.name}) on {self._interface_.name}")
        if not out.value:
            raise COMError(E_POINTER, f"QueryInterface({interface.name}) succeeded but returned NULL")
        return wrap(out.value, interface, addref=False)


def _address(value: Any) -> int:
    if isinstance(value, Proxy):
        value = value.address
    elif isinstance(value, c_void_p):
        value = value.value
    elif isinstance(value, ctypes._Pointer):  # a typed interface pointer, e.g. comtypes' POINTER(IFoo)
        value = ctypes.cast(value, c_void_p).value
    elif isinstance(value, bool) or not isinstance(value, (int, type(None))):
        raise TypeError(f"expected an interface pointer address (int); got {type(value).__name__}")
    if not value:
        raise ValueError("cannot wrap a NULL interface pointer")
    if value < 0 or value >= 1 << (8 * ctypes.sizeof(c_void_p)):
        raise ValueError(f"{value:#x} is not a valid address")
    return int(value)


def _slot_functions(interface: Interface, vtable: int) -> List[Any]:
    """Callable function pointers for every slot of the vtable at ``vtable``.

    Cached by the slot values themselves, not the vtable's address, so a freed
    and reused vtable can never hand out stale functions.
    """
    pointers = tuple((c_void_p * len(interface.methods)).from_address(vtable))
    key = (id(interface), pointers)
    functions = _functions_cache.get(key)
    if functions is None:
        for method, pointer in zip(interface.methods, pointers):
            if not pointer:
                raise ValueError(f"{interface.name} vtable at 0x{vtable:x}: slot {method.index} "
                                 f"({method.name}) is NULL")
        functions = [m.prototype(p) for m, p in zip(interface.methods, pointers)]
        if len(_functions_cache) < 4096:  # bounded: vtables are few, but never trust that
            _functions_cache[key] = functions
    return functions


def _make_method(method: Method) -> Callable[..., Any]:
    """A proxy method with the declared parameter names and no ``*args`` packing. It calls the
    backend's compiled caller if there is one, else the slot's ctypes function."""
    names = [p.name for p in method.params]
    caller = _backend.caller(method)
    env: Dict[str, Any] = {"COMError": COMError, "SLOT": method.index, "caller": caller, "WHERE": method.where}
    call_args = ["this"]
    for name, param, prepare, convert in zip(names, method.params, method.preparers(), method.ctypes_converters()):
        if caller is not None and prepare is not None:
            env[f"prepare_{name}"] = prepare
            call_args.append(f"prepare_{name}({name})")  # a ctypes object this frame keeps alive
        elif caller is not None or convert is None:
            call_args.append(name)  # the compiled caller converts, and explains what it refuses
        else:
            env[f"conv_{name}"] = convert
            inline = param.boundary.inline if prepare is None else "{conv}({v})"
            call_args.append(inline.format(v=name, conv=f"conv_{name}"))
    check = "    if hr < 0:\n        raise COMError(hr, WHERE)\n" if method.restype is HRESULT else ""
    target = "caller" if caller is not None else "self._fns[SLOT]"
    source = (f"def {method.name}(self, {', '.join(names)}):\n"
              f"    this = self._this or self._checked_this()\n"
              f"    hr = {target}({', '.join(call_args)})\n"
              f"{check}"
              f"    return hr\n")
    exec(compile(source, source_name("proxy", method, source), "exec"), env)
    function = env[method.name]
    function.__doc__ = f"Call {method.where} (slot {method.index})."
    return function  # type: ignore[no-any-return]


def proxy_class(interface: Interface) -> Type[Proxy]:
    """The proxy class of ``interface``, generated once from its declaration."""
    cls = _proxy_classes.get(id(interface))
    if cls is None:
        namespace: Dict[str, Any] = {"__slots__": (), "_interface_": interface,
                                     "__module__": __name__}
        for method in interface.methods:
            if method.name != "QueryInterface":
                namespace[method.name] = _make_method(method)
        cls = _proxy_classes.setdefault(id(interface), type(f"{interface.name}Proxy", (Proxy,), namespace))
    return cls


def wrap(address: Any, interface: Interface, *, addref: bool = True) -> Proxy:
    """A proxy for the native interface pointer at ``address``.

    ``addref=True`` takes a new reference; ``addref=False`` adopts one the
    caller already owns (for example an [out] pointer or ``com_pointer``'s).
    ``address`` is an int, a ``c_void_p``, a typed ctypes pointer (comtypes' ``POINTER(IFoo)``
    included) or another proxy. A NULL address raises ValueError. The pointer must be a
    real interface pointer for ``interface``: that cannot be checked from here.
    """
    if not isinstance(interface, Interface):
        raise TypeError(f"wrap() needs an Interface, not {type(interface).__name__}")
    return proxy_class(interface)(address, addref=addref)

