/*
 * Native COM objects for the tests to call from Python through wrap():
 * - a recording IMAPISyncProgressCallback whose answers the test chooses;
 * - a test-double IMAPISync that validates MAPISIB by the spec's synchronous rules,
 *   keeps the callback, and later reports to it from a native thread.
 */
#include "testsupport.h"

/* ================================================================ recording callback */
enum { EV_PROGRESS = 1, EV_ERROR = 2, EV_DONE = 3, MAX_EVENTS = 256, MAX_TEXT = 64 };

typedef struct {
    int kind;
    int has_text;
    WCHAR text[MAX_TEXT];
    unsigned long long a, b;  /* Progress: index, max; Error: hr; Done: handle, hr */
} cb_event;

typedef struct {
    IMAPISyncProgressCallback itf;
    volatile long refs;
    HRESULT answer;           /* what Progress/Error/Done return */
    test_lock lock;
    int n_events;
    cb_event events[MAX_EVENTS];
} NativeCallback;

static NativeCallback *cb_of(IMAPISyncProgressCallback *This) { return (NativeCallback *)This; }

static HRESULT STDMETHODCALLTYPE cb_QueryInterface(IMAPISyncProgressCallback *This, REFIID riid, void **ppv)
{
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid) return E_INVALIDARG;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPISyncProgressCallback))
        return E_NOINTERFACE;
    test_atomic_inc(&cb_of(This)->refs);
    *ppv = This;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE cb_AddRef(IMAPISyncProgressCallback *This)
{
    return (ULONG)test_atomic_inc(&cb_of(This)->refs);
}

static ULONG STDMETHODCALLTYPE cb_Release(IMAPISyncProgressCallback *This)
{
    long n = test_atomic_dec(&cb_of(This)->refs);
    if (n == 0) {
        test_lock_free(&cb_of(This)->lock);
        free(This);
    }
    return (ULONG)n;
}

static void cb_record(NativeCallback *cb, int kind, const WCHAR *text, unsigned long long a, unsigned long long b)
{
    test_lock_take(&cb->lock);
    if (cb->n_events < MAX_EVENTS) {
        cb_event *e = &cb->events[cb->n_events++];
        int i = 0;
        e->kind = kind;
        e->has_text = text != NULL;
        if (text) for (; i < MAX_TEXT - 1 && text[i]; i++) e->text[i] = text[i];
        e->text[i] = 0;
        e->a = a;
        e->b = b;
    }
    test_lock_give(&cb->lock);
}

static HRESULT STDMETHODCALLTYPE cb_Progress(IMAPISyncProgressCallback *This, const WCHAR *text, ULONG index, ULONG max)
{
    cb_record(cb_of(This), EV_PROGRESS, text, index, max);
    return cb_of(This)->answer;
}

static HRESULT STDMETHODCALLTYPE cb_Error(IMAPISyncProgressCallback *This, HRESULT hr, const WCHAR *text)
{
    cb_record(cb_of(This), EV_ERROR, text, (unsigned long long)(long long)hr, 0);
    return cb_of(This)->answer;
}

static HRESULT STDMETHODCALLTYPE cb_Done(IMAPISyncProgressCallback *This, HANDLE handle, HRESULT hr)
{
    cb_record(cb_of(This), EV_DONE, NULL, (unsigned long long)(size_t)handle, (unsigned long long)(long long)hr);
    return cb_of(This)->answer;
}

static const IMAPISyncProgressCallbackVtbl cb_vtbl = {
    cb_QueryInterface, cb_AddRef, cb_Release, cb_Progress, cb_Error, cb_Done,
};

/* A new recording callback with one reference, answering `answer` to every method. */
TEST_API IMAPISyncProgressCallback *native_callback_new(HRESULT answer)
{
    NativeCallback *cb = (NativeCallback *)calloc(1, sizeof *cb);
    if (!cb) return NULL;
    cb->itf.lpVtbl = &cb_vtbl;
    cb->refs = 1;
    cb->answer = answer;
    test_lock_init(&cb->lock);
    return &cb->itf;
}

TEST_API long native_refs(IUnknown *obj_any)
{
    /* both native objects keep the count right after the interface pointer */
    return ((NativeCallback *)obj_any)->refs;
}

TEST_API int native_callback_events(IMAPISyncProgressCallback *This)
{
    NativeCallback *cb = cb_of(This);
    int n;
    test_lock_take(&cb->lock);
    n = cb->n_events;
    test_lock_give(&cb->lock);
    return n;
}

/* Event i: its kind, its text (NULL if none) and its two numbers. */
TEST_API int native_callback_event(IMAPISyncProgressCallback *This, int i, const WCHAR **text,
                                   unsigned long long *a, unsigned long long *b)
{
    NativeCallback *cb = cb_of(This);
    if (i < 0 || i >= cb->n_events) return 0;
    *text = cb->events[i].has_text ? cb->events[i].text : NULL;
    *a = cb->events[i].a;
    *b = cb->events[i].b;
    return cb->events[i].kind;
}

/* ================================================================ test-double IMAPISync */
typedef struct {
    IMAPISync itf;
    volatile long refs;
    test_lock lock;
    IMAPISyncProgressCallback *callback; /* held from SynchronizeInBackground until run */
    IUnknown *session;
    HANDLE handle;
    ULONG flags, size;
    int started;
} NativeSync;

