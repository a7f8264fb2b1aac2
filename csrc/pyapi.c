/*
 * pyapi.c - the Python C API bound at run time, the GIL check, start-up, and the helpers
 * every other part uses to turn Python results and exceptions into HRESULTs.
 * Part of the compiled backend; csrc/core.h says how the parts fit and what the GIL rule is.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif
#define MSC_CORE_INTERNAL 1
#include "core.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the Python C API, bound at run time */

struct msc_api api;
#define MSC_API_NAME(ret, name, args) #name,
static const char *const msc_api_name_list[] = { MSC_API_FUNCTIONS(MSC_API_NAME) };
#define MSC_API_COUNT ((int)(sizeof msc_api_name_list / sizeof msc_api_name_list[0]))

/* ---- the GIL check (MAPISYNC_GIL_CHECK=1): every C-API call below goes through PY() */
int msc_gil_checking;
static volatile int32_t msc_gil_violation_count;
static const char *volatile msc_gil_first_violation;

void msc_gil_violation(const char *function)
{
    if (msc_atomic_add(&msc_gil_violation_count, 1) == 1) {
        msc_gil_first_violation = function;
        fprintf(stderr, "mapisync_ctypes: %s called without the GIL (MAPISYNC_GIL_CHECK)\n", function);
        fflush(stderr);
    }
}

struct msc_py py;

volatile int32_t msc_alive;     /* 1 between msc_py_init and msc_park */
volatile int32_t msc_inflight;  /* trampoline calls between their alive check and their end */

/* Hosts repeat a text (Progress reports "Synchronizing Inbox" with a rising index): a short
 * text that arrives twice in a row is kept, and while it keeps arriving it shares that str
 * (immutable) instead of being decoded again. Guarded by the GIL; emptied at start-up. */
#define MSC_TEXT_KEPT 64
static struct { PyObject *str; size_t n; uint16_t units[MSC_TEXT_KEPT]; } msc_last_text;


/* ---------------------------------------------------------------- binding and start-up */
MSC_API int msc_api_count(void) { return MSC_API_COUNT; }

MSC_API const char *msc_api_name(int i) { return i >= 0 && i < MSC_API_COUNT ? msc_api_name_list[i] : NULL; }

/* Plain C: stores the function addresses (Python looked them up by name). 1 on success. */
MSC_API int msc_bind(void *const *functions, int n, int gil_check)
{
    int i;
    if (n != MSC_API_COUNT) return 0;
    for (i = 0; i < n; i++) if (!functions[i]) return 0;
    memcpy(&api, functions, sizeof api);
    msc_gil_checking = gil_check;
    msc_threads_init();  /* without it every call from a native thread pays for a new state */
    return 1;
}

void msc_keep(PyObject **slot, PyObject *value)
{
    PY(Py_IncRef)(value);
    *slot = value;
}

/* With the GIL (PyDLL): the objects the trampolines report through, and where an object
 * keeps its type (the Python side checked it on live objects). Returns 1. */
MSC_API int msc_py_init(PyObject *none, PyObject *int_type, PyObject *str_type, PyObject *type_error,
                        PyObject *failure, PyObject *bad_return, PyObject *not_live, PyObject *last_release,
                        PyObject *name_qi, PyObject *name_addref, size_t type_offset)
{
    union { uint16_t u; uint8_t b[2]; } probe;
    probe.u = 1;
    py.utf16_order = probe.b[0] ? -1 : 1;
    py.type_offset = type_offset;
    msc_keep(&py.none, none);
    msc_keep(&py.int_type, int_type);
    msc_keep(&py.str_type, str_type);
    msc_keep(&py.type_error, type_error);
    msc_keep(&py.failure, failure);
    msc_keep(&py.bad_return, bad_return);
    msc_keep(&py.not_live, not_live);
    msc_keep(&py.last_release, last_release);
    msc_keep(&py.name_qi, name_qi);
    msc_keep(&py.name_addref, name_addref);
    msc_last_text.str = NULL;  /* from an earlier interpreter, if any: never touched again */
    msc_last_text.n = (size_t)-1;
    msc_atomic_cas(&msc_alive, 0, 1);
    return 1;
}

/* Plain C: (number of GIL violations, first function) for MAPISYNC_GIL_CHECK. */
MSC_API int msc_gil_violations(const char **first)
{
    if (first) *first = msc_gil_first_violation;
    return msc_atomic_load(&msc_gil_violation_count);
}

/* Plain C, for the test of the check itself: runs the check as a C-API call would, from
 * whatever thread state the caller has (ctypes.CDLL releases the GIL, PyDLL keeps it). */
MSC_API int msc_gil_check_probe(void)
{
    int before = msc_atomic_load(&msc_gil_violation_count);
    MSC_GIL_CHECK("msc_gil_check_probe");
    return msc_atomic_load(&msc_gil_violation_count) - before;
}

MSC_API void msc_gil_reset(void)
{
    msc_gil_first_violation = NULL;
    msc_atomic_add(&msc_gil_violation_count, -msc_atomic_load(&msc_gil_violation_count));
}

/* ---------------------------------------------------------------- small Python helpers (GIL held) */
/* An object's type, read where the stable ABI keeps it (never on free-threaded builds,
 * which the Python side refuses). */
static PyObject *msc_type(PyObject *o) { return *(PyObject **)((char *)o + py.type_offset); }

