/*
 * threadstate.c - a kept Python thread state for each native thread that calls in.
 *
 * A MAPI host calls from threads Python never created. PyGILState_Ensure gives such a thread a
 * new thread state and PyGILState_Release deletes it again, on every call. Instead, the first
 * call from the thread takes one more Ensure that is not released: the state lives on (with
 * its gilstate count at 1), and later Ensure/Release pairs only take and drop the GIL.
 *
 * The state goes back when the thread ends. On Linux, on that thread, while Python's own slot
 * for the thread still finds it: a thread_local-style destructor (__cxa_thread_atexit_impl:
 * glibc 2.18+, musl) gives back the kept Ensure through the GIL API, which deletes the state;
 * where that hook is missing, a pthread key destructor deletes it directly. On Windows a
 * fiber-local-storage callback hands it to a reaper thread, which deletes it (taking the GIL
 * inside that callback can deadlock). Either way only while Python is alive (msc_alive), counted in
 * msc_inflight so the exit waits for it; after the park the interpreter frees the states
 * itself when it finalizes, and a thread that ends later leaves its pointer alone.
 *
 * Part of the compiled backend; csrc/core.h says how the parts fit and what the GIL rule is.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1  /* RTLD_DEFAULT */
#endif
#define MSC_CORE_INTERNAL 1
#include "core.h"
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#  include <dlfcn.h>
#endif

enum { MSC_GIL_LOCKED = 0, MSC_GIL_UNLOCKED = 1 };  /* PyGILState_STATE */

static volatile int32_t msc_tls_ready;

/* Python may be entered to delete a state: the compiled backend is alive (msc_alive), or the
 * ctypes backend keeps states through here (msc_keeping, see msc_py_keep_thread). Each flag
 * drops at its backend's park, before the interpreter finalizes. */
static volatile int32_t msc_keeping;
static volatile int32_t msc_kept;  /* states kept now, for msc_threads_kept */
static int msc_python_usable(void) { return msc_atomic_load(&msc_alive) || msc_atomic_load(&msc_keeping); }

/* A state whose thread is gone, or is ending where Python's slot may already be empty: made
 * current on this thread (which must have none of its own), cleared and deleted, the way CPython
 * ends its own threads. */
static void msc_delete_state(void *kept)
{
    msc_atomic_add(&msc_inflight, 1);
    if (msc_python_usable()) {
        api.PyEval_RestoreThread(kept);
        api.PyThreadState_Clear(kept);
        api.PyThreadState_DeleteCurrent();  /* and lets the GIL go */
        msc_atomic_add(&msc_kept, -1);
    }
    msc_atomic_add(&msc_inflight, -1);
}

#if defined(_WIN32)
/* Windows runs FLS callbacks holding a process-wide FLS lock (Wine does; Windows' own order is
 * not documented), and a thread that holds the GIL may be waiting for that lock: any new
 * thread's first FlsSetValue, the C runtime's per-thread data. Taking the GIL inside the
 * callback can deadlock, so the callback only queues the state, and a reaper thread of ours,
 * which never has a state of its own, deletes it. */
typedef struct msc_dead { struct msc_dead *next; void *state; } msc_dead;
static SRWLOCK msc_dead_lock = SRWLOCK_INIT;
static msc_dead *msc_dead_list;
static HANDLE msc_dead_event;

static DWORD WINAPI msc_reaper(void *unused)
{
    (void)unused;
    while (WaitForSingleObject(msc_dead_event, INFINITE) == WAIT_OBJECT_0) {
        msc_dead *list;
        AcquireSRWLockExclusive(&msc_dead_lock);
        list = msc_dead_list;
        msc_dead_list = NULL;
        ReleaseSRWLockExclusive(&msc_dead_lock);
        while (list) {
            msc_dead *next = list->next;
            msc_delete_state(list->state);
            free(list);
            list = next;
        }
    }
    return 0;
}

DWORD msc_tls = FLS_OUT_OF_INDEXES;
static void NTAPI msc_fls_ended(void *kept)
{
    msc_dead *dead;
    if (!kept || !msc_python_usable()) return;
    if (!(dead = (msc_dead *)malloc(sizeof *dead))) return;  /* leaks one state rather than block */
    dead->state = kept;
    AcquireSRWLockExclusive(&msc_dead_lock);
    dead->next = msc_dead_list;
    msc_dead_list = dead;
    ReleaseSRWLockExclusive(&msc_dead_lock);
    SetEvent(msc_dead_event);
}
static int msc_tls_set(void *value) { return FlsSetValue(msc_tls, value) != 0; }
static int msc_at_thread_end(void *kept) { (void)kept; return 1; }  /* the FLS slot's callback */
#else
/* The thread is ending and Python's slot for it still holds the kept state (C++-style
 * thread_local destructors run before the C library empties its thread-specific slots): the GIL API
 * takes it, then the second Release reaches zero and deletes it. */
