"""Native providers by name: ``"path/to/library:Symbol"`` -> an IMAPISync proxy."""

import ctypes
import os

from ..com.hresult import E_POINTER, COMError
from ..com.proxy import Proxy, wrap
from ..com.types import GUID
from .interfaces import IMAPISync

__all__ = ["load_factory"]


def load_factory(spec: str) -> Proxy:
    """IMAPISync from ``"path/to/library:Symbol"``, a native factory
    ``HRESULT Symbol(const GUID *riid, void **ppv)``. Raises ValueError (the spec), OSError
    (the library), AttributeError (the symbol) or COMError (the factory failed)."""
    library, sep, symbol = spec.rpartition(":")  # rpartition: Windows paths have drive letters
    if not sep or not library or not symbol:
        raise ValueError(f"expected LIBRARY:SYMBOL, got {spec!r}")
    if not os.path.exists(library):
        raise OSError(f"no such library: {library}")
    dll = ctypes.CDLL(os.path.abspath(library))
    factory = getattr(dll, symbol)
    factory.restype = ctypes.c_int32
    factory.argtypes = [ctypes.POINTER(GUID), ctypes.POINTER(ctypes.c_void_p)]
    out = ctypes.c_void_p()
    hr = factory(IMAPISync.iid, ctypes.byref(out))
    if hr < 0:
        raise COMError(hr, f"{symbol} failed" + _why(dll))
    if not out.value:
        raise COMError(E_POINTER, f"{symbol} succeeded but returned NULL")
    return wrap(out.value, IMAPISync, addref=False)


def _why(dll: ctypes.CDLL) -> str:
    """The provider shim says why it failed (MapiSyncPythonError); other libraries do not."""
    try:
        reason = dll.MapiSyncPythonError
    except AttributeError:
        return ""
    reason.restype, reason.argtypes = ctypes.c_char_p, []
    text = (reason() or b"").decode("utf-8", "replace")
    return f": {text}" if text else ""
