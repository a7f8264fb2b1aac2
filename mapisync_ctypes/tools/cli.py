"""The `mapisync` command (also `python -m mapisync_ctypes`): demo, drive and info."""

import argparse
import ctypes
import json
import sys
import threading
import warnings
from typing import List, NoReturn, Optional, Sequence, TextIO

# `mapisync info` says which backend runs and why; the import-time warning would only add
# lines to every command's output.
warnings.filterwarnings("ignore", message="mapisync_ctypes runs on its ctypes backend", category=RuntimeWarning)

from .. import _locate  # noqa: E402
from .._version import __version__  # noqa: E402
from ..com import backends, types as abi  # noqa: E402
from ..com.comobject import com_pointer  # noqa: E402
from ..com.hresult import COMError, format_hresult  # noqa: E402
from ..com.proxy import wrap  # noqa: E402
from ..sync import donehandle  # noqa: E402
from ..sync.factory import load_factory  # noqa: E402
from ..sync.flags import SYNC_DOWNLOAD_CONTENTS, SYNC_DOWNLOAD_HIERARCHY, SyncFlags  # noqa: E402
from ..sync.host import SyncEvent, run_sync  # noqa: E402
from ..sync.interfaces import INTERFACES, IMAPISync, IUnknown  # noqa: E402
from ..sync.types import MAPISIB  # noqa: E402

__all__ = ["main", "build_parser", "parse_flags", "LiveDisplay", "UsageError"]

DEFAULT_FLAGS = int(SYNC_DOWNLOAD_HIERARCHY | SYNC_DOWNLOAD_CONTENTS)


class UsageError(Exception):
    """Bad use of the command: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(message)


def parse_flags(text: str) -> int:
    """'download-contents,upload-hierarchy', 'SYNC_ON_DEMAND', '0x82' or a mix -> the bits."""
    bits = 0
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            bits |= int(part, 0)
            continue
        except ValueError:
            pass
        name = part.upper().replace("-", "_")
        name = name[len("SYNC_"):] if name.startswith("SYNC_") else name
        name = {"HEADERS": "GLOBAL_HEADERS"}.get(name, name)  # the constants page's name
        if name not in SyncFlags.__members__:
            known = ", ".join(n.lower().replace("_", "-") for n in SyncFlags.__members__)
            raise UsageError(f"unknown flag {part!r} (known: {known}, or a number such as 0x82)")
        bits |= SyncFlags[name]
    if not 0 <= bits <= 0xFFFFFFFF:
        raise UsageError(f"flags {bits:#x} do not fit in 32 bits")
    return bits


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad timeout {text!r}: seconds expected") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"bad timeout {text!r}: it must be above 0")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


class LiveDisplay:
    """Progress bar with the step text, errors as they come; one line per event off a terminal."""

    def __init__(self, out: TextIO = sys.stdout, width: int = 24) -> None:
        self.out = out
        self.width = width
        self.live = out.isatty()
        self.on_bar = False
        self.lock = threading.Lock()

    def __call__(self, event: SyncEvent) -> None:
        with self.lock:
            if event.kind == "Progress":
                text, index, index_max = event.args
                filled = self.width * min(index, index_max) // index_max if index_max else 0
                bar = "#" * filled + "." * (self.width - filled)
                line = f"[{bar}] {index}/{index_max}  {text if text is not None else '(no text)'}"
                if self.live:
                    self.out.write(f"\r{line}\033[K")
                    self.on_bar = True
                else:
                    self.out.write(line + "\n")
            elif event.kind == "Error":
                self.end_bar()
                hr, text = event.args
                self.out.write(f"  error: {format_hresult(hr)}: {text if text is not None else '(no text)'}\n")
            self.out.flush()

    def end_bar(self) -> None:
        if self.on_bar:
            self.out.write("\n")
            self.on_bar = False


def cmd_demo(args: argparse.Namespace) -> int:
    from .sample import FOLDERS, SampleProvider

    library = _locate.refhost_library()
    if library is None:
        raise UsageError("the native reference host was not built (reinstall with a C compiler: pip install .)")
    host = ctypes.CDLL(library)
    host.refhost_run.restype = ctypes.c_int32
    host.refhost_run.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_int]
    provider = SampleProvider(step_seconds=args.step)
    print(f"mapisync demo: a C host (include/mapisync.h) syncs a Python SyncProvider "
          f"({type(provider).__name__}, {len(FOLDERS)} folders)")
    sys.stdout.flush()
    address = com_pointer(provider, IMAPISync)
    try:
        hr = host.refhost_run(address, args.flags, args.cancel_after or 0, int(args.timeout * 1000))
    finally:
        wrap(address, IUnknown, addref=False).release()
    return 0 if hr >= 0 else 1


def cmd_drive(args: argparse.Namespace) -> int:
    try:
        provider = load_factory(args.target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot load {args.target.rpartition(':')[0]}: {exc}") from None
    except AttributeError:
        library, _, symbol = args.target.rpartition(":")
        raise UsageError(f"{library} exports no symbol {symbol!r}") from None
    except COMError as exc:
        print(f"the factory failed: {exc}")
        return 1
    display = None if args.json else LiveDisplay()
    try:
        with provider:
            result = run_sync(provider, flags=args.flags, timeout=args.timeout,
                              cancel_after=args.cancel_after, on_event=display)
    except COMError as exc:
        print(json.dumps({"error": str(exc), "hresult": exc.hresult}) if args.json
              else f"SynchronizeInBackground failed: {exc}")
        return 1
    except TimeoutError as exc:
        result = exc.result  # type: ignore[attr-defined]
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        display.end_bar()
        done = "never called" if result.hresult is None else format_hresult(result.hresult)
        print(f"Done: {done} after {result.elapsed:.2f} s; {len(result.progress)} progress, "
              f"{len(result.errors)} error(s)")
        for violation in result.violations:
            print(f"  VIOLATION: {violation}")
    return 0 if result.ok else 1


def python_library() -> Optional[str]:
    """This interpreter's shared library, for MAPISYNC_PYTHON (None if it has none)."""
    import os
    import sysconfig

    if sys.platform == "win32":
        path = os.path.join(os.path.dirname(sys.executable), f"python{sys.version_info[0]}{sys.version_info[1]}.dll")
    else:
        path = os.path.join(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("INSTSONAME") or "")
    return path if os.path.isfile(path) else None


