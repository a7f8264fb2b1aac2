"""Old path of :mod:`mapisync_ctypes.com.comtypes_bridge`, kept working; new code imports that module."""

import sys

from .com.comtypes_bridge import *  # noqa: F401,F403  (for type checkers and star imports)
from .com.comtypes_bridge import __all__  # noqa: F401
from .com import comtypes_bridge as _module

sys.modules[__name__] = _module
