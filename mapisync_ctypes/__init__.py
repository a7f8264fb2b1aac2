"""mapisync_ctypes: MAPI background-sync COM interfaces across the Python/native boundary.

- Python objects as real COM pointers: subclass :class:`COMObject`, then
  :func:`com_pointer` gives native code an interface pointer.
- Native COM pointers as Python objects: :func:`wrap` gives a proxy.
- Background sync by the protocol: :class:`SyncProvider`, :func:`run_sync`.

The package is layered: ``com`` (generic COM: types, HRESULTs, declarations, objects,
proxies, the two backends), ``sync`` (the MAPI background-sync protocol on top of it),
``embed`` and ``tools`` beside them. The names below are imported on first use, so
``import mapisync_ctypes`` (and the pytest plugin) costs next to nothing.
"""

import importlib
import logging
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from . import _locate
from ._version import __version__
from .com import hresult as _hresult
from .embed import hresults as _embed_hresults  # noqa: F401
from .sync import flags as _flags, hresults as _mapi_hresults  # names every HRESULT in messages

logging.getLogger("mapisync_ctypes").addHandler(logging.NullHandler())

# public name -> the module that defines it
_HOME: Dict[str, str] = {
    **{name: ".com.types" for name in ("GUID", "IID", "REFIID", "HANDLE", "HRESULT", "LPCWSTR", "ULONG",
                                       "WCHAR", "FUNCTYPE")},
    "MAPISIB": ".sync.types",
    **{name: ".com.comobject" for name in ("COMObject", "com_pointer", "com_refcount")},
    **{name: ".com.declare" for name in ("Interface", "Method")},
    **{name: ".com.iunknown" for name in ("IUnknown", "IID_IUnknown")},
    **{name: ".sync.interfaces" for name in ("IMAPISync", "IMAPISyncProgressCallback", "IID_IMAPISync",
                                             "IID_IMAPISyncProgressCallback")},
    **{name: ".com.proxy" for name in ("Proxy", "wrap")},
    **{name: ".sync.provider" for name in ("SyncProvider", "SyncJob", "SyncCancelled", "MAPIThreadProvider")},
    **{name: ".sync.host" for name in ("run_sync", "SyncResult", "SyncEvent", "ProtocolViolation")},
    "run_concurrent": ".sync.concurrent",
    **{name: ".com.hresult" for name in _hresult.__all__},
    **{name: ".sync.hresults" for name in _mapi_hresults.__all__},
    **{name: ".sync.flags" for name in _flags.__all__},
}

_SUBMODULES = ("com", "sync", "embed", "tools", "abi", "hresult", "flags", "declare", "interfaces", "comobject",
               "proxy", "donehandle", "provider", "host", "debug", "sample", "cli", "pytest_plugin",
               "comtypes_bridge")


def get_include() -> str:
    """The folder holding mapisync.h and the other C files, for a C compiler's -I
    (like numpy.get_include())."""
    return _locate.include_dir()


def shim_path() -> Optional[str]:
    """The native library a MAPI host loads as a provider (it exports MapiSyncGetObject and
    the embedding C API of mapisync_python.h), or None if it was not built."""
    return _locate.native_library()


def __getattr__(name: str) -> Any:
    if name == "BACKEND":
        from .com.backends import NAME
        return NAME
    home = _HOME.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value  # the next look-up is a plain attribute
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mapisync_ctypes' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))


__all__ = sorted(set(_HOME) | {"BACKEND", "get_include", "shim_path", "__version__"})

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time these load on first use
    from .com.backends import NAME as BACKEND
    from .com.comobject import COMObject, com_pointer, com_refcount
    from .com.declare import Interface, Method
    from .com.hresult import *  # noqa: F401,F403
    from .com.iunknown import IID_IUnknown, IUnknown
    from .com.proxy import Proxy, wrap
    from .com.types import FUNCTYPE, GUID, HANDLE, HRESULT, IID, LPCWSTR, REFIID, ULONG, WCHAR
    from .sync.flags import *  # noqa: F401,F403
    from .sync.host import ProtocolViolation, SyncEvent, SyncResult, run_sync
    from .sync.hresults import *  # noqa: F401,F403
    from .sync.interfaces import (
        IID_IMAPISync, IID_IMAPISyncProgressCallback, IMAPISync, IMAPISyncProgressCallback,
    )
    from .sync.provider import MAPIThreadProvider, SyncCancelled, SyncJob, SyncProvider
    from .sync.types import MAPISIB
