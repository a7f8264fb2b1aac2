/* Small portable helpers for the native test hosts: export, threads, atomics, a lock. */
#ifndef MAPISYNC_TESTSUPPORT_H
#define MAPISYNC_TESTSUPPORT_H

#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L  /* nanosleep, dup, poll under -std=c99 */
#endif

#include "mapisync.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  define TEST_EXPORT __declspec(dllexport)
#else
#  include <pthread.h>
#  include <time.h>
#  define TEST_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#  define TEST_EXTERN_C extern "C"
#else
#  define TEST_EXTERN_C
#endif
#define TEST_API TEST_EXTERN_C TEST_EXPORT

/* ---- atomics: the COM count of the native test objects */
#ifdef _WIN32
static inline long test_atomic_inc(volatile long *v) { return InterlockedIncrement(v); }
static inline long test_atomic_dec(volatile long *v) { return InterlockedDecrement(v); }
#else
static inline long test_atomic_inc(volatile long *v) { return __atomic_add_fetch(v, 1, __ATOMIC_SEQ_CST); }
static inline long test_atomic_dec(volatile long *v) { return __atomic_sub_fetch(v, 1, __ATOMIC_SEQ_CST); }
#endif

/* ---- a mutex */
#ifdef _WIN32
typedef CRITICAL_SECTION test_lock;
static inline void test_lock_init(test_lock *l) { InitializeCriticalSection(l); }
static inline void test_lock_free(test_lock *l) { DeleteCriticalSection(l); }
static inline void test_lock_take(test_lock *l) { EnterCriticalSection(l); }
static inline void test_lock_give(test_lock *l) { LeaveCriticalSection(l); }
#else
typedef pthread_mutex_t test_lock;
static inline void test_lock_init(test_lock *l) { pthread_mutex_init(l, NULL); }
static inline void test_lock_free(test_lock *l) { pthread_mutex_destroy(l); }
static inline void test_lock_take(test_lock *l) { pthread_mutex_lock(l); }
static inline void test_lock_give(test_lock *l) { pthread_mutex_unlock(l); }
#endif

/* ---- threads that Python did not create (CreateThread on Windows, pthreads elsewhere) */
typedef void (*test_thread_body)(void *arg);
typedef struct { test_thread_body body; void *arg; } test_thread_start;

#ifdef _WIN32
typedef HANDLE test_thread;
static DWORD WINAPI test_thread_entry(LPVOID p)
{
    test_thread_start *s = (test_thread_start *)p;
    s->body(s->arg);
    free(s);
    return 0;
}
#else
typedef pthread_t test_thread;
static void *test_thread_entry(void *p)
{
    test_thread_start *s = (test_thread_start *)p;
    s->body(s->arg);
    free(s);
    return NULL;
}
#endif

static inline int test_thread_run(test_thread *t, test_thread_body body, void *arg)
{
    test_thread_start *s = (test_thread_start *)malloc(sizeof *s);
    if (!s) return 0;
    s->body = body;
    s->arg = arg;
#ifdef _WIN32
    *t = CreateThread(NULL, 0, test_thread_entry, s, 0, NULL);
    if (*t == NULL) { free(s); return 0; }
#else
    if (pthread_create(t, NULL, test_thread_entry, s) != 0) { free(s); return 0; }
#endif
    return 1;
}

static inline void test_thread_join(test_thread t)
{
#ifdef _WIN32
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
#else
    pthread_join(t, NULL);
#endif
}

static inline void test_thread_detach(test_thread t)
{
#ifdef _WIN32
    CloseHandle(t);
#else
    pthread_detach(t);
#endif
}

static inline void test_sleep_ms(int ms)
{
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
#endif
}

/* A monotonic clock, in milliseconds. */
static inline double test_now_ms(void)
{
#ifdef _WIN32
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    return 1000.0 * (double)count.QuadPart / (double)frequency.QuadPart;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1000.0 * (double)t.tv_sec + (double)t.tv_nsec / 1e6;
#endif
}

/* ---- failure messages collected into a caller's buffer */
typedef struct { char *buf; size_t len; size_t used; int failures; } test_report;

static inline void test_fail(test_report *r, const char *fmt, ...)
{
    va_list ap;
    r->failures++;
    if (!r->buf || r->used + 2 >= r->len) return;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->used, r->len - r->used - 1, fmt, ap);
    va_end(ap);
    if (n > 0) {
        r->used += (size_t)n < r->len - r->used - 1 ? (size_t)n : r->len - r->used - 1;
        r->buf[r->used++] = '\n';
        r->buf[r->used] = '\0';
    }
}

#define TEST_CHECK(r, cond, ...) do { if (!(cond)) test_fail((r), __VA_ARGS__); } while (0)

#endif
