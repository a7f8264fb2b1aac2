/*
 * objects.c - classes, vtables and object blocks, atomic reference counts, IUnknown,
 * and parking everything when Python goes away. Plain C, except where a count reaches zero.
 * Part of the compiled backend; csrc/core.h says how the parts fit and what the GIL rule is.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif
#define MSC_CORE_INTERNAL 1
#include "core.h"
#include "mapisync_python.h"  /* MapiSyncDeadStubs: the stubs a parked vtable points at */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- classes, vtables and objects (plain C) */

static msc_vtable_header *volatile msc_vtables;  /* pushed under the Python side's lock */

msc_vtable_header *msc_header_of(const void *vtbl)
{
    return (msc_vtable_header *)((char *)vtbl - offsetof(msc_vtable_header, slots));
}

MSC_API msc_class *msc_class_new(uint32_t n_iids)
{
    msc_class *c = (msc_class *)calloc(1, sizeof *c);
    if (!c) return NULL;
    c->n_iids = n_iids;
    c->iids = (uint8_t *)calloc(n_iids ? n_iids : 1, 16);
    c->slot_of_iid = (uint32_t *)calloc(n_iids ? n_iids : 1, sizeof(uint32_t));
    if (!c->iids || !c->slot_of_iid) { free(c->iids); free(c->slot_of_iid); free(c); return NULL; }
    return c;
}

/* A vtable of nslots NULL slots, kept for the process's life (native code may hold it). */
MSC_API void **msc_vtable_new(uint32_t nslots)
{
    msc_vtable_header *h = (msc_vtable_header *)calloc(1, sizeof *h + nslots * sizeof(void *));
    if (!h) return NULL;
    h->nslots = nslots;
    h->methods = (msc_method *)calloc(nslots ? nslots : 1, sizeof(msc_method));
    h->words = (uint8_t *)calloc(nslots ? nslots : 1, 1);
    if (!h->methods || !h->words) { free(h->methods); free(h->words); free(h); return NULL; }
    h->next = msc_vtables;
    msc_vtables = h;
    return h->slots;
}

/* Plain C: fill one slot; `words` is what a stdcall callee there pops (0xFF: wider than any stub). */
MSC_API void msc_vtable_set(void **vtbl, uint32_t slot, void *fn, uint32_t words)
{
    msc_vtable_header *h = msc_header_of(vtbl);
    if (slot >= h->nslots) return;
    h->words[slot] = (uint8_t)(words > 0xFF ? 0xFF : words);
    vtbl[slot] = fn;
}

MSC_API size_t msc_object_size(uint32_t n_interfaces)
{
    return offsetof(msc_object, itf) + n_interfaces * sizeof(msc_slot);
}

MSC_API msc_object *msc_object_new(uint32_t n, const msc_class *cls, void *owner, void *const *vtables)
{
    msc_object *o = (msc_object *)calloc(1, msc_object_size(n ? n : 1));
    uint32_t i;
    if (!o) return NULL;
    o->n_interfaces = n;
    o->owner = owner;
    o->cls = cls;
    for (i = 0; i < n; i++) { o->itf[i].lpVtbl = vtables[i]; o->itf[i].object = o; }
    return o;
}

MSC_API void msc_object_free(msc_object *o) { free(o); }

/* A reference taken from Python (com_pointer): the only way from 0 to 1. */
MSC_API int32_t msc_addref_from_python(msc_object *o) { return msc_atomic_add(&o->refcount, 1); }

MSC_API int32_t msc_refcount(msc_object *o) { return msc_atomic_load(&o->refcount); }

/* For thunks of methods served by ctypes: the object behind `this`, if its count is above zero. */
MSC_API msc_object *msc_object_of(const msc_slot *this_)
{
    msc_object *o = this_ ? this_->object : NULL;
    return o && msc_atomic_load(&o->refcount) > 0 ? o : NULL;
}

