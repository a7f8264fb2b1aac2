/*
 * callers.c - Python -> native: builtins that call one vtable slot of a native COM object
 * with converted arguments, releasing the GIL around the call (the proxies' fast path).
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

/* ---------------------------------------------------------------- callers: Python -> native */
typedef struct {
    uint32_t slot, nparams, restype;  /* restype: an MSC_K_INT kind */
    uint8_t kinds[MSC_MAX_WORDS];
    PyObject *coerce;  /* coerce(i, value): what the fast path refuses -> a plain int, str or None, or raises */
} msc_caller;

static const char msc_caller_capsule[] = "mapisync_ctypes.caller";

static void msc_caller_free(PyObject *capsule)
{
    msc_caller *c = (msc_caller *)PY(PyCapsule_GetPointer)(capsule, msc_caller_capsule);
    if (c) {
        PY(Py_DecRef)(c->coerce);
        free(c);
    }
}

/* Text -> NUL-terminated UTF-16 (lone surrogates kept), in `small` when it fits, else in
 * *heap (freed by the caller). Returns the buffer, or NULL with an exception set. */
#define MSC_SMALL_TEXT 128
static uint16_t *msc_encode(PyObject *text, uint16_t *small, uint16_t **heap)
{
    uint32_t scratch[MSC_SMALL_TEXT], *ucs4 = scratch;
    uint16_t *out = small;
    Py_ssize_t n = PY(PyUnicode_GetLength)(text), i, o = 0;
    if (n < 0) return NULL;
    if (n >= MSC_SMALL_TEXT) {  /* each code point takes at most two UTF-16 units */
        ucs4 = (uint32_t *)malloc((size_t)n * sizeof *ucs4);
        out = *heap = (uint16_t *)malloc(((size_t)n * 2 + 1) * sizeof *out);
        if (!ucs4 || !out) {
            if (ucs4 != scratch) free(ucs4);
            PY(PyErr_SetString)(py.type_error, "out of memory while encoding text");
            return NULL;
        }
    }
    if (n && !PY(PyUnicode_AsUCS4)(text, ucs4, n, 0)) {
        if (ucs4 != scratch) free(ucs4);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        uint32_t c = ucs4[i];
        if (c >= 0x10000) {
            c -= 0x10000;
            out[o++] = (uint16_t)(0xD800 | (c >> 10));
            out[o++] = (uint16_t)(0xDC00 | (c & 0x3FF));
        } else {
            out[o++] = (uint16_t)c;
        }
    }
    out[o] = 0;
    if (ucs4 != scratch) free(ucs4);
    return out;
}

/* coerce(i, value): the Python side's conversion of what the fast path refuses. */
static PyObject *msc_coerce(const msc_caller *c, uint32_t i, PyObject *value)
{
    PyObject *index = PY(PyLong_FromLongLong)((long long)i), *plain;
    if (!index) return NULL;
    plain = PY(PyObject_CallFunctionObjArgs)(c->coerce, index, value, NULL);
    PY(Py_DecRef)(index);
    return plain;
}

/* One argument -> its word(s). Text is encoded into `small`, or into *heap (freed by the
 * caller). 0 with an exception set on failure. */
