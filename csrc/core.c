/*
 * core.c - the compiled backend: Python objects as COM objects, and calls into native ones.
 *
 * What lives here, so that the hot paths never run Python bytecode:
 *   - object blocks, per-class IID tables and vtables, atomic reference counts,
 *     QueryInterface/AddRef/Release (they never take the GIL; Python is entered only when a
 *     count reaches zero, to drop the keep-alive);
 *   - trampolines: one per (vtable slot, argument words), driven by a per-vtable table of
 *     method descriptors, so no C is generated per interface and an interface declared at
 *     run time gets compiled dispatch too. A trampoline takes the GIL, decodes UTF-16 text,
 *     calls the Python method and turns what it returned or raised into an HRESULT;
 *   - callers: Python builtins that call a native vtable slot with converted arguments,
 *     releasing the GIL around the call (the proxies' fast path);
 *   - parking: when Python goes away, every vtable is pointed at native stubs that return
 *     E_UNEXPECTED (AddRef/Release 0) without entering Python, and calls still in flight are
 *     counted so the exit can wait for them.
 *
 * Calling native methods with a uniform "pointer-sized words" signature relies on the
 * x86/x86-64 conventions (cdecl, stdcall, System V, Windows x64): every integer or pointer
 * argument no wider than a pointer takes one register or stack slot, whatever its C type.
 * 8-byte integers take two words on 32-bit targets. Floating-point and struct arguments are
 * never routed here (com/boundary.py gives them no kind); they use ctypes.
 *
 * Builds as C99 with gcc, clang, mingw-w64 and MSVC; no GCC-only construct outside an #ifdef.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif
#include "core.h"
#include "mapisync_python.h"  /* MapiSyncDeadStubs: the stubs a parked vtable points at */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- platform */
#if defined(_MSC_VER)
#  define MSC_TLS __declspec(thread)
#else
#  define MSC_TLS __thread
#endif

