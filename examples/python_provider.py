"""A message store provider written in Python, and a host run against it.

MailStore implements IMAPISync through SyncProvider: synchronize() runs on a
background thread of its own, reports Progress per folder, and stops when the
host cancels. Any native MAPI host can drive it through com_pointer(store, IMAPISync);
here run_sync plays the host.

Run: python examples/python_provider.py [--cancel-after N]
"""

import argparse
import sys
import time
from typing import Optional, Sequence

import mapisync_ctypes as mapi
from mapisync_ctypes import SyncJob, SyncProvider, format_hresult, run_sync


class MailStore(SyncProvider):
    def __init__(self, folders: Sequence[str] = ("Inbox", "Outbox", "Sent Items", "Archive"),
                 seconds_per_folder: float = 0.05) -> None:
        self.folders = list(folders)
        self.seconds_per_folder = seconds_per_folder

    def synchronize(self, job: SyncJob) -> Optional[int]:
        total = len(self.folders)
        if job.flags & mapi.SYNC_DOWNLOAD_HIERARCHY:
            job.progress("Downloading the folder hierarchy", 0, total)
        for index, folder in enumerate(self.folders, 1):
            time.sleep(self.seconds_per_folder)  # the real work: talk to the server
            job.progress(f"Synchronizing {folder}", index, total)  # raises SyncCancelled on cancel
        return None  # Done(handle, S_OK)


def create() -> MailStore:
    """Factory in the "module:factory" shape."""
    return MailStore()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cancel-after", type=int)
    args = parser.parse_args()
    result = run_sync(create(), flags=mapi.SYNC_DOWNLOAD_HIERARCHY | mapi.SYNC_DOWNLOAD_CONTENTS,
                      cancel_after=args.cancel_after)
    for text, index, index_max in result.progress:
        print(f"  {index}/{index_max}  {text}")
    print(f"Done: {format_hresult(result.hresult)}; violations: {result.violations or 'none'}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
