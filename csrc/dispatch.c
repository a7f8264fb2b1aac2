/*
 * dispatch.c - native -> Python: the trampolines (one per vtable slot and argument width),
 * the E_NOTIMPL stubs, and the method descriptors that drive them.
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

/* ---------------------------------------------------------------- dispatch: native -> Python */
int msc_words_of(uint8_t kind)
{
    return (kind & MSC_K_INT) && (kind & 0x0F) == 8 && sizeof(void *) == 4 ? 2 : 1;
}

/* An integer parameter's value, masked to its size -> int. */
static PyObject *msc_int(uint8_t kind, unsigned long long v)
{
    int size = kind & 0x0F;
    if (kind & MSC_K_SIGNED) {
        long long s = size < 8 && (v >> (8 * size - 1)) ? (long long)(v | ~((1ULL << (8 * size)) - 1)) : (long long)v;
        return PY(PyLong_FromLongLong)(s);
    }
    return PY(PyLong_FromUnsignedLongLong)(v);
}

/* Parameter i's argument word (or two) -> a new reference, as the Python method receives it. */
static PyObject *msc_from_native(msc_method *m, int i, const uintptr_t *w)
{
    uint8_t kind = m->kinds[i];
    if (kind == MSC_K_TEXT) return msc_text((const uint16_t *)w[0]);
    if (kind == MSC_K_HANDLE) return PY(PyLong_FromUnsignedLongLong)((unsigned long long)w[0]);
    if (kind == MSC_K_VOIDP || kind == MSC_K_PTR)
        return w[0] ? PY(PyLong_FromUnsignedLongLong)((unsigned long long)w[0]) : msc_new_ref(py.none);
    {
        int size = kind & 0x0F;
        unsigned long long v = (unsigned long long)w[0];
        PyObject *r;
        if (size == 8 && sizeof(void *) == 4) v |= (unsigned long long)w[1] << 32;  /* low word first */
        if (size < 8) v &= (1ULL << (8 * size)) - 1;
        if (v == m->last_value[i]) {
            if (m->last_int[i]) return msc_new_ref(m->last_int[i]);
            if ((r = msc_int(kind, v))) m->last_int[i] = msc_new_ref(r);  /* twice in a row: keep it */
            return r;
        }
        /* a new value (an index that rises): noted, nothing kept, so it costs what it did */
        if (m->last_int[i]) PY(Py_DecRef)(m->last_int[i]);
        m->last_int[i] = NULL;
        m->last_value[i] = v;
        return msc_int(kind, v);
    }
}

/* Every trampoline ends here: `w` holds the words after `this`. */
static HRESULT msc_dispatch(msc_slot *This, unsigned slot, const uintptr_t *w)
{
    msc_object *o = This->object;
    msc_method *m = &msc_header_of(This->lpVtbl)->methods[slot];
    /* call[0] is spare (PY_VECTORCALL_ARGUMENTS_OFFSET lets the callee use it), call[1] is the
     * object, then the arguments: callee(obj, *args), with no tuple and no attribute look-up */
    PyObject *obj, *call[MSC_MAX_WORDS + 2], **x = call + 2;
    msc_gil g;
    HRESULT hr;
    int i, word = 0, made = 0;
    msc_atomic_add(&msc_inflight, 1);
    if (!msc_atomic_load(&msc_alive)) { hr = E_UNEXPECTED; goto out; }
    msc_enter(&g);
    if (!msc_atomic_load(&msc_alive)) {
        hr = E_UNEXPECTED;
    } else if (msc_atomic_load(&o->refcount) <= 0) {
        hr = msc_report_not_live(o, m->name);
    } else {
        obj = (PyObject *)o->owner;  /* alive: the keep-alive holds it while the count is above zero */
        PY(Py_IncRef)(obj);
        for (i = 0; i < m->nparams; i++) {
            if (!(x[i] = msc_from_native(m, i, w + word))) break;
            made++;
            word += msc_words_of(m->kinds[i]);
        }
        call[0] = NULL;
        call[1] = obj;
        if (made < m->nparams) hr = msc_failed(obj, m->name);
        else hr = msc_result(PY(PyObject_VectorcallDict)(m->callee, call + 1,
                                                         ((size_t)m->nparams + 1) | MSC_VECTORCALL_OFFSET, NULL),
                             obj, m->name);
        for (i = 0; i < made; i++) PY(Py_DecRef)(x[i]);
        PY(Py_DecRef)(obj);
    }
    msc_leave(&g);
out:
    msc_atomic_add(&msc_inflight, -1);
    return hr;
}

