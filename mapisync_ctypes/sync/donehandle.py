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
import select
import stat
import sys
import threading
from typing import Callable, Optional, Set, Tuple

__all__ = ["DoneSignal", "HostHandle", "Squatter", "open_descriptors", "wait_done", "close_done", "KIND"]

IS_WINDOWS = sys.platform == "win32"
Identity = Tuple[int, int, Optional[str], bool]  # device, inode, eventfd id, an eventfd or a pipe
_POINTER_MASK = (1 << (8 * ctypes.sizeof(ctypes.c_void_p))) - 1


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
        fd: int = function(initval, flags)
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        return fd

    return eventfd


_eventfd = getattr(os, "eventfd", None) or _libc_eventfd()
_EFD_CLOEXEC = getattr(os, "EFD_CLOEXEC", 0o2000000)  # the Linux value
HAS_EVENTFD = _eventfd is not None
KIND = "event" if IS_WINDOWS else ("eventfd" if HAS_EVENTFD else "pipe")

if sys.platform == "win32":
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
    _kernel32.GetHandleInformation.restype = wintypes.BOOL
    _kernel32.GetHandleInformation.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
    _DUPLICATE_SAME_ACCESS = 2
    _WAIT_OBJECT_0 = 0
    _WAIT_FAILED = 0xFFFFFFFF
    _INFINITE = 0xFFFFFFFF

    def _win_error(what: str) -> OSError:
        return ctypes.WinError(ctypes.get_last_error(), f"{what} failed")


