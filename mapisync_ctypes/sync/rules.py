"""The rules of background sync, each named once: what SyncProvider follows, what run_sync and
`mapisync check` enforce, and what docs/protocol.md explains. A breach is a :class:`Violation`:
the message, then the rule it breaks and where that rule is written."""

from typing import Dict, NamedTuple

__all__ = ["Rule", "RULES", "Violation", "PROTOCOL_PAGE"]

#: where the rules are explained (docs/protocol.md in the repository; protocol.html when built)
PROTOCOL_PAGE = "docs/protocol.md"


class Rule(NamedTuple):
    """One rule of the protocol: its number, a short title and its anchor in the protocol page."""

    number: int
    title: str
    anchor: str

    def reference(self) -> str:
        """'rule 4, "Reports, then Done once": docs/protocol.md#rule-4'."""
        return f'rule {self.number}, "{self.title}": {PROTOCOL_PAGE}#{self.anchor}'


RULES: Dict[int, Rule] = {rule.number: rule for rule in (
    Rule(1, "The work runs on another thread", "rule-1"),
    Rule(2, "Bad input fails at once and touches nothing", "rule-2"),
    Rule(3, "A handle before returning, references for the sync", "rule-3"),
    Rule(4, "Reports, then Done once", "rule-4"),
    Rule(5, "Release, then signal a private copy", "rule-5"),
    Rule(6, "The host owns its handle", "rule-6"),
    Rule(7, "Syncs may overlap", "rule-7"),
)}


class Violation(str):
    """A breach of the protocol: the message, with the rule it breaks appended. It is a str,
    so lists of violations read and compare as text; ``.rule`` and ``.message`` keep the parts."""

    rule: Rule
    message: str

    def __new__(cls, rule: int, message: str) -> "Violation":
        found = RULES[rule]
        text = super().__new__(cls, f"{message} [{found.reference()}]")
        text.rule = found
        text.message = message
        return text
