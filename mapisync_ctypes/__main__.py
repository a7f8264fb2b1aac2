"""python -m mapisync_ctypes: the same as the `mapisync` command."""

import sys

from .tools.cli import main

sys.exit(main())
