"""What every `mapisync` subcommand shares: exit statuses, the two kinds of failure, argument
types, the host-behaviour options (from :mod:`mapisync_ctypes.sync.hostoptions`), JSON output."""

import argparse
import json
from typing import Any, Dict, NoReturn, Optional

from ..sync.flags import SYNC_DOWNLOAD_CONTENTS, SYNC_DOWNLOAD_HIERARCHY, SyncFlags
from ..sync.hostoptions import HOST_OPTIONS

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED", "EXIT_PIPE", "UsageError", "Failure",
           "parse_flags", "add_host_options", "host_options", "print_json", "Parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 130, 141
DEFAULT_FLAGS = int(SYNC_DOWNLOAD_HIERARCHY | SYNC_DOWNLOAD_CONTENTS)


class UsageError(Exception):
    """Bad use of the command: one line on stderr (or JSON), exit status 2."""


class Failure(Exception):
    """The operation failed (not the user's syntax): one line on stderr (or JSON), exit 1."""

    def __init__(self, message: str, hresult: Optional[int] = None) -> None:
        super().__init__(message)
        self.hresult = hresult


class Parser(argparse.ArgumentParser):
    """argparse, with one-line errors instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        """Bad use: raise UsageError (main prints it as one line, exit status 2)."""
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad number of seconds {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"bad number of seconds {text!r}: it must not be negative")
    return value


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


def add_host_options(parser: argparse.ArgumentParser, names: Optional[set] = None) -> None:  # type: ignore[type-arg]
    """The host-behaviour options (all, or those ``names``), each as HOST_OPTIONS says."""
    for option in HOST_OPTIONS:
        if names is not None and option.name not in names:
            continue
        if option.kind == "switch":
            parser.add_argument(option.flag, dest=option.name, action="store_true", help=option.help)
        elif option.kind == "flags":
            parser.add_argument(option.flag, dest=option.name, type=parse_flags, default=DEFAULT_FLAGS,
                                help=option.help)
        elif option.kind == "choice":
            parser.add_argument(option.flag, dest=option.name, choices=option.choices, default="valid",
                                help=option.help)
        elif option.name == "timeout":
            parser.add_argument(option.flag, dest=option.name, type=_timeout, default=30.0, help=option.help)
        else:
            parser.add_argument(option.flag, dest=option.name, metavar="N" if option.kind == "int" else "SECONDS",
                                type=_positive if option.kind == "int" else _seconds, help=option.help)


def host_options(args: argparse.Namespace) -> Dict[str, Any]:
    """run_sync's keywords from parsed options (``session`` becomes "counted" or None)."""
    options: Dict[str, Any] = {}
    for option in HOST_OPTIONS:
        if option.name in ("concurrent",) or not hasattr(args, option.name):
            continue
        value = getattr(args, option.name)
        if option.name == "session":
            value = "counted" if value else None
        elif option.kind == "float" and value is None:
            continue
        options[option.name] = value
    options.setdefault("slow_host", 0.0)
    return options


def print_json(document: Dict[str, Any]) -> None:
    """One JSON document on stdout."""
    print(json.dumps(document, indent=2))
