"""Old path of :mod:`mapisync_ctypes.sync.host`, kept working; new code imports that module."""

import sys

from .sync.host import *  # noqa: F401,F403  (for type checkers and star imports)
from .sync.host import __all__  # noqa: F401
from .sync import host as _module

sys.modules[__name__] = _module
