"""The host behaviours ``mapisync check`` puts a provider through, one :class:`Scenario` each.

Each scenario is a set of run_sync options (so a ``mapisync drive`` command line), the rule it
exercises, and whether it belongs to the quick check. The baseline runs first; what the
provider reported there (how many Progress and Error calls) places the cancels.
"""

from typing import Any, Dict, List, NamedTuple, Optional

from .flags import SYNC_DOWNLOAD_CONTENTS, SYNC_DOWNLOAD_HIERARCHY, SYNC_KNOWN_FLAGS, SyncFlags

__all__ = ["Scenario", "BASELINE", "scenarios"]

_DEFAULT = int(SYNC_DOWNLOAD_HIERARCHY | SYNC_DOWNLOAD_CONTENTS)


class Scenario(NamedTuple):
    """One host behaviour: a name, what the host does, the rule it exercises, run_sync's options."""

    name: str
    title: str
    rule: int
    options: Dict[str, Any]
    quick: bool = False
    refusal: bool = False  # the host passes bad input: rule 2 asks for a refusal
    skip: Optional[str] = None  # why it cannot be exercised against this provider

    def with_timeout(self, timeout: float) -> Dict[str, Any]:
        """The options, with the sync's time limit."""
        return {**self.options, "timeout": timeout}


#: one ordinary sync with a counted session: the check starts here
BASELINE = Scenario("baseline", "one sync, default flags, a counted session", 4, {"session": "counted"}, True)


def _flag_name(member: SyncFlags) -> str:
    return str(member.name).lower().replace("_", "-")


def scenarios(progress: int, errors: int, quick: bool) -> List[Scenario]:
    """Every scenario after the baseline, given how many Progress and Error calls the provider
    made there. ``quick`` keeps the ones a unit-test run needs: one per way a provider
    commonly breaks the rules."""
    counted = {"session": "counted"}
    found: List[Scenario] = []
    for member in SyncFlags:
        found.append(Scenario(f"flags-{_flag_name(member)}", f"ulFlags {_flag_name(member)} alone", 2,
                              {"flags": int(member), **counted}))
    found += [
        Scenario("flags-all", "every known flag at once", 2, {"flags": SYNC_KNOWN_FLAGS, **counted}, True),
        Scenario("flags-upload", "upload-hierarchy,upload-contents", 2,
                 {"flags": int(SyncFlags.UPLOAD_HIERARCHY | SyncFlags.UPLOAD_CONTENTS), **counted}),
        Scenario("flags-on-demand-download", "a user's on-demand download", 2,
                 {"flags": int(SyncFlags.ON_DEMAND) | _DEFAULT, **counted}),
        Scenario("flags-unknown-low", "a known set plus the unknown bit 0x4", 2,
                 {"flags": _DEFAULT | 0x4, **counted}, False, True),
        Scenario("flags-unknown-high", "the unknown bit 0x80000000 with the default flags", 2,
                 {"flags": _DEFAULT | 0x80000000, **counted}, True, True),
    ]
    for shape, title, in_quick in (("null", "a NULL MAPISIB", False),
                                   ("short", "ulSize one byte short of sizeof(MAPISIB)", True),
                                   ("zero-size", "ulSize 0", False),
                                   ("no-handle", "a NULL phSyncDoneEvent", True),
                                   ("no-callback", "a NULL punkCallBack", False)):
        found.append(Scenario(f"mapisib-{shape}", title, 2, {"mapisib": shape, **counted}, in_quick, True))
    found += [
        Scenario("mapisib-larger", "a larger ulSize (a newer host's MAPISIB)", 2, {"mapisib": "larger", **counted}),
        Scenario("callback-refuses", "a punkCallBack that is not an IMAPISyncProgressCallback", 2,
                 {"refusing_callback": True, **counted}, True, True),
    ]
    no_progress = None if progress else "the provider made no Progress call in the baseline"
    points = sorted({1, max(1, (progress + 1) // 2), max(1, progress)})
    for where, index in zip(("first", "middle", "last") if len(points) == 3 else ("first", "last"), points):
        found.append(Scenario(f"cancel-{where}", f"the host answers MAPI_E_USER_CANCEL to Progress #{index} "
                              f"(of {progress})", 4, {"cancel_after": index, **counted},
                              where == "first", skip=no_progress))
    found += [
        Scenario("cancel-on-error", "the host answers the first Error with MAPI_E_USER_CANCEL", 4,
                 {"cancel_on_error": True, **counted},
                 skip=None if errors else "the provider made no Error call in the baseline"),
        Scenario("release-early", "the host releases its callback and session as soon as the call returns", 3,
                 {"release_early": True, **counted}, True),
        Scenario("release-provider", "the host releases the provider as soon as the call returns", 3,
                 {"release_provider": True, **counted}, True),
        Scenario("close-in-done", "the host closes its handle inside Done; the number is reused at once", 5,
                 {"close_in_done": True, **counted}, True),
        Scenario("session-null", "a NULL session (psesSync)", 3, {}, True),
        Scenario("concurrent", "4 syncs at once, each started from a thread of its own", 7,
                 {"concurrent": 4, **counted}, True),
        Scenario("reenter", "the host calls the provider's QueryInterface from inside each Progress", 1,
                 {"reenter": True, **counted}),
        Scenario("slow-host", "each Progress blocks 0.1 s before it answers", 4, {"slow_host": 0.1, **counted}),
    ]
    return [s for s in found if s.quick or not quick]
