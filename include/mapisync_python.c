/*
 * mapisync_python.c - MapiSyncCreateFromPython and friends (see mapisync_python.h).
 *
 * Binds to the Python runtime at run time: a handful of stable-ABI functions looked up by
 * name in the Python library (already loaded in the process, or loaded here), so it builds
 * without Python headers or import libraries and serves any Python 3.9+. The Python side
 * of the work is mapisync_ctypes.embed.python_side.
 *
 * One process, one interpreter, one record of its state: every copy of this file in the
 * process (the provider shim copied beside several providers, say) finds the first copy
 * loaded (msp_runtime) and shares its state, so a copy never starts an interpreter another
 * copy has finalized. An interpreter started here lives on a thread of its own, which also
 * finalizes it: whichever host thread creates first or shuts down, Python sees one thread
 * start and end it.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1  /* RTLD_DEFAULT, dladdr, dl_iterate_phdr */
#endif
#include "mapisync_python.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_MSC_VER)
#  define MSP_THREAD_LOCAL __declspec(thread)
#else
#  define MSP_THREAD_LOCAL __thread
#endif

/* ---------------------------------------------------------------- platform */
#ifdef _WIN32
#  define PSAPI_VERSION 2  /* K32EnumProcessModules, in kernel32: no psapi.lib to link */
#  include <psapi.h>
#  if defined(_MSC_VER)
#    pragma comment(lib, "advapi32.lib")  /* RegGetValueW; mingw links it by default */
#  endif
typedef HMODULE msp_lib;
typedef SRWLOCK msp_lock_t;
#  define MSP_LOCK_INIT SRWLOCK_INIT
static void msp_lock(msp_lock_t *l) { AcquireSRWLockExclusive(l); }
static void msp_unlock(msp_lock_t *l) { ReleaseSRWLockExclusive(l); }
typedef CONDITION_VARIABLE msp_cond_t;
#  define MSP_COND_INIT CONDITION_VARIABLE_INIT
static void msp_wait(msp_cond_t *c, msp_lock_t *l) { SleepConditionVariableSRW(c, l, INFINITE, 0); }
static void msp_wake(msp_cond_t *c) { WakeAllConditionVariable(c); }
static void *msp_sym(msp_lib lib, const char *name)
{
    FARPROC fn = GetProcAddress(lib, name);
    void *p;
    memcpy(&p, &fn, sizeof p);  /* ISO C has no cast from function to object pointer */
    return p;
}
#else
#  include <dlfcn.h>
#  include <link.h>
#  include <pthread.h>
typedef void *msp_lib;
typedef pthread_mutex_t msp_lock_t;
#  define MSP_LOCK_INIT PTHREAD_MUTEX_INITIALIZER
static void msp_lock(msp_lock_t *l) { pthread_mutex_lock(l); }
static void msp_unlock(msp_lock_t *l) { pthread_mutex_unlock(l); }
typedef pthread_cond_t msp_cond_t;
#  define MSP_COND_INIT PTHREAD_COND_INITIALIZER
static void msp_wait(msp_cond_t *c, msp_lock_t *l) { pthread_cond_wait(c, l); }
static void msp_wake(msp_cond_t *c) { pthread_cond_broadcast(c); }
static void *msp_sym(msp_lib lib, const char *name) { return dlsym(lib, name); }
#endif

typedef void PyObj;
typedef ptrdiff_t Py_ssize;

/* The stable-ABI functions used here, looked up by name. */
typedef struct {
    int (*Py_IsInitialized)(void);
    void (*Py_InitializeEx)(int);
    int (*Py_FinalizeEx)(void);
    int (*PyGILState_Ensure)(void);
    void (*PyGILState_Release)(int);
    int (*PyGILState_Check)(void);
    void *(*PyEval_SaveThread)(void);
    void (*PyEval_RestoreThread)(void *);
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
} msp_python;

static const char *const py_names[] = {
    "Py_IsInitialized", "Py_InitializeEx", "Py_FinalizeEx", "PyGILState_Ensure", "PyGILState_Release",
    "PyGILState_Check", "PyEval_SaveThread", "PyEval_RestoreThread", "PyImport_ImportModule",
    "PyObject_GetAttrString", "PyObject_CallObject", "PyObject_Str", "PyUnicode_FromString",
    "PyUnicode_AsUTF8String", "PyBytes_AsString", "PyTuple_New", "PyTuple_SetItem", "PyTuple_GetItem",
    "PyLong_AsLong", "PyLong_AsVoidPtr", "PyLong_FromVoidPtr", "PyErr_Occurred", "PyErr_Fetch",
    "PyErr_Clear", "Py_DecRef",
};

