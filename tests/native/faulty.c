/*
 * Providers for `mapisync check`: one that follows every rule, then one per fault a provider
 * author meets in the field. Apart from its one fault each is the conforming provider: it
 * validates its input, takes its own references, reports three Progress and one Error from a
 * thread of its own (stopping when the host answers a failure), calls Done once, releases,
 * then signals a private duplicate of the handle.
 */
#include "testsupport.h"
#include "mapisync_done.h"
#include <stdint.h>

enum fault {
    CONFORMING,
    REPORTS_AFTER_CANCEL,   /* goes on reporting after the host answered a failure (rule 4) */
    OK_AFTER_CANCEL,        /* stops, but Done carries S_OK (rule 4) */
    ACCEPTS_UNKNOWN_FLAGS,  /* no check of ulFlags (rule 2) */
    ACCEPTS_SHORT_SIZE,     /* no check of ulSize (rule 2) */
    KEEPS_REF_ON_FAILURE,   /* takes the callback, then refuses unknown flags without releasing it (rule 2) */
    NO_OWN_REFERENCE,       /* uses the callback and session without references of its own (rule 3) */
    SIGNALS_HOST_HANDLE,    /* signals the handle it gave the host, not a private duplicate (rule 5) */
    MIXES_SYNCS,            /* one global "current sync": overlapping syncs report to each other (rule 7) */
    CRASHES_ON_NULL_SESSION,/* AddRefs psesSync without looking (rule 3) */
    CRASHES,                /* dies in SynchronizeInBackground */
    HANGS,                  /* never returns from SynchronizeInBackground */
    DEADLOCKS_ON_REENTRY,   /* QueryInterface waits for the report the host is inside (rule 1) */
    DIES_WITH_LAST_RELEASE, /* its thread uses the provider after the host's last Release (rule 3) */
    REFUSES_ON_DEMAND       /* refuses a valid flag, SYNC_ON_DEMAND, with MAPI_E_NO_SUPPORT (rule 2) */
};

typedef struct FaultyProvider FaultyProvider;
typedef struct {
    IMAPISync *provider;  /* DIES_WITH_LAST_RELEASE uses it from the sync thread, unreferenced */
    enum fault fault;
    IMAPISyncProgressCallback *cb;
    IUnknown *session;
    MapiSyncDone done;
} faulty_job;

struct FaultyProvider {
    IMAPISync itf;
    volatile long refs;
    enum fault fault;
    volatile long reporting;           /* DEADLOCKS_ON_REENTRY */
    void (*log)(FaultyProvider *self); /* DIES_WITH_LAST_RELEASE: poisoned on the last Release */
};

static faulty_job *volatile current;  /* MIXES_SYNCS */

static void log_nothing(FaultyProvider *self) { (void)self; }

static const WCHAR inbox[] = {'I', 'n', 'b', 'o', 'x', 0};
static const WCHAR busy[] = {'b', 'u', 's', 'y', 0};

static void faulty_thread(void *arg)
{
    faulty_job *own = (faulty_job *)arg, *job = own;
    IMAPISyncProgressCallback *cb;
    FaultyProvider *self = (FaultyProvider *)own->provider;
    HRESULT hr = S_OK, first_failure = S_OK, answer;
    ULONG i;
    if (own->fault == MIXES_SYNCS) {
        test_sleep_ms(30);  /* long enough for the other syncs to replace `current` */
        job = current;
    }
    if (own->fault == NO_OWN_REFERENCE)  /* report after the host has let go (its calls are fast */
        test_sleep_ms(50);                /* enough to finish before SynchronizeInBackground returns) */
    if (own->fault == DIES_WITH_LAST_RELEASE) {
        test_sleep_ms(50);  /* the host has released the provider by now */
        self->log(self);
    }
    cb = job->cb;
    for (i = 1; i <= 3; i++) {
        if (i == 3) {
            answer = cb->lpVtbl->Error(cb, MAPI_E_NETWORK_ERROR, busy);
            if (FAILED(answer) && first_failure == S_OK) first_failure = answer;
            if (FAILED(answer) && own->fault != REPORTS_AFTER_CANCEL) break;
        }
        if (own->fault == DEADLOCKS_ON_REENTRY) test_atomic_inc(&self->reporting);
        answer = cb->lpVtbl->Progress(cb, inbox, i, 3);
        if (own->fault == DEADLOCKS_ON_REENTRY) test_atomic_dec(&self->reporting);
        if (FAILED(answer) && first_failure == S_OK) first_failure = answer;
        if (FAILED(answer) && own->fault != REPORTS_AFTER_CANCEL) break;
    }
    hr = own->fault == OK_AFTER_CANCEL ? S_OK : first_failure;
    cb->lpVtbl->Done(cb, job->done.host, hr);
    /* MIXES_SYNCS keeps its callback: another sync's thread may still report to it, and this
     * fault is the mix-up, not a use after the final Release (which may crash the host) */
    if (own->fault != NO_OWN_REFERENCE) {
        if (own->fault != MIXES_SYNCS) own->cb->lpVtbl->Release(own->cb);
        if (own->session) own->session->lpVtbl->Release(own->session);
    }
    MapiSyncDoneSignal(own->fault == SIGNALS_HOST_HANDLE ? own->done.host : own->done.private_copy);
    if (own->fault != MIXES_SYNCS) free(own);  /* MIXES_SYNCS: others may still read it */
}

static HRESULT STDMETHODCALLTYPE f_QueryInterface(IMAPISync *This, REFIID riid, void **ppv)
{
    FaultyProvider *self = (FaultyProvider *)This;
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid) return E_INVALIDARG;
    if (self->fault == DEADLOCKS_ON_REENTRY)
        while (self->reporting) test_sleep_ms(1);  /* "wait until the report is over" */
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPISync)) return E_NOINTERFACE;
    test_atomic_inc(&self->refs);
    *ppv = This;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE f_AddRef(IMAPISync *This)
{
    return (ULONG)test_atomic_inc(&((FaultyProvider *)This)->refs);
}

