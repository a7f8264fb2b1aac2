/*
 * mapisync_python.h - get a Python-implemented COM object from a native host.
 *
 *     IMAPISync *sync = NULL;
 *     HRESULT hr = MapiSyncCreateFromPython("mapisync_ctypes.sample:create", &IID_IMAPISync, (void **)&sync);
 *     if (FAILED(hr)) fprintf(stderr, "%s\n", MapiSyncPythonError());
 *     ... use sync from any thread ...
 *     sync->lpVtbl->Release(sync);
 *     MapiSyncShutdownPython();
 *
 * The implementation (mapisync_python.c, beside this header) binds to the Python runtime
 * at run time: it needs no Python headers and no import library, and one build serves any
 * Python 3.9+. Compile it into your host, or load the shim library that mapisync_ctypes
 * installs, which exports these functions and MapiSyncGetObject (see the README).
 *
 * Which Python: the one already running in the process, if any; else the library named
 * by $MAPISYNC_PYTHON (e.g. /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0, or
 * C:\Python313\python313.dll); else the usual names (python3.dll, libpython3.X.so.1.0).
 * That Python must be able to import mapisync_ctypes and the factory's module.
 */
#ifndef MAPISYNC_PYTHON_H
#define MAPISYNC_PYTHON_H

#include "mapisync.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(MAPISYNC_PYTHON_BUILD_DLL)
#  define MAPISYNC_PYTHON_API __declspec(dllexport)
#elif !defined(_WIN32) && defined(MAPISYNC_PYTHON_BUILD_DLL)
#  define MAPISYNC_PYTHON_API __attribute__((visibility("default")))
#else
#  define MAPISYNC_PYTHON_API
#endif

/* HRESULT_FROM_WIN32(ERROR_MOD_NOT_FOUND): the factory's module or name could not be imported. */
#define MAPISYNC_E_PYTHON_IMPORT ((HRESULT)0x8007007EL)

/*
 * Calls the factory named by `spec` ("package.module:factory"), which returns a COMObject,
 * and returns its `riid` interface with one reference in *ppv. Starts the interpreter if
 * the process has none, and leaves the GIL released, so any host thread may call in.
 *
 *   S_OK                       *ppv holds the interface
 *   E_POINTER                  ppv is NULL
 *   E_INVALIDARG               spec or riid is NULL, or spec is not "module:factory"
 *   MAPI_E_NO_SUPPORT          no usable Python runtime was found
 *   MAPISYNC_E_PYTHON_IMPORT   the module, or the factory in it, cannot be imported
 *   E_NOINTERFACE              the object does not implement riid (or is not a COMObject)
 *   E_UNEXPECTED               called after MapiSyncShutdownPython
 *   anything else              the factory raised: COMError(hr) gives hr, other exceptions
 *                              map as for COM methods (ValueError -> E_INVALIDARG, ... E_FAIL)
 * On failure *ppv is NULL and MapiSyncPythonError() says why.
 */
MAPISYNC_PYTHON_API HRESULT MapiSyncCreateFromPython(const char *spec, const IID *riid, void **ppv);

/*
 * Finalizes the interpreter if MapiSyncCreateFromPython started it (S_OK), else leaves it
 * alone (S_FALSE). Before finalizing, every Python COM object's vtable is switched to native
 * stubs: calls that arrive afterwards on objects the host still holds return E_UNEXPECTED
 * (AddRef/Release return 0) and never enter Python. Call it once, at the end.
 */
MAPISYNC_PYTHON_API HRESULT MapiSyncShutdownPython(void);

/* The reason for the last failure on this thread ("" if none). Valid until the next call. */
MAPISYNC_PYTHON_API const char *MapiSyncPythonError(void);

/* Names the Python library to load if the process runs none (before the first create;
 * it takes precedence over $MAPISYNC_PYTHON). */
MAPISYNC_PYTHON_API HRESULT MapiSyncSetPythonLibrary(const char *path);

/* Internal, for mapisync_ctypes: fills `table` with native stubs that return E_UNEXPECTED
 * ([QueryInterface, AddRef/Release, methods of 0..8 argument words]); returns how many. */
MAPISYNC_PYTHON_API int MapiSyncDeadStubs(void **table, int size);

#ifdef __cplusplus
}
#endif

#endif /* MAPISYNC_PYTHON_H */
