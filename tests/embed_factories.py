"""Factories for the embedding tests (imported by Python embedded in C test hosts)."""

from mapisync_ctypes import MAPI_E_NETWORK_ERROR, COMError
from mapisync_ctypes.sample import SampleProvider


def fast():
    return SampleProvider(step_seconds=0.01)


def raising():
    raise ValueError("no mailbox configured")


def failing():
    raise COMError(MAPI_E_NETWORK_ERROR, "server unreachable")


def not_com():
    return object()


def polite():
    """Reports often: notices a shutdown at its next report."""
    import time

    from mapisync_ctypes import SyncProvider

    class Polite(SyncProvider):
        def synchronize(self, job):
            for i in range(10_000):
                job.progress("step", i, 10_000)
                time.sleep(0.02)

    return Polite()


def stuck():
    """Reports once, then works for a minute without a report: the shutdown ends it itself."""
    import time

    from mapisync_ctypes import SyncProvider

    class Stuck(SyncProvider):
        def synchronize(self, job):
            job.progress("step", 1, 2)
            time.sleep(60)

    return Stuck()


def success_code(hr):
    def factory():
        raise COMError(hr, "a success code, but no object")
    return factory


ok_error = success_code(0)
false_error = success_code(1)
partial_error = success_code(0x00040680)


def disk_on_fire():
    from mapisync_ctypes import SyncProvider

    class OnFire(SyncProvider):
        def synchronize(self, job):
            job.progress("one", 1, 2)
            raise RuntimeError("disk on fire")

    return OnFire()


def network_down():
    from mapisync_ctypes import MAPI_E_NETWORK_ERROR, SyncProvider

    class Down(SyncProvider):
        def synchronize(self, job):
            raise COMError(MAPI_E_NETWORK_ERROR, "server unreachable")

    return Down()