static int msc_to_native(const msc_caller *c, uint32_t i, PyObject *value, uintptr_t *w, uint16_t *small,
                         uint16_t **heap)
{
    uint8_t kind = c->kinds[i];
    int size = kind & 0x0F, wide = (kind & MSC_K_INT) && size == 8 && sizeof(void *) == 4, ok = 0;
    unsigned long long bits = 0;
    PyObject *plain;
    w[0] = 0;
    if (value == py.none && !(kind & MSC_K_INT)) return 1;  /* NULL text, handle or pointer */
    if (kind == MSC_K_TEXT && msc_is_str(value)) {
        uint16_t *text = msc_encode(value, small, heap);
        w[0] = (uintptr_t)text;
        return text != NULL;
    }
    if ((kind & MSC_K_INT) && msc_is(value, py.int_type)) {  /* a plain int within range */
        if (kind & MSC_K_SIGNED) {
            long long v = PY(PyLong_AsLongLong)(value);
            long long lo = size == 8 ? -0x7FFFFFFFFFFFFFFFLL - 1 : -(1LL << (8 * size - 1));
            long long hi = size == 8 ? 0x7FFFFFFFFFFFFFFFLL : (1LL << (8 * size)) - 1;  /* unsigned spelling too */
            ok = !PY(PyErr_Occurred)() && v >= lo && v <= hi;
            bits = (unsigned long long)v;
        } else {
            bits = PY(PyLong_AsUnsignedLongLong)(value);
            ok = !PY(PyErr_Occurred)() && (size == 8 || bits < (1ULL << (8 * size)));
        }
        if (!ok) PY(PyErr_Clear)();
    } else if ((kind == MSC_K_HANDLE || kind == MSC_K_VOIDP) && msc_is(value, py.int_type)) {
        bits = PY(PyLong_AsUnsignedLongLong)(value);  /* negative handles go to coerce: it masks them */
        ok = !PY(PyErr_Occurred)();
        if (!ok) PY(PyErr_Clear)();
    }
    if (!ok) {  /* anything else: the Python side converts (ctypes instances, proxies) or explains */
        if (!(plain = msc_coerce(c, i, value))) return 0;
        if (kind == MSC_K_TEXT) {
            uint16_t *text = plain == py.none ? NULL : msc_encode(plain, small, heap);
            ok = plain == py.none || text != NULL;
            w[0] = (uintptr_t)text;
        } else if (plain != py.none) {
            bits = PY(PyLong_AsUnsignedLongLong)(plain);  /* coerce returns the bits, unsigned */
            ok = !PY(PyErr_Occurred)();
        } else {
            ok = 1;
        }
        PY(Py_DecRef)(plain);
        if (!ok || kind == MSC_K_TEXT) return ok;
    }
    w[0] = (uintptr_t)bits;
    if (wide) w[1] = (uintptr_t)(bits >> 32);
    return 1;
}