static ULONG STDMETHODCALLTYPE f_Release(IMAPISync *This)
{
    FaultyProvider *self = (FaultyProvider *)This;
    long n = test_atomic_dec(&self->refs);
    if (n == 0) {
        if (self->fault == DIES_WITH_LAST_RELEASE) self->log = NULL;  /* as good as freed: kept to crash surely */
        else free(self);
    }
    return (ULONG)n;
}

static HRESULT STDMETHODCALLTYPE f_SynchronizeInBackground(IMAPISync *This, MAPISIB *sib)
{
    FaultyProvider *self = (FaultyProvider *)This;
    enum fault fault = self->fault;
    IMAPISyncProgressCallback *cb = NULL;
    test_thread thread;
    faulty_job *job;
    HRESULT hr;
    if (fault == CRASHES) *(volatile int *)(uintptr_t)sib->ulSize = 0;  /* writes near address 0 */
    while (fault == HANGS) test_sleep_ms(1000);
    if (!sib || !sib->phSyncDoneEvent || !sib->punkCallBack) return E_INVALIDARG;
    if (fault != ACCEPTS_SHORT_SIZE && sib->ulSize < sizeof(MAPISIB)) return E_INVALIDARG;
    if (fault == REFUSES_ON_DEMAND && (sib->ulFlags & SYNC_ON_DEMAND)) return MAPI_E_NO_SUPPORT;
    if (fault == KEEPS_REF_ON_FAILURE) {
        hr = sib->punkCallBack->lpVtbl->QueryInterface(sib->punkCallBack, &IID_IMAPISyncProgressCallback,
                                                       (void **)&cb);
        if (FAILED(hr)) return hr;
        if (sib->ulFlags & ~(ULONG)SYNC_KNOWN_FLAGS) return MAPI_E_UNKNOWN_FLAGS;  /* cb is kept */
    } else {
        if (fault != ACCEPTS_UNKNOWN_FLAGS && (sib->ulFlags & ~(ULONG)SYNC_KNOWN_FLAGS)) return MAPI_E_UNKNOWN_FLAGS;
        hr = sib->punkCallBack->lpVtbl->QueryInterface(sib->punkCallBack, &IID_IMAPISyncProgressCallback,
                                                       (void **)&cb);
        if (FAILED(hr)) return hr;
    }
    job = (faulty_job *)calloc(1, sizeof *job);
    if (!job || !MapiSyncDoneCreate(&job->done)) {
        free(job);
        cb->lpVtbl->Release(cb);
        return E_OUTOFMEMORY;
    }
    job->provider = This;
    job->fault = fault;
    job->cb = cb;
    job->session = (IUnknown *)sib->psesSync;
    if (fault == CRASHES_ON_NULL_SESSION || job->session) job->session->lpVtbl->AddRef(job->session);
    if (fault == NO_OWN_REFERENCE) {  /* gives back what it took, keeps using the pointers */
        cb->lpVtbl->Release(cb);
        if (job->session) job->session->lpVtbl->Release(job->session);
    }
    if (fault == SIGNALS_HOST_HANDLE)  /* no private duplicate: it will signal the host's handle */
        MapiSyncDoneClose(job->done.private_copy);
    if (fault == MIXES_SYNCS) current = job;
    *sib->phSyncDoneEvent = job->done.host;
    if (!test_thread_run(&thread, faulty_thread, job)) return E_FAIL;  /* tests only: leaks on failure */
    test_thread_detach(thread);
    return S_OK;
}

static const IMAPISyncVtbl faulty_vtbl = {f_QueryInterface, f_AddRef, f_Release, f_SynchronizeInBackground};

static HRESULT make(enum fault fault, const GUID *riid, void **ppv)
{
    FaultyProvider *p;
    HRESULT hr;
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    p = (FaultyProvider *)calloc(1, sizeof *p);
    if (!p) return E_OUTOFMEMORY;
    p->itf.lpVtbl = &faulty_vtbl;
    p->refs = 1;
    p->fault = fault;
    p->log = log_nothing;
    hr = f_QueryInterface(&p->itf, riid, ppv);
    f_Release(&p->itf);
    return hr;
}

#define FACTORY(name, fault) \
    TEST_API HRESULT name##_GetObject(const GUID *riid, void **ppv) { return make(fault, riid, ppv); }

FACTORY(Conforming, CONFORMING)
FACTORY(ReportsAfterCancel, REPORTS_AFTER_CANCEL)
FACTORY(OkAfterCancel, OK_AFTER_CANCEL)
FACTORY(AcceptsUnknownFlags, ACCEPTS_UNKNOWN_FLAGS)
FACTORY(AcceptsShortSize, ACCEPTS_SHORT_SIZE)
FACTORY(KeepsRefOnFailure, KEEPS_REF_ON_FAILURE)
FACTORY(NoOwnReference, NO_OWN_REFERENCE)
FACTORY(SignalsHostHandle, SIGNALS_HOST_HANDLE)
FACTORY(MixesSyncs, MIXES_SYNCS)
FACTORY(CrashesOnNullSession, CRASHES_ON_NULL_SESSION)
FACTORY(Crashes, CRASHES)
FACTORY(Hangs, HANGS)
FACTORY(DeadlocksOnReentry, DEADLOCKS_ON_REENTRY)
FACTORY(DiesWithLastRelease, DIES_WITH_LAST_RELEASE)
FACTORY(RefusesOnDemand, REFUSES_ON_DEMAND)
