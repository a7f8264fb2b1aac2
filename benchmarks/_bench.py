"""Shared by the benchmark scripts: the C loop library, alternating rounds, ratio reports."""

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mapisync_ctypes as mapi

HERE = os.path.dirname(os.path.abspath(__file__))


def arguments(doc: str, calls: int) -> argparse.Namespace:
    """The options every benchmark script takes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=calls, help="native-loop calls per measurement")
    parser.add_argument("--host-lib", help="a prebuilt benchmarks/bench_host.c library")
    return parser.parse_args()


def load_host(host_lib: Optional[str], folder: str) -> ctypes.CDLL:
    """bench_host.c as a library: the given prebuilt one, or compiled here with $CC -O2."""
    if host_lib is None:
        suffix = ".dll" if sys.platform == "win32" else ".so"
        host_lib = os.path.join(folder, "bench_host" + suffix)
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", f"-I{mapi.get_include()}",
                        os.path.join(HERE, "bench_host.c"), "-o", host_lib, "-pthread"], check=True)
    lib = ctypes.CDLL(host_lib)
    for name in ("bench_progress", "bench_progress_changing", "bench_raw", "bench_addref_release"):
        getattr(lib, name).restype = ctypes.c_int64
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    for name in ("bench_progress_foreign", "bench_raw_foreign"):
        getattr(lib, name).restype = ctypes.c_int64
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.bench_progress_threads.restype = ctypes.c_int64
    lib.bench_progress_threads.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int]
    lib.bench_short_threads.restype = ctypes.c_int64
    lib.bench_short_threads.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.bench_c_object.restype = ctypes.c_void_p
    if hasattr(lib, "bench_release"):
        lib.bench_release.restype = ctypes.c_uint32
        lib.bench_release.argtypes = [ctypes.c_void_p]
    return lib


def python_loop(calls: int, body: Callable[[], object]) -> Callable[[], float]:
    """A measurement of ns per call of ``body`` called from a Python loop."""
    import time

    def measure() -> float:
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            body()
        return (time.perf_counter_ns() - t0) / calls

    return measure


def run_rounds(paths: Dict[str, Callable[[], float]], rounds: int) -> Dict[str, List[float]]:
    """Every path once per round, in turn, so noise hits them alike."""
    samples: Dict[str, List[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, measure in paths.items():
            samples[name].append(measure())
    return samples


def report(title: str, samples: Dict[str, List[float]], ratios: Sequence[Tuple[str, str, str]],
           footer: str) -> None:
    """Median ns per path, then the median of per-round ratios."""
    print(title)
    print(f"  {'path':52} {'median ns/call':>15}")
    for name, values in samples.items():
        print(f"  {name:52} {statistics.median(values):15.1f}")
    print("  median of per-round ratios:")
    for label, a, b in ratios:
        value = statistics.median(x / y for x, y in zip(samples[a], samples[b]))
        print(f"    {label:50} {value:8.2f}x")
    print(f"  ({footer})")
