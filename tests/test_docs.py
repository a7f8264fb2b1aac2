"""The protocol page and the code name the same rules, and every violation links to one."""

import re
from pathlib import Path

import pytest

from mapisync_ctypes.sync.rules import PROTOCOL_PAGE, RULES, Violation

PAGE = Path(__file__).resolve().parent.parent / PROTOCOL_PAGE


@pytest.fixture(scope="module")
def page() -> str:
    if not PAGE.is_file():
        pytest.skip(f"{PROTOCOL_PAGE} is not beside the tests (a run from an installed wheel; "
                    "the checkout's run checks it)")
    return PAGE.read_text(encoding="utf-8")


def test_every_rule_has_its_anchor_and_title_on_the_page(page):
    found = dict(re.findall(r"^\((rule-\d+)\)=\n### Rule \d+: (.+)$", page, re.MULTILINE))
    assert found == {rule.anchor: rule.title for rule in RULES.values()}


def test_a_violation_names_its_rule_and_links_to_it():
    breach = Violation(2, "SynchronizeInBackground failed but wrote *phSyncDoneEvent")
    assert breach == ('SynchronizeInBackground failed but wrote *phSyncDoneEvent '
                      '[rule 2, "Bad input fails at once and touches nothing": docs/protocol.md#rule-2]')
    assert (breach.rule.number, breach.message) == (2, "SynchronizeInBackground failed but wrote *phSyncDoneEvent")
