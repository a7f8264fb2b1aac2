"""The native fast path against its targets, for both backends, with floors from the same run.

    python benchmarks/fastpath.py [--rounds 7] [--calls 200000] [--quick]

Each backend runs in a child process of its own (MAPISYNC_BACKEND picks it at import);
inside a child every path and floor is measured in alternating rounds, and the ratios are
medians of per-round ratios. Targets (issue 6): AddRef+Release <= 3x a C object's; Progress
dispatch <= 1.25x a raw ctypes trampoline of the same prototype; a proxy's Progress(str)
<= 0.5x ctypes by hand; 100,000 create/com_pointer/Release cycles grow RSS <= 1 MB.
"""

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

RAW_CFFI = r"""
#include <stdint.h>
#include <uchar.h>
static int32_t raw_noop(void *, const uint16_t *, uint32_t, uint32_t);
static uintptr_t raw_noop_address(void) { return (uintptr_t)&raw_noop; }
typedef int32_t (*progress_fn)(void *, const char16_t *, uint32_t, uint32_t);
static int32_t raw_progress(uintptr_t this_, const char16_t *text, uint32_t i, uint32_t n)
{ return ((progress_fn)(*(void ***)this_)[3])((void *)this_, text, i, n); }
"""


def raw_cffi_module(folder):
    """Floors compiled here (cffi API mode): an extern "Python" no-op with the Progress
    prototype, and a call through a vtable's Progress slot taking a str."""
    import cffi
    ffi = cffi.FFI()
    ffi.cdef('extern "Python" int32_t raw_noop(void *, const uint16_t *, uint32_t, uint32_t);'
             "uintptr_t raw_noop_address(void);"
             "int32_t raw_progress(uintptr_t, const char16_t *, uint32_t, uint32_t);")
    ffi.set_source("_fastpath_raw", RAW_CFFI)
    ffi.compile(tmpdir=folder, verbose=False)
    sys.path.insert(0, folder)
    import _fastpath_raw
    _fastpath_raw.ffi.def_extern(name="raw_noop")(lambda this, text, i, n: 0)
    return _fastpath_raw


