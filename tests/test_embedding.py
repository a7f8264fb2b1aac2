"""Native hosts that get Python providers: the embedding C API and the provider shim."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import mapisync_ctypes as m

import native_build

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def python_library() -> str:
    """The Python runtime library a C host should bind to: this interpreter's."""
    if sys.platform == "win32":
        return str(Path(sys.executable).parent / f"python{sys.version_info[0]}{sys.version_info[1]}.dll")
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    path = Path(libdir or "") / (soname or "")
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not path.exists():
        pytest.skip("this Python has no shared libpython to embed")
    return str(path)


@pytest.fixture(scope="module")
def hosts(native, tmp_path_factory):
    build = tmp_path_factory.mktemp("embed")
    return {name: native_build.executable_path(name, build) for name in native_build.EXECUTABLES}


def host_env(**extra: str) -> dict:
    import site
    paths = [str(ROOT), str(HERE)] + site.getsitepackages()  # mapisync_ctypes, the factories, cffi
    env = dict(os.environ, MAPISYNC_PYTHON=python_library(),
               PYTHONPATH=os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]))
    env.pop("MAPISYNC_FACTORY", None)
    env.update(extra)
    return env


def run_host(args, **extra):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                            env=host_env(**extra), stdin=subprocess.DEVNULL)
    # MAPISYNC_GIL_CHECK=1 (conftest) reaches the embedded Python and mapisync_python.c alike
    assert "without the GIL" not in result.stderr, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return result, values


@pytest.mark.parametrize("attempt", range(3))
def test_c_program_embeds_python_and_syncs_from_four_threads(hosts, attempt):
    result, out = run_host([hosts["embed_host"], "run", "embed_factories:fast"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert out["create"].startswith("0x00000000")
    assert [out[f"sync{i}"].split()[0] for i in range(4)] == ["ok"] * 4
    assert out["shutdown"] == "0x00000000"
    assert out["after_shutdown_call"] == "0x8000FFFF"  # E_UNEXPECTED, without entering Python
    assert out["create_after_shutdown"].startswith("0x8000FFFF")
    assert out["result"] == "ok"


@pytest.mark.parametrize("spec, iid, hresult, text", [
    ("no_such_module:create", "sync", 0x8007007E, "No module named 'no_such_module'"),
    ("embed_factories:missing", "sync", 0x8007007E, "has no attribute 'missing'"),
    ("embed_factories:raising", "sync", 0x80070057, "raised ValueError: no mailbox configured"),
    ("embed_factories:failing", "sync", 0x80040115, "MAPI_E_NETWORK_ERROR (0x80040115): server unreachable"),
    ("embed_factories:not_com", "sync", 0x80004002, "returned object, not a COMObject"),
    ("embed_factories:fast", "callback", 0x80004002, "does not implement {5024A386"),
    ("no-colon", "sync", 0x80070057, 'expected "package.module:factory"'),
])
def test_failures_are_hresults_with_readable_text(hosts, spec, iid, hresult, text):
    result, out = run_host([hosts["embed_host"], "error", spec, iid])
    assert result.returncode == 0 and out["result"] == "survived", result.stdout + result.stderr
    assert out["create"] == f"0x{hresult:08X}"
    assert text in out["text"]
    assert out["null_out"] == "1"


def test_no_python_is_mapi_e_no_support(hosts):
    result, out = run_host([hosts["embed_host"], "error", "embed_factories:fast", "sync"],
                           MAPISYNC_PYTHON=str(ROOT / "no" / "such" / "libpython.so"))
    assert result.returncode == 0 and out["result"] == "survived"
    assert out["create"] == f"0x{m.MAPI_E_NO_SUPPORT & 0xFFFFFFFF:08X}"
    assert "cannot load the Python library" in out["text"] and "MAPISYNC_PYTHON" in out["text"]


def test_plain_c_host_loads_the_shim_and_syncs(hosts, native):
    shim = Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}"
    result, out = run_host([hosts["shim_host"], shim], MAPISYNC_FACTORY="embed_factories:fast")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sync=0x00000000 done=0x00000000 progress=6 errors=1 dones=1 signalled=1" in result.stdout


def test_shim_reads_its_config_file(hosts, native, tmp_path):
    source = Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}"
    shim = tmp_path / source.name
    shim.write_bytes(source.read_bytes())
    (tmp_path / "mapisync_shim.cfg").write_text(
        f"# the shim's configuration\nfactory = embed_factories:fast\npython = {python_library()}\n")
    result, _ = run_host([hosts["shim_host"], shim], MAPISYNC_PYTHON="")
    assert result.returncode == 0, result.stdout + result.stderr


def test_shim_without_a_factory_says_how_to_configure_it(hosts, native):
    shim = Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}"
    result, out = run_host([hosts["shim_host"], shim])
    assert result.returncode == 1 and out["factory"] == "0x80070057"


def test_mapisync_drive_on_the_shim(native):
    shim = Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}"
    env = host_env(MAPISYNC_FACTORY="embed_factories:fast")
    result = subprocess.run([sys.executable, "-m", "mapisync_ctypes", "drive", f"{shim}:MapiSyncGetObject"],
                            capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6/6  Synchronizing Archive" in result.stdout and "Done: S_OK (0x00000000)" in result.stdout


@pytest.mark.skipif(m.shim_path() is None, reason="setup.py builds the installed shim (pip install)")
def test_the_installed_shim_serves_a_plain_c_host(hosts):
    result, _ = run_host([hosts["shim_host"], m.shim_path()], MAPISYNC_FACTORY="embed_factories:fast")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("example", ["embed_sync", "shim_sync"])
def test_the_embedding_examples(hosts, native, example):
    shim = Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}"
    args = [hosts[example], "embed_factories:fast" if example == "embed_sync" else shim]
    result, _ = run_host(args, MAPISYNC_FACTORY="embed_factories:fast")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "progress 6/6  Synchronizing Archive" in result.stdout
    assert "error 0x80040115  Calendar: server busy, retried" in result.stdout
    assert result.stdout.rstrip().endswith("Done: 0x00000000")


