"""The sample Python provider that `mapisync demo` syncs: a mailbox with a few folders.

It takes a little time per folder, so the live display has something to show, and
reports one non-fatal error on the way, as a real store does when a server is busy.
"""

from typing import Optional

from ..sync.hresults import MAPI_E_NETWORK_ERROR
from ..sync.provider import SyncJob, SyncProvider

__all__ = ["SampleProvider", "FOLDERS", "create"]

FOLDERS = ("Inbox", "Sent Items", "Drafts", "Calendar", "Contacts", "Archive")


class SampleProvider(SyncProvider):
    """Synchronizes FOLDERS, one Progress each; Calendar reports a retried network error."""

    def __init__(self, step_seconds: float = 0.25) -> None:
        self.step_seconds = step_seconds

    def synchronize(self, job: SyncJob) -> Optional[int]:
        for index, folder in enumerate(FOLDERS, 1):
            job.sleep(self.step_seconds)  # wakes at once on a cancel or a shutdown
            if folder == "Calendar":
                job.error(MAPI_E_NETWORK_ERROR, "Calendar: server busy, retried")
            job.progress(f"Synchronizing {folder}", index, len(FOLDERS))
        return None


def create() -> SampleProvider:
    """Factory, in the "package.module:factory" shape."""
    return SampleProvider()
