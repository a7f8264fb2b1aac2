"""Python objects that native code sees as real COM objects."""

import difflib
import warnings
from typing import Any, ClassVar, Sequence, Union

from . import debugstate
from .backends import active
from .contract import declared_interfaces
from .declare import Interface
from .hresult import E_NOINTERFACE, COMError
from .iunknown import IID_IUnknown, IUnknown
from .types import GUID

__all__ = ["COMObject", "com_pointer", "com_refcount", "IIDLike"]

IIDLike = Union[GUID, Interface, str]
_backend = active()


def _as_iid(iid: IIDLike) -> GUID:
    if isinstance(iid, Interface):
        return iid.iid
    if isinstance(iid, GUID):
        return iid
    if isinstance(iid, str):
        return GUID(iid)
    raise TypeError(f"expected an Interface, GUID or IID string; got {type(iid).__name__}")


class COMObject:
    """Base class of Python-implemented COM objects.

    A subclass lists the interfaces it implements and defines their methods
    by their documented names::

        class Callback(COMObject):
            _com_interfaces_ = [IMAPISyncProgressCallback]

            def Progress(self, text, ulIndex, ulIndexMax):
                self.seen.append((text, ulIndex, ulIndexMax))   # None means S_OK

    Methods receive the parameters after ``this``: WCHAR* text as ``str`` (or
    None for NULL), HANDLE as int, other pointers as ctypes pointers (or None),
    and return an HRESULT (None is S_OK). Exceptions become failure HRESULTs:
    COMError(hr) -> hr, NotImplementedError -> E_NOTIMPL, MemoryError ->
    E_OUTOFMEMORY, ValueError/TypeError -> E_INVALIDARG, anything else ->
    E_FAIL, each logged on logger ``mapisync_ctypes``. A method the class does
    not define returns E_NOTIMPL. QueryInterface, AddRef and Release are
    provided: the first interface listed is the object's IUnknown identity.

    While native code holds a reference the object stays alive, even with no
    Python reference left; after the final Release it is collected as usual.

    Mistakes show at class definition: a ``_com_interfaces_`` that is not a non-empty
    list of Interface declarations raises TypeError; a method whose name is close to a
    declared one but not it (``progress``, ``Progess``) gets a warning.
    """

    _com_interfaces_: ClassVar[Sequence[Interface]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_com_interfaces_" in cls.__dict__:
            declared_interfaces(cls)  # raises TypeError for a bad list
        interfaces = getattr(cls, "_com_interfaces_", ())
        if interfaces:
            _warn_near_misses(cls, interfaces)

    def __new__(cls, *args: Any, **kwargs: Any) -> "COMObject":
        obj = super().__new__(cls)
        if debugstate.enabled():  # debug mode: remember where each object was made
            debugstate.track(obj)
        return obj


def _warn_near_misses(cls: type, interfaces: Sequence[Interface]) -> None:
    declared = {m.name for interface in interfaces for m in interface.methods}
    declared.difference_update(m.name for m in IUnknown.methods)
    for name, value in cls.__dict__.items():
        if name.startswith("_") or name in declared or not callable(value):
            continue
        by_case = [d for d in declared if d.lower() == name.lower()]
        close = by_case or difflib.get_close_matches(name, declared, n=1, cutoff=0.85)
        if close:
            warnings.warn(f"{cls.__name__}.{name} is not a method of {', '.join(i.name for i in interfaces)}; "
                          f"did you mean {close[0]}? (native callers of {close[0]} get E_NOTIMPL)",
                          UserWarning, stacklevel=3)


def com_pointer(obj: COMObject, iid: IIDLike = IID_IUnknown) -> int:
    """The address of ``obj``'s interface pointer for ``iid``, with one reference the caller owns.

    Give it back with the interface's Release (from native code, or
    ``wrap(address, interface, addref=False).release()``).
    Raises COMError(E_NOINTERFACE) if ``obj`` does not implement ``iid``.
    """
    if not isinstance(obj, COMObject):
        raise TypeError(f"com_pointer() needs a COMObject, not {type(obj).__name__}")
    guid = _as_iid(iid)
    address = _backend.interface_pointer(obj, guid)
    if address is None:
        raise COMError(E_NOINTERFACE, f"{type(obj).__name__} does not implement {guid}")
    return address


def com_refcount(obj: COMObject) -> int:
    """The COM reference count native code holds on ``obj`` (for tests and diagnostics).
    Only our own objects keep a count Python can read: a proxy of a native object raises
    TypeError (its count is the native object's business; ``AddRef()``/``Release()`` return it)."""
    if not isinstance(obj, COMObject):
        raise TypeError(f"com_refcount() needs a COMObject, not {type(obj).__name__}")
    return _backend.refcount(obj)
