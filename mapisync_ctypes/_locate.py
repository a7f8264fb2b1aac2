"""Where the files the package ships are: headers, examples and the native libraries.

An installed package holds them inside itself (setup.py copies include/ and examples/ and
builds the libraries there); a source checkout keeps include/ and examples/ at its top.
This is the one place that knows; everything else asks here.
"""

import os
import sys
from typing import Optional

__all__ = ["PACKAGE_DIR", "include_dir", "examples_dir", "library_name", "native_library", "refhost_library"]

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_CHECKOUT = os.path.dirname(PACKAGE_DIR)


def _shipped(name: str, probe: str) -> str:
    installed = os.path.join(PACKAGE_DIR, name)
    if os.path.exists(os.path.join(installed, probe)):
        return installed
    return os.path.join(_CHECKOUT, name)  # a source checkout


def include_dir() -> str:
    """The folder of mapisync.h, mapisync_done.h, mapisync_python.h and mapisync_python.c."""
    return _shipped("include", "mapisync.h")


def examples_dir() -> str:
    """The folder of the examples (c_provider/, embedding/, python_provider.py...)."""
    return _shipped("examples", "python_provider.py")


def library_name(stem: str) -> str:
    """A plain shared library's file name on this platform: mapisync_native.so, .dll, .dylib."""
    return stem + {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")


def _library(stem: str) -> Optional[str]:
    path = os.path.join(PACKAGE_DIR, library_name(stem))
    return path if os.path.exists(path) else None


def native_library() -> Optional[str]:
    """The native library setup.py builds: the compiled backend, the provider shim
    (MapiSyncGetObject) and the embedding C API; None if it was not built."""
    return _library("mapisync_native")


def refhost_library() -> Optional[str]:
    """The C reference host behind ``mapisync demo``; None if it was not built."""
    return _library("mapisync_refhost")
