/*
 * A stand-in for a python3.dll someone planted in a folder: loading it leaves a file named
 * PLANTED_DLL_WAS_LOADED in the current folder, which a test then looks for. (Writing a file
 * from DllMain is poor form in a real DLL; here it is the whole point.)
 */
#include "testsupport.h"

#ifdef _WIN32
BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance; (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        FILE *f = fopen("PLANTED_DLL_WAS_LOADED", "w");
        if (f) { fputs("loaded\n", f); fclose(f); }
    }
    return TRUE;
}
#endif

TEST_API int planted(void) { return 1; }
