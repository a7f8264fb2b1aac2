"""check_provider: put a native provider through every host behaviour the protocol allows.

Each scenario (see :mod:`.scenarios`) runs in a child process, as the ``mapisync drive``
command line that reproduces it, with a time limit: a provider that crashes or hangs becomes
a finding, never the end of the check. The baseline runs first; if the provider cannot get
through it, the other scenarios are not run. Every breach becomes a :class:`Finding` with
its rule, its scenario, what was expected, what was seen, and the command that shows it again.
"""

import concurrent.futures
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .hostoptions import drive_command, to_arguments
from .rules import RULES, Violation
from .scenarios import BASELINE, Scenario, scenarios

logger = logging.getLogger("mapisync_ctypes")

__all__ = ["check_provider", "CheckReport", "Finding", "Outcome", "CheckError"]

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NTSTATUS = {0xC0000005: "an access violation", 0xC00000FD: "a stack overflow", 0xC0000409: "a fail-fast abort",
             0xC000001D: "an illegal instruction", 0x80000003: "a breakpoint", 0xC0000374: "heap corruption"}


class CheckError(Exception):
    """The check could not run at all: ``usage`` for a bad LIB:SYMBOL, else the provider's
    factory failed."""

    def __init__(self, message: str, usage: bool) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class Finding:
    """One breach: its rule, the scenario that showed it, what was expected and what was seen,
    and a command that shows it again. ``also`` names other scenarios that showed it too."""

    rule: int
    scenario: str
    message: str
    expected: str
    seen: str
    repro: str
    details: str = ""
    also: List[str] = field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        """JSON-ready, with the rule's title and anchor."""
        rule = RULES[self.rule]
        return {"rule": self.rule, "title": rule.title, "anchor": rule.anchor, "scenario": self.scenario,
                "message": self.message, "expected": self.expected, "seen": self.seen, "repro": self.repro,
                "details": self.details, "also": list(self.also)}

    def describe(self) -> str:
        """The finding as a few readable lines."""
        lines = [f"{self.message}", f"   rule:     {RULES[self.rule].reference()}",
                 f"   scenario: {self.scenario}" + (f" (also: {', '.join(self.also)})" if self.also else ""),
                 f"   expected: {self.expected}", f"   seen:     {self.seen}", f"   repro:    {self.repro}"]
        if self.details:
            lines += ["   output:   " + line for line in self.details.splitlines()]
        return "\n".join(lines)


@dataclass
class Outcome:
    """How one scenario went: passed, failed, crashed, hung, skipped or not run."""

    scenario: Scenario
    status: str
    seconds: float = 0.0
    note: str = ""
    findings: List[Finding] = field(default_factory=list)


@dataclass
class CheckReport:
    """Everything a check found: every scenario's outcome and the findings, deduplicated."""

    target: str
    mode: str
    outcomes: List[Outcome]
    findings: List[Finding]
    elapsed: float

    @property
    def ok(self) -> bool:
        """The provider conforms: no finding."""
        return not self.findings

    def as_dict(self) -> Dict[str, Any]:
        """JSON-ready: the target, every scenario's outcome, every finding."""
        return {"ok": self.ok, "target": self.target, "mode": self.mode, "elapsed": round(self.elapsed, 3),
                "scenarios": [{"name": o.scenario.name, "title": o.scenario.title, "rule": o.scenario.rule,
                               "status": o.status, "seconds": round(o.seconds, 3), "note": o.note,
                               "repro": _repro(self.target, o.scenario)} for o in self.outcomes],
                "findings": [f.as_dict() for f in self.findings]}

    def format(self) -> str:
        """The report as text: a line per scenario, then each finding."""
        lines = [f"{o.status.upper():<8} {o.scenario.name:<22} {o.scenario.title}"
                 + (f" ({o.note})" if o.note else "") + (f"  {o.seconds:.2f} s" if o.seconds else "")
                 for o in self.outcomes]
        ran = sum(o.status not in ("skipped", "not run") for o in self.outcomes)
        lines.append(f"{ran} scenario(s) in {self.elapsed:.1f} s ({self.mode}): "
                     + ("the provider conforms" if self.ok else f"{len(self.findings)} finding(s)"))
        for number, finding in enumerate(self.findings, 1):
            lines += ["", f"{number}. {finding.describe()}"]
        return "\n".join(lines)