class DoneSignal:
    """Provider side: ``handle`` goes to the host; :meth:`signal` fires the private copy once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._private: Optional[int] = None
        if sys.platform == "win32":
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
        elif _eventfd is not None:
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
        if sys.platform == "win32":
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
    """Host side: wait until ``handle`` is signalled; False on timeout (or a bad handle)."""
    if sys.platform == "win32":
        ms = _INFINITE if timeout is None else max(0, int(timeout * 1000))
        return _kernel32.WaitForSingleObject(handle, ms) == _WAIT_OBJECT_0
    poller = select.poll()
    poller.register(handle, select.POLLIN)
    events = poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
    return bool(events) and not events[0][1] & select.POLLNVAL


def close_done(handle: int) -> None:
    """Host side: close the handle (CloseHandle on Windows, close() elsewhere)."""
    if sys.platform == "win32":
        _kernel32.CloseHandle(handle)
    else:
        os.close(handle)


class HostHandle:
    """Host side: a done handle a provider stored, trusted only as far as it can be checked.

    ``problem`` says why it cannot be waited on: NULL, INVALID_HANDLE_VALUE, not open, not an
    eventfd or pipe, a descriptor that was open before SynchronizeInBackground was called (so
    not the provider's), or one with no private duplicate for the provider to signal (rule 5)
    that is not signalled already. :meth:`wait` notes a handle that goes bad while waited on;
    :meth:`close` closes it only if it is provably still the same descriptor, so a host never
    closes a number that now belongs to someone else. On Linux descriptors are identified by
    /proc/self; elsewhere only by inode.
    """

    def __init__(self, value: int, before: "Optional[Set[Identity]]" = None) -> None:
        self.value = value
        self.problem: Optional[str] = None
        self.rule = 3  # the protocol rule ``problem`` breaks (see sync/rules.py)
        self._identity: Optional[Identity] = None
        if not value:
            self.problem = "a NULL handle"
        elif sys.platform == "win32":
            if value in (_POINTER_MASK, _POINTER_MASK - 1):  # INVALID_HANDLE_VALUE, the current thread
                self.rule = 6
                self.problem = f"0x{value:x}, which is not a handle to wait on (INVALID_HANDLE_VALUE?)"
            elif not _kernel32.GetHandleInformation(value, ctypes.byref(wintypes.DWORD())):
                self.problem = f"0x{value:x}, which is not open (no such handle)"
        else:
            self._identity = self._inspect(before)

    def _inspect(self, before: "Optional[Set[Identity]]") -> Optional[Identity]:
        fd = self.value
        if not 0 <= fd <= 0x7FFFFFFF:
            self.rule = 6
            self.problem = f"{fd} (0x{fd:x}), which is not a file descriptor (INVALID_HANDLE_VALUE?)"
            return None
        identity = _identity(fd)
        if identity is None:
            self.problem = f"descriptor {fd}, which is not open"
        elif not identity[3]:
            self.rule = 6
            self.problem = (f"descriptor {fd}, which is open but is neither an eventfd nor a pipe "
                            "(a descriptor of something else in this process?)")
        elif before is not None and identity in before:
            self.problem = (f"descriptor {fd}, which was open before SynchronizeInBackground was called "
                            "(not a handle the provider made)")
        elif _HAS_PROC and not _duplicated(fd, identity) and not _readable(fd):  # a signal writes, then closes
            self.rule = 5
            self.problem = (f"descriptor {fd}, which has no private duplicate for the provider to signal "
                            "and is not signalled (closed by the provider, its number reused?)")
        return None if self.problem else identity

    def wait(self, timeout: Optional[float]) -> bool:
        """True once signalled; False on timeout, or when the handle went bad (see ``problem``)."""
        if self.problem:
            return False
        if sys.platform == "win32":
            ms = _INFINITE if timeout is None else max(0, int(timeout * 1000))
            outcome = _kernel32.WaitForSingleObject(self.value, ms)
            if outcome == _WAIT_FAILED:
                self.rule = 6
                self.problem = f"0x{self.value:x}, which could not be waited on"
            return outcome == _WAIT_OBJECT_0
        poller = select.poll()
        poller.register(self.value, select.POLLIN)
        events = poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
        if events and events[0][1] & select.POLLNVAL:
            self.rule = 5
            self.problem = f"descriptor {self.value}, which was closed while the host waited on it"
            return False
        return bool(events)

    def close(self) -> Optional[str]:
        """Close the handle if it is still the one the provider stored; else say why not."""
        if self.problem:
            return None  # never ours to close
        if sys.platform == "win32":
            _kernel32.CloseHandle(self.value)
            return None
        if _identity(self.value) != self._identity:
            return (f"descriptor {self.value} was closed, and perhaps reused, before the host closed it; "
                    "the host left it alone")
        os.close(self.value)
        return None


_HAS_PROC = os.path.isdir("/proc/self/fd")


class Squatter:
    """Host side, for rule 5: the host closes its done handle (inside Done, say) and something
    else takes the number at once. A provider that signals or closes the handle it gave the
    host, instead of its private duplicate, then hits this object, and :meth:`check` says so.

    POSIX: an eventfd (or pipe) is put at the very number with dup2. Windows: a new event,
    which the handle table usually gives the freed value; ``reused`` says whether it did.
    """

    def __init__(self, value: int, reused: bool, keep: Optional[int] = None) -> None:
        self.value = value
        self.reused = reused
        self._keep = keep  # a pipe's write end, kept open so only a provider's close shows
        self._identity = None if IS_WINDOWS else _identity(value)

    @classmethod
    def replace(cls, handle: int) -> "Squatter":
        """Close ``handle`` and put a fresh, unsignalled waitable object at its number."""
        if sys.platform == "win32":
            _kernel32.CloseHandle(handle)
            event = int(_kernel32.CreateEventW(None, True, False, None) or 0)
            return cls(event, event == handle)
        keep: Optional[int] = None
        if _eventfd is not None:
            fresh = _eventfd(0, _EFD_CLOEXEC)
        else:
            fresh, keep = os.pipe()
        os.dup2(fresh, handle, inheritable=False)  # closes the host's descriptor and reuses its number in one step
        os.close(fresh)
        return cls(handle, True, keep)

    def check(self) -> Optional[str]:
        """What the provider did to the number after the host closed its handle, or None."""
        if not self.reused:
            return None
        if sys.platform == "win32":
            if not _kernel32.GetHandleInformation(self.value, ctypes.byref(wintypes.DWORD())):
                return f"handle 0x{self.value:x}, given to something else, was closed"
            if _kernel32.WaitForSingleObject(self.value, 0) == _WAIT_OBJECT_0:
                return f"handle 0x{self.value:x}, given to something else, was signalled"
            return None
        if _identity(self.value) != self._identity:
            return f"descriptor {self.value}, given to something else, was closed"
        if _readable(self.value):
            return f"descriptor {self.value}, given to something else, was written to"
        return None

    def close(self) -> None:
        """Give the number back (only if it is still ours)."""
        if self.value and (IS_WINDOWS or _identity(self.value) == self._identity):
            close_done(self.value)
        if self._keep is not None:
            os.close(self._keep)


def _identity(fd: int) -> Optional[Identity]:
    """(device, inode, eventfd id, waitable kind) of an open descriptor, or None if it is not
    open. All eventfds share one inode; Linux 6.x tells them apart by an id in fdinfo."""
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    eventfd_id = None
    eventfd = _HAS_PROC and _link(fd) == "anon_inode:[eventfd]"
    if eventfd:
        try:
            with open(f"/proc/self/fdinfo/{fd}") as lines:
                eventfd_id = next((line.split(":")[1].strip() for line in lines if line.startswith("eventfd-id")),
                                  None)
        except OSError:
            pass
    return (info.st_dev, info.st_ino, eventfd_id, stat.S_ISFIFO(info.st_mode) or eventfd)


def _link(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _duplicated(fd: int, identity: Identity) -> bool:
    """Another descriptor in this process refers to the same eventfd or pipe."""
    for name in os.listdir("/proc/self/fd"):
        other = int(name)
        if other != fd and _identity(other) == identity:
            return True
    return False


def open_descriptors() -> "Optional[Set[Identity]]":
    """The identities of every descriptor open now (Linux), to tell a provider's new handle
    from one that was open before; None where that cannot be known."""
    if sys.platform == "win32" or not _HAS_PROC:
        return None
    found = set()
    for name in os.listdir("/proc/self/fd"):
        identity = _identity(int(name))
        if identity is not None and identity[3]:
            found.add(identity)
    return found
