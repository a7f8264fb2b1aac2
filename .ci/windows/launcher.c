/* python.exe for the assembled win32 tree: loads python313.dll from its own folder and
 * hands the command line to Py_Main. Built with i686-w64-mingw32-gcc -municode -static. */
#include <windows.h>
#include <wchar.h>

typedef int (*py_main_fn)(int argc, wchar_t **argv);

int wmain(int argc, wchar_t **argv)
{
    wchar_t path[MAX_PATH];
    DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH);
    wchar_t *slash;
    HMODULE dll;
    py_main_fn py_main;
    if (n == 0 || n >= MAX_PATH) return 120;
    slash = wcsrchr(path, L'\\');
    if (!slash || (size_t)(slash - path) + 16 >= MAX_PATH) return 121;
    wcscpy(slash + 1, L"python313.dll");
    dll = LoadLibraryExW(path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!dll) return 122;
    py_main = (py_main_fn)(void *)GetProcAddress(dll, "Py_Main");
    if (!py_main) return 123;
    return py_main(argc, argv);
}
