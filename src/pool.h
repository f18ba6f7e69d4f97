/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The warm pool (WARM_POOL): CLI processes started in advance with the base argv and
 * `--model DEFAULT_MODEL`, each in its own scope named by its run id, probed for readiness with
 * `mcp_status`. A request for that model adopts one (the process and its slot), configures it
 * over the control channel and writes its conversation; the pool refills in the background. A
 * process serves one request and is never reused (cli/README §16.2): nothing of one request can
 * reach another. Idle pooled processes hold spare scheduler slots (scheduler.h) and are the first
 * thing given up when a request needs a slot.
 */

#include <stdbool.h>
#include <stdint.h>

#include "cli/control.h"
#include "run.h"
#include "scheduler.h"

typedef struct Pool Pool;

typedef struct PoolFigures {
        unsigned target;                /* WARM_POOL (0 while the CLI is missing or stopping) */
        unsigned size;                  /* idle pooled processes, ready or starting */
        unsigned ready;                 /* of those, answered the readiness probe */
        uint64_t hits;                  /* requests that adopted a pooled process */
        uint64_t misses;                /* requests for the pool's model that found none idle */
        uint64_t cold_fallbacks;        /* requests the pool does not serve (another model) */
        uint64_t spawn_failures;        /* pooled spawns that failed, or died before adoption */
        uint64_t sacrificed;            /* idle ones ended to free a slot for a request */
        const char *model;              /* the key: the resolved DEFAULT_MODEL, NULL when off */
        const char *problem;            /* why refills are backing off, NULL when fine */
} PoolFigures;

int pool_new(Pool **ret, Scheduler *sched, const RunContext *ctx);
/* Kill (SIGKILL, synchronous reap) every idle process. NULL-safe. */
Pool *pool_free(Pool *p);

/*
 * (Re)configure: the CLI binary (NULL: none, the pool stays empty), the pool's model and size.
 * Every idle process is replaced, since the configuration may have changed (SIGHUP).
 */
int pool_configure(Pool *p, const char *claude_path, const char *model, unsigned target);
/* The proxy is stopping: end the idle processes, start no more. */
void pool_stop(Pool *p);

/*
 * A request for @model wants a process. Return 1 with *ret a running process that is now the
 * caller's (owned through @cb, with its slot: the caller releases one slot at its reap) and
 * *ret_control the correlation table holding its probe; 0 when there is none (counted as a miss
 * or a cold fallback: spawn cold).
 */
int pool_adopt(Pool *p, const char *model, const char *log_id, const RunCallbacks *cb, void *userdata, Run **ret,
               CliControl **ret_control);
/* The request that adopted a process got its first output, or ended: refill now. */
void pool_kick(Pool *p);
/* A request needs a slot and none is free: end one idle process (its slot frees at its reap). */
bool pool_sacrifice(Pool *p);
void pool_figures(const Pool *p, PoolFigures *ret);
