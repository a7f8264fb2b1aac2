/*
 * A C MAPI host for the tests: it drives COM objects (the Python ones, in the tests)
 * through raw interface pointers and vtables, exactly as native code would.
 * Functions return the number of failed checks and describe them in msg.
 */
#include "testsupport.h"

#define QI(p, iid, out) ((IUnknown *)(p))->lpVtbl->QueryInterface((IUnknown *)(p), (iid), (void **)(out))
#define ADDREF(p) ((IUnknown *)(p))->lpVtbl->AddRef((IUnknown *)(p))
#define RELEASE(p) ((IUnknown *)(p))->lpVtbl->Release((IUnknown *)(p))
#define GARBAGE ((void *)(size_t)0xDEADBEEF)

/* Every IUnknown rule: identity, reflexive, symmetric, transitive, failures, counts.
 * iids: the interfaces the object implements (besides IUnknown); absent: one it does not. */
TEST_API int host_check_iunknown(IUnknown *obj, const IID *iids, int n_iids, const IID *absent,
                                 char *msg, size_t len)
{
    test_report r = {msg, len, 0, 0};
    IUnknown *identity = NULL, *again = NULL;
    HRESULT hr;
    ULONG start, count;
    int i, j, k;

    /* AddRef and Release return the new count */
    start = ADDREF(obj);
    TEST_CHECK(&r, start >= 2, "AddRef returned %lu, expected >= 2 while the caller holds one", (unsigned long)start);
    count = ADDREF(obj);
    TEST_CHECK(&r, count == start + 1, "second AddRef returned %lu, expected %lu", (unsigned long)count, (unsigned long)start + 1);
    count = RELEASE(obj);
    TEST_CHECK(&r, count == start, "Release returned %lu, expected %lu", (unsigned long)count, (unsigned long)start);
    count = RELEASE(obj);
    TEST_CHECK(&r, count == start - 1, "Release returned %lu, expected %lu", (unsigned long)count, (unsigned long)start - 1);

    /* identity: IID_IUnknown always gives the same pointer */
    hr = QI(obj, &IID_IUnknown, &identity);
    TEST_CHECK(&r, hr == S_OK && identity != NULL, "QI(IUnknown) failed: 0x%08lx", (unsigned long)(ULONG)hr);
    if (!identity) return r.failures;
    hr = QI(obj, &IID_IUnknown, &again);
    TEST_CHECK(&r, hr == S_OK && again == identity, "QI(IUnknown) twice gave %p and %p", (void *)identity, (void *)again);
    if (again) RELEASE(again);

    for (i = 0; i < n_iids; i++) {
        void *pi = NULL, *self = NULL, *unk = NULL;
        hr = QI(obj, &iids[i], &pi);
        TEST_CHECK(&r, hr == S_OK && pi != NULL, "QI(iid %d) failed: 0x%08lx", i, (unsigned long)(ULONG)hr);
        if (!pi) continue;
        /* reflexive */
        hr = QI(pi, &iids[i], &self);
        TEST_CHECK(&r, hr == S_OK && self != NULL, "reflexive QI(iid %d) on itself failed: 0x%08lx", i, (unsigned long)(ULONG)hr);
        if (self) RELEASE(self);
        /* every interface leads to the one identity */
        hr = QI(pi, &IID_IUnknown, &unk);
        TEST_CHECK(&r, hr == S_OK && unk == identity, "QI(IUnknown) via iid %d gave %p, identity is %p", i, unk, (void *)identity);
        if (unk) RELEASE(unk);
        for (j = 0; j < n_iids; j++) {
            void *pj = NULL, *back = NULL;
            hr = QI(pi, &iids[j], &pj);
            TEST_CHECK(&r, hr == S_OK && pj != NULL, "QI(iid %d) via iid %d failed: 0x%08lx", j, i, (unsigned long)(ULONG)hr);
            if (!pj) continue;
            /* symmetric */
            hr = QI(pj, &iids[i], &back);
            TEST_CHECK(&r, hr == S_OK && back != NULL, "symmetric QI(iid %d) back from iid %d failed", i, j);
            if (back) RELEASE(back);
            /* transitive */
            for (k = 0; k < n_iids; k++) {
                void *pk = NULL, *pk_direct = NULL;
                hr = QI(pj, &iids[k], &pk);
                TEST_CHECK(&r, hr == S_OK && pk != NULL, "transitive QI %d->%d->%d failed", i, j, k);
                hr = QI(obj, &iids[k], &pk_direct);
                TEST_CHECK(&r, hr == S_OK && pk_direct != NULL, "QI(iid %d) from the object failed", k);
                if (pk) RELEASE(pk);
                if (pk_direct) RELEASE(pk_direct);
            }
            RELEASE(pj);
        }
        RELEASE(pi);
    }

    if (absent) {
        void *out = GARBAGE;
        hr = QI(obj, absent, &out);
        TEST_CHECK(&r, hr == E_NOINTERFACE, "QI(absent iid) returned 0x%08lx, expected E_NOINTERFACE", (unsigned long)(ULONG)hr);
        TEST_CHECK(&r, out == NULL, "QI(absent iid) left *ppv = %p, expected NULL", out);
    }
    {
        hr = obj->lpVtbl->QueryInterface(obj, &IID_IUnknown, NULL);
        TEST_CHECK(&r, hr == E_POINTER, "QI with NULL ppv returned 0x%08lx, expected E_POINTER", (unsigned long)(ULONG)hr);
    }
    {
        void *out = GARBAGE;
        hr = obj->lpVtbl->QueryInterface(obj, NULL, &out);
        TEST_CHECK(&r, FAILED(hr), "QI with NULL riid returned 0x%08lx, expected a failure", (unsigned long)(ULONG)hr);
        TEST_CHECK(&r, out == NULL, "QI with NULL riid left *ppv = %p", out);
    }

    /* the count is back where it started */
    RELEASE(identity);
    count = ADDREF(obj);
    TEST_CHECK(&r, count == start, "count after the checks is %lu, expected %lu", (unsigned long)count, (unsigned long)start);
    RELEASE(obj);
    return r.failures;
}

