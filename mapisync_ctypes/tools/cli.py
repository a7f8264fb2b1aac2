"""The `mapisync` command (also `python -m mapisync_ctypes`): demo, drive, check, info.

Exit status, every command: 0 success; 1 the operation failed: the sync failed, broke the
protocol or timed out (drive, demo), the provider has findings (check), or a requested path
is not there (info); 2 bad use (a one-line error, never a traceback); 130 interrupted
(Ctrl-C); 141 the reader of the output went away (a closed pipe). Errors go to stderr; with
--json, stdout carries one JSON document whatever happens.
"""

import argparse
import logging
import os
import sys
import warnings
from typing import Any, Callable, Dict, Optional, Sequence

# `mapisync info` says which backend runs and why; the import-time warning would only add
# lines to every command's output.
warnings.filterwarnings("ignore", message="mapisync_ctypes runs on its ctypes backend", category=RuntimeWarning)

from .._version import __version__  # noqa: E402
from ..com.hresult import format_hresult  # noqa: E402
from ..embed import hresults as _embed_hresults  # noqa: E402,F401  (names MAPISYNC_E_PYTHON_IMPORT)
from . import checkcmd  # noqa: E402
from .clibase import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_PIPE, EXIT_USAGE, Failure,  # noqa: E402
                      Parser, UsageError, add_host_options, parse_flags, print_json)
from .commands import _PATHS, cmd_demo, cmd_drive, cmd_info  # noqa: E402
from .display import LiveDisplay  # noqa: E402

__all__ = ["main", "build_parser", "parse_flags", "LiveDisplay", "UsageError", "Failure",
           "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED", "EXIT_PIPE"]


def build_parser() -> argparse.ArgumentParser:
    """The `mapisync` argument parser."""
    parser = Parser(prog="mapisync", description="MAPI background sync across the Python/native boundary.",
                    epilog="exit status: 0 ok; 1 failed (the sync, the protocol, a timeout, findings); "
                           "2 bad use; 130 interrupted; 141 closed pipe")
    parser.add_argument("--version", action="version", version=f"mapisync_ctypes {__version__}")
    logs = parser.add_mutually_exclusive_group()
    logs.add_argument("-v", "--verbose", action="count", default=0,
                      help="show more of the library's log on stderr (-v: info, -vv: debug)")
    logs.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"],
                      help="the library's log level on stderr (default: warning, provider tracebacks included)")
    commands = parser.add_subparsers(dest="command", parser_class=Parser)

    demo = commands.add_parser("demo", help="a native C host syncs the bundled Python provider, live")
    add_host_options(demo, {"flags", "timeout", "cancel_after"})
    demo.add_argument("--step", type=float, default=0.25, help=argparse.SUPPRESS)

    drive = commands.add_parser("drive", help="run a sync on a native provider: LIB:SYMBOL",
                                description="Sync a native provider as a host would, with the behaviours "
                                            "asked for, and check the protocol.")
    drive.add_argument("target", metavar="LIB:SYMBOL",
                       help="a shared library exporting HRESULT SYMBOL(const GUID *riid, void **ppv)")
    drive.add_argument("--json", action="store_true", help="print the whole event log as JSON")
    add_host_options(drive)

    check = commands.add_parser("check", help="check a native provider against every rule: LIB:SYMBOL",
                                description="Run a provider through every host behaviour the protocol allows, "
                                            "each in a child process, and report every rule it breaks.")
    checkcmd.add_arguments(check)

    info_parser = commands.add_parser("info", help="ABI facts, the backend, where the shipped files are")
    info_parser.add_argument("--json", action="store_true", help="everything as one JSON document")
    paths = info_parser.add_mutually_exclusive_group()
    for key, (what, _) in _PATHS.items():
        paths.add_argument(f"--{key.replace('_', '-')}", action="store_true", help=f"print only {what}")
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = (args.log_level.upper() if args.log_level
             else {0: "WARNING", 1: "INFO"}.get(args.verbose, "DEBUG"))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("mapisync_ctypes")
    logger.addHandler(handler)
    logger.setLevel(level)


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": cmd_demo, "drive": cmd_drive, "check": checkcmd.cmd_check, "info": cmd_info}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; returns its exit status (see the module's docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    try:
        try:
            args = build_parser().parse_args(argv)
            if args.command is None:
                raise UsageError("a command is needed: demo, drive, check or info (mapisync --help)")
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
        print_json(document)
    print(f"mapisync: error: {message}", file=sys.stderr)
    return status
