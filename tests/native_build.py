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
from typing import Dict, Optional

if __name__ == "__main__":  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapisync_ctypes import GUID, HRESULT, MAPISIB, _locate, get_include, shim_path

HERE = Path(__file__).resolve().parent
NATIVE_SRC = HERE / "native"
LIB_EXT = ".dll" if sys.platform == "win32" else (".dylib" if sys.platform == "darwin" else ".so")

# What the package ships (installed, or the checkout's own folders); csrc/ only in a checkout:
# an installed package brings its native library built, and the tests use that one.
EXAMPLES = Path(_locate.examples_dir())
INCLUDE = Path(get_include())
CSRC = HERE.parent / "csrc"

# library name -> (sources, language)
LIBRARIES: Dict[str, tuple] = {
    "host": ([NATIVE_SRC / "host.c"], "c"),
    "objects": ([NATIVE_SRC / "objects.c"], "c"),
    "host_cpp": ([NATIVE_SRC / "host_cpp.cpp"], "c++"),
    "sync_host": ([NATIVE_SRC / "sync_host.c"], "c"),
    "providers": ([NATIVE_SRC / "providers.c"], "c"),
    "faulty": ([NATIVE_SRC / "faulty.c"], "c"),
    "planted": ([NATIVE_SRC / "planted.c"], "c"),
    "example_provider": ([EXAMPLES / "c_provider" / "provider.c"], "c"),
    # the same native library setup.py builds: backend core, provider shim, embedding C API
    "mapisync_native": ([CSRC / f"{part}.c" for part in ("pyapi", "threadstate", "objects", "dispatch", "callers", "shim")], "c"),
}

# program name -> sources (C); they bind to Python at run time, if at all
EXECUTABLES: Dict[str, list] = {
    "embed_host": [NATIVE_SRC / "embed_host.c", NATIVE_SRC / "sync_host.c", INCLUDE / "mapisync_python.c"],
    "shim_host": [NATIVE_SRC / "shim_host.c", NATIVE_SRC / "sync_host.c"],
    "two_shims": [NATIVE_SRC / "two_shims.c", NATIVE_SRC / "sync_host.c"],
    "embed_sync": [EXAMPLES / "embedding" / "embed_sync.c", INCLUDE / "mapisync_python.c"],
    "shim_sync": [EXAMPLES / "embedding" / "shim_sync.c"],
}

# MAPISYNC_TEST_CFLAGS adds flags to every build (the sanitizer job uses it)
_EXTRA = os.environ.get("MAPISYNC_TEST_CFLAGS", "").split()
C_FLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-pedantic", "-Werror", *_EXTRA]
CXX_FLAGS = ["-std=c++11", "-O1", "-g", "-Wall", "-Wextra", "-pedantic", "-Werror", *_EXTRA]


def compiler(language: str) -> Optional[str]:
    name = os.environ.get("CC" if language == "c" else "CXX") or ("cc" if language == "c" else "c++")
    return shutil.which(name)


def compile_library(name: str, out_dir: Path, tool: Optional[str] = None, windows: bool = False) -> Path:
    """Builds one test library; ``windows`` for a mingw cross-compiler (a .dll with no
    run-time dependencies beyond Windows itself)."""
    sources, language = LIBRARIES[name]
    if name == "mapisync_native" and not CSRC.is_dir() and not windows:
        return _installed_native_library(out_dir)
    tool = tool or compiler(language)
    if tool is None:
        raise RuntimeError(f"no {language} compiler found to build the native test host {name!r}")
    out = out_dir / f"{name}{'.dll' if windows else LIB_EXT}"
    flags = C_FLAGS if language == "c" else CXX_FLAGS
    platform = ["-static", "-luuid"] if windows else ["-fPIC", "-pthread", "-ldl"]
    cmd = [tool, *flags, "-shared", "-DMAPISYNC_PYTHON_BUILD_DLL=1", f"-I{get_include()}", f"-I{NATIVE_SRC}",
           f"-I{CSRC}",
           *[str(source) for source in sources], "-o", str(out), *platform]
    _run_compiler(cmd, name)
    return out


def _installed_native_library(out_dir: Path) -> Path:
    """Outside a checkout: a copy of the native library the installed package brings (a copy,
    so a test may put a mapisync_shim.cfg beside it)."""
    installed = shim_path()
    if installed is None:
        raise RuntimeError("the installed mapisync_ctypes has no native library, and there is no csrc/ to build one")
    out = out_dir / f"mapisync_native{LIB_EXT}"
    shutil.copyfile(installed, out)  # not copy2: Wine lacks CopyFile2, which 3.12+ uses on Windows
    return out


