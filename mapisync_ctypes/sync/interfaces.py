"""The interfaces of MAPI background sync, declared once each (see com/declare.py)."""

from ctypes import POINTER

from ..com.declare import Interface, Method
from ..com.iunknown import IID_IUnknown, IUnknown
from ..com.types import HANDLE, HRESULT, LPCWSTR, ULONG
from .types import MAPISIB

__all__ = ["IUnknown", "IMAPISync", "IMAPISyncProgressCallback", "IID_IUnknown",
           "IID_IMAPISync", "IID_IMAPISyncProgressCallback", "INTERFACES"]

IMAPISync = Interface("IMAPISync", "{5024A385-2D44-486A-81A8-8F0ECB6071DD}", [
    Method("SynchronizeInBackground", HRESULT, [("psibpb", POINTER(MAPISIB))]),
], base=IUnknown)

IMAPISyncProgressCallback = Interface(
    "IMAPISyncProgressCallback", "{5024A386-2D44-486A-81A8-8F0ECB6071DD}", [
        Method("Progress", HRESULT, [("text", LPCWSTR), ("ulIndex", ULONG), ("ulIndexMax", ULONG)]),
        Method("Error", HRESULT, [("hResult", HRESULT), ("text", LPCWSTR)]),
        Method("Done", HRESULT, [("hThreadDoneEvent", HANDLE), ("hResult", HRESULT)]),
    ], base=IUnknown)

IID_IMAPISync = IMAPISync.iid
IID_IMAPISyncProgressCallback = IMAPISyncProgressCallback.iid

#: every declared interface, for look-ups by IID and for the layout test
INTERFACES = (IUnknown, IMAPISync, IMAPISyncProgressCallback)
