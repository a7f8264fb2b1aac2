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

static const char anchor = 0;  /* an address inside this library */

/* The folder this library was loaded from, with a trailing separator. */
static void own_folder(char *buf, size_t size)
{
    char *cut;
    buf[0] = 0;
#ifdef _WIN32
    {
        HMODULE self = NULL;
        if (GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                               &anchor, &self))
            GetModuleFileNameA(self, buf, (DWORD)size);
    }
    cut = strrchr(buf, '\\');
#else
    {
        Dl_info info;
        if (dladdr(&anchor, &info) && info.dli_fname) snprintf(buf, size, "%s", info.dli_fname);
    }
    cut = strrchr(buf, '/');
#endif
    if (cut) cut[1] = 0; else buf[0] = 0;
}

/* "key = value" lines; '#' starts a comment. Copies the value of `key` into out. */
static void config_value(const char *path, const char *key, char *out, size_t size)
{
    char line[1200];
    FILE *f = fopen(path, "r");
    if (!f) return;
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
    fclose(f);
}

HRESULT MapiSyncGetObject(const GUID *riid, void **ppv)
{
    char config[1100], factory[512] = "", python[1024] = "";
    const char *env = getenv("MAPISYNC_FACTORY");
    own_folder(config, 1024);
    strcat(config, "mapisync_shim.cfg");
    config_value(config, "factory", factory, sizeof factory);
    config_value(config, "python", python, sizeof python);
    if (env && env[0]) snprintf(factory, sizeof factory, "%s", env);
    if (!factory[0]) {
        if (ppv) *ppv = NULL;
        return fail(E_INVALIDARG, "no Python factory configured: set MAPISYNC_FACTORY=package.module:factory "
                    "or write \"factory = ...\" in %s%s", config, NULL);
    }
    if (python[0] && !(getenv("MAPISYNC_PYTHON") && getenv("MAPISYNC_PYTHON")[0])) MapiSyncSetPythonLibrary(python);
    return MapiSyncCreateFromPython(factory, riid, ppv);
}
