/* A tiny native MAPI host: it gets an IUnknown pointer, asks it for
 * IMAPISyncProgressCallback and reports a sync's progress through the vtable. */
#include <stdio.h>
#include "mapisync.h"

#ifdef _WIN32
#  define EXPORT __declspec(dllexport)
#else
#  define EXPORT
#endif

static const WCHAR folders[3][8] = {
    {'I', 'n', 'b', 'o', 'x', 0}, {'S', 'e', 'n', 't', 0}, {'A', 'r', 'c', 'h', 'i', 'v', 'e', 0},
};

EXPORT HRESULT report_sync(IUnknown *unknown)
{
    IMAPISyncProgressCallback *cb = NULL;
    HRESULT hr = unknown->lpVtbl->QueryInterface(unknown, &IID_IMAPISyncProgressCallback, (void **)&cb);
    ULONG i;
    if (FAILED(hr)) return hr;
    for (i = 0; i < 3 && SUCCEEDED(hr); i++)
        hr = cb->lpVtbl->Progress(cb, folders[i], i + 1, 3);
    if (SUCCEEDED(hr)) {
        static const WCHAR offline[] = {'s', 'e', 'r', 'v', 'e', 'r', ' ', 'o', 'f', 'f', 'l', 'i', 'n', 'e', 0};
        cb->lpVtbl->Error(cb, MAPI_E_NETWORK_ERROR, offline);
    }
    cb->lpVtbl->Done(cb, NULL, hr);
    cb->lpVtbl->Release(cb);
    return hr;
}
