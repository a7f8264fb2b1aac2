"""What `mapisync` says when things go wrong: errors on stderr, JSON that stays JSON, named
HRESULTs, the library's log, a quiet closed pipe, prompt timeouts and Ctrl-C, exit codes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mapisync_ctypes import _locate, cli

import native_build
from test_cli import libs, mapisync  # noqa: F401  (the fixture and the helper)

HERE = Path(__file__).resolve().parent
needs_refhost = pytest.mark.skipif(_locate.refhost_library() is None, reason="the reference host is built by setup.py")


def shim(native) -> str:
    return str(Path(native.host._name).parent / f"mapisync_native{native_build.LIB_EXT}")


def with_factory(factory=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE)]))
    env.pop("MAPISYNC_FACTORY", None)
    if factory:
        env["MAPISYNC_FACTORY"] = factory
    return env


def run_cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "mapisync_ctypes", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or with_factory(), stdin=subprocess.DEVNULL)


def test_a_python_provider_that_raises_shows_its_traceback(native):
    run = run_cli("drive", f"{shim(native)}:MapiSyncGetObject", env=with_factory("embed_factories:disk_on_fire"))
    assert run.returncode == cli.EXIT_FAILED
    assert "Done: E_FAIL (0x80004005)" in run.stdout
    assert "RuntimeError: disk on fire" in run.stderr and "Traceback" in run.stderr


def test_the_shim_inside_python_serves_from_the_running_interpreter(native):
    """A shim loaded into a Python process uses that interpreter, before any library it is told
    of: a second libpython in one process crashes it (3.9 once loaded the system's 3.11)."""
    env = with_factory("embed_factories:disk_on_fire")
    env["MAPISYNC_PYTHON"] = str(HERE / "no-such-libpython.so")
    run = run_cli("drive", f"{shim(native)}:MapiSyncGetObject", env=env)
    assert run.returncode == cli.EXIT_FAILED, run.stderr
    assert "RuntimeError: disk on fire" in run.stderr and "Done: E_FAIL (0x80004005)" in run.stdout


def test_the_log_level_is_chosen_on_the_command_line(native):
    quiet = run_cli("--log-level", "critical", "drive", f"{shim(native)}:MapiSyncGetObject",
                    env=with_factory("embed_factories:disk_on_fire"))
    assert "disk on fire" not in quiet.stderr
    target = f"{shim(native)}:MapiSyncGetObject"
    default = run_cli("drive", target, env=with_factory("embed_factories:network_down"))
    verbose = run_cli("-v", "drive", target, env=with_factory("embed_factories:network_down"))
    assert "MAPI_E_NETWORK_ERROR" in default.stdout and "INFO" not in default.stderr
    assert "INFO mapisync_ctypes: Down.synchronize ended with MAPI_E_NETWORK_ERROR" in verbose.stderr


def test_the_shim_says_why_it_failed(native):
    run = run_cli("drive", f"{shim(native)}:MapiSyncGetObject", env=with_factory())
    assert run.returncode == cli.EXIT_FAILED
    assert "E_INVALIDARG (0x80070057)" in run.stderr
    assert "no Python factory configured: set MAPISYNC_FACTORY" in run.stderr
    assert run.stdout == ""


def test_every_hresult_of_the_package_is_named(native):
    run = run_cli("drive", f"{shim(native)}:MapiSyncGetObject", env=with_factory("no_such_module:create"))
    assert "MAPISYNC_E_PYTHON_IMPORT (0x8007007E)" in run.stderr
    assert "No module named 'no_such_module'" in run.stderr


@pytest.mark.parametrize("args, status", [
    (["drive", "missing.so:MapiSyncGetObject"], cli.EXIT_USAGE),
    (["drive", "no-colon"], cli.EXIT_USAGE),
    (["info", "--json", "--bogus"], cli.EXIT_USAGE),
])
def test_json_stays_json_when_things_fail(args, status):
    run = run_cli(*args, "--json") if "--json" not in args else run_cli(*args)
    assert run.returncode == status
    document = json.loads(run.stdout)
    assert document["ok"] is False and document["exit"] == status and document["error"]
    assert run.stderr.startswith("mapisync: error: ")


def test_json_failure_of_the_factory_names_the_hresult(native):
    run = run_cli("drive", f"{shim(native)}:MapiSyncGetObject", "--json", env=with_factory("no_such:thing"))
    document = json.loads(run.stdout)
    assert run.returncode == cli.EXIT_FAILED and document["exit"] == cli.EXIT_FAILED
    assert document["hresult_name"] == "MAPISYNC_E_PYTHON_IMPORT (0x8007007E)"


def test_json_of_a_protocol_breach(libs):  # noqa: F811
    run = run_cli("drive", f"{libs['providers']}:NullHandle_GetObject", "--json")
    document = json.loads(run.stdout)
    assert run.returncode == cli.EXIT_FAILED and document["ok"] is False
    found = [v for v in document["violations"] if "NULL handle" in v["message"]]
    assert found and found[0]["rule"] == 3 and found[0]["anchor"] == "rule-3" and found[0]["text"].endswith("#rule-3]")


def test_info_json():
    run = run_cli("info", "--json")
    assert run.returncode == 0
    facts = json.loads(run.stdout)
    assert facts["backend"] in ("native", "ctypes") and facts["mapisib"]["size"] in (20, 32)
    assert facts["interfaces"]["IMAPISyncProgressCallback"]["slots"][3] == "Progress"
    assert os.path.isfile(os.path.join(facts["paths"]["include"], "mapisync.h"))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGPIPE and a closed pipe: POSIX")
def test_a_closed_pipe_ends_quietly():
    process = subprocess.Popen([sys.executable, "-m", "mapisync_ctypes", "info"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=with_factory())
    process.stdout.close()  # the reader (`| head`) is gone before the first line
    _, err = process.communicate(timeout=60)
    assert process.returncode == cli.EXIT_PIPE
    assert b"Traceback" not in err and b"BrokenPipeError" not in err and err == b""


@needs_refhost
def test_demo_timeout_acts_at_once():
    started = time.monotonic()
    run = run_cli("demo", "--step", "2", "--timeout", "0.1")
    elapsed = time.monotonic() - started
    assert run.returncode == cli.EXIT_FAILED
    assert "did not finish within 100 ms" in run.stdout
    after = run.stdout.split("did not finish within 100 ms")[1]
    assert "[" not in after  # no more progress drawn once the host gave up
    assert elapsed < 5, elapsed  # start-up included; the sync itself would take 12 s


@needs_refhost
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child: POSIX")
def test_ctrl_c_in_the_demo_acts_at_once():
    # as at a terminal: a runner started in the background (`cmd &` without job control) hands
    # its children SIGINT ignored, and Python then never installs its KeyboardInterrupt handler
    process = subprocess.Popen([sys.executable, "-m", "mapisync_ctypes", "demo", "--step", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=with_factory(), text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    line = process.stdout.readline()
    assert line.startswith("mapisync demo:")
    time.sleep(0.5)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - sent < 3
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert "mapisync: error: interrupted" in err and "Traceback" not in err


@needs_refhost
def test_demo_exit_codes():
    assert run_cli("demo", "--step", "0.01").returncode == cli.EXIT_OK
    assert run_cli("demo", "--step", "0.01", "--cancel-after", "3").returncode == cli.EXIT_FAILED
    assert run_cli("demo", "--flags", "nonsense").returncode == cli.EXIT_USAGE


def test_drive_exit_codes(libs):  # noqa: F811
    assert run_cli("drive", f"{libs['example']}:MapiSyncGetObject").returncode == cli.EXIT_OK
    assert run_cli("drive", f"{libs['providers']}:NoDone_GetObject").returncode == cli.EXIT_FAILED
    assert run_cli("drive", f"{libs['example']}:NoSuchSymbol").returncode == cli.EXIT_USAGE
    assert run_cli("drive").returncode == cli.EXIT_USAGE


def test_info_exit_codes():
    assert run_cli("info").returncode == cli.EXIT_OK
    assert run_cli("info", "--include").returncode == cli.EXIT_OK
    assert run_cli("info", "--nonsense").returncode == cli.EXIT_USAGE
