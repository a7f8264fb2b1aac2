"""Old path of :mod:`mapisync_ctypes.tools.pytest_plugin`, kept working; new code imports that module."""

import sys

from .tools.pytest_plugin import *  # noqa: F401,F403  (for type checkers and star imports)
from .tools.pytest_plugin import __all__  # noqa: F401
from .tools import pytest_plugin as _module

sys.modules[__name__] = _module
