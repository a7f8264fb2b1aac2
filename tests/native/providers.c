/*
 * Deliberately broken IMAPISync providers, one factory each, to prove that run_sync detects
 * every breach of the protocol. Apart from its one fault, each behaves like a good provider:
 * two Progress calls from a thread of its own, Done, release, signal.
 */
#include "testsupport.h"
#include "mapisync_done.h"
#include <stdint.h>

enum fault { GOOD, NO_DONE, DONE_TWICE, PROGRESS_AFTER_DONE, KEEPS_CALLBACK, CALLER_THREAD, WRONG_HANDLE, LATE,
             NULL_HANDLE, INVALID_HANDLE, CLOSED_HANDLE, REUSED_HANDLE };

/* REUSED_HANDLE: what now holds the number the provider gave the host (-1 until then). The
 * test checks the host never closed it. */
static volatile long reused_number = -1;
TEST_API long Reused_Number(void) { return reused_number; }

typedef struct { IMAPISync itf; volatile long refs; enum fault fault; } BrokenProvider;

typedef struct {
    enum fault fault;
    IMAPISyncProgressCallback *cb;
    MapiSyncDone done;
} broken_job;

static const WCHAR step[] = {'s', 't', 'e', 'p', 0};

static void broken_thread(void *arg)
{
    broken_job *job = (broken_job *)arg;
    IMAPISyncProgressCallback *cb = job->cb;
    HANDLE reported = job->done.host;
    if (job->fault == NULL_HANDLE) reported = NULL;
    if (job->fault == INVALID_HANDLE) reported = (HANDLE)(intptr_t)-1;
    if (job->fault == LATE) test_sleep_ms(700);  /* past the host's timeout in the tests */
    cb->lpVtbl->Progress(cb, step, 1, 2);
    cb->lpVtbl->Progress(cb, step, 2, 2);
    if (job->fault == WRONG_HANDLE) reported = (HANDLE)((size_t)reported + 0x100);
    if (job->fault != NO_DONE) cb->lpVtbl->Done(cb, reported, S_OK);
    if (job->fault == DONE_TWICE) cb->lpVtbl->Done(cb, reported, S_OK);
    if (job->fault == PROGRESS_AFTER_DONE) cb->lpVtbl->Progress(cb, step, 3, 2);
    if (job->fault != KEEPS_CALLBACK) cb->lpVtbl->Release(cb);  /* KEEPS_CALLBACK leaks it */
    MapiSyncDoneSignal(job->done.private_copy);
    free(job);
}

static HRESULT STDMETHODCALLTYPE b_QueryInterface(IMAPISync *This, REFIID riid, void **ppv)
{
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid) return E_INVALIDARG;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPISync)) return E_NOINTERFACE;
    test_atomic_inc(&((BrokenProvider *)This)->refs);
    *ppv = This;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE b_AddRef(IMAPISync *This)
{
    return (ULONG)test_atomic_inc(&((BrokenProvider *)This)->refs);
}

static ULONG STDMETHODCALLTYPE b_Release(IMAPISync *This)
{
    long n = test_atomic_dec(&((BrokenProvider *)This)->refs);
    if (n == 0) free(This);
    return (ULONG)n;
}

static HRESULT STDMETHODCALLTYPE b_SynchronizeInBackground(IMAPISync *This, MAPISIB *sib)
{
    enum fault fault = ((BrokenProvider *)This)->fault;
    test_thread thread;
    broken_job *job;
    HRESULT hr;
    if (!sib || sib->ulSize < sizeof(MAPISIB) || !sib->phSyncDoneEvent || !sib->punkCallBack)
        return E_INVALIDARG;
    job = (broken_job *)calloc(1, sizeof *job);
    if (!job) return E_OUTOFMEMORY;
    job->fault = fault;
    hr = sib->punkCallBack->lpVtbl->QueryInterface(sib->punkCallBack, &IID_IMAPISyncProgressCallback,
                                                   (void **)&job->cb);
    if (FAILED(hr)) { free(job); return hr; }
    if (!MapiSyncDoneCreate(&job->done)) { job->cb->lpVtbl->Release(job->cb); free(job); return E_FAIL; }
    if (fault == CALLER_THREAD)  /* a report before returning, on the caller's thread */
        job->cb->lpVtbl->Progress(job->cb, step, 0, 2);
    *sib->phSyncDoneEvent = fault == NULL_HANDLE ? NULL
                          : fault == INVALID_HANDLE ? (HANDLE)(intptr_t)-1 : job->done.host;
    if (fault == CLOSED_HANDLE || fault == REUSED_HANDLE) {  /* hands over a handle it has closed */
        MapiSyncDoneClose(job->done.host);
        if (fault == REUSED_HANDLE) {  /* ...and something else takes the number at once */
            MapiSyncDone other;
            if (MapiSyncDoneCreate(&other)) {
                MapiSyncDoneClose(other.private_copy);
                reused_number = (long)(intptr_t)other.host;  /* kept open: it is not the host's to close */
            }
        }
    }
    if (!test_thread_run(&thread, broken_thread, job)) return E_FAIL;  /* tests only: leaks on failure */
    test_thread_detach(thread);
    return S_OK;
}

static const IMAPISyncVtbl broken_vtbl = {b_QueryInterface, b_AddRef, b_Release, b_SynchronizeInBackground};

static HRESULT make(enum fault fault, const GUID *riid, void **ppv)
{
    BrokenProvider *p;
    HRESULT hr;
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    p = (BrokenProvider *)calloc(1, sizeof *p);
    if (!p) return E_OUTOFMEMORY;
    p->itf.lpVtbl = &broken_vtbl;
    p->refs = 1;
    p->fault = fault;
    hr = b_QueryInterface(&p->itf, riid, ppv);
    b_Release(&p->itf);
    return hr;
}

/* Factories, in the shape `mapisync drive LIB:SYMBOL` takes. */
TEST_API HRESULT Good_GetObject(const GUID *riid, void **ppv) { return make(GOOD, riid, ppv); }
TEST_API HRESULT NoDone_GetObject(const GUID *riid, void **ppv) { return make(NO_DONE, riid, ppv); }
TEST_API HRESULT DoneTwice_GetObject(const GUID *riid, void **ppv) { return make(DONE_TWICE, riid, ppv); }
TEST_API HRESULT ProgressAfterDone_GetObject(const GUID *riid, void **ppv) { return make(PROGRESS_AFTER_DONE, riid, ppv); }
TEST_API HRESULT KeepsCallback_GetObject(const GUID *riid, void **ppv) { return make(KEEPS_CALLBACK, riid, ppv); }
TEST_API HRESULT CallerThread_GetObject(const GUID *riid, void **ppv) { return make(CALLER_THREAD, riid, ppv); }
TEST_API HRESULT WrongHandle_GetObject(const GUID *riid, void **ppv) { return make(WRONG_HANDLE, riid, ppv); }
TEST_API HRESULT Late_GetObject(const GUID *riid, void **ppv) { return make(LATE, riid, ppv); }
TEST_API HRESULT NullHandle_GetObject(const GUID *riid, void **ppv) { return make(NULL_HANDLE, riid, ppv); }
TEST_API HRESULT InvalidHandle_GetObject(const GUID *riid, void **ppv) { return make(INVALID_HANDLE, riid, ppv); }
TEST_API HRESULT ClosedHandle_GetObject(const GUID *riid, void **ppv) { return make(CLOSED_HANDLE, riid, ppv); }
TEST_API HRESULT ReusedHandle_GetObject(const GUID *riid, void **ppv) { return make(REUSED_HANDLE, riid, ppv); }
