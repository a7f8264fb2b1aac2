"""Calls from native threads: dispatch from a thread Python never saw against the same call
from a Python thread, and aggregate throughput with 1 and 8 host threads, on both backends.

    python benchmarks/threads.py [--rounds 7] [--calls 100000] [--host-lib bench_host.so]

Each backend runs in a child process. Per round every path runs once, in turn; the report
gives median ns per call and the median of per-round ratios. The raw ctypes callback (what a
ctypes-based bridge such as comtypes dispatches through) and, where installed, a comtypes
COMObject show what a thread Python never saw costs without a kept thread state.
Targets: foreign / Python thread <= 1.5 (native backend), <= 2 (ctypes backend).
"""

import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # a ._pth file may leave it off
from _bench import arguments, load_host, run_rounds  # noqa: E402

TARGETS = {"native": 1.5, "ctypes": 2.0}


def child(rounds: int, calls: int, host_lib: str) -> None:
    import mapisync_ctypes as mapi
    from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer, wrap

    class NoOp(COMObject):
        _com_interfaces_ = [IMAPISyncProgressCallback]

        def Progress(self, text, ulIndex, ulIndexMax):
            return None

    with tempfile.TemporaryDirectory() as folder:
        lib = load_host(host_lib or None, folder)
        n, per_thread = calls, max(calls // 8, 1000)
        ours = com_pointer(NoOp(), IMAPISyncProgressCallback)
        raw = mapi.FUNCTYPE(mapi.HRESULT, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint16),
                            ctypes.c_uint32, ctypes.c_uint32)(lambda this, text, i, m: 0)
        raw_address = ctypes.cast(raw, ctypes.c_void_p).value
        slow = max(n // 20, 500)  # a raw callback from a foreign thread is slow: fewer calls
        paths = {
            "dispatch Progress, a Python thread": lambda: lib.bench_progress(ours, n) / n,
            "dispatch Progress, a foreign thread": lambda: lib.bench_progress_foreign(ours, n) / n,
            "raw ctypes callback, a Python thread": lambda: lib.bench_raw(raw_address, n) / n,
            "raw ctypes callback, a foreign thread": lambda: lib.bench_raw_foreign(raw_address, slow) / slow,
            "throughput, 1 host thread (ns per call)": lambda: lib.bench_progress_threads(ours, 8 * per_thread, 1)
            / (8 * per_thread),
            "throughput, 8 host threads (ns per call)": lambda: lib.bench_progress_threads(ours, per_thread, 8)
            / (8 * per_thread),
        }
        theirs = _comtypes_object()
        if theirs is not None:
            address = theirs[1]
            paths["comtypes COMObject, a Python thread"] = lambda: lib.bench_progress(address, n) / n
            paths["comtypes COMObject, a foreign thread"] = lambda: lib.bench_progress_foreign(address, slow) / slow
        samples = run_rounds(paths, rounds)
        wrap(ours, mapi.IUnknown, addref=False).release()
    print(json.dumps({"backend": mapi.BACKEND, "samples": samples}))


def _comtypes_object():
    """A comtypes COMObject implementing the callback, where comtypes is installed (Windows)."""
    try:
        import comtypes
        from mapisync_ctypes.comtypes_bridge import comtypes_interface
        from mapisync_ctypes import IMAPISyncProgressCallback
    except ImportError:
        return None
    interface = comtypes_interface(IMAPISyncProgressCallback)

    class Theirs(comtypes.COMObject):
        _com_interfaces_ = [interface]

        def IMAPISyncProgressCallback_Progress(self, this, text, index, index_max):
            return 0

    obj = Theirs()
    pointer = obj.QueryInterface(interface)
    return obj, ctypes.cast(pointer, ctypes.c_void_p).value, pointer


def main() -> None:
    args = arguments(__doc__, 100_000)
    if os.environ.get("MAPISYNC_BENCH_CHILD"):
        child(args.rounds, args.calls, args.host_lib or "")
        return
    results = []
    for backend in ("native", "ctypes"):
        env = dict(os.environ, MAPISYNC_BACKEND=backend, MAPISYNC_BENCH_CHILD="1")
        command = [sys.executable, os.path.abspath(__file__), "--rounds", str(args.rounds), "--calls", str(args.calls)]
        if args.host_lib:
            command += ["--host-lib", args.host_lib]
        # The child's output goes to a file, not a pipe: a process the child starts may inherit
        # the handle (under Wine, the first COM window starts explorer.exe, which lives on),
        # and a pipe would then never reach its end.
        with tempfile.TemporaryFile() as out:
            try:
                code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=300).returncode
            except subprocess.TimeoutExpired:
                code = None
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        if code != 0:
            print(f"{backend}: the benchmark " + ("did not finish within 300 s" if code is None else "failed"))
            print(text)
            sys.exit(1)
        lines = [line for line in text.splitlines() if line.startswith("{")]
        results.append(json.loads(lines[-1]))
    for result in results:
        samples = result["samples"]

        def ratio(a: str, b: str) -> float:
            return statistics.median(x / y for x, y in zip(samples[a], samples[b]))

        backend = result["backend"]
        print(f"== backend {backend} ==")
        for name, values in samples.items():
            print(f"  {name:46} {statistics.median(values):10.1f} ns")
        target = TARGETS.get(backend)
        print(f"  ratio foreign / Python thread, ours (target <= {target}) "
              f"{ratio('dispatch Progress, a foreign thread', 'dispatch Progress, a Python thread'):8.2f}x")
        print(f"  ratio foreign / Python thread, raw ctypes callback  "
              f"{ratio('raw ctypes callback, a foreign thread', 'raw ctypes callback, a Python thread'):8.2f}x")
        if "comtypes COMObject, a foreign thread" in samples:
            print(f"  ratio foreign / Python thread, comtypes            "
                  f"{ratio('comtypes COMObject, a foreign thread', 'comtypes COMObject, a Python thread'):8.2f}x")
        one = statistics.median(samples["throughput, 1 host thread (ns per call)"])
        eight = statistics.median(samples["throughput, 8 host threads (ns per call)"])
        print(f"  throughput: 1 host thread {1e9 / one:,.0f} calls/s; 8 host threads {1e9 / eight:,.0f} calls/s")
    print(f"(Python {sys.version.split()[0]} {8 * ctypes.sizeof(ctypes.c_void_p)}-bit, {sys.platform}; "
          f"{args.rounds} rounds, {args.calls} native calls per measurement; medians)")


if __name__ == "__main__":
    main()
