"""Thunks: what native code calls, turned into Python method calls (the ctypes backend's
slots, and the compiled backend's for methods its core cannot carry).

Every thunk is a ctypes callback. A raw callback that raises returns 0, which
is S_OK, so nothing may escape one: each thunk catches every exception, maps
it to a failure HRESULT and logs it. Return values are checked as well,
because ctypes silently truncates an out-of-range int (2**32 would become
S_OK).

Method thunks are generated from the declaration's parameter names, so the
hot path is one function with no ``*args`` packing.
"""

import linecache
import logging
from typing import Any, Callable, Dict

from . import threadstates
from .declare import Method
from .hresult import COMError, E_FAIL, E_NOTIMPL, exception_to_hresult, format_hresult

logger = logging.getLogger("mapisync_ctypes")

__all__ = ["failure", "bad_return", "make_method_thunk", "make_notimpl_thunk", "source_name"]

_MIN_HR, _MAX_HR = -0x80000000, 0xFFFFFFFF


def failure(exc: BaseException, obj: Any, where: str) -> int:
    """An exception a COM method raised -> the HRESULT its native caller gets; logged with its
    traceback (COMError at DEBUG: it is how a method picks its HRESULT; the rest at ERROR)."""
    try:
        hr = exception_to_hresult(exc)
        # A COMError is how a method chooses its HRESULT: worth a trace, not an alarm.
        level = logging.DEBUG if isinstance(exc, COMError) else logging.ERROR
        logger.log(level, "%s.%s raised %s; returning %s to the native caller",
                   type(obj).__name__, where, type(exc).__name__, format_hresult(hr),
                   exc_info=(type(exc), exc, exc.__traceback__))
        return hr
    except BaseException:  # logging itself failed (e.g. during shutdown)
        return E_FAIL


def bad_return(value: Any, obj: Any, where: str) -> int:
    """What a COM method returned, when it is not None or a plain int in HRESULT range."""
    try:
        if isinstance(value, int) and _MIN_HR <= value <= _MAX_HR:  # an IntEnum, bool...
            return int(value)
        logger.error("%s.%s returned %r, which is not an HRESULT; returning E_FAIL",
                     type(obj).__name__, where, value)
    except BaseException:
        pass
    return E_FAIL


def source_name(kind: str, method: Method, source: str) -> str:
    """A file name for generated code, registered so tracebacks show its lines."""
    name = f"<{kind} {method.where}>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    return name


def make_method_thunk(method: Method, func: Callable[..., Any], lookup: Callable[[int], Any],
                      not_live: Callable[[int, str], int], keep_threads: bool = False) -> Any:
    """A ctypes callback for ``method`` that calls ``func(obj, *converted args)``.

    ``lookup(this)`` returns the live Python object or None; for None the
    thunk returns ``not_live(this, method.name)``. ``keep_threads`` (the ctypes backend)
    keeps the thread state of a native thread after its first call (see threadstates).
    """
    names = [f"a{i}" for i in range(len(method.params))]
    env: Dict[str, Any] = {
        "lookup": lookup, "func": func, "not_live": not_live, "failure": failure,
        "bad_return": bad_return, "BaseException": BaseException, "int": int,
        "MIN": _MIN_HR, "MAX": _MAX_HR, "NAME": method.name,
        "local": threadstates.local, "note_thread": threadstates.note_thread,
    }
    call_args = []
    for name, param in zip(names, method.params):
        if param.boundary.from_native is None:
            call_args.append(name)
        else:
            env[f"conv_{name}"] = param.boundary.from_native
            call_args.append(f"conv_{name}({name})")
    keep = "    if not local.__dict__:\n        note_thread()\n" if keep_threads else ""
    source = f"""
def thunk(this, {", ".join(names)}):
{keep}    obj = lookup(this)
    if obj is None:
        return not_live(this, NAME)
    try:
        hr = func(obj, {", ".join(call_args)})
    except BaseException as exc:
        return failure(exc, obj, NAME)
    if hr is None:
        return 0
    if hr.__class__ is int and MIN <= hr <= MAX:
        return hr
    return bad_return(hr, obj, NAME)
"""
    exec(compile(source, source_name("thunk", method, source), "exec"), env)
    thunk = env["thunk"]
    thunk.__qualname__ = f"{method.where}.thunk"
    return method.prototype(thunk)


def make_notimpl_thunk(method: Method, class_name: str, lookup: Callable[[int], Any],
                       not_live: Callable[[int, str], int], keep_threads: bool = False) -> Any:
    """The slot for a method the class does not define: E_NOTIMPL, never S_OK."""

    def thunk(this: int, *args: Any) -> int:
        if keep_threads and not threadstates.local.__dict__:
            threadstates.note_thread()
        if lookup(this) is None:
            return not_live(this, method.name)
        try:
            logger.debug("%s does not implement %s; returning E_NOTIMPL", class_name, method.name)
        except BaseException:
            pass
        return E_NOTIMPL

    return method.prototype(thunk)