def _repro(target: str, scenario: Scenario) -> str:
    return drive_command(target, scenario.options)


def check_provider(target: str, *, quick: bool = False, timeout: Optional[float] = None,
                   jobs: Optional[int] = None, only: Optional[Sequence[str]] = None,
                   env: Optional[Dict[str, str]] = None) -> CheckReport:
    """Check the provider ``target`` ("library:Symbol", a native factory) against the protocol.

    ``quick`` runs one scenario per common fault (a few seconds); the default runs them all.
    ``timeout`` is each sync's time limit (default 10 s, 5 s quick); ``jobs`` how many
    scenarios run at once (default: twice the CPUs, at most 8); ``only`` limits the scenarios
    to those names (the baseline always runs); ``env`` is the children's environment.
    Raises :class:`CheckError` if the provider cannot be loaded at all.
    """
    timeout = timeout or (5.0 if quick else 10.0)
    jobs = jobs or min(8, 2 * (os.cpu_count() or 1))
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, (_PACKAGE_PARENT, child_env.get("PYTHONPATH"))))
    child_env["PYTHONFAULTHANDLER"] = "1"
    child_env["PYTHONIOENCODING"] = "utf-8"
    started = time.monotonic()
    base, document = _run(target, BASELINE, timeout, child_env)
    outcomes = [base]
    later = scenarios(*_reports(document), quick=quick)
    if only is not None:
        unknown = set(only) - {s.name for s in later} - {BASELINE.name}
        if unknown:
            raise CheckError(f"no scenario named {', '.join(sorted(unknown))}", usage=True)
        later = [s for s in later if s.name in only]
    if base.status in ("crashed", "hung") or document is None:
        outcomes += [Outcome(s, "not run", note="the baseline did not finish") for s in later]
    else:
        outcomes += [Outcome(s, "skipped", note=s.skip) for s in later if s.skip]
        runnable = [s for s in later if not s.skip]
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes += [outcome for outcome, _ in pool.map(lambda s: _run(target, s, timeout, child_env), runnable)]
    order = {s.name: i for i, s in enumerate([BASELINE, *later])}
    outcomes.sort(key=lambda o: order[o.scenario.name])
    return CheckReport(target, "quick" if quick else "thorough", outcomes, _merge(outcomes),
                       time.monotonic() - started)


def _reports(document: Optional[Dict[str, Any]]) -> Tuple[int, int]:
    """How many Progress and Error calls the baseline saw."""
    events = (document or {}).get("events", [])
    return (sum(e["kind"] == "Progress" for e in events), sum(e["kind"] == "Error" for e in events))


def _spawn(command: List[str], env: Dict[str, str]) -> "subprocess.Popen[bytes]":
    """Starts a scenario's child. Starting a process can fail for a moment under load (Wine
    answers many at once with ERROR_INTERNAL_ERROR): that says nothing of the provider, so
    try again before giving up with CheckError."""
    failure: Optional[OSError] = None
    for attempt in range(4):
        try:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env)
        except OSError as error:
            logger.warning("could not start a scenario's process (%s); trying again", error)
            failure = error
            time.sleep(0.2 * (attempt + 1))
    raise CheckError(f"cannot start a process for the check: {failure}", usage=False)


