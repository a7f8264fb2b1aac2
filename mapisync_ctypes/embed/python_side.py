"""The Python half of include/mapisync_python.c: MapiSyncCreateFromPython and the shutdown.

Called from C with the GIL held. create() never raises: it returns (hresult, address, text)
so the C side only reads three values.
"""

import importlib
import logging
import traceback
from typing import Any, Sequence, Tuple

from ..com import lifecycle, threadstates
from ..com.comobject import COMObject, com_pointer
from ..com.hresult import E_FAIL, E_INVALIDARG, E_NOINTERFACE, S_OK, COMError, exception_to_hresult, format_hresult
from ..com.types import GUID
from .hresults import MAPISYNC_E_PYTHON_IMPORT

__all__ = ["create", "shutdown", "MAPISYNC_E_PYTHON_IMPORT"]

logger = logging.getLogger("mapisync_ctypes")


def create(spec: str, iid: str) -> Tuple[int, int, str]:
    """Call the factory named by "package.module:factory"; return its ``iid`` interface.
    A success HRESULT always comes with an address; every other outcome is a failure."""
    threadstates.disable()  # the host may finalize Python while its threads live on
    try:
        module_name, _, factory_name = spec.partition(":")
        if not module_name or not factory_name:
            return E_INVALIDARG, 0, f'expected "package.module:factory", got {spec!r}'
        try:
            factory: Any = importlib.import_module(module_name)
            for part in factory_name.split("."):
                factory = getattr(factory, part)
        except (ImportError, AttributeError) as exc:
            return MAPISYNC_E_PYTHON_IMPORT, 0, f"cannot import {spec}: {type(exc).__name__}: {exc}"
        try:
            obj = factory()
        except BaseException as exc:
            hr = exception_to_hresult(exc)
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            if hr >= 0:  # COMError(S_OK): there is no object, so this cannot be a success
                logger.error("the factory %s raised %s with a success code; returning E_FAIL", spec, last)
                return E_FAIL, 0, f"the factory {spec} raised {last} (a success code, but no object)"
            logger.error("the factory %s raised; returning %s", spec, format_hresult(hr), exc_info=True)
            return hr, 0, f"the factory {spec} raised {last}"
        if not isinstance(obj, COMObject):
            return E_NOINTERFACE, 0, f"the factory {spec} returned {type(obj).__name__}, not a COMObject"
        try:
            return S_OK, com_pointer(obj, GUID(iid)), ""
        except COMError as exc:
            return (exc.hresult if exc.hresult < 0 else E_FAIL), 0, f"{type(obj).__name__} from {spec}: {exc}"
    except BaseException as exc:  # nothing may escape into C
        return E_FAIL, 0, f"{type(exc).__name__}: {exc}"


def shutdown(stubs: Sequence[int] = ()) -> None:
    """Before Py_FinalizeEx: every layer's shutdown step (com/lifecycle.py). ``stubs`` are
    the embedding host's own exit stubs, used when the package's native library is absent."""
    from ..com import contract

    if stubs and contract.dead_stubs() is None:
        contract.fallback_stubs[:] = list(stubs)
    lifecycle.shutdown()
