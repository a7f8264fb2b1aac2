"""The compiled core as a plain C library, loaded with ctypes and bound to this Python's C API
(csrc/core.h). The native backend uses all of it; on Windows the ctypes backend uses its
thread-state keeper (com/threadstates.py).

Functions named ``msc_py_*`` touch Python objects and are called through ``ctypes.PyDLL``,
which keeps the GIL; the rest are plain C and go through ``ctypes.CDLL``, which releases it.
"""

import ctypes
import os
from ctypes import c_char_p, c_int, c_void_p
from typing import Any, Dict, List, Tuple

__all__ = ["Functions", "Library", "bind"]

#: name -> (restype, argtypes)
Functions = Dict[str, Tuple[Any, List[Any]]]

_BINDING: Functions = {
    "msc_api_count": (c_int, []),
    "msc_api_name": (c_char_p, [c_int]),
    "msc_bind": (c_int, [ctypes.POINTER(c_void_p), c_int, c_int]),
}


class Library:
    """The core's functions named in ``functions`` (and those that bind it), declared for ctypes."""

    def __init__(self, path: str, functions: Functions) -> None:
        plain, with_gil = ctypes.CDLL(path), ctypes.PyDLL(path)
        for name, (restype, argtypes) in {**_BINDING, **functions}.items():
            function = getattr(with_gil if name.startswith("msc_py_") else plain, name)
            function.restype, function.argtypes = restype, argtypes
            setattr(self, name, function)


def bind(lib: Any) -> None:
    """Hand the core the C-API functions it calls, looked up by name in this Python (binding
    again, from the other backend, stores the same addresses)."""
    names = [lib.msc_api_name(i).decode() for i in range(lib.msc_api_count())]
    functions = (c_void_p * len(names))(*(ctypes.cast(getattr(ctypes.pythonapi, n), c_void_p).value
                                          for n in names))
    check = os.environ.get("MAPISYNC_GIL_CHECK", "").strip().lower() in ("1", "true", "yes", "on")
    if not lib.msc_bind(functions, len(names), int(check)):
        raise ImportError("the native library could not bind to this Python's C API")
