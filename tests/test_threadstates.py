"""Calls from native threads Python never created: each such thread keeps one Python thread
state across its calls (as fast as a Python thread's), and gives it back when it ends."""

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer, wrap
from mapisync_ctypes.com import threadstates

from support import memory_kib, settle, thread_state_id, thread_states
from test_embedding import hosts, run_host  # noqa: F401  (the fixture and the helper)

HERE = Path(__file__).resolve().parent


# The compiled core keeps states everywhere; the ctypes backend where it has a thread-end hook
# (Linux: the C library's; Windows: the compiled core's, installed with every wheel).
KEEPS_STATES = m.BACKEND == "native" or threadstates.AVAILABLE


class Recorder(COMObject):
    """Notes which thread and which thread state each call ran on."""

    _com_interfaces_ = [IMAPISyncProgressCallback]

    def __init__(self) -> None:
        self.calls = []
        self.dummy = []

    def Progress(self, text, ulIndex, ulIndexMax):
        self.calls.append((threading.get_ident(), thread_state_id()))
        self.dummy.append(type(threading.current_thread()).__name__)
        if ulIndex == 2:
            raise ValueError("the third call fails, as Python code may")  # -> E_INVALIDARG


@pytest.fixture
def recorder():
    obj = Recorder()
    address = com_pointer(obj, IMAPISyncProgressCallback)
    yield obj, address
    wrap(address, IMAPISyncProgressCallback, addref=False).release()


def test_a_native_thread_keeps_one_state_across_its_calls(native, recorder, caplog):
    obj, address = recorder
    with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
        failed = native.host.host_progress_threads(address, 4, 6)
    assert failed == 4  # each thread's third call raised: E_INVALIDARG, not S_OK
    by_thread = {}
    for ident, state in obj.calls:
        by_thread.setdefault(ident, set()).add(state)
    assert len(by_thread) == 4 and len(obj.calls) == 24
    if KEEPS_STATES:
        assert all(len(states) == 1 for states in by_thread.values()), by_thread  # one state per thread
    else:  # the ctypes backend without a thread-end hook keeps none (documented): a new state each call
        assert all(len(states) == 6 for states in by_thread.values()), by_thread
    assert set(obj.dummy) == {"_DummyThread"}  # threading sees foreign threads as before
    assert caplog.text.count("ValueError: the third call fails") == 4  # tracebacks as before


class Counter(COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback]
    calls = 0

    def Progress(self, text, ulIndex, ulIndexMax):
        Counter.calls += 1


def test_states_go_with_their_threads(native):
    """5,000 short-lived native threads, 3 calls each, 8 at a time: no state is left behind and
    the process does not grow."""
    address = com_pointer(Counter(), IMAPISyncProgressCallback)
    Counter.calls = 0
    before = thread_states()
    assert native.host.host_short_threads(address, 200, 3, 8) == 0  # warm-up: allocator, caches
    memory = memory_kib()
    assert native.host.host_short_threads(address, 5000, 3, 8) == 0
    assert Counter.calls == 5200 * 3
    wrap(address, IMAPISyncProgressCallback, addref=False).release()
    assert settle(lambda: thread_states() == before), (thread_states(), before)
    grown_kib = memory_kib() - memory  # a kept state is some KiB: 5,000 leaked would be >10 MiB
    assert grown_kib < 4096, f"the process grew by {grown_kib} KiB over 5,000 threads"
    if m.BACKEND == "ctypes":
        assert settle(lambda: threadstates.kept_count() == 0), threadstates.kept_count()


def _child_host(native) -> str:
    """The start of a child script: the test host's thread functions, declared for ctypes."""
    return f"""
import ctypes, sys, threading
sys.path.insert(0, {str(HERE)!r})
from support import settle, thread_state_id, thread_states
from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer
host = ctypes.CDLL({native.host._name!r})
host.host_short_threads.restype = ctypes.c_int
host.host_short_threads.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
host.host_progress_threads.restype = ctypes.c_int
host.host_progress_threads.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
"""


@pytest.mark.skipif(sys.platform == "win32" or m.BACKEND != "native", reason="the compiled core's POSIX fallback")
def test_without_the_thread_exit_hook_the_key_destructor_frees_them(native):
    """Where the C library has no __cxa_thread_atexit_impl, a pthread key destructor deletes the
    state directly (MAPISYNC_THREAD_END=key forces that path)."""
    env = dict(os.environ, MAPISYNC_THREAD_END="key")
    code = _child_host(native) + """
class P(COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback]
    def Progress(self, text, i, n):
        return None
address = com_pointer(P(), IMAPISyncProgressCallback)
before = thread_states()
assert host.host_short_threads(address, 2000, 3, 8) == 0
assert host.host_progress_threads(address, 4, 100) == 0
print("states", before, thread_states())
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    before, after = run.stdout.split()[1:3]
    assert before == after, run.stdout


@pytest.mark.skipif(m.shim_path() is None, reason="needs the package's native library")
def test_the_ctypes_backend_keeps_states_through_the_compiled_core(native):
    """How the ctypes backend keeps states on Windows (MAPISYNC_THREAD_END=core takes the same
    path on Linux): the core's msc_py_keep_thread, its thread-end hook and, on Windows, its reaper."""
    env = dict(os.environ, MAPISYNC_BACKEND="ctypes", MAPISYNC_THREAD_END="core")
    code = _child_host(native) + """
from mapisync_ctypes.com import threadstates
class P(COMObject):
    _com_interfaces_ = [IMAPISyncProgressCallback]
    states = {}
    def Progress(self, text, i, n):
        self.states.setdefault(threading.get_ident(), set()).add(thread_state_id())
p = P()
address = com_pointer(p, IMAPISyncProgressCallback)
before = thread_states()
assert host.host_progress_threads(address, 4, 50) == 0
assert threadstates._core is not None, "the core's keeper was not used"
assert sorted(len(s) for s in p.states.values()) == [1, 1, 1, 1], p.states
assert settle(lambda: thread_states() == before), (thread_states(), before)
assert host.host_short_threads(address, 2000, 3, 8) == 0
assert settle(lambda: thread_states() == before), (thread_states(), before)
assert settle(lambda: threadstates.kept_count() == 0), threadstates.kept_count()
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0 and run.stdout.split() == ["ok"], run.stdout + run.stderr


def test_threads_that_outlive_the_embedded_interpreter(hosts):
    """Host threads that called in keep states; they live on through MapiSyncShutdownPython,
    call again (E_UNEXPECTED, without entering the dead interpreter) and end cleanly."""
    result, out = run_host([hosts["embed_host"], "outlive", "embed_factories:fast"])
    assert result.returncode == 0 and out["result"] == "ok", result.stdout + result.stderr
    assert out["shutdown"] == "0x00000000"
    assert all(out[f"thread{i}"] == "before=0x80070057 after=0x8000FFFF" for i in range(4)), out
