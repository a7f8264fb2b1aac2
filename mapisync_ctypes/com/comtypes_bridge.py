"""comtypes declarations derived from ours, for code that mixes the two libraries (Windows).

    import comtypes
    from mapisync_ctypes.comtypes_bridge import comtypes_interface
    ICallback = comtypes_interface(IMAPISyncProgressCallback)   # a comtypes.IUnknown subclass
    pointer = ctypes.cast(ctypes.c_void_p(address), ctypes.POINTER(ICallback))

The comtypes class is made from the same Interface declaration as everything else here.
"""

import ctypes
from typing import Any, Dict

from .types import HANDLE, HRESULT, LPCWSTR
from .declare import Interface

__all__ = ["comtypes_interface"]

_made: Dict[int, Any] = {}


def _comtypes_type(ctype: Any, comtypes: Any) -> Any:
    if ctype is HRESULT:
        return comtypes.HRESULT  # comtypes raises COMError on failure for this restype
    if ctype is LPCWSTR:
        return ctypes.c_wchar_p
    if ctype is HANDLE:
        return ctypes.c_void_p
    return ctype


def comtypes_interface(interface: Interface) -> Any:
    """The comtypes interface class for ``interface`` (made once; needs comtypes)."""
    import comtypes

    made = _made.get(id(interface))
    if made is not None:
        return made
    if interface.base is None:
        return comtypes.IUnknown
    base = comtypes_interface(interface.base)
    methods = [
        comtypes.COMMETHOD([], _comtypes_type(method.restype, comtypes), method.name,
                           *[(["in"], _comtypes_type(p.ctype, comtypes), p.name) for p in method.params])
        for method in interface.own_methods
    ]
    made = type(interface.name, (base,), {"_iid_": comtypes.GUID(str(interface.iid)), "_methods_": methods,
                                          "__module__": __name__})
    _made[id(interface)] = made
    return made
