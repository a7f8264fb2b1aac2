"""The `mapisync` command and the pytest plugin, run as a user would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import _locate, cli

ROOT = Path(__file__).resolve().parent.parent


def mapisync(*args, timeout=120):
    """python -m mapisync_ctypes ARGS, with the checkout importable."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "mapisync_ctypes", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def libs(native):
    folder = Path(native.example_provider._name).parent
    suffix = Path(native.example_provider._name).suffix
    return {"example": str(folder / f"example_provider{suffix}"), "providers": str(folder / f"providers{suffix}"),
            "faulty": str(folder / f"faulty{suffix}")}


@pytest.mark.skipif(_locate.refhost_library() is None, reason="the reference host is built by setup.py (pip install)")
def test_demo_shows_the_sync_and_exits_zero():
    run = mapisync("demo", "--step", "0.01")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "reference host (C): SynchronizeInBackground(ulFlags=0x00000082)" in out
    assert "[########################] 6/6  Synchronizing Archive" in out
    assert "error: MAPI_E_NETWORK_ERROR (0x80040115): Calendar: server busy, retried" in out
    assert "Done: S_OK (0x00000000)" in out


@pytest.mark.skipif(_locate.refhost_library() is None, reason="the reference host is built by setup.py (pip install)")
def test_demo_cancel_exits_non_zero():
    run = mapisync("demo", "--step", "0.01", "--cancel-after", "2")
    assert run.returncode == 1
    assert "Done: MAPI_E_USER_CANCEL (0x80040113)" in run.stdout
    assert "3/6" not in run.stdout


def test_drive_the_example_c_provider(libs):
    run = mapisync("drive", f"{libs['example']}:MapiSyncGetObject")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4/4  Archive" in run.stdout and "Done: S_OK (0x00000000)" in run.stdout


def test_drive_cancel_and_flags(libs):
    run = mapisync("drive", f"{libs['example']}:MapiSyncGetObject", "--cancel-after", "2",
                   "--flags", "upload-contents,SYNC_ON_DEMAND,0x1000")
    assert run.returncode == 1
    assert "Done: MAPI_E_USER_CANCEL (0x80040113)" in run.stdout


def test_drive_json_is_the_whole_event_log(libs):
    run = mapisync("drive", f"{libs['example']}:MapiSyncGetObject", "--json", "--flags", "0x80")
    assert run.returncode == 0
    log = json.loads(run.stdout)
    assert log["hresult_name"] == "S_OK (0x00000000)" and log["flags"] == 0x80 and log["violations"] == []
    assert [e["kind"] for e in log["events"]] == ["Progress"] * 3 + ["Error", "Progress", "Done"]
    assert log["events"][-1]["handle"] == log["handle"]


def test_drive_reports_violations_and_fails(libs):
    run = mapisync("drive", f"{libs['providers']}:DoneTwice_GetObject")
    assert run.returncode == 1
    assert "VIOLATION: Done was called more than once" in run.stdout


def test_drive_bad_input_refused_as_rule_2_asks_is_success(libs):
    run = mapisync("drive", f"{libs['example']}:MapiSyncGetObject", "--flags", "0x4")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SynchronizeInBackground returned MAPI_E_UNKNOWN_FLAGS (0x80040106)" in run.stdout
    assert "refused, as rule 2 asks" in run.stdout


def test_drive_refusal_of_valid_input_is_a_failure_on_stderr(libs):
    run = mapisync("drive", f"{libs['faulty']}:RefusesOnDemand_GetObject", "--flags", "on-demand")
    assert run.returncode == 1
    assert "mapisync: error: SynchronizeInBackground failed: MAPI_E_NO_SUPPORT (0x80040102)" in run.stderr



@pytest.mark.parametrize("args, message", [
    (["drive", "missing-library.so:MapiSyncGetObject"], "cannot load"),
    (["drive", "{example}:NoSuchSymbol"], "exports no symbol 'NoSuchSymbol'"),
    (["drive", "{example}:MapiSyncGetObject", "--flags", "download-everything"], "unknown flag"),
    (["drive", "{example}:MapiSyncGetObject", "--timeout", "soon"], "bad timeout"),
    (["drive", "{example}:MapiSyncGetObject", "--timeout", "-1"], "bad timeout"),
    (["drive", "{example}:MapiSyncGetObject", "--cancel-after", "0"], "expected 1 or more"),
    (["drive", "no-colon"], "LIBRARY:SYMBOL"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_use_is_one_line_and_exit_2(libs, args, message):
    run = mapisync(*[a.format(example=libs["example"]) for a in args])
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_info_reports_the_abi():
    run = mapisync("info")
    assert run.returncode == 0
    pointer = 8 if sys.maxsize > 2 ** 32 else 4
    assert f"MAPISIB: size {32 if pointer == 8 else 20}" in run.stdout
    assert "IMAPISyncProgressCallback {5024A386-2D44-486A-81A8-8F0ECB6071DD}: 0 QueryInterface" in run.stdout
    assert f"backend: {m.BACKEND} (" in run.stdout and "header folder:" in run.stdout
    from mapisync_ctypes.com import threadstates
    kept = m.BACKEND == "native" or threadstates.AVAILABLE
    assert ("Python thread states of native threads: kept" if kept else "not kept") in run.stdout, run.stdout


def test_parse_flags():
    assert cli.parse_flags("download-contents,upload-hierarchy") == 0x81
    assert cli.parse_flags("SYNC_HEADERS, on_demand") == 0x22000000
    assert cli.parse_flags("0x80,background") == 0x1080


PLUGIN_TEST = """
    import mapisync_ctypes as m

    class Steps(m.SyncProvider):
        def synchronize(self, job):
            job.progress("one", 1, 2)
            job.progress("two", 2, 2)

    def test_python_provider(mapisync_host):
        result = mapisync_host.run(Steps(), cancel_after=2)
        assert result.hresult == m.MAPI_E_USER_CANCEL and len(result.progress) == 2

    def test_native_provider(mapisync_host):
        result = mapisync_host.run({example!r} + ":MapiSyncGetObject")
        assert result.ok

    def test_broken_provider_fails(mapisync_host):
        mapisync_host.run({providers!r} + ":NoDone_GetObject")

    def test_broken_provider_allowed(mapisync_host):
        result = mapisync_host.run({providers!r} + ":NoDone_GetObject", allow_violations=True)
        assert result.violations
"""


def test_pytest_plugin_fixture(pytester, libs):
    pytester.makepyfile(PLUGIN_TEST.format(**libs))
    # Installed, the entry point loads the plugin; from a bare checkout, name it.
    from importlib.metadata import entry_points
    installed = any(e.name == "mapisync" for e in _pytest11(entry_points()))
    result = pytester.runpytest(*([] if installed else ["-p", "mapisync_ctypes.pytest_plugin"]))
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*broke the background-sync protocol*", "*Done was never called*"])


def _pytest11(eps):
    return eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
