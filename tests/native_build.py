"""Builds and loads the native test hosts (tests/native/*.c, *.cpp).

They are compiled once per test session with the system C/C++ compilers
($CC/$CXX, default cc/c++), warnings as errors. Where no compiler runs the
tests (Windows Python under Wine), MAPISYNC_TEST_NATIVE_DIR names a folder of
libraries built beforehand with the same names.
"""

import ctypes
import os
import shutil
import subprocess
import sys
from ctypes import POINTER, c_char_p, c_int, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import Dict, List, Optional

from mapisync_ctypes import GUID, HRESULT, MAPISIB, get_include

HERE = Path(__file__).resolve().parent
NATIVE_SRC = HERE / "native"
LIB_EXT = ".dll" if sys.platform == "win32" else (".dylib" if sys.platform == "darwin" else ".so")

# library name -> (sources, language)
LIBRARIES: Dict[str, tuple] = {
    "host": (["host.c"], "c"),
    "objects": (["objects.c"], "c"),
    "host_cpp": (["host_cpp.cpp"], "c++"),
}

C_FLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-pedantic", "-Werror"]
CXX_FLAGS = ["-std=c++11", "-O1", "-g", "-Wall", "-Wextra", "-pedantic", "-Werror"]


def compiler(language: str) -> Optional[str]:
    name = os.environ.get("CC" if language == "c" else "CXX") or ("cc" if language == "c" else "c++")
    return shutil.which(name)


def compile_library(name: str, out_dir: Path, extra_flags: List[str] = ()) -> Path:
    sources, language = LIBRARIES[name]
    tool = compiler(language)
    if tool is None:
        raise RuntimeError(f"no {language} compiler found to build the native test host {name!r}")
    out = out_dir / f"{name}{LIB_EXT}"
    flags = C_FLAGS if language == "c" else CXX_FLAGS
    cmd = [tool, *flags, *extra_flags, "-shared", "-fPIC", "-pthread", f"-I{get_include()}",
           f"-I{NATIVE_SRC}", *[str(NATIVE_SRC / s) for s in sources], "-o", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building {name} failed:\n{' '.join(cmd)}\n{result.stdout}{result.stderr}")
    return out


def library_path(name: str, build_dir: Path) -> Path:
    prebuilt = os.environ.get("MAPISYNC_TEST_NATIVE_DIR")
    if prebuilt:
        path = Path(prebuilt) / f"{name}{LIB_EXT}"
        if not path.exists():
            raise RuntimeError(f"MAPISYNC_TEST_NATIVE_DIR has no {path.name}")
        return path
    return compile_library(name, build_dir)


def _declare(lib: ctypes.CDLL, name: str, restype, *argtypes) -> None:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)


def load(build_dir: Path) -> Dict[str, ctypes.CDLL]:
    """Every native test library, with its functions' C signatures declared."""
    libs = {name: ctypes.CDLL(str(library_path(name, build_dir))) for name in LIBRARIES}
    host, objects, cpp = libs["host"], libs["objects"], libs["host_cpp"]
    P = c_void_p
    _declare(host, "host_check_iunknown", c_int, P, POINTER(GUID), c_int, POINTER(GUID), c_char_p, c_size_t)
    _declare(host, "host_hammer_refcount", c_int, P, c_int, c_int, c_char_p, c_size_t)
    _declare(host, "host_sync", HRESULT, P, POINTER(MAPISIB))
    _declare(host, "host_progress", HRESULT, P, c_void_p, c_uint32, c_uint32)
    _declare(host, "host_error", HRESULT, P, HRESULT, c_void_p)
    _declare(host, "host_done", HRESULT, P, c_void_p, HRESULT)
    _declare(host, "host_progress_texts", c_int, P, POINTER(HRESULT))
    _declare(host, "host_progress_threads", c_int, P, c_int, c_int)
    _declare(host, "host_error_on_new_thread", HRESULT, P, HRESULT)
    _declare(host, "host_spin_progress", c_int, P)
    _declare(host, "host_release", c_uint32, P, c_int)
    _declare(host, "host_addref", c_uint32, P)
    _declare(host, "host_query", HRESULT, P, POINTER(GUID), POINTER(c_void_p))
    _declare(host, "host_layout", c_char_p)
    _declare(objects, "native_callback_new", P, HRESULT)
    _declare(objects, "native_refs", ctypes.c_long, P)
    _declare(objects, "native_callback_events", c_int, P)
    _declare(objects, "native_callback_event", c_int, P, c_int, POINTER(c_void_p), POINTER(c_uint64), POINTER(c_uint64))
    _declare(objects, "native_sync_new", P)
    _declare(objects, "native_sync_last", c_int, P, POINTER(c_uint32), POINTER(c_uint32), POINTER(c_int))
    _declare(objects, "native_sync_run", HRESULT, P, c_int, POINTER(HRESULT))
    _declare(cpp, "cpp_host_exercise", c_int, P, POINTER(HRESULT))
    _declare(cpp, "cpp_host_sync", HRESULT, P, P, c_uint32, POINTER(c_void_p))
    _declare(cpp, "cpp_callback_new", P)
    _declare(cpp, "cpp_callback_log", c_char_p, P)
    return libs
