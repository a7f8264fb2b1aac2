"""What users install: a cheap plugin, every shipped file present, nothing degrading silently."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import _locate

LIGHT = {"mapisync_ctypes", "mapisync_ctypes._locate", "mapisync_ctypes._version", "mapisync_ctypes.com", "mapisync_ctypes.com.hresult",
         "mapisync_ctypes.sync", "mapisync_ctypes.sync.flags", "mapisync_ctypes.sync.hresults",
         "mapisync_ctypes.tools", "mapisync_ctypes.tools.pytest_plugin", "mapisync_ctypes.embed",
         "mapisync_ctypes.embed.hresults"}


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, **env), cwd=str(Path(m.__file__).parent.parent))


def test_registering_the_pytest_plugin_imports_nothing_heavy():
    run = _python("""
        import sys
        import mapisync_ctypes.tools.pytest_plugin
        print(sorted(name for name in sys.modules if name.startswith("mapisync_ctypes")))
        maps = open("/proc/self/maps").read() if sys.platform.startswith("linux") else ""
        print("native library mapped:", "mapisync_native" in maps)
        print("cffi:", "_cffi_backend" in sys.modules)
    """)
    assert run.returncode == 0, run.stderr
    loaded = set(eval(run.stdout.splitlines()[0]))
    assert loaded <= LIGHT, loaded - LIGHT
    assert "native library mapped: False" in run.stdout and "cffi: False" in run.stdout


def test_an_unrelated_pytest_run_never_loads_the_library(pytester):
    pytester.makepyfile("""
        import sys

        def test_unrelated():
            heavy = [n for n in sys.modules if n.startswith("mapisync_ctypes.com.") and n.endswith("backend")]
            assert heavy == [], heavy
    """)
    args = ["-p", "no:hypothesispytest"]  # hypothesis' plugin asks WMI at import, which Wine lacks
    args += [] if _plugin_installed() else ["-p", "mapisync_ctypes.tools.pytest_plugin"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1)


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points
    eps = entry_points()
    group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
    return any(e.name == "mapisync" for e in group)


def test_the_shipped_files_are_where_the_readme_points():
    include = Path(m.get_include())
    for name in ("mapisync.h", "mapisync_done.h", "mapisync_python.h", "mapisync_python.c"):
        assert (include / name).is_file(), name
    examples = Path(_locate.examples_dir())
    for name in ("python_provider.py", "hello_from_c.py", "hello_host.c", "c_provider/provider.c",
                 "embedding/embed_sync.c", "embedding/shim_sync.c", "embedding/print_sync.h"):
        assert (examples / name).is_file(), name


@pytest.mark.skipif(os.environ.get("MAPISYNC_REQUIRE_NATIVE") != "1",
                    reason="MAPISYNC_REQUIRE_NATIVE=1 says they must have been built (CI sets it)")
def test_the_native_libraries_were_built():
    assert m.shim_path() and Path(m.shim_path()).is_file()
    assert _locate.refhost_library() and Path(_locate.refhost_library()).is_file()


def test_a_missing_native_library_is_said_out_loud(tmp_path):
    """A package whose native library was not built falls back to ctypes, and says so."""
    copy = tmp_path / "mapisync_ctypes"
    import shutil
    shutil.copytree(Path(m.__file__).parent, copy, copy_function=shutil.copyfile,  # Wine lacks CopyFile2
                    ignore=shutil.ignore_patterns("*.so", "*.dll", "*.dylib", "__pycache__"))
    first = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "  # PYTHONPATH would not do: ._pth trees ignore it
    run = subprocess.run([sys.executable, "-W", "default", "-c",
                          first + "import mapisync_ctypes as m; print(m.BACKEND); print(m.shim_path())"],
                         capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
                         env=dict(os.environ, MAPISYNC_BACKEND=""))
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["ctypes", "None"]
    assert "native library was not built" in run.stderr
    info = subprocess.run([sys.executable, "-c", first + "from mapisync_ctypes.tools.cli import main; main(['info'])"],
                          capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
                          env=dict(os.environ, MAPISYNC_BACKEND=""))
    assert "native backend could not load: the native library was not built" in info.stdout
    assert "reference host: not built" in info.stdout


def test_forcing_the_native_backend_without_it_fails_clearly(tmp_path):
    copy = tmp_path / "mapisync_ctypes"
    import shutil
    shutil.copytree(Path(m.__file__).parent, copy, copy_function=shutil.copyfile,  # Wine lacks CopyFile2
                    ignore=shutil.ignore_patterns("*.so", "*.dll", "*.dylib", "__pycache__"))
    run = subprocess.run([sys.executable, "-c",
                          f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import mapisync_ctypes as m; m.COMObject"],
                         capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
                         env=dict(os.environ, MAPISYNC_BACKEND="native"))
    assert run.returncode != 0
    assert "MAPISYNC_BACKEND=native, but the native backend cannot load" in run.stderr
