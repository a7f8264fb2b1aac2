"""Interface declarations: the one description each COM interface has.

An :class:`Interface` names its IID, its base and its own methods in vtable order.
Everything else is derived from it: the ctypes vtable Structure, the function prototypes,
the slots of Python-implemented objects (both backends), the client proxies and the layout
test against include/mapisync.h. How each parameter type crosses the boundary is decided
in :mod:`.boundary`.
"""

import ctypes
import functools
from ctypes import Structure
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

from . import text as _text
from .boundary import K_INT, K_TEXT, Boundary, boundary, words
from .types import FUNCTYPE, GUID, IS_WINDOWS

__all__ = ["Param", "Method", "Interface", "MAX_WORDS"]

#: argument words (after ``this``) a compiled trampoline, caller or parking stub takes
MAX_WORDS = 8


class Param(NamedTuple):
    """One parameter after ``this``: its name, declared ctypes type and boundary."""

    name: str
    ctype: Any
    boundary: Boundary


class Method:
    """One vtable slot: name, return type and parameters after ``this``."""

    def __init__(self, name: str, restype: Any, params: Sequence[Tuple[str, Any]] = ()) -> None:
        self.name = name
        self.restype = restype
        self.params: Tuple[Param, ...] = tuple(Param(n, t, boundary(t)) for n, t in params)
        self.prototype: Any = FUNCTYPE(restype, ctypes.c_void_p, *(p.boundary.proto for p in self.params))
        #: stack words a stdcall callee pops (``this`` excluded)
        self.words: int = sum(words(p.boundary.proto) for p in self.params)
        self.index = -1  # the vtable slot, set by the Interface
        self.interface: Optional["Interface"] = None
        kinds = [p.boundary.kind for p in self.params]
        result = boundary(restype).kind if restype is not None else None
        #: the compiled core's kinds of the parameters, or None if it cannot carry this method
        self.kinds: Optional[bytes] = None
        if all(k is not None for k in kinds) and result is not None and result & K_INT \
                and self.words <= MAX_WORDS:
            self.kinds = bytes(kinds)  # type: ignore[arg-type]
        #: the compiled core's kind of the return value (an integer kind), if any
        self.result_kind: Optional[int] = result
        #: True if some parameter needs a Python adapter on its way in (pointers to structures)
        self.needs_adapter = any(p.boundary.adapt is not None for p in self.params)

    @property
    def where(self) -> str:
        """'Interface::Method', for messages."""
        return f"{self.interface.name if self.interface else '?'}::{self.name}"

    def coercer(self) -> Callable[[int, Any], Any]:
        """coerce(i, value): parameter i's proxy argument -> a plain int, str or None, or a
        TypeError/ValueError naming the method and the parameter."""
        params = self.params

        def coerce(i: int, value: Any) -> Any:
            param = params[i]
            try:
                if param.boundary.prepare is not None and not isinstance(value, int):
                    value = param.boundary.prepare(value)
                return param.boundary.coerce(value)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{self.where}: argument {param.name!r}: {exc}") from None

        return coerce

    def preparers(self) -> List[Optional[Callable[[Any], Any]]]:
        """Per parameter, proxy argument -> a ctypes object, for pointer types (None for the
        rest); errors name the method and the parameter."""
        return [_named(self, p, p.boundary.prepare) if p.boundary.prepare else None for p in self.params]

    def ctypes_converters(self) -> List[Optional[Callable[[Any], Any]]]:
        """Per parameter, proxy argument -> what this method's ctypes prototype accepts
        (None: as is)."""
        coerce = self.coercer()
        converters: List[Optional[Callable[[Any], Any]]] = []
        for i, (param, prepare) in enumerate(zip(self.params, self.preparers())):
            kind = param.boundary.kind
            if kind is None:
                converters.append(None)
            elif prepare is not None:
                converters.append(prepare)
            elif kind == K_TEXT and not IS_WINDOWS:
                converters.append(_encoding(coerce, i))
            else:
                converters.append(functools.partial(coerce, i))
        return converters

    def __repr__(self) -> str:
        args = ", ".join(p.name for p in self.params)
        return f"<Method {self.where}({args}) slot {self.index}>"


def _encoding(coerce: Callable[[int, Any], Any], i: int) -> Callable[[Any], Optional[bytes]]:
    """Parameter i's text, checked, then NUL-terminated UTF-16 bytes (None stays None)."""
    def encode(value: Any) -> Optional[bytes]:
        text = coerce(i, value)
        return None if text is None else _text.encode(text)
    return encode


def _named(method: Method, param: Param, convert: Any) -> Callable[[Any], Any]:
    def named(value: Any) -> Any:
        try:
            return convert(value)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{method.where}: argument {param.name!r}: {exc}") from None
    return named


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
        self.vtable_type: Any = type(f"{name}Vtbl", (Structure,), {
            "_fields_": [(m.name, m.prototype) for m in self.methods],
            "__module__": __name__,
        })

    def bases(self) -> List["Interface"]:
        """This interface and every base, most derived first."""
        chain: List[Interface] = []
        current: Optional[Interface] = self
        while current is not None:
            chain.append(current)
            current = current.base
        return chain

    def __repr__(self) -> str:
        return f"<Interface {self.name} {self.iid}>"

