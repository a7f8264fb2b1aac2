"""MAPISIB, the argument block of IMAPISync::SynchronizeInBackground.

Layout (Windows ABI sizes on every platform): ULONG ulSize; ULONG ulFlags;
IMAPISession *psesSync; IUnknown *punkCallBack; HANDLE *phSyncDoneEvent -- offsets
0 4 8 12 16 (size 20) on 32-bit, 0 4 8 16 24 (size 32) on 64-bit.
"""

import ctypes
from ctypes import POINTER, Structure, c_void_p
from typing import Any

from ..com.boundary import address_of
from ..com.types import ULONG

__all__ = ["MAPISIB"]

_HANDLE_P = POINTER(c_void_p)


class MAPISIB(Structure):
    """The argument block of IMAPISync::SynchronizeInBackground.

    The pointer fields take what Windows and comtypes programmers pass: ``psesSync`` and
    ``punkCallBack`` an address, a proxy, a ctypes or comtypes interface pointer or None;
    ``phSyncDoneEvent`` ``ctypes.pointer(wintypes.HANDLE())``, ``byref(...)``, a pointer to
    any pointer-sized handle type, an address or None. Reading ``phSyncDoneEvent`` gives a
    ``POINTER(c_void_p)``: ``sib.phSyncDoneEvent[0]`` is the handle (None for NULL).
    """

    _fields_ = [
        ("ulSize", ULONG),
        ("ulFlags", ULONG),
        ("psesSync", c_void_p),  # IMAPISession *
        ("punkCallBack", c_void_p),  # IUnknown *
        ("phSyncDoneEvent", _HANDLE_P),  # [out] HANDLE *
    ]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("psesSync", "punkCallBack") and value is not None and not isinstance(value, int):
            value = address_of(value)
        elif name == "phSyncDoneEvent" and value is not None and not isinstance(value, _HANDLE_P):
            if isinstance(value, ctypes._Pointer) and ctypes.sizeof(value._type_) != ctypes.sizeof(c_void_p):
                raise TypeError(f"phSyncDoneEvent must point to a pointer-sized HANDLE, not {value._type_.__name__}")
            value = ctypes.cast(c_void_p(address_of(value)), _HANDLE_P)
        super().__setattr__(name, value)
