"""mapisync_ctypes: MAPI background-sync COM interfaces across the Python/native boundary."""

import shutil
from pathlib import Path

from setuptools import setup
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
    install_requires=["cffi>=1.15"],
    extras_require={"test": ["pytest>=7"]},
    cmdclass={"build_py": build_py_with_header},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: C",
        "Operating System :: POSIX :: Linux",
        "Operating System :: Microsoft :: Windows",
        "Topic :: Communications :: Email",
    ],
)
