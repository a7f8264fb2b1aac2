"""Old path of :mod:`mapisync_ctypes.sync.donehandle`, kept working; new code imports that module."""

import sys

from .sync.donehandle import *  # noqa: F401,F403  (for type checkers and star imports)
from .sync.donehandle import __all__  # noqa: F401
from .sync import donehandle as _module

sys.modules[__name__] = _module
