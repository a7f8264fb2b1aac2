/*
 * A native host that knows nothing of Python: it loads a provider library and calls its
 * MapiSyncGetObject, here the mapisync_ctypes shim, which serves a Python provider.
 *
 *   cc -I"$(mapisync info --include)" "$(mapisync info --examples)/embedding/shim_sync.c" -ldl -o shim_sync
 *   MAPISYNC_FACTORY=mapisync_ctypes.sample:create ./shim_sync "$(mapisync info --shim)"
 */
#include "print_sync.h"
#ifndef _WIN32
#  include <dlfcn.h>
#endif

typedef HRESULT (*factory_fn)(const GUID *riid, void **ppv);

int main(int argc, char **argv)
{
    factory_fn factory = NULL;
    IMAPISync *sync = NULL;
    HRESULT hr;
    if (argc < 2) { fprintf(stderr, "usage: shim_sync PROVIDER_LIBRARY\n"); return 2; }
#ifdef _WIN32
    {
        FARPROC fn = GetProcAddress(LoadLibraryA(argv[1]), "MapiSyncGetObject");
        memcpy(&factory, &fn, sizeof factory);
    }
#else
    {
        void *lib = dlopen(argv[1], RTLD_NOW), *fn = lib ? dlsym(lib, "MapiSyncGetObject") : NULL;
        memcpy(&factory, &fn, sizeof factory);
    }
#endif
    if (!factory) { printf("%s exports no MapiSyncGetObject\n", argv[1]); return 1; }
    hr = factory(&IID_IMAPISync, (void **)&sync);
    if (FAILED(hr)) { printf("MapiSyncGetObject failed: 0x%08lX\n", (unsigned long)(ULONG)hr); return 1; }
    printf("native host: syncing the provider in %s\n", argv[1]);
    hr = print_sync(sync);
    printf("Done: 0x%08lX\n", (unsigned long)(ULONG)hr);
    sync->lpVtbl->Release(sync);
    return FAILED(hr) ? 1 : 0;
}
