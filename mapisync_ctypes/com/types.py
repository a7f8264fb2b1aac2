"""C types with the Windows ABI sizes, on every platform, and the calling convention.

COM interfaces are Windows types, so a Linux build uses the same sizes: WCHAR is a 16-bit
UTF-16 code unit (never the platform's 32-bit wchar_t), ULONG is 32-bit (never the
platform's 64-bit long), HANDLE is pointer-sized.
"""

import ctypes
import sys
import uuid
from ctypes import POINTER, Structure, c_uint8, c_uint16, c_uint32, c_int32, c_void_p
from typing import Any, Tuple, Union

__all__ = [
    "ULONG", "HRESULT", "WCHAR", "HANDLE", "LPCWSTR", "GUID", "IID", "REFIID",
    "FUNCTYPE", "IS_WINDOWS", "POINTER_SIZE", "STDCALL",
]

IS_WINDOWS = sys.platform == "win32"
POINTER_SIZE = ctypes.sizeof(c_void_p)
#: True where COM methods use __stdcall, a second convention (32-bit Windows only)
STDCALL = IS_WINDOWS and POINTER_SIZE == 4

ULONG = c_uint32
HRESULT = c_int32  # not ctypes.HRESULT: that one raises OSError on its own on Windows
WCHAR = c_uint16

# __stdcall on 32-bit Windows; x64 Windows has one convention, and there WINFUNCTYPE is
# CFUNCTYPE; elsewhere COM vtables use the platform C convention.
if sys.platform == "win32":
    FUNCTYPE: Any = ctypes.WINFUNCTYPE
else:
    FUNCTYPE: Any = ctypes.CFUNCTYPE


class HANDLE(c_void_p):
    """A pointer-sized handle. COM methods receive it as an int (NULL is 0)."""


class LPCWSTR(c_void_p):
    """``const WCHAR *``: NUL-terminated UTF-16. COM methods see ``str`` or ``None``."""


class GUID(Structure):
    """A GUID/IID with the Windows layout.

    ``GUID("{5024A385-2D44-486A-81A8-8F0ECB6071DD}")`` parses (braces optional);
    ``str(guid)`` formats with braces in upper case. GUIDs compare by value and
    are hashable, so they work as dict keys.
    """

    _fields_ = [
        ("Data1", c_uint32),
        ("Data2", c_uint16),
        ("Data3", c_uint16),
        ("Data4", c_uint8 * 8),
    ]

    def __init__(self, text: Union[str, "GUID", None] = None) -> None:
        super().__init__()
        if text is None:
            return
        if isinstance(text, GUID):
            ctypes.memmove(ctypes.byref(self), ctypes.byref(text), ctypes.sizeof(GUID))
            return
        if not isinstance(text, str):
            raise TypeError("GUID() takes a string like '{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}', "
                            f"not {type(text).__name__}")
        try:
            parsed = uuid.UUID(text.strip())
        except ValueError:
            raise ValueError(f"not a GUID string: {text!r}") from None
        self.Data1, self.Data2, self.Data3 = parsed.fields[:3]
        self.Data4[:] = parsed.bytes[8:]

    def __str__(self) -> str:
        tail = bytes(self.Data4).hex().upper()
        return f"{{{self.Data1:08X}-{self.Data2:04X}-{self.Data3:04X}-{tail[:4]}-{tail[4:]}}}"

    def __repr__(self) -> str:
        return f'GUID("{self}")'

    def _key(self) -> Tuple[int, int, int, bytes]:
        return (self.Data1, self.Data2, self.Data3, bytes(self.Data4))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GUID):
            return self._key() == other._key()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self._key())

    def __bool__(self) -> bool:
        return self._key() != (0, 0, 0, bytes(8))


IID = GUID
REFIID: Any = POINTER(GUID)
REFIID.__doc__ = "``const IID *``: a pointer to a GUID. COM methods see a GUID (None for NULL)."
