/*
 * mapisync.h - MAPI background synchronization interfaces for native hosts and providers.
 *
 * IMAPISync (SynchronizeInBackground) and IMAPISyncProgressCallback (Progress, Error, Done),
 * MAPISIB, the IIDs, the SYNC_* flags and the HRESULTs they use. No public SDK header
 * declares these, so this one does, in the shape MIDL output has: C structs
 * <Interface>Vtbl with lpVtbl for C, abstract classes deriving from IUnknown for C++
 * (define CINTERFACE to get the C shape in C++).
 *
 * On Windows it builds on <windows.h>/<unknwn.h>. Elsewhere it declares portable types
 * with the Windows sizes: ULONG is 32-bit, WCHAR is a 16-bit UTF-16 code unit (not the
 * platform wchar_t), HANDLE is pointer-sized, and methods use the platform C convention.
 *
 * Compiles warning-free as C99 and C++11 (-Wall -Wextra -pedantic). Part of mapisync_ctypes;
 * mapisync_ctypes.get_include() returns the folder that holds it.
 */
#ifndef MAPISYNC_H
#define MAPISYNC_H

#include <stddef.h>

#if defined(_WIN32)
#  include <windows.h>
#  include <unknwn.h>
#else
#  include <stdint.h>
#  include <string.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define MAPISYNC_UNUSED __attribute__((unused))
#else
#  define MAPISYNC_UNUSED
#endif

/* ---------------------------------------------------------------- portable base types */
#if !defined(_WIN32)

typedef uint32_t ULONG;
typedef int32_t  HRESULT;
typedef uint16_t WCHAR;
typedef void    *HANDLE;

typedef struct GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t  Data4[8];
} GUID;
typedef GUID IID;
#  ifdef __cplusplus
typedef const IID &REFIID;
#  else
typedef const IID *REFIID;
#  endif

#  define STDMETHODCALLTYPE
#  define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#  define FAILED(hr)    (((HRESULT)(hr)) < 0)

static MAPISYNC_UNUSED const IID IID_IUnknown =
    {0x00000000, 0x0000, 0x0000, {0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}};

static inline int MapiSyncIsEqualGUID(const GUID *a, const GUID *b)
{
    return memcmp(a, b, sizeof(GUID)) == 0;
}
#  ifdef __cplusplus
static inline bool IsEqualIID(REFIID a, REFIID b) { return MapiSyncIsEqualGUID(&a, &b) != 0; }
#  else
#    define IsEqualIID(a, b) MapiSyncIsEqualGUID((a), (b))
#  endif

#  if defined(__cplusplus) && !defined(CINTERFACE)
struct IUnknown {
    virtual HRESULT STDMETHODCALLTYPE QueryInterface(REFIID riid, void **ppv) = 0;
    virtual ULONG STDMETHODCALLTYPE AddRef() = 0;
    virtual ULONG STDMETHODCALLTYPE Release() = 0;
};
#  else
typedef struct IUnknown IUnknown;
typedef struct IUnknownVtbl {
    HRESULT (STDMETHODCALLTYPE *QueryInterface)(IUnknown *This, REFIID riid, void **ppv);
    ULONG (STDMETHODCALLTYPE *AddRef)(IUnknown *This);
    ULONG (STDMETHODCALLTYPE *Release)(IUnknown *This);
} IUnknownVtbl;
struct IUnknown { const IUnknownVtbl *lpVtbl; };
#  endif

#endif /* !_WIN32 */

/* ---------------------------------------------------------------- HRESULTs */
#define MAPISYNC_HR(x) ((HRESULT)(x))
#ifndef S_OK
#  define S_OK            MAPISYNC_HR(0x00000000L)
#endif
#ifndef S_FALSE
#  define S_FALSE         MAPISYNC_HR(0x00000001L)
#endif
#ifndef E_NOTIMPL
#  define E_NOTIMPL       MAPISYNC_HR(0x80004001L)
#endif
#ifndef E_NOINTERFACE
#  define E_NOINTERFACE   MAPISYNC_HR(0x80004002L)
#endif
#ifndef E_POINTER
#  define E_POINTER       MAPISYNC_HR(0x80004003L)
#endif
#ifndef E_ABORT
#  define E_ABORT         MAPISYNC_HR(0x80004004L)
#endif
#ifndef E_FAIL
#  define E_FAIL          MAPISYNC_HR(0x80004005L)
#endif
#ifndef E_UNEXPECTED
#  define E_UNEXPECTED    MAPISYNC_HR(0x8000FFFFL)
#endif
#ifndef E_OUTOFMEMORY
#  define E_OUTOFMEMORY   MAPISYNC_HR(0x8007000EL)
#endif
#ifndef E_INVALIDARG
#  define E_INVALIDARG    MAPISYNC_HR(0x80070057L)
#endif
/* MAPI's names (mapicode.h) */
#ifndef MAPI_E_CALL_FAILED
#  define MAPI_E_CALL_FAILED        E_FAIL
#endif
#ifndef MAPI_E_NOT_ENOUGH_MEMORY
#  define MAPI_E_NOT_ENOUGH_MEMORY  E_OUTOFMEMORY
#endif
#ifndef MAPI_E_INVALID_PARAMETER
#  define MAPI_E_INVALID_PARAMETER  E_INVALIDARG
#endif
#ifndef MAPI_E_NO_SUPPORT
#  define MAPI_E_NO_SUPPORT         MAPISYNC_HR(0x80040102L)
#endif
#ifndef MAPI_E_UNKNOWN_FLAGS
#  define MAPI_E_UNKNOWN_FLAGS      MAPISYNC_HR(0x80040106L)
#endif
#ifndef MAPI_E_USER_CANCEL
#  define MAPI_E_USER_CANCEL        MAPISYNC_HR(0x80040113L)
#endif
#ifndef MAPI_E_NETWORK_ERROR
#  define MAPI_E_NETWORK_ERROR      MAPISYNC_HR(0x80040115L)
#endif
#ifndef MAPI_W_PARTIAL_COMPLETION
#  define MAPI_W_PARTIAL_COMPLETION MAPISYNC_HR(0x00040680L)
#endif

