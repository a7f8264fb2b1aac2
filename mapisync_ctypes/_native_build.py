"""cffi API-mode build of mapisync_ctypes._native, the native fast path (setup.py: cffi_modules).

The C side of COM objects: object blocks, vtables, atomic reference counts and
QueryInterface, so AddRef/Release/QueryInterface never take the GIL; a
trampoline per declared method that enters Python through ``extern "Python"``
(text length computed in C); and compiled call stubs for proxies. Everything
per-method is generated from the declarations in interfaces.py: a new
interface there gets its trampolines and stubs on the next build (one declared
only at run time falls back to ctypes thunks).
"""

import ctypes
import os
import sys
from typing import List, Optional, Tuple

from cffi import FFI

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mapisync_ctypes.abi import HANDLE, LPCWSTR  # noqa: E402
from mapisync_ctypes.interfaces import INTERFACES, IUnknown  # noqa: E402

MAX_WORDS = 8  # E_NOTIMPL stubs exist for methods of 0..8 argument words
# The vtable functions' convention, as cffi must be told it (only 32-bit Windows has two).
CALL = " __stdcall" if sys.platform == "win32" and ctypes.sizeof(ctypes.c_void_p) == 4 else ""

COMMON_CDEF = """
typedef struct MSObject MSObject;
typedef struct { const void *lpVtbl; MSObject *object; } MSSlot;
typedef struct { uint32_t n; uint8_t *iids; uint32_t *slots; } MSClass;
struct MSObject { int32_t refcount; uint32_t n_interfaces; void *owner; const MSClass *cls; MSSlot itf[]; };

MSClass *ms_class_new(uint32_t n);
void **ms_vtable_new(uint32_t n);
MSObject *ms_object_new(uint32_t n_interfaces, const MSClass *cls, void *owner, void **vtables);
void ms_object_free(MSObject *o);
int32_t ms_addref_from_python(MSObject *o);
uintptr_t ms_object_of(uintptr_t this_);
void ms_set_alive(int alive);
size_t ms_object_size(uint32_t n_interfaces);
int ms_setup(uintptr_t failure, uintptr_t bad_return, uintptr_t not_live);

int32_t CALL ms_QueryInterface(void *, void *, void **);
uint32_t CALL ms_AddRef(void *);
uint32_t CALL ms_Release(void *);

extern "Python" void ms_py_last_release(uintptr_t);
extern "Python" void ms_py_not_live(uintptr_t, int);
"""

