"""mapisync_ctypes: MAPI background-sync COM interfaces across the Python/native boundary.

- Python objects as real COM pointers: subclass :class:`COMObject`, then
  :func:`com_pointer` gives native code an interface pointer.
- Native COM pointers as Python objects: :func:`wrap` gives a proxy.
- Declarations (:mod:`.interfaces`), ABI types (:mod:`.abi`), HRESULTs
  (:mod:`.hresult`) and flags (:mod:`.flags`) match include/mapisync.h;
  :func:`get_include` returns that header's folder.
"""

import logging
import os
import sys
from typing import Optional

from .abi import GUID, HANDLE, HRESULT, IID, LPCWSTR, MAPISIB, REFIID, ULONG, WCHAR, FUNCTYPE
from .comobject import COMObject, com_pointer, com_refcount
from .declare import Interface, Method
from .flags import *  # noqa: F401,F403  (SyncFlags and the SYNC_* constants)
from .flags import __all__ as _flags_all
from .hresult import *  # noqa: F401,F403  (HRESULT constants, COMError, helpers)
from .hresult import __all__ as _hresult_all
from .interfaces import (
    IID_IMAPISync, IID_IMAPISyncProgressCallback, IID_IUnknown, IMAPISync,
    IMAPISyncProgressCallback, IUnknown,
)
from .proxy import Proxy, wrap
from .provider import MAPIThreadProvider, SyncCancelled, SyncJob, SyncProvider
from .host import ProtocolViolation, SyncEvent, SyncResult, run_sync
from . import donehandle, host  # noqa: F401  (the submodules, as attributes)
from ._backends import NAME as BACKEND

__version__ = "0.1.0"

logging.getLogger("mapisync_ctypes").addHandler(logging.NullHandler())


def get_include() -> str:
    """The folder holding mapisync.h, for a C compiler's -I (like numpy.get_include())."""
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "include")
    if os.path.isfile(os.path.join(installed, "mapisync.h")):
        return installed
    # a source checkout: the header lives in the top-level include/
    return os.path.join(os.path.dirname(here), "include")


def shim_path() -> Optional[str]:
    """The provider shim library setup.py builds (MapiSyncGetObject and the embedding C API of
    include/mapisync_python.h), or None if it was not built for this platform."""
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mapisync_shim" + suffix)
    return path if os.path.exists(path) else None


__all__ = [
    "GUID", "IID", "REFIID", "HANDLE", "HRESULT", "LPCWSTR", "MAPISIB", "ULONG", "WCHAR",
    "FUNCTYPE", "COMObject", "com_pointer", "com_refcount", "Interface", "Method", "shim_path", "BACKEND",
    "IUnknown", "IMAPISync", "IMAPISyncProgressCallback", "IID_IUnknown", "IID_IMAPISync",
    "IID_IMAPISyncProgressCallback", "Proxy", "wrap", "get_include", "__version__",
    "SyncProvider", "SyncJob", "SyncCancelled", "MAPIThreadProvider", "run_sync", "SyncResult", "SyncEvent",
    "ProtocolViolation",
] + list(_flags_all) + list(_hresult_all)
