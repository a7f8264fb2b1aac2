/*
 * A C MAPI host for the sync protocol tests: it runs background syncs against a provider
 * (a Python SyncProvider, in the tests) with a native IMAPISyncProgressCallback, waits on
 * the done handle, and reports what it saw.
 */
#include "testsupport.h"
#include "mapisync_done.h"
#include "sync_report.h"

/* A session object: an IUnknown that only counts, passed as MAPISIB.psesSync. */
typedef struct { IUnknown itf; volatile long refs; } Session;
static HRESULT STDMETHODCALLTYPE s_QueryInterface(IUnknown *This, REFIID riid, void **ppv)
{
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid || !IsEqualIID(riid, &IID_IUnknown)) return E_NOINTERFACE;
    This->lpVtbl->AddRef(This);
    *ppv = This;
    return S_OK;
}
static ULONG STDMETHODCALLTYPE s_AddRef(IUnknown *This) { return (ULONG)test_atomic_inc(&((Session *)This)->refs); }
static ULONG STDMETHODCALLTYPE s_Release(IUnknown *This) { return (ULONG)test_atomic_dec(&((Session *)This)->refs); }
#ifdef _WIN32
static IUnknownVtbl session_vtbl = {s_QueryInterface, s_AddRef, s_Release};
#else
static const IUnknownVtbl session_vtbl = {s_QueryInterface, s_AddRef, s_Release};
#endif

#ifdef _WIN32
typedef DWORD thread_id;
static thread_id current_thread(void) { return GetCurrentThreadId(); }
static int same_thread(thread_id a, thread_id b) { return a == b; }
#else
typedef pthread_t thread_id;
static thread_id current_thread(void) { return pthread_self(); }
static int same_thread(thread_id a, thread_id b) { return pthread_equal(a, b); }
#endif

typedef struct {
    IMAPISyncProgressCallback itf;
    volatile long refs;
    test_lock lock;
    sync_report *report;
    thread_id caller;
    int cancel_at;          /* Progress answers MAPI_E_USER_CANCEL from this call on (0: never) */
    int close_in_done;      /* close the handle inside Done, then create a new one */
    HANDLE done_handle;     /* what Done got */
    Session *session;
    MapiSyncDone reuse;     /* close_in_done: the handle created after closing */
    int have_reuse;
    HANDLE *volatile stored; /* the host's *phSyncDoneEvent, read inside Done */
} HostCallback;

static HostCallback *hc(IMAPISyncProgressCallback *This) { return (HostCallback *)This; }

static void note_call(HostCallback *c, int is_done)
{
    sync_report *r = c->report;
    if (same_thread(current_thread(), c->caller)) r->on_caller_thread++;
    if (!is_done && r->dones) r->after_done++;
    if ((int)c->refs < r->min_refs_in_calls) r->min_refs_in_calls = (int)c->refs;
    if ((int)c->session->refs < r->session_min_refs) r->session_min_refs = (int)c->session->refs;
}

static HRESULT STDMETHODCALLTYPE h_QueryInterface(IMAPISyncProgressCallback *This, REFIID riid, void **ppv)
{
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid) return E_INVALIDARG;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPISyncProgressCallback))
        return E_NOINTERFACE;
    test_atomic_inc(&hc(This)->refs);
    *ppv = This;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE h_AddRef(IMAPISyncProgressCallback *This)
{
    return (ULONG)test_atomic_inc(&hc(This)->refs);
}

static ULONG STDMETHODCALLTYPE h_Release(IMAPISyncProgressCallback *This)
{
    return (ULONG)test_atomic_dec(&hc(This)->refs);  /* freed by the host function that made it */
}

static HRESULT STDMETHODCALLTYPE h_Progress(IMAPISyncProgressCallback *This, const WCHAR *text, ULONG i, ULONG n)
{
    HostCallback *c = hc(This);
    int calls;
    (void)text; (void)i; (void)n;
    test_lock_take(&c->lock);
    note_call(c, 0);
    calls = ++c->report->progress;
    test_lock_give(&c->lock);
    return c->cancel_at && calls >= c->cancel_at ? MAPI_E_USER_CANCEL : S_OK;
}

