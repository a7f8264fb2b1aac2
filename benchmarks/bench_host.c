/* C loops for benchmarks/dispatch.py: each returns the elapsed nanoseconds for n calls. */
#include "mapisync.h"
#include <stdint.h>
#ifdef _WIN32
#  define EXPORT __declspec(dllexport)
static int64_t now_ns(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (int64_t)((double)c.QuadPart * 1e9 / (double)f.QuadPart);
}
#else
#  include <time.h>
#  define EXPORT __attribute__((visibility("default")))
static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
#endif

static const WCHAR text[] = {'S', 'y', 'n', 'c', 'i', 'n', 'g', ' ', 'I', 'n', 'b', 'o', 'x', 0};

typedef HRESULT (STDMETHODCALLTYPE *progress_fn)(void *This, const WCHAR *text, ULONG i, ULONG n);

/* Progress through the object's vtable. */
EXPORT int64_t bench_progress(IMAPISyncProgressCallback *cb, ULONG n)
{
    int64_t t0 = now_ns();
    ULONG i;
    for (i = 0; i < n; i++) cb->lpVtbl->Progress(cb, text, i, n);
    return now_ns() - t0;
}

/* The same prototype through a bare function pointer (a raw ctypes/cffi trampoline). */
EXPORT int64_t bench_raw(progress_fn fn, ULONG n)
{
    int64_t t0 = now_ns();
    ULONG i;
    for (i = 0; i < n; i++) fn(NULL, text, i, n);
    return now_ns() - t0;
}

EXPORT int64_t bench_addref_release(IUnknown *obj, ULONG n)
{
    int64_t t0 = now_ns();
    ULONG i;
    for (i = 0; i < n; i++) {
        obj->lpVtbl->AddRef(obj);
        obj->lpVtbl->Release(obj);
    }
    return now_ns() - t0;
}

/* A plain C object: the floor for vtable calls and AddRef/Release. */
typedef struct { IMAPISyncProgressCallback itf; volatile long refs; } CObject;

static HRESULT STDMETHODCALLTYPE c_qi(IMAPISyncProgressCallback *This, REFIID riid, void **ppv)
{
    (void)riid;
    *ppv = This;
    return S_OK;
}
static ULONG STDMETHODCALLTYPE c_addref(IMAPISyncProgressCallback *This)
{
#ifdef _WIN32
    return (ULONG)InterlockedIncrement(&((CObject *)This)->refs);
#else
    return (ULONG)__atomic_add_fetch(&((CObject *)This)->refs, 1, __ATOMIC_SEQ_CST);
#endif
}
static ULONG STDMETHODCALLTYPE c_release(IMAPISyncProgressCallback *This)
{
#ifdef _WIN32
    return (ULONG)InterlockedDecrement(&((CObject *)This)->refs);
#else
    return (ULONG)__atomic_sub_fetch(&((CObject *)This)->refs, 1, __ATOMIC_SEQ_CST);
#endif
}
static HRESULT STDMETHODCALLTYPE c_progress(IMAPISyncProgressCallback *This, const WCHAR *t, ULONG i, ULONG n)
{
    (void)This; (void)t;
    return i < n ? S_OK : S_FALSE;
}
static HRESULT STDMETHODCALLTYPE c_error(IMAPISyncProgressCallback *This, HRESULT hr, const WCHAR *t)
{
    (void)This; (void)t;
    return hr;
}
static HRESULT STDMETHODCALLTYPE c_done(IMAPISyncProgressCallback *This, HANDLE h, HRESULT hr)
{
    (void)This; (void)h;
    return hr;
}
static const IMAPISyncProgressCallbackVtbl c_vtbl = {c_qi, c_addref, c_release, c_progress, c_error, c_done};
static CObject c_object = {{&c_vtbl}, 1};

EXPORT IMAPISyncProgressCallback *bench_c_object(void)
{
    return &c_object.itf;
}

EXPORT ULONG bench_release(IUnknown *obj)
{
    return obj->lpVtbl->Release(obj);
}
