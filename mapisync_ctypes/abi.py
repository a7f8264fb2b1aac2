"""Old path of the ABI types, kept working: :mod:`mapisync_ctypes.com.types` and MAPISIB
(:mod:`mapisync_ctypes.sync.types`); new code imports those."""

from .com.types import *  # noqa: F401,F403
from .com.types import __all__ as _types
from .sync.types import MAPISIB

__all__ = [*_types, "MAPISIB"]