/* ---- AddRef/Release from many native threads at once */
typedef struct {
    IUnknown *obj;
    int iterations;
    volatile long *go;
    volatile long bad;
} hammer_arg;

static void hammer_body(void *p)
{
    hammer_arg *a = (hammer_arg *)p;
    int i;
    while (!*a->go) { /* start together */ }
    for (i = 0; i < a->iterations; i++) {
        ULONG up = ADDREF(a->obj);
        ULONG down = RELEASE(a->obj);
        if (up < 2 || down < 1) a->bad++;
    }
}

/* n_threads threads each run AddRef/Release pairs; returns failures. */
TEST_API int host_hammer_refcount(IUnknown *obj, int n_threads, int iterations, char *msg, size_t len)
{
    test_report r = {msg, len, 0, 0};
    test_thread threads[64];
    static hammer_arg args[64];
    volatile long go = 0;
    ULONG before, after;
    int i, started = 0;

    if (n_threads > 64) n_threads = 64;
    before = ADDREF(obj);
    RELEASE(obj);
    for (i = 0; i < n_threads; i++) {
        args[i].obj = obj;
        args[i].iterations = iterations;
        args[i].go = &go;
        args[i].bad = 0;
        if (test_thread_run(&threads[i], hammer_body, &args[i])) started++;
        else { test_fail(&r, "could not start thread %d", i); break; }
    }
    test_atomic_inc(&go);
    for (i = 0; i < started; i++) {
        test_thread_join(threads[i]);
        TEST_CHECK(&r, args[i].bad == 0, "thread %d saw %ld impossible counts", i, args[i].bad);
    }
    after = ADDREF(obj);
    RELEASE(obj);
    TEST_CHECK(&r, after == before, "count before %lu, after %lu", (unsigned long)before, (unsigned long)after);
    return r.failures;
}

/* ---- method calls, one at a time, so tests can check what Python received */
TEST_API HRESULT host_sync(IMAPISync *sync, MAPISIB *sib)
{
    return sync->lpVtbl->SynchronizeInBackground(sync, sib);
}

TEST_API HRESULT host_progress(IMAPISyncProgressCallback *cb, const WCHAR *text, ULONG index, ULONG max)
{
    return cb->lpVtbl->Progress(cb, text, index, max);
}

TEST_API HRESULT host_error(IMAPISyncProgressCallback *cb, HRESULT hr, const WCHAR *text)
{
    return cb->lpVtbl->Error(cb, hr, text);
}

TEST_API HRESULT host_done(IMAPISyncProgressCallback *cb, HANDLE handle, HRESULT hr)
{
    return cb->lpVtbl->Done(cb, handle, hr);
}