static NativeSync *sync_of(IMAPISync *This) { return (NativeSync *)This; }

static HRESULT STDMETHODCALLTYPE sync_QueryInterface(IMAPISync *This, REFIID riid, void **ppv)
{
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid) return E_INVALIDARG;
    if (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPISync)) return E_NOINTERFACE;
    test_atomic_inc(&sync_of(This)->refs);
    *ppv = This;
    return S_OK;
}

static ULONG STDMETHODCALLTYPE sync_AddRef(IMAPISync *This)
{
    return (ULONG)test_atomic_inc(&sync_of(This)->refs);
}

static ULONG STDMETHODCALLTYPE sync_Release(IMAPISync *This)
{
    long n = test_atomic_dec(&sync_of(This)->refs);
    if (n == 0) {
        NativeSync *s = sync_of(This);
        if (s->callback) s->callback->lpVtbl->Release(s->callback);
        if (s->session) s->session->lpVtbl->Release(s->session);
        test_lock_free(&s->lock);
        free(s);
    }
    return (ULONG)n;
}

/* The synchronous rules of the spec; the work itself is started by native_sync_run. */
static HRESULT STDMETHODCALLTYPE sync_SynchronizeInBackground(IMAPISync *This, MAPISIB *sib)
{
    NativeSync *s = sync_of(This);
    IMAPISyncProgressCallback *cb = NULL;
    HRESULT hr;
    if (!sib || sib->ulSize < sizeof(MAPISIB) || !sib->phSyncDoneEvent || !sib->punkCallBack)
        return E_INVALIDARG;
    if (sib->ulFlags & ~(ULONG)SYNC_KNOWN_FLAGS) return MAPI_E_UNKNOWN_FLAGS;
    hr = sib->punkCallBack->lpVtbl->QueryInterface(sib->punkCallBack, &IID_IMAPISyncProgressCallback, (void **)&cb);
    if (FAILED(hr)) return hr;
    if (!cb) return E_POINTER;
    test_lock_take(&s->lock);
    if (s->callback) {  /* the double runs one sync at a time */
        test_lock_give(&s->lock);
        cb->lpVtbl->Release(cb);
        return E_UNEXPECTED;
    }
    s->callback = cb;
    s->session = (IUnknown *)sib->psesSync;
    if (s->session) s->session->lpVtbl->AddRef(s->session);
    s->flags = sib->ulFlags;
    s->size = sib->ulSize;
    s->handle = (HANDLE)(size_t)(0x5EC0 + ++s->started);
    *sib->phSyncDoneEvent = s->handle;
    test_lock_give(&s->lock);
    return S_OK;
}

static const IMAPISyncVtbl sync_vtbl = {
    sync_QueryInterface, sync_AddRef, sync_Release, sync_SynchronizeInBackground,
};

TEST_API IMAPISync *native_sync_new(void)
{
    NativeSync *s = (NativeSync *)calloc(1, sizeof *s);
    if (!s) return NULL;
    s->itf.lpVtbl = &sync_vtbl;
    s->refs = 1;
    test_lock_init(&s->lock);
    return &s->itf;
}

/* What the last successful SynchronizeInBackground received. */
TEST_API int native_sync_last(IMAPISync *This, ULONG *flags, ULONG *size, int *has_session)
{
    NativeSync *s = sync_of(This);
    *flags = s->flags;
    *size = s->size;
    *has_session = s->session != NULL;
    return s->started;
}

typedef struct { NativeSync *s; int progress_calls; HRESULT done_hr; HRESULT first_failure; } run_arg;

static void sync_body(void *p)
{
    static const WCHAR text[] = {'f', 'o', 'l', 'd', 'e', 'r', 0};
    run_arg *a = (run_arg *)p;
    NativeSync *s = a->s;
    IMAPISyncProgressCallback *cb = s->callback;
    IUnknown *session = s->session;
    HRESULT hr = S_OK;
    int i;
    for (i = 0; i < a->progress_calls && SUCCEEDED(hr); i++)
        hr = cb->lpVtbl->Progress(cb, text, (ULONG)i, (ULONG)a->progress_calls);
    a->first_failure = hr;
    a->done_hr = cb->lpVtbl->Done(cb, s->handle, FAILED(hr) ? hr : S_OK);
    test_lock_take(&s->lock);
    s->callback = NULL;
    s->session = NULL;
    test_lock_give(&s->lock);
    cb->lpVtbl->Release(cb);
    if (session) session->lpVtbl->Release(session);
}

/* Runs the started sync on a new native thread: Progress x n, Done, Release; waits for it.
 * Returns what Done returned; *stopped_by gets the failure that stopped Progress (or S_OK). */
TEST_API HRESULT native_sync_run(IMAPISync *This, int progress_calls, HRESULT *stopped_by)
{
    test_thread t;
    run_arg a;
    if (!sync_of(This)->callback) return E_UNEXPECTED;
    a.s = sync_of(This);
    a.progress_calls = progress_calls;
    a.done_hr = E_FAIL;
    a.first_failure = S_OK;
    if (!test_thread_run(&t, sync_body, &a)) return E_FAIL;
    test_thread_join(t);
    if (stopped_by) *stopped_by = a.first_failure;
    return a.done_hr;
}
