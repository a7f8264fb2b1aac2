"""Interface declarations: the one description each COM interface has.

An :class:`Interface` names its IID, its base and its own methods in vtable
order. Everything else is derived from it: the ctypes vtable Structure, the
function prototypes, the thunks of Python-implemented objects (``_vtbl``),
the client proxies (``proxy``) and the layout test against include/mapisync.h.

Adding a MAPI interface is one new ``Interface(...)`` in ``interfaces.py``.
"""

import ctypes
from ctypes import Structure, c_size_t, c_void_p, c_wchar_p
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import _wstr
from .abi import FUNCTYPE, GUID, HANDLE, HRESULT, IS_WINDOWS, LPCWSTR, REFIID
from .hresult import to_hresult

__all__ = ["Param", "Method", "Interface", "ArgConversion", "arg_conversion"]


class Param(NamedTuple):
    name: str
    ctype: Any  # a ctypes type, or one of the markers in abi (LPCWSTR, HANDLE)


class ArgConversion(NamedTuple):
    """How one parameter type crosses the boundary.

    ``proto`` is the ctypes type used in the function prototype; ``from_native``
    turns what a ctypes callback receives into what a Python method gets, and
    ``to_native`` turns what a proxy caller passes into what ctypes accepts.
    None means "as is".
    """

    proto: Any
    from_native: Optional[Callable[[Any], Any]]
    to_native: Optional[Callable[[Any], Any]]


def _null_to_none(pointer: Any) -> Any:
    return pointer if pointer else None


_CArgObject = type(ctypes.byref(c_void_p()))


def _pointer_to_native(ctype: Any) -> Callable[[Any], Any]:
    target = ctype._type_

    def convert(value: Any) -> Any:
        if value is None or isinstance(value, ctype):
            return value
        if isinstance(value, target):
            return ctypes.byref(value)
        if isinstance(value, int):
            return ctypes.cast(c_void_p(value), ctype)
        if isinstance(value, (ctypes._Pointer, _CArgObject)):
            return value
        raise TypeError(f"expected {target.__name__}, a pointer to it, an address or None; got {type(value).__name__}")

    return convert


def _address_to_native(value: Any) -> Any:
    """void * and interface pointers: an int, None, a ctypes pointer or anything with ``_this``."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, c_void_p):
        return value.value
    this = getattr(value, "_as_parameter_", None)
    if isinstance(this, int):
        return this
    if isinstance(value, ctypes._Pointer):
        return ctypes.cast(value, c_void_p).value
    raise TypeError(f"expected an address (int), a proxy or None; got {type(value).__name__}")


_HANDLE_MASK = (1 << (8 * ctypes.sizeof(c_void_p))) - 1


def _handle_to_native(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, c_void_p):
        return value.value or 0
    if isinstance(value, int):
        return value & _HANDLE_MASK  # INVALID_HANDLE_VALUE (-1) keeps its bits
    raise TypeError(f"expected a handle (int) or None; got {type(value).__name__}")


def _iid_from_native(pointer: Any) -> Optional[GUID]:
    return GUID(pointer.contents) if pointer else None


def _iid_to_native(value: Any) -> Any:
    if value is None:
        return None
    iid = getattr(value, "iid", value)  # an Interface stands for its IID
    if isinstance(iid, str):
        iid = GUID(iid)
    if not isinstance(iid, GUID):
        raise TypeError(f"expected an IID (GUID, str or Interface); got {type(value).__name__}")
    return ctypes.byref(iid)


def _text_to_native(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected str or None for WCHAR* text; got {type(value).__name__}")
    return value if IS_WINDOWS else _wstr.encode(value)


_SPECIAL: Dict[Any, ArgConversion] = {
    # On Windows wchar_t is UTF-16, so ctypes itself converts text both ways.
    LPCWSTR: ArgConversion(c_wchar_p, None, _text_to_native) if IS_WINDOWS
    else ArgConversion(c_void_p, _wstr.decode, _text_to_native),
    # c_size_t hands the callback a plain int, NULL included, at no cost.
    HANDLE: ArgConversion(c_size_t, None, _handle_to_native),
    REFIID: ArgConversion(REFIID, _iid_from_native, _iid_to_native),
    HRESULT: ArgConversion(HRESULT, None, to_hresult),
    c_void_p: ArgConversion(c_void_p, None, _address_to_native),
}


def arg_conversion(ctype: Any) -> ArgConversion:
    """The conversion for one declared parameter type."""
    special = _SPECIAL.get(ctype)
    if special is not None:
        return special
    if isinstance(ctype, type) and issubclass(ctype, ctypes._Pointer):
        return ArgConversion(ctype, _null_to_none, _pointer_to_native(ctype))
    if isinstance(ctype, type) and issubclass(ctype, ctypes._SimpleCData):
        return ArgConversion(ctype, None, None)
    raise TypeError(f"no boundary conversion for parameter type {ctype!r}")


class Method:
    """One vtable slot: name, return type and parameters after ``this``."""

    def __init__(self, name: str, restype: Any, params: Sequence[Tuple[str, Any]] = ()) -> None:
        self.name = name
        self.restype = restype
        self.params: Tuple[Param, ...] = tuple(Param(*p) for p in params)
        self.conversions: Tuple[ArgConversion, ...] = tuple(arg_conversion(p.ctype) for p in self.params)
        self.prototype = FUNCTYPE(restype, c_void_p, *(c.proto for c in self.conversions))
        self.index = -1  # the vtable slot, set by the Interface
        self.interface: Optional["Interface"] = None

    def __repr__(self) -> str:
        args = ", ".join(p.name for p in self.params)
        owner = self.interface.name if self.interface else "?"
        return f"<Method {owner}::{self.name}({args}) slot {self.index}>"


class Interface:
    """A COM interface: IID, base and own methods in documented vtable order."""

    def __init__(self, name: str, iid: str, methods: Sequence[Method],
                 base: Optional["Interface"] = None) -> None:
        self.name = name
        self.iid = GUID(iid)
        self.base = base
        self.own_methods: Tuple[Method, ...] = tuple(methods)
        inherited = base.methods if base else ()
        for offset, method in enumerate(self.own_methods):
            if method.interface is not None:
                raise ValueError(f"{method.name} is already declared by {method.interface.name}")
            method.index = len(inherited) + offset
            method.interface = self
        #: every slot, the bases' first
        self.methods: Tuple[Method, ...] = tuple(inherited) + self.own_methods
        names = [m.name for m in self.methods]
        if len(set(names)) != len(names):
            raise ValueError(f"{name}: duplicate method names in {names}")
        self.vtable_type: type = type(f"{name}Vtbl", (Structure,), {
            "_fields_": [(m.name, m.prototype) for m in self.methods],
            "__module__": __name__,
        })

    def bases(self) -> List["Interface"]:
        """This interface and every base, most derived first."""
        chain, current = [], self
        while current is not None:
            chain.append(current)
            current = current.base
        return chain

    def __repr__(self) -> str:
        return f"<Interface {self.name} {self.iid}>"
