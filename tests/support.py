"""Helpers the tests share: UTF-16 buffers, and Python COM objects that record their calls."""

import threading
from typing import Any, List, Optional, Tuple

from mapisync_ctypes import E_INVALIDARG, WCHAR, COMObject, IMAPISync, IMAPISyncProgressCallback


def utf16(text: Optional[str]) -> Any:
    """A NUL-terminated UTF-16 buffer for passing text to native code (None -> NULL)."""
    if text is None:
        return None
    units = list(memoryview((text + "\0").encode("utf-16-le", "surrogatepass")).cast("H"))
    return (WCHAR * len(units))(*units)


def read_utf16(address: Optional[int]) -> Optional[str]:
    if not address:
        return None
    units = []
    while True:
        unit = WCHAR.from_address(address + 2 * len(units)).value
        if unit == 0:
            break
        units.append(unit)
    return b"".join(u.to_bytes(2, "little") for u in units).decode("utf-16-le", "surrogatepass")


class Recorder(COMObject):
    """A Python IMAPISyncProgressCallback that records every call with its thread."""

    _com_interfaces_ = [IMAPISyncProgressCallback]

    def __init__(self, answer: Optional[int] = None) -> None:
        self.answer = answer
        self.events: List[Tuple[Any, ...]] = []
        self.threads: List[int] = []

    def _log(self, *event: Any) -> Optional[int]:
        self.events.append(event)
        self.threads.append(threading.get_ident())
        return self.answer

    def Progress(self, text, ulIndex, ulIndexMax):
        return self._log("Progress", text, ulIndex, ulIndexMax)

    def Error(self, hResult, text):
        return self._log("Error", hResult, text)

    def Done(self, hThreadDoneEvent, hResult):
        return self._log("Done", hThreadDoneEvent, hResult)


class PySync(COMObject):
    """A Python IMAPISync that records what native callers pass."""

    _com_interfaces_ = [IMAPISync]

    def __init__(self) -> None:
        self.calls: List[Any] = []

    def SynchronizeInBackground(self, psibpb):
        if psibpb is None:
            self.calls.append(None)
            return E_INVALIDARG
        sib = psibpb.contents
        self.calls.append((sib.ulSize, sib.ulFlags, sib.punkCallBack, bool(sib.phSyncDoneEvent)))
        sib.phSyncDoneEvent[0] = 0xD00E
        return 0