/* ---------------------------------------------------------------- MAPISIB.ulFlags */
#define SYNC_UPLOAD_HIERARCHY   0x00000001UL
#define SYNC_DOWNLOAD_HIERARCHY 0x00000002UL
#define SYNC_UPLOAD_CONTENTS    0x00000040UL
#define SYNC_DOWNLOAD_CONTENTS  0x00000080UL
#define SYNC_OUTGOING_MAIL      0x00000200UL /* documented as unused */
#define SYNC_BACKGROUND         0x00001000UL /* replication API */
#define SYNC_THESE_FOLDERS      0x00020000UL /* replication API */
#define SYNC_GLOBAL_HEADERS     0x02000000UL /* SYNC_HEADERS on the constants page */
#define SYNC_ON_DEMAND          0x20000000UL /* user-initiated, higher priority */
#define SYNC_KNOWN_FLAGS (SYNC_UPLOAD_HIERARCHY | SYNC_DOWNLOAD_HIERARCHY | SYNC_UPLOAD_CONTENTS \
    | SYNC_DOWNLOAD_CONTENTS | SYNC_OUTGOING_MAIL | SYNC_BACKGROUND | SYNC_THESE_FOLDERS     \
    | SYNC_GLOBAL_HEADERS | SYNC_ON_DEMAND)

/* ---------------------------------------------------------------- IIDs */
static MAPISYNC_UNUSED const IID IID_IMAPISync =
    {0x5024A385, 0x2D44, 0x486A, {0x81, 0xA8, 0x8F, 0x0E, 0xCB, 0x60, 0x71, 0xDD}};
static MAPISYNC_UNUSED const IID IID_IMAPISyncProgressCallback =
    {0x5024A386, 0x2D44, 0x486A, {0x81, 0xA8, 0x8F, 0x0E, 0xCB, 0x60, 0x71, 0xDD}};

/* ---------------------------------------------------------------- MAPISIB */
struct IMAPISession; /* opaque here: treated as an IUnknown */

typedef struct MAPISIB {
    ULONG ulSize;                 /* sizeof(MAPISIB) as the host built it */
    ULONG ulFlags;                /* SYNC_* */
    struct IMAPISession *psesSync;
    IUnknown *punkCallBack;       /* QueryInterface it for IID_IMAPISyncProgressCallback */
    HANDLE *phSyncDoneEvent;      /* [out] signalled when the sync thread has finished */
} MAPISIB;

/* ---------------------------------------------------------------- interfaces */
#if defined(__cplusplus) && !defined(CINTERFACE)

struct IMAPISync : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE SynchronizeInBackground(MAPISIB *psibpb) = 0;
};

struct IMAPISyncProgressCallback : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE Progress(const WCHAR *text, ULONG ulIndex, ULONG ulIndexMax) = 0;
    virtual HRESULT STDMETHODCALLTYPE Error(HRESULT hResult, const WCHAR *text) = 0;
    virtual HRESULT STDMETHODCALLTYPE Done(HANDLE hThreadDoneEvent, HRESULT hResult) = 0;
};

#else

typedef struct IMAPISync IMAPISync;
typedef struct IMAPISyncVtbl {
    HRESULT (STDMETHODCALLTYPE *QueryInterface)(IMAPISync *This, REFIID riid, void **ppv);
    ULONG (STDMETHODCALLTYPE *AddRef)(IMAPISync *This);
    ULONG (STDMETHODCALLTYPE *Release)(IMAPISync *This);
    HRESULT (STDMETHODCALLTYPE *SynchronizeInBackground)(IMAPISync *This, MAPISIB *psibpb);
} IMAPISyncVtbl;
struct IMAPISync { const IMAPISyncVtbl *lpVtbl; };

