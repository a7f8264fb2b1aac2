"""IUnknown, the base of every COM interface, declared like any other (see declare.py)."""

from ctypes import POINTER, c_void_p

from .declare import Interface, Method
from .types import HRESULT, REFIID, ULONG

__all__ = ["IUnknown", "IID_IUnknown"]

IUnknown = Interface("IUnknown", "{00000000-0000-0000-C000-000000000046}", [
    Method("QueryInterface", HRESULT, [("riid", REFIID), ("ppv", POINTER(c_void_p))]),
    Method("AddRef", ULONG),
    Method("Release", ULONG),
])

IID_IUnknown = IUnknown.iid
