"""How `mapisync demo` and `mapisync drive` show a sync to people: a live progress bar on a
terminal (one line per event otherwise), then Done and any violation."""

import sys
import threading
from typing import Optional, TextIO

from ..com.hresult import format_hresult
from ..sync.host import SyncEvent, SyncResult

__all__ = ["LiveDisplay", "print_result"]


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


def print_result(result: SyncResult, label: Optional[str] = None) -> None:
    """Done's HRESULT, the counts, then every violation, one per line."""
    prefix = f"{label}: " if label else ""
    if result.call_hresult < 0:
        print(f"{prefix}SynchronizeInBackground returned {format_hresult(result.call_hresult)}")
    else:
        done = "never called" if result.hresult is None else format_hresult(result.hresult)
        print(f"{prefix}Done: {done} after {result.elapsed:.2f} s; {len(result.progress)} progress, "
              f"{len(result.errors)} error(s)")
    for violation in result.violations:
        print(f"  VIOLATION: {violation}")
