/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * PURE: the CLI slots and the FIFO queue. The one place that counts children (MAX_CONCURRENT)
 * and waiting requests (MAX_QUEUE). A request is a ticket: it joins when it is taken over, asks
 * for n slots, runs now or waits its turn, and gives the slots back one by one as its children
 * are reaped. Slots are plain counts, not tied to a ticket, so a child may outlive the request
 * that asked for it (whoever reaps it releases its slot).
 */

#include <stdbool.h>

typedef struct SchedTicket SchedTicket;

/* The ticket's slots were granted from the queue: start now. May release slots again. */
typedef void (*sched_granted_t)(SchedTicket *t, void *userdata);

struct SchedTicket {
        SchedTicket *prev, *next;       /* among all tickets (requests in flight or queued) */
        SchedTicket *qprev, *qnext;     /* in the FIFO while queued */
        unsigned want;                  /* slots asked for while queued */
        bool member, queued;
        sched_granted_t granted;
        void *userdata;
};

typedef struct SchedList {
        SchedTicket *head, *tail;
        unsigned n;
} SchedList;

typedef struct Scheduler {
        unsigned max_concurrent, max_queue;
        unsigned children;              /* CLI slots in use */
        SchedList members;              /* every ticket that joined and has not left */
        SchedList queue;                /* waiting for slots, oldest first */
        bool stopping;                  /* nothing is granted from the queue any more */
        bool kicking;                   /* inside scheduler_kick(): no recursion */
} Scheduler;

void scheduler_init(Scheduler *s, unsigned max_concurrent, unsigned max_queue);
/* A reload changed the limits: a larger MAX_CONCURRENT starts queued tickets now. */
void scheduler_set_limits(Scheduler *s, unsigned max_concurrent, unsigned max_queue);

/* A request is in flight from now on; `granted` is called if it ever waits in the queue. */
void scheduler_join(Scheduler *s, SchedTicket *t, sched_granted_t granted, void *userdata);
/* The request is over: out of the queue and the members. Slots it holds are NOT released. */
void scheduler_leave(Scheduler *s, SchedTicket *t);

/*
 * Ask for n slots. Return 1 when they are taken now (FIFO: only if nobody waits), 0 when queued
 * (t->granted follows), -EBUSY when the queue is full, -E2BIG when n can never fit,
 * -ESHUTDOWN when stopping.
 */
int scheduler_acquire(Scheduler *s, SchedTicket *t, unsigned n);
/* n children were reaped (or never started): their slots are free; queued tickets start. */
void scheduler_release(Scheduler *s, unsigned n);
/* Grant what fits to the head of the queue. */
void scheduler_kick(Scheduler *s);
/* Graceful stop: no more grants. The owner answers the queued tickets itself. */
void scheduler_stop(Scheduler *s);

static inline unsigned scheduler_children(const Scheduler *s) {
        return s->children;
}
static inline unsigned scheduler_queued(const Scheduler *s) {
        return s->queue.n;
}
/* Requests taken over and not queued: running, starting or replying. */
static inline unsigned scheduler_in_flight(const Scheduler *s) {
        return s->members.n - s->queue.n;
}
static inline bool scheduler_idle(const Scheduler *s) {
        return s->members.n == 0 && s->children == 0;
}
