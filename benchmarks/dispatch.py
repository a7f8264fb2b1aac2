"""ns per call across the boundary, against raw ctypes, cffi and C floors in the same run.

    python benchmarks/dispatch.py [--rounds 7] [--calls 200000]

Each round measures every path once, in turn (A, B, C, ... A, B, C, ...), so a
noisy neighbour hits them alike; the table gives the median ns per call over the
rounds and the median of the per-round ratios. Quote ratios, not absolute ns.
"""

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

import cffi

import mapisync_ctypes as mapi
from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer, wrap

HERE = os.path.dirname(os.path.abspath(__file__))


class NoOp(COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback]

    def Progress(self, text, ulIndex, ulIndexMax):
        return None


def build(folder: str) -> ctypes.CDLL:
    suffix = ".dll" if sys.platform == "win32" else ".so"
    out = os.path.join(folder, "bench_host" + suffix)
    subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", f"-I{mapi.get_include()}",
                    os.path.join(HERE, "bench_host.c"), "-o", out], check=True)
    lib = ctypes.CDLL(out)
    for name in ("bench_progress", "bench_raw", "bench_addref_release"):
        getattr(lib, name).restype = ctypes.c_int64
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.bench_c_object.restype = ctypes.c_void_p
    return lib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200_000, help="native-loop calls per measurement")
    args = parser.parse_args()
    n = args.calls

    with tempfile.TemporaryDirectory() as folder:
        lib = build(folder)
        ffi = cffi.FFI()
        c_obj = lib.bench_c_object()
        obj = NoOp()
        ours = com_pointer(obj, IMAPISyncProgressCallback)

        proto = IMAPISyncProgressCallback.methods[3].prototype
        raw_ctypes = mapi.FUNCTYPE(mapi.HRESULT, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint16),
                                   ctypes.c_uint32, ctypes.c_uint32)(lambda this, text, i, m: 0)
        raw_cffi = ffi.callback("int32_t(void *, uint16_t *, uint32_t, uint32_t)", lambda this, text, i, m: 0)
        raw_cffi_address = int(ffi.cast("uintptr_t", raw_cffi))

        proxy = wrap(c_obj, IMAPISyncProgressCallback)
        c_vtbl = ctypes.c_void_p.from_address(c_obj).value
        c_progress = ctypes.c_void_p.from_address(c_vtbl + 3 * ctypes.sizeof(ctypes.c_void_p)).value
        hand_ctypes = mapi.FUNCTYPE(mapi.HRESULT, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32,
                                    ctypes.c_uint32)(c_progress)
        cffi_fn = ffi.cast("int32_t(*)(void *, char16_t *, uint32_t, uint32_t)", c_progress)
        cffi_this = ffi.cast("void *", c_obj)
        text = "Syncing Inbox"
        py_calls = max(n // 4, 1000)

        def from_python(body: Callable[[], None]) -> float:
            t0 = time.perf_counter_ns()
            for _ in range(py_calls):
                body()
            return (time.perf_counter_ns() - t0) / py_calls

        paths: Dict[str, Callable[[], float]] = {
            "C -> Python: COMObject.Progress (ours)": lambda: lib.bench_progress(ours, n) / n,
            "C -> Python: raw ctypes trampoline": lambda: lib.bench_raw(ctypes.cast(raw_ctypes, ctypes.c_void_p), n) / n,
            "C -> Python: raw cffi callback (ABI)": lambda: lib.bench_raw(raw_cffi_address, n) / n,
            "C -> C: vtable Progress (floor)": lambda: lib.bench_progress(c_obj, n) / n,
            "C: AddRef+Release on COMObject (ours)": lambda: lib.bench_addref_release(ours, n) / n,
            "C: AddRef+Release on a C object (floor)": lambda: lib.bench_addref_release(c_obj, n) / n,
            "Python -> C: proxy.Progress(str) (ours)": lambda: from_python(lambda: proxy.Progress(text, 1, 2)),
            "Python -> C: ctypes by hand (encode + call)": lambda: from_python(
                lambda: hand_ctypes(c_obj, (text + "\0").encode("utf-16-le"), 1, 2)),
            "Python -> C: cffi ABI call (str)": lambda: from_python(lambda: cffi_fn(cffi_this, text, 1, 2)),
        }
        samples: Dict[str, List[float]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, measure in paths.items():
                samples[name].append(measure())
        proxy.release()
        mapi.wrap(ours, mapi.IUnknown, addref=False).release()

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(samples[a], samples[b]))

    print(f"{'path':48} {'median ns/call':>15}")
    for name, values in samples.items():
        print(f"{name:48} {statistics.median(values):15.1f}")
    print()
    keys = list(paths)
    print("median of per-round ratios:")
    print(f"  dispatch, ours / raw ctypes trampoline : {ratio(keys[0], keys[1]):6.2f}x")
    print(f"  dispatch, ours / raw cffi callback     : {ratio(keys[0], keys[2]):6.2f}x")
    print(f"  dispatch, ours / C floor               : {ratio(keys[0], keys[3]):6.1f}x")
    print(f"  AddRef+Release, ours / C floor         : {ratio(keys[4], keys[5]):6.1f}x")
    print(f"  proxy call, ours / ctypes by hand      : {ratio(keys[6], keys[7]):6.2f}x")
    print(f"  proxy call, ours / cffi ABI call       : {ratio(keys[6], keys[8]):6.2f}x")
    print(f"({args.rounds} rounds, {n} native calls and {py_calls} Python calls per measurement, "
          f"Python {sys.version.split()[0]}, {sys.platform})")


if __name__ == "__main__":
    main()