/* Literal texts from C: ASCII, a non-BMP pair, a lone surrogate, empty, NULL. */
TEST_API int host_progress_texts(IMAPISyncProgressCallback *cb, HRESULT *results)
{
    static const WCHAR ascii[] = {'I', 'n', 'b', 'o', 'x', 0};
    static const WCHAR pair[] = {'a', 0xD83D, 0xDE00, 'b', 0};   /* U+1F600 */
    static const WCHAR lone[] = {'x', 0xD800, 'y', 0};
    static const WCHAR empty[] = {0};
    const WCHAR *texts[] = {ascii, pair, lone, empty, NULL};
    int i;
    for (i = 0; i < 5; i++)
        results[i] = cb->lpVtbl->Progress(cb, texts[i], (ULONG)i, i == 4 ? 0xFFFFFFFFu : 4u);
    return 5;
}

/* ---- calls from threads Python never created */
typedef struct {
    IMAPISyncProgressCallback *cb;
    int thread, calls;
    volatile long *go;
    volatile long failed;
} progress_arg;

static void progress_body(void *p)
{
    progress_arg *a = (progress_arg *)p;
    WCHAR text[32];
    int i;
    while (!*a->go) { }
    for (i = 0; i < a->calls; i++) {
        char tmp[32];
        int n = snprintf(tmp, sizeof tmp, "t%d", a->thread), c;
        for (c = 0; c <= n; c++) text[c] = (WCHAR)(unsigned char)tmp[c];
        if (a->cb->lpVtbl->Progress(a->cb, text, (ULONG)i, (ULONG)a->calls) != S_OK) a->failed++;
    }
}

/* n_threads native threads each call Progress `calls` times with text "t<thread>". */
TEST_API int host_progress_threads(IMAPISyncProgressCallback *cb, int n_threads, int calls)
{
    test_thread threads[64];
    progress_arg args[64];
    volatile long go = 0;
    int i, started = 0, failed = 0;
    if (n_threads > 64) n_threads = 64;
    for (i = 0; i < n_threads; i++) {
        args[i].cb = cb; args[i].thread = i; args[i].calls = calls; args[i].go = &go; args[i].failed = 0;
        if (!test_thread_run(&threads[i], progress_body, &args[i])) return -1;
        started++;
    }
    test_atomic_inc(&go);
    for (i = 0; i < started; i++) {
        test_thread_join(threads[i]);
        failed += (int)args[i].failed;
    }
    return failed;
}

/* `threads` short-lived native threads, one after another (`at_once` at a time), each calling
 * Progress `calls` times: the kept thread states must go away with their threads. Returns the
 * number of calls that did not return S_OK, or -1 if a thread could not start. */
TEST_API int host_short_threads(IMAPISyncProgressCallback *cb, int threads, int calls, int at_once)
{
    test_thread batch[16];
    progress_arg args[16];
    volatile long go = 1;
    int done = 0, failed = 0, i, n;
    if (at_once < 1 || at_once > 16) at_once = 1;
    while (done < threads) {
        n = threads - done < at_once ? threads - done : at_once;
        for (i = 0; i < n; i++) {
            args[i].cb = cb; args[i].thread = done + i; args[i].calls = calls; args[i].go = &go; args[i].failed = 0;
            if (!test_thread_run(&batch[i], progress_body, &args[i])) return -1;
        }
        for (i = 0; i < n; i++) {
            test_thread_join(batch[i]);
            failed += (int)args[i].failed;
        }
        done += n;
    }
    return failed;
}

/* One Error call on a new native thread; returns what it returned. */
typedef struct { IMAPISyncProgressCallback *cb; HRESULT in, out; } error_arg;
static void error_body(void *p)
{
    static const WCHAR text[] = {'o', 'f', 'f', 'l', 'i', 'n', 'e', 0};
    error_arg *a = (error_arg *)p;
    a->out = a->cb->lpVtbl->Error(a->cb, a->in, text);
}

TEST_API HRESULT host_error_on_new_thread(IMAPISyncProgressCallback *cb, HRESULT hr)
{
    test_thread t;
    error_arg a;
    a.cb = cb; a.in = hr; a.out = S_OK;
    if (!test_thread_run(&t, error_body, &a)) return E_FAIL;
    test_thread_join(t);
    return a.out;
}

/* A detached native thread that calls Progress for ever, through interpreter shutdown.
 * It prints each change of the returned HRESULT to stderr, for a test to read after the
 * process has exited. */
static void spin_body(void *p)
{
    static const WCHAR text[] = {'s', 'p', 'i', 'n', 0};
    IMAPISyncProgressCallback *cb = (IMAPISyncProgressCallback *)p;
    HRESULT last = 1;  /* S_FALSE: nothing seen yet */
    ULONG i;
    for (i = 0;; i++) {
        HRESULT hr = cb->lpVtbl->Progress(cb, text, i, 0);
        if (hr != last) {
            fprintf(stderr, "spin hr=0x%08lx after %lu calls\n", (unsigned long)(ULONG)hr, (unsigned long)i);
            fflush(stderr);
            last = hr;
        }
    }
}

