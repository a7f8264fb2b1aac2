/*
 * mapisync_python.c - MapiSyncCreateFromPython and friends (see mapisync_python.h).
 *
 * Binds to the Python runtime at run time: a handful of stable-ABI functions looked up by
 * name in the Python library (already loaded in the process, or loaded here), so it builds
 * without Python headers or import libraries and serves any Python 3.9+. The Python side
 * of the work is mapisync_ctypes._embed.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1  /* RTLD_DEFAULT */
#endif
#include "mapisync_python.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#  define MSP_THREAD_LOCAL __thread
#else
#  define MSP_THREAD_LOCAL __declspec(thread)
#endif

#ifdef _WIN32
typedef HMODULE msp_lib;
static void *msp_sym(msp_lib lib, const char *name)
{
    FARPROC fn = GetProcAddress(lib, name);
    void *p;
    memcpy(&p, &fn, sizeof p);  /* ISO C has no cast from function to object pointer */
    return p;
}
static volatile LONG msp_spin;
static void msp_lock(void) { while (InterlockedCompareExchange(&msp_spin, 1, 0)) Sleep(0); }
static void msp_unlock(void) { InterlockedExchange(&msp_spin, 0); }
#else
#  include <dlfcn.h>
#  include <pthread.h>
typedef void *msp_lib;
static void *msp_sym(msp_lib lib, const char *name) { return dlsym(lib, name); }
static pthread_mutex_t msp_mutex = PTHREAD_MUTEX_INITIALIZER;
static void msp_lock(void) { pthread_mutex_lock(&msp_mutex); }
static void msp_unlock(void) { pthread_mutex_unlock(&msp_mutex); }
#endif

typedef void PyObj;
typedef ptrdiff_t Py_ssize;

/* The stable-ABI functions used here, looked up by name. */
static struct {
    int (*Py_IsInitialized)(void);
    void (*Py_InitializeEx)(int);
    int (*Py_FinalizeEx)(void);
    int (*PyGILState_Ensure)(void);
    void (*PyGILState_Release)(int);
    void *(*PyEval_SaveThread)(void);
    PyObj *(*PyImport_ImportModule)(const char *);
    PyObj *(*PyObject_GetAttrString)(PyObj *, const char *);
    PyObj *(*PyObject_CallObject)(PyObj *, PyObj *);
    PyObj *(*PyObject_Str)(PyObj *);
    PyObj *(*PyUnicode_FromString)(const char *);
    PyObj *(*PyUnicode_AsUTF8String)(PyObj *);
    char *(*PyBytes_AsString)(PyObj *);
    PyObj *(*PyTuple_New)(Py_ssize);
    int (*PyTuple_SetItem)(PyObj *, Py_ssize, PyObj *);
    PyObj *(*PyTuple_GetItem)(PyObj *, Py_ssize);
    long (*PyLong_AsLong)(PyObj *);
    void *(*PyLong_AsVoidPtr)(PyObj *);
    PyObj *(*PyLong_FromVoidPtr)(void *);
    PyObj *(*PyErr_Occurred)(void);
    void (*PyErr_Fetch)(PyObj **, PyObj **, PyObj **);
    void (*PyErr_Clear)(void);
    void (*Py_DecRef)(PyObj *);
} py;

static const char *const py_names[] = {
    "Py_IsInitialized", "Py_InitializeEx", "Py_FinalizeEx", "PyGILState_Ensure", "PyGILState_Release",
    "PyEval_SaveThread", "PyImport_ImportModule", "PyObject_GetAttrString", "PyObject_CallObject",
    "PyObject_Str", "PyUnicode_FromString", "PyUnicode_AsUTF8String", "PyBytes_AsString", "PyTuple_New",
    "PyTuple_SetItem", "PyTuple_GetItem", "PyLong_AsLong", "PyLong_AsVoidPtr", "PyLong_FromVoidPtr",
    "PyErr_Occurred", "PyErr_Fetch", "PyErr_Clear", "Py_DecRef",
};

static int py_loaded;          /* py holds every function */
static int py_started_here;    /* this file initialized the interpreter */
static int py_shut_down;       /* MapiSyncShutdownPython finalized it: no way back */
static char py_library[1024];  /* set by MapiSyncSetPythonLibrary */
static MSP_THREAD_LOCAL char last_error[2048];

