"""HRESULTs: the generic COM codes, their names, COMError, and how exceptions map to them.

HRESULTs are signed 32-bit values, as comtypes and pywin32 keep them, so a value read back
from native code compares equal to the constant here. Anything that accepts an HRESULT also
accepts the unsigned spelling (``0x80040113``) and normalises it.

Layers above this one name their own codes with :func:`register_hresult` (the MAPI codes
live in ``mapisync_ctypes.sync.hresults``), so messages name every code the package knows.
"""

from typing import Any, Dict, Optional, Tuple

__all__ = [
    "S_OK", "S_FALSE", "E_NOTIMPL", "E_NOINTERFACE", "E_POINTER", "E_ABORT",
    "E_FAIL", "E_UNEXPECTED", "E_OUTOFMEMORY", "E_INVALIDARG",
    "HRESULT_NAMES", "COMError", "to_hresult", "hresult_name", "format_hresult",
    "succeeded", "failed", "register_hresult", "exception_to_hresult",
]


def to_hresult(value: int) -> int:
    """Normalise an int in [-2**31, 2**32) to the signed 32-bit HRESULT."""
    value = int(value)
    if not -0x80000000 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{value!r} does not fit in a 32-bit HRESULT")
    return value - 0x100000000 if value > 0x7FFFFFFF else value


S_OK = 0
S_FALSE = 1
E_NOTIMPL = to_hresult(0x80004001)
E_NOINTERFACE = to_hresult(0x80004002)
E_POINTER = to_hresult(0x80004003)
E_ABORT = to_hresult(0x80004004)
E_FAIL = to_hresult(0x80004005)
E_UNEXPECTED = to_hresult(0x8000FFFF)
E_OUTOFMEMORY = to_hresult(0x8007000E)
E_INVALIDARG = to_hresult(0x80070057)

#: signed value -> the name messages use (an alias registered later keeps the first name)
HRESULT_NAMES: Dict[int, str] = {}


def register_hresult(name: str, value: int) -> int:
    """Give ``value`` a name for messages (the first name registered for a value wins);
    returns the signed value."""
    value = to_hresult(value)
    HRESULT_NAMES.setdefault(value, name)
    return value


for _name in ("S_OK", "S_FALSE", "E_NOTIMPL", "E_NOINTERFACE", "E_POINTER", "E_ABORT", "E_FAIL",
              "E_UNEXPECTED", "E_OUTOFMEMORY", "E_INVALIDARG"):
    register_hresult(_name, globals()[_name])


def succeeded(hr: int) -> bool:
    """True for a success HRESULT (S_OK, S_FALSE, warnings)."""
    return to_hresult(hr) >= 0


def failed(hr: int) -> bool:
    """True for a failure HRESULT."""
    return to_hresult(hr) < 0


def hresult_name(hr: int) -> Optional[str]:
    """The constant's name, e.g. 'MAPI_E_USER_CANCEL', or None if unknown."""
    return HRESULT_NAMES.get(to_hresult(hr))


def format_hresult(hr: int) -> str:
    """'MAPI_E_USER_CANCEL (0x80040113)', or 'HRESULT 0x80041234' if unknown."""
    hr = to_hresult(hr)
    name = HRESULT_NAMES.get(hr)
    code = f"0x{hr & 0xFFFFFFFF:08X}"
    return f"{name} ({code})" if name else f"HRESULT {code}"


class COMError(Exception):
    """A failure HRESULT: raised by proxies, and raised by COM methods to return one.

    The shape is comtypes': ``COMError(hresult, text=None, details=None)`` with
    ``.hresult`` (signed 32-bit), ``.text`` (a message, or None) and ``.details``
    (anything, e.g. comtypes' error-info tuple). ``COMError(hr, "why")`` is the short form.
    """

    def __init__(self, hresult: int, text: Optional[str] = None, details: Any = None) -> None:
        self.hresult: int = to_hresult(hresult)
        self.text: Optional[str] = text
        self.details: Any = details
        super().__init__(self.hresult, text, details)

    @property
    def name(self) -> Optional[str]:
        """The HRESULT's name, e.g. 'E_FAIL', or None if unknown."""
        return hresult_name(self.hresult)

    def __str__(self) -> str:
        text = format_hresult(self.hresult)
        return f"{text}: {self.text}" if self.text else text

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.hresult, self.text, self.details))


def exception_to_hresult(exc: BaseException) -> int:
    """The HRESULT a native caller sees for an exception raised by a COM method:
    COMError(hr) gives hr, NotImplementedError E_NOTIMPL, MemoryError E_OUTOFMEMORY,
    ValueError and TypeError E_INVALIDARG, anything else E_FAIL."""
    if isinstance(exc, COMError):
        return exc.hresult
    if isinstance(exc, NotImplementedError):
        return E_NOTIMPL
    if isinstance(exc, MemoryError):
        return E_OUTOFMEMORY
    if isinstance(exc, (ValueError, TypeError)):
        return E_INVALIDARG
    return E_FAIL
