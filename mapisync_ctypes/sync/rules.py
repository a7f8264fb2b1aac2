"""The rules of background sync, each named once: what SyncProvider follows, what run_sync and
`mapisync check` enforce, and what docs/protocol.md explains. A breach is a :class:`Violation`:
the message, then the rule it breaks and where that rule is written."""

from typing import Any, Dict, NamedTuple, Optional

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
    so lists of violations read and compare as text; ``.rule`` and ``.message`` keep the parts,
    ``.expected`` and ``.seen`` (when given) say what the rule asks for and what happened."""

    rule: Rule
    message: str
    expected: Optional[str]
    seen: Optional[str]

    def __new__(cls, rule: int, message: str, expected: Optional[str] = None,
                seen: Optional[str] = None) -> "Violation":
        found = RULES[rule]
        text = super().__new__(cls, f"{message} [{found.reference()}]")
        text.rule = found
        text.message = message
        text.expected = expected
        text.seen = seen
        return text

    def __reduce__(self) -> Any:  # str's own would lose the parts
        return (Violation, (self.rule.number, self.message, self.expected, self.seen))

    def as_dict(self) -> Dict[str, Any]:
        """JSON-ready: the rule's number, title and anchor, the message, expected and seen."""
        return {"rule": self.rule.number, "title": self.rule.title, "anchor": self.rule.anchor,
                "message": self.message, "expected": self.expected, "seen": self.seen, "text": str(self)}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Violation":
        """The inverse of :meth:`as_dict` (``mapisync check`` reads its children's this way)."""
        return cls(int(data["rule"]), str(data["message"]), data.get("expected"), data.get("seen"))
