/* Uses include/mapisync.h as a C99 host would; must compile with -Wall -Wextra -pedantic -Werror. */
#include "mapisync.h"
static HRESULT STDMETHODCALLTYPE progress(IMAPISyncProgressCallback *This, const WCHAR *t, ULONG i, ULONG n)
{ (void)This; (void)t; return i <= n ? S_OK : E_INVALIDARG; }
int main(void)
{
    MAPISIB sib = {0};
    IMAPISyncProgressCallbackVtbl vtbl = {0};
    vtbl.Progress = progress;
    sib.ulSize = sizeof sib;
    sib.ulFlags = SYNC_UPLOAD_CONTENTS | SYNC_ON_DEMAND;
    return (IsEqualIID(&IID_IMAPISync, &IID_IMAPISync) && vtbl.Progress(NULL, NULL, 1, 2) == S_OK
            && FAILED(MAPI_E_USER_CANCEL)) ? 0 : 1;
}
