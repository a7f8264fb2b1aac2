"""The host behaviours, each named once: a :func:`~mapisync_ctypes.run_sync` keyword and the
``mapisync drive`` option that asks for it. ``mapisync check`` describes every scenario with
these, runs it as that ``drive`` command line, and prints the same line to reproduce it."""

import shlex
import subprocess
import sys
from typing import Any, Dict, List, NamedTuple, Sequence, Tuple

from .flags import SyncFlags

__all__ = ["HostOption", "HOST_OPTIONS", "to_arguments", "drive_command"]


class HostOption(NamedTuple):
    """One behaviour: run_sync's keyword, drive's option, how its value is written, its help."""

    name: str
    flag: str
    kind: str  # "switch" (no value), "int", "float", "flags", "choice"
    help: str
    choices: Tuple[str, ...] = ()


HOST_OPTIONS: Tuple[HostOption, ...] = (
    HostOption("flags", "--flags", "flags", "flag names or numbers, comma-separated "
               "(default: download-hierarchy,download-contents)"),
    HostOption("session", "--session", "switch", "pass a session object whose references are counted "
               "(default: a NULL psesSync)"),
    HostOption("timeout", "--timeout", "float", "seconds to wait for the sync (default 30)"),
    HostOption("cancel_after", "--cancel-after", "int", "answer MAPI_E_USER_CANCEL from the N-th Progress on"),
    HostOption("cancel_on_error", "--cancel-on-error", "switch", "answer the first Error with MAPI_E_USER_CANCEL"),
    HostOption("slow_host", "--slow-host", "float", "seconds each Progress blocks before it answers"),
    HostOption("reenter", "--reenter", "switch", "call the provider's QueryInterface from inside each Progress"),
    HostOption("close_in_done", "--close-in-done", "switch", "close the done handle inside Done and give its "
               "number to something else at once"),
    HostOption("release_early", "--release-early", "switch", "release the host's callback and session "
               "references as soon as SynchronizeInBackground returns"),
    HostOption("release_provider", "--release-provider", "switch", "release the provider as soon as "
               "SynchronizeInBackground returns"),
    HostOption("mapisib", "--mapisib", "choice", "pass this MAPISIB: larger, or one rule 2 refuses",
               ("valid", "larger", "null", "short", "zero-size", "no-handle", "no-callback")),
    HostOption("refusing_callback", "--refusing-callback", "switch", "pass a callback that is not an "
               "IMAPISyncProgressCallback"),
    HostOption("concurrent", "--concurrent", "int", "run N syncs at once, each from a thread of its own"),
)


def _flags_text(value: int) -> str:
    names = [f"{name.lower().replace('_', '-')}" for name, member in SyncFlags.__members__.items()
             if value & member]
    known = 0
    for member in SyncFlags:
        known |= int(member)
    rest = value & ~known
    return ",".join(names + ([f"0x{rest:X}"] if rest else [])) or "0"


def to_arguments(options: Dict[str, Any]) -> List[str]:
    """``mapisync drive`` arguments for run_sync keywords (``session="counted"`` included;
    ``concurrent`` for run_concurrent). Unknown keywords raise ValueError."""
    by_name = {option.name: option for option in HOST_OPTIONS}
    arguments: List[str] = []
    for name, value in options.items():
        option = by_name.get(name)
        if option is None:
            raise ValueError(f"no drive option for {name!r}")
        if option.kind == "switch":
            if value:
                arguments.append(option.flag)
        elif option.kind == "flags":
            arguments += [option.flag, _flags_text(int(value))]
        elif value is not None and value != "valid":
            arguments += [option.flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return arguments


def drive_command(target: str, options: Dict[str, Any], program: Sequence[str] = ("mapisync",)) -> str:
    """The one shell line that runs this scenario: ``mapisync drive TARGET --options``
    (quoted for cmd.exe on Windows, for a POSIX shell elsewhere)."""
    parts = [*program, "drive", target, *to_arguments(options)]
    if sys.platform == "win32":
        return subprocess.list2cmdline(parts)
    return " ".join(shlex.quote(part) for part in parts)
