"""Lifetime of Python COM objects held by native code."""

import gc
import weakref

import mapisync_ctypes as m
from mapisync_ctypes import IMAPISyncProgressCallback, com_pointer

from support import Recorder, utf16


def test_native_reference_keeps_an_unreferenced_object_alive(native):
    obj = Recorder()
    ref = weakref.ref(obj)
    address = com_pointer(obj, IMAPISyncProgressCallback)
    del obj
    gc.collect()
    assert ref() is not None  # only C holds it now
    assert native.host.host_progress(address, utf16("still here"), 1, 1) == m.S_OK
    assert ref().events == [("Progress", "still here", 1, 1)]
    assert native.host.host_release(address, 1) == 0
    assert ref() is None  # collected by reference counting alone, no cycle left behind


def test_collected_without_the_cycle_collector(native):
    gc.disable()
    try:
        obj = Recorder()
        ref = weakref.ref(obj)
        addresses = [com_pointer(obj), com_pointer(obj, IMAPISyncProgressCallback)]
        native.host.host_addref(addresses[1])
        del obj
        assert ref() is not None
        native.host.host_release(addresses[0], 1)
        native.host.host_release(addresses[1], 1)
        assert ref() is not None  # one reference left
        native.host.host_release(addresses[1], 1)
        assert ref() is None
    finally:
        gc.enable()


def test_object_still_usable_from_python_after_native_release(native):
    obj = Recorder()
    native.host.host_release(com_pointer(obj), 1)
    assert m.com_refcount(obj) == 0
    address = com_pointer(obj, IMAPISyncProgressCallback)  # 0 -> 1 again
    assert native.host.host_progress(address, None, 2, 3) == m.S_OK
    assert native.host.host_release(address, 1) == 0
    assert obj.events == [("Progress", None, 2, 3)]


def test_many_objects_come_and_go(native):
    refs = []
    for _ in range(500):
        obj = Recorder()
        refs.append(weakref.ref(obj))
        address = com_pointer(obj, IMAPISyncProgressCallback)
        native.host.host_addref(address)
        native.host.host_release(address, 2)
    del obj
    assert all(r() is None for r in refs)


def test_vtables_are_built_once_per_class(native):
    a, b = Recorder(), Recorder()
    pa, pb = com_pointer(a), com_pointer(b)
    try:
        import ctypes
        vtable_a = ctypes.c_void_p.from_address(pa).value
        vtable_b = ctypes.c_void_p.from_address(pb).value
        assert vtable_a == vtable_b and pa != pb
    finally:
        native.host.host_release(pa, 1)
        native.host.host_release(pb, 1)
