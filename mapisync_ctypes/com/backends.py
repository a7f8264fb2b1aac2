"""Which backend serves Python COM objects: the native one (the compiled core) when it was
built, else ctypes. ``MAPISYNC_BACKEND=native`` or ``=ctypes`` forces one (``cffi`` is the
old name of ``native`` and still accepted)."""

import logging
import os
import warnings
from typing import Optional

from .contract import Backend

__all__ = ["active", "NAME", "FALLBACK_REASON"]

logger = logging.getLogger("mapisync_ctypes")

_choice = os.environ.get("MAPISYNC_BACKEND", "").strip().lower()
_choice = {"cffi": "native"}.get(_choice, _choice)
if _choice not in ("", "ctypes", "native"):
    raise ImportError(f"MAPISYNC_BACKEND must be 'native' or 'ctypes', not {_choice!r}")

#: why the ctypes backend serves when the native one was not forced off, else None
FALLBACK_REASON: Optional[str] = None

if _choice == "ctypes":
    from .ctypes_backend import BACKEND as _active
else:
    try:
        from .native_backend import BACKEND as _active  # type: ignore[assignment]
    except ImportError as exc:
        if _choice == "native":
            raise ImportError(f"MAPISYNC_BACKEND=native, but the native backend cannot load: {exc}") from exc
        FALLBACK_REASON = str(exc)
        # Not silent: a user without the native parts runs slower, with no shim or demo host.
        warnings.warn(f"mapisync_ctypes runs on its ctypes backend: {exc}", RuntimeWarning, stacklevel=1)
        logger.warning("mapisync_ctypes: using the ctypes backend: %s", exc)
        from .ctypes_backend import BACKEND as _active

#: "native" or "ctypes"
NAME: str = _active.name


def active() -> Backend:
    """The backend in use."""
    return _active