COMMON_SOURCE = r"""
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uchar.h>
#ifdef _WIN32
#  include <windows.h>
#  define MS_CALL __stdcall
static int32_t ms_inc(volatile int32_t *v) { return InterlockedIncrement((volatile LONG *)v); }
static int32_t ms_cas(volatile int32_t *v, int32_t old, int32_t new_)
{ return InterlockedCompareExchange((volatile LONG *)v, new_, old) == old; }
#else
#  define MS_CALL
static int32_t ms_inc(volatile int32_t *v) { return __atomic_add_fetch(v, 1, __ATOMIC_SEQ_CST); }
static int32_t ms_cas(volatile int32_t *v, int32_t old, int32_t new_)
{ return __atomic_compare_exchange_n(v, &old, new_, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }
#endif
#define MS_E_NOTIMPL ((int32_t)0x80004001)
#define MS_E_NOINTERFACE ((int32_t)0x80004002)
#define MS_E_POINTER ((int32_t)0x80004003)
#define MS_E_UNEXPECTED ((int32_t)0x8000FFFF)
#define MS_E_INVALIDARG ((int32_t)0x80070057)

typedef struct MSObject MSObject;
typedef struct { const void *lpVtbl; MSObject *object; } MSSlot;
typedef struct { uint32_t n; uint8_t *iids; uint32_t *slots; } MSClass;
struct MSObject { volatile int32_t refcount; uint32_t n_interfaces; void *owner; const MSClass *cls; MSSlot itf[]; };

static volatile int ms_alive = 1;  /* 0 once Python is going away: nothing enters it again */

static void ms_py_last_release(uintptr_t);
static void ms_py_not_live(uintptr_t, int);

static MSClass *ms_class_new(uint32_t n)
{
    MSClass *c = (MSClass *)calloc(1, sizeof *c);
    if (!c) return NULL;
    c->n = n;
    c->iids = (uint8_t *)calloc(n ? n : 1, 16);
    c->slots = (uint32_t *)calloc(n ? n : 1, sizeof(uint32_t));
    return c;
}
static void **ms_vtable_new(uint32_t n) { return (void **)calloc(n, sizeof(void *)); }
static size_t ms_object_size(uint32_t n) { return sizeof(MSObject) + n * sizeof(MSSlot); }

static MSObject *ms_object_new(uint32_t n, const MSClass *cls, void *owner, void **vtables)
{
    MSObject *o = (MSObject *)calloc(1, ms_object_size(n));
    uint32_t i;
    if (!o) return NULL;
    o->n_interfaces = n;
    o->owner = owner;
    o->cls = cls;
    for (i = 0; i < n; i++) { o->itf[i].lpVtbl = vtables[i]; o->itf[i].object = o; }
    return o;
}
static void ms_object_free(MSObject *o) { free(o); }
static void ms_set_alive(int alive) { ms_alive = alive; }

/* A reference taken from Python (com_pointer): the only way from 0 to 1. */
static int32_t ms_addref_from_python(MSObject *o) { return ms_inc(&o->refcount); }

/* For thunks of interfaces declared at run time: the object behind `this`, if live. */
static uintptr_t ms_object_of(uintptr_t this_)
{
    MSObject *o = this_ ? ((MSSlot *)this_)->object : NULL;
    return o && o->refcount > 0 ? (uintptr_t)o : 0;
}

static int32_t MS_CALL ms_QueryInterface(void *This, void *riid, void **ppv)
{
    MSObject *o;
    uint32_t i;
    if (!ppv) return MS_E_POINTER;
    *ppv = NULL;
    o = ((MSSlot *)This)->object;
    if (!ms_alive) return MS_E_UNEXPECTED;
    if (!riid) return MS_E_INVALIDARG;
    for (i = 0; i < o->cls->n; i++) {
        if (memcmp(riid, o->cls->iids + 16 * i, 16) == 0) {
            int32_t old;
            do {
                old = o->refcount;
                if (old <= 0) { ms_py_not_live((uintptr_t)o, 0); return MS_E_UNEXPECTED; }
            } while (!ms_cas(&o->refcount, old, old + 1));
            *ppv = &o->itf[o->cls->slots[i]];
            return 0;
        }
    }
    if (o->refcount <= 0) { ms_py_not_live((uintptr_t)o, 0); return MS_E_UNEXPECTED; }
    return MS_E_NOINTERFACE;
}

static uint32_t MS_CALL ms_AddRef(void *This)
{
    MSObject *o = ((MSSlot *)This)->object;
    int32_t old;
    do {
        old = o->refcount;
        if (old <= 0) { if (ms_alive) ms_py_not_live((uintptr_t)o, 1); return 0; }
    } while (!ms_cas(&o->refcount, old, old + 1));
    return (uint32_t)(old + 1);
}

static uint32_t MS_CALL ms_Release(void *This)
{
    MSObject *o = ((MSSlot *)This)->object;
    int32_t old;
    do {
        old = o->refcount;
        if (old <= 0) { if (ms_alive) ms_py_not_live((uintptr_t)o, 2); return 0; }
    } while (!ms_cas(&o->refcount, old, old - 1));
    if (old == 1 && ms_alive) ms_py_last_release((uintptr_t)o);  /* only now does Python run */
    return (uint32_t)(old - 1);
}

static size_t ms_u16len(const uint16_t *s) { size_t n = 0; if (s) while (s[n]) n++; return n; }

/* ---- direct dispatch: the trampolines of text/integer/handle methods call the Python
 * method through the C API (limited API): one GIL round trip, text decoded in C. */
static PyObject *ms_failure, *ms_bad_return, *ms_not_live_py;  /* _vtbl._failure, ... */
static int ms_utf16_order;  /* -1 little-endian, 1 big-endian: the host's native order */

static int32_t ms_as_hresult(PyObject *r, int32_t fallback)
{
    long long v;
    if (!r) { PyErr_Clear(); return fallback; }
    v = PyLong_Check(r) ? PyLong_AsLongLong(r) : fallback;
    if (v == -1 && PyErr_Occurred()) { PyErr_Clear(); v = fallback; }
    Py_DECREF(r);
    return (int32_t)(uint32_t)v;
}

/* The pending exception -> _vtbl._failure(exc, obj, name): logs it, returns the HRESULT. */
static int32_t ms_failed(PyObject *obj, PyObject *name)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    int32_t hr;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb) PyException_SetTraceback(value, tb);
    hr = ms_as_hresult(value ? PyObject_CallFunctionObjArgs(ms_failure, value, obj, name, NULL) : NULL,
                       (int32_t)0x80004005);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return hr;
}

/* What the method returned -> the HRESULT; anything not in range goes to _vtbl._bad_return. */
static int32_t ms_result(PyObject *r, PyObject *obj, PyObject *name)
{
    if (!r) return ms_failed(obj, name);
    if (r == Py_None) { Py_DECREF(r); return 0; }
    if (PyLong_Check(r)) {
        long long v = PyLong_AsLongLong(r);
        if (!(v == -1 && PyErr_Occurred()) && v >= -0x80000000LL && v <= 0xFFFFFFFFLL) {
            Py_DECREF(r);
            return (int32_t)(uint32_t)v;
        }
        PyErr_Clear();
    }
    {
        int32_t hr = ms_as_hresult(PyObject_CallFunctionObjArgs(ms_bad_return, r, obj, name, NULL),
                                   (int32_t)0x80004005);
        Py_DECREF(r);
        return hr;
    }
}

static int32_t ms_dead(MSObject *o, PyObject *name)
{
    PyObject *key = PyLong_FromSize_t((size_t)o);
    int32_t hr = ms_as_hresult(key ? PyObject_CallFunctionObjArgs(ms_not_live_py, key, name, NULL) : NULL,
                               MS_E_UNEXPECTED);
    Py_XDECREF(key);
    return hr;
}

static PyObject *ms_text(const uint16_t *t)
{
    if (!t) { Py_INCREF(Py_None); return Py_None; }
    return PyUnicode_DecodeUTF16((const char *)t, (Py_ssize_t)(2 * ms_u16len(t)), "surrogatepass", &ms_utf16_order);
}
"""


