"""Interpreter exit while native code still holds and calls Python COM objects."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import atexit, sys, time
    sys.path[:0] = [{tests!r}, {root!r}]

    def late_calls():
        # registered before mapisync_ctypes is imported, so it runs after the library's
        # exit hook: calls from here and from a new native thread are refused, not crashed
        host = libs["host"]
        print("late call:", hex(host.host_progress(address, None, 1, 1) & 0xFFFFFFFF), flush=True)
        print("late thread call:", hex(host.host_error_on_new_thread(address, 0) & 0xFFFFFFFF), flush=True)
    atexit.register(late_calls)

    import native_build
    from pathlib import Path
    from mapisync_ctypes import COMObject, IMAPISyncProgressCallback, com_pointer

    class Busy(COMObject):
        _com_interfaces_ = [IMAPISyncProgressCallback]
        calls = 0
        def Progress(self, text, ulIndex, ulIndexMax):
            Busy.calls += 1

    libs = native_build.load(Path({build!r}))
    held = Busy()
    address = com_pointer(held, IMAPISyncProgressCallback)   # never released: native still holds it
    assert libs["host"].host_spin_progress(address) == 1
    deadline = time.time() + 5
    while Busy.calls < 100 and time.time() < deadline:
        time.sleep(0.001)
    print("calls before exit:", Busy.calls, flush=True)
    del held   # only native code references it now
""")


@pytest.mark.parametrize("attempt", range(3))
def test_native_thread_calling_through_exit_does_not_crash(native, tmp_path, attempt):
    build = Path(native.host._name).parent
    script = tmp_path / "exit_while_called.py"
    here = Path(__file__).resolve().parent
    script.write_text(SCRIPT.format(tests=str(here), root=str(here.parent), build=str(build)))
    env = dict(os.environ, MAPISYNC_TEST_NATIVE_DIR=str(build))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "calls before exit:" in result.stdout
    calls = int(result.stdout.split("calls before exit:")[1].split()[0])
    assert calls >= 100
    assert "late call: 0x8000ffff" in result.stdout  # E_UNEXPECTED
    assert "late thread call: 0x8000ffff" in result.stdout
    # Whatever the thread saw was S_OK or, once exit began, E_UNEXPECTED; never a crash.
    seen = [line.split("hr=")[1].split()[0] for line in result.stderr.splitlines() if "spin hr=" in line]
    assert seen and seen[0] == "0x00000000"
    # once the exit began, every call was refused: E_UNEXPECTED, and never S_OK again
    assert seen[1:] in ([], ["0x8000ffff"]), result.stderr
    assert "Traceback" not in result.stderr and "Fatal Python error" not in result.stderr


EXIT_DURING_SYNC = textwrap.dedent("""
    import atexit, sys, time
    sys.path[:0] = [{tests!r}, {root!r}]

    def report():
        # registered before mapisync_ctypes is imported, so it runs after the library's shutdown
        deadline = time.time() + 5
        while not r.signalled and time.time() < deadline:
            time.sleep(0.01)
        print(f"done=0x{{r.done_hr & 0xFFFFFFFF:08X}} dones={{r.dones}} signalled={{r.signalled}} "
              f"refs_left={{r.refs_left}} waited={{time.time() - exiting:.1f}}", flush=True)
    atexit.register(report)

    import native_build
    from pathlib import Path
    import mapisync_ctypes as m

    class Stuck(m.SyncProvider):
        def synchronize(self, job):
            job.progress("working", 1, 2)
            time.sleep({sleep})  # no report to notice the exit: the shutdown ends it itself
            job.progress("never", 2, 2)

    libs = native_build.load(Path({build!r}))
    r = native_build.SyncReport()
    provider = m.com_pointer(Stuck(), m.IMAPISync)
    assert libs["sync_host"].sync_host_start(provider, r) == 1
    while r.progress < 1:
        time.sleep(0.01)
    exiting = time.time()
    print("exiting with a sync in flight", flush=True)
""")


@pytest.mark.parametrize("sleep", [0.5, 60])
def test_a_python_process_exiting_mid_sync_ends_it_with_done(native, tmp_path, sleep):
    """Every sync in flight at interpreter exit gets Done(handle, E_ABORT) and a signalled
    handle: by itself if it ends within SHUTDOWN_GRACE, else from the shutdown."""
    build = Path(native.host._name).parent
    here = Path(__file__).resolve().parent
    script = tmp_path / "exit_mid_sync.py"
    script.write_text(EXIT_DURING_SYNC.format(tests=str(here), root=str(here.parent), build=str(build), sleep=sleep))
    env = dict(os.environ, MAPISYNC_TEST_NATIVE_DIR=str(build))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "done=0x80004004 dones=1 signalled=1 refs_left=0" in result.stdout, result.stdout + result.stderr
    waited = float(result.stdout.split("waited=")[1].split()[0])
    assert waited < 3.5, waited
