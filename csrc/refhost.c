/*
 * The native reference host behind `mapisync demo`: a plain C MAPI host, written against
 * include/mapisync.h only, that runs one background sync on any IMAPISync and shows it as
 * Outlook's Send/Receive dialog would: a live progress bar with the step text, errors as
 * they come, and the final HRESULT by name. It knows nothing of Python.
 *
 * Built by setup.py as a plain shared library (no Python API); loaded with ctypes.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L  /* clock_gettime, fileno under -std=c99 */
#endif
#include "mapisync.h"
#include "mapisync_done.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#  include <io.h>
#  define EXPORT __declspec(dllexport)
#  define isatty _isatty
#  define fileno _fileno
#else
#  include <unistd.h>
#  define EXPORT __attribute__((visibility("default")))
#endif

static const struct { HRESULT hr; const char *name; } names[] = {
    {S_OK, "S_OK"}, {S_FALSE, "S_FALSE"}, {E_NOTIMPL, "E_NOTIMPL"}, {E_NOINTERFACE, "E_NOINTERFACE"},
    {E_POINTER, "E_POINTER"}, {E_ABORT, "E_ABORT"}, {E_FAIL, "E_FAIL"}, {E_UNEXPECTED, "E_UNEXPECTED"},
    {E_OUTOFMEMORY, "E_OUTOFMEMORY"}, {E_INVALIDARG, "E_INVALIDARG"}, {MAPI_E_NO_SUPPORT, "MAPI_E_NO_SUPPORT"},
    {MAPI_E_UNKNOWN_FLAGS, "MAPI_E_UNKNOWN_FLAGS"}, {MAPI_E_USER_CANCEL, "MAPI_E_USER_CANCEL"},
    {MAPI_E_NETWORK_ERROR, "MAPI_E_NETWORK_ERROR"}, {MAPI_W_PARTIAL_COMPLETION, "MAPI_W_PARTIAL_COMPLETION"},
};

static void print_hresult(FILE *out, HRESULT hr)
{
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].hr == hr) { fprintf(out, "%s (0x%08lX)", names[i].name, (unsigned long)(ULONG)hr); return; }
    fprintf(out, "HRESULT 0x%08lX", (unsigned long)(ULONG)hr);
}

/* UTF-16 to the console: ASCII as is, anything else as '?', which is enough for a demo. */
static void print_text(FILE *out, const WCHAR *text)
{
    if (!text) { fputs("(no text)", out); return; }
    for (; *text; text++) fputc(*text < 128 ? (char)*text : '?', out);
}

typedef struct {
    IMAPISyncProgressCallback itf;
    volatile long refs;
    int live;             /* redraw one line (a terminal) or print a line per event */
    int cancel_after;     /* answer MAPI_E_USER_CANCEL from this Progress call on; 0: never */
    int progress_calls;
    int on_bar;           /* the cursor is at the end of a progress bar */
    volatile long stopped; /* the host gave up (timeout, Ctrl-C): show nothing, answer cancel */
    HRESULT done_hr;
    int done_calls;
} RefCallback;

/* refhost_cancel() from another thread: the running refhost_run stops waiting at once. */
static volatile long cancel_requested;

static RefCallback *rc(IMAPISyncProgressCallback *This) { return (RefCallback *)This; }

static HRESULT STDMETHODCALLTYPE QueryInterface_(IMAPISyncProgressCallback *This, REFIID riid, void **ppv)
{
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid) return E_INVALIDARG;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPISyncProgressCallback))
        return E_NOINTERFACE;
    This->lpVtbl->AddRef(This);
    *ppv = This;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE AddRef_(IMAPISyncProgressCallback *This)
{
#ifdef _WIN32
    return (ULONG)InterlockedIncrement(&rc(This)->refs);
#else
    return (ULONG)__atomic_add_fetch(&rc(This)->refs, 1, __ATOMIC_SEQ_CST);
#endif
}

/* The callback is on the heap and freed with its last reference: a host that gives up early
 * returns while the provider may still hold it. */
static ULONG STDMETHODCALLTYPE Release_(IMAPISyncProgressCallback *This)
{
#ifdef _WIN32
    long n = InterlockedDecrement(&rc(This)->refs);
#else
    long n = __atomic_sub_fetch(&rc(This)->refs, 1, __ATOMIC_SEQ_CST);
#endif
    if (n == 0) free(This);
    return (ULONG)n;
}

static void end_bar(RefCallback *c)
{
    if (c->on_bar) { fputc('\n', stdout); c->on_bar = 0; }
}

