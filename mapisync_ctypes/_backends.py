"""Which backend serves Python COM objects: the compiled one (cffi API mode) when it was
built, else pure ctypes. MAPISYNC_BACKEND=ctypes|cffi forces one."""

import os

_choice = os.environ.get("MAPISYNC_BACKEND", "").strip().lower()
if _choice not in ("", "ctypes", "cffi"):
    raise ImportError(f"MAPISYNC_BACKEND must be 'ctypes' or 'cffi', not {_choice!r}")

if _choice == "ctypes":
    from . import _backend as active
else:
    try:
        from . import _native_backend as active  # type: ignore[no-redef]
    except ImportError as exc:
        if _choice == "cffi":
            raise ImportError("MAPISYNC_BACKEND=cffi, but the compiled extension mapisync_ctypes._native "
                              "was not built (pip install . with a C compiler)") from exc
        from . import _backend as active  # type: ignore[no-redef]

#: "cffi" or "ctypes"
NAME: str = active.NAME

#: the compiled module when it is in use (proxies call through its stubs), else None
native = None
if NAME == "cffi":
    from . import _native as native  # type: ignore[no-redef]  # noqa: F401,F811
