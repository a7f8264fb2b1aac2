"""The HRESULT the embedding C API adds, named for messages (com.hresult.register_hresult)."""

from ..com.hresult import register_hresult

__all__ = ["MAPISYNC_E_PYTHON_IMPORT"]

#: HRESULT_FROM_WIN32(ERROR_MOD_NOT_FOUND): the factory's module or name cannot be imported
MAPISYNC_E_PYTHON_IMPORT = register_hresult("MAPISYNC_E_PYTHON_IMPORT", 0x8007007E)
