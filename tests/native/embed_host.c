/*
 * A C program that embeds Python through include/mapisync_python.h (compiled in, bound to
 * libpython at run time). Used by tests/test_embedding.py:
 *
 *   embed_host run SPEC       4 host threads sync at once against the Python provider, then
 *                             shutdown; calls on a still-held object must return E_UNEXPECTED
 *   embed_host error SPEC IID create only ("sync" or "callback"), print hr and text, shutdown
 *   embed_host threads SPEC N the first create from N host threads at once (none of them the
 *                             main thread), one sync, then the shutdown from main()
 *   embed_host inflight SPEC  a sync running on a host thread when main() shuts Python down
 *   embed_host outlive SPEC   4 host threads call into Python (each keeps a thread state),
 *                             live on through the shutdown, call again, then end
 *
 * Prints "key=value" lines; exits 0 when every check passed.
 */
#include "testsupport.h"
#include "sync_report.h"
#include "mapisync_python.h"

static int run(const char *spec)
{
    IMAPISync *sync = NULL, *held = NULL;
    sync_report reports[4];
    int i, bad = 0;
    HRESULT hr = MapiSyncCreateFromPython(spec, &IID_IMAPISync, (void **)&sync);
    printf("create=0x%08lX %s\n", (unsigned long)(ULONG)hr, MapiSyncPythonError());
    if (FAILED(hr)) return 1;
    memset(reports, 0, sizeof reports);
    if (sync_host_concurrent((IUnknown *)sync, 4, 0, reports) != 4) bad++;
    for (i = 0; i < 4; i++) {
        sync_report *r = &reports[i];
        int ok = r->sync_hr == S_OK && r->done_hr == S_OK && r->dones == 1 && r->progress > 0 && r->signalled
                 && !r->on_caller_thread && !r->after_done && !r->handle_mismatch && !r->refs_left;
        printf("sync%d=%s progress=%d done=0x%08lX\n", i, ok ? "ok" : "BAD", r->progress, (unsigned long)(ULONG)r->done_hr);
        bad += !ok;
    }
    sync->lpVtbl->QueryInterface(sync, &IID_IMAPISync, (void **)&held);  /* kept past shutdown */
    sync->lpVtbl->Release(sync);
    hr = MapiSyncShutdownPython();
    printf("shutdown=0x%08lX\n", (unsigned long)(ULONG)hr);
    bad += hr != S_OK;
    /* the host still holds `held`: calls must fail cleanly, never enter the dead interpreter */
    hr = held->lpVtbl->SynchronizeInBackground(held, NULL);
    printf("after_shutdown_call=0x%08lX\n", (unsigned long)(ULONG)hr);
    bad += hr != E_UNEXPECTED;
    printf("after_shutdown_addref=%lu\n", (unsigned long)held->lpVtbl->AddRef(held));
    printf("after_shutdown_release=%lu\n", (unsigned long)held->lpVtbl->Release(held));
    hr = MapiSyncCreateFromPython(spec, &IID_IMAPISync, (void **)&sync);
    printf("create_after_shutdown=0x%08lX %s\n", (unsigned long)(ULONG)hr, MapiSyncPythonError());
    bad += hr != E_UNEXPECTED;
    printf("result=%s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}

static int error_case(const char *spec, const char *which)
{
    void *obj = NULL;
    const IID *iid = strcmp(which, "callback") == 0 ? &IID_IMAPISyncProgressCallback : &IID_IMAPISync;
    HRESULT hr = MapiSyncCreateFromPython(spec, iid, &obj);
    printf("create=0x%08lX\n", (unsigned long)(ULONG)hr);
    printf("text=%s\n", MapiSyncPythonError());
    printf("null_out=%d\n", obj == NULL);
    if (obj) ((IUnknown *)obj)->lpVtbl->Release((IUnknown *)obj);
    printf("shutdown=0x%08lX\n", (unsigned long)(ULONG)MapiSyncShutdownPython());
    printf("result=survived\n");
    return 0;
}

/* ---- threads: the first create from worker threads racing, the shutdown from main() */
typedef struct { const char *spec; volatile long *go; HRESULT hr; IMAPISync *sync; } create_arg;

static void create_body(void *p)
{
    create_arg *a = (create_arg *)p;
    while (!*a->go) {}  /* start together */
    a->hr = MapiSyncCreateFromPython(a->spec, &IID_IMAPISync, (void **)&a->sync);
}

static int threads_case(const char *spec, int n)
{
    test_thread threads[16];
    create_arg args[16];
    volatile long go = 0;
    sync_report r;
    double t0;
    int i, started = 0, bad = 0;
    HRESULT hr;
    if (n > 16) n = 16;
    for (i = 0; i < n; i++) {
        args[i].spec = spec; args[i].go = &go; args[i].hr = E_FAIL; args[i].sync = NULL;
        if (test_thread_run(&threads[i], create_body, &args[i])) started++;
    }
    go = 1;
    for (i = 0; i < started; i++) test_thread_join(threads[i]);
    for (i = 0; i < started; i++) {
        printf("create%d=0x%08lX\n", i, (unsigned long)(ULONG)args[i].hr);
        bad += FAILED(args[i].hr) || !args[i].sync;
    }
    if (args[0].sync) {
        memset(&r, 0, sizeof r);
        sync_host_run((IUnknown *)args[0].sync, SYNC_DOWNLOAD_CONTENTS, 0, 0, 30000, &r);
        printf("sync=0x%08lX done=0x%08lX progress=%d\n", (unsigned long)(ULONG)r.sync_hr,
               (unsigned long)(ULONG)r.done_hr, r.progress);
        bad += r.done_hr != S_OK || !r.signalled;
    }
    for (i = 0; i < started; i++) if (args[i].sync) args[i].sync->lpVtbl->Release(args[i].sync);
    t0 = test_now_ms();
    hr = MapiSyncShutdownPython();
    printf("shutdown=0x%08lX ms=%.0f\n", (unsigned long)(ULONG)hr, test_now_ms() - t0);
    bad += hr != S_OK;
    printf("result=%s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}

/* ---- inflight: shut Python down while a sync runs on a host thread */
typedef struct { IMAPISync *sync; sync_report report; } inflight_arg;

static void inflight_body(void *p)
{
    inflight_arg *a = (inflight_arg *)p;
    sync_host_run((IUnknown *)a->sync, SYNC_DOWNLOAD_CONTENTS, 0, 0, 60000, &a->report);
}

static int inflight_case(const char *spec)
{
    inflight_arg a;
    test_thread t;
    double t0, shutdown_ms;
    int waited;
    HRESULT hr;
    memset(&a, 0, sizeof a);
    hr = MapiSyncCreateFromPython(spec, &IID_IMAPISync, (void **)&a.sync);
    printf("create=0x%08lX %s\n", (unsigned long)(ULONG)hr, MapiSyncPythonError());
    if (FAILED(hr) || !test_thread_run(&t, inflight_body, &a)) return 1;
    for (waited = 0; a.report.progress < 1 && waited < 20000; waited += 5) test_sleep_ms(5);
    printf("progress_before_shutdown=%d\n", a.report.progress);
    t0 = test_now_ms();
    hr = MapiSyncShutdownPython();
    shutdown_ms = test_now_ms() - t0;
    test_thread_join(t);  /* the host waited on the done handle: it must have been signalled */
    printf("shutdown=0x%08lX shutdown_ms=%.0f\n", (unsigned long)(ULONG)hr, shutdown_ms);
    printf("done=0x%08lX dones=%d signalled=%d refs_left=%d after_done=%d\n", (unsigned long)(ULONG)a.report.done_hr,
           a.report.dones, a.report.signalled, a.report.refs_left, a.report.after_done);
    a.sync->lpVtbl->Release(a.sync);  /* parked: answers 0 without entering the dead interpreter */
    printf("result=%s\n", hr == S_OK && a.report.dones == 1 && a.report.signalled ? "ok" : "FAILED");
    return 0;
}

/* ---- outlive: host threads that called in (and so have kept thread states) end after the
 * interpreter is gone. Their calls after the shutdown must be E_UNEXPECTED, and their ending
 * must not touch the freed states (valgrind and ASan see it if it does). */
typedef struct { IMAPISync *sync; volatile long *shut; volatile long called; HRESULT before, after; } outlive_arg;

static void outlive_body(void *p)
{
    outlive_arg *a = (outlive_arg *)p;
    int i;
    for (i = 0; i < 3; i++) a->before = a->sync->lpVtbl->SynchronizeInBackground(a->sync, NULL);
    test_atomic_inc(&a->called);
    while (!*a->shut) test_sleep_ms(1);
    a->after = a->sync->lpVtbl->SynchronizeInBackground(a->sync, NULL);
}

static int outlive_case(const char *spec)
{
    test_thread threads[4];
    outlive_arg args[4];
    volatile long shut = 0;
    IMAPISync *sync = NULL;
    int i, waited, bad = 0;
    HRESULT hr = MapiSyncCreateFromPython(spec, &IID_IMAPISync, (void **)&sync);
    printf("create=0x%08lX %s\n", (unsigned long)(ULONG)hr, MapiSyncPythonError());
    if (FAILED(hr)) return 1;
    for (i = 0; i < 4; i++) {
        args[i].sync = sync; args[i].shut = &shut; args[i].called = 0; args[i].before = args[i].after = S_OK;
        if (!test_thread_run(&threads[i], outlive_body, &args[i])) return 1;
    }
    for (i = 0; i < 4; i++)
        for (waited = 0; !args[i].called && waited < 20000; waited += 1) test_sleep_ms(1);
    hr = MapiSyncShutdownPython();
    printf("shutdown=0x%08lX\n", (unsigned long)(ULONG)hr);
    bad += hr != S_OK;
    test_atomic_inc(&shut);
    for (i = 0; i < 4; i++) {
        test_thread_join(threads[i]);  /* each ends after the interpreter */
        printf("thread%d=before=0x%08lX after=0x%08lX\n", i, (unsigned long)(ULONG)args[i].before,
               (unsigned long)(ULONG)args[i].after);
        bad += args[i].before != E_INVALIDARG || args[i].after != E_UNEXPECTED;
    }
    sync->lpVtbl->Release(sync);
    printf("result=%s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "run") == 0) rc = run(argv[2]);
    else if (argc >= 4 && strcmp(argv[1], "error") == 0) rc = error_case(argv[2], argv[3]);
    else if (argc >= 4 && strcmp(argv[1], "threads") == 0) rc = threads_case(argv[2], atoi(argv[3]));
    else if (argc >= 3 && strcmp(argv[1], "inflight") == 0) rc = inflight_case(argv[2]);
    else if (argc >= 3 && strcmp(argv[1], "outlive") == 0) rc = outlive_case(argv[2]);
    else { fprintf(stderr, "usage: embed_host run SPEC | error SPEC sync|callback | threads SPEC N | inflight SPEC"
                           " | outlive SPEC\n"); rc = 2; }
    return rc;
}
