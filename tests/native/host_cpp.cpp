// A C++ host and a C++ COM object for the tests: everything goes through the C++
// declarations of include/mapisync.h with virtual calls, as a C++ MAPI host would.
#include "testsupport.h"

#include <atomic>
#include <string>

// QueryInterface the object for IMAPISyncProgressCallback and call every method virtually.
// results[0..4]: QI, Progress, Error, Done, and QI for IMAPISync (expected to fail).
TEST_API int cpp_host_exercise(IUnknown *obj, HRESULT *results)
{
    static const WCHAR text[] = {'C', '+', '+', 0};
    IMAPISyncProgressCallback *cb = nullptr;
    results[0] = obj->QueryInterface(IID_IMAPISyncProgressCallback, reinterpret_cast<void **>(&cb));
    if (FAILED(results[0]) || !cb) return 0;
    results[1] = cb->Progress(text, 7, 9);
    results[2] = cb->Error(MAPI_E_NETWORK_ERROR, text);
    results[3] = cb->Done(reinterpret_cast<HANDLE>(static_cast<size_t>(0x1234)), S_OK);
    IMAPISync *sync = reinterpret_cast<IMAPISync *>(0x1);
    results[4] = cb->QueryInterface(IID_IMAPISync, reinterpret_cast<void **>(&sync));
    int ok = sync == nullptr;  // a failed QueryInterface must NULL the out pointer
    cb->Release();
    return ok ? 5 : -5;
}

// Drives a Python-implemented IMAPISync the way a C++ host would: builds a MAPISIB and calls it.
TEST_API HRESULT cpp_host_sync(IUnknown *obj, IUnknown *callback, ULONG flags, HANDLE *done)
{
    IMAPISync *sync = nullptr;
    HRESULT hr = obj->QueryInterface(IID_IMAPISync, reinterpret_cast<void **>(&sync));
    if (FAILED(hr)) return hr;
    MAPISIB sib = {};
    sib.ulSize = sizeof(MAPISIB);
    sib.ulFlags = flags;
    sib.punkCallBack = callback;
    sib.phSyncDoneEvent = done;
    hr = sync->SynchronizeInBackground(&sib);
    sync->Release();
    return hr;
}

namespace {

// A C++ implementation of IMAPISyncProgressCallback, for Python to call through wrap().
class CppCallback final : public IMAPISyncProgressCallback {
public:
    HRESULT STDMETHODCALLTYPE QueryInterface(REFIID riid, void **ppv) override
    {
        if (!ppv) return E_POINTER;
        *ppv = nullptr;
        if (!IsEqualIID(riid, IID_IUnknown) && !IsEqualIID(riid, IID_IMAPISyncProgressCallback))
            return E_NOINTERFACE;
        AddRef();
        *ppv = static_cast<IMAPISyncProgressCallback *>(this);
        return S_OK;
    }
    ULONG STDMETHODCALLTYPE AddRef() override { return ++refs_; }
    ULONG STDMETHODCALLTYPE Release() override
    {
        ULONG n = --refs_;
        if (n == 0) delete this;
        return n;
    }
    HRESULT STDMETHODCALLTYPE Progress(const WCHAR *text, ULONG index, ULONG max) override
    {
        log_ += "Progress(" + narrow(text) + "," + std::to_string(index) + "," + std::to_string(max) + ");";
        return index == max ? MAPI_E_USER_CANCEL : S_OK;  // a host cancelling at the end
    }
    HRESULT STDMETHODCALLTYPE Error(HRESULT hr, const WCHAR *text) override
    {
        log_ += "Error(" + std::to_string(static_cast<long>(hr)) + "," + narrow(text) + ");";
        return S_OK;
    }
    HRESULT STDMETHODCALLTYPE Done(HANDLE handle, HRESULT hr) override
    {
        log_ += "Done(" + std::to_string(reinterpret_cast<size_t>(handle)) + "," +
                std::to_string(static_cast<long>(hr)) + ");";
        return S_OK;
    }
    const std::string &log() const { return log_; }

private:
    static std::string narrow(const WCHAR *text)
    {
        if (!text) return "NULL";
        std::string out;
        for (; *text; ++text) out += *text < 128 ? static_cast<char>(*text) : '?';
        return out;
    }
    std::atomic<ULONG> refs_{1};
    std::string log_;
};

}  // namespace

TEST_API IMAPISyncProgressCallback *cpp_callback_new()
{
    return new CppCallback();
}

// The calls the C++ callback received, as text.
TEST_API const char *cpp_callback_log(IMAPISyncProgressCallback *cb)
{
    return static_cast<CppCallback *>(cb)->log().c_str();
}
