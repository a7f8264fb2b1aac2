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


# ---- Python thread states, counted the way the interpreter lists them
import ctypes as _ctypes

_api = _ctypes.pythonapi
_api.PyInterpreterState_Get.restype = _ctypes.c_void_p
_api.PyInterpreterState_ThreadHead.restype = _ctypes.c_void_p
_api.PyInterpreterState_ThreadHead.argtypes = [_ctypes.c_void_p]
_api.PyThreadState_Next.restype = _ctypes.c_void_p
_api.PyThreadState_Next.argtypes = [_ctypes.c_void_p]
_api.PyThreadState_Get.restype = _ctypes.c_void_p
_api.PyThreadState_GetID.restype = _ctypes.c_uint64
_api.PyThreadState_GetID.argtypes = [_ctypes.c_void_p]


def thread_states() -> int:
    """How many thread states the interpreter has now (with the GIL: ctypes.pythonapi keeps it)."""
    count, state = 0, _api.PyInterpreterState_ThreadHead(_api.PyInterpreterState_Get())
    while state:
        count += 1
        state = _api.PyThreadState_Next(state)
    return count


def thread_state_id() -> int:
    """The unique id of the calling thread's current thread state."""
    return int(_api.PyThreadState_GetID(_api.PyThreadState_Get()))


def settle(test: Any, seconds: float = 10.0) -> bool:
    """Whether test() becomes true within `seconds` (on Windows a reaper thread deletes the
    states of ended threads a moment after they end)."""
    import time
    deadline = time.monotonic() + seconds
    while not test():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def memory_kib() -> int:
    """The process's memory now, in KiB: resident pages on Linux, private commit on Windows
    (not the peak: growth after a warm-up is what a leak shows)."""
    import sys
    if sys.platform == "win32":
        class Counters(_ctypes.Structure):  # PROCESS_MEMORY_COUNTERS_EX
            _fields_ = [("cb", _ctypes.c_uint32), ("PageFaultCount", _ctypes.c_uint32)] + [
                (name, _ctypes.c_size_t) for name in (
                    "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage", "QuotaPagedPoolUsage",
                    "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage", "PagefileUsage",
                    "PeakPagefileUsage", "PrivateUsage")]
        kernel32 = _ctypes.WinDLL("kernel32")
        kernel32.GetCurrentProcess.restype = _ctypes.c_void_p
        counters = Counters()
        counters.cb = _ctypes.sizeof(counters)
        if not kernel32.K32GetProcessMemoryInfo(_ctypes.c_void_p(kernel32.GetCurrentProcess()),
                                                _ctypes.byref(counters), counters.cb):
            raise OSError("K32GetProcessMemoryInfo failed")
        return counters.PrivateUsage // 1024
    import os
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
