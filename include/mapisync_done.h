/*
 * mapisync_done.h - the done handle of a background sync, for C providers and hosts.
 *
 * Protocol rules 3, 5 and 6 of the project's MAPI-SYNC reference: the provider stores a
 * handle in *phSyncDoneEvent and signals a private duplicate of it once its sync thread
 * has finished, so the host may close its handle at any time without the provider ever
 * touching a closed or reused one.
 *
 *   Windows: a manual-reset event; the host waits with WaitForSingleObject, closes with CloseHandle.
 *   Linux:   an eventfd cast to HANDLE; the host polls it readable and close()s it.
 *   POSIX:   the read end of a pipe; closing the write end is the signal.
 *
 * Provider: MapiSyncDoneCreate, give d.host to the host, MapiSyncDoneSignal(d.private_copy)
 *           at the very end of the thread (MapiSyncDoneDiscard if the sync never started).
 * Host:     MapiSyncDoneWait(handle, ms), then MapiSyncDoneClose(handle).
 */
#ifndef MAPISYNC_DONE_H
#define MAPISYNC_DONE_H

#include "mapisync.h"

#ifndef _WIN32
#  include <errno.h>
#  include <poll.h>
#  include <unistd.h>
#  if defined(__linux__)
#    include <sys/eventfd.h>
#  endif
#endif

typedef struct MapiSyncDone {
    HANDLE host;          /* goes to *phSyncDoneEvent; the host closes it */
    HANDLE private_copy;  /* the provider signals and closes this one */
} MapiSyncDone;

/* Returns 1 on success, 0 on failure (nothing left open). */
static inline int MapiSyncDoneCreate(MapiSyncDone *d)
{
#ifdef _WIN32
    HANDLE process = GetCurrentProcess();
    d->host = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!d->host) return 0;
    if (!DuplicateHandle(process, d->host, process, &d->private_copy, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
        CloseHandle(d->host);
        return 0;
    }
#elif defined(__linux__)
    int fd = eventfd(0, EFD_CLOEXEC), copy;
    if (fd < 0) return 0;
    copy = dup(fd);
    if (copy < 0) { close(fd); return 0; }
    d->host = (HANDLE)(intptr_t)fd;
    d->private_copy = (HANDLE)(intptr_t)copy;
#else
    int ends[2];
    if (pipe(ends) != 0) return 0;
    d->host = (HANDLE)(intptr_t)ends[0];
    d->private_copy = (HANDLE)(intptr_t)ends[1];
#endif
    return 1;
}

/* Signals and closes the private copy: the last thing a sync thread does. */
static inline void MapiSyncDoneSignal(HANDLE private_copy)
{
#ifdef _WIN32
    SetEvent(private_copy);
    CloseHandle(private_copy);
#elif defined(__linux__)
    uint64_t one = 1;
    ssize_t ignored = write((int)(intptr_t)private_copy, &one, sizeof one);
    (void)ignored;
    close((int)(intptr_t)private_copy);
#else
    close((int)(intptr_t)private_copy);  /* EOF on the read end is the signal */
#endif
}

/* Host side: close a done handle. Also for a provider's handle that never reached a host. */
static inline void MapiSyncDoneClose(HANDLE handle)
{
#ifdef _WIN32
    CloseHandle(handle);
#else
    close((int)(intptr_t)handle);
#endif
}

static inline void MapiSyncDoneDiscard(MapiSyncDone *d)
{
    MapiSyncDoneClose(d->private_copy);
    MapiSyncDoneClose(d->host);
}

/* Host side: 1 once signalled, 0 after `ms` milliseconds (-1 waits for ever). */
static inline int MapiSyncDoneWait(HANDLE handle, int ms)
{
#ifdef _WIN32
    return WaitForSingleObject(handle, ms < 0 ? INFINITE : (DWORD)ms) == WAIT_OBJECT_0;
#else
    struct pollfd p;
    int n;
    p.fd = (int)(intptr_t)handle;
    p.events = POLLIN;
    p.revents = 0;
    do n = poll(&p, 1, ms); while (n < 0 && errno == EINTR);
    return n > 0;
#endif
}

#endif /* MAPISYNC_DONE_H */
