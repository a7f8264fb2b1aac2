/*
 * The provider shim: a native library a MAPI host loads like any provider. It exports
 *
 *     HRESULT MapiSyncGetObject(const GUID *riid, void **ppv);
 *
 * and serves a Python provider through the embedding API of include/mapisync_python.c
 * (compiled in, and exported too). The factory comes from $MAPISYNC_FACTORY
 * ("package.module:factory") or from mapisync_shim.cfg beside this library:
 *
 *     factory = mapisync_ctypes.sample:create
 *     python = /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0     (optional; $MAPISYNC_PYTHON wins)
 *
 * Linked by setup.py into mapisync_native, with the compiled backend (core.h): a plain shared
 * library, no Python headers, no libpython link.
 */
#define MAPISYNC_PYTHON_BUILD_DLL 1
#include "mapisync_python.c"

MAPISYNC_PYTHON_API HRESULT MapiSyncGetObject(const GUID *riid, void **ppv);

/* An environment variable's value, UTF-8, or "" (Windows reads it wide: any code page). */
static void env_utf8(const char *name, char *out, size_t size)
{
#ifdef _WIN32
    wchar_t wname[64], value[1024];
    DWORD n;
    out[0] = 0;
    if (!MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 64)) return;
    n = GetEnvironmentVariableW(wname, value, 1024);
    if (n > 0 && n < 1024) WideCharToMultiByte(CP_UTF8, 0, value, -1, out, (int)size, NULL, NULL);
#else
    const char *value = getenv(name);
    snprintf(out, size, "%s", value ? value : "");
#endif
}

/* mapisync_shim.cfg beside this library: opened by its wide path on Windows, so a folder
 * named outside the ANSI code page works; `shown` gets the path in UTF-8, for messages. */
static FILE *open_config(char *shown, size_t size)
{
#ifdef _WIN32
    wchar_t path[MAX_PATH + 32];
    own_folder_w(path, MAX_PATH);
    wcscat(path, L"mapisync_shim.cfg");
    WideCharToMultiByte(CP_UTF8, 0, path, -1, shown, (int)size, NULL, NULL);
    return _wfopen(path, L"r");
#else
    Dl_info info;
    char *cut;
    shown[0] = 0;
    if (dladdr((void *)&own_runtime, &info) && info.dli_fname) snprintf(shown, size, "%s", info.dli_fname);
    cut = strrchr(shown, '/');
    if (cut) cut[1] = 0; else shown[0] = 0;
    if (strlen(shown) + 20 < size) strcat(shown, "mapisync_shim.cfg");
    return fopen(shown, "r");
#endif
}

/* "key = value" lines (UTF-8); '#' starts a comment. The value of `key` into out. */
static void config_value(FILE *f, const char *key, char *out, size_t size)
{
    char line[1200];
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '='), *k = line, *v, *end;
        if (!eq || line[0] == '#') continue;
        *eq = 0;
        while (*k == ' ' || *k == '\t') k++;
        for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t'); end--) end[-1] = 0;
        if (strcmp(k, key) != 0) continue;
        for (v = eq + 1; *v == ' ' || *v == '\t'; v++) {}
        for (end = v + strlen(v); end > v && strchr(" \t\r\n", end[-1]); end--) end[-1] = 0;
        snprintf(out, size, "%s", v);
    }
}

HRESULT MapiSyncGetObject(const GUID *riid, void **ppv)
{
    char config[1200], factory[1024] = "", python[1024] = "", env[1024];
    FILE *f = open_config(config, sizeof config);
    if (f) {
        config_value(f, "factory", factory, sizeof factory);
        config_value(f, "python", python, sizeof python);
        fclose(f);
    }
    env_utf8("MAPISYNC_FACTORY", env, sizeof env);
    if (env[0]) snprintf(factory, sizeof factory, "%s", env);
    if (!factory[0]) {
        if (ppv) *ppv = NULL;
        return fail(E_INVALIDARG, "no Python factory configured: set MAPISYNC_FACTORY=package.module:factory "
                    "or write \"factory = ...\" in %s%s", config, NULL);
    }
    env_utf8("MAPISYNC_PYTHON", env, sizeof env);
    if (python[0] && !env[0]) MapiSyncSetPythonLibrary(python);
    return MapiSyncCreateFromPython(factory, riid, ppv);
}
