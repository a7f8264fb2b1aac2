"""Old path of :mod:`mapisync_ctypes.com.comobject`, kept working; new code imports that module."""

import sys

from .com.comobject import *  # noqa: F401,F403  (for type checkers and star imports)
from .com.comobject import __all__  # noqa: F401
from .com import comobject as _module

sys.modules[__name__] = _module
