/* SPDX-License-Identifier: MIT */

/*
 * CLI slots and the FIFO queue (see scheduler.h). Before this file the counting was spread over
 * the server (the queue kick), the session (children++ at start, -- at reap and on a failed
 * spawn) and two intrusive lists; now a slot is taken and given back here only.
 *
 * A grant callback may fail at once and release its slots (a spawn error): scheduler_kick()
 * does not recurse then, its loop just sees the freed slot and goes on.
 */

#include <assert.h>
#include <errno.h>
#include <stddef.h>

#include "scheduler.h"

static void members_append(SchedList *l, SchedTicket *t) {
        t->prev = l->tail;
        t->next = NULL;
        if (l->tail)
                l->tail->next = t;
        else
                l->head = t;
        l->tail = t;
        l->n++;
}

static void members_remove(SchedList *l, SchedTicket *t) {
        if (t->prev)
                t->prev->next = t->next;
        else
                l->head = t->next;
        if (t->next)
                t->next->prev = t->prev;
        else
                l->tail = t->prev;
        t->prev = t->next = NULL;
        l->n--;
}

static void queue_append(SchedList *l, SchedTicket *t) {
        t->qprev = l->tail;
        t->qnext = NULL;
        if (l->tail)
                l->tail->qnext = t;
        else
                l->head = t;
        l->tail = t;
        l->n++;
        t->queued = true;
}

static void queue_remove(SchedList *l, SchedTicket *t) {
        if (!t->queued)
                return;
        if (t->qprev)
                t->qprev->qnext = t->qnext;
        else
                l->head = t->qnext;
        if (t->qnext)
                t->qnext->qprev = t->qprev;
        else
                l->tail = t->qprev;
        t->qprev = t->qnext = NULL;
        l->n--;
        t->queued = false;
}

void scheduler_init(Scheduler *s, unsigned max_concurrent, unsigned max_queue) {
        *s = (Scheduler) { .max_concurrent = max_concurrent, .max_queue = max_queue };
}

void scheduler_set_limits(Scheduler *s, unsigned max_concurrent, unsigned max_queue) {
        s->max_concurrent = max_concurrent;
        s->max_queue = max_queue;
        scheduler_kick(s);
}

void scheduler_join(Scheduler *s, SchedTicket *t, sched_granted_t granted, void *userdata) {
        assert(!t->member);
        *t = (SchedTicket) { .granted = granted, .userdata = userdata, .member = true };
        members_append(&s->members, t);
}

void scheduler_leave(Scheduler *s, SchedTicket *t) {
        if (!t->member)
                return;
        queue_remove(&s->queue, t);
        members_remove(&s->members, t);
        t->member = false;
}

int scheduler_acquire(Scheduler *s, SchedTicket *t, unsigned n) {
        assert(t->member && !t->queued);
        if (s->stopping)
                return -ESHUTDOWN;
        if (n == 0 || n > s->max_concurrent)
                return -E2BIG;
        if (s->children + n <= s->max_concurrent && s->queue.n == 0) {
                s->children += n;
                return 1;
        }
        if (s->queue.n >= s->max_queue)
                return -EBUSY;
        t->want = n;
        queue_append(&s->queue, t);
        return 0;
}

void scheduler_release(Scheduler *s, unsigned n) {
        assert(s->children >= n);
        s->children -= n;
        scheduler_kick(s);
}

void scheduler_kick(Scheduler *s) {
        if (s->kicking)
                return;
        s->kicking = true;
        while (!s->stopping && s->queue.head && s->children + s->queue.head->want <= s->max_concurrent) {
                SchedTicket *t = s->queue.head;

                queue_remove(&s->queue, t);
                s->children += t->want;
                t->granted(t, t->userdata);
        }
        s->kicking = false;
        if (s->room && !s->stopping && s->queue.n == 0 && s->children < s->max_concurrent)
                s->room(s->room_userdata);
}

void scheduler_stop(Scheduler *s) {
        s->stopping = true;
}

void scheduler_set_room_cb(Scheduler *s, sched_room_t room, void *userdata) {
        s->room = room;
        s->room_userdata = userdata;
}

bool scheduler_take_spare(Scheduler *s) {
        if (s->stopping || s->queue.n > 0 || s->children >= s->max_concurrent)
                return false;
        s->children++;
        s->spare++;
        return true;
}

void scheduler_adopt_spare(Scheduler *s) {
        assert(s->spare > 0);
        s->spare--;
}

void scheduler_release_spare(Scheduler *s) {
        assert(s->spare > 0 && s->children > 0);
        s->spare--;
        s->children--;
        scheduler_kick(s);
}