typedef HRESULT (STDMETHODCALLTYPE *msc_call0)(void *);
typedef HRESULT (STDMETHODCALLTYPE *msc_call1)(void *, uintptr_t);
typedef HRESULT (STDMETHODCALLTYPE *msc_call2)(void *, uintptr_t, uintptr_t);
typedef HRESULT (STDMETHODCALLTYPE *msc_call3)(void *, uintptr_t, uintptr_t, uintptr_t);
typedef HRESULT (STDMETHODCALLTYPE *msc_call4)(void *, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
typedef HRESULT (STDMETHODCALLTYPE *msc_call5)(void *, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
typedef HRESULT (STDMETHODCALLTYPE *msc_call6)(void *, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t,
                                               uintptr_t);
typedef HRESULT (STDMETHODCALLTYPE *msc_call7)(void *, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t,
                                               uintptr_t, uintptr_t);
typedef HRESULT (STDMETHODCALLTYPE *msc_call8)(void *, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t,
                                               uintptr_t, uintptr_t, uintptr_t);

static HRESULT msc_invoke(msc_fn fn, void *this_, const uintptr_t *w, int words)
{
    switch (words) {
    case 0: return ((msc_call0)fn)(this_);
    case 1: return ((msc_call1)fn)(this_, w[0]);
    case 2: return ((msc_call2)fn)(this_, w[0], w[1]);
    case 3: return ((msc_call3)fn)(this_, w[0], w[1], w[2]);
    case 4: return ((msc_call4)fn)(this_, w[0], w[1], w[2], w[3]);
    case 5: return ((msc_call5)fn)(this_, w[0], w[1], w[2], w[3], w[4]);
    case 6: return ((msc_call6)fn)(this_, w[0], w[1], w[2], w[3], w[4], w[5]);
    case 7: return ((msc_call7)fn)(this_, w[0], w[1], w[2], w[3], w[4], w[5], w[6]);
    default: return ((msc_call8)fn)(this_, w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
    }
}

/* caller(this, *args) -> int: the builtin a proxy method calls. */
static PyObject *msc_caller_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const msc_caller *c = (const msc_caller *)PY(PyCapsule_GetPointer)(self, msc_caller_capsule);
    uintptr_t w[MSC_MAX_WORDS];
    uint16_t small[MSC_MAX_WORDS][2 * MSC_SMALL_TEXT + 1], *heap[MSC_MAX_WORDS];
    void *this_, *ts;
    uint32_t i;
    int words = 0, ok = 1;
    HRESULT hr = E_FAIL;
    if (!c) return NULL;
    if (nargs != (Py_ssize_t)c->nparams + 1) {
        PY(PyErr_SetString)(py.type_error, "mapisync_ctypes caller: wrong number of arguments");
        return NULL;
    }
    this_ = (void *)(uintptr_t)PY(PyLong_AsUnsignedLongLong)(args[0]);
    if (PY(PyErr_Occurred)()) return NULL;
    if (!this_) {
        PY(PyErr_SetString)(py.type_error, "mapisync_ctypes caller: NULL interface pointer");
        return NULL;
    }
    memset(heap, 0, sizeof heap);
    for (i = 0; i < c->nparams && ok; i++) {
        ok = msc_to_native(c, i, args[i + 1], w + words, small[i], &heap[i]);
        words += msc_words_of(c->kinds[i]);
    }
    if (ok) {
        void **vtbl = *(void ***)this_;
        msc_fn fn;
        memcpy(&fn, &vtbl[c->slot], sizeof fn);  /* ISO C has no cast from object to function pointer */
        ts = api.PyEval_SaveThread();  /* the callee may block, or call back in from other threads */
        hr = msc_invoke(fn, this_, w, words);
        api.PyEval_RestoreThread(ts);
    }
    for (i = 0; i < c->nparams; i++) free(heap[i]);
    if (!ok) return NULL;
    if (c->restype & MSC_K_SIGNED) return PY(PyLong_FromLongLong)((long long)hr);
    return PY(PyLong_FromUnsignedLongLong)((unsigned long long)(uint32_t)hr);
}

static msc_method_def msc_caller_def = {"caller", (msc_fn)msc_caller_call, MSC_METH_FASTCALL,
                                        "caller(this, *args): call one vtable slot of a native COM object"};

/* With the GIL (PyDLL): a builtin that calls `slot` with parameters of `kinds`; NULL (with
 * an exception) if the signature is out of range. */
MSC_API PyObject *msc_py_caller_new(uint32_t slot, const uint8_t *kinds, uint32_t nparams, uint32_t restype,
                                    PyObject *coerce)
{
    msc_caller *c;
    PyObject *capsule, *fn;
    uint32_t i, words = 0;
    for (i = 0; i < nparams && nparams <= MSC_MAX_WORDS; i++) words += (uint32_t)msc_words_of(kinds[i]);
    if (nparams > MSC_MAX_WORDS || words > MSC_MAX_WORDS) {
        PY(PyErr_SetString)(py.type_error, "too many argument words for a compiled caller");
        return NULL;
    }
    c = (msc_caller *)calloc(1, sizeof *c);
    if (!c) { PY(PyErr_SetString)(py.type_error, "out of memory"); return NULL; }
    c->slot = slot;
    c->nparams = nparams;
    c->restype = restype;
    memcpy(c->kinds, kinds, nparams);
    msc_keep(&c->coerce, coerce);
    capsule = PY(PyCapsule_New)(c, msc_caller_capsule, msc_caller_free);
    if (!capsule) { PY(Py_DecRef)(c->coerce); free(c); return NULL; }
    fn = PY(PyCFunction_NewEx)(&msc_caller_def, capsule, NULL);
    PY(Py_DecRef)(capsule);
    return fn;
}
