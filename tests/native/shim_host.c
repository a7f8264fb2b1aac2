/*
 * A plain C MAPI host that knows nothing of Python: no Python headers, no libpython link.
 * It loads a provider library, gets IMAPISync from its MapiSyncGetObject, runs one sync
 * with a native callback (sync_host.c) and prints what it saw.
 *
 *   shim_host LIBRARY          (Windows: the path may hold any character; it is read wide)
 *   shim_host --load-bare NAME  only LoadLibrary(NAME) by a bare name, as a careless host would
 */
#include "testsupport.h"
#include "sync_report.h"
#ifndef _WIN32
#  include <dlfcn.h>
#else
#  include <shellapi.h>
#endif
typedef HRESULT (*factory_fn)(const GUID *riid, void **ppv);

int main(int argc, char **argv)
{
    factory_fn factory;
    IMAPISync *sync = NULL;
    sync_report r;
    HRESULT hr;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: shim_host LIBRARY\n"); return 2; }
#ifdef _WIN32
    if (argc >= 3 && strcmp(argv[1], "--load-bare") == 0) {
        printf("loaded=%d\n", LoadLibraryA(argv[2]) != NULL);
        return 0;
    }
    {
        int wargc;
        wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &wargc);
        HMODULE lib = wargv && wargc >= 2 ? LoadLibraryW(wargv[1]) : NULL;
        FARPROC fn = lib ? GetProcAddress(lib, "MapiSyncGetObject") : NULL;
        memcpy(&factory, &fn, sizeof factory);
    }
#else
    {
        void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL), *fn = lib ? dlsym(lib, "MapiSyncGetObject") : NULL;
        memcpy(&factory, &fn, sizeof factory);
    }
#endif
    if (!factory) { printf("load=failed\n"); return 1; }
    hr = factory(&IID_IMAPISync, (void **)&sync);
    printf("factory=0x%08lX\n", (unsigned long)(ULONG)hr);
    if (FAILED(hr)) return 1;
    sync_host_run((IUnknown *)sync, SYNC_DOWNLOAD_CONTENTS, 0, 0, 30000, &r);
    sync->lpVtbl->Release(sync);
    printf("sync=0x%08lX done=0x%08lX progress=%d errors=%d dones=%d signalled=%d caller_thread=%d "
           "after_done=%d handle_mismatch=%d refs_left=%d session_refs_left=%d\n",
           (unsigned long)(ULONG)r.sync_hr, (unsigned long)(ULONG)r.done_hr, r.progress, r.errors, r.dones,
           r.signalled, r.on_caller_thread, r.after_done, r.handle_mismatch, r.refs_left, r.session_refs_left);
    return (r.sync_hr == S_OK && r.done_hr == S_OK && r.dones == 1 && r.signalled && !r.on_caller_thread &&
            !r.after_done && !r.handle_mismatch && !r.refs_left && !r.session_refs_left) ? 0 : 1;
}