int msc_is(PyObject *o, PyObject *type) { return msc_type(o) == type; }

#define MSC_TPFLAGS_UNICODE_SUBCLASS (1UL << 28)
int msc_is_str(PyObject *o)
{
    PyObject *t = msc_type(o);
    return t == py.str_type || (PY(PyType_GetFlags)(t) & MSC_TPFLAGS_UNICODE_SUBCLASS) != 0;
}

PyObject *msc_new_ref(PyObject *o) { PY(Py_IncRef)(o); return o; }

/* NUL-terminated UTF-16 -> str. Without surrogates (nearly all text) the units are the code
 * points, and building the str from them skips the codec; a pair needs it, and a lone
 * surrogate is kept ("surrogatepass"), as on the ctypes backend. */
PyObject *msc_text(const uint16_t *t)
{
    size_t n = 0;
    int surrogates = 0, repeated;
    PyObject *s;
    if (!t) return msc_new_ref(py.none);
    for (; t[n]; n++) surrogates |= (t[n] & 0xF800) == 0xD800;
    repeated = n == msc_last_text.n && memcmp(t, msc_last_text.units, 2 * n) == 0;
    if (repeated && msc_last_text.str) return msc_new_ref(msc_last_text.str);
    s = surrogates ? PY(PyUnicode_DecodeUTF16)((const char *)t, (Py_ssize_t)(2 * n), "surrogatepass", &py.utf16_order)
                   : PY(PyUnicode_FromKindAndData)(MSC_UNICODE_2BYTE_KIND, t, (Py_ssize_t)n);
    if (repeated) {  /* the second time in a row: keep it */
        if (s) msc_last_text.str = msc_new_ref(s);
        return s;
    }
    /* a new text: only its units are noted, so text that never repeats costs a copy, no more */
    if (msc_last_text.str) PY(Py_DecRef)(msc_last_text.str);
    msc_last_text.str = NULL;
    msc_last_text.n = n <= MSC_TEXT_KEPT ? n : (size_t)-1;
    if (n <= MSC_TEXT_KEPT) memcpy(msc_last_text.units, t, 2 * n);
    return s;
}

/* A call's return value -> HRESULT; consumes r. */
int32_t msc_as_hresult(PyObject *r, int32_t fallback)
{
    long long v;
    if (!r) { PY(PyErr_Clear)(); return fallback; }
    v = msc_is(r, py.int_type) ? PY(PyLong_AsLongLong)(r) : (long long)fallback;
    if (PY(PyErr_Occurred)()) { PY(PyErr_Clear)(); v = fallback; }
    PY(Py_DecRef)(r);
    return (int32_t)(uint32_t)(unsigned long long)v;
}

/* The pending exception -> failure(exc, obj, name): logged with its traceback, mapped to an HRESULT. */
int32_t msc_failed(PyObject *obj, PyObject *name)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    int32_t hr;
    PY(PyErr_Fetch)(&type, &value, &tb);
    PY(PyErr_NormalizeException)(&type, &value, &tb);
    if (value && tb) PY(PyException_SetTraceback)(value, tb);
    hr = msc_as_hresult(value ? PY(PyObject_CallFunctionObjArgs)(py.failure, value, obj, name, NULL) : NULL,
                        E_FAIL);
    if (type) PY(Py_DecRef)(type);
    if (value) PY(Py_DecRef)(value);
    if (tb) PY(Py_DecRef)(tb);
    return hr;
}

/* What a Python method returned -> HRESULT; consumes r. None is S_OK; an int in
 * [-2**31, 2**32) is taken as is; anything else goes to bad_return (which logs; E_FAIL). */
int32_t msc_result(PyObject *r, PyObject *obj, PyObject *name)
{
    if (!r) return msc_failed(obj, name);
    if (r == py.none) { PY(Py_DecRef)(r); return S_OK; }
    if (msc_is(r, py.int_type)) {
        long long v = PY(PyLong_AsLongLong)(r);
        if (!PY(PyErr_Occurred)() && v >= -0x80000000LL && v <= 0xFFFFFFFFLL) {
            PY(Py_DecRef)(r);
            return (int32_t)(uint32_t)(unsigned long long)v;
        }
        PY(PyErr_Clear)();
    }
    {
        int32_t hr = msc_as_hresult(PY(PyObject_CallFunctionObjArgs)(py.bad_return, r, obj, name, NULL), E_FAIL);
        PY(Py_DecRef)(r);
        return hr;
    }
}

/* A call through an object whose count is zero: not_live(address, name) logs; E_UNEXPECTED. */
int32_t msc_report_not_live(msc_object *o, PyObject *name)
{
    PyObject *key = PY(PyLong_FromUnsignedLongLong)((unsigned long long)(uintptr_t)o);
    int32_t hr = msc_as_hresult(key ? PY(PyObject_CallFunctionObjArgs)(py.not_live, key, name, NULL) : NULL,
                                E_UNEXPECTED);
    if (key) PY(Py_DecRef)(key);
    return hr;
}

/* From IUnknown (no GIL held): report a call on a dead object, if Python is still there. */
void msc_not_live_from_native(msc_object *o, PyObject *name)
{
    msc_gil g;
    if (!msc_atomic_load(&msc_alive)) return;
    msc_enter(&g);
    if (msc_atomic_load(&msc_alive)) msc_report_not_live(o, name ? name : py.none);
    msc_leave(&g);
}
