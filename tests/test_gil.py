"""The native core touches the Python C API only while it holds the GIL.

The rule holds by construction (csrc/core.h): exports named msc_py_* touch Python and are
called through ctypes.PyDLL, which keeps the GIL; every other export is plain C; vtable
entry points take the GIL themselves. The suite runs with MAPISYNC_GIL_CHECK=1, so every
C-API call checks PyGILState_Check() first and conftest's autouse fixture fails any test
during which one did not: a regression shows on every Python version, not only where it
happens to crash (3.12 and 3.13 crashed at import; 3.11 survived by luck).
"""

import ctypes
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mapisync_ctypes as m

CSRC = Path(__file__).resolve().parent.parent / "csrc"
CORE_PARTS = [CSRC / f"{part}.c" for part in ("pyapi", "threadstate", "objects", "dispatch", "callers")]
native_only = pytest.mark.skipif(m.BACKEND != "native", reason="the native backend's check")


@pytest.mark.skipif(not CSRC.is_dir(), reason="a source check: runs in a checkout")
def test_every_export_that_touches_python_is_named_msc_py():
    source = "\n".join(part.read_text() for part in CORE_PARTS)
    exports = re.finditer(r"^MSC_API [^;{]*?\b(msc_\w+)\(([^)]*)\)\s*\{", source, re.M)
    touching, plain = [], []
    for match in exports:
        body_start = match.end()
        depth, i = 1, body_start
        while depth:
            depth += {"{": 1, "}": -1}.get(source[i], 0)
            i += 1
        body = source[body_start:i]
        (touching if re.search(r"\bPY\(|msc_keep\(|msc_enter\(", body) else plain).append(match.group(1))
    assert touching and plain
    assert all(name.startswith("msc_py_") for name in touching), touching
    assert not [name for name in plain if name.startswith("msc_py_")], plain
    # every function the Python side declares (its tables of msc_* names, read without loading
    # the library) is one of them
    import ast
    declared = set()
    for module in ("corelib.py", "native_backend.py", "threadstates.py"):
        tree = ast.parse((Path(m.__file__).parent / "com" / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and node.keys and all(
                    isinstance(k, ast.Constant) and str(k.value).startswith("msc_") for k in node.keys):
                declared |= {k.value for k in node.keys}
    assert {"msc_bind", "msc_py_init", "msc_py_keep_thread"} <= declared, declared
    assert declared <= set(touching + plain), declared - set(touching + plain)


@native_only
def test_the_check_catches_a_c_api_call_without_the_gil():
    from mapisync_ctypes.com.native_backend import gil_violations, lib

    assert lib.msc_gil_check_probe() == 1  # through ctypes.CDLL: the GIL is released
    count, first = gil_violations()
    assert (count, first) == (1, "msc_gil_check_probe")
    lib.msc_gil_reset()
    with_gil = ctypes.PyDLL(m.shim_path()).msc_gil_check_probe
    assert with_gil() == 0
    assert gil_violations() == (0, None)


@native_only
def test_functions_that_touch_python_are_called_with_the_gil():
    from mapisync_ctypes.com import native_backend

    for name in native_backend._FUNCTIONS:
        function = getattr(native_backend.lib, name)
        assert isinstance(function, ctypes._CFuncPtr)
        uses_pydll = function._flags_ & ctypes._FUNCFLAG_PYTHONAPI
        assert bool(uses_pydll) == name.startswith("msc_py_"), name


def test_import_and_a_call_from_c_in_a_fresh_interpreter(native, tmp_path):
    """What crashed 3.12 and 3.13: the first import, then C calling a Python object."""
    script = tmp_path / "first_import.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(Path(__file__).resolve().parent)!r}]\n"
        "import native_build, mapisync_ctypes as m\n"
        "from pathlib import Path\n"
        "from support import Recorder\n"
        f"libs = native_build.load(Path({str(Path(native.host._name).parent)!r}))\n"
        "r = Recorder()\n"
        "a = m.com_pointer(r, m.IMAPISyncProgressCallback)\n"
        "assert libs['host'].host_progress(a, None, 1, 2) == 0\n"
        "assert libs['host'].host_release(a, 1) == 0\n"
        "if m.BACKEND == 'native':\n"
        "    from mapisync_ctypes.com.native_backend import gil_violations\n"
        "    assert gil_violations() == (0, None), gil_violations()\n"
        "print('ok', m.BACKEND, r.events)\n")
    env = dict(__import__("os").environ, MAPISYNC_GIL_CHECK="1", MAPISYNC_TEST_NATIVE_DIR=str(Path(native.host._name).parent))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok ") and "('Progress', None, 1, 2)" in result.stdout