#ifdef _WIN32
static int32_t msc_atomic_add(volatile int32_t *v, int32_t d) { return InterlockedExchangeAdd((volatile LONG *)v, d) + d; }
static int msc_atomic_cas(volatile int32_t *v, int32_t old, int32_t new_)
{ return InterlockedCompareExchange((volatile LONG *)v, new_, old) == old; }
static int32_t msc_atomic_load(volatile int32_t *v) { return InterlockedCompareExchange((volatile LONG *)v, 0, 0); }
#else
static int32_t msc_atomic_add(volatile int32_t *v, int32_t d) { return __atomic_add_fetch(v, d, __ATOMIC_SEQ_CST); }
static int msc_atomic_cas(volatile int32_t *v, int32_t old, int32_t new_)
{ return __atomic_compare_exchange_n(v, &old, new_, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }
static int32_t msc_atomic_load(volatile int32_t *v) { return __atomic_load_n(v, __ATOMIC_SEQ_CST); }
#endif

/* ---------------------------------------------------------------- the Python C API, bound at run time */
typedef struct msc_pyobject PyObject;  /* opaque: nothing here reads an object's layout */
typedef ptrdiff_t Py_ssize_t;
typedef void (*msc_fn)(void);  /* any function pointer, converted back before a call */
typedef struct { const char *ml_name; msc_fn ml_meth; int ml_flags; const char *ml_doc; } msc_method_def;
#define MSC_METH_FASTCALL 0x0080

/* Every function the core calls, in the order msc_api_names() lists them. The first six
 * manage the GIL itself and may be called without it. */
#define MSC_API_FUNCTIONS(X) \
    X(int, PyGILState_Ensure, (void)) \
    X(void, PyGILState_Release, (int)) \
    X(int, PyGILState_Check, (void)) \
    X(void *, PyGILState_GetThisThreadState, (void)) \
    X(void *, PyEval_SaveThread, (void)) \
    X(void, PyEval_RestoreThread, (void *)) \
    X(void, Py_IncRef, (PyObject *)) \
    X(void, Py_DecRef, (PyObject *)) \
    X(PyObject *, PyUnicode_DecodeUTF16, (const char *, Py_ssize_t, const char *, int *)) \
    X(Py_ssize_t, PyUnicode_GetLength, (PyObject *)) \
    X(uint32_t *, PyUnicode_AsUCS4, (PyObject *, uint32_t *, Py_ssize_t, int)) \
    X(unsigned long, PyType_GetFlags, (PyObject *)) \
    X(PyObject *, PyLong_FromLongLong, (long long)) \
    X(PyObject *, PyLong_FromUnsignedLongLong, (unsigned long long)) \
    X(long long, PyLong_AsLongLong, (PyObject *)) \
    X(unsigned long long, PyLong_AsUnsignedLongLong, (PyObject *)) \
    X(PyObject *, PyObject_CallMethodObjArgs, (PyObject *, PyObject *, ...)) \
    X(PyObject *, PyObject_CallFunctionObjArgs, (PyObject *, ...)) \
    X(PyObject *, PyErr_Occurred, (void)) \
    X(void, PyErr_Fetch, (PyObject **, PyObject **, PyObject **)) \
    X(void, PyErr_NormalizeException, (PyObject **, PyObject **, PyObject **)) \
    X(void, PyErr_Clear, (void)) \
    X(void, PyErr_SetString, (PyObject *, const char *)) \
    X(int, PyException_SetTraceback, (PyObject *, PyObject *)) \
    X(PyObject *, PyCFunction_NewEx, (msc_method_def *, PyObject *, PyObject *)) \
    X(PyObject *, PyCapsule_New, (void *, const char *, void (*)(PyObject *))) \
    X(void *, PyCapsule_GetPointer, (PyObject *, const char *))

#define MSC_API_FIELD(ret, name, args) ret (*name) args;
static struct { MSC_API_FUNCTIONS(MSC_API_FIELD) } api;
#define MSC_API_NAME(ret, name, args) #name,
static const char *const msc_api_name_list[] = { MSC_API_FUNCTIONS(MSC_API_NAME) };
#define MSC_API_COUNT ((int)(sizeof msc_api_name_list / sizeof msc_api_name_list[0]))

/* ---- the GIL check (MAPISYNC_GIL_CHECK=1): every C-API call below goes through PY() */
static int msc_gil_checking;
static volatile int32_t msc_gil_violation_count;
static const char *volatile msc_gil_first_violation;

static void msc_gil_violation(const char *function)
{
    if (msc_atomic_add(&msc_gil_violation_count, 1) == 1) {
        msc_gil_first_violation = function;
        fprintf(stderr, "mapisync_ctypes: %s called without the GIL (MAPISYNC_GIL_CHECK)\n", function);
        fflush(stderr);
    }
}
#define MSC_GIL_CHECK(what) (msc_gil_checking && !api.PyGILState_Check() ? msc_gil_violation(what) : (void)0)
#define PY(fn) (MSC_GIL_CHECK(#fn), api.fn)

/* ---- what the Python side hands over at start-up (msc_py_init), all owned references */
static struct {
    PyObject *none, *int_type, *str_type, *type_error;
    size_t type_offset;      /* offsetof(PyObject, ob_type): the stable ABI's layout, checked by Python */
    PyObject *failure;       /* failure(exc, obj, name) -> HRESULT: logs, maps the exception */
    PyObject *bad_return;    /* bad_return(value, obj, name) -> HRESULT */
    PyObject *not_live;      /* not_live(object address, name or None for Release) -> HRESULT */
    PyObject *last_release;  /* last_release(object address): the count reached zero */
    PyObject *name_qi, *name_addref;
    int utf16_order;         /* -1 little-endian, 1 big-endian, for PyUnicode_DecodeUTF16 */
} py;

static volatile int32_t msc_alive;     /* 1 between msc_py_init and msc_park */
static volatile int32_t msc_inflight;  /* trampoline calls between their alive check and their end */
static MSC_TLS int32_t msc_depth;      /* of those, on this thread */

/* ---------------------------------------------------------------- entering Python from a native thread */
typedef struct { int gil; } msc_gil;

static void msc_enter(msc_gil *g) { g->gil = api.PyGILState_Ensure(); }
static void msc_leave(msc_gil *g) { api.PyGILState_Release(g->gil); }

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
    return 1;
}

static void msc_keep(PyObject **slot, PyObject *value)
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

static int msc_is(PyObject *o, PyObject *type) { return msc_type(o) == type; }

#define MSC_TPFLAGS_UNICODE_SUBCLASS (1UL << 28)
static int msc_is_str(PyObject *o)
{
    PyObject *t = msc_type(o);
    return t == py.str_type || (PY(PyType_GetFlags)(t) & MSC_TPFLAGS_UNICODE_SUBCLASS) != 0;
}

static size_t msc_u16len(const uint16_t *s) { size_t n = 0; while (s[n]) n++; return n; }

static PyObject *msc_new_ref(PyObject *o) { PY(Py_IncRef)(o); return o; }

static PyObject *msc_text(const uint16_t *t)
{
    if (!t) return msc_new_ref(py.none);
    return PY(PyUnicode_DecodeUTF16)((const char *)t, (Py_ssize_t)(2 * msc_u16len(t)), "surrogatepass",
                                     &py.utf16_order);
}

/* A call's return value -> HRESULT; consumes r. */
static int32_t msc_as_hresult(PyObject *r, int32_t fallback)
{
    long long v;
    if (!r) { PY(PyErr_Clear)(); return fallback; }
    v = msc_is(r, py.int_type) ? PY(PyLong_AsLongLong)(r) : (long long)fallback;
    if (PY(PyErr_Occurred)()) { PY(PyErr_Clear)(); v = fallback; }
    PY(Py_DecRef)(r);
    return (int32_t)(uint32_t)(unsigned long long)v;
}