def _run_compiler(cmd: list, what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or result.stderr.strip():
        raise RuntimeError(f"building {what} failed or warned:\n{' '.join(cmd)}\n{result.stdout}{result.stderr}")


def header_user_name(language: str, windows: bool = sys.platform == "win32") -> str:
    return f"header_user_{'c' if language == 'c' else 'cpp'}{'.exe' if windows else ''}"


def compile_header_user(language: str, out_dir: Path, tool: Optional[str] = None, windows: bool = False) -> Path:
    """A small program using include/mapisync.h as a C99 or C++11 host; warnings are errors."""
    tool = tool or compiler(language)
    source = NATIVE_SRC / ("header_user.c" if language == "c" else "header_user.cpp")
    out = out_dir / header_user_name(language, windows)
    flags = C_FLAGS if language == "c" else CXX_FLAGS
    _run_compiler([tool, *flags, f"-I{get_include()}", str(source), "-o", str(out),
                   *(["-static", "-luuid"] if windows else [])], out.name)
    return out


def prebuilt_header_user(language: str) -> Path:
    path = Path(os.environ["MAPISYNC_TEST_NATIVE_DIR"]) / header_user_name(language)
    if not path.exists():
        raise RuntimeError(f"MAPISYNC_TEST_NATIVE_DIR has no {path.name}")
    return path


def compile_executable(name: str, out_dir: Path, tool: Optional[str] = None, windows: bool = False) -> Path:
    tool = tool or compiler("c")
    out = out_dir / f"{name}{'.exe' if windows else ''}"
    platform = ["-static", "-luuid", "-lshell32"] if windows else ["-pthread", "-ldl"]
    _run_compiler([tool, *C_FLAGS, f"-I{get_include()}", f"-I{NATIVE_SRC}",
                   *[str(source) for source in EXECUTABLES[name]], "-o", str(out), *platform], name)
    return out


def executable_path(name: str, build_dir: Path) -> Path:
    prebuilt = os.environ.get("MAPISYNC_TEST_NATIVE_DIR")
    if prebuilt:
        return Path(prebuilt) / f"{name}{'.exe' if sys.platform == 'win32' else ''}"
    return compile_executable(name, build_dir)


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
    _declare(host, "host_short_threads", c_int, P, c_int, c_int, c_int)
    _declare(host, "host_error_on_new_thread", HRESULT, P, HRESULT)
    _declare(host, "host_spin_progress", c_int, P)
    _declare(host, "host_stack_balance", c_int, P, c_int)
    gil_holder = ctypes.PyDLL(host._name)  # PyDLL keeps the GIL during the call
    _declare(gil_holder, "host_refcount_without_gil", c_int, P, c_int, c_int, POINTER(HRESULT))
    libs["host_gil"] = gil_holder
    _declare(host, "host_release", c_uint32, P, c_int)
    _declare(host, "host_addref", c_uint32, P)
    _declare(host, "host_sync_bytes", HRESULT, P, c_char_p, c_size_t, c_int)
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
    sync = libs["sync_host"]
    _declare(sync, "sync_host_run", HRESULT, P, c_uint32, c_int, c_int, c_int, POINTER(SyncReport))
    _declare(sync, "sync_host_reject", HRESULT, P, c_int, POINTER(SyncReport))
    _declare(sync, "sync_host_concurrent", c_int, P, c_int, c_int, POINTER(SyncReport))
    _declare(sync, "sync_host_start", c_int, P, POINTER(SyncReport))
    _declare(sync, "sync_host_concurrent_each", c_int, P, c_int, POINTER(c_int), c_int, POINTER(SyncReport))
    factory = [POINTER(GUID), POINTER(c_void_p)]
    for name in FACTORIES:
        _declare(libs["providers"], name, HRESULT, *factory)
    _declare(libs["providers"], "Reused_Number", ctypes.c_long)
    _declare(libs["example_provider"], "MapiSyncGetObject", HRESULT, *factory)
    return libs


#: the broken providers' factories in providers.c (and the good control)
FACTORIES = ["Good_GetObject", "NoDone_GetObject", "DoneTwice_GetObject", "ProgressAfterDone_GetObject",
             "KeepsCallback_GetObject", "CallerThread_GetObject", "WrongHandle_GetObject", "Late_GetObject",
             "NullHandle_GetObject", "InvalidHandle_GetObject", "ClosedHandle_GetObject", "ReusedHandle_GetObject"]


class SyncReport(ctypes.Structure):
    """sync_report of sync_host.c."""
    _fields_ = [(name, HRESULT if name.endswith("_hr") else c_int) for name in (
        "sync_hr", "done_hr", "progress", "errors", "dones", "on_caller_thread", "after_done",
        "handle_mismatch", "signalled", "refs_left", "handle_touched", "reused_signalled",
        "min_refs_in_calls", "session_min_refs", "session_refs_left", "done_before_handle")]

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name, _ in self._fields_}


def main() -> None:
    """Prebuild the libraries for MAPISYNC_TEST_NATIVE_DIR, e.g. with a mingw cross-compiler:
    python tests/native_build.py --out DIR --cc i686-w64-mingw32-gcc --cxx i686-w64-mingw32-g++ --windows
    """
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--cc")
    parser.add_argument("--cxx")
    parser.add_argument("--windows", action="store_true", help="the compilers target Windows (mingw)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (_, language) in LIBRARIES.items():
        path = compile_library(name, args.out, args.cc if language == "c" else args.cxx, args.windows)
        print(f"built {path}")
    for language, tool in (("c", args.cc), ("c++", args.cxx)):
        print(f"built {compile_header_user(language, args.out, tool, args.windows)}")
    for name in EXECUTABLES:
        print(f"built {compile_executable(name, args.out, args.cc, args.windows)}")


if __name__ == "__main__":
    main()
