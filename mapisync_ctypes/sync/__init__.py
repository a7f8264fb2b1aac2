"""MAPI background sync on top of the COM layer: MAPISIB, flags, IMAPISync and
IMAPISyncProgressCallback, the done handle, SyncProvider and the run_sync host harness."""
