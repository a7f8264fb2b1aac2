"""Old path of :mod:`mapisync_ctypes.tools.cli`, kept working; new code imports that module."""

import sys

from .tools.cli import *  # noqa: F401,F403  (for type checkers and star imports)
from .tools.cli import __all__  # noqa: F401
from .tools import cli as _module

sys.modules[__name__] = _module