_PATHS = {
    "include": ("the header folder", _locate.include_dir),
    "shim": ("the native library (provider shim, embedding API)", _locate.native_library),
    "refhost": ("the reference host", _locate.refhost_library),
    "examples": ("the examples folder", _locate.examples_dir),
    "python_library": ("this Python's shared library", python_library),
}


def cmd_info(args: argparse.Namespace) -> int:
    for key, (what, find) in _PATHS.items():
        if getattr(args, key):
            path = find()
            if not path:
                print(f"mapisync: {what} is not there (not built, or this Python has none)", file=sys.stderr)
                return 1
            print(path)
            return 0
    pointer = ctypes.sizeof(ctypes.c_void_p)
    convention = ("__stdcall (WINFUNCTYPE)" if abi.IS_WINDOWS and pointer == 4
                  else "the x64 convention (WINFUNCTYPE = CFUNCTYPE)" if abi.IS_WINDOWS else "cdecl (CFUNCTYPE)")
    lines: List[str] = [
        f"mapisync_ctypes {__version__} on Python {sys.version.split()[0]} ({sys.platform}, {8 * pointer}-bit)",
        f"backend: {backends.NAME} ({'the compiled core: C reference counting, trampolines and callers' if backends.NAME == 'native' else 'Python thunks' + (f'; the native backend could not load: {backends.FALLBACK_REASON}' if backends.FALLBACK_REASON else '')}); done handle: {donehandle.KIND}",
        f"calling convention: {convention}",
        f"header folder: {_locate.include_dir()}",
        f"reference host: {_locate.refhost_library() or 'not built'}",
        f"native library (shim, embedding API): {_locate.native_library() or 'not built'}",
        f"sizeof: ULONG {ctypes.sizeof(abi.ULONG)}, HRESULT {ctypes.sizeof(abi.HRESULT)}, "
        f"WCHAR {ctypes.sizeof(abi.WCHAR)}, HANDLE {ctypes.sizeof(abi.HANDLE)}, GUID {ctypes.sizeof(abi.GUID)}",
        f"MAPISIB: size {ctypes.sizeof(MAPISIB)}; offsets " + ", ".join(
            f"{name} {getattr(MAPISIB, name).offset}" for name, _ in MAPISIB._fields_),
    ]
    for interface in INTERFACES:
        slots = ", ".join(f"{m.index} {m.name}" for m in interface.methods)
        lines.append(f"{interface.name} {interface.iid}: {slots}")
    print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mapisync", description="MAPI background sync across the Python/native boundary.")
    parser.add_argument("--version", action="version", version=f"mapisync_ctypes {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    demo = commands.add_parser("demo", help="a native C host syncs the bundled Python provider, live")
    drive = commands.add_parser("drive", help="run a sync on a native provider: LIB:SYMBOL")
    drive.add_argument("target", metavar="LIB:SYMBOL",
                       help="a shared library exporting HRESULT SYMBOL(const GUID *riid, void **ppv)")
    drive.add_argument("--json", action="store_true", help="print the whole event log as JSON")
    for sub in (demo, drive):
        sub.add_argument("--flags", type=parse_flags, default=DEFAULT_FLAGS,
                         help="flag names or numbers, comma-separated (default: download-hierarchy,download-contents)")
        sub.add_argument("--timeout", type=_timeout, default=30.0, help="seconds to wait for the sync (default 30)")
        sub.add_argument("--cancel-after", type=_positive, metavar="N",
                         help="answer MAPI_E_USER_CANCEL from the N-th Progress on")
    demo.add_argument("--step", type=float, default=0.25, help=argparse.SUPPRESS)
    info = commands.add_parser("info", help="ABI facts: pointer size, convention, layouts, where files are")
    paths = info.add_mutually_exclusive_group()
    for key, (what, _) in _PATHS.items():
        paths.add_argument(f"--{key.replace('_', '-')}", action="store_true", help=f"print only {what}")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return {"demo": cmd_demo, "drive": cmd_drive, "info": cmd_info}[args.command](args)
    except UsageError as exc:
        print(f"mapisync: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mapisync: interrupted", file=sys.stderr)
        return 130

