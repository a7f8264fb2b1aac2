import os
import sys
import threading
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest

pytest_plugins = ["pytester"]

# Every C-API call the native core makes first checks that its thread holds the GIL; the
# autouse fixture below fails the test during which one did not (any Python version).
os.environ.setdefault("MAPISYNC_GIL_CHECK", "1")

if sys.platform == "win32":
    # Under Wine, platform's WMI query (used by hypothesis at import) calls an unimplemented
    # propsys function and kills the process: make it fail politely, so platform falls back
    # to the plain Windows version API.
    import platform

    def _no_wmi(*args, **kwargs):
        raise OSError("no WMI here")  # platform catches OSError and asks the version API instead

    if hasattr(platform, "_wmi_query"):
        platform._wmi_query = _no_wmi


def pytest_addoption(parser):
    parser.addoption("--full-stress", action="store_true",
                     help="run the stress tests at full size (same as MAPISYNC_FULL_STRESS=1)")


def pytest_configure(config):
    if config.getoption("--full-stress"):
        os.environ["MAPISYNC_FULL_STRESS"] = "1"


def pytest_report_header(config):
    import mapisync_ctypes
    from mapisync_ctypes.com import backends

    why = f" (native backend unavailable: {backends.FALLBACK_REASON})" if backends.FALLBACK_REASON else ""
    return [f"mapisync_ctypes {mapisync_ctypes.__version__}: backend {mapisync_ctypes.BACKEND}{why}, "
            f"GIL check {'on' if os.environ.get('MAPISYNC_GIL_CHECK') == '1' else 'off'}",
            f"  from {Path(mapisync_ctypes.__file__).parent}"]


@pytest.fixture(autouse=True)
def _no_c_api_call_without_the_gil():
    yield
    import mapisync_ctypes

    if mapisync_ctypes.BACKEND == "native":
        from mapisync_ctypes.com.native_backend import gil_violations

        count, first = gil_violations()
        assert count == 0, f"the native core called the Python C API without the GIL ({count}x, first: {first})"

sys.path.insert(0, str(Path(__file__).resolve().parent))

import native_build  # noqa: E402
from mapisync_ctypes import (  # noqa: E402
    E_INVALIDARG, COMObject, IMAPISync, IMAPISyncProgressCallback, WCHAR,
)


@pytest.fixture(scope="session")
def native(tmp_path_factory: pytest.TempPathFactory):
    """The native test libraries: .host, .objects, .cpp (ctypes.CDLL each)."""
    libs = native_build.load(tmp_path_factory.mktemp("native"))

    class Libs:
        host = libs["host"]
        objects = libs["objects"]
        cpp = libs["host_cpp"]
        host_gil = libs["host_gil"]
        sync = libs["sync_host"]
        providers = libs["providers"]
        example_provider = libs["example_provider"]

    return Libs


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
