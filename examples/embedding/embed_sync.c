/*
 * A C program that gets a Python provider through the embedding C API and syncs it.
 *
 *   inc=$(mapisync info --include) examples=$(mapisync info --examples)
 *   cc -I"$inc" "$examples/embedding/embed_sync.c" "$inc/mapisync_python.c" -pthread -ldl -o embed_sync
 *   MAPISYNC_PYTHON=$(mapisync info --python-library) ./embed_sync mapisync_ctypes.sample:create
 */
#include "mapisync_python.h"
#include "print_sync.h"

int main(int argc, char **argv)
{
    const char *spec = argc > 1 ? argv[1] : "mapisync_ctypes.sample:create";
    IMAPISync *sync = NULL;
    HRESULT hr = MapiSyncCreateFromPython(spec, &IID_IMAPISync, (void **)&sync);
    if (FAILED(hr)) {
        printf("MapiSyncCreateFromPython(%s) failed: 0x%08lX %s\n", spec, (unsigned long)(ULONG)hr,
               MapiSyncPythonError());
        return 1;
    }
    printf("C program: syncing the Python provider %s\n", spec);
    hr = print_sync(sync);
    printf("Done: 0x%08lX\n", (unsigned long)(ULONG)hr);
    sync->lpVtbl->Release(sync);
    MapiSyncShutdownPython();
    return FAILED(hr) ? 1 : 0;
}
