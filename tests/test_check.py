"""`mapisync check` / check_provider: every faulty provider in tests/native/faulty.c is caught by
the rule it breaks, the good providers pass clean, crashes and hangs end as one finding in
bounded time, and every finding carries a command that shows it again."""

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mapisync_ctypes import cli
from mapisync_ctypes.sync.conformance import CheckError, check_provider

from test_cli_failures import run_cli, shim, with_factory


@pytest.fixture(scope="module")
def faulty(native) -> str:
    return native.faulty._name


@pytest.fixture(scope="module")
def example(native) -> str:
    return f"{native.example_provider._name}:MapiSyncGetObject"


def check(target, **options):
    return check_provider(target, env=with_factory(), **options)


def test_the_example_c_provider_passes_the_thorough_check(example):
    report = check(example)
    assert report.ok, report.format()
    statuses = {o.scenario.name: o.status for o in report.outcomes}
    assert len(statuses) >= 30 and set(statuses.values()) == {"passed"}, statuses  # nothing skipped either


def test_the_conforming_test_provider_passes_the_quick_check(faulty):
    report = check(f"{faulty}:Conforming_GetObject", quick=True)
    assert report.ok, report.format()
    assert [o.status for o in report.outcomes].count("passed") == len(report.outcomes) >= 10


def test_the_python_sample_through_the_shim_passes(native):
    report = check_provider(f"{shim(native)}:MapiSyncGetObject", quick=True,
                            env=with_factory("mapisync_ctypes.sample:create"))
    assert report.ok, report.format()


@pytest.mark.parametrize("factory, scenario, rule, words", [
    ("ReportsAfterCancel", "cancel-first", 4, "was called after the host answered MAPI_E_USER_CANCEL"),
    ("OkAfterCancel", "cancel-first", 4, "Done carried S_OK (0x00000000) after the host cancelled"),
    ("AcceptsUnknownFlags", "flags-unknown-high", 2, "accepted unknown flag bits 0x80000000"),
    ("AcceptsShortSize", "mapisib-short", 2, "accepted ulSize one byte short of sizeof(MAPISIB)"),
    ("KeepsRefOnFailure", "flags-unknown-high", 2, "failed but kept a reference to the callback"),
    ("NoOwnReference", "release-early", 3, "without a reference of its own to the callback"),
    # POSIX sees the missing duplicate at once (/proc); Windows when the closed handle is hit
    ("SignalsHostHandle", "close-in-done", 5, ("after the host closed its handle inside Done",
                                               "no private duplicate for the provider to signal")),
    ("MixesSyncs", "concurrent", 7, "the syncs were mixed up"),
    ("CrashesOnNullSession", "session-null", 3, "crashed the host"),
    ("DeadlocksOnReentry", "reenter", 1, "QueryInterface, called from inside Progress, never returned"),
    ("DiesWithLastRelease", "release-provider", 3, "crashed the host"),
    ("RefusesOnDemand", "flags-on-demand", 2, "SynchronizeInBackground refused valid input"),
])
def test_each_fault_is_caught_by_its_rule(faulty, factory, scenario, rule, words):
    report = check(f"{faulty}:{factory}_GetObject", only=[scenario], timeout=3)
    assert not report.ok
    words = (words,) if isinstance(words, str) else words
    caught = [f for f in report.findings if f.rule == rule and any(w in f.message for w in words)
              and scenario in [f.scenario, *f.also]]
    assert caught, report.format()
    finding = caught[0]
    assert finding.expected and finding.seen
    assert finding.repro.split()[:3] == ["mapisync", "drive", f"{faulty}:{factory}_GetObject"] or \
        sys.platform == "win32"


def test_the_quick_check_finds_every_listed_fault(faulty):
    """The quick set alone catches each fault the issue lists (a unit-test run uses it)."""
    for factory, rule in (("ReportsAfterCancel", 4), ("OkAfterCancel", 4), ("AcceptsUnknownFlags", 2),
                          ("AcceptsShortSize", 2), ("KeepsRefOnFailure", 2), ("NoOwnReference", 3),
                          ("SignalsHostHandle", 5), ("MixesSyncs", 7), ("CrashesOnNullSession", 3)):
        report = check(f"{faulty}:{factory}_GetObject", quick=True, timeout=3)
        assert rule in {f.rule for f in report.findings}, (factory, report.format())