TEST_API int host_spin_progress(IMAPISyncProgressCallback *cb)
{
    test_thread t;
    if (!test_thread_run(&t, spin_body, cb)) return 0;
    test_thread_detach(t);
    return 1;
}

/* On 32-bit x86: n rounds of every method (QueryInterface, AddRef, Release, Progress, Error,
 * Done), counting the calls after which the stack pointer moved. A stdcall callee pops its
 * arguments; one built as cdecl does not, which moves ESP (or crashes). The frame pointer
 * keeps this function itself able to return either way. Returns -1 where there is only one
 * calling convention. */
#if defined(__i386__) && defined(__GNUC__)
#  define BALANCED(bad, call) do { unsigned before_, after_; \
        __asm__ volatile("movl %%esp, %0" : "=r"(before_)); call; \
        __asm__ volatile("movl %%esp, %0" : "=r"(after_)); if (before_ != after_) (bad)++; } while (0)
__attribute__((optimize("no-omit-frame-pointer")))
#endif
TEST_API int host_stack_balance(IMAPISyncProgressCallback *cb, int n)
{
#if defined(__i386__) && defined(__GNUC__)
    int bad = 0, i;
    for (i = 0; i < n; i++) {
        void *out = NULL;
        HRESULT hr = S_OK;
        BALANCED(bad, hr = cb->lpVtbl->QueryInterface(cb, &IID_IUnknown, &out));
        if (SUCCEEDED(hr) && out) BALANCED(bad, ((IUnknown *)out)->lpVtbl->Release((IUnknown *)out));
        BALANCED(bad, cb->lpVtbl->AddRef(cb));
        BALANCED(bad, cb->lpVtbl->Release(cb));
        BALANCED(bad, cb->lpVtbl->Progress(cb, NULL, (ULONG)i, (ULONG)n));
        BALANCED(bad, cb->lpVtbl->Error(cb, E_FAIL, NULL));
        BALANCED(bad, cb->lpVtbl->Done(cb, NULL, S_OK));
    }
    return bad;
#else
    (void)cb;
    (void)n;
    return -1;
#endif
}

/* Called through ctypes.PyDLL, so the caller keeps the GIL: a native thread runs `pairs`
 * AddRef/Release pairs and a QueryInterface on `obj`. Returns 1 if it finished within
 * timeout_ms, 0 if it is stuck (waiting for the GIL, say); it never deadlocks the caller. */
typedef struct { IUnknown *obj; int pairs; volatile long done; HRESULT qi; } gil_arg;

static void gil_body(void *p)
{
    gil_arg *a = (gil_arg *)p;
    IUnknown *again = NULL;
    int i;
    for (i = 0; i < a->pairs; i++) {
        ADDREF(a->obj);
        RELEASE(a->obj);
    }
    a->qi = QI(a->obj, &IID_IUnknown, &again);
    if (again) RELEASE(again);
    test_atomic_inc(&a->done);
}

TEST_API int host_refcount_without_gil(IUnknown *obj, int pairs, int timeout_ms, HRESULT *qi)
{
    static gil_arg a;  /* static: a stuck thread may outlive this call */
    test_thread t;
    int waited;
    a.obj = obj; a.pairs = pairs; a.done = 0; a.qi = E_FAIL;
    if (!test_thread_run(&t, gil_body, &a)) return -1;
    for (waited = 0; !a.done && waited < timeout_ms; waited += 1) test_sleep_ms(1);
    if (!a.done) { test_thread_detach(t); return 0; }
    test_thread_join(t);
    *qi = a.qi;
    return 1;
}

/* Release `times` times; returns the last count. For lifetime and past-zero tests. */
TEST_API ULONG host_release(IUnknown *obj, int times)
{
    ULONG last = 0;
    int i;
    for (i = 0; i < times; i++) last = RELEASE(obj);
    return last;
}

/* MAPISIB from raw bytes (a fuzzer's), called exactly as given. */
TEST_API HRESULT host_sync_bytes(IMAPISync *sync, const unsigned char *bytes, size_t size, int null_block)
{
    MAPISIB *block = NULL;
    HRESULT hr;
    if (!null_block) {
        block = (MAPISIB *)calloc(1, size > sizeof(MAPISIB) ? size : sizeof(MAPISIB));
        if (!block) return E_OUTOFMEMORY;
        memcpy(block, bytes, size);
    }
    hr = sync->lpVtbl->SynchronizeInBackground(sync, block);
    free(block);
    return hr;
}