/* ---------------------------------------------------------------- one runtime per process */
#define MSP_MAGIC 0x4D535052u  /* "MSPR" */
#define MSP_VERSION 1u

typedef struct {
    uint32_t magic, version;   /* a copy shares a runtime only of its own layout */
    msp_lock_t lock;
    msp_cond_t changed;        /* the owner thread started, was asked to stop, or stopped */
    int loaded;                /* py holds every function */
    int started_here;          /* a copy started the interpreter, on the owner thread */
    int starting;              /* the owner thread is starting the interpreter */
    int stop_requested, stopped;
    int calls;                 /* creates between their check of the state and their end */
    int shut_down;             /* finalized by MapiSyncShutdownPython: no way back */
    int gil_check;             /* MAPISYNC_GIL_CHECK=1: count C-API calls made without the GIL */
    volatile long gil_violations;
    msp_python py;
    char library[1024];        /* set by MapiSyncSetPythonLibrary (UTF-8) */
} msp_runtime;

static msp_runtime own_runtime = {MSP_MAGIC, MSP_VERSION, MSP_LOCK_INIT, MSP_COND_INIT, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  {0}, {0}};
static msp_runtime *volatile shared;  /* the first copy's runtime, once found */
static MSP_THREAD_LOCAL char last_error[2048];

MAPISYNC_PYTHON_API void *MapiSyncRuntimeV1(void) { return &own_runtime; }

static int msp_usable(const msp_runtime *r) { return r && r->magic == MSP_MAGIC && r->version == MSP_VERSION; }

#ifdef _WIN32
/* The first module in load order that exports MapiSyncRuntimeV1; pinned, so it stays. */
static msp_runtime *msp_find_first(void)
{
    HMODULE modules[1024];
    DWORD needed = 0, i;
    if (!K32EnumProcessModules(GetCurrentProcess(), modules, sizeof modules, &needed)) return NULL;
    for (i = 0; i < needed / sizeof(HMODULE) && i < 1024; i++) {
        void *(*get)(void);
        FARPROC fn = GetProcAddress(modules[i], "MapiSyncRuntimeV1");
        HMODULE pinned;
        msp_runtime *r;
        if (!fn) continue;
        memcpy(&get, &fn, sizeof get);
        r = (msp_runtime *)get();
        if (!msp_usable(r)) continue;
        GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                           (LPCWSTR)(void *)r, &pinned);
        return r;
    }
    return NULL;
}
#else
/* The loaded libraries' paths, in load order. Collected first and opened afterwards: dlopen
 * must not be called from inside dl_iterate_phdr, which holds the loader's lock. */
#define MSP_MAX_OBJECTS 512
typedef struct { char *names[MSP_MAX_OBJECTS]; int count; } msp_objects;

static int msp_collect(struct dl_phdr_info *info, size_t size, void *data)
{
    msp_objects *o = (msp_objects *)data;
    (void)size;
    if (info->dlpi_name && info->dlpi_name[0] && o->count < MSP_MAX_OBJECTS) {  /* the program has no name */
        size_t n = strlen(info->dlpi_name) + 1;
        char *copy = (char *)malloc(n);
        if (copy) {
            memcpy(copy, info->dlpi_name, n);
            o->names[o->count++] = copy;
        }
    }
    return 0;
}

/* The first library in load order that exports MapiSyncRuntimeV1; its NOLOAD reference stays,
 * so it is never unloaded under us. */
static msp_runtime *msp_find_first(void)
{
    msp_objects objects;
    msp_runtime *found = NULL;
    int i;
    objects.count = 0;
    dl_iterate_phdr(msp_collect, &objects);
    for (i = 0; i < objects.count; i++) {
        void *handle = found ? NULL : dlopen(objects.names[i], RTLD_NOW | RTLD_NOLOAD), *fn, *(*get)(void);
        if (handle) {
            fn = dlsym(handle, "MapiSyncRuntimeV1");
            memcpy(&get, &fn, sizeof get);
            found = get ? (msp_runtime *)get() : NULL;
            if (!msp_usable(found)) {
                found = NULL;
                dlclose(handle);
            }
        }
        free(objects.names[i]);
    }
    return found;
}
#endif

