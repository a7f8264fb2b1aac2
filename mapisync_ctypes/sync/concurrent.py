"""run_concurrent: several background syncs at once on one provider (rule 7), each checked as
run_sync checks one, then checked against each other."""

import threading
from typing import Any, List, Optional

from ..com.hresult import COMError
from .donehandle import open_descriptors
from .host import ProviderLike, SyncResult, close_handle, run_sync
from .rules import Violation

__all__ = ["run_concurrent"]


def run_concurrent(provider: ProviderLike, count: int, **options: Any) -> List[SyncResult]:
    """``count`` syncs at once on one provider, each started from a thread of its own (rule 7),
    each checked as :func:`run_sync` checks one; then checked against each other: distinct
    handles, and every report and Done on the callback of its own sync."""
    if count < 1:
        raise ValueError(f"count must be 1 or more, not {count}")
    before = open_descriptors()
    kept: List[Any] = []  # every handle stays open until all are over, so no number is reused
    start = threading.Barrier(count)
    results: List[Optional[SyncResult]] = [None] * count

    def one(i: int) -> None:
        start.wait()
        try:
            results[i] = run_sync(provider, _before=before, _keep=kept, **options)
        except (COMError, TimeoutError) as exc:
            results[i] = getattr(exc, "result")  # set by run_sync on both

    threads = [threading.Thread(target=one, args=(i,), name=f"mapisync-host-{i + 1}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [r if r is not None else SyncResult() for r in results]
    _check_apart(done)
    for result, handle in kept:
        close_handle(result, handle)
    return done


def _check_apart(results: List[SyncResult]) -> None:
    """Rule 7: syncs running at once must not be mixed up."""
    started = [(i, r) for i, r in enumerate(results, 1) if not r.call_hresult]
    owner = {r.handle: i for i, r in started if r.handle}
    dones = {i: [e for e in r.events if e.kind == "Done"] for i, r in started}
    wrong = [i for i, events in dones.items() if len(events) != 1]
    for i, r in started:
        for j, other in started:
            if j > i and r.handle and r.handle == other.handle:
                r.violations.append(Violation(7, f"syncs {i} and {j} got the same done handle 0x{r.handle:x}",
                                              "a handle of its own for each sync", f"0x{r.handle:x} twice"))
        for event in dones[i]:
            if owner.get(event.args[0], i) != i:
                r.violations.append(Violation(7, f"sync {i}'s callback got Done with sync {owner[event.args[0]]}'s "
                                                 "handle", f"Done(0x{r.handle:x}, ...)", event.describe()))
        if i in wrong and len(wrong) > 1:  # one got too many reports, another too few
            r.violations.append(Violation(7, f"the syncs were mixed up: sync {i}'s callback got {len(dones[i])} "
                                             f"Done calls (syncs {', '.join(map(str, wrong))} got a wrong number)",
                                          "each sync reports only to its own callback",
                                          f"{len(dones[i])} Done call(s)"))
