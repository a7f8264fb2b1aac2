/*
 * A C program that embeds Python through include/mapisync_python.h (compiled in, bound to
 * libpython at run time). Used by tests/test_embedding.py:
 *
 *   embed_host run SPEC       4 host threads sync at once against the Python provider, then
 *                             shutdown; calls on a still-held object must return E_UNEXPECTED
 *   embed_host error SPEC IID create only ("sync" or "callback"), print hr and text, shutdown
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

int main(int argc, char **argv)
{
    int rc;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "run") == 0) rc = run(argv[2]);
    else if (argc >= 4 && strcmp(argv[1], "error") == 0) rc = error_case(argv[2], argv[3]);
    else { fprintf(stderr, "usage: embed_host run SPEC | error SPEC sync|callback\n"); rc = 2; }
    return rc;
}
