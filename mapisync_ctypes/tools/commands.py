"""The `mapisync` subcommands that run things: demo (a C host syncs the bundled Python
provider), drive (one sync, or several at once, on a native provider, checked against the
protocol) and info (ABI facts, the backend, where the shipped files are)."""

import argparse
import ctypes
import os
import sys
import threading
from typing import Any, Dict, List, Optional

from .. import _locate
from .._version import __version__
from ..com import backends, threadstates, types as abi
from ..com.comobject import com_pointer
from ..com.hresult import COMError, format_hresult
from ..com.proxy import Proxy, wrap
from ..sync import donehandle
from ..sync.concurrent import run_concurrent
from ..sync.factory import load_factory
from ..sync.host import SyncResult, expected_refusals, run_sync
from ..sync.interfaces import INTERFACES, IMAPISync, IUnknown
from ..sync.types import MAPISIB
from .clibase import EXIT_FAILED, EXIT_OK, Failure, UsageError, host_options, print_json
from .display import LiveDisplay, print_result

__all__ = ["cmd_demo", "cmd_drive", "cmd_info", "info", "python_library", "load_provider"]


# ---- demo -----------------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    """A native C host (csrc/refhost.c) syncs the bundled Python provider, live."""
    from .sample import FOLDERS, SampleProvider

    library = _locate.refhost_library()
    if library is None:
        raise Failure("the native reference host was not built (reinstall with a C compiler: pip install .)")
    host = ctypes.CDLL(library)
    host.refhost_run.restype = ctypes.c_int32
    host.refhost_run.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_int]
    provider = SampleProvider(step_seconds=args.step)
    print(f"mapisync demo: a C host (include/mapisync.h) syncs a Python SyncProvider "
          f"({type(provider).__name__}, {len(FOLDERS)} folders)", flush=True)
    address = com_pointer(provider, IMAPISync)
    outcome: Dict[str, int] = {}

    def run() -> None:
        outcome["hr"] = host.refhost_run(address, args.flags, args.cancel_after or 0, int(args.timeout * 1000))

    worker = threading.Thread(target=run, name="mapisync-demo-host", daemon=True)
    worker.start()
    try:
        while worker.is_alive():  # short waits: Ctrl-C lands here at once, not when the sync ends
            worker.join(0.05)
    except KeyboardInterrupt:
        host.refhost_cancel()  # the C host stops waiting within 50 ms and cancels the provider
        worker.join(1.0)
        raise
    finally:
        wrap(address, IUnknown, addref=False).release()
    hr = outcome.get("hr", -1)
    return EXIT_OK if hr >= 0 else EXIT_FAILED


# ---- drive ------------------------------------------------------------------------------------