@pytest.mark.parametrize("threads", [1, 8])
def test_first_create_on_worker_threads_and_shutdown_from_main(hosts, threads):
    """The interpreter is started and finalized by one thread of its own, whichever host
    threads create first or shut down (it used to hang for ever)."""
    result, out = run_host([hosts["embed_host"], "threads", "embed_factories:fast", str(threads)])
    assert result.returncode == 0 and out["result"] == "ok", result.stdout + result.stderr
    assert all(out[f"create{i}"] == "0x00000000" for i in range(threads))
    assert out["shutdown"].startswith("0x00000000")
    assert "without the GIL" not in result.stderr


@pytest.mark.parametrize("factory, by_itself", [("polite", True), ("stuck", False)])
def test_shutdown_ends_a_running_sync_with_done_e_abort(hosts, factory, by_itself):
    """A sync in flight at MapiSyncShutdownPython ends with Done(handle, E_ABORT) and a
    signalled handle, within SHUTDOWN_GRACE (2 s) plus the host's own time."""
    result, out = run_host([hosts["embed_host"], "inflight", f"embed_factories:{factory}"])
    assert result.returncode == 0 and out["result"] == "ok", result.stdout + result.stderr
    assert out["done"].split()[0] == "0x80004004"  # E_ABORT
    assert "dones=1 signalled=1 refs_left=0 after_done=0" in out["done"]
    ms = float(out["shutdown"].split("shutdown_ms=")[1])
    assert ms < (1500 if by_itself else 4000), ms  # polite notices at its next report


@pytest.mark.parametrize("factory", ["ok_error", "false_error", "partial_error"])
def test_a_factory_raising_a_success_code_is_still_a_failure(hosts, factory):
    result, out = run_host([hosts["embed_host"], "error", f"embed_factories:{factory}", "sync"])
    assert result.returncode == 0 and out["result"] == "survived", result.stdout + result.stderr
    assert int(out["create"], 16) & 0x80000000  # FAILED(hr)
    assert out["null_out"] == "1"
    assert "a success code, but no object" in out["text"]


def test_two_copies_of_the_shim_share_one_interpreter(hosts, native, tmp_path):
    source = Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}"
    copies = []
    for name in ("first provider", "second provider"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / source.name).write_bytes(source.read_bytes())
        (folder / "mapisync_shim.cfg").write_text(f"factory = embed_factories:fast\npython = {python_library()}\n")
        copies.append(folder / source.name)
    result, out = run_host([hosts["two_shims"], *copies], MAPISYNC_PYTHON="")
    assert result.returncode == 0 and out["result"] == "ok", result.stdout + result.stderr
    assert out["first_shutdown"] == "0x00000000"
    assert out["after_create"].startswith("0x8000FFFF null=1")  # E_UNEXPECTED, no object
    assert "shut down" in out["after_create"]
    assert out["second_shutdown"] == "0x00000001"  # S_FALSE: nothing left to do
    assert "double free" not in result.stderr and "Fatal Python error" not in result.stderr


windows_only = pytest.mark.skipif(sys.platform != "win32", reason="Windows DLL search (the Windows lane)")


@windows_only
def test_a_python3_dll_planted_in_the_current_folder_is_never_loaded(hosts, native, tmp_path):
    planted = tmp_path / "python3.dll"
    planted.write_bytes(Path(native.providers._name).with_name(f"planted{native_build.LIB_EXT}").read_bytes())
    marker = tmp_path / "PLANTED_DLL_WAS_LOADED"
    # the control: a bare LoadLibrary("python3.dll") from that folder does load it
    subprocess.run([str(hosts["shim_host"]), "--load-bare", "python3.dll"], cwd=str(tmp_path), timeout=60,
                   stdin=subprocess.DEVNULL, capture_output=True)
    assert marker.exists(), "the planted DLL should load by a bare name: the test cannot see planting"
    marker.unlink()
    # the shim, with no Python named anywhere, must not pick it up
    shim = Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}"
    env = host_env(MAPISYNC_FACTORY="embed_factories:fast")
    env.pop("MAPISYNC_PYTHON", None)
    result = subprocess.run([str(hosts["shim_host"]), str(shim)], cwd=str(tmp_path), env=env, timeout=120,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert not marker.exists(), "the shim loaded a python3.dll from the current folder"
    assert "factory=0x80040102" in result.stdout, result.stdout + result.stderr  # MAPI_E_NO_SUPPORT


@windows_only
def test_the_shim_works_from_a_folder_named_outside_the_ansi_code_page(hosts, native, tmp_path):
    folder = tmp_path / "Почта 邮件 provider"
    folder.mkdir()
    source = Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}"
    shim = folder / source.name
    shim.write_bytes(source.read_bytes())
    (folder / "mapisync_shim.cfg").write_text(
        f"factory = embed_factories:fast\npython = {python_library()}\n", encoding="utf-8")
    result, _ = run_host([hosts["shim_host"], shim], MAPISYNC_PYTHON="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sync=0x00000000 done=0x00000000" in result.stdout
