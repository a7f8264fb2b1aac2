"""mapisync_ctypes against comtypes, side by side in one run (Windows Python; under Wine here).

    .ci/windows-under-wine.sh --bench          # every lane interpreter, prebuilt C loops
    python benchmarks/comtypes_compare.py --host-lib bench_host.dll [--rounds 7] [--calls 100000]

- native -> Python: a C loop calls Progress on a comtypes COMObject and on ours;
- AddRef/Release: the same C loop on both objects, and on a C object (the floor);
- Python -> native: a comtypes call of a C object's Progress against our proxy's.
A raw WINFUNCTYPE trampoline and a C object give the floors. Quote the ratios; the targets
(issue 13) are printed beside them: AddRef+Release <= 2x a C object; Progress dispatch
<= 0.45x comtypes; proxy.Progress(str) <= 0.7x a comtypes interface-pointer call.
"""

import ctypes
import os
import sys
import tempfile

import comtypes

import mapisync_ctypes as mapi
from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer, wrap
from mapisync_ctypes.comtypes_bridge import comtypes_interface

# A ._pth file (the embeddable Windows Python) leaves the script's folder off sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import arguments, load_host, python_loop, report, run_rounds  # noqa: E402


ICTProgressCallback = comtypes_interface(IMAPISyncProgressCallback)  # comtypes' class, from our declaration


class TheirsNoOp(comtypes.COMObject):
    _com_interfaces_ = [ICTProgressCallback]

    def Progress(self, text, ulIndex, ulIndexMax):
        return None


class OursNoOp(COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback]

    def Progress(self, text, ulIndex, ulIndexMax):
        return None


def main() -> None:
    args = arguments(__doc__, 100_000)
    n, py_calls = args.calls, max(args.calls // 4, 1000)

    with tempfile.TemporaryDirectory() as folder:
        lib = load_host(args.host_lib, folder)
        theirs_obj = TheirsNoOp()
        theirs_ptr = theirs_obj.QueryInterface(ICTProgressCallback)
        theirs = ctypes.cast(theirs_ptr, ctypes.c_void_p).value
        ours_obj = OursNoOp()
        ours = com_pointer(ours_obj, IMAPISyncProgressCallback)
        raw = mapi.FUNCTYPE(mapi.HRESULT, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint16),
                            ctypes.c_uint32, ctypes.c_uint32)(lambda this, text, i, m: 0)
        raw_address = ctypes.cast(raw, ctypes.c_void_p).value
        c_obj = lib.bench_c_object()
        c_theirs = ctypes.cast(ctypes.c_void_p(c_obj), ctypes.POINTER(ICTProgressCallback))
        c_theirs.AddRef()  # the cast pointer releases once when collected
        c_ours = wrap(c_obj, IMAPISyncProgressCallback)
        text = "Syncing Inbox"

        paths = {
            "C -> Python Progress: comtypes COMObject": lambda: lib.bench_progress(theirs, n) / n,
            "C -> Python Progress: ours": lambda: lib.bench_progress(ours, n) / n,
            "C -> Python Progress: raw WINFUNCTYPE trampoline": lambda: lib.bench_raw(raw_address, n) / n,
            "C AddRef+Release: comtypes COMObject": lambda: lib.bench_addref_release(theirs, n) / n,
            "C AddRef+Release: ours": lambda: lib.bench_addref_release(ours, n) / n,
            "C AddRef+Release: C object (floor)": lambda: lib.bench_addref_release(c_obj, n) / n,
            "Python -> C Progress(str): comtypes pointer": python_loop(py_calls, lambda: c_theirs.Progress(text, 1, 2)),
            "Python -> C Progress(str): our proxy": python_loop(py_calls, lambda: c_ours.Progress(text, 1, 2)),
            # a host repeats its text and count; here both change on every call, so nothing is shared
            "C -> Python Progress, nothing repeated: comtypes": lambda: lib.bench_progress_changing(theirs, n) / n,
            "C -> Python Progress, nothing repeated: ours": lambda: lib.bench_progress_changing(ours, n) / n,
        }
        samples = run_rounds(paths, args.rounds)
        c_ours.release()
        wrap(ours, mapi.IUnknown, addref=False).release()


    k = list(paths)
    report(f"mapisync_ctypes ({mapi.BACKEND} backend) against comtypes {comtypes.__version__}", samples, [
        ("dispatch: ours / comtypes (target <= 0.45)", k[1], k[0]),
        ("dispatch: comtypes / raw trampoline", k[0], k[2]),
        ("dispatch: ours / raw trampoline", k[1], k[2]),
        ("AddRef+Release: ours / C object (target <= 2)", k[4], k[5]),
        ("AddRef+Release: ours / comtypes", k[4], k[3]),
        ("Python -> C: ours / comtypes (target <= 0.7)", k[7], k[6]),
        ("dispatch, nothing repeated: ours / comtypes", k[9], k[8]),
    ], f"{args.rounds} rounds; {n} native and {py_calls} Python calls per measurement; "
       f"Python {sys.version.split()[0]} {8 * ctypes.sizeof(ctypes.c_void_p)}-bit, {sys.platform}")


if __name__ == "__main__":
    main()