static HRESULT fail(HRESULT hr, const char *fmt, const char *a, const char *b)
{
    snprintf(last_error, sizeof last_error, fmt, a ? a : "", b ? b : "");
    return hr;
}

const char *MapiSyncPythonError(void)
{
    return last_error;
}

HRESULT MapiSyncSetPythonLibrary(const char *path)
{
    if (!path || strlen(path) >= sizeof py_library) return E_INVALIDARG;
    msp_lock();
    strcpy(py_library, path);
    msp_unlock();
    return S_OK;
}

static int bind_functions(msp_lib lib)
{
    /* py is a run of function pointers in py_names' order; dlsym's void * converts (POSIX). */
    void **slots = (void **)&py;
    size_t i;
    for (i = 0; i < sizeof py_names / sizeof py_names[0]; i++) {
        if (!(slots[i] = msp_sym(lib, py_names[i]))) {
            fail(E_FAIL, "the Python library lacks %s%s", py_names[i], NULL);
            return 0;
        }
    }
    return 1;
}

/* A Python already in the process (a Python program, or a host that embeds one), if any. */
static msp_lib running_python(void)
{
#ifdef _WIN32
    static const char *const dlls[] = {"python3.dll", "python314.dll", "python313.dll", "python312.dll",
                                       "python311.dll", "python310.dll", "python39.dll"};
    size_t i;
    for (i = 0; i < sizeof dlls / sizeof dlls[0]; i++) {
        HMODULE lib = GetModuleHandleA(dlls[i]);
        if (lib && GetProcAddress(lib, "Py_IsInitialized")) return lib;
    }
    return NULL;
#else
    return dlsym(RTLD_DEFAULT, "Py_IsInitialized") ? RTLD_DEFAULT : NULL;
#endif
}

static msp_lib open_library(const char *name)
{
#ifdef _WIN32
    return LoadLibraryExA(name, NULL, strchr(name, '\\') || strchr(name, '/') ? LOAD_WITH_ALTERED_SEARCH_PATH : 0);
#else
    return dlopen(name, RTLD_NOW | RTLD_GLOBAL);  /* GLOBAL: extension modules resolve against it */
#endif
}

static HRESULT load_python(void)
{
#ifdef _WIN32
    static const char *const defaults[] = {"python3.dll"};
#else
    static const char *const defaults[] = {"libpython3.so", "libpython3.14.so.1.0", "libpython3.13.so.1.0",
                                           "libpython3.12.so.1.0", "libpython3.11.so.1.0",
                                           "libpython3.10.so.1.0", "libpython3.9.so.1.0"};
#endif
    msp_lib lib = running_python();
    const char *named = py_library[0] ? py_library : getenv("MAPISYNC_PYTHON");
    size_t i;
    if (py_loaded) return S_OK;
    if (!lib && named && named[0]) {
        lib = open_library(named);
        if (!lib) return fail(MAPI_E_NO_SUPPORT, "cannot load the Python library %s%s", named,
                              " (set MAPISYNC_PYTHON to a libpython / pythonXY.dll path)");
    }
    for (i = 0; !lib && i < sizeof defaults / sizeof defaults[0]; i++) lib = open_library(defaults[i]);
    if (!lib) return fail(MAPI_E_NO_SUPPORT, "no Python library found%s%s",
                          "; set MAPISYNC_PYTHON to a libpython / pythonXY.dll path", NULL);
    if (!bind_functions(lib)) return MAPI_E_NO_SUPPORT;
    py_loaded = 1;
    return S_OK;
}

