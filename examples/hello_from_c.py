"""C code calls a Python object through its COM vtable.

Compiles examples/hello_host.c with the system C compiler, hands it a Python
IMAPISyncProgressCallback as a raw IUnknown pointer, and lets C drive it.
Run: python examples/hello_from_c.py
"""

import ctypes
import os
import subprocess
import sys
import tempfile

import mapisync_ctypes as mapi
from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer, format_hresult


class ProgressPrinter(COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback]

    def Progress(self, text, ulIndex, ulIndexMax):
        print(f"  Progress  {ulIndex}/{ulIndexMax}  {text}")

    def Error(self, hResult, text):
        print(f"  Error     {format_hresult(hResult)}: {text}")

    def Done(self, hThreadDoneEvent, hResult):
        print(f"  Done      {format_hresult(hResult)}")


def build_host(folder: str) -> ctypes.CDLL:
    here = os.path.dirname(os.path.abspath(__file__))
    suffix = ".dll" if sys.platform == "win32" else ".so"
    library = os.path.join(folder, "hello_host" + suffix)
    compiler = os.environ.get("CC", "cc")
    subprocess.run([compiler, "-shared", "-fPIC", f"-I{mapi.get_include()}",
                    os.path.join(here, "hello_host.c"), "-o", library], check=True)
    return ctypes.CDLL(library)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        host = build_host(folder)
        host.report_sync.argtypes = [ctypes.c_void_p]
        host.report_sync.restype = mapi.HRESULT
        callback = ProgressPrinter()
        unknown = com_pointer(callback)  # one reference, owned by us
        print(f"C host calls the Python object at 0x{unknown:x}:")
        hr = host.report_sync(unknown)
        mapi.wrap(unknown, mapi.IUnknown, addref=False).release()  # give our reference back
        print(f"report_sync returned {format_hresult(hr)}; references left: "
              f"{mapi.com_refcount(callback)}")
    return 0 if hr == mapi.S_OK else 1


if __name__ == "__main__":
    sys.exit(main())