static msp_lock_t discovery = MSP_LOCK_INIT;

static msp_runtime *runtime(void)
{
    msp_runtime *r = shared;
    if (!r) {
        msp_lock(&discovery);
        r = shared;
        if (!r) {
            r = msp_find_first();
            if (!r) r = &own_runtime;  /* this copy is built into a program, not a library */
            shared = r;
        }
        msp_unlock(&discovery);
    }
    return r;
}

/* ---------------------------------------------------------------- errors */
static HRESULT fail(HRESULT hr, const char *fmt, const char *a, const char *b)
{
    snprintf(last_error, sizeof last_error, fmt, a ? a : "", b ? b : "");
    return hr;
}

MAPISYNC_PYTHON_API const char *MapiSyncPythonError(void)
{
    return last_error;
}

/* Every call into Python below goes through PY(r, fn): with MAPISYNC_GIL_CHECK=1 it first
 * checks that this thread holds the GIL, and says so on stderr when it does not. */
static void msp_gil_violation(msp_runtime *r, const char *function)
{
    r->gil_violations++;
    fprintf(stderr, "mapisync_python: %s called without the GIL (MAPISYNC_GIL_CHECK)\n", function);
    fflush(stderr);
}
#define PY(r, fn) (((r)->gil_check && (r)->py.PyGILState_Check && !(r)->py.PyGILState_Check() \
                    ? msp_gil_violation((r), #fn) : (void)0), (r)->py.fn)

/* ---------------------------------------------------------------- finding Python */
static int bind_functions(msp_runtime *r, msp_lib lib)
{
    /* py is a run of function pointers in py_names' order; dlsym's void * converts (POSIX).
     * PyGILState_Check is outside the stable ABI (python3.dll lacks it): only the checks use it. */
    void **slots = (void **)&r->py;
    size_t i;
    for (i = 0; i < sizeof py_names / sizeof py_names[0]; i++) {
        if (!(slots[i] = msp_sym(lib, py_names[i])) && strcmp(py_names[i], "PyGILState_Check") != 0) {
            fail(MAPI_E_NO_SUPPORT, "the Python library lacks %s%s", py_names[i], NULL);
            return 0;
        }
    }
    return 1;
}

#ifdef _WIN32
/* A Python already in the process (a Python program, or a host that embeds one), if any. */
static msp_lib running_python(void)
{
    /* the versioned DLL first: python3.dll forwards only the stable ABI */
    static const wchar_t *const dlls[] = {L"python314.dll", L"python313.dll", L"python312.dll", L"python311.dll",
                                          L"python310.dll", L"python39.dll", L"python3.dll"};
    size_t i;
    for (i = 0; i < sizeof dlls / sizeof dlls[0]; i++) {
        HMODULE lib = GetModuleHandleW(dlls[i]);
        if (lib && GetProcAddress(lib, "Py_IsInitialized")) return lib;
    }
    return NULL;
}

static int absolute_path(const wchar_t *p)
{
    return (p[0] && p[1] == L':' && (p[2] == L'\\' || p[2] == L'/')) || (p[0] == L'\\' && p[1] == L'\\');
}

/* A DLL by its full path only: never by a bare name, which would search the current folder,
 * where anyone may have planted a python3.dll (CWE-427). Its own folder is searched for what
 * it depends on (vcruntime140.dll beside python3X.dll). */
static msp_lib load_by_path(const wchar_t *path)
{
    HMODULE lib;
    if (!absolute_path(path)) return NULL;
    lib = LoadLibraryExW(path, NULL, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    if (!lib && GetLastError() == ERROR_INVALID_PARAMETER)  /* a Windows without those flags */
        lib = LoadLibraryExW(path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    return lib;
}

/* Appends the minor version's digits: "python3" + 12 -> "python312". */
static void append_minor(wchar_t *s, int minor)
{
    size_t n = wcslen(s);
    if (minor >= 10) s[n++] = (wchar_t)(L'0' + minor / 10);
    s[n++] = (wchar_t)(L'0' + minor % 10);
    s[n] = 0;
}

/* The newest CPython 3.9+ registered under PEP 514 (HKCU first, then HKLM) for this
 * process's bitness: its python3X.dll, by full path. A 32-bit install's tag ends in "-32"
 * in HKCU; in HKLM's 32-bit view it has no suffix. */
static msp_lib registered_python(void)
{
    static const HKEY roots[] = {HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE};
    int minor, bits32 = sizeof(void *) == 4, suffixed;
    size_t i;
    for (minor = 14; minor >= 9; minor--) {
        for (i = 0; i < 2; i++) {
            for (suffixed = bits32; suffixed >= 0; suffixed--) {
                wchar_t key[96] = L"Software\\Python\\PythonCore\\3.", path[MAX_PATH + 32];
                DWORD size = (DWORD)(sizeof path - 32 * sizeof(wchar_t));
                size_t n;
                HMODULE lib;
                append_minor(key, minor);
                wcscat(key, suffixed ? L"-32\\InstallPath" : L"\\InstallPath");
                if (RegGetValueW(roots[i], key, NULL, RRF_RT_REG_SZ, NULL, path, &size) != ERROR_SUCCESS) continue;
                n = wcslen(path);
                if (n && path[n - 1] != L'\\') wcscat(path, L"\\");
                wcscat(path, L"python3");
                append_minor(path, minor);
                wcscat(path, L".dll");
                if ((lib = load_by_path(path)) != NULL) return lib;
            }
        }
    }
    return NULL;
}

static int utf8_to_wide(const char *s, wchar_t *out, int size)
{
    return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, size) > 0;
}

/* The folder of the module that holds this code (the shim), with a trailing backslash. */
static void own_folder_w(wchar_t *buf, DWORD size)
{
    HMODULE self = NULL;
    wchar_t *cut;
    buf[0] = 0;
    if (GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                           (LPCWSTR)(void *)&own_runtime, &self))
        GetModuleFileNameW(self, buf, size);
    cut = wcsrchr(buf, L'\\');
    if (cut) cut[1] = 0; else buf[0] = 0;
}

static HRESULT load_python(msp_runtime *r)
{
    wchar_t named[1024], beside[MAX_PATH + 16];
    const wchar_t *source = NULL;
    msp_lib lib = running_python();
    if (!lib) {
        DWORD n = GetEnvironmentVariableW(L"MAPISYNC_PYTHON", named, 1024);
        if (r->library[0]) {
            if (!utf8_to_wide(r->library, named, 1024))
                return fail(E_INVALIDARG, "the Python library path is not UTF-8%s%s", NULL, NULL);
            source = named;
        } else if (n > 0 && n < 1024) {
            source = named;
        }
    }
    if (!lib && source) {
        if (!absolute_path(source))
            return fail(E_INVALIDARG, "the Python library must be named by a full path%s%s",
                        " (MAPISYNC_PYTHON, the config file's python =, or MapiSyncSetPythonLibrary)", NULL);
        if (!(lib = load_by_path(source)))
            return fail(MAPI_E_NO_SUPPORT, "cannot load the Python library named by MAPISYNC_PYTHON, the config "
                        "file or MapiSyncSetPythonLibrary%s%s", NULL, NULL);
    }
    if (!lib) lib = registered_python();
    if (!lib) {  /* python3.dll beside this library: installed there on purpose */
        own_folder_w(beside, MAX_PATH);
        if (beside[0]) {
            wcscat(beside, L"python3.dll");
            lib = load_by_path(beside);
        }
    }
    if (!lib) lib = LoadLibraryExW(L"python3.dll", NULL, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);  /* never the cwd */
    if (!lib) return fail(MAPI_E_NO_SUPPORT, "no Python library found%s%s",
                          "; set MAPISYNC_PYTHON to the full path of a pythonXY.dll", NULL);
    return bind_functions(r, lib) ? S_OK : MAPI_E_NO_SUPPORT;
}
#else
/* The process's own Python, if one is loaded globally. Not RTLD_DEFAULT itself as the handle:
 * glibc defines it as NULL, which reads as "none found". The program's handle searches the same
 * global scope (the program, its dependencies, RTLD_GLOBAL libraries). */
static msp_lib running_python(void)
{
    return dlsym(RTLD_DEFAULT, "Py_IsInitialized") ? dlopen(NULL, RTLD_NOW) : NULL;
}

static HRESULT load_python(msp_runtime *r)
{
    static const char *const defaults[] = {"libpython3.so", "libpython3.14.so.1.0", "libpython3.13.so.1.0",
                                           "libpython3.12.so.1.0", "libpython3.11.so.1.0",
                                           "libpython3.10.so.1.0", "libpython3.9.so.1.0"};
    msp_lib lib = running_python();
    const char *named = r->library[0] ? r->library : getenv("MAPISYNC_PYTHON");
    size_t i;
    if (!lib && named && named[0]) {
        lib = dlopen(named, RTLD_NOW | RTLD_GLOBAL);  /* GLOBAL: extension modules resolve against it */
        if (!lib) return fail(MAPI_E_NO_SUPPORT, "cannot load the Python library %s%s", named,
                              " (set MAPISYNC_PYTHON to a libpython path)");
    }
    for (i = 0; !lib && i < sizeof defaults / sizeof defaults[0]; i++) lib = dlopen(defaults[i], RTLD_NOW | RTLD_GLOBAL);
    if (!lib) return fail(MAPI_E_NO_SUPPORT, "no Python library found%s%s",
                          "; set MAPISYNC_PYTHON to a libpython path", NULL);
    return bind_functions(r, lib) ? S_OK : MAPI_E_NO_SUPPORT;
}
#endif

MAPISYNC_PYTHON_API HRESULT MapiSyncSetPythonLibrary(const char *path)
{
    msp_runtime *r = runtime();
    if (!path || strlen(path) >= sizeof r->library) return E_INVALIDARG;
    msp_lock(&r->lock);
    if (!r->loaded) strcpy(r->library, path);  /* too late once a Python is bound */
    msp_unlock(&r->lock);
    return S_OK;
}

/* ---------------------------------------------------------------- calling the Python side */
/* "ExceptionType: message" of the pending Python exception, cleared. */
static void fetch_error(msp_runtime *r, const char *context)
{
    PyObj *type = NULL, *value = NULL, *tb = NULL, *name = NULL, *text = NULL, *utf8 = NULL;
    PY(r, PyErr_Fetch)(&type, &value, &tb);
    if (type) name = PY(r, PyObject_GetAttrString)(type, "__name__");
    if (value) text = PY(r, PyObject_Str)(value);
    snprintf(last_error, sizeof last_error, "%s", context);
    if (name && (utf8 = PY(r, PyUnicode_AsUTF8String)(name))) {
        size_t n = strlen(last_error);
        snprintf(last_error + n, sizeof last_error - n, ": %s", PY(r, PyBytes_AsString)(utf8));
        PY(r, Py_DecRef)(utf8);
    }
    if (text && (utf8 = PY(r, PyUnicode_AsUTF8String)(text))) {
        size_t n = strlen(last_error);
        snprintf(last_error + n, sizeof last_error - n, ": %s", PY(r, PyBytes_AsString)(utf8));
        PY(r, Py_DecRef)(utf8);
    }
    if (PY(r, PyErr_Occurred)()) PY(r, PyErr_Clear)();
    if (name) PY(r, Py_DecRef)(name);
    if (text) PY(r, Py_DecRef)(text);
    if (type) PY(r, Py_DecRef)(type);
    if (value) PY(r, Py_DecRef)(value);
    if (tb) PY(r, Py_DecRef)(tb);
}

/* mapisync_ctypes.embed.python_side.<function>(*args); a new reference, or NULL with last_error set. */
static PyObj *call_embed(msp_runtime *r, const char *function, PyObj *args)
{
    PyObj *module = PY(r, PyImport_ImportModule)("mapisync_ctypes.embed.python_side"), *fn, *result;
    if (!module) {
        fetch_error(r, "cannot import mapisync_ctypes in the embedded Python");
        return NULL;
    }
    fn = PY(r, PyObject_GetAttrString)(module, function);
    PY(r, Py_DecRef)(module);
    if (!fn) {
        fetch_error(r, "mapisync_ctypes.embed.python_side is incomplete");
        return NULL;
    }
    result = PY(r, PyObject_CallObject)(fn, args);
    PY(r, Py_DecRef)(fn);
    if (!result) fetch_error(r, "mapisync_ctypes.embed.python_side failed");
    return result;
}

static PyObj *string_pair(msp_runtime *r, const char *a, const char *b)
{
    PyObj *tuple = PY(r, PyTuple_New)(2), *x = PY(r, PyUnicode_FromString)(a), *y = PY(r, PyUnicode_FromString)(b);
    if (!tuple || !x || !y) {
        if (tuple) PY(r, Py_DecRef)(tuple);
        if (x) PY(r, Py_DecRef)(x);
        if (y) PY(r, Py_DecRef)(y);
        return NULL;
    }
    PY(r, PyTuple_SetItem)(tuple, 0, x);  /* steals */
    PY(r, PyTuple_SetItem)(tuple, 1, y);
    return tuple;
}

/* ---------------------------------------------------------------- the owner thread */
/* It starts the interpreter, releases the GIL for every other thread, sleeps until a shutdown
 * asks it to, then ends the syncs still running, parks the COM objects and finalizes: the
 * thread that started Python is the one that finalizes it. */
static void call_shutdown(msp_runtime *r);

static void owner_body(msp_runtime *r)
{
    void *state;
    r->py.Py_InitializeEx(0);  /* 0: leave the host's signal handlers alone */
    state = r->py.PyEval_SaveThread();
    msp_lock(&r->lock);
    r->started_here = 1;
    msp_wake(&r->changed);
    while (!r->stop_requested) msp_wait(&r->changed, &r->lock);
    msp_unlock(&r->lock);
    r->py.PyEval_RestoreThread(state);
    call_shutdown(r);
    r->py.Py_FinalizeEx();
    msp_lock(&r->lock);
    r->stopped = 1;
    msp_wake(&r->changed);
    msp_unlock(&r->lock);
}

#ifdef _WIN32
static DWORD WINAPI owner_entry(LPVOID p) { owner_body((msp_runtime *)p); return 0; }
static int start_owner(msp_runtime *r)
{
    HANDLE t = CreateThread(NULL, 0, owner_entry, r, 0, NULL);
    if (!t) return 0;
    CloseHandle(t);
    return 1;
}
#else
static void *owner_entry(void *p) { owner_body((msp_runtime *)p); return NULL; }
static int start_owner(msp_runtime *r)
{
    pthread_t t;
    if (pthread_create(&t, NULL, owner_entry, r) != 0) return 0;
    pthread_detach(t);
    return 1;
}
#endif

/* With the runtime locked: a bound Python, running, with the GIL free for any thread. */
static HRESULT ensure_python(msp_runtime *r)
{
    HRESULT hr;
    if (r->shut_down || r->stop_requested)
        return fail(E_UNEXPECTED, "Python was shut down by MapiSyncShutdownPython%s%s", NULL, NULL);
    if (!r->loaded) {
        const char *check = getenv("MAPISYNC_GIL_CHECK");
        if (FAILED(hr = load_python(r))) return hr;
        r->loaded = 1;
        r->gil_check = check && check[0] == '1';
    }
    if (!r->starting) {  /* the first create: nobody has started one yet (waiting releases the lock) */
        if (r->py.Py_IsInitialized()) return S_OK;  /* the host's own Python */
        if (!start_owner(r)) return fail(E_OUTOFMEMORY, "cannot start the Python thread%s%s", NULL, NULL);
        r->starting = 1;
    }
    while (!r->started_here) msp_wait(&r->changed, &r->lock);
    return S_OK;
}

/* ---------------------------------------------------------------- the API */
MAPISYNC_PYTHON_API HRESULT MapiSyncCreateFromPython(const char *spec, const IID *riid, void **ppv)
{
    msp_runtime *r = runtime();
    char iid[40];
    HRESULT hr;
    int gil;
    PyObj *args, *result;
    last_error[0] = 0;
    if (!ppv) return fail(E_POINTER, "ppv is NULL%s%s", NULL, NULL);
    *ppv = NULL;
    if (!spec || !riid) return fail(E_INVALIDARG, "spec and riid must not be NULL%s%s", NULL, NULL);
    if (!strchr(spec, ':')) return fail(E_INVALIDARG, "expected \"package.module:factory\", got \"%s\"%s", spec, NULL);

    msp_lock(&r->lock);
    hr = ensure_python(r);
    if (SUCCEEDED(hr)) r->calls++;  /* a shutdown waits for this call to leave Python */
    msp_unlock(&r->lock);
    if (FAILED(hr)) return hr;

    snprintf(iid, sizeof iid, "{%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", (unsigned long)riid->Data1,
             riid->Data2, riid->Data3, riid->Data4[0], riid->Data4[1], riid->Data4[2], riid->Data4[3],
             riid->Data4[4], riid->Data4[5], riid->Data4[6], riid->Data4[7]);
    gil = r->py.PyGILState_Ensure();
    args = string_pair(r, spec, iid);
    result = args ? call_embed(r, "create", args) : NULL;
    if (args) PY(r, Py_DecRef)(args);
    if (!result) {
        hr = strstr(last_error, "cannot import") ? MAPISYNC_E_PYTHON_IMPORT : E_FAIL;
    } else {
        /* (hresult, address, text) */
        PyObj *text = PY(r, PyUnicode_AsUTF8String)(PY(r, PyTuple_GetItem)(result, 2));
        hr = (HRESULT)PY(r, PyLong_AsLong)(PY(r, PyTuple_GetItem)(result, 0));
        *ppv = SUCCEEDED(hr) ? PY(r, PyLong_AsVoidPtr)(PY(r, PyTuple_GetItem)(result, 1)) : NULL;
        if (text) {
            snprintf(last_error, sizeof last_error, "%s", PY(r, PyBytes_AsString)(text));
            PY(r, Py_DecRef)(text);
        }
        if (PY(r, PyErr_Occurred)()) PY(r, PyErr_Clear)();
        PY(r, Py_DecRef)(result);
    }
    r->py.PyGILState_Release(gil);
    msp_lock(&r->lock);
    if (--r->calls == 0) msp_wake(&r->changed);
    msp_unlock(&r->lock);
    if (SUCCEEDED(hr) && !*ppv) {  /* success always means a valid pointer */
        fail(E_UNEXPECTED, "the factory gave no object%s%s", NULL, NULL);
        hr = E_UNEXPECTED;
    }
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
MAPISYNC_PYTHON_API int MapiSyncDeadStubs(void **table, int size)
{
    typedef void (*any_fn)(void);
    any_fn stubs[11];
    int i, n = (int)(sizeof stubs / sizeof stubs[0]);
    stubs[0] = (any_fn)qi_stub; stubs[1] = (any_fn)ulong_stub;
    stubs[2] = (any_fn)hr_stub0; stubs[3] = (any_fn)hr_stub1; stubs[4] = (any_fn)hr_stub2; stubs[5] = (any_fn)hr_stub3;
    stubs[6] = (any_fn)hr_stub4; stubs[7] = (any_fn)hr_stub5; stubs[8] = (any_fn)hr_stub6; stubs[9] = (any_fn)hr_stub7;
    stubs[10] = (any_fn)hr_stub8;
    for (i = 0; i < n && i < size; i++) memcpy(&table[i], &stubs[i], sizeof table[i]);
    return n;
}

/* On the owner thread, with the GIL: the Python side's shutdown steps (end the syncs still
 * running, park every COM object on these stubs). */
static void call_shutdown(msp_runtime *r)
{
    void *stubs[16];
    PyObj *args = PY(r, PyTuple_New)(1), *addresses, *result;
    int n = MapiSyncDeadStubs(stubs, 16), i;
    addresses = PY(r, PyTuple_New)(n);
    for (i = 0; addresses && i < n; i++) PY(r, PyTuple_SetItem)(addresses, i, PY(r, PyLong_FromVoidPtr)(stubs[i]));
    if (args && addresses) {
        PY(r, PyTuple_SetItem)(args, 0, addresses);  /* steals */
        result = call_embed(r, "shutdown", args);
        if (result) PY(r, Py_DecRef)(result);
    } else if (addresses) {
        PY(r, Py_DecRef)(addresses);
    }
    if (args) PY(r, Py_DecRef)(args);
}

MAPISYNC_PYTHON_API HRESULT MapiSyncShutdownPython(void)
{
    msp_runtime *r = runtime();
    last_error[0] = 0;
    msp_lock(&r->lock);
    if (!r->loaded || !r->started_here || r->shut_down) {
        msp_unlock(&r->lock);
        return S_FALSE;  /* not ours to finalize, or done already */
    }
    if (r->py.PyGILState_Check && r->py.PyGILState_Check()) {  /* from inside a call into Python: deadlock */
        msp_unlock(&r->lock);
        return fail(E_UNEXPECTED, "MapiSyncShutdownPython was called from inside a call into Python%s%s", NULL, NULL);
    }
    r->stop_requested = 1;  /* creates from now on fail; those already in Python finish first */
    while (r->calls) msp_wait(&r->changed, &r->lock);
    msp_wake(&r->changed);
    while (!r->stopped) msp_wait(&r->changed, &r->lock);
    r->shut_down = 1;
    msp_unlock(&r->lock);
    return S_OK;
}

/* For tests: C-API calls made without the GIL under MAPISYNC_GIL_CHECK=1. */
MAPISYNC_PYTHON_API long MapiSyncPythonGilViolations(void)
{
    return runtime()->gil_violations;
}
