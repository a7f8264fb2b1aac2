// Uses include/mapisync.h as a C++11 host would; must compile with -Wall -Wextra -pedantic -Werror.
#include "mapisync.h"
struct Cb : IMAPISyncProgressCallback {
    HRESULT STDMETHODCALLTYPE QueryInterface(REFIID, void **ppv) override { *ppv = nullptr; return E_NOINTERFACE; }
    ULONG STDMETHODCALLTYPE AddRef() override { return 2; }
    ULONG STDMETHODCALLTYPE Release() override { return 1; }
    HRESULT STDMETHODCALLTYPE Progress(const WCHAR *, ULONG, ULONG) override { return S_OK; }
    HRESULT STDMETHODCALLTYPE Error(HRESULT hr, const WCHAR *) override { return hr; }
    HRESULT STDMETHODCALLTYPE Done(HANDLE, HRESULT) override { return S_OK; }
};
int main()
{
    Cb cb;
    IUnknown *unk = &cb;
    MAPISIB sib = {};
    sib.punkCallBack = unk;
    return (IsEqualIID(IID_IMAPISyncProgressCallback, IID_IMAPISyncProgressCallback)
            && cb.Error(E_FAIL, nullptr) == E_FAIL && sib.punkCallBack->AddRef() == 2) ? 0 : 1;
}
