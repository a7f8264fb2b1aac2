"""The Python half of include/mapisync_python.c (MapiSyncCreateFromPython and shutdown).

Called from C with the GIL held. create() never raises: it returns
(hresult, address, text) so the C side only reads three values.
"""

import importlib
import logging
import traceback
from typing import Sequence, Tuple

from ._backends import active as _backend
from ._vtbl import exception_to_hresult
from .abi import GUID
from .comobject import COMObject, com_pointer
from .hresult import E_FAIL, E_INVALIDARG, E_NOINTERFACE, S_OK, COMError, format_hresult

logger = logging.getLogger("mapisync_ctypes")

#: HRESULT_FROM_WIN32(ERROR_MOD_NOT_FOUND), MAPISYNC_E_PYTHON_IMPORT in mapisync_python.h
E_PYTHON_IMPORT = 0x8007007E - (1 << 32)


def create(spec: str, iid: str) -> Tuple[int, int, str]:
    """Call the factory named by "package.module:factory"; return its ``iid`` interface."""
    try:
        module_name, _, factory_name = spec.partition(":")
        if not module_name or not factory_name:
            return E_INVALIDARG, 0, f'expected "package.module:factory", got {spec!r}'
        try:
            factory = importlib.import_module(module_name)
            for part in factory_name.split("."):
                factory = getattr(factory, part)
        except (ImportError, AttributeError) as exc:
            return E_PYTHON_IMPORT, 0, f"cannot import {spec}: {type(exc).__name__}: {exc}"
        try:
            obj = factory()
        except BaseException as exc:
            hr = exception_to_hresult(exc)
            logger.error("the factory %s raised; returning %s", spec, format_hresult(hr), exc_info=True)
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return hr, 0, f"the factory {spec} raised {last}"
        if not isinstance(obj, COMObject):
            return E_NOINTERFACE, 0, f"the factory {spec} returned {type(obj).__name__}, not a COMObject"
        try:
            return S_OK, com_pointer(obj, GUID(iid)), ""
        except COMError as exc:
            return exc.hresult, 0, f"{type(obj).__name__} from {spec}: {exc}"
    except BaseException as exc:  # nothing may escape into C
        return E_FAIL, 0, f"{type(exc).__name__}: {exc}"


def shutdown(stubs: Sequence[int]) -> None:
    """Before Py_FinalizeEx: point every vtable at native stubs that return E_UNEXPECTED."""
    _backend.retire(stubs)