/* "ExceptionType: message" of the pending Python exception, cleared. */
static void fetch_error(const char *context)
{
    PyObj *type = NULL, *value = NULL, *tb = NULL, *name = NULL, *text = NULL, *utf8 = NULL;
    py.PyErr_Fetch(&type, &value, &tb);
    if (type) name = py.PyObject_GetAttrString(type, "__name__");
    if (value) text = py.PyObject_Str(value);
    snprintf(last_error, sizeof last_error, "%s", context);
    if (name && (utf8 = py.PyUnicode_AsUTF8String(name))) {
        size_t n = strlen(last_error);
        snprintf(last_error + n, sizeof last_error - n, ": %s", py.PyBytes_AsString(utf8));
        py.Py_DecRef(utf8);
    }
    if (text && (utf8 = py.PyUnicode_AsUTF8String(text))) {
        size_t n = strlen(last_error);
        snprintf(last_error + n, sizeof last_error - n, ": %s", py.PyBytes_AsString(utf8));
        py.Py_DecRef(utf8);
    }
    if (py.PyErr_Occurred()) py.PyErr_Clear();
    if (name) py.Py_DecRef(name);
    if (text) py.Py_DecRef(text);
    if (type) py.Py_DecRef(type);
    if (value) py.Py_DecRef(value);
    if (tb) py.Py_DecRef(tb);
}

/* mapisync_ctypes._embed.<function>(*args); a new reference, or NULL with last_error set. */
static PyObj *call_embed(const char *function, PyObj *args)
{
    PyObj *module = py.PyImport_ImportModule("mapisync_ctypes._embed"), *fn, *result;
    if (!module) {
        fetch_error("cannot import mapisync_ctypes in the embedded Python");
        return NULL;
    }
    fn = py.PyObject_GetAttrString(module, function);
    py.Py_DecRef(module);
    if (!fn) {
        fetch_error("mapisync_ctypes._embed is incomplete");
        return NULL;
    }
    result = py.PyObject_CallObject(fn, args);
    py.Py_DecRef(fn);
    if (!result) fetch_error("mapisync_ctypes._embed failed");
    return result;
}

static PyObj *string_pair(const char *a, const char *b)
{
    PyObj *tuple = py.PyTuple_New(2), *x = py.PyUnicode_FromString(a), *y = py.PyUnicode_FromString(b);
    if (!tuple || !x || !y) {
        if (tuple) py.Py_DecRef(tuple);
        if (x) py.Py_DecRef(x);
        if (y) py.Py_DecRef(y);
        return NULL;
    }
    py.PyTuple_SetItem(tuple, 0, x);  /* steals */
    py.PyTuple_SetItem(tuple, 1, y);
    return tuple;
}

HRESULT MapiSyncCreateFromPython(const char *spec, const IID *riid, void **ppv)
{
    char iid[40];
    HRESULT hr;
    int gil;
    PyObj *args, *result;
    last_error[0] = 0;
    if (!ppv) return fail(E_POINTER, "ppv is NULL%s%s", NULL, NULL);
    *ppv = NULL;
    if (!spec || !riid) return fail(E_INVALIDARG, "spec and riid must not be NULL%s%s", NULL, NULL);
    if (!strchr(spec, ':')) return fail(E_INVALIDARG, "expected \"package.module:factory\", got \"%s\"%s", spec, NULL);

    msp_lock();
    if (py_shut_down) {
        msp_unlock();
        return fail(E_UNEXPECTED, "Python was shut down by MapiSyncShutdownPython%s%s", NULL, NULL);
    }
    hr = load_python();
    if (SUCCEEDED(hr) && !py.Py_IsInitialized()) {
        py.Py_InitializeEx(0);  /* 0: leave the host's signal handlers alone */
        py_started_here = 1;
        py.PyEval_SaveThread();  /* release the GIL: any host thread may now call in */
    }
    msp_unlock();
    if (FAILED(hr)) return hr;

    snprintf(iid, sizeof iid, "{%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", (unsigned long)riid->Data1,
             riid->Data2, riid->Data3, riid->Data4[0], riid->Data4[1], riid->Data4[2], riid->Data4[3],
             riid->Data4[4], riid->Data4[5], riid->Data4[6], riid->Data4[7]);
    gil = py.PyGILState_Ensure();
    args = string_pair(spec, iid);
    result = args ? call_embed("create", args) : NULL;
    if (args) py.Py_DecRef(args);
    if (!result) {
        hr = strstr(last_error, "cannot import") ? MAPISYNC_E_PYTHON_IMPORT : E_FAIL;
    } else {
        /* (hresult, address, text) */
        PyObj *text = py.PyUnicode_AsUTF8String(py.PyTuple_GetItem(result, 2));
        hr = (HRESULT)py.PyLong_AsLong(py.PyTuple_GetItem(result, 0));
        *ppv = SUCCEEDED(hr) ? py.PyLong_AsVoidPtr(py.PyTuple_GetItem(result, 1)) : NULL;
        if (text) {
            snprintf(last_error, sizeof last_error, "%s", py.PyBytes_AsString(text));
            py.Py_DecRef(text);
        }
        if (py.PyErr_Occurred()) py.PyErr_Clear();
        py.Py_DecRef(result);
    }
    py.PyGILState_Release(gil);
    return hr;
}

