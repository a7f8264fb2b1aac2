"""Old path of :mod:`mapisync_ctypes.com.debug`, kept working; new code imports that module."""

import sys

from .com.debug import *  # noqa: F401,F403  (for type checkers and star imports)
from .com.debug import __all__  # noqa: F401
from .com import debug as _module

sys.modules[__name__] = _module