def load_provider(target: str) -> Proxy:
    """IMAPISync from "LIB:SYMBOL", with the command's errors: bad use, or the factory failed."""
    try:
        return load_factory(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot load {target.rpartition(':')[0]}: {exc}") from None
    except AttributeError:
        library, _, symbol = target.rpartition(":")
        raise UsageError(f"{library} exports no symbol {symbol!r}") from None
    except COMError as exc:
        raise Failure(f"the factory failed: {exc}", exc.hresult) from None


def cmd_drive(args: argparse.Namespace) -> int:
    """Sync a native provider (LIB:SYMBOL) as a host would, with the behaviours asked for,
    checked against the protocol. Exit 0 if nothing was breached and the sync either
    succeeded or, for bad input passed on purpose, was refused as rule 2 asks."""
    options = host_options(args)
    provider = load_provider(args.target)
    display = None if args.json or args.concurrent else LiveDisplay()
    with provider:
        if args.concurrent:
            results = run_concurrent(provider, args.concurrent, **options)
        else:
            results = [_one(provider, options, display)]
    refusal = bool(expected_refusals(options["flags"], options["mapisib"], options["refusing_callback"]))
    good = [not r.violations and (r.call_hresult < 0 if refusal else r.ok) for r in results]
    for result in results:
        if result.call_hresult < 0 and not refusal:
            print(f"mapisync: error: SynchronizeInBackground failed: {format_hresult(result.call_hresult)}",
                  file=sys.stderr)
    if args.json:
        documents = [{"ok": ok, **r.as_dict()} for ok, r in zip(good, results)]
        print_json(documents[0] if not args.concurrent else {"ok": all(good), "syncs": documents})
    else:
        if display is not None:
            display.end_bar()
        for i, result in enumerate(results, 1):
            print_result(result, f"sync {i}" if args.concurrent else None)
        if refusal and all(r.call_hresult < 0 for r in results) and all(good):
            print("  (refused, as rule 2 asks for this input)")
    return EXIT_OK if all(good) else EXIT_FAILED


def _one(provider: Proxy, options: Dict[str, Any], display: Optional[LiveDisplay]) -> SyncResult:
    try:
        return run_sync(provider, on_event=display, **options)
    except (COMError, TimeoutError) as exc:
        result: SyncResult = getattr(exc, "result")  # set by run_sync on both
        return result


# ---- info -------------------------------------------------------------------------------------

def python_library() -> Optional[str]:
    """This interpreter's shared library, for MAPISYNC_PYTHON (None if it has none)."""
    import sysconfig

    if sys.platform == "win32":
        path = os.path.join(os.path.dirname(sys.executable), f"python{sys.version_info[0]}{sys.version_info[1]}.dll")
    else:
        path = os.path.join(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("INSTSONAME") or "")
    return path if os.path.isfile(path) else None


_PATHS: Dict[str, Any] = {
    "include": ("the header folder", _locate.include_dir),
    "shim": ("the native library (provider shim, embedding API)", _locate.native_library),
    "refhost": ("the reference host", _locate.refhost_library),
    "examples": ("the examples folder", _locate.examples_dir),
    "python_library": ("this Python's shared library", python_library),
}


def info() -> Dict[str, Any]:
    """Everything `mapisync info` reports, as data."""
    pointer = ctypes.sizeof(ctypes.c_void_p)
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "bits": 8 * pointer,
        "backend": backends.NAME,
        "backend_fallback_reason": backends.FALLBACK_REASON,
        "native_threads": threadstates.BY_CORE if backends.NAME == "native" else threadstates.HOW,
        "calling_convention": ("stdcall" if abi.STDCALL else "x64" if abi.IS_WINDOWS else "cdecl"),
        "done_handle": donehandle.KIND,
        "paths": {key: find() for key, (_, find) in _PATHS.items()},
        "sizeof": {name: ctypes.sizeof(getattr(abi, name)) for name in ("ULONG", "HRESULT", "WCHAR", "HANDLE", "GUID")},
        "mapisib": {"size": ctypes.sizeof(MAPISIB),
                    "offsets": {field[0]: getattr(MAPISIB, field[0]).offset for field in MAPISIB._fields_}},
        "interfaces": {i.name: {"iid": str(i.iid), "slots": [m.name for m in i.methods]} for i in INTERFACES},
    }


def cmd_info(args: argparse.Namespace) -> int:
    """ABI facts, the backend, and where the shipped files are."""
    for key, (what, find) in _PATHS.items():
        if getattr(args, key):
            path = find()
            if not path:
                raise Failure(f"{what} is not there (not built, or this Python has none)")
            print(path)
            return EXIT_OK
    facts = info()
    if args.json:
        print_json(facts)
        return EXIT_OK
    backend = ("the compiled core: C reference counting, trampolines and callers" if facts["backend"] == "native"
               else "Python thunks" + (f"; the native backend could not load: {facts['backend_fallback_reason']}"
                                       if facts["backend_fallback_reason"] else ""))
    convention = {"stdcall": "__stdcall (WINFUNCTYPE)", "x64": "the x64 convention (WINFUNCTYPE = CFUNCTYPE)",
                  "cdecl": "cdecl (CFUNCTYPE)"}[facts["calling_convention"]]
    paths = facts["paths"]
    lines: List[str] = [
        f"mapisync_ctypes {facts['version']} on Python {facts['python']} ({facts['platform']}, {facts['bits']}-bit)",
        f"backend: {facts['backend']} ({backend}); done handle: {facts['done_handle']}",
        f"calling convention: {convention}",
        f"Python thread states of native threads: {facts['native_threads']}",
        f"header folder: {paths['include']}",
        f"reference host: {paths['refhost'] or 'not built'}",
        f"native library (shim, embedding API): {paths['shim'] or 'not built'}",
        "sizeof: " + ", ".join(f"{name} {size}" for name, size in facts["sizeof"].items()),
        f"MAPISIB: size {facts['mapisib']['size']}; offsets "
        + ", ".join(f"{name} {offset}" for name, offset in facts["mapisib"]["offsets"].items()),
    ]
    for name, interface in facts["interfaces"].items():
        slots = ", ".join(f"{i} {slot}" for i, slot in enumerate(interface["slots"]))
        lines.append(f"{name} {interface['iid']}: {slots}")
    print("\n".join(lines))
    return EXIT_OK