def _c_scalar(ctype) -> Optional[str]:
    """C type of an integer ctype, by size and signedness."""
    if not (isinstance(ctype, type) and issubclass(ctype, ctypes._SimpleCData)) or ctype._type_ in "fdgPzZOv?":
        return None
    size = ctypes.sizeof(ctype)
    signed = ctype(-1).value < 0
    return f"{'int' if signed else 'uint'}{8 * size}_t"


def _param(ctype) -> Tuple[str, str]:
    """(kind, C type in the vtable): kind is text, int or ptr."""
    if ctype is LPCWSTR:
        return "text", "const uint16_t *"
    if ctype is HANDLE:
        return "handle", "void *"
    scalar = _c_scalar(ctype)
    if scalar:
        return "int", scalar
    return "ptr", "void *"


def generate() -> Tuple[str, str]:
    cdef: List[str] = [COMMON_CDEF.replace(" CALL ", CALL + " ")]
    source: List[str] = [COMMON_SOURCE]
    # E_NOTIMPL by argument words: a stdcall callee must pop exactly what it was given.
    for n in range(MAX_WORDS + 1):
        args = "".join(f", void *a{i}" for i in range(n))
        unused = "".join(f" (void)a{i};" for i in range(n))
        source.append(f"static int32_t MS_CALL ms_notimpl{n}(void *t{args})\n{{\n   {unused}\n"
                      f"    return ms_alive && ((MSSlot *)t)->object->refcount > 0 ? MS_E_NOTIMPL : MS_E_UNEXPECTED;\n}}")
        cdef.append(f"int32_t{CALL} ms_notimpl{n}({', '.join(['void *'] * (n + 1))});")
    setup: List[str] = []
    seen = set()
    for interface in INTERFACES:
        for method in interface.methods[len(IUnknown.methods):]:
            if id(method) in seen or method.restype is not ctypes.c_int32:
                continue
            seen.add(id(method))
            name = f"{method.interface.name}_{method.name}"
            params = [_param(p.ctype) for p in method.params]
            c_params = "".join(f", {c} a{i}" for i, (_, c) in enumerate(params))
            cdef.append(f"int32_t{CALL} ms_tr_{name}(void *{''.join(', ' + c for _, c in params)});")
            if all(kind in ("text", "int", "handle") for kind, _ in params):
                source.append(_direct_trampoline(name, method.name, params, c_params))
                setup.append(f'    if (!(ms_name_{name} = PyUnicode_InternFromString("{method.name}"))) return 0;')
            else:
                source.append(_extern_trampoline(name, params, c_params, cdef, source))
            # the call stub for proxies: text as char16_t * (cffi converts str), the rest as ints
            stub_params = ["uintptr_t This"]
            for i, (kind, c) in enumerate(params):
                stub_params.append(f"const char16_t *a{i}" if kind == "text"
                                   else f"uintptr_t a{i}" if kind in ("handle", "ptr") else f"{c} a{i}")
            casts = ", ".join(f"({c})a{i}" for i, (_, c) in enumerate(params))
            fn_type = f"int32_t (MS_CALL *)(void *{''.join(', ' + c for _, c in params)})"
            source.append(
                f"static int32_t ms_call_{name}({', '.join(stub_params)})\n"
                f"{{\n    void **vtbl = *(void ***)This;\n"
                f"    return (({fn_type})vtbl[{method.index}])((void *)This{', ' if casts else ''}{casts});\n}}")
            cdef.append(f"int32_t ms_call_{name}({', '.join(stub_params)});")
    source.append("static int ms_setup(uintptr_t failure, uintptr_t bad_return, uintptr_t not_live)\n{\n"
                  "    union { uint16_t u; uint8_t b[2]; } probe;\n"
                  "    probe.u = 1;\n    ms_utf16_order = probe.b[0] ? -1 : 1;\n"
                  "    ms_failure = (PyObject *)failure; ms_bad_return = (PyObject *)bad_return;\n"
                  "    ms_not_live_py = (PyObject *)not_live;\n"
                  "    Py_INCREF(ms_failure); Py_INCREF(ms_bad_return); Py_INCREF(ms_not_live_py);\n"
                  + "\n".join(setup) + "\n    return 1;\n}")
    return "\n".join(cdef), "\n".join(source)


