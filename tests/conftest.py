import os
import sys
from pathlib import Path

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

import native_build  # noqa: E402  (tests/ is on sys.path: pytest puts a rootless test folder there)


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
        faulty = libs["faulty"]
        example_provider = libs["example_provider"]

    return Libs