TEST_API ULONG host_addref(IUnknown *obj)
{
    return ADDREF(obj);
}

TEST_API HRESULT host_query(IUnknown *obj, const IID *iid, void **out)
{
    return QI(obj, iid, out);
}

/* ---- the layout of every declaration, as this compiler sees include/mapisync.h */
#define EMIT(...) do { int n_ = snprintf(p, (size_t)(end - p), __VA_ARGS__); if (n_ > 0) p += n_; } while (0)
#define SIZEOF(T) EMIT("sizeof %s %u\n", #T, (unsigned)sizeof(T))
#define OFF(T, f) EMIT("offsetof %s.%s %u\n", #T, #f, (unsigned)offsetof(T, f))
#define VALUE(name) EMIT("value %s %lld\n", #name, (long long)(name))
#define GUIDV(name) EMIT("guid %s {%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}\n", #name, \
    (unsigned long)name.Data1, name.Data2, name.Data3, name.Data4[0], name.Data4[1], name.Data4[2], \
    name.Data4[3], name.Data4[4], name.Data4[5], name.Data4[6], name.Data4[7])

TEST_API const char *host_layout(void)
{
    static char text[8192];
    char *p = text, *end = text + sizeof text;
    SIZEOF(ULONG); SIZEOF(HRESULT); SIZEOF(WCHAR); SIZEOF(HANDLE); EMIT("sizeof pointer %u\n", (unsigned)sizeof(void *));
    SIZEOF(GUID); OFF(GUID, Data1); OFF(GUID, Data2); OFF(GUID, Data3); OFF(GUID, Data4);
    SIZEOF(MAPISIB); OFF(MAPISIB, ulSize); OFF(MAPISIB, ulFlags); OFF(MAPISIB, psesSync);
    OFF(MAPISIB, punkCallBack); OFF(MAPISIB, phSyncDoneEvent);
    SIZEOF(IUnknownVtbl); OFF(IUnknownVtbl, QueryInterface); OFF(IUnknownVtbl, AddRef); OFF(IUnknownVtbl, Release);
    SIZEOF(IMAPISyncVtbl); OFF(IMAPISyncVtbl, QueryInterface); OFF(IMAPISyncVtbl, AddRef);
    OFF(IMAPISyncVtbl, Release); OFF(IMAPISyncVtbl, SynchronizeInBackground);
    SIZEOF(IMAPISyncProgressCallbackVtbl); OFF(IMAPISyncProgressCallbackVtbl, QueryInterface);
    OFF(IMAPISyncProgressCallbackVtbl, AddRef); OFF(IMAPISyncProgressCallbackVtbl, Release);
    OFF(IMAPISyncProgressCallbackVtbl, Progress); OFF(IMAPISyncProgressCallbackVtbl, Error);
    OFF(IMAPISyncProgressCallbackVtbl, Done);
    GUIDV(IID_IUnknown); GUIDV(IID_IMAPISync); GUIDV(IID_IMAPISyncProgressCallback);
    VALUE(S_OK); VALUE(S_FALSE); VALUE(E_NOTIMPL); VALUE(E_NOINTERFACE); VALUE(E_POINTER);
    VALUE(E_ABORT); VALUE(E_FAIL); VALUE(E_UNEXPECTED); VALUE(E_OUTOFMEMORY); VALUE(E_INVALIDARG);
    VALUE(MAPI_E_CALL_FAILED); VALUE(MAPI_E_NOT_ENOUGH_MEMORY); VALUE(MAPI_E_INVALID_PARAMETER);
    VALUE(MAPI_E_NO_SUPPORT); VALUE(MAPI_E_UNKNOWN_FLAGS); VALUE(MAPI_E_USER_CANCEL);
    VALUE(MAPI_E_NETWORK_ERROR); VALUE(MAPI_W_PARTIAL_COMPLETION);
    VALUE(SYNC_UPLOAD_HIERARCHY); VALUE(SYNC_DOWNLOAD_HIERARCHY); VALUE(SYNC_UPLOAD_CONTENTS);
    VALUE(SYNC_DOWNLOAD_CONTENTS); VALUE(SYNC_OUTGOING_MAIL); VALUE(SYNC_GLOBAL_HEADERS);
    VALUE(SYNC_ON_DEMAND); VALUE(SYNC_BACKGROUND); VALUE(SYNC_THESE_FOLDERS); VALUE(SYNC_KNOWN_FLAGS);
    return text;
}
