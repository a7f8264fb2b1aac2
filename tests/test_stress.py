"""Stress: many threads, many objects, many concurrent syncs; nothing lost or doubled.

Short by default; MAPISYNC_FULL_STRESS=1 (or --full-stress) runs the full sizes:
16 threads x 1,000,000 AddRef/Release, 10,000 live objects, 100 concurrent syncs.
"""

import ctypes
import gc
import os
import random
import weakref

import mapisync_ctypes as m
from mapisync_ctypes import IMAPISync, IMAPISyncProgressCallback, SyncProvider, com_pointer, com_refcount

import native_build
from support import Recorder

FULL = os.environ.get("MAPISYNC_FULL_STRESS") == "1"


def test_sixteen_threads_of_addref_release(native):
    obj = Recorder()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    msg = ctypes.create_string_buffer(4096)
    pairs = 1_000_000 if FULL else 20_000
    try:
        assert native.host.host_hammer_refcount(address, 16, pairs, msg, len(msg)) == 0, msg.value
        assert com_refcount(obj) == 1  # nothing lost, nothing extra
    finally:
        native.host.host_release(address, 1)


def test_ten_thousand_live_objects_held_by_c(native):
    count = 10_000 if FULL else 2_000
    refs, addresses = [], []
    for _ in range(count):
        obj = Recorder()
        refs.append(weakref.ref(obj))
        addresses.append(com_pointer(obj, IMAPISyncProgressCallback))
    del obj
    gc.collect()
    assert all(r() is not None for r in refs)  # only C holds them
    for address in addresses:
        assert native.host.host_progress(address, None, 1, 1) == m.S_OK
        assert native.host.host_release(address, 1) == 0
    gc.collect()
    assert all(r() is None for r in refs)


def test_concurrent_syncs_with_random_cancel(native):
    class Hundred(SyncProvider):
        def synchronize(self, job):
            for i in range(100):
                job.progress("step", i, 100)

    n = 100 if FULL else 32
    rng = random.Random(7)
    cancels = (ctypes.c_int * n)(*[rng.choice([0, 0, rng.randint(1, 100)]) for _ in range(n)])
    reports = (native_build.SyncReport * n)()
    provider = Hundred()
    address = com_pointer(provider, IMAPISync)
    try:
        assert native.sync.sync_host_concurrent_each(address, n, cancels, 0, reports) == n
    finally:
        native.host.host_release(address, 1)
    for cancel_at, report in zip(cancels, reports):
        assert report.sync_hr == m.S_OK and report.signalled == 1
        assert report.dones == 1 and report.after_done == 0 and report.refs_left == 0
        if cancel_at:
            assert report.progress == cancel_at and report.done_hr == m.MAPI_E_USER_CANCEL
        else:
            assert report.progress == 100 and report.done_hr == m.S_OK
