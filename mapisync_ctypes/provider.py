"""Old path of :mod:`mapisync_ctypes.sync.provider`, kept working; new code imports that module."""

import sys

from .sync.provider import *  # noqa: F401,F403  (for type checkers and star imports)
from .sync.provider import __all__  # noqa: F401
from .sync import provider as _module

sys.modules[__name__] = _module
