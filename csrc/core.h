/*
 * core.h - the compiled backend of mapisync_ctypes: what its Python side (com/native_backend.py)
 * and its C parts agree on. Not a public header: hosts use include/mapisync.h.
 *
 * The parts, so that the hot paths never run Python bytecode:
 *   objects.c   object blocks, per-class IID tables and vtables, atomic reference counts,
 *               QueryInterface/AddRef/Release (they never take the GIL; Python is entered
 *               only when a count reaches zero, to drop the keep-alive), and parking: when
 *               Python goes away every vtable points at native stubs that answer E_UNEXPECTED;
 *   dispatch.c  trampolines, one per (vtable slot, argument words), driven by a per-vtable table
 *               of method descriptors: no C is generated per interface, and an interface
 *               declared at run time gets compiled dispatch too. A trampoline takes the GIL,
 *               decodes UTF-16 text, calls the Python method and maps what it returned or
 *               raised to an HRESULT;
 *   callers.c   Python builtins that call a native vtable slot with converted arguments,
 *               releasing the GIL around the call (the proxies' fast path);
 *   pyapi.c     the C API bound at run time, the GIL check, start-up, shared helpers;
 *   threadstate.c  a kept Python thread state for each native thread that calls in.
 *
 * Calling native methods with a uniform "pointer-sized words" signature relies on the x86 and
 * x86-64 conventions (cdecl, stdcall, System V, Windows x64): every integer or pointer argument
 * no wider than a pointer takes one register or stack slot, whatever its C type; 8-byte
 * integers take two words on 32-bit targets. Floating-point and structure arguments are never
 * routed here (com/boundary.py gives them no kind): ctypes carries them.
 *
 * Builds as C99 with gcc, clang, mingw-w64 and MSVC; no GCC-only construct outside an #ifdef.
 *
 * The core is a plain C library. It includes no Python header and links no Python library:
 * the Python C-API functions it uses are handed to it at start-up (msc_bind), so one build
 * serves every CPython 3.9+ on a CPU, and a mingw cross-compiler builds it for Windows.
 *
 * The GIL rule, by construction:
 *   - functions named msc_py_* touch Python objects: Python calls them through ctypes.PyDLL,
 *     which keeps the GIL (the Python side declares them in one place, by that prefix);
 *   - every other export is plain C and never touches Python: ctypes.CDLL may release the
 *     GIL around it;
 *   - vtable entry points (trampolines, Release to zero, "not live" reports) take the GIL
 *     themselves (msc_enter) before the first C-API call;
 *   - the proxies' call functions are Python builtins, so Python holds the GIL when it calls
 *     them; they release it around the native call.
 * With MAPISYNC_GIL_CHECK=1 every C-API call first asks PyGILState_Check(); a call without
 * the GIL is counted and reported (msc_gil_violations), so a test suite catches a regression
 * on any Python version, not only where it happens to crash.
 */
#ifndef MAPISYNC_CORE_H
#define MAPISYNC_CORE_H

#include "mapisync.h"
#include <stdint.h>

#if defined(_WIN32)
#  define MSC_API __declspec(dllexport)
#else
#  define MSC_API __attribute__((visibility("default")))
#endif

/* Parameter kinds: how one declared parameter crosses the boundary (com/boundary.py decides
 * the kind of each ctypes type; this is its C half). */
#define MSC_K_TEXT   0x01  /* const WCHAR *: str, or None for NULL */
#define MSC_K_HANDLE 0x02  /* pointer-sized, unsigned: int (NULL is 0) */
#define MSC_K_VOIDP  0x03  /* pointer-sized: int, or None for NULL */
#define MSC_K_PTR    0x04  /* pointer-sized, converted by a Python adapter (ctypes pointer, GUID) */
#define MSC_K_INT    0x10  /* | size in bytes (1, 2, 4, 8) | MSC_K_SIGNED */
#define MSC_K_SIGNED 0x20

#define MSC_MAX_WORDS 8    /* argument words after `this` a compiled trampoline or caller takes */
#define MSC_MAX_SLOTS 32   /* vtable slots a compiled trampoline serves */

/* One COM object: its header and one {lpVtbl, object} pair per interface. `this` for
 * interface i is &itf[i]; itf[0] is the IUnknown identity. */
typedef struct msc_object msc_object;
typedef struct { const void *lpVtbl; msc_object *object; } msc_slot;
typedef struct {
    uint32_t n_iids;
    uint8_t *iids;          /* 16 bytes each */
    uint32_t *slot_of_iid;  /* the itf[] index that answers each IID */
} msc_class;
struct msc_object {
    volatile int32_t refcount;
    uint32_t n_interfaces;
    void *owner;            /* the Python object (borrowed: the keep-alive holds it while refcount > 0) */
    const msc_class *cls;
    msc_slot itf[1];        /* n_interfaces of them */
};