/* ---------------------------------------------------------------- IUnknown */
static HRESULT STDMETHODCALLTYPE msc_QueryInterface(msc_slot *This, const IID *riid, void **ppv)
{
    msc_object *o;
    uint32_t i;
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!msc_atomic_load(&msc_alive)) return E_UNEXPECTED;
    if (!riid) return E_INVALIDARG;
    o = This->object;
    for (i = 0; i < o->cls->n_iids; i++) {
        if (memcmp(riid, o->cls->iids + 16 * i, 16) == 0) {
            int32_t old;
            do {
                old = msc_atomic_load(&o->refcount);
                if (old <= 0) { msc_not_live_from_native(o, py.name_qi); return E_UNEXPECTED; }
            } while (!msc_atomic_cas(&o->refcount, old, old + 1));
            *ppv = &o->itf[o->cls->slot_of_iid[i]];
            return S_OK;
        }
    }
    if (msc_atomic_load(&o->refcount) <= 0) { msc_not_live_from_native(o, py.name_qi); return E_UNEXPECTED; }
    return E_NOINTERFACE;
}

/* AddRef and Release are one atomic add each. A count that was not above zero means a host
 * used the object after its final Release: the add is undone and the misuse reported. (Under
 * such misuse from several threads at once the count may be above zero for a moment; correct
 * hosts never see it, and QueryInterface, which may revive nothing, keeps its CAS loop.) */
static ULONG STDMETHODCALLTYPE msc_AddRef(msc_slot *This)
{
    msc_object *o = This->object;
    int32_t count = msc_atomic_add(&o->refcount, 1);
    if (count <= 1) {
        msc_atomic_add(&o->refcount, -1);
        msc_not_live_from_native(o, py.name_addref);
        return 0;
    }
    return (ULONG)count;
}

static ULONG STDMETHODCALLTYPE msc_Release(msc_slot *This)
{
    msc_object *o = This->object;
    int32_t count = msc_atomic_add(&o->refcount, -1);
    if (count < 0) {
        msc_atomic_add(&o->refcount, 1);
        msc_not_live_from_native(o, NULL);
        return 0;
    }
    if (count == 0 && msc_atomic_load(&msc_alive)) {  /* only now does Python run: drop the keep-alive */
        msc_gil g;
        msc_enter(&g);
        if (msc_atomic_load(&msc_alive)) {
            PyObject *key = PY(PyLong_FromUnsignedLongLong)((unsigned long long)(uintptr_t)o);
            PyObject *r = key ? PY(PyObject_CallFunctionObjArgs)(py.last_release, key, NULL) : NULL;
            if (r) PY(Py_DecRef)(r); else PY(PyErr_Clear)();
            if (key) PY(Py_DecRef)(key);
        }
        msc_leave(&g);
    }
    return (ULONG)count;
}

/* Plain C: [QueryInterface, AddRef, Release] for the Python side's vtables. */
MSC_API void *msc_iunknown(int which)
{
    typedef void (*any_fn)(void);
    any_fn fns[3];
    void *p = NULL;
    fns[0] = (any_fn)msc_QueryInterface;
    fns[1] = (any_fn)msc_AddRef;
    fns[2] = (any_fn)msc_Release;
    if (which >= 0 && which < 3) memcpy(&p, &fns[which], sizeof p);
    return p;
}

/* ---------------------------------------------------------------- parking: Python is going away */
/* Plain C: nothing enters Python again. Every vtable now points at native stubs: calls
 * return E_UNEXPECTED, AddRef/Release 0. Objects and vtables are never freed. */
MSC_API void msc_park(void)
{
    void *stubs[16];
    int n = MapiSyncDeadStubs(stubs, 16);
    msc_vtable_header *h;
    uint32_t i;
    msc_atomic_cas(&msc_alive, 1, 0);
    for (h = msc_vtables; h; h = h->next) {
        for (i = 0; i < h->nslots; i++) {
            int stub = i == 0 ? 0 : i <= 2 ? 1 : 2 + h->words[i];
            if (stub < n) h->slots[i] = stubs[stub];  /* a wider method keeps its slot: it checks msc_alive */
        }
    }
}

/* Plain C: trampoline calls in flight (the exit waits a moment for them; one on the thread
 * that exits, a sys.exit() inside a COM method, just costs it that moment). */
MSC_API int msc_calls_in_flight(void)
{
    return msc_atomic_load(&msc_inflight);
}

MSC_API int msc_alive_now(void) { return msc_atomic_load(&msc_alive); }
