"""How each parameter type crosses the boundary: decided here, once, for both directions.

Every declared parameter type gets a :class:`Boundary`. The ctypes backend's thunks, the
compiled backend's trampolines, and the proxies of both backends all read it:

- ``kind``: the compiled core's code for the type (csrc/core.h ``MSC_K_*``), or None when
  only ctypes can carry it (floating point, structures by value);
- ``proto``: the ctypes type in the function prototype;
- ``from_native``: what a ctypes callback receives -> what a Python method gets;
- ``adapt``: what a compiled trampoline hands over (an int or None) -> what a Python method
  gets, for the pointer types that need a ctypes object (None: as is);
- ``prepare``: a proxy argument -> a ctypes object, for pointer types (it may create the
  object, so the proxy method holds it until the call returns);
- ``coerce``: a proxy argument -> a plain int, str or None, or a clear TypeError/ValueError;
- ``inline``: for the ctypes backend's generated proxy methods, an expression that takes the
  common case (``{v}`` the argument) without a call, and calls ``{conv}`` for the rest.

What methods receive: ``const WCHAR *`` as str (None for NULL, lone surrogates kept);
HANDLE as int (NULL is 0); integers as int; ``void *`` as int or None; REFIID as GUID or
None; other pointers as ctypes pointers or None.
"""

import ctypes
import operator
import uuid
from ctypes import c_size_t, c_void_p, c_wchar_p
from typing import Any, Callable, Dict, NamedTuple, Optional

from . import text as _text
from .types import GUID, HANDLE, IS_WINDOWS, LPCWSTR, POINTER_SIZE, REFIID

__all__ = ["Boundary", "boundary", "K_TEXT", "K_HANDLE", "K_VOIDP", "K_PTR", "K_INT", "K_SIGNED", "words"]

# csrc/core.h, MSC_K_*
K_TEXT, K_HANDLE, K_VOIDP, K_PTR, K_INT, K_SIGNED = 0x01, 0x02, 0x03, 0x04, 0x10, 0x20

_POINTER_MASK = (1 << (8 * POINTER_SIZE)) - 1
_CArgObject = type(ctypes.byref(c_void_p()))


class Boundary(NamedTuple):
    """How one parameter type crosses the boundary (see the module's docstring)."""

    kind: Optional[int]
    proto: Any
    from_native: Optional[Callable[[Any], Any]]
    adapt: Optional[Callable[[Any], Any]]
    prepare: Optional[Callable[[Any], Any]]
    coerce: Callable[[Any], Any]
    inline: str = "{conv}({v})"


def words(ctype: Any) -> int:
    """Stack words a stdcall callee pops for one parameter of this type."""
    word = 4 if POINTER_SIZE == 4 else POINTER_SIZE
    return -(-ctypes.sizeof(ctype) // word)


def _type_name(value: Any) -> str:
    return type(value).__name__


# ---- text ------------------------------------------------------------------------------

def _coerce_text(value: Any) -> Optional[str]:
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, str):  # a str subclass: StrEnum, (str, Enum), numpy.str_...
        return str.__str__(value)
    if isinstance(value, c_wchar_p):  # ctypes.wintypes.LPCWSTR / LPWSTR
        return value.value
    raise TypeError(f"expected str or None for WCHAR* text; got {_type_name(value)}")


def _text_from_native_ctypes(value: Any) -> Optional[str]:
    return _text.decode(value)


# ---- integers ----------------------------------------------------------------------------

def _int_coercer(size: int, signed: bool, name: str) -> Callable[[Any], int]:
    bits = 8 * size
    low = -(1 << (bits - 1)) if signed else 0
    high = (1 << bits) - 1  # signed types take the unsigned spelling too (0x80040113)
    mask = (1 << bits) - 1
    span = f"{low}..{(1 << (bits - 1)) - 1} or 0..{high}" if signed else f"0..{high}"

    def coerce(value: Any) -> int:
        if value.__class__ is not int:
            if isinstance(value, ctypes._SimpleCData) and isinstance(value.value, int):  # c_ulong(5)...
                value = value.value
            elif isinstance(value, float) or not hasattr(value, "__index__"):
                raise TypeError(f"expected an int for a {bits}-bit {name}; got {_type_name(value)}")
            else:
                value = operator.index(value)  # bool, IntEnum, numpy integers
        if not low <= value <= high:
            raise ValueError(f"{value!r} does not fit in a {bits}-bit {name} ({span})")
        return int(value) & mask

    return coerce


# ---- handles and addresses ---------------------------------------------------------------

def _coerce_handle(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, c_void_p):  # ctypes.wintypes.HANDLE, our HANDLE
        return value.value or 0
    if isinstance(value, int) and not isinstance(value, bool):
        if not -(1 << (8 * POINTER_SIZE - 1)) <= value <= _POINTER_MASK:
            raise ValueError(f"{value!r} does not fit in a pointer-sized handle")
        return value & _POINTER_MASK  # INVALID_HANDLE_VALUE (-1) keeps its bits
    raise TypeError(f"expected a handle (int) or None; got {_type_name(value)}")


