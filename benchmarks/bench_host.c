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

/* Progress with a text and a count that change on every call: what repeats costs nothing to
 * share, so this is the case where nothing can be shared. */
static const WCHAR text2[] = {'S', 'y', 'n', 'c', 'i', 'n', 'g', ' ', 'O', 'u', 't', 'b', 'o', 'x', 0};
EXPORT int64_t bench_progress_changing(IMAPISyncProgressCallback *cb, ULONG n)
{
    int64_t t0 = now_ns();
    ULONG i;
    for (i = 0; i < n; i++) cb->lpVtbl->Progress(cb, (i & 1) ? text2 : text, i, n + i);
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

/* ---- calls from threads Python never created */
#ifdef _WIN32
typedef HANDLE bench_thread;
#  define BENCH_THREAD_FN(name) static DWORD WINAPI name(LPVOID arg)
#  define BENCH_THREAD_RETURN return 0
static int bench_start(bench_thread *t, LPTHREAD_START_ROUTINE fn, void *arg)
{
    *t = CreateThread(NULL, 0, fn, arg, 0, NULL);
    return *t != NULL;
}
static void bench_join(bench_thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
static void bench_spin_until(volatile long *flag) { while (!*flag) Sleep(0); }
#else
#  include <pthread.h>
#  include <sched.h>
typedef pthread_t bench_thread;
#  define BENCH_THREAD_FN(name) static void *name(void *arg)
#  define BENCH_THREAD_RETURN return NULL
static int bench_start(bench_thread *t, void *(*fn)(void *), void *arg) { return pthread_create(t, NULL, fn, arg) == 0; }
static void bench_join(bench_thread t) { pthread_join(t, NULL); }
static void bench_spin_until(volatile long *flag) { while (!*flag) sched_yield(); }
#endif

typedef struct {
    void *target;          /* an IMAPISyncProgressCallback, or a bare progress_fn */
    int raw;
    ULONG n;
    volatile long *go;     /* all threads start together */
    int64_t elapsed;       /* the loop's own time, measured on its thread */
} bench_job;

BENCH_THREAD_FN(bench_thread_body)
{
    bench_job *job = (bench_job *)arg;
    if (job->go) bench_spin_until(job->go);
    job->elapsed = job->raw ? bench_raw((progress_fn)job->target, job->n)
                            : bench_progress((IMAPISyncProgressCallback *)job->target, job->n);
    BENCH_THREAD_RETURN;
}

/* The loop of bench_progress on a new native thread: that thread's loop time, in ns. The
 * first call from the thread is included, as a host's first call would be. */
EXPORT int64_t bench_progress_foreign(IMAPISyncProgressCallback *cb, ULONG n)
{
    bench_job job = {0};
    bench_thread t;
    job.target = cb;
    job.n = n;
    if (!bench_start(&t, bench_thread_body, &job)) return -1;
    bench_join(t);
    return job.elapsed;
}

EXPORT int64_t bench_raw_foreign(progress_fn fn, ULONG n)
{
    bench_job job = {0};
    bench_thread t;
    job.target = (void *)fn;
    job.raw = 1;
    job.n = n;
    if (!bench_start(&t, bench_thread_body, &job)) return -1;
    bench_join(t);
    return job.elapsed;
}

/* Throughput: `threads` native threads start together, each calling Progress n times. Returns
 * the wall time from the start until the last one ends, in ns. */
EXPORT int64_t bench_progress_threads(IMAPISyncProgressCallback *cb, ULONG n, int threads)
{
    bench_job jobs[64];
    bench_thread ts[64];
    volatile long go = 0;
    int64_t t0;
    int i, started = 0;
    if (threads < 1 || threads > 64) return -1;
    for (i = 0; i < threads; i++) {
        jobs[i].target = cb;
        jobs[i].raw = 0;
        jobs[i].n = n;
        jobs[i].go = &go;
        if (!bench_start(&ts[i], bench_thread_body, &jobs[i])) break;
        started++;
    }
    t0 = now_ns();
    go = 1;
    for (i = 0; i < started; i++) bench_join(ts[i]);
    return started == threads ? now_ns() - t0 : -1;
}

/* Short-lived native threads, one after another, each making `calls` calls: for the test
 * that kept thread states go away with their threads. Returns the number of failed calls. */
BENCH_THREAD_FN(bench_short_body)
{
    bench_job *job = (bench_job *)arg;
    IMAPISyncProgressCallback *cb = (IMAPISyncProgressCallback *)job->target;
    ULONG i;
    job->elapsed = 0;
    for (i = 0; i < job->n; i++)
        if (FAILED(cb->lpVtbl->Progress(cb, text, i, job->n))) job->elapsed++;
    BENCH_THREAD_RETURN;
}

EXPORT int64_t bench_short_threads(IMAPISyncProgressCallback *cb, int threads, ULONG calls)
{
    int64_t failures = 0;
    int i;
    for (i = 0; i < threads; i++) {
        bench_job job = {0};
        bench_thread t;
        job.target = cb;
        job.n = calls;
        if (!bench_start(&t, bench_short_body, &job)) return -1;
        bench_join(t);
        failures += job.elapsed;
    }
    return failures;
}