/* The pending exception -> failure(exc, obj, name): logged with its traceback, mapped to an HRESULT. */
static int32_t msc_failed(PyObject *obj, PyObject *name)
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
static int32_t msc_result(PyObject *r, PyObject *obj, PyObject *name)
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
static int32_t msc_report_not_live(msc_object *o, PyObject *name)
{
    PyObject *key = PY(PyLong_FromUnsignedLongLong)((unsigned long long)(uintptr_t)o);
    int32_t hr = msc_as_hresult(key ? PY(PyObject_CallFunctionObjArgs)(py.not_live, key, name, NULL) : NULL,
                                E_UNEXPECTED);
    if (key) PY(Py_DecRef)(key);
    return hr;
}

/* From IUnknown (no GIL held): report a call on a dead object, if Python is still there. */
static void msc_not_live_from_native(msc_object *o, PyObject *name)
{
    msc_gil g;
    if (!msc_atomic_load(&msc_alive)) return;
    msc_enter(&g);
    if (msc_atomic_load(&msc_alive)) msc_report_not_live(o, name ? name : py.none);
    msc_leave(&g);
}

/* ---------------------------------------------------------------- classes, vtables and objects (plain C) */

/* A vtable is preceded by its header; `methods` describes each slot served by a trampoline. */
typedef struct {
    uint8_t nparams, nwords;
    uint8_t kinds[MSC_MAX_WORDS];
    PyObject *name;     /* the Python method's name (interned) */
    PyObject *adapter;  /* NULL: call obj.<name>(*args); else adapter(obj, *args) converts first */
} msc_method;

typedef struct msc_vtable_header {
    struct msc_vtable_header *next;  /* every vtable, for msc_park */
    uint32_t nslots;
    msc_method *methods;             /* nslots entries */
    uint8_t *words;                  /* argument words of each slot, for the parking stubs */
    void *slots[1];                  /* what lpVtbl points at */
} msc_vtable_header;

static msc_vtable_header *volatile msc_vtables;  /* pushed under the Python side's lock */

static msc_vtable_header *msc_header_of(const void *vtbl)
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

static ULONG STDMETHODCALLTYPE msc_AddRef(msc_slot *This)
{
    msc_object *o = This->object;
    int32_t old;
    do {
        old = msc_atomic_load(&o->refcount);
        if (old <= 0) { msc_not_live_from_native(o, py.name_addref); return 0; }
    } while (!msc_atomic_cas(&o->refcount, old, old + 1));
    return (ULONG)(old + 1);
}