def address_of(value: Any) -> Optional[int]:
    """An address from an int, None, a c_void_p, a ctypes pointer or byref(), a ctypes object
    (its own address), or anything with an int ``_as_parameter_`` (a proxy)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= _POINTER_MASK:
            raise ValueError(f"{value:#x} is not a valid address")
        return value
    if isinstance(value, c_void_p):
        return value.value
    if isinstance(value, (ctypes._Pointer, _CArgObject)):
        return ctypes.cast(value, c_void_p).value
    if isinstance(value, (ctypes.Structure, ctypes.Union, ctypes.Array)):
        return ctypes.addressof(value)
    this = getattr(value, "_as_parameter_", None)
    if isinstance(this, int):
        return this
    raise TypeError(f"expected an address (int), a pointer, a proxy or None; got {_type_name(value)}")


def _coerce_address(value: Any) -> Optional[int]:
    address = address_of(value)
    return address if address else None


# ---- pointers to structures, REFIID --------------------------------------------------------

def _pointer_preparer(ctype: Any) -> Callable[[Any], Any]:
    target = ctype._type_

    def prepare(value: Any) -> Any:
        if value is None or isinstance(value, (ctype, _CArgObject)):
            return value
        if isinstance(value, target):
            return ctypes.byref(value)
        if isinstance(value, (ctypes._Pointer, ctypes.Array)):
            return ctypes.cast(value, ctype)  # a pointer of another type (comtypes', wintypes')
        if isinstance(value, int) and not isinstance(value, bool):
            return ctypes.cast(c_void_p(address_of(value)), ctype)
        raise TypeError(f"expected {target.__name__}, a pointer to it, an address or None; "
                        f"got {_type_name(value)}")

    return prepare


def _prepare_iid(value: Any) -> Any:
    if value is None:
        return None
    iid = getattr(value, "iid", value)  # an Interface stands for its IID
    if isinstance(iid, (str, uuid.UUID)):
        iid = GUID(str(iid))
    if isinstance(iid, ctypes.Structure) and ctypes.sizeof(iid) == 16:  # ours, or comtypes' GUID
        return ctypes.byref(iid)
    if isinstance(iid, (ctypes._Pointer, _CArgObject)):
        return iid
    raise TypeError(f"expected an IID (GUID, str, uuid.UUID or Interface); got {_type_name(value)}")


def _iid_from_native(pointer: Any) -> Optional[GUID]:
    return GUID(pointer.contents) if pointer else None


def _iid_adapt(address: Optional[int]) -> Optional[GUID]:
    return GUID(GUID.from_address(address)) if address else None


def _null_to_none(pointer: Any) -> Any:
    return pointer if pointer else None


# ---- the table ---------------------------------------------------------------------------

_PLAIN_ADDRESS = f"{{v}}.__class__ is int and 0 <= {{v}} <= {_POINTER_MASK}"

_SPECIAL: Dict[Any, Boundary] = {
    # On Windows wchar_t is UTF-16, so ctypes converts text both ways itself.
    LPCWSTR: Boundary(K_TEXT, c_wchar_p if IS_WINDOWS else c_void_p,
                      None if IS_WINDOWS else _text_from_native_ctypes, None, None, _coerce_text,
                      "({v} if {v}.__class__ is str or {v} is None else {conv}({v}))" if IS_WINDOWS else
                      f"(({{v}} + '\\0').encode({_text.CODEC!r}, 'surrogatepass') if {{v}}.__class__ is str "
                      "else {conv}({v}))"),
    # c_size_t hands a callback a plain int, NULL included, at no cost.
    HANDLE: Boundary(K_HANDLE, c_size_t, None, None, None, _coerce_handle,
                     f"({{v}} if {_PLAIN_ADDRESS} else {{conv}}({{v}}))"),
    c_void_p: Boundary(K_VOIDP, c_void_p, None, None, None, _coerce_address,
                       f"({{v}} if {{v}} is None or {_PLAIN_ADDRESS} else {{conv}}({{v}}))"),
    REFIID: Boundary(K_PTR, REFIID, _iid_from_native, _iid_adapt, _prepare_iid, _coerce_address),
}

_INT_NAMES = {(4, True): "HRESULT", (4, False): "ULONG"}
_cache: Dict[Any, Boundary] = {}


def boundary(ctype: Any) -> Boundary:
    """How one declared parameter type crosses the boundary; TypeError if it cannot."""
    found = _SPECIAL.get(ctype) or _cache.get(ctype)
    if found is not None:
        return found
    if isinstance(ctype, type) and issubclass(ctype, ctypes._Pointer):
        def adapt(address: Optional[int], ctype: Any = ctype) -> Any:
            return ctypes.cast(address, ctype) if address else None
        found = Boundary(K_PTR, ctype, _null_to_none, adapt, _pointer_preparer(ctype), _coerce_address)
    elif isinstance(ctype, type) and issubclass(ctype, ctypes._SimpleCData) and getattr(ctype, "_type_", "") in "bBhHiIlLqQ?":
        size, signed = ctypes.sizeof(ctype), getattr(ctype, "_type_") in "bhilq"
        name = _INT_NAMES.get((size, signed), f"{'signed' if signed else 'unsigned'} integer")
        low = -(1 << (8 * size - 1)) if signed else 0
        found = Boundary(K_INT | size | (K_SIGNED if signed else 0), ctype, None, None, None,
                         _int_coercer(size, signed, name),
                         f"({{v}} if {{v}}.__class__ is int and {low} <= {{v}} <= {(1 << (8 * size)) - 1} "
                         "else {conv}({v}))")
    elif isinstance(ctype, type) and issubclass(ctype, ctypes._SimpleCData):
        found = Boundary(None, ctype, None, None, None, lambda value: value)  # floats...: ctypes only
    else:
        raise TypeError(f"no boundary conversion for parameter type {ctype!r}")
    _cache[ctype] = found
    return found