static void msc_give_back(void *kept)
{
    if (!kept) return;
    msc_atomic_add(&msc_inflight, 1);
    if (msc_python_usable() && api.PyGILState_GetThisThreadState() == kept) {
        api.PyGILState_Ensure();                   /* the kept state, current: count 2 */
        api.PyGILState_Release(MSC_GIL_LOCKED);    /* count 1, the GIL still held */
        api.PyGILState_Release(MSC_GIL_UNLOCKED);  /* count 0: deleted, the GIL let go */
        msc_atomic_add(&msc_kept, -1);
    }
    msc_atomic_add(&msc_inflight, -1);
}

pthread_key_t msc_tls;
static int msc_tls_set(void *value) { return pthread_setspecific(msc_tls, value) == 0; }

/* glibc 2.18+ and musl: the hook C++ thread_local destructors use */
typedef int (*msc_cxa_fn)(void (*)(void *), void *, void *);
static msc_cxa_fn msc_cxa;

static int msc_at_thread_end(void *kept)
{
    return !msc_cxa || msc_cxa(msc_give_back, kept, (void *)(uintptr_t)&msc_tls_ready) == 0;
}

/* Without that hook, the key's own destructor: by then the C library may have emptied Python's
 * slot for this thread (glibc clears every key's value, in key order, before calling
 * destructors), so not through PyGILState_*: make the state current, clear it, delete it, the
 * way CPython ends its own threads. */
static void msc_key_ended(void *kept)
{
    if (kept) msc_delete_state(kept);
}
#endif

int msc_threads_init(void)
{
    if (msc_atomic_load(&msc_tls_ready)) return 1;
#if defined(_WIN32)
    {
        HANDLE reaper;
        if (!(msc_dead_event = CreateEventW(NULL, FALSE, FALSE, NULL))) return 0;
        if (!(reaper = CreateThread(NULL, 0, msc_reaper, NULL, 0, NULL))) return 0;
        CloseHandle(reaper);
    }
    msc_tls = FlsAlloc(msc_fls_ended);
    if (msc_tls == FLS_OUT_OF_INDEXES) return 0;
#else
    msc_cxa = (msc_cxa_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "__cxa_thread_atexit_impl");
    {   /* MAPISYNC_THREAD_END=key: the fallback, as on a C library without the hook (tests) */
        const char *end = getenv("MAPISYNC_THREAD_END");
        if (end && strcmp(end, "key") == 0) msc_cxa = NULL;
    }
    if (pthread_key_create(&msc_tls, msc_cxa ? NULL : msc_key_ended) != 0) return 0;
#endif
    msc_atomic_add(&msc_tls_ready, 1);
    return 1;
}

/* A state now kept for this thread: its end will give it back (hook, slot), and it is counted.
 * 0 if that cannot be arranged: the caller gives the state back at once. */
static int msc_hold(void *state)
{
    if (!msc_at_thread_end(state) || !msc_tls_set(state)) return 0;
    msc_atomic_add(&msc_kept, 1);
    return 1;
}

/* msc_enter calls this only where Python has no state for the thread: one the host made */
void msc_keep_thread(void)
{
    void *state;
    if (!msc_atomic_load(&msc_tls_ready)) return;  /* no slot: every call pays, nothing breaks */
    api.PyGILState_Ensure();                       /* a new state, never released here */
    state = api.PyGILState_GetThisThreadState();
    api.PyEval_SaveThread();                       /* let the GIL go, keep the state */
    if (!msc_hold(state)) {
        /* nothing would give it back: give it back now rather than leak it */
        api.PyGILState_Ensure();                   /* count 2 */
        api.PyGILState_Release(MSC_GIL_LOCKED);    /* count 1, the GIL still held */
        api.PyGILState_Release(MSC_GIL_UNLOCKED);  /* count 0: deleted, the GIL let go */
    }
}

/* ---------------------------------------------------------------- for the ctypes backend
 * On Windows the ctypes backend (com/threadstates.py) keeps states through this file when the
 * library is installed. Pure Python cannot free them there: the thread-end callback must not
 * take the GIL (above), and a Python thread that deletes another thread's state loses its own
 * binding to the GIL API (CPython 3.12+ clears the caller's slot), so it needs this reaper. */

/* With the GIL (PyDLL), inside a ctypes callback on a native thread: ctypes' PyGILState_Ensure
 * made the state; one more Ensure, never released, means ctypes' Release leaves it alive, and
 * the thread's end deletes it as for a trampoline's thread. 1 if kept now. */
MSC_API int msc_py_keep_thread(void)
{
    void *state;
    if (!msc_atomic_load(&msc_tls_ready) || !msc_atomic_load(&msc_keeping) || msc_tls_get()) return 0;
    if (!(state = PY(PyGILState_GetThisThreadState)())) return 0;
    PY(PyGILState_Ensure)();
    if (msc_hold(state)) return 1;
    PY(PyGILState_Release)(MSC_GIL_LOCKED);  /* back to ctypes' count: deleted as before */
    return 0;
}

/* Plain C: the ctypes backend starts (1) or stops (0, at its park) keeping states here. */
MSC_API void msc_threads_keeping(int on)
{
    if (on) msc_atomic_cas(&msc_keeping, 0, 1);
    else msc_atomic_cas(&msc_keeping, 1, 0);
}

/* Plain C: how many native threads have a kept state now (tests, diagnostics). */
MSC_API int msc_threads_kept(void) { return msc_atomic_load(&msc_kept); }
