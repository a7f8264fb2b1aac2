"""Old path of the HRESULTs, kept working: the generic codes (:mod:`mapisync_ctypes.com.hresult`)
and MAPI's (:mod:`mapisync_ctypes.sync.hresults`); new code imports those."""

from .com.hresult import *  # noqa: F401,F403
from .com.hresult import __all__ as _generic
from .sync.hresults import *  # noqa: F401,F403
from .sync.hresults import __all__ as _mapi

__all__ = [*_generic, *_mapi]