static HRESULT STDMETHODCALLTYPE Progress_(IMAPISyncProgressCallback *This, const WCHAR *text, ULONG i, ULONG n)
{
    RefCallback *c = rc(This);
    int width = 24, filled = n ? (int)((unsigned long long)width * (i > n ? n : i) / n) : 0, k;
    if (c->stopped) return MAPI_E_USER_CANCEL;  /* the host gave up: cancel, quietly */
    c->progress_calls++;
    fputs(c->live ? "\r" : "", stdout);
    fputc('[', stdout);
    for (k = 0; k < width; k++) fputc(k < filled ? '#' : '.', stdout);
    fprintf(stdout, "] %lu/%lu  ", (unsigned long)i, (unsigned long)n);
    print_text(stdout, text);
    if (c->live) { fputs("\033[K", stdout); c->on_bar = 1; } else fputc('\n', stdout);
    fflush(stdout);
    if (c->cancel_after && c->progress_calls >= c->cancel_after) {
        end_bar(c);
        fputs("  (cancel: answering MAPI_E_USER_CANCEL)\n", stdout);
        return MAPI_E_USER_CANCEL;
    }
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE Error_(IMAPISyncProgressCallback *This, HRESULT hr, const WCHAR *text)
{
    RefCallback *c = rc(This);
    if (c->stopped) return MAPI_E_USER_CANCEL;
    end_bar(c);
    fputs("  error: ", stdout);
    print_hresult(stdout, hr);
    fputs(": ", stdout);
    print_text(stdout, text);
    fputc('\n', stdout);
    fflush(stdout);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE Done_(IMAPISyncProgressCallback *This, HANDLE handle, HRESULT hr)
{
    RefCallback *c = rc(This);
    (void)handle;
    c->done_hr = hr;
    c->done_calls++;
    return S_OK;
}

static const IMAPISyncProgressCallbackVtbl vtbl = {QueryInterface_, AddRef_, Release_, Progress_, Error_, Done_};

static double seconds(void)
{
#ifdef _WIN32
    return (double)GetTickCount64() / 1000.0;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
#endif
}

/* Ends a refhost_run in progress on another thread (Ctrl-C): it returns MAPI_E_USER_CANCEL
 * within 50 ms, and the provider is answered MAPI_E_USER_CANCEL from then on. */
EXPORT void refhost_cancel(void)
{
    cancel_requested = 1;
}

/* One sync on `provider` (any interface of it). Returns the HRESULT Done carried, or the
 * synchronous failure, or E_ABORT if the handle was not signalled within timeout_ms, or
 * MAPI_E_USER_CANCEL after refhost_cancel(). It returns at once in the last two cases: the
 * callback stays alive (on the heap) until the provider releases it. */
EXPORT HRESULT refhost_run(IUnknown *provider, ULONG flags, int cancel_after, int timeout_ms)
{
    RefCallback *callback = (RefCallback *)calloc(1, sizeof(RefCallback));
    IMAPISync *sync = NULL;
    MAPISIB sib;
    HANDLE handle = NULL;
    HRESULT hr;
    double start = seconds();
    int signalled = 0;

    if (!callback) return E_OUTOFMEMORY;
    cancel_requested = 0;
    callback->itf.lpVtbl = &vtbl;
    callback->refs = 1;  /* the host's own */
    callback->live = isatty(fileno(stdout));
    callback->cancel_after = cancel_after;

    hr = provider->lpVtbl->QueryInterface(provider, &IID_IMAPISync, (void **)&sync);
    if (FAILED(hr)) {
        fputs("the provider does not implement IMAPISync: ", stderr);
        print_hresult(stderr, hr);
        fputc('\n', stderr);
        Release_(&callback->itf);
        return hr;
    }
    memset(&sib, 0, sizeof sib);
    sib.ulSize = sizeof sib;
    sib.ulFlags = flags;
    sib.punkCallBack = (IUnknown *)&callback->itf;
    sib.phSyncDoneEvent = &handle;
    fprintf(stdout, "reference host (C): SynchronizeInBackground(ulFlags=0x%08lX)\n", (unsigned long)flags);
    fflush(stdout);
    hr = sync->lpVtbl->SynchronizeInBackground(sync, &sib);
    sync->lpVtbl->Release(sync);
    if (FAILED(hr)) {
        fputs("SynchronizeInBackground failed: ", stderr);
        print_hresult(stderr, hr);
        fputc('\n', stderr);
        Release_(&callback->itf);
        return hr;
    }
    /* wait in slices, so a timeout or a cancel acts within 50 ms */
    while (!(signalled = MapiSyncDoneWait(handle, 50))) {
        if (cancel_requested || (timeout_ms >= 0 && (seconds() - start) * 1000.0 >= timeout_ms)) break;
    }
    MapiSyncDoneClose(handle);  /* the provider signals a private copy: closing ours is always safe */
    if (!signalled) {
        callback->stopped = 1;
        end_bar(callback);
        if (cancel_requested) fputs("interrupted: the provider is answered MAPI_E_USER_CANCEL\n", stdout);
        else fprintf(stdout, "the sync did not finish within %d ms; the provider is answered MAPI_E_USER_CANCEL\n",
                     timeout_ms);
        fflush(stdout);
        hr = cancel_requested ? MAPI_E_USER_CANCEL : E_ABORT;
        Release_(&callback->itf);  /* freed once the provider lets go too */
        return hr;
    }
    end_bar(callback);
    fputs("Done: ", stdout);
    if (callback->done_calls == 1) print_hresult(stdout, callback->done_hr);
    else fprintf(stdout, "called %d times (a protocol breach)", callback->done_calls);
    fprintf(stdout, " after %.2f s\n", seconds() - start);
    fflush(stdout);
    hr = callback->done_calls == 1 ? callback->done_hr : E_UNEXPECTED;
    Release_(&callback->itf);
    return hr;
}