@pytest.mark.parametrize("factory, status", [("Crashes", "crashed"), ("Hangs", "hung")])
def test_a_crash_or_a_hang_is_one_finding_in_bounded_time(faulty, factory, status):
    started = time.monotonic()
    report = check(f"{faulty}:{factory}_GetObject", timeout=1)
    assert time.monotonic() - started < 30
    assert len(report.findings) == 1, report.format()
    baseline, *rest = report.outcomes
    assert baseline.status == status and {o.status for o in rest} == {"not run"}
    assert report.findings[0].scenario == "baseline"
    if status == "crashed" and sys.platform != "win32":
        assert "SIGSEGV" in report.findings[0].seen


def test_the_repro_command_shows_the_same_breach(faulty):
    report = check(f"{faulty}:OkAfterCancel_GetObject", only=["cancel-first"])
    finding = next(f for f in report.findings if f.scenario == "cancel-first")
    argv = shlex.split(finding.repro) if sys.platform != "win32" else finding.repro.split()
    assert argv[:2] == ["mapisync", "drive"]
    run = run_cli(*argv[1:])
    assert run.returncode == cli.EXIT_FAILED
    assert "Done carried S_OK (0x00000000) after the host cancelled" in run.stdout
    assert "docs/protocol.md#rule-4" in run.stdout


def test_check_from_the_command_line_json_and_exit_codes(faulty, example):
    good = run_cli("check", example, "--quick", "--json")
    assert good.returncode == cli.EXIT_OK, good.stdout + good.stderr
    document = json.loads(good.stdout)
    assert document["ok"] is True and document["findings"] == [] and document["mode"] == "quick"
    assert all(s["status"] == "passed" and s["repro"].startswith("mapisync drive") for s in document["scenarios"])

    bad = run_cli("check", f"{faulty}:AcceptsShortSize_GetObject", "--only", "mapisib-short", "--json")
    assert bad.returncode == cli.EXIT_FAILED
    finding = json.loads(bad.stdout)["findings"][0]
    assert (finding["rule"], finding["anchor"], finding["scenario"]) == (2, "rule-2", "mapisib-short")
    assert {"expected", "seen", "repro", "title", "message"} <= set(finding)

    human = run_cli("check", f"{faulty}:AcceptsShortSize_GetObject", "--only", "mapisib-short")
    assert human.returncode == cli.EXIT_FAILED
    assert 'rule 2, "Bad input fails at once and touches nothing"' in human.stdout and "repro:" in human.stdout


@pytest.mark.parametrize("args", [
    ["check", "no-colon"],
    ["check", "/no/such/library.so:Factory"],
    ["check", "--jobs", "0", "x.so:F"],
])
def test_bad_use_of_check_exits_2(args):
    run = run_cli(*args)
    assert run.returncode == cli.EXIT_USAGE, run.stdout + run.stderr
    assert run.stderr.startswith("mapisync: error:") and "Traceback" not in run.stderr


def test_an_unknown_scenario_name_is_bad_use(example):
    with pytest.raises(CheckError) as info:
        check(example, only=["no-such-scenario"])
    assert info.value.usage and "no-such-scenario" in str(info.value)


def test_the_fixture_checks_a_provider(pytester, faulty, example):
    pytester.makepyfile(f"""
        def test_good(mapisync_host):
            mapisync_host.check({example!r}, quick=True)

        def test_bad(mapisync_host):
            mapisync_host.check({faulty + ":OkAfterCancel_GetObject"!r}, quick=True, timeout=3)
    """)
    from test_cli import _pytest11
    from importlib.metadata import entry_points
    installed = any(e.name == "mapisync" for e in _pytest11(entry_points()))
    result = pytester.runpytest(*([] if installed else ["-p", "mapisync_ctypes.pytest_plugin"]))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Done carried S_OK*after the host cancelled*", "*repro:*mapisync drive*"])
