"""ns per call across the boundary, against raw ctypes, cffi and C floors in the same run.

    python benchmarks/dispatch.py [--rounds 7] [--calls 200000] [--host-lib bench_host.so]

Each round measures every path once, in turn, so a noisy neighbour hits them alike;
the report gives the median ns per call and the median of the per-round ratios.
Quote ratios, not absolute ns. Runs on Linux and in Windows Python (pass a
prebuilt --host-lib there; .ci/windows-under-wine.sh --bench does).
"""

import ctypes
import os
import sys
import tempfile

import cffi

import mapisync_ctypes as mapi
from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer, wrap

# A ._pth file (the embeddable Windows Python) leaves the script's folder off sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import arguments, load_host, python_loop, report, run_rounds  # noqa: E402

# __stdcall is what the vtable uses on 32-bit Windows; cffi ignores it elsewhere.
CFFI_PROGRESS = "int32_t(__stdcall *)(void *, {text}, uint32_t, uint32_t)"


class NoOp(COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback]

    def Progress(self, text, ulIndex, ulIndexMax):
        return None


def main() -> None:
    args = arguments(__doc__, 200_000)
    n, py_calls = args.calls, max(args.calls // 4, 1000)

    with tempfile.TemporaryDirectory() as folder:
        lib = load_host(args.host_lib, folder)
        ffi = cffi.FFI()
        c_obj = lib.bench_c_object()
        obj = NoOp()
        ours = com_pointer(obj, IMAPISyncProgressCallback)

        raw_ctypes = mapi.FUNCTYPE(mapi.HRESULT, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint16),
                                   ctypes.c_uint32, ctypes.c_uint32)(lambda this, text, i, m: 0)
        raw_cffi = ffi.callback(CFFI_PROGRESS.format(text="uint16_t *"), lambda this, text, i, m: 0)
        raw_cffi_address = int(ffi.cast("uintptr_t", raw_cffi))

        proxy = wrap(c_obj, IMAPISyncProgressCallback)
        c_vtbl = ctypes.c_void_p.from_address(c_obj).value
        c_progress = ctypes.c_void_p.from_address(c_vtbl + 3 * ctypes.sizeof(ctypes.c_void_p)).value
        hand_ctypes = mapi.FUNCTYPE(mapi.HRESULT, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32,
                                    ctypes.c_uint32)(c_progress)
        cffi_fn = ffi.cast(CFFI_PROGRESS.format(text="char16_t *"), c_progress)
        cffi_this = ffi.cast("void *", c_obj)
        text = "Syncing Inbox"

        paths = {
            "C -> Python: COMObject.Progress (ours)": lambda: lib.bench_progress(ours, n) / n,
            "C -> Python: raw ctypes trampoline": lambda: lib.bench_raw(ctypes.cast(raw_ctypes, ctypes.c_void_p), n) / n,
            "C -> Python: raw cffi callback (ABI mode)": lambda: lib.bench_raw(raw_cffi_address, n) / n,
            "C -> C: vtable Progress (floor)": lambda: lib.bench_progress(c_obj, n) / n,
            "C: AddRef+Release on COMObject (ours)": lambda: lib.bench_addref_release(ours, n) / n,
            "C: AddRef+Release on a C object (floor)": lambda: lib.bench_addref_release(c_obj, n) / n,
            "Python -> C: proxy.Progress(str) (ours)": python_loop(py_calls, lambda: proxy.Progress(text, 1, 2)),
            "Python -> C: ctypes by hand (encode + call)": python_loop(
                py_calls, lambda: hand_ctypes(c_obj, (text + "\0").encode("utf-16-le"), 1, 2)),
            "Python -> C: cffi ABI-mode call (str)": python_loop(py_calls, lambda: cffi_fn(cffi_this, text, 1, 2)),
            # a host repeats its text and count; here both change on every call, so nothing is shared
            "C -> Python: Progress, nothing repeated (ours)": lambda: lib.bench_progress_changing(ours, n) / n,
        }
        samples = run_rounds(paths, args.rounds)
        proxy.release()
        wrap(ours, mapi.IUnknown, addref=False).release()

    k = list(paths)
    report("mapisync_ctypes dispatch", samples, [
        ("dispatch: ours / raw ctypes trampoline", k[0], k[1]),
        ("dispatch: ours / raw cffi callback", k[0], k[2]),
        ("dispatch: ours / C floor", k[0], k[3]),
        ("AddRef+Release: ours / C floor", k[4], k[5]),
        ("proxy call: ours / ctypes by hand", k[6], k[7]),
        ("proxy call: ours / cffi ABI-mode call", k[6], k[8]),
        ("dispatch, nothing repeated: ours / raw ctypes", k[9], k[1]),
    ], f"{args.rounds} rounds; {n} native and {py_calls} Python calls per measurement; "
       f"Python {sys.version.split()[0]} {8 * ctypes.sizeof(ctypes.c_void_p)}-bit, {sys.platform}")


if __name__ == "__main__":
    main()