/* One trampoline per (slot, words): the slot finds the method, the width keeps stdcall's pop right. */
#define MSC_P0
#define MSC_P1 MSC_P0, uintptr_t a0
#define MSC_P2 MSC_P1, uintptr_t a1
#define MSC_P3 MSC_P2, uintptr_t a2
#define MSC_P4 MSC_P3, uintptr_t a3
#define MSC_P5 MSC_P4, uintptr_t a4
#define MSC_P6 MSC_P5, uintptr_t a5
#define MSC_P7 MSC_P6, uintptr_t a6
#define MSC_P8 MSC_P7, uintptr_t a7
#define MSC_A0 0
#define MSC_A1 a0
#define MSC_A2 a0, a1
#define MSC_A3 a0, a1, a2
#define MSC_A4 a0, a1, a2, a3
#define MSC_A5 a0, a1, a2, a3, a4
#define MSC_A6 a0, a1, a2, a3, a4, a5
#define MSC_A7 a0, a1, a2, a3, a4, a5, a6
#define MSC_A8 a0, a1, a2, a3, a4, a5, a6, a7
#define MSC_TRAMPOLINE(s, n) \
    static HRESULT STDMETHODCALLTYPE msc_t##s##_##n(msc_slot *This MSC_P##n) \
    { const uintptr_t w[] = {MSC_A##n}; return msc_dispatch(This, s, w); }
#define MSC_TRAMPOLINES(s) MSC_TRAMPOLINE(s, 0) MSC_TRAMPOLINE(s, 1) MSC_TRAMPOLINE(s, 2) MSC_TRAMPOLINE(s, 3) \
    MSC_TRAMPOLINE(s, 4) MSC_TRAMPOLINE(s, 5) MSC_TRAMPOLINE(s, 6) MSC_TRAMPOLINE(s, 7) MSC_TRAMPOLINE(s, 8)
#define MSC_ROW(s) {(msc_fn)msc_t##s##_0, (msc_fn)msc_t##s##_1, (msc_fn)msc_t##s##_2, (msc_fn)msc_t##s##_3, \
    (msc_fn)msc_t##s##_4, (msc_fn)msc_t##s##_5, (msc_fn)msc_t##s##_6, (msc_fn)msc_t##s##_7, (msc_fn)msc_t##s##_8}

MSC_TRAMPOLINES(3) MSC_TRAMPOLINES(4) MSC_TRAMPOLINES(5) MSC_TRAMPOLINES(6) MSC_TRAMPOLINES(7)
MSC_TRAMPOLINES(8) MSC_TRAMPOLINES(9) MSC_TRAMPOLINES(10) MSC_TRAMPOLINES(11) MSC_TRAMPOLINES(12)
MSC_TRAMPOLINES(13) MSC_TRAMPOLINES(14) MSC_TRAMPOLINES(15) MSC_TRAMPOLINES(16) MSC_TRAMPOLINES(17)
MSC_TRAMPOLINES(18) MSC_TRAMPOLINES(19) MSC_TRAMPOLINES(20) MSC_TRAMPOLINES(21) MSC_TRAMPOLINES(22)
MSC_TRAMPOLINES(23) MSC_TRAMPOLINES(24) MSC_TRAMPOLINES(25) MSC_TRAMPOLINES(26) MSC_TRAMPOLINES(27)
MSC_TRAMPOLINES(28) MSC_TRAMPOLINES(29) MSC_TRAMPOLINES(30) MSC_TRAMPOLINES(31)

static const msc_fn msc_trampolines[MSC_MAX_SLOTS - 3][MSC_MAX_WORDS + 1] = {
    MSC_ROW(3), MSC_ROW(4), MSC_ROW(5), MSC_ROW(6), MSC_ROW(7), MSC_ROW(8), MSC_ROW(9), MSC_ROW(10),
    MSC_ROW(11), MSC_ROW(12), MSC_ROW(13), MSC_ROW(14), MSC_ROW(15), MSC_ROW(16), MSC_ROW(17),
    MSC_ROW(18), MSC_ROW(19), MSC_ROW(20), MSC_ROW(21), MSC_ROW(22), MSC_ROW(23), MSC_ROW(24),
    MSC_ROW(25), MSC_ROW(26), MSC_ROW(27), MSC_ROW(28), MSC_ROW(29), MSC_ROW(30), MSC_ROW(31),
};

/* E_NOTIMPL for a method the class does not define, by width (a stdcall callee pops exactly
 * its arguments); E_UNEXPECTED once the object is dead or Python is gone. */
static HRESULT msc_notimpl(msc_slot *This)
{
    return msc_atomic_load(&msc_alive) && msc_atomic_load(&This->object->refcount) > 0 ? E_NOTIMPL : E_UNEXPECTED;
}
#define MSC_NOTIMPL(n) \
    static HRESULT STDMETHODCALLTYPE msc_ni##n(msc_slot *This MSC_P##n) \
    { const uintptr_t w[] = {MSC_A##n}; (void)w; return msc_notimpl(This); }
MSC_NOTIMPL(0) MSC_NOTIMPL(1) MSC_NOTIMPL(2) MSC_NOTIMPL(3) MSC_NOTIMPL(4) MSC_NOTIMPL(5) MSC_NOTIMPL(6)
MSC_NOTIMPL(7) MSC_NOTIMPL(8)
static const msc_fn msc_notimpls[MSC_MAX_WORDS + 1] = {
    (msc_fn)msc_ni0, (msc_fn)msc_ni1, (msc_fn)msc_ni2, (msc_fn)msc_ni3, (msc_fn)msc_ni4, (msc_fn)msc_ni5,
    (msc_fn)msc_ni6, (msc_fn)msc_ni7, (msc_fn)msc_ni8,
};

void *msc_fn_address(msc_fn fn)
{
    void *p;
    memcpy(&p, &fn, sizeof p);  /* ISO C has no cast from function to object pointer */
    return p;
}

/* Plain C: the trampoline for (slot, words), or NULL when out of range (then ctypes serves it). */
MSC_API void *msc_trampoline(int slot, int words)
{
    if (slot < 3 || slot >= MSC_MAX_SLOTS || words < 0 || words > MSC_MAX_WORDS) return NULL;
    return msc_fn_address(msc_trampolines[slot - 3][words]);
}

MSC_API void *msc_notimpl_stub(int words)
{
    return words < 0 || words > MSC_MAX_WORDS ? NULL : msc_fn_address(msc_notimpls[words]);
}

/* With the GIL (PyDLL): describe the method a trampoline serves in `vtbl`'s `slot`. */
MSC_API int msc_py_method_set(void **vtbl, uint32_t slot, const uint8_t *kinds, uint32_t nparams,
                              PyObject *name, PyObject *callee)
{
    msc_vtable_header *h = msc_header_of(vtbl);
    msc_method *m;
    uint32_t i, words = 0;
    if (slot >= h->nslots || nparams > MSC_MAX_WORDS) return 0;
    for (i = 0; i < nparams; i++) words += (uint32_t)msc_words_of(kinds[i]);
    if (words > MSC_MAX_WORDS) return 0;
    m = &h->methods[slot];
    for (i = 0; i < MSC_MAX_WORDS; i++) {  /* kinds may change: what was kept may mean another value */
        if (m->last_int[i]) PY(Py_DecRef)(m->last_int[i]);
        m->last_int[i] = NULL;
    }
    m->nparams = (uint8_t)nparams;
    m->nwords = (uint8_t)words;
    memcpy(m->kinds, kinds, nparams);
    msc_keep(&m->name, name);
    msc_keep(&m->callee, callee);
    return 1;
}
