"""Old path of :mod:`mapisync_ctypes.com.declare`, kept working; new code imports that module."""

import sys

from .com.declare import *  # noqa: F401,F403  (for type checkers and star imports)
from .com.declare import __all__  # noqa: F401
from .com import declare as _module

sys.modules[__name__] = _module
