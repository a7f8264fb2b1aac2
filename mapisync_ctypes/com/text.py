"""UTF-16 text across the boundary, where the platform wchar_t is not UTF-16.

Decoding keeps lone surrogates as they are (as comtypes and pywin32 do on
Windows), so malformed text from native code never raises; a caller that
needs clean text can re-encode with errors="replace".
"""

import sys
import sysconfig
from typing import Optional

try:
    import cffi
except ImportError as exc:  # pip installs cffi with the package; it is missing after --no-deps
    if sysconfig.get_config_var("Py_GIL_DISABLED") and sys.version_info < (3, 14):
        raise ImportError("mapisync_ctypes needs cffi, and cffi does not support free-threaded CPython 3.13: "
                          "use a regular (GIL) build of CPython") from exc
    raise ImportError("mapisync_ctypes needs cffi: pip install cffi") from exc

_ffi = cffi.FFI()
_char16_p = _ffi.typeof("char16_t *")
_string, _cast = _ffi.string, _ffi.cast
CODEC = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"  # native order


def decode(address: Optional[int]) -> Optional[str]:
    """NUL-terminated UTF-16 at ``address`` -> str; NULL -> None."""
    if not address:
        return None
    # cffi scans for the terminator and converts in C; pairs are joined,
    # lone surrogates are kept as code points.
    text: str = _string(_cast(_char16_p, address))
    return text


def replace_lone_surrogates(text: Optional[str]) -> Optional[str]:
    """Clean text for reports and logs: a lone surrogate becomes U+FFFD (None stays None)."""
    if text is None:
        return None
    return text.encode(CODEC, "surrogatepass").decode(CODEC, "replace")


def encode(text: str) -> bytes:
    """str -> NUL-terminated UTF-16 bytes in native order (lone surrogates pass through)."""
    return (text + "\0").encode(CODEC, "surrogatepass")
