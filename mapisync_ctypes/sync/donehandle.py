"""The done handle of a background sync (protocol rules 3, 5 and 6).

The provider gives the host a handle that becomes signalled when its sync
thread has completely finished, and signals a private duplicate of it, so the
host may close its handle at any time (inside Done, say) without the provider
ever touching a closed or reused handle.

- Windows: a manual-reset event; the provider signals a DuplicateHandle copy;
  the host waits with WaitForSingleObject and closes with CloseHandle.
- Linux: an eventfd cast to HANDLE; the provider writes to a dup() of it;
  the host polls it readable and close()s it.
- Other POSIX: the read end of a pipe; the provider closes the write end,
  which makes the read end readable (no write, so no SIGPIPE either).
"""

import ctypes
import os
import sys
import threading
from typing import Callable, Optional

__all__ = ["DoneSignal", "wait_done", "close_done", "KIND"]

IS_WINDOWS = sys.platform == "win32"


def _libc_eventfd() -> Optional[Callable[[int, int], int]]:
    """os.eventfd arrived in Python 3.10; before that, glibc's eventfd through ctypes."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).eventfd
    except (OSError, AttributeError):
        return None
    function.restype, function.argtypes = ctypes.c_int, [ctypes.c_uint, ctypes.c_int]

    def eventfd(initval: int, flags: int) -> int:
        fd = function(initval, flags)
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        return fd

    return eventfd


_eventfd = getattr(os, "eventfd", None) or _libc_eventfd()
_EFD_CLOEXEC = getattr(os, "EFD_CLOEXEC", 0o2000000)  # the Linux value
HAS_EVENTFD = _eventfd is not None
KIND = "event" if IS_WINDOWS else ("eventfd" if HAS_EVENTFD else "pipe")

if IS_WINDOWS:
    from ctypes import wintypes

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _kernel32.CreateEventW.restype = wintypes.HANDLE
    _kernel32.CreateEventW.argtypes = [ctypes.c_void_p, wintypes.BOOL, wintypes.BOOL, wintypes.LPCWSTR]
    _kernel32.DuplicateHandle.restype = wintypes.BOOL
    _kernel32.DuplicateHandle.argtypes = [wintypes.HANDLE, wintypes.HANDLE, wintypes.HANDLE,
                                          ctypes.POINTER(wintypes.HANDLE), wintypes.DWORD,
                                          wintypes.BOOL, wintypes.DWORD]
    _kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    _kernel32.SetEvent.restype = wintypes.BOOL
    _kernel32.SetEvent.argtypes = [wintypes.HANDLE]
    _kernel32.CloseHandle.restype = wintypes.BOOL
    _kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    _kernel32.WaitForSingleObject.restype = wintypes.DWORD
    _kernel32.WaitForSingleObject.argtypes = [wintypes.HANDLE, wintypes.DWORD]
    _DUPLICATE_SAME_ACCESS = 2
    _WAIT_OBJECT_0 = 0
    _INFINITE = 0xFFFFFFFF

    def _win_error(what: str) -> OSError:
        return ctypes.WinError(ctypes.get_last_error(), f"{what} failed")


class DoneSignal:
    """Provider side: ``handle`` goes to the host; :meth:`signal` fires the private copy once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._private: Optional[int] = None
        if IS_WINDOWS:
            handle = _kernel32.CreateEventW(None, True, False, None)
            if not handle:
                raise _win_error("CreateEventW")
            private = wintypes.HANDLE()
            process = _kernel32.GetCurrentProcess()
            if not _kernel32.DuplicateHandle(process, handle, process, ctypes.byref(private), 0, False,
                                             _DUPLICATE_SAME_ACCESS):
                error = _win_error("DuplicateHandle")
                _kernel32.CloseHandle(handle)
                raise error
            self.handle, self._private = int(handle), int(private.value)
        elif HAS_EVENTFD:
            fd = _eventfd(0, _EFD_CLOEXEC)
            try:
                self._private = os.dup(fd)
            except OSError:
                os.close(fd)
                raise
            self.handle = fd
        else:
            read_end, write_end = os.pipe()
            self.handle, self._private = read_end, write_end

    def signal(self) -> None:
        """Signal the private duplicate and close it; later calls do nothing."""
        with self._lock:
            private, self._private = self._private, None
        if private is None:
            return
        if IS_WINDOWS:
            _kernel32.SetEvent(private)
            _kernel32.CloseHandle(private)
        elif HAS_EVENTFD:
            try:
                os.write(private, (1).to_bytes(8, sys.byteorder))  # eventfd_write(private, 1)
            finally:
                os.close(private)
        else:
            os.close(private)  # EOF on the read end is the signal

    def discard(self) -> None:
        """Close both ends: for a handle that never reached the host."""
        with self._lock:
            private, self._private = self._private, None
        if private is not None:
            close_done(private)
        close_done(self.handle)


def wait_done(handle: int, timeout: Optional[float]) -> bool:
    """Host side: wait until ``handle`` is signalled; False on timeout."""
    if IS_WINDOWS:
        ms = _INFINITE if timeout is None else max(0, int(timeout * 1000))
        return _kernel32.WaitForSingleObject(handle, ms) == _WAIT_OBJECT_0
    import select
    poller = select.poll()
    poller.register(handle, select.POLLIN)
    return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))


def close_done(handle: int) -> None:
    """Host side: close the handle (CloseHandle on Windows, close() elsewhere)."""
    if IS_WINDOWS:
        _kernel32.CloseHandle(handle)
    else:
        os.close(handle)