def _direct_trampoline(name: str, method: str, params: List[Tuple[str, str]], c_params: str) -> str:
    """A vtable function that calls obj.<method>(...) through the C API."""
    convert = {"text": "ms_text(a{i})", "handle": "PyLong_FromSize_t((size_t)a{i})"}
    lines = [f"static PyObject *ms_name_{name};",
             f"static int32_t MS_CALL ms_tr_{name}(void *This{c_params})", "{",
             "    MSObject *o = ((MSSlot *)This)->object;",
             "    PyGILState_STATE gil;",
             "    PyObject *obj" + "".join(f", *x{i}" for i in range(len(params))) + ";",
             "    int32_t hr;",
             "    if (!ms_alive) return MS_E_UNEXPECTED;",
             "    gil = PyGILState_Ensure();",
             "    if (o->refcount <= 0) {",
             f"        hr = ms_dead(o, ms_name_{name});",
             "        PyGILState_Release(gil);",
             "        return hr;",
             "    }",
             "    obj = (PyObject *)o->owner;  /* kept alive by the keep-alive while the count is above 0 */",
             "    Py_INCREF(obj);"]
    for i, (kind, c) in enumerate(params):
        if kind == "int":
            maker = "PyLong_FromLongLong((long long)a{i})" if c.startswith("int") else \
                "PyLong_FromUnsignedLongLong((unsigned long long)a{i})"
        else:
            maker = convert[kind]
        lines.append(f"    x{i} = {maker.format(i=i)};")
    ready = " && ".join(f"x{i}" for i in range(len(params))) or "1"
    args = "".join(f"x{i}, " for i in range(len(params)))
    lines += [f"    hr = ({ready}) ? ms_result(PyObject_CallMethodObjArgs(obj, ms_name_{name}, {args}NULL), obj, "
              f"ms_name_{name}) : ms_failed(obj, ms_name_{name});"]
    lines += [f"    Py_XDECREF(x{i});" for i in range(len(params))]
    lines += ["    Py_DECREF(obj);", "    PyGILState_Release(gil);", "    return hr;", "}"]
    return "\n".join(lines)


def _extern_trampoline(name: str, params: List[Tuple[str, str]], c_params: str, cdef: List[str],
                       source: List[str]) -> str:
    """A vtable function that enters Python through an extern "Python" handler (_native_backend)."""
    py_params, py_args = ["uintptr_t"], ["(uintptr_t)o"]
    for i, (kind, c) in enumerate(params):
        if kind == "text":
            py_params += ["const char16_t *", "size_t"]
            py_args += [f"(const char16_t *)a{i}", f"ms_u16len(a{i})"]
        elif kind in ("handle", "ptr"):
            py_params.append("uintptr_t")
            py_args.append(f"(uintptr_t)a{i}")
        else:
            py_params.append(c)
            py_args.append(f"a{i}")
    cdef.append(f'extern "Python" int32_t ms_py_{name}({", ".join(py_params)});')
    source.append(f"static int32_t ms_py_{name}({', '.join(py_params)});")
    return (f"static int32_t MS_CALL ms_tr_{name}(void *This{c_params})\n"
            f"{{\n    MSObject *o = ((MSSlot *)This)->object;\n"
            f"    if (!ms_alive) return MS_E_UNEXPECTED;\n"
            f"    return ms_py_{name}({', '.join(py_args)});\n}}")


def _build_ffi() -> FFI:
    cdef, source = generate()
    ffi = FFI()
    ffi.cdef(cdef)
    ffi.set_source("mapisync_ctypes._native", source)
    return ffi


ffi = _build_ffi()

if __name__ == "__main__":
    ffi.compile(verbose=True)
