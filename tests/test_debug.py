"""Debug mode: poisoned vtables after the final Release, live_objects(), tracing."""

import gc
import logging
import weakref

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import IMAPISyncProgressCallback, com_pointer, debug

from support import Recorder


class Tracked(Recorder):
    pass


@pytest.fixture
def debug_mode():
    was = debug.enabled()
    debug.enable(trace=True)
    yield
    if not was:
        debug.disable()


def make_tracked():  # the creation stack must name this function
    return Tracked()


def test_a_call_after_the_final_release_hits_the_poisoned_vtable(native, debug_mode, caplog):
    obj = make_tracked()
    ref = weakref.ref(obj)
    address = com_pointer(obj, IMAPISyncProgressCallback)
    assert native.host.host_release(address, 1) == 0
    del obj
    gc.collect()
    assert ref() is None  # the Python object is gone; its native block is kept, poisoned
    with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
        assert native.host.host_progress(address, None, 1, 2) == m.E_UNEXPECTED
        assert native.host.host_addref(address) == 0
        assert native.host.host_release(address, 1) == 0
    assert "Progress called on a Tracked after its final Release" in caplog.text
    assert "make_tracked" in caplog.text  # the creation stack


def test_a_new_reference_revives_the_real_vtable(native, debug_mode):
    obj = Tracked()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    native.host.host_release(address, 1)
    again = com_pointer(obj, IMAPISyncProgressCallback)
    assert again == address
    assert native.host.host_progress(again, None, 3, 4) == m.S_OK
    assert obj.events == [("Progress", None, 3, 4)]
    native.host.host_release(again, 1)


def test_live_objects_lists_what_native_code_holds(native, debug_mode):
    held, dropped = make_tracked(), make_tracked()
    address = com_pointer(held, IMAPISyncProgressCallback)
    native.host.host_addref(address)
    native.host.host_release(com_pointer(dropped), 1)
    try:
        live = [entry for entry in debug.live_objects() if entry.obj is held]
        assert len(live) == 1 and live[0].refcount == 2 and live[0].cls == "Tracked"
        assert "make_tracked" in live[0].created
        assert not [entry for entry in debug.live_objects() if entry.obj is dropped]
    finally:
        native.host.host_release(address, 2)


def test_tracing_logs_reference_counting(native, debug_mode, caplog):
    obj = Tracked()
    with caplog.at_level(logging.DEBUG, logger="mapisync_ctypes"):
        address = com_pointer(obj)
        native.host.host_addref(address)
        native.host.host_release(address, 2)
    if m.BACKEND == "ctypes":
        assert "AddRef" in caplog.text and "-> 2" in caplog.text and "-> 0" in caplog.text
    else:
        assert "reached 0" in caplog.text
