"""Checks that the sdist and the wheel built from it hold everything the README points at.

    python .ci/check_dist.py DIST_DIR

Expected files come from git: every tracked file under include/, csrc/, examples/ and tests/
must be in the sdist; every tracked mapisync_ctypes/*.py, include/ file and examples/ file
must be in the wheel (the last two inside the package), beside the native libraries.
Prints what each holds; exits 1 if anything is missing.
"""

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


def tracked(*folders: str) -> list:
    out = subprocess.run(["git", "ls-files", "--", *folders], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line and not line.endswith((".pyc",))]


def main() -> int:
    dist = Path(sys.argv[1])
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        print(f"expected one sdist and one wheel in {dist}, found {sdists + wheels}")
        return 1
    sdist, wheel = sdists[0], wheels[0]
    with tarfile.open(sdist) as tar:
        sdist_names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as zf:
        wheel_names = set(zf.namelist())
    missing = []
    for name in tracked("include", "csrc", "examples", "tests", "mapisync_ctypes", "setup.py", "pyproject.toml",
                        "README.md", "LICENSE", "MANIFEST.in"):
        if name not in sdist_names:
            missing.append(f"sdist: {name}")
    for name in tracked("mapisync_ctypes"):
        if name.endswith(".py") and name not in wheel_names:
            missing.append(f"wheel: {name}")
    for name in tracked("include", "examples"):
        if f"mapisync_ctypes/{name}" not in wheel_names:
            missing.append(f"wheel: mapisync_ctypes/{name}")
    suffix = ".dll" if "-win" in wheel.name else ".so"
    libraries = [f"mapisync_ctypes/mapisync_native{suffix}", f"mapisync_ctypes/mapisync_refhost{suffix}"]
    missing += [f"wheel: {name}" for name in libraries if name not in wheel_names]
    if "py.typed" in {Path(n).name for n in tracked("mapisync_ctypes")} and "mapisync_ctypes/py.typed" not in wheel_names:
        missing.append("wheel: mapisync_ctypes/py.typed")
    print(f"sdist {sdist.name}: {len(sdist_names)} files, {sdist.stat().st_size // 1024} KiB")
    print(f"wheel {wheel.name}: {len(wheel_names)} files, {wheel.stat().st_size // 1024} KiB; libraries: "
          + ", ".join(f"{n} ({zipfile.ZipFile(wheel).getinfo(n).file_size // 1024} KiB)" for n in libraries
                      if n in wheel_names))
    for line in missing:
        print(f"MISSING {line}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