/* ---- native stubs: what the vtables of Python objects point at once Python is gone */
#define STUB_ARGS0 void *t
#define STUB_ARGS1 STUB_ARGS0, void *a1 MAPISYNC_UNUSED
#define STUB_ARGS2 STUB_ARGS1, void *a2 MAPISYNC_UNUSED
#define STUB_ARGS3 STUB_ARGS2, void *a3 MAPISYNC_UNUSED
#define STUB_ARGS4 STUB_ARGS3, void *a4 MAPISYNC_UNUSED
#define STUB_ARGS5 STUB_ARGS4, void *a5 MAPISYNC_UNUSED
#define STUB_ARGS6 STUB_ARGS5, void *a6 MAPISYNC_UNUSED
#define STUB_ARGS7 STUB_ARGS6, void *a7 MAPISYNC_UNUSED
#define STUB_ARGS8 STUB_ARGS7, void *a8 MAPISYNC_UNUSED
/* One per argument count: on 32-bit Windows a stdcall callee pops exactly its arguments. */
#define HR_STUB(n) static HRESULT STDMETHODCALLTYPE hr_stub##n(STUB_ARGS##n) { (void)t; return E_UNEXPECTED; }
HR_STUB(0) HR_STUB(1) HR_STUB(2) HR_STUB(3) HR_STUB(4) HR_STUB(5) HR_STUB(6) HR_STUB(7) HR_STUB(8)

static HRESULT STDMETHODCALLTYPE qi_stub(void *t, const IID *riid, void **ppv)
{
    (void)t; (void)riid;
    if (ppv) *ppv = NULL;
    return E_UNEXPECTED;
}

static ULONG STDMETHODCALLTYPE ulong_stub(void *t)
{
    (void)t;
    return 0;
}

/* [QueryInterface, AddRef/Release, methods with 0..8 argument words]; returns how many. */
int MapiSyncDeadStubs(void **table, int size)
{
    typedef void (*any_fn)(void);
    any_fn stubs[] = {(any_fn)qi_stub, (any_fn)ulong_stub, (any_fn)hr_stub0, (any_fn)hr_stub1, (any_fn)hr_stub2,
                      (any_fn)hr_stub3, (any_fn)hr_stub4, (any_fn)hr_stub5, (any_fn)hr_stub6, (any_fn)hr_stub7,
                      (any_fn)hr_stub8};
    int i, n = (int)(sizeof stubs / sizeof stubs[0]);
    for (i = 0; i < n && i < size; i++) memcpy(&table[i], &stubs[i], sizeof table[i]);
    return n;
}

HRESULT MapiSyncShutdownPython(void)
{
    void *stubs[16];
    PyObj *args, *addresses, *result;
    int gil, n, i;
    last_error[0] = 0;
    msp_lock();
    if (!py_loaded || !py_started_here || py_shut_down) {
        msp_unlock();
        return S_FALSE;  /* not ours to finalize */
    }
    gil = py.PyGILState_Ensure();
    n = MapiSyncDeadStubs(stubs, 16);
    addresses = py.PyTuple_New(n);
    for (i = 0; addresses && i < n; i++) py.PyTuple_SetItem(addresses, i, py.PyLong_FromVoidPtr(stubs[i]));
    args = py.PyTuple_New(1);
    if (args && addresses) {
        py.PyTuple_SetItem(args, 0, addresses);
        result = call_embed("shutdown", args);
        if (result) py.Py_DecRef(result);
    }
    if (args) py.Py_DecRef(args);
    (void)gil;  /* Py_FinalizeEx takes the thread state with it */
    py.Py_FinalizeEx();
    py_shut_down = 1;
    msp_unlock();
    return S_OK;
}
