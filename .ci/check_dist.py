"""Checks that the sdist and the wheel built from it hold everything the README points at.

    python .ci/check_dist.py DIST_DIR

Expected files come from git: every tracked file under include/, csrc/, examples/, tests/ and
docs/ must be in the sdist; every tracked mapisync_ctypes/*.py, include/ file and examples/ file
must be in each wheel (the last two inside the package), beside the native libraries.
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


def check_wheel(wheel: Path, missing: list) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = {info.filename: info.file_size for info in zf.infolist()}
    for name in tracked("mapisync_ctypes"):
        if name.endswith(".py") and name not in names:
            missing.append(f"{wheel.name}: {name}")
    for name in tracked("include", "examples"):
        if f"mapisync_ctypes/{name}" not in names:
            missing.append(f"{wheel.name}: mapisync_ctypes/{name}")
    suffix, other = (".dll", ".so") if "-win" in wheel.name else (".so", ".dll")
    libraries = [f"mapisync_ctypes/mapisync_native{suffix}", f"mapisync_ctypes/mapisync_refhost{suffix}"]
    missing += [f"{wheel.name}: {name}" for name in libraries if name not in names]
    missing += [f"{wheel.name}: holds {name}, a library for another platform" for name in names if name.endswith(other)]
    if "mapisync_ctypes/py.typed" in tracked("mapisync_ctypes") and "mapisync_ctypes/py.typed" not in names:
        missing.append(f"{wheel.name}: mapisync_ctypes/py.typed")
    tag = wheel.name[:-4].split("-", 2)[2]
    print(f"wheel {wheel.name}: {len(names)} files, {wheel.stat().st_size // 1024} KiB, tag {tag}; "
          + ", ".join(f"{Path(n).name} {names[n] // 1024} KiB" for n in libraries if n in names))


def main() -> int:
    dist = Path(sys.argv[1])
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or not wheels:
        print(f"expected one sdist and some wheels in {dist}, found {sdists + wheels}")
        return 1
    sdist = sdists[0]
    with tarfile.open(sdist) as tar:
        sdist_names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    missing = [f"{sdist.name}: {name}" for name in tracked(
        "include", "csrc", "examples", "tests", "docs", "mapisync_ctypes", "setup.py", "pyproject.toml",
        "README.md", "CHANGELOG.md", "LICENSE", "MANIFEST.in") if name not in sdist_names]
    print(f"sdist {sdist.name}: {len(sdist_names)} files, {sdist.stat().st_size // 1024} KiB")
    for wheel in wheels:
        check_wheel(wheel, missing)
    for line in missing:
        print(f"MISSING {line}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
