/* What sync_host.c's host saw of one sync; shared by the test hosts that use it. */
#ifndef MAPISYNC_SYNC_REPORT_H
#define MAPISYNC_SYNC_REPORT_H

#include "mapisync.h"

typedef struct {
    HRESULT sync_hr;        /* what SynchronizeInBackground returned */
    HRESULT done_hr;        /* what Done carried */
    int progress, errors, dones;
    int on_caller_thread;   /* callbacks that arrived on the thread that called SynchronizeInBackground */
    int after_done;         /* Progress/Error after Done */
    int handle_mismatch;    /* Done's handle differs from *phSyncDoneEvent */
    int signalled;          /* the handle was signalled within the timeout */
    int refs_left;          /* callback references the provider still held once signalled */
    int handle_touched;     /* a rejected call wrote *phSyncDoneEvent */
    int reused_signalled;   /* close-in-Done: a handle created after closing got signalled */
    int min_refs_in_calls;  /* the fewest callback references seen inside a callback (host's + provider's) */
    int session_min_refs;   /* the fewest session references seen inside a callback */
    int session_refs_left;  /* session references the provider still held once signalled */
    int done_before_handle; /* Done came while *phSyncDoneEvent did not yet hold its handle */
} sync_report;

HRESULT sync_host_run(IUnknown *provider, ULONG flags, int cancel_at, int close_in_done, int timeout_ms,
                      sync_report *r);
int sync_host_concurrent(IUnknown *provider, int n, int cancel_at, sync_report *reports);

#endif
