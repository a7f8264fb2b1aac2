"""The `mapisync` command (also `python -m mapisync_ctypes`): demo, drive, info.

Exit status, every command: 0 success; 1 the sync failed, broke the protocol or timed out
(drive, demo), or a requested path is not there (info); 2 bad use (a one-line error, never a
traceback); 130 interrupted (Ctrl-C); 141 the reader of the output went away (a closed pipe).
Errors go to stderr; with --json, stdout carries one JSON document whatever happens.
"""

import argparse
import ctypes
import json
import logging
import os
import sys
import threading
import warnings
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, TextIO

# `mapisync info` says which backend runs and why; the import-time warning would only add
# lines to every command's output.
warnings.filterwarnings("ignore", message="mapisync_ctypes runs on its ctypes backend", category=RuntimeWarning)

from .. import _locate  # noqa: E402
from .._version import __version__  # noqa: E402
from ..com import backends, types as abi  # noqa: E402
from ..com.comobject import com_pointer  # noqa: E402
from ..com.hresult import COMError, format_hresult  # noqa: E402
from ..com.proxy import wrap  # noqa: E402
from ..embed import hresults as _embed_hresults  # noqa: E402,F401  (names MAPISYNC_E_PYTHON_IMPORT)
from ..sync import donehandle  # noqa: E402
from ..sync.factory import load_factory  # noqa: E402
from ..sync.flags import SYNC_DOWNLOAD_CONTENTS, SYNC_DOWNLOAD_HIERARCHY, SyncFlags  # noqa: E402
from ..sync.host import SyncEvent, SyncResult, run_sync  # noqa: E402
from ..sync.interfaces import INTERFACES, IMAPISync, IUnknown  # noqa: E402
from ..sync.types import MAPISIB  # noqa: E402

__all__ = ["main", "build_parser", "parse_flags", "LiveDisplay", "UsageError", "Failure",
           "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED", "EXIT_PIPE"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 130, 141
DEFAULT_FLAGS = int(SYNC_DOWNLOAD_HIERARCHY | SYNC_DOWNLOAD_CONTENTS)


class UsageError(Exception):
    """Bad use of the command: one line on stderr (or JSON), exit status 2."""


class Failure(Exception):
    """The operation failed (not the user's syntax): one line on stderr (or JSON), exit 1."""

    def __init__(self, message: str, hresult: Optional[int] = None) -> None:
        super().__init__(message)
        self.hresult = hresult


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
        """Leave the line of a live progress bar."""
        if self.on_bar:
            self.out.write("\n")
            self.on_bar = False


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

def cmd_drive(args: argparse.Namespace) -> int:
    """One sync on a native provider (LIB:SYMBOL), checked against the protocol."""
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
        raise Failure(f"the factory failed: {exc}", exc.hresult) from None
    display = None if args.json else LiveDisplay()
    try:
        with provider:
            result = run_sync(provider, flags=args.flags, timeout=args.timeout,
                              cancel_after=args.cancel_after, on_event=display)
    except COMError as exc:
        raise Failure(f"SynchronizeInBackground failed: {exc}", exc.hresult) from None
    except TimeoutError as exc:
        result = exc.result  # type: ignore[attr-defined]
    if args.json:
        _print_json({"ok": result.ok, **result.as_dict()})
    else:
        if display is not None:
            display.end_bar()
        _print_result(result)
    return EXIT_OK if result.ok else EXIT_FAILED


def _print_result(result: SyncResult) -> None:
    done = "never called" if result.hresult is None else format_hresult(result.hresult)
    print(f"Done: {done} after {result.elapsed:.2f} s; {len(result.progress)} progress, "
          f"{len(result.errors)} error(s)")
    for violation in result.violations:
        print(f"  VIOLATION: {violation}")


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
        _print_json(facts)
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


# ---- the command line -------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The `mapisync` argument parser."""
    parser = _Parser(prog="mapisync", description="MAPI background sync across the Python/native boundary.",
                     epilog="exit status: 0 ok; 1 failed (the sync, the protocol, a timeout); 2 bad use; "
                            "130 interrupted; 141 closed pipe")
    parser.add_argument("--version", action="version", version=f"mapisync_ctypes {__version__}")
    logs = parser.add_mutually_exclusive_group()
    logs.add_argument("-v", "--verbose", action="count", default=0,
                      help="show more of the library's log on stderr (-v: info, -vv: debug)")
    logs.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"],
                      help="the library's log level on stderr (default: warning, provider tracebacks included)")
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
    info_parser = commands.add_parser("info", help="ABI facts, the backend, where the shipped files are")
    info_parser.add_argument("--json", action="store_true", help="everything as one JSON document")
    paths = info_parser.add_mutually_exclusive_group()
    for key, (what, _) in _PATHS.items():
        paths.add_argument(f"--{key.replace('_', '-')}", action="store_true", help=f"print only {what}")
    return parser


def _print_json(document: Dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))


def _configure_logging(args: argparse.Namespace) -> None:
    level = (args.log_level.upper() if args.log_level
             else {0: "WARNING", 1: "INFO"}.get(args.verbose, "DEBUG"))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("mapisync_ctypes")
    logger.addHandler(handler)
    logger.setLevel(level)


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {"demo": cmd_demo, "drive": cmd_drive, "info": cmd_info}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; returns its exit status (see the module's docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    try:
        try:
            args = build_parser().parse_args(argv)
            if args.command is None:
                raise UsageError("a command is needed: demo, drive or info (mapisync --help)")
            _configure_logging(args)
            return COMMANDS[args.command](args)
        except UsageError as exc:
            return _fail(as_json, EXIT_USAGE, str(exc))
        except Failure as exc:
            return _fail(as_json, EXIT_FAILED, str(exc), exc.hresult)
        except KeyboardInterrupt:
            return _fail(as_json, EXIT_INTERRUPTED, "interrupted")
    except BrokenPipeError:  # `mapisync info | head`: the reader left; end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE


def _fail(as_json: bool, status: int, message: str, hresult: Optional[int] = None) -> int:
    if as_json:
        document: Dict[str, Any] = {"ok": False, "exit": status, "error": message}
        if hresult is not None:
            document.update(hresult=hresult, hresult_name=format_hresult(hresult))
        _print_json(document)
    print(f"mapisync: error: {message}", file=sys.stderr)
    return status