def _run(target: str, scenario: Scenario, timeout: float,
         env: Dict[str, str]) -> Tuple[Outcome, Optional[Dict[str, Any]]]:
    """One scenario in a child process: ``mapisync drive TARGET OPTIONS --json``."""
    command = [sys.executable, "-m", "mapisync_ctypes", "drive", target,
               *to_arguments(scenario.with_timeout(timeout)), "--json"]
    limit = timeout * (2 if scenario.options.get("concurrent") else 1) + 5.0
    started = time.monotonic()
    child = _spawn(command, env)
    hung = False
    try:
        out, err = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        hung = True
        child.kill()
        out, err = child.communicate()
    outcome = Outcome(scenario, "passed", time.monotonic() - started)
    document = _document(out)
    if document is not None and "call_hresult" not in document and "syncs" not in document:
        if scenario is BASELINE:
            raise CheckError(str(document.get("error", "the provider could not be loaded")),
                             usage=child.returncode == 2)
        document = None
    repro = _repro(target, scenario)
    tail = "\n".join(err.decode("utf-8", "replace").strip().splitlines()[-8:])
    crash = _crash(child.returncode)
    if document is not None:
        outcome.findings += _from_document(scenario, document, repro)
    if hung:
        outcome.status = "hung"
        outcome.findings.append(Finding(scenario.rule, scenario.name, f"the provider hung: {scenario.title}",
                                        f"the scenario ends within {timeout:g} s (Done, a signalled handle)",
                                        f"no result after {limit:g} s; the host process was killed"
                                        + (" (it had reported, then hung)" if document is not None else ""),
                                        repro, tail))
    elif crash:
        outcome.status = "crashed"
        outcome.findings.append(Finding(scenario.rule, scenario.name, f"the provider crashed the host: "
                                        f"{scenario.title}", "the scenario runs to its end",
                                        f"the host process died of {crash}", repro, tail))
    elif document is None:  # e.g. ctypes on Windows turns an access violation into OSError
        outcome.status = "crashed"
        seen = (f"an access violation (ctypes raised OSError), exit status {child.returncode}"
                if "access violation" in tail else f"the host process ended without a result, exit status "
                f"{child.returncode}")
        outcome.findings.append(Finding(scenario.rule, scenario.name, f"the provider crashed the host: "
                                        f"{scenario.title}", "the scenario runs to its end", seen, repro, tail))
    if outcome.findings and outcome.status == "passed":
        outcome.status = "failed"
    return outcome, document


def _document(out: bytes) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(out.decode("utf-8", "replace"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _crash(code: Optional[int]) -> Optional[str]:
    if code is None or code in (0, 1, 2):
        return None
    if code < 0 and sys.platform != "win32":
        try:
            return f"{signal.Signals(-code).name} (signal {-code})"
        except ValueError:
            return f"signal {-code}"
    status = code & 0xFFFFFFFF
    if status >= 0x80000000:
        return f"{_NTSTATUS.get(status, 'an exception')} (0x{status:08X})"
    return f"an exit with status {code}"


def _from_document(scenario: Scenario, document: Dict[str, Any], repro: str) -> List[Finding]:
    """The findings in one drive --json document (a sync, or several at once)."""
    findings: List[Finding] = []
    for sync in document.get("syncs", [document]):
        for data in sync.get("violations", []):
            if "rule" not in data:
                continue
            violation = Violation.from_dict(data)
            findings.append(Finding(violation.rule.number, scenario.name, violation.message,
                                    violation.expected or violation.rule.title, violation.seen or violation.message,
                                    repro))
        hr = sync.get("call_hresult", 0)
        if hr < 0 and not scenario.refusal:
            findings.append(Finding(2, scenario.name, f"SynchronizeInBackground refused valid input: {scenario.title}",
                                    "S_OK: rule 2 lists every reason to refuse, and this is none of them",
                                    str(sync.get("call_hresult_name")), repro))
    return findings


def _merge(outcomes: List[Outcome]) -> List[Finding]:
    """One finding per breach, however many scenarios showed it (numbers aside)."""
    merged: Dict[Tuple[int, str], Finding] = {}
    for outcome in outcomes:
        for finding in outcome.findings:
            key = (finding.rule, re.sub(r"0x[0-9a-fA-F]+|\d+(\.\d+)?", "#", finding.message))
            first = merged.get(key)
            if first is None:
                merged[key] = Finding(**{**finding.__dict__, "also": []})
            elif finding.scenario != first.scenario and finding.scenario not in first.also:
                first.also.append(finding.scenario)
    return sorted(merged.values(), key=lambda f: f.rule)