def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(backend, rounds, calls, quick):
    os.environ["MAPISYNC_BACKEND"] = backend
    import mapisync_ctypes as mapi
    from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, IMAPISync, SyncProvider, com_pointer, wrap
    from _bench import load_host, python_loop, run_rounds

    class NoOp(COMObject):
        _com_interfaces_ = [IMAPISyncProgressCallback]

        def Progress(self, text, ulIndex, ulIndexMax):
            return None

    folder = tempfile.mkdtemp()
    lib = load_host(None, folder)
    n, py_calls = calls, max(calls // 4, 1000)
    c_obj = lib.bench_c_object()
    ours = com_pointer(NoOp(), IMAPISyncProgressCallback)
    raw_ctypes = mapi.FUNCTYPE(mapi.HRESULT, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint16),
                               ctypes.c_uint32, ctypes.c_uint32)(lambda this, text, i, m: 0)
    raw_ctypes_address = ctypes.cast(raw_ctypes, ctypes.c_void_p).value
    paths = {
        "floor: C vtable Progress": lambda: lib.bench_progress(c_obj, n) / n,
        "floor: C AddRef+Release": lambda: lib.bench_addref_release(c_obj, n) / n,
        "floor: raw ctypes trampoline": lambda: lib.bench_raw(raw_ctypes_address, n) / n,
        "ours: dispatch Progress (C -> Python)": lambda: lib.bench_progress(ours, n) / n,
        "ours: AddRef+Release from C": lambda: lib.bench_addref_release(ours, n) / n,
    }
    raw = None
    try:
        raw = raw_cffi_module(folder)
        raw_address = raw.lib.raw_noop_address()
        paths["floor: raw cffi extern \"Python\""] = lambda: lib.bench_raw(raw_address, n) / n
    except Exception as exc:  # no compiler for a one-off module: say so
        print(f"(no raw cffi floor: {exc})", file=sys.stderr)
    proxy = wrap(c_obj, IMAPISyncProgressCallback)
    vtbl = ctypes.c_void_p.from_address(c_obj).value
    slot = ctypes.c_void_p.from_address(vtbl + 3 * ctypes.sizeof(ctypes.c_void_p)).value
    by_hand = mapi.FUNCTYPE(mapi.HRESULT, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32)(slot)
    text = "Syncing Inbox"
    paths["floor: ctypes by hand (encode + call)"] = python_loop(
        py_calls, lambda: by_hand(c_obj, (text + "\0").encode("utf-16-le"), 1, 2))
    if raw is not None:
        paths["floor: cffi API call with str"] = python_loop(py_calls, lambda: raw.lib.raw_progress(c_obj, text, 1, 2))
    paths["ours: proxy.Progress(str) (Python -> C)"] = python_loop(py_calls, lambda: proxy.Progress(text, 1, 2))
    samples = run_rounds(paths, rounds)

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(samples[a], samples[b]))

    result = {
        "backend": mapi.BACKEND,
        "ns": {name: statistics.median(v) for name, v in samples.items()},
        "ratios": {
            "AddRef+Release / C (target <= 3)": ratio("ours: AddRef+Release from C", "floor: C AddRef+Release"),
            "dispatch / raw ctypes trampoline (target <= 1.25)": ratio(
                "ours: dispatch Progress (C -> Python)", "floor: raw ctypes trampoline"),
            "proxy / ctypes by hand (target <= 0.5)": ratio(
                "ours: proxy.Progress(str) (Python -> C)", "floor: ctypes by hand (encode + call)"),
        },
    }
    if "floor: raw cffi extern \"Python\"" in samples:
        result["ratios"]["dispatch / raw cffi extern Python"] = ratio(
            "ours: dispatch Progress (C -> Python)", "floor: raw cffi extern \"Python\"")
    proxy.release()

    # memory: create, com_pointer, Release (from C), 100,000 times
    cycles = 20_000 if quick else 100_000
    for _ in range(5_000):
        lib.bench_release(com_pointer(NoOp(), IMAPISyncProgressCallback))
    before = rss_bytes()
    for _ in range(cycles):
        lib.bench_release(com_pointer(NoOp(), IMAPISyncProgressCallback))
    growth = rss_bytes() - before
    from mapisync_ctypes.com.backends import active
    per_object = active().object_bytes(1)
    result["memory"] = {"cycles": cycles, "rss_growth_bytes": growth, "native_bytes_per_object": per_object}

    # throughput: syncs of 100 Progress each, from a C host, 1 and 8 at a time
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import native_build
    from pathlib import Path
    host = ctypes.CDLL(str(native_build.compile_library("sync_host", Path(folder))))
    host.sync_host_concurrent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(native_build.SyncReport)]

    class Hundred(SyncProvider):
        def synchronize(self, job):
            for i in range(100):
                job.progress("step", i, 100)

    provider = com_pointer(Hundred(), IMAPISync)
    syncs = 200 if quick else 1000
    result["throughput"] = {}
    for at_once in (1, 8):
        reports = (native_build.SyncReport * at_once)()
        t0 = time.perf_counter()
        for _ in range(syncs // at_once):
            host.sync_host_concurrent(provider, at_once, 0, reports)
        elapsed = time.perf_counter() - t0
        bad = [r for r in reports if r.progress != 100 or r.dones != 1]
        result["throughput"][str(at_once)] = {"syncs": syncs, "events_per_s": syncs * 100 / elapsed,
                                              "bad_reports": len(bad)}
    lib.bench_release(provider)
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="fewer memory cycles and syncs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rounds, args.calls, args.quick)
        return
    results = []
    for backend in ("native", "ctypes"):
        env = dict(os.environ, MAPISYNC_BACKEND=backend,
                   PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
        cmd = [sys.executable, __file__, "--child", backend, "--rounds", str(args.rounds), "--calls", str(args.calls)]
        run = subprocess.run(cmd + (["--quick"] if args.quick else []), capture_output=True, text=True, env=env)
        if run.returncode != 0:
            print(f"{backend}: failed\n{run.stderr}")
            continue
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    for r in results:
        print(f"== backend {r['backend']} ==")
        for name, ns in r["ns"].items():
            print(f"  {name:52} {ns:9.1f} ns")
        for name, value in r["ratios"].items():
            print(f"  ratio {name:46} {value:6.2f}x")
        mem = r["memory"]
        print(f"  memory: {mem['cycles']} create/com_pointer/Release cycles grew RSS by "
              f"{mem['rss_growth_bytes'] / 1024:.0f} KiB; native bytes per object {mem['native_bytes_per_object']}")
        for at_once, t in r["throughput"].items():
            print(f"  throughput: {t['syncs']} syncs x 100 Progress, {at_once} at a time: "
                  f"{t['events_per_s']:,.0f} events/s ({t['bad_reports']} bad reports)")
    print(f"(Python {sys.version.split()[0]}, {sys.platform}; {args.rounds} rounds, {args.calls} native calls "
          f"per measurement; medians)")


if __name__ == "__main__":
    main()
