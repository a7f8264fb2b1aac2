"""Old path of :mod:`mapisync_ctypes.sync.flags`, kept working; new code imports that module."""

import sys

from .sync.flags import *  # noqa: F401,F403  (for type checkers and star imports)
from .sync.flags import __all__  # noqa: F401
from .sync import flags as _module

sys.modules[__name__] = _module
