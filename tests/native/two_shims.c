/*
 * Two copies of the provider shim in one process, each a library of its own with its own
 * mapisync_shim.cfg beside it, as a host that installs the shim once per provider has them.
 * One process has one interpreter: whichever copy shuts it down, the other must then fail
 * cleanly (E_UNEXPECTED, NULL) and never start a finalized interpreter again.
 *
 *   two_shims FIRST SECOND        FIRST starts Python, SECOND shares it, FIRST shuts it down
 *
 * Prints "key=value" lines.
 */
#include "testsupport.h"
#include "sync_report.h"
#ifndef _WIN32
#  include <dlfcn.h>
#else
#  include <shellapi.h>
#endif

typedef HRESULT (*factory_fn)(const GUID *riid, void **ppv);
typedef HRESULT (*shutdown_fn)(void);
typedef const char *(*error_fn)(void);
typedef struct { factory_fn get; shutdown_fn shutdown; error_fn error; } shim;

static char **test_argv;

static void *symbol(void *lib, const char *name)
{
#ifdef _WIN32
    FARPROC fn = GetProcAddress((HMODULE)lib, name);
    void *p;
    memcpy(&p, &fn, sizeof p);
    return p;
#else
    return dlsym(lib, name);
#endif
}

static int load(shim *s, int index)
{
    void *lib, *a, *b, *c;
#ifdef _WIN32
    int argc;
    wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);  /* wide: any folder name */
    lib = argv && index < argc ? (void *)LoadLibraryW(argv[index]) : NULL;
#else
    lib = dlopen(test_argv[index], RTLD_NOW | RTLD_LOCAL);
#endif
    if (!lib) return 0;
    a = symbol(lib, "MapiSyncGetObject"); b = symbol(lib, "MapiSyncShutdownPython"); c = symbol(lib, "MapiSyncPythonError");
    memcpy(&s->get, &a, sizeof a); memcpy(&s->shutdown, &b, sizeof b); memcpy(&s->error, &c, sizeof c);
    return s->get && s->shutdown && s->error;
}

static HRESULT create_and_sync(const char *name, shim *s)
{
    IMAPISync *sync = (IMAPISync *)(size_t)1;  /* must come back NULL on failure */
    sync_report r;
    HRESULT hr = s->get(&IID_IMAPISync, (void **)&sync);
    printf("%s_create=0x%08lX null=%d text=%s\n", name, (unsigned long)(ULONG)hr, sync == NULL, s->error());
    if (FAILED(hr) || !sync) return hr;
    memset(&r, 0, sizeof r);
    sync_host_run((IUnknown *)sync, SYNC_DOWNLOAD_CONTENTS, 0, 0, 30000, &r);
    printf("%s_sync=0x%08lX done=0x%08lX signalled=%d\n", name, (unsigned long)(ULONG)r.sync_hr,
           (unsigned long)(ULONG)r.done_hr, r.signalled);
    sync->lpVtbl->Release(sync);
    return r.done_hr;
}

int main(int argc, char **argv)
{
    shim first, second;
    HRESULT hr;
    int bad = 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    test_argv = argv;
    if (argc < 3) { fprintf(stderr, "usage: two_shims FIRST SECOND\n"); return 2; }
    if (!load(&first, 1) || !load(&second, 2)) { printf("load=failed\n"); return 1; }
    bad += create_and_sync("first", &first) != S_OK;
    bad += create_and_sync("second", &second) != S_OK;  /* the same interpreter */
    hr = first.shutdown();
    printf("first_shutdown=0x%08lX\n", (unsigned long)(ULONG)hr);
    bad += hr != S_OK;
    hr = create_and_sync("after", &second);  /* a finalized interpreter is never started again */
    bad += hr != E_UNEXPECTED;
    hr = second.shutdown();
    printf("second_shutdown=0x%08lX\n", (unsigned long)(ULONG)hr);
    bad += hr != S_FALSE;
    printf("result=%s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}