typedef struct IMAPISyncProgressCallback IMAPISyncProgressCallback;
typedef struct IMAPISyncProgressCallbackVtbl {
    HRESULT (STDMETHODCALLTYPE *QueryInterface)(IMAPISyncProgressCallback *This, REFIID riid, void **ppv);
    ULONG (STDMETHODCALLTYPE *AddRef)(IMAPISyncProgressCallback *This);
    ULONG (STDMETHODCALLTYPE *Release)(IMAPISyncProgressCallback *This);
    HRESULT (STDMETHODCALLTYPE *Progress)(IMAPISyncProgressCallback *This, const WCHAR *text,
                                          ULONG ulIndex, ULONG ulIndexMax);
    HRESULT (STDMETHODCALLTYPE *Error)(IMAPISyncProgressCallback *This, HRESULT hResult, const WCHAR *text);
    HRESULT (STDMETHODCALLTYPE *Done)(IMAPISyncProgressCallback *This, HANDLE hThreadDoneEvent,
                                      HRESULT hResult);
} IMAPISyncProgressCallbackVtbl;
struct IMAPISyncProgressCallback { const IMAPISyncProgressCallbackVtbl *lpVtbl; };

#endif

/* ---------------------------------------------------------------- layout checks */
#if defined(__cplusplus)
#  define MAPISYNC_STATIC_ASSERT(cond, name) static_assert(cond, #name)
#else
/* C99 has no _Static_assert; a negative array size fails the build instead. */
#  define MAPISYNC_STATIC_ASSERT(cond, name) typedef char mapisync_assert_##name[(cond) ? 1 : -1]
#endif
#define MAPISYNC_PTR_ ((ULONG)sizeof(void *))

MAPISYNC_STATIC_ASSERT(sizeof(ULONG) == 4, ULONG_is_32_bit);
MAPISYNC_STATIC_ASSERT(sizeof(HRESULT) == 4, HRESULT_is_32_bit);
MAPISYNC_STATIC_ASSERT(sizeof(WCHAR) == 2, WCHAR_is_16_bit);
MAPISYNC_STATIC_ASSERT(sizeof(HANDLE) == sizeof(void *), HANDLE_is_pointer_sized);
MAPISYNC_STATIC_ASSERT(sizeof(GUID) == 16, GUID_is_16_bytes);
MAPISYNC_STATIC_ASSERT(offsetof(MAPISIB, ulSize) == 0, MAPISIB_ulSize);
MAPISYNC_STATIC_ASSERT(offsetof(MAPISIB, ulFlags) == 4, MAPISIB_ulFlags);
MAPISYNC_STATIC_ASSERT(offsetof(MAPISIB, psesSync) == 8, MAPISIB_psesSync);
MAPISYNC_STATIC_ASSERT(offsetof(MAPISIB, punkCallBack) == 8 + MAPISYNC_PTR_, MAPISIB_punkCallBack);
MAPISYNC_STATIC_ASSERT(offsetof(MAPISIB, phSyncDoneEvent) == 8 + 2 * MAPISYNC_PTR_, MAPISIB_phSyncDoneEvent);
MAPISYNC_STATIC_ASSERT(sizeof(MAPISIB) == (MAPISYNC_PTR_ == 8 ? 32 : 20), MAPISIB_size);

#if !defined(__cplusplus) || defined(CINTERFACE)
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncVtbl, QueryInterface) == 0 * MAPISYNC_PTR_, IMAPISync_slot0);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncVtbl, AddRef) == 1 * MAPISYNC_PTR_, IMAPISync_slot1);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncVtbl, Release) == 2 * MAPISYNC_PTR_, IMAPISync_slot2);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncVtbl, SynchronizeInBackground) == 3 * MAPISYNC_PTR_, IMAPISync_slot3);
MAPISYNC_STATIC_ASSERT(sizeof(IMAPISyncVtbl) == 4 * MAPISYNC_PTR_, IMAPISyncVtbl_size);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncProgressCallbackVtbl, QueryInterface) == 0 * MAPISYNC_PTR_, IMAPISyncProgressCallback_slot0);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncProgressCallbackVtbl, AddRef) == 1 * MAPISYNC_PTR_, IMAPISyncProgressCallback_slot1);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncProgressCallbackVtbl, Release) == 2 * MAPISYNC_PTR_, IMAPISyncProgressCallback_slot2);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncProgressCallbackVtbl, Progress) == 3 * MAPISYNC_PTR_, IMAPISyncProgressCallback_slot3);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncProgressCallbackVtbl, Error) == 4 * MAPISYNC_PTR_, IMAPISyncProgressCallback_slot4);
MAPISYNC_STATIC_ASSERT(offsetof(IMAPISyncProgressCallbackVtbl, Done) == 5 * MAPISYNC_PTR_, IMAPISyncProgressCallback_slot5);
MAPISYNC_STATIC_ASSERT(sizeof(IMAPISyncProgressCallbackVtbl) == 6 * MAPISYNC_PTR_, IMAPISyncProgressCallbackVtbl_size);
#endif

#endif /* MAPISYNC_H */
