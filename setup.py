"""The native part of the build: what must be code. The metadata lives in pyproject.toml.

Two plain shared libraries (no Python headers, no libpython link, so one build serves every
CPython 3.9+ and the wheel is tagged py3-none-<platform>):

- mapisync_native: the compiled backend (csrc/core.h and its parts), the provider shim (csrc/shim.c) and
  the embedding C API (include/mapisync_python.c);
- mapisync_refhost: the C reference host behind ``mapisync demo`` (csrc/refhost.c).

Without a C compiler the package still installs and runs on its ctypes backend, and says so
(``mapisync info``, a warning at import). MAPISYNC_REQUIRE_NATIVE=1 turns a failed native
build into a failed install (CI sets it).

Cross-building the Windows wheels (.ci/wheels.sh): MAPISYNC_TARGET=win32 or win_amd64 with
CC/LDSHARED naming a mingw-w64 compiler, and bdist_wheel's --plat-name.
"""

import os
import shutil
import sys
from pathlib import Path
from typing import Any, List

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
REQUIRE_NATIVE = os.environ.get("MAPISYNC_REQUIRE_NATIVE", "").strip().lower() in ("1", "true", "yes", "on")
TARGET = os.environ.get("MAPISYNC_TARGET", "").strip()  # a cross-build: win32, win_amd64
WINDOWS = TARGET.startswith("win") if TARGET else sys.platform == "win32"


class PlainLibrary(Extension):
    """A plain shared library built with the extension compiler: no Python module init,
    named mapisync_*.so / .dll / .dylib."""

    def __init__(self, name: str, sources: List[str], libraries: List[str]) -> None:
        super().__init__(name, sources=sources, include_dirs=["include", "csrc"], libraries=libraries,
                         define_macros=[("MAPISYNC_PYTHON_BUILD_DLL", "1")])


def library_file(stem: str) -> str:
    if WINDOWS:
        return stem + ".dll"
    return stem + (".dylib" if sys.platform == "darwin" and not TARGET else ".so")


class build_plain_libraries(build_ext):
    """build_ext for PlainLibrary: compile and link without any Python headers or libraries."""

    def get_ext_filename(self, fullname: str) -> str:
        parts = fullname.split(".")
        return os.path.join(*parts[:-1], library_file(parts[-1]))

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # distutils raises several unrelated error types here
            self._failed(f"the native libraries were not built: {exc}")

    def build_extension(self, ext: Extension) -> None:
        try:
            self._build(ext)
        except Exception as exc:
            self._failed(f"building {ext.name} failed: {exc}")

    def _build(self, ext: Extension) -> None:
        compiler: Any = self.compiler
        compiler.set_include_dirs([])  # no Python headers: an #include <Python.h> must fail here
        compiler.set_library_dirs([])
        compiler.set_runtime_library_dirs([])
        if hasattr(compiler, "linker_so"):  # nor the interpreter's -L and rpath (pyenv's LDSHARED has them)
            compiler.linker_so = [arg for arg in compiler.linker_so
                                  if not arg.startswith(("-L", "-Wl,-rpath", "-Wl,-R"))]
        msvc = compiler.compiler_type == "msvc"
        cflags = ["/O2"] if msvc else ["-O2", "-std=c99", "-fvisibility=hidden", "-Wall"]
        cflags += os.environ.get("MAPISYNC_CFLAGS", "").split()
        objects = compiler.compile(ext.sources, output_dir=self.build_temp, include_dirs=ext.include_dirs,
                                   macros=ext.define_macros, extra_postargs=cflags, debug=self.debug)
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        ldflags = os.environ.get("MAPISYNC_LDFLAGS", "").split()
        if WINDOWS and not msvc:
            ldflags.append("-static-libgcc")  # mingw: no libgcc DLL to ship beside ours
        compiler.link_shared_object(objects, target, libraries=ext.libraries, extra_postargs=ldflags,
                                    target_lang="c", debug=self.debug)

    def _failed(self, message: str) -> None:
        if REQUIRE_NATIVE:
            raise SystemExit(f"error: {message} (MAPISYNC_REQUIRE_NATIVE=1)")
        # pip shows a successful build's output only with -v; the package says it again at run
        # time (a warning at import, and `mapisync info`).
        banner = "*" * 78
        sys.stderr.write(f"\n{banner}\nWARNING: {message}\nmapisync_ctypes will run on its ctypes backend, "
                         f"without the provider shim or the demo's reference host.\n{banner}\n\n")


class build_py_with_shipped_files(build_py):
    """Ships include/ (headers and mapisync_python.c) and examples/ inside the package."""

    def run(self) -> None:
        super().run()
        for folder in ("include", "examples"):
            target = Path(self.build_lib) / "mapisync_ctypes" / folder
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(HERE / folder, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


class bdist_wheel_plain(bdist_wheel):
    """The libraries bind to Python at run time: one wheel per platform serves every Python 3."""

    def get_tag(self) -> Any:
        _python, _abi, plat = super().get_tag()
        return "py3", "none", plat


#: the native library's C files: the compiled backend (csrc/core.h), then the provider shim
NATIVE_PARTS = ["pyapi", "threadstate", "objects", "dispatch", "callers", "shim"]
system_libs = ["dl", "pthread"] if sys.platform.startswith("linux") and not WINDOWS else []
libraries = [
    PlainLibrary("mapisync_ctypes.mapisync_native", [f"csrc/{part}.c" for part in NATIVE_PARTS], system_libs),
    # IID_IUnknown comes from uuid.lib / libuuid.a on Windows
    PlainLibrary("mapisync_ctypes.mapisync_refhost", ["csrc/refhost.c"], system_libs + (["uuid"] if WINDOWS else [])),
]

setup(
    ext_modules=libraries,
    cmdclass={"build_ext": build_plain_libraries, "build_py": build_py_with_shipped_files,
              "bdist_wheel": bdist_wheel_plain},
)
