/*
 * core.h - the compiled backend of mapisync_ctypes: what its Python side (com/native_backend.py)
 * and core.c agree on. Not a public header: hosts use include/mapisync.h.
 *
 * The core is a plain C library. It includes no Python header and links no Python library:
 * the Python C-API functions it uses are handed to it at start-up (msc_bind), so one build
 * serves every CPython 3.9+ on a CPU, and a mingw cross-compiler builds it for Windows.
 *
 * The GIL rule, by construction:
 *   - functions named msc_py_* touch Python objects: Python calls them through ctypes.PyDLL,
 *     which keeps the GIL (the Python side declares them in one place, by that prefix);
 *   - every other export is plain C and never touches Python: ctypes.CDLL may release the
 *     GIL around it;
 *   - vtable entry points (trampolines, Release to zero, "not live" reports) take the GIL
 *     themselves (msc_enter) before the first C-API call;
 *   - the proxies' call functions are Python builtins, so Python holds the GIL when it calls
 *     them; they release it around the native call.
 * With MAPISYNC_GIL_CHECK=1 every C-API call first asks PyGILState_Check(); a call without
 * the GIL is counted and reported (msc_gil_violations), so a test suite catches a regression
 * on any Python version, not only where it happens to crash.
 */
#ifndef MAPISYNC_CORE_H
#define MAPISYNC_CORE_H

#include "mapisync.h"
#include <stdint.h>

#if defined(_WIN32)
#  define MSC_API __declspec(dllexport)
#else
#  define MSC_API __attribute__((visibility("default")))
#endif

/* Parameter kinds: how one declared parameter crosses the boundary (com/boundary.py decides
 * the kind of each ctypes type; this is its C half). */
#define MSC_K_TEXT   0x01  /* const WCHAR *: str, or None for NULL */
#define MSC_K_HANDLE 0x02  /* pointer-sized, unsigned: int (NULL is 0) */
#define MSC_K_VOIDP  0x03  /* pointer-sized: int, or None for NULL */
#define MSC_K_PTR    0x04  /* pointer-sized, converted by a Python adapter (ctypes pointer, GUID) */
#define MSC_K_INT    0x10  /* | size in bytes (1, 2, 4, 8) | MSC_K_SIGNED */
#define MSC_K_SIGNED 0x20

#define MSC_MAX_WORDS 8    /* argument words after `this` a compiled trampoline or caller takes */
#define MSC_MAX_SLOTS 32   /* vtable slots a compiled trampoline serves */

/* One COM object: its header and one {lpVtbl, object} pair per interface. `this` for
 * interface i is &itf[i]; itf[0] is the IUnknown identity. */
typedef struct msc_object msc_object;
typedef struct { const void *lpVtbl; msc_object *object; } msc_slot;
typedef struct {
    uint32_t n_iids;
    uint8_t *iids;          /* 16 bytes each */
    uint32_t *slot_of_iid;  /* the itf[] index that answers each IID */
} msc_class;
struct msc_object {
    volatile int32_t refcount;
    uint32_t n_interfaces;
    void *owner;            /* the Python object (borrowed: the keep-alive holds it while refcount > 0) */
    const msc_class *cls;
    msc_slot itf[1];        /* n_interfaces of them */
};

#endif /* MAPISYNC_CORE_H */