static ULONG STDMETHODCALLTYPE msc_Release(msc_slot *This)
{
    msc_object *o = This->object;
    int32_t old;
    do {
        old = msc_atomic_load(&o->refcount);
        if (old <= 0) { msc_not_live_from_native(o, NULL); return 0; }
    } while (!msc_atomic_cas(&o->refcount, old, old - 1));
    if (old == 1 && msc_atomic_load(&msc_alive)) {  /* only now does Python run: drop the keep-alive */
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
    return (ULONG)(old - 1);
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

/* ---------------------------------------------------------------- dispatch: native -> Python */
static int msc_words_of(uint8_t kind)
{
    return (kind & MSC_K_INT) && (kind & 0x0F) == 8 && sizeof(void *) == 4 ? 2 : 1;
}

/* One argument word (or two) -> a new reference, as the Python method receives it. */
static PyObject *msc_from_native(uint8_t kind, const uintptr_t *w)
{
    if (kind == MSC_K_TEXT) return msc_text((const uint16_t *)w[0]);
    if (kind == MSC_K_HANDLE) return PY(PyLong_FromUnsignedLongLong)((unsigned long long)w[0]);
    if (kind == MSC_K_VOIDP || kind == MSC_K_PTR)
        return w[0] ? PY(PyLong_FromUnsignedLongLong)((unsigned long long)w[0]) : msc_new_ref(py.none);
    {
        int size = kind & 0x0F;
        unsigned long long v = (unsigned long long)w[0];
        if (size == 8 && sizeof(void *) == 4) v |= (unsigned long long)w[1] << 32;  /* low word first */
        if (size < 8) v &= (1ULL << (8 * size)) - 1;
        if (kind & MSC_K_SIGNED) {
            long long s = size < 8 && (v >> (8 * size - 1)) ? (long long)(v | ~((1ULL << (8 * size)) - 1))
                                                             : (long long)v;
            return PY(PyLong_FromLongLong)(s);
        }
        return PY(PyLong_FromUnsignedLongLong)(v);
    }
}

static PyObject *msc_call_n(PyObject *callee, PyObject *name, PyObject *obj, PyObject **x, int n)
{
    /* obj.<name>(*x) when name is given, else callee(obj, *x); n <= MSC_MAX_WORDS */
    if (name) {
        switch (n) {
        case 0: return PY(PyObject_CallMethodObjArgs)(obj, name, NULL);
        case 1: return PY(PyObject_CallMethodObjArgs)(obj, name, x[0], NULL);
        case 2: return PY(PyObject_CallMethodObjArgs)(obj, name, x[0], x[1], NULL);
        case 3: return PY(PyObject_CallMethodObjArgs)(obj, name, x[0], x[1], x[2], NULL);
        case 4: return PY(PyObject_CallMethodObjArgs)(obj, name, x[0], x[1], x[2], x[3], NULL);
        case 5: return PY(PyObject_CallMethodObjArgs)(obj, name, x[0], x[1], x[2], x[3], x[4], NULL);
        case 6: return PY(PyObject_CallMethodObjArgs)(obj, name, x[0], x[1], x[2], x[3], x[4], x[5], NULL);
        case 7: return PY(PyObject_CallMethodObjArgs)(obj, name, x[0], x[1], x[2], x[3], x[4], x[5], x[6], NULL);
        default: return PY(PyObject_CallMethodObjArgs)(obj, name, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7],
                                                       NULL);
        }
    }
    switch (n) {
    case 0: return PY(PyObject_CallFunctionObjArgs)(callee, obj, NULL);
    case 1: return PY(PyObject_CallFunctionObjArgs)(callee, obj, x[0], NULL);
    case 2: return PY(PyObject_CallFunctionObjArgs)(callee, obj, x[0], x[1], NULL);
    case 3: return PY(PyObject_CallFunctionObjArgs)(callee, obj, x[0], x[1], x[2], NULL);
    case 4: return PY(PyObject_CallFunctionObjArgs)(callee, obj, x[0], x[1], x[2], x[3], NULL);
    case 5: return PY(PyObject_CallFunctionObjArgs)(callee, obj, x[0], x[1], x[2], x[3], x[4], NULL);
    case 6: return PY(PyObject_CallFunctionObjArgs)(callee, obj, x[0], x[1], x[2], x[3], x[4], x[5], NULL);
    case 7: return PY(PyObject_CallFunctionObjArgs)(callee, obj, x[0], x[1], x[2], x[3], x[4], x[5], x[6], NULL);
    default: return PY(PyObject_CallFunctionObjArgs)(callee, obj, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7],
                                                     NULL);
    }
}

/* Every trampoline ends here: `w` holds the words after `this`. */
static HRESULT msc_dispatch(msc_slot *This, unsigned slot, const uintptr_t *w)
{
    msc_object *o = This->object;
    const msc_method *m = &msc_header_of(This->lpVtbl)->methods[slot];
    PyObject *obj, *x[MSC_MAX_WORDS];
    msc_gil g;
    HRESULT hr;
    int i, word = 0, made = 0;
    msc_atomic_add(&msc_inflight, 1);
    msc_depth++;
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
            if (!(x[i] = msc_from_native(m->kinds[i], w + word))) break;
            made++;
            word += msc_words_of(m->kinds[i]);
        }
        if (made < m->nparams) hr = msc_failed(obj, m->name);
        else hr = msc_result(msc_call_n(m->adapter, m->adapter ? NULL : m->name, obj, x, m->nparams), obj, m->name);
        for (i = 0; i < made; i++) PY(Py_DecRef)(x[i]);
        PY(Py_DecRef)(obj);
    }
    msc_leave(&g);
out:
    msc_depth--;
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

static void *msc_fn_address(msc_fn fn)
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
                              PyObject *name, PyObject *adapter)
{
    msc_vtable_header *h = msc_header_of(vtbl);
    msc_method *m;
    uint32_t i, words = 0;
    if (slot >= h->nslots || nparams > MSC_MAX_WORDS) return 0;
    for (i = 0; i < nparams; i++) words += (uint32_t)msc_words_of(kinds[i]);
    if (words > MSC_MAX_WORDS) return 0;
    m = &h->methods[slot];
    m->nparams = (uint8_t)nparams;
    m->nwords = (uint8_t)words;
    memcpy(m->kinds, kinds, nparams);
    msc_keep(&m->name, name);
    if (adapter != py.none) msc_keep(&m->adapter, adapter);
    return 1;
}

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

/* Plain C: trampoline calls still in flight on other threads than this one. */
MSC_API int msc_inflight_others(void)
{
    return msc_atomic_load(&msc_inflight) - msc_depth;
}

MSC_API int msc_alive_now(void) { return msc_atomic_load(&msc_alive); }
