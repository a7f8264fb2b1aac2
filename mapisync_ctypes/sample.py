"""Old path of :mod:`mapisync_ctypes.tools.sample`, kept working; new code imports that module."""

import sys

from .tools.sample import *  # noqa: F401,F403  (for type checkers and star imports)
from .tools.sample import __all__  # noqa: F401
from .tools import sample as _module

sys.modules[__name__] = _module
