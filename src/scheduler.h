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

/* The queue is empty and a slot is free: a warm pool may take one (scheduler_take_spare()). */
typedef void (*sched_room_t)(void *userdata);

typedef struct Scheduler {
        unsigned max_concurrent, max_queue;
        unsigned children;              /* CLI slots in use, spare ones included */
        unsigned spare;                 /* of those, held by idle pooled processes (no request) */
        sched_room_t room;
        void *room_userdata;
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

/*
 * Spare slots: held by a process started in advance, for no request yet (the warm pool). Taken
 * only when nobody waits and one is free, so a pool never delays a request; handed to a request
 * (adopt) or given back when the idle process is reaped (release).
 */
void scheduler_set_room_cb(Scheduler *s, sched_room_t room, void *userdata);
bool scheduler_take_spare(Scheduler *s);
/* A request took the idle process with its slot: the slot is the request's from now on. */
void scheduler_adopt_spare(Scheduler *s);
void scheduler_release_spare(Scheduler *s);
/* A slot would have to wait: nothing free, or others wait already. */
static inline bool scheduler_full(const Scheduler *s) {
        return s->queue.n > 0 || s->children >= s->max_concurrent;
}

/* How many slots n more would lack now: beyond MAX_CONCURRENT, or one when others wait already. */
static inline unsigned scheduler_shortfall(const Scheduler *s, unsigned n) {
        if (s->children + n > s->max_concurrent)
                return s->children + n - s->max_concurrent;
        return s->queue.n > 0 ? 1 : 0;
}

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
/* CLI children that serve a request (running, or reaped not yet): spare ones not counted. */
static inline unsigned scheduler_busy_children(const Scheduler *s) {
        return s->children - s->spare;
}
/* No request, and no child but idle pooled ones (those do not hold EXIT_IDLE_SEC up). */
static inline bool scheduler_idle(const Scheduler *s) {
        return s->members.n == 0 && s->children == s->spare;
}
