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
 * Which Python, in this order:
 *   1. the one already running in the process (a Python program, or a host that embeds one);
 *   2. the library named by MapiSyncSetPythonLibrary, the shim's config file (python = ...)
 *      or $MAPISYNC_PYTHON; on Windows it must be a full path (UTF-8 here, read wide);
 *   3. Windows: the newest CPython 3.9+ registered under PEP 514 (HKCU, then HKLM) for this
 *      process's bitness; then a python3.dll beside the shim; then python3.dll from the
 *      application's folder or System32. Never from the current folder or PATH, where anyone
 *      may have planted one. Elsewhere: libpython3.X.so.1.0 by the loader's usual search.
 * That Python must be able to import mapisync_ctypes and the factory's module.
 *
 * Threads and lifetime, the rules a host can rely on:
 *   - any host thread may call in, the first create included. An interpreter started here
 *     runs on a thread of its own, which also finalizes it;
 *   - one process has one interpreter and one record of its state: every copy of this code
 *     in the process (the shim copied beside several providers) uses the first copy loaded,
 *     so a copy never restarts an interpreter another copy finalized. (A copy compiled into
 *     a program rather than a library finds the library copies, but they cannot find it.);
 *   - success always comes with a valid pointer: a factory that raises COMError with a
 *     success code gives E_FAIL, and *ppv is NULL on every failure.
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
 *   E_UNEXPECTED               called after (or during) MapiSyncShutdownPython
 *   anything else              the factory raised: COMError(hr) gives hr, other exceptions
 *                              map as for COM methods (ValueError -> E_INVALIDARG, ... E_FAIL)
 * On failure *ppv is NULL and MapiSyncPythonError() says why.
 */
MAPISYNC_PYTHON_API HRESULT MapiSyncCreateFromPython(const char *spec, const IID *riid, void **ppv);

/*
 * Finalizes the interpreter if MapiSyncCreateFromPython started it (S_OK), else leaves it
 * alone (S_FALSE; also for a second call). Any thread may call it, except from inside a call
 * into a Python object (E_UNEXPECTED: the interpreter's own thread would wait for it).
 *
 * In order: creates already inside Python finish, and later ones get E_UNEXPECTED; every
 * background sync a Python provider still runs ends with Done(handle, E_ABORT) and its done
 * handle signalled, within 2 seconds (mapisync_ctypes SHUTDOWN_GRACE) plus the host's own time
 * inside Done; every Python COM object's vtable is switched to native stubs, so calls on
 * objects the host still holds return E_UNEXPECTED (AddRef/Release 0) and never enter Python;
 * then the interpreter is finalized (which, as always, waits for non-daemon Python threads).
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

/* Internal: the process-wide state every copy of this code shares (see above). */
MAPISYNC_PYTHON_API void *MapiSyncRuntimeV1(void);

/* For tests: C-API calls made without the GIL, counted when MAPISYNC_GIL_CHECK=1. */
MAPISYNC_PYTHON_API long MapiSyncPythonGilViolations(void);

#ifdef __cplusplus
}
#endif

#endif /* MAPISYNC_PYTHON_H */
