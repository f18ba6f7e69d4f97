/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Run one piece of CPU-bound work on its own thread, then finish it on the event loop: for work
 * that would otherwise hold the loop (and so /health and every stream) for a long time, such
 * as parsing a request body of many megabytes.
 */

#include <event2/event.h>

typedef struct Offload Offload;

/* Runs on the worker thread: it must not touch libevent or anything the loop uses meanwhile. */
typedef void (*offload_work_fn)(void *userdata);
/* Runs on the loop once `work` has returned; the Offload is already freed. */
typedef void (*offload_done_fn)(void *userdata);

int offload_run(struct event_base *base, offload_work_fn work, offload_done_fn done, void *userdata);
/* How many offloaded jobs are running now (the caller bounds them). */
unsigned offload_in_flight(void);