static HRESULT STDMETHODCALLTYPE h_Error(IMAPISyncProgressCallback *This, HRESULT hr, const WCHAR *text)
{
    HostCallback *c = hc(This);
    (void)hr; (void)text;
    test_lock_take(&c->lock);
    note_call(c, 0);
    c->report->errors++;
    test_lock_give(&c->lock);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE h_Done(IMAPISyncProgressCallback *This, HANDLE handle, HRESULT hr)
{
    HostCallback *c = hc(This);
    test_lock_take(&c->lock);
    note_call(c, 1);
    c->report->dones++;
    c->report->done_hr = hr;
    c->done_handle = handle;
    if (c->stored && *c->stored != handle) c->report->done_before_handle++;
    if (c->close_in_done && c->report->dones == 1) {
        /* The host may close the handle inside Done. A new handle made right away is likely
         * to reuse the number: the provider must never signal it. */
        MapiSyncDoneClose(handle);
        c->have_reuse = MapiSyncDoneCreate(&c->reuse);
    }
    test_lock_give(&c->lock);
    return S_OK;
}

static const IMAPISyncProgressCallbackVtbl host_vtbl = {
    h_QueryInterface, h_AddRef, h_Release, h_Progress, h_Error, h_Done,
};

static void callback_init(HostCallback *c, Session *session, sync_report *r, int cancel_at, int close_in_done)
{
    memset(c, 0, sizeof *c);
    session->itf.lpVtbl = &session_vtbl;
    session->refs = 1;
    c->session = session;
    r->min_refs_in_calls = r->session_min_refs = 1000;
    c->itf.lpVtbl = &host_vtbl;
    c->refs = 1;  /* the host's own, kept to the end */
    c->report = r;
    c->caller = current_thread();
    c->cancel_at = cancel_at;
    c->close_in_done = close_in_done;
    test_lock_init(&c->lock);
}

static int wait_for_releases(HostCallback *c, int ms)
{
    int waited;
    for (waited = 0; c->refs > 1 && waited < ms; waited += 5) test_sleep_ms(5);
    return c->refs == 1;
}

/* One sync against `provider` (any interface of it), as a C host would run it. */
TEST_API HRESULT sync_host_run(IUnknown *provider, ULONG flags, int cancel_at, int close_in_done,
                               int timeout_ms, sync_report *r)
{
    HostCallback c;
    Session session;
    IMAPISync *sync = NULL;
    MAPISIB sib;
    HANDLE handle = NULL;
    memset(r, 0, sizeof *r);
    callback_init(&c, &session, r, cancel_at, close_in_done);
    r->sync_hr = provider->lpVtbl->QueryInterface(provider, &IID_IMAPISync, (void **)&sync);
    if (FAILED(r->sync_hr)) return r->sync_hr;
    memset(&sib, 0, sizeof sib);
    sib.ulSize = sizeof sib;
    sib.ulFlags = flags;
    sib.psesSync = (struct IMAPISession *)&session.itf;
    sib.punkCallBack = (IUnknown *)&c.itf;
    sib.phSyncDoneEvent = &handle;
    c.stored = &handle;  /* a host that finds its sync through this variable, inside Done */
    r->sync_hr = sync->lpVtbl->SynchronizeInBackground(sync, &sib);
    sync->lpVtbl->Release(sync);
    if (SUCCEEDED(r->sync_hr)) {
        if (close_in_done) {
            int waited;
            for (waited = 0; !r->dones && waited < timeout_ms; waited += 5) test_sleep_ms(5);
            r->signalled = wait_for_releases(&c, timeout_ms);
            test_sleep_ms(100);  /* time for a wrong signal to land */
            if (c.have_reuse) {
                r->reused_signalled = MapiSyncDoneWait(c.reuse.host, 0);
                MapiSyncDoneDiscard(&c.reuse);
            }
        } else {
            r->signalled = MapiSyncDoneWait(handle, timeout_ms);
            MapiSyncDoneClose(handle);
        }
        r->handle_mismatch = r->dones && c.done_handle != handle;
    }
    r->refs_left = (int)c.refs - 1;
    r->session_refs_left = (int)session.refs - 1;
    if (r->signalled || FAILED(r->sync_hr)) test_lock_free(&c.lock);  /* else a late call may still come */
    return r->sync_hr;
}

/* A callback object that refuses IMAPISyncProgressCallback. */
static HRESULT STDMETHODCALLTYPE refuse_QueryInterface(IUnknown *This, REFIID riid, void **ppv)
{
    (void)This; (void)riid;
    if (ppv) *ppv = NULL;
    return E_NOINTERFACE;
}
static ULONG STDMETHODCALLTYPE refuse_AddRef(IUnknown *This) { (void)This; return 2; }
static ULONG STDMETHODCALLTYPE refuse_Release(IUnknown *This) { (void)This; return 1; }
#ifdef _WIN32
static IUnknownVtbl refuse_vtbl = {refuse_QueryInterface, refuse_AddRef, refuse_Release};
#else
static const IUnknownVtbl refuse_vtbl = {refuse_QueryInterface, refuse_AddRef, refuse_Release};
#endif
static IUnknown refusing = {&refuse_vtbl};

/* Each synchronous rejection of rule 2. `which`: 0 NULL psibpb, 1 short ulSize, 2 NULL
 * phSyncDoneEvent, 3 NULL punkCallBack, 4 an unknown flag, 5 a callback without the interface.
 * Checks that nothing was called, written or kept. */
TEST_API HRESULT sync_host_reject(IUnknown *provider, int which, sync_report *r)
{
    HostCallback c;
    Session session;
    IMAPISync *sync = NULL;
    MAPISIB sib;
    HANDLE sentinel = (HANDLE)(size_t)0x5A5A, handle = sentinel;
    memset(r, 0, sizeof *r);
    callback_init(&c, &session, r, 0, 0);
    r->sync_hr = provider->lpVtbl->QueryInterface(provider, &IID_IMAPISync, (void **)&sync);
    if (FAILED(r->sync_hr)) return r->sync_hr;
    memset(&sib, 0, sizeof sib);
    sib.ulSize = sizeof sib;
    sib.ulFlags = SYNC_DOWNLOAD_CONTENTS;
    sib.psesSync = (struct IMAPISession *)&session.itf;
    sib.punkCallBack = (IUnknown *)&c.itf;
    sib.phSyncDoneEvent = &handle;
    switch (which) {
    case 1: sib.ulSize = sizeof sib - 1; break;
    case 2: sib.phSyncDoneEvent = NULL; break;
    case 3: sib.punkCallBack = NULL; break;
    case 4: sib.ulFlags |= 0x4; break;
    case 5: sib.punkCallBack = &refusing; break;
    default: break;
    }
    r->sync_hr = sync->lpVtbl->SynchronizeInBackground(sync, which == 0 ? NULL : &sib);
    sync->lpVtbl->Release(sync);
    r->handle_touched = handle != sentinel;
    r->refs_left = (int)c.refs - 1;
    r->session_refs_left = (int)session.refs - 1;
    test_lock_free(&c.lock);
    return r->sync_hr;
}

/* n syncs at once on one provider, each started from its own native thread. */
typedef struct { IUnknown *provider; int cancel_at; sync_report *report; } concurrent_arg;
#define MAX_CONCURRENT 128

static void concurrent_body(void *p)
{
    concurrent_arg *a = (concurrent_arg *)p;
    sync_host_run(a->provider, SYNC_DOWNLOAD_CONTENTS, a->cancel_at, 0, 30000, a->report);
}

/* cancel_ats: one cancel point per sync (NULL: `cancel_at` for all). */
TEST_API int sync_host_concurrent_each(IUnknown *provider, int n, const int *cancel_ats, int cancel_at,
                                       sync_report *reports)
{
    test_thread threads[MAX_CONCURRENT];
    concurrent_arg args[MAX_CONCURRENT];
    int i, started = 0;
    if (n > MAX_CONCURRENT) n = MAX_CONCURRENT;
    for (i = 0; i < n; i++) {
        args[i].provider = provider;
        args[i].cancel_at = cancel_ats ? cancel_ats[i] : cancel_at;
        args[i].report = &reports[i];
        if (!test_thread_run(&threads[i], concurrent_body, &args[i])) break;
        started++;
    }
    for (i = 0; i < started; i++) test_thread_join(threads[i]);
    return started;
}

TEST_API int sync_host_concurrent(IUnknown *provider, int n, int cancel_at, sync_report *reports)
{
    return sync_host_concurrent_each(provider, n, NULL, cancel_at, reports);
}

/* One sync on a detached host thread; returns at once. The report fills in as it runs. */
typedef struct { IUnknown *provider; sync_report *report; } start_arg;

static void start_body(void *p)
{
    start_arg a = *(start_arg *)p;
    free(p);
    sync_host_run(a.provider, SYNC_DOWNLOAD_CONTENTS, 0, 0, 60000, a.report);
}

TEST_API int sync_host_start(IUnknown *provider, sync_report *report)
{
    start_arg *a = (start_arg *)malloc(sizeof *a);
    test_thread t;
    if (!a) return 0;
    a->provider = provider;
    a->report = report;
    if (!test_thread_run(&t, start_body, a)) { free(a); return 0; }
    test_thread_detach(t);
    return 1;
}
