"""Old path of :mod:`mapisync_ctypes.embed.python_side`, for hosts built with an earlier
mapisync_python.c; kept working."""

import sys

from .embed import python_side as _module

sys.modules[__name__] = _module
