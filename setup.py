"""mapisync_ctypes: MAPI background-sync COM interfaces across the Python/native boundary."""

import os
import shutil
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class build_py_with_header(build_py):
    """Ships include/mapisync.h inside the package, where get_include() looks first."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "mapisync_ctypes" / "include"
        target.mkdir(parents=True, exist_ok=True)
        for header in (HERE / "include").glob("*.h"):
            shutil.copy2(header, target / header.name)


class optional_build_ext(build_ext):
    """The native parts are plain C libraries (no Python API): the reference host behind
    `mapisync demo` and the provider shim. Without a C compiler the package still installs;
    only those are missing."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # distutils raises several unrelated error types here
            self.warn(f"the native libraries were not built ({exc})")
        if self.inplace:  # extensions were copied into the source tree after building
            self._plain_shim_name(self.get_ext_fullpath(SHIM))

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self.warn(f"building {ext.name} failed ({exc})")
            return
        if ext.name == SHIM and not self.inplace:
            self._plain_shim_name(self.get_ext_fullpath(ext.name))

    @staticmethod
    def _plain_shim_name(built: str) -> None:
        """Hosts load the shim, they don't import it: give it a plain name as well."""
        if os.path.exists(built):
            suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
            shutil.copy2(built, os.path.join(os.path.dirname(built), "mapisync_shim" + suffix))


# The provider shim: MapiSyncGetObject plus the embedding API of include/mapisync_python.c.
# It binds to libpython at run time, so it links no Python library.
SHIM = "mapisync_ctypes.mapisync_shim"
shim = Extension(
    SHIM,
    sources=["mapisync_ctypes/_shim.c"],
    include_dirs=["include"],
    libraries=["dl", "pthread"] if sys.platform.startswith("linux") else [],
)

refhost = Extension(
    "mapisync_ctypes._refhost",
    sources=["mapisync_ctypes/_refhost.c"],
    include_dirs=["include"],
    libraries=["uuid"] if sys.platform == "win32" and "GCC" in sys.version else [],
)

setup(
    name="mapisync_ctypes",
    version="0.1.0",
    description="MAPI background sync (IMAPISync, IMAPISyncProgressCallback) as real COM "
                "objects across the Python/native boundary, with ctypes and cffi",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=["mapisync_ctypes"],
    python_requires=">=3.9",
    setup_requires=["cffi>=1.15"],
    install_requires=["cffi>=1.15"],
    extras_require={"test": ["pytest>=7", "hypothesis>=6"]},
    ext_modules=[shim, refhost],
    # The native backend (a cffi API-mode extension); optional like the rest.
    cffi_modules=["mapisync_ctypes/_native_build.py:ffi"],
    cmdclass={"build_py": build_py_with_header, "build_ext": optional_build_ext},
    entry_points={
        "console_scripts": ["mapisync = mapisync_ctypes.cli:main"],
        "pytest11": ["mapisync = mapisync_ctypes.pytest_plugin"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: C",
        "Operating System :: POSIX :: Linux",
        "Operating System :: Microsoft :: Windows",
        "Topic :: Communications :: Email",
    ],
)
