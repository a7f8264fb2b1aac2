"""The interfaces of MAPI background sync, declared once each (see declare.py)."""

from ctypes import POINTER, c_void_p

from .abi import HANDLE, HRESULT, LPCWSTR, MAPISIB, REFIID, ULONG
from .declare import Interface, Method

__all__ = ["IUnknown", "IMAPISync", "IMAPISyncProgressCallback", "IID_IUnknown",
           "IID_IMAPISync", "IID_IMAPISyncProgressCallback", "INTERFACES"]

IUnknown = Interface("IUnknown", "{00000000-0000-0000-C000-000000000046}", [
    Method("QueryInterface", HRESULT, [("riid", REFIID), ("ppv", POINTER(c_void_p))]),
    Method("AddRef", ULONG),
    Method("Release", ULONG),
])

IMAPISync = Interface("IMAPISync", "{5024A385-2D44-486A-81A8-8F0ECB6071DD}", [
    Method("SynchronizeInBackground", HRESULT, [("psibpb", POINTER(MAPISIB))]),
], base=IUnknown)

IMAPISyncProgressCallback = Interface(
    "IMAPISyncProgressCallback", "{5024A386-2D44-486A-81A8-8F0ECB6071DD}", [
        Method("Progress", HRESULT, [("text", LPCWSTR), ("ulIndex", ULONG), ("ulIndexMax", ULONG)]),
        Method("Error", HRESULT, [("hResult", HRESULT), ("text", LPCWSTR)]),
        Method("Done", HRESULT, [("hThreadDoneEvent", HANDLE), ("hResult", HRESULT)]),
    ], base=IUnknown)

IID_IUnknown = IUnknown.iid
IID_IMAPISync = IMAPISync.iid
IID_IMAPISyncProgressCallback = IMAPISyncProgressCallback.iid

#: every declared interface, for look-ups by IID and for the layout test
INTERFACES = (IUnknown, IMAPISync, IMAPISyncProgressCallback)
