/*
 * An example message store provider in C: IMAPISync by the background-sync protocol.
 * It exports the factory shape `mapisync drive` takes:
 *
 *     HRESULT MapiSyncGetObject(const GUID *riid, void **ppv);
 *
 * SynchronizeInBackground validates its input, takes its own references, creates the done
 * handle and starts a thread; the thread reports Progress for each folder and one non-fatal
 * Error (stopping as soon as the host answers either with a failure), calls Done, releases
 * the references, then signals a private duplicate of the handle.
 *
 * Build: cc -shared -fPIC -pthread -I"$(mapisync info --include)" \
 *           "$(mapisync info --examples)/c_provider/provider.c" -o example_provider.so
 */
#include "mapisync.h"
#include "mapisync_done.h"
#include <stdlib.h>

#ifdef _WIN32
#  define EXPORT __declspec(dllexport)
#else
#  include <pthread.h>
#  define EXPORT __attribute__((visibility("default")))
#endif

static const WCHAR *const folders[] = {
    (const WCHAR[]){'I', 'n', 'b', 'o', 'x', 0},
    (const WCHAR[]){'S', 'e', 'n', 't', ' ', 'I', 't', 'e', 'm', 's', 0},
    (const WCHAR[]){'D', 'r', 'a', 'f', 't', 's', 0},
    (const WCHAR[]){'A', 'r', 'c', 'h', 'i', 'v', 'e', 0},
};
#define N_FOLDERS ((ULONG)(sizeof folders / sizeof folders[0]))
static const WCHAR busy[] = {'A', 'r', 'c', 'h', 'i', 'v', 'e', ':', ' ', 's', 'e', 'r', 'v', 'e', 'r', ' ',
                             'b', 'u', 's', 'y', ',', ' ', 'r', 'e', 't', 'r', 'i', 'e', 'd', 0};

/* ---- one sync, owned by its thread */
typedef struct {
    IMAPISyncProgressCallback *callback;
    IUnknown *session;
    MapiSyncDone done;
} sync_job;

#ifdef _WIN32
static DWORD WINAPI sync_thread(LPVOID arg)
#else
static void *sync_thread(void *arg)
#endif
{
    sync_job *job = (sync_job *)arg;
    IMAPISyncProgressCallback *cb = job->callback;
    HRESULT hr = S_OK;
    ULONG i;
    for (i = 0; i < N_FOLDERS && SUCCEEDED(hr); i++) {
        if (i == N_FOLDERS - 1)  /* a non-fatal error: the host may cancel here too */
            hr = cb->lpVtbl->Error(cb, MAPI_E_NETWORK_ERROR, busy);
        if (SUCCEEDED(hr))
            hr = cb->lpVtbl->Progress(cb, folders[i], i + 1, N_FOLDERS);  /* a failure is the host cancelling */
    }
    cb->lpVtbl->Done(cb, job->done.host, FAILED(hr) ? hr : S_OK);
    cb->lpVtbl->Release(cb);                                     /* every host reference goes ... */
    if (job->session) job->session->lpVtbl->Release(job->session);
    MapiSyncDoneSignal(job->done.private_copy);                         /* ... before the signal */
    free(job);
#ifdef _WIN32
    return 0;
#else
    return NULL;
#endif
}

/* ---- the provider object */
typedef struct { IMAPISync itf; volatile long refs; } ExampleProvider;

static HRESULT STDMETHODCALLTYPE QueryInterface_(IMAPISync *This, REFIID riid, void **ppv)
{
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid) return E_INVALIDARG;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPISync)) return E_NOINTERFACE;
    This->lpVtbl->AddRef(This);
    *ppv = This;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE AddRef_(IMAPISync *This)
{
#ifdef _WIN32
    return (ULONG)InterlockedIncrement(&((ExampleProvider *)This)->refs);
#else
    return (ULONG)__atomic_add_fetch(&((ExampleProvider *)This)->refs, 1, __ATOMIC_SEQ_CST);
#endif
}

static ULONG STDMETHODCALLTYPE Release_(IMAPISync *This)
{
#ifdef _WIN32
    long n = InterlockedDecrement(&((ExampleProvider *)This)->refs);
#else
    long n = __atomic_sub_fetch(&((ExampleProvider *)This)->refs, 1, __ATOMIC_SEQ_CST);
#endif
    if (n == 0) free(This);
    return (ULONG)n;
}

static HRESULT STDMETHODCALLTYPE SynchronizeInBackground_(IMAPISync *This, MAPISIB *sib)
{
    IMAPISyncProgressCallback *cb = NULL;
    sync_job *job;
    HRESULT hr;
    (void)This;
    /* rule 2: reject synchronously, touching nothing */
    if (!sib || sib->ulSize < sizeof(MAPISIB) || !sib->phSyncDoneEvent || !sib->punkCallBack)
        return E_INVALIDARG;
    if (sib->ulFlags & ~(ULONG)SYNC_KNOWN_FLAGS) return MAPI_E_UNKNOWN_FLAGS;
    hr = sib->punkCallBack->lpVtbl->QueryInterface(sib->punkCallBack, &IID_IMAPISyncProgressCallback,
                                                   (void **)&cb);
    if (FAILED(hr)) return hr;
    job = (sync_job *)calloc(1, sizeof *job);
    if (!job || !MapiSyncDoneCreate(&job->done)) {
        free(job);
        cb->lpVtbl->Release(cb);
        return E_OUTOFMEMORY;
    }
    job->callback = cb;                                    /* our own references (rule 3) */
    job->session = (IUnknown *)sib->psesSync;
    if (job->session) job->session->lpVtbl->AddRef(job->session);
    {
        /* Store the handle before the thread starts: Done can then never reach a host that
         * cannot yet find its sync through *phSyncDoneEvent. If the thread cannot start, the
         * host's variable gets its old value back: a failure leaves it as it was (rule 2). */
        HANDLE previous = *sib->phSyncDoneEvent;
        *sib->phSyncDoneEvent = job->done.host;
#ifdef _WIN32
        HANDLE thread = CreateThread(NULL, 0, sync_thread, job, 0, NULL);
        int started = thread != NULL;
        if (started) CloseHandle(thread);
#else
        pthread_t thread;
        int started = pthread_create(&thread, NULL, sync_thread, job) == 0;
        if (started) pthread_detach(thread);
#endif
        if (!started) {
            *sib->phSyncDoneEvent = previous;
            if (job->session) job->session->lpVtbl->Release(job->session);
            cb->lpVtbl->Release(cb);
            MapiSyncDoneDiscard(&job->done);
            free(job);
            return E_FAIL;
        }
    }
    return S_OK;
}

static const IMAPISyncVtbl vtbl = {QueryInterface_, AddRef_, Release_, SynchronizeInBackground_};

/* The factory: a new provider, returned as `riid` with one reference. */
EXPORT HRESULT MapiSyncGetObject(const GUID *riid, void **ppv)
{
    ExampleProvider *provider;
    HRESULT hr;
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    provider = (ExampleProvider *)calloc(1, sizeof *provider);
    if (!provider) return E_OUTOFMEMORY;
    provider->itf.lpVtbl = &vtbl;
    provider->refs = 1;
    hr = provider->itf.lpVtbl->QueryInterface(&provider->itf, riid, ppv);
    provider->itf.lpVtbl->Release(&provider->itf);
    return hr;
}
