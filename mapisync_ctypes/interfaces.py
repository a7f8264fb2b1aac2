"""Old path of :mod:`mapisync_ctypes.sync.interfaces`, kept working; new code imports that module."""

import sys

from .sync.interfaces import *  # noqa: F401,F403  (for type checkers and star imports)
from .sync.interfaces import __all__  # noqa: F401
from .sync import interfaces as _module

sys.modules[__name__] = _module
