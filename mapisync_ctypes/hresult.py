"""HRESULT values from the spec, their names, and COMError.

HRESULTs are signed 32-bit values, as comtypes and pywin32 keep them, so a
value read back from native code compares equal to the constant here.
Anything that accepts an HRESULT also accepts the unsigned spelling
(``0x80040113``) and normalises it.
"""

from typing import Dict, Optional

__all__ = [
    "S_OK", "S_FALSE", "E_NOTIMPL", "E_NOINTERFACE", "E_POINTER", "E_ABORT",
    "E_FAIL", "E_UNEXPECTED", "E_OUTOFMEMORY", "E_INVALIDARG",
    "MAPI_E_CALL_FAILED", "MAPI_E_NOT_ENOUGH_MEMORY", "MAPI_E_INVALID_PARAMETER",
    "MAPI_E_NO_SUPPORT", "MAPI_E_UNKNOWN_FLAGS", "MAPI_E_USER_CANCEL",
    "MAPI_E_NETWORK_ERROR", "MAPI_W_PARTIAL_COMPLETION",
    "HRESULT_NAMES", "COMError", "to_hresult", "hresult_name", "format_hresult",
    "succeeded", "failed",
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
MAPI_E_NO_SUPPORT = to_hresult(0x80040102)
MAPI_E_UNKNOWN_FLAGS = to_hresult(0x80040106)
MAPI_E_USER_CANCEL = to_hresult(0x80040113)
MAPI_E_NETWORK_ERROR = to_hresult(0x80040115)
MAPI_W_PARTIAL_COMPLETION = 0x00040680
# MAPI's names for three of the generic codes; messages use the generic name.
MAPI_E_CALL_FAILED = E_FAIL
MAPI_E_NOT_ENOUGH_MEMORY = E_OUTOFMEMORY
MAPI_E_INVALID_PARAMETER = E_INVALIDARG

#: signed value -> name used in messages (aliases map to the generic name)
_PRIMARY_NAMES = (
    "S_OK", "S_FALSE", "E_NOTIMPL", "E_NOINTERFACE", "E_POINTER", "E_ABORT",
    "E_FAIL", "E_UNEXPECTED", "E_OUTOFMEMORY", "E_INVALIDARG", "MAPI_E_NO_SUPPORT",
    "MAPI_E_UNKNOWN_FLAGS", "MAPI_E_USER_CANCEL", "MAPI_E_NETWORK_ERROR",
    "MAPI_W_PARTIAL_COMPLETION",
)
#: signed value -> name used in messages (the MAPI aliases share the generic name)
HRESULT_NAMES: Dict[int, str] = {globals()[name]: name for name in _PRIMARY_NAMES}


def succeeded(hr: int) -> bool:
    return to_hresult(hr) >= 0


def failed(hr: int) -> bool:
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
    """A failure HRESULT, raised by proxies and raised by COM methods to return one.

    ``hresult`` is the signed 32-bit value; ``details`` is optional free text.
    """

    def __init__(self, hresult: int, details: Optional[str] = None) -> None:
        self.hresult: int = to_hresult(hresult)
        self.details: Optional[str] = details
        super().__init__(self.hresult, details)

    @property
    def name(self) -> Optional[str]:
        return hresult_name(self.hresult)

    def __str__(self) -> str:
        text = format_hresult(self.hresult)
        return f"{text}: {self.details}" if self.details else text

    def __reduce__(self):
        return (type(self), (self.hresult, self.details))
