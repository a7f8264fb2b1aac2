"""Old path of :mod:`mapisync_ctypes.com.proxy`, kept working; new code imports that module."""

import sys

from .com.proxy import *  # noqa: F401,F403  (for type checkers and star imports)
from .com.proxy import __all__  # noqa: F401
from .com import proxy as _module

sys.modules[__name__] = _module
