/* A minimal native host for the embedding examples: runs one background sync on an IMAPISync
 * with a callback that prints each report, waits on the done handle and closes it. */
#ifndef PRINT_SYNC_H
#define PRINT_SYNC_H

#include "mapisync.h"
#include "mapisync_done.h"
#include <stdio.h>
#include <string.h>

static void print_text(const WCHAR *text)
{
    for (; text && *text; text++) putchar(*text < 128 ? (char)*text : '?');
}

static HRESULT STDMETHODCALLTYPE cb_QueryInterface(IMAPISyncProgressCallback *This, REFIID riid, void **ppv)
{
    if (!ppv) return E_POINTER;
    *ppv = NULL;
    if (!riid || (!IsEqualIID(riid, &IID_IUnknown) && !IsEqualIID(riid, &IID_IMAPISyncProgressCallback)))
        return E_NOINTERFACE;
    *ppv = This;  /* lives on main()'s stack for the whole sync: no counting needed */
    return S_OK;
}
static ULONG STDMETHODCALLTYPE cb_AddRef(IMAPISyncProgressCallback *This) { (void)This; return 2; }
static ULONG STDMETHODCALLTYPE cb_Release(IMAPISyncProgressCallback *This) { (void)This; return 1; }
static HRESULT STDMETHODCALLTYPE cb_Progress(IMAPISyncProgressCallback *This, const WCHAR *text, ULONG i, ULONG n)
{
    (void)This;
    printf("  progress %lu/%lu  ", (unsigned long)i, (unsigned long)n);
    print_text(text);
    putchar('\n');
    return S_OK;
}
static HRESULT STDMETHODCALLTYPE cb_Error(IMAPISyncProgressCallback *This, HRESULT hr, const WCHAR *text)
{
    (void)This;
    printf("  error 0x%08lX  ", (unsigned long)(ULONG)hr);
    print_text(text);
    putchar('\n');
    return S_OK;
}
static HRESULT done_hr = E_UNEXPECTED;  /* until Done says otherwise */
static HRESULT STDMETHODCALLTYPE cb_Done(IMAPISyncProgressCallback *This, HANDLE handle, HRESULT hr)
{
    (void)This; (void)handle;
    done_hr = hr;
    return S_OK;
}
static const IMAPISyncProgressCallbackVtbl print_vtbl = {cb_QueryInterface, cb_AddRef, cb_Release,
                                                         cb_Progress, cb_Error, cb_Done};

/* SynchronizeInBackground, wait for the done handle, close it; returns what Done carried. */
static HRESULT print_sync(IMAPISync *sync)
{
    IMAPISyncProgressCallback callback = {&print_vtbl};
    HANDLE handle = NULL;
    MAPISIB sib;
    HRESULT hr;
    memset(&sib, 0, sizeof sib);
    sib.ulSize = sizeof sib;
    sib.ulFlags = SYNC_DOWNLOAD_HIERARCHY | SYNC_DOWNLOAD_CONTENTS;
    sib.punkCallBack = (IUnknown *)&callback;
    sib.phSyncDoneEvent = &handle;
    hr = sync->lpVtbl->SynchronizeInBackground(sync, &sib);
    if (FAILED(hr)) return hr;
    MapiSyncDoneWait(handle, -1);
    MapiSyncDoneClose(handle);
    return done_hr;
}

#endif