/* ================================================================ inside the core (not the ABI) */
#ifdef MSC_CORE_INTERNAL
#include <stddef.h>

/* ---- platform */
#if defined(_MSC_VER)
#  define MSC_TLS __declspec(thread)
#else
#  define MSC_TLS __thread
#endif

#if defined(_MSC_VER)
static inline int32_t msc_atomic_add(volatile int32_t *v, int32_t d) { return InterlockedExchangeAdd((volatile LONG *)v, d) + d; }
static inline int msc_atomic_cas(volatile int32_t *v, int32_t old, int32_t new_)
{ return InterlockedCompareExchange((volatile LONG *)v, new_, old) == old; }
/* MSVC gives volatile reads acquire semantics on x86 and x64: a plain load, no locked instruction */
static inline int32_t msc_atomic_load(volatile int32_t *v) { return *v; }
#else  /* gcc, clang, mingw-w64: the same builtins everywhere (a SEQ_CST load is a plain mov on x86) */
static inline int32_t msc_atomic_add(volatile int32_t *v, int32_t d) { return __atomic_add_fetch(v, d, __ATOMIC_SEQ_CST); }
static inline int msc_atomic_cas(volatile int32_t *v, int32_t old, int32_t new_)
{ return __atomic_compare_exchange_n(v, &old, new_, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }
static inline int32_t msc_atomic_load(volatile int32_t *v) { return __atomic_load_n(v, __ATOMIC_SEQ_CST); }
#endif

/* ---- the Python C API, bound at run time (pyapi.c) */
typedef struct msc_pyobject PyObject;  /* opaque: the only layout read is ob_type (msc_type) */
typedef ptrdiff_t Py_ssize_t;
typedef void (*msc_fn)(void);  /* any function pointer, converted back before a call */
typedef struct { const char *ml_name; msc_fn ml_meth; int ml_flags; const char *ml_doc; } msc_method_def;
#define MSC_METH_FASTCALL 0x0080
#define MSC_UNICODE_2BYTE_KIND 2  /* PyUnicode_2BYTE_KIND */
#define MSC_VECTORCALL_OFFSET ((size_t)1 << (8 * sizeof(size_t) - 1))  /* PY_VECTORCALL_ARGUMENTS_OFFSET */

/* Every function the core calls, in the order msc_api_name() lists them. The first eight
 * manage the GIL and thread states themselves and may be called without the GIL. */
#define MSC_API_FUNCTIONS(X) \
    X(int, PyGILState_Ensure, (void)) \
    X(void, PyGILState_Release, (int)) \
    X(int, PyGILState_Check, (void)) \
    X(void *, PyGILState_GetThisThreadState, (void)) \
    X(void *, PyEval_SaveThread, (void)) \
    X(void, PyEval_RestoreThread, (void *)) \
    X(void, PyThreadState_Clear, (void *)) \
    X(void, PyThreadState_DeleteCurrent, (void)) \
    X(void, Py_IncRef, (PyObject *)) \
    X(void, Py_DecRef, (PyObject *)) \
    X(PyObject *, PyUnicode_DecodeUTF16, (const char *, Py_ssize_t, const char *, int *)) \
    X(PyObject *, PyUnicode_FromKindAndData, (int, const void *, Py_ssize_t)) \
    X(Py_ssize_t, PyUnicode_GetLength, (PyObject *)) \
    X(uint32_t *, PyUnicode_AsUCS4, (PyObject *, uint32_t *, Py_ssize_t, int)) \
    X(unsigned long, PyType_GetFlags, (PyObject *)) \
    X(PyObject *, PyLong_FromLongLong, (long long)) \
    X(PyObject *, PyLong_FromUnsignedLongLong, (unsigned long long)) \
    X(long long, PyLong_AsLongLong, (PyObject *)) \
    X(unsigned long long, PyLong_AsUnsignedLongLong, (PyObject *)) \
    X(PyObject *, PyObject_VectorcallDict, (PyObject *, PyObject *const *, size_t, PyObject *)) \
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
struct msc_api { MSC_API_FUNCTIONS(MSC_API_FIELD) };
extern struct msc_api api;

/* The GIL check (MAPISYNC_GIL_CHECK=1): every C-API call goes through PY(). */
extern int msc_gil_checking;
void msc_gil_violation(const char *function);
#define MSC_GIL_CHECK(what) (msc_gil_checking && !api.PyGILState_Check() ? msc_gil_violation(what) : (void)0)
#define PY(fn) (MSC_GIL_CHECK(#fn), api.fn)

/* What the Python side hands over at start-up (msc_py_init), all owned references. */
struct msc_py {
    PyObject *none, *int_type, *str_type, *type_error;
    size_t type_offset;      /* offsetof(PyObject, ob_type): the stable ABI's layout, checked by Python */
    PyObject *failure;       /* failure(exc, obj, name) -> HRESULT: logs, maps the exception */
    PyObject *bad_return;    /* bad_return(value, obj, name) -> HRESULT */
    PyObject *not_live;      /* not_live(object address, name or None for Release) -> HRESULT */
    PyObject *last_release;  /* last_release(object address): the count reached zero */
    PyObject *name_qi, *name_addref;
    int utf16_order;         /* -1 little-endian, 1 big-endian, for PyUnicode_DecodeUTF16 */
};
extern struct msc_py py;

extern volatile int32_t msc_alive;     /* 1 between msc_py_init and msc_park */
extern volatile int32_t msc_inflight;  /* trampoline calls between their alive check and their end */

/* ---- entering Python from a native thread (threadstate.c)
 * PyGILState_Ensure on a thread Python never saw creates a thread state, and the matching
 * Release destroys it again: some 13 us a call, 30 times the call itself. So the first call
 * from such a thread keeps a state for it (one Ensure never released), and every call after
 * that costs what a call from a Python thread costs. When the thread ends, a destructor (the C
 * library's thread_local hook or a pthread key; a fiber-local slot on Windows) gives the state
 * back while Python is alive;
 * after the park it is the interpreter's to free, and the thread never touches it again. */
#if defined(_WIN32)
extern DWORD msc_tls;
#  define msc_tls_get() FlsGetValue(msc_tls)
#else
#  include <pthread.h>
extern pthread_key_t msc_tls;
#  define msc_tls_get() pthread_getspecific(msc_tls)
#endif
void msc_keep_thread(void);     /* without the GIL: the first call from a thread Python has no state for */
int msc_threads_init(void);     /* msc_bind: the slot and its destructor; 0 if unavailable */

typedef struct { int gil; } msc_gil;
static inline void msc_enter(msc_gil *g)
{
    /* Python's own slot says whether this thread has a state (kept, or a Python thread's): a
     * plain TLS read, where ours is fiber-local on Windows and slower */
    if (!api.PyGILState_GetThisThreadState()) msc_keep_thread();
    g->gil = api.PyGILState_Ensure();
}
static inline void msc_leave(msc_gil *g) { api.PyGILState_Release(g->gil); }

/* ---- helpers, with the GIL held (pyapi.c) */
void msc_keep(PyObject **slot, PyObject *value);
int msc_is(PyObject *o, PyObject *type);
int msc_is_str(PyObject *o);
PyObject *msc_new_ref(PyObject *o);
PyObject *msc_text(const uint16_t *t);
int32_t msc_as_hresult(PyObject *r, int32_t fallback);
int32_t msc_failed(PyObject *obj, PyObject *name);
int32_t msc_result(PyObject *r, PyObject *obj, PyObject *name);
int32_t msc_report_not_live(msc_object *o, PyObject *name);
void msc_not_live_from_native(msc_object *o, PyObject *name);  /* without the GIL: takes it */

/* ---- vtables (objects.c): a vtable is preceded by its header */
typedef struct {
    uint8_t nparams, nwords;
    uint8_t kinds[MSC_MAX_WORDS];
    PyObject *name;     /* the method's name, for messages */
    PyObject *callee;   /* the class's function, or an adapter that converts first: callee(obj, *args) */
    /* each integer parameter's last value, and its int once it came twice in a row: hosts
     * repeat some (the count in Progress(text, i, count)), and an int is immutable, so a
     * repeat shares it. Guarded by the GIL (the core never runs on a free-threaded build). */
    PyObject *last_int[MSC_MAX_WORDS];
    unsigned long long last_value[MSC_MAX_WORDS];
} msc_method;

typedef struct msc_vtable_header {
    struct msc_vtable_header *next;  /* every vtable, for msc_park */
    uint32_t nslots;
    msc_method *methods;             /* nslots entries: what a trampoline in that slot serves */
    uint8_t *words;                  /* argument words of each slot, for the parking stubs */
    void *slots[1];                  /* what lpVtbl points at */
} msc_vtable_header;

msc_vtable_header *msc_header_of(const void *vtbl);
int msc_words_of(uint8_t kind);  /* 2 for an 8-byte integer on a 32-bit target, else 1 */
void *msc_fn_address(msc_fn fn);

#endif /* MSC_CORE_INTERNAL */

#endif /* MAPISYNC_CORE_H */
