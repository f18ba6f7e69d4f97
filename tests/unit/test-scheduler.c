/* SPDX-License-Identifier: MIT */

/* CLI slots and the FIFO queue (scheduler.c): pure, no loop. */

#include <errno.h>

#include "helpers.h"
#include "scheduler.h"
#include "util/macro.h"

typedef struct Req {
        SchedTicket t;
        Scheduler *s;
        unsigned granted;
        unsigned order;                 /* when it was granted, 1-based */
        bool fail_at_once;              /* release the slots inside the grant (a spawn error) */
        unsigned n;
} Req;

static unsigned grant_counter;

static void on_granted(SchedTicket *t, void *userdata) {
        Req *r = userdata;

        r->granted++;
        r->order = ++grant_counter;
        if (r->fail_at_once) {
                scheduler_release(r->s, r->n);
                scheduler_leave(r->s, t);
        }
}

static int ask(Scheduler *s, Req *r, unsigned n) {
        r->s = s;
        r->n = n;
        scheduler_join(s, &r->t, on_granted, r);
        return scheduler_acquire(s, &r->t, n);
}

static void test_runs_now_within_the_limit(void **state) {
        Scheduler s;
        Req a = {}, b = {};

        scheduler_init(&s, 2, 5);
        assert_true(scheduler_idle(&s));
        assert_int_equal(ask(&s, &a, 1), 1);
        assert_int_equal(ask(&s, &b, 1), 1);
        assert_int_equal(scheduler_children(&s), 2);
        assert_int_equal(scheduler_in_flight(&s), 2);
        assert_int_equal(scheduler_queued(&s), 0);
        assert_int_equal(a.granted + b.granted, 0);     /* granted now: no callback */
        scheduler_release(&s, 1);
        scheduler_leave(&s, &a.t);
        scheduler_release(&s, 1);
        scheduler_leave(&s, &b.t);
        assert_true(scheduler_idle(&s));
}

static void test_fifo_and_full_queue(void **state) {
        Scheduler s;
        Req a = {}, b = {}, c = {}, d = {};

        grant_counter = 0;
        scheduler_init(&s, 1, 2);
        assert_int_equal(ask(&s, &a, 1), 1);
        assert_int_equal(ask(&s, &b, 1), 0);
        assert_int_equal(ask(&s, &c, 1), 0);
        assert_int_equal(ask(&s, &d, 1), -EBUSY);
        scheduler_leave(&s, &d.t);
        assert_int_equal(scheduler_queued(&s), 2);
        assert_int_equal(scheduler_in_flight(&s), 1);

        scheduler_release(&s, 1);       /* a's child reaped */
        scheduler_leave(&s, &a.t);
        assert_int_equal(b.granted, 1);
        assert_int_equal(c.granted, 0);
        assert_int_equal(scheduler_children(&s), 1);
        scheduler_release(&s, 1);
        scheduler_leave(&s, &b.t);
        assert_int_equal(c.granted, 1);
        assert_true(b.order < c.order);
        scheduler_release(&s, 1);
        scheduler_leave(&s, &c.t);
        assert_true(scheduler_idle(&s));
}

/* A free slot does not let a newcomer overtake a request that waits for more slots. */
static void test_no_overtaking(void **state) {
        Scheduler s;
        Req a = {}, big = {}, small = {};

        grant_counter = 0;
        scheduler_init(&s, 2, 5);
        assert_int_equal(ask(&s, &a, 1), 1);
        assert_int_equal(ask(&s, &big, 2), 0);
        assert_int_equal(ask(&s, &small, 1), 0);
        assert_int_equal(scheduler_children(&s), 1);
        scheduler_release(&s, 1);
        scheduler_leave(&s, &a.t);
        assert_int_equal(big.granted, 1);
        assert_int_equal(small.granted, 0);
        assert_int_equal(scheduler_children(&s), 2);
        scheduler_release(&s, 2);
        scheduler_leave(&s, &big.t);
        assert_int_equal(small.granted, 1);
        assert_true(big.order < small.order);
        scheduler_release(&s, 1);
        scheduler_leave(&s, &small.t);
        assert_int_equal(ask(&s, &a, 3), -E2BIG);
        scheduler_leave(&s, &a.t);
        assert_true(scheduler_idle(&s));
}

/* A queued request leaving (client gone) frees its place; a grant that fails at once does not
 * stall the queue or recurse. */
static void test_leave_and_failing_grant(void **state) {
        Scheduler s;
        Req a = {}, gone = {}, fails = {}, last = {};

        scheduler_init(&s, 1, 5);
        assert_int_equal(ask(&s, &a, 1), 1);
        assert_int_equal(ask(&s, &gone, 1), 0);
        assert_int_equal(ask(&s, &fails, 1), 0);
        assert_int_equal(ask(&s, &last, 1), 0);
        fails.fail_at_once = true;
        scheduler_leave(&s, &gone.t);
        assert_int_equal(scheduler_queued(&s), 2);

        scheduler_release(&s, 1);
        scheduler_leave(&s, &a.t);
        assert_int_equal(gone.granted, 0);
        assert_int_equal(fails.granted, 1);
        assert_int_equal(last.granted, 1);
        assert_int_equal(scheduler_children(&s), 1);
        assert_int_equal(scheduler_queued(&s), 0);
        scheduler_release(&s, 1);
        scheduler_leave(&s, &last.t);
        assert_true(scheduler_idle(&s));
}

static void test_stop_and_limits(void **state) {
        Scheduler s;
        Req a = {}, b = {}, c = {};

        scheduler_init(&s, 1, 5);
        assert_int_equal(ask(&s, &a, 1), 1);
        assert_int_equal(ask(&s, &b, 1), 0);
        /* A reload raised MAX_CONCURRENT: the queue moves at once. */
        scheduler_set_limits(&s, 2, 5);
        assert_int_equal(b.granted, 1);
        assert_int_equal(ask(&s, &c, 1), 0);
        scheduler_stop(&s);
        scheduler_release(&s, 1);
        scheduler_leave(&s, &a.t);
        assert_int_equal(c.granted, 0);         /* stopping: the owner answers it */
        assert_ptr_equal(s.queue.head, &c.t);
        scheduler_leave(&s, &c.t);
        assert_int_equal(ask(&s, &a, 1), -ESHUTDOWN);
        scheduler_leave(&s, &a.t);
        scheduler_release(&s, 1);
        scheduler_leave(&s, &b.t);
        assert_true(scheduler_idle(&s));
}

static unsigned room_calls;

static void on_room(void *userdata) {
        room_calls++;
}

/* Spare slots (the warm pool): taken only when free and nobody waits, idle ignores them. */
static void test_spare_slots(void **state) {
        Scheduler s;
        Req a = {}, b = {};

        scheduler_init(&s, 2, 5);
        room_calls = 0;
        scheduler_set_room_cb(&s, on_room, NULL);
        assert_true(scheduler_take_spare(&s));
        assert_true(scheduler_take_spare(&s));
        assert_false(scheduler_take_spare(&s));         /* MAX_CONCURRENT counts spare slots */
        assert_int_equal(scheduler_children(&s), 2);
        assert_int_equal(scheduler_busy_children(&s), 0);
        assert_true(scheduler_idle(&s));                /* EXIT_IDLE_SEC is not held up */
        assert_true(scheduler_full(&s));

        /* A request adopts one: the slot is its own now. */
        scheduler_join(&s, &a.t, on_granted, &a);
        scheduler_adopt_spare(&s);
        assert_int_equal(scheduler_busy_children(&s), 1);
        assert_false(scheduler_idle(&s));

        /* Another must wait; the idle one is ended and its release grants the queued request. */
        assert_int_equal(ask(&s, &b, 1), 0);
        assert_false(scheduler_take_spare(&s));         /* never ahead of a queued request */
        scheduler_release_spare(&s);
        assert_int_equal(b.granted, 1);
        assert_int_equal(room_calls, 0);                /* full again: no room */
        assert_int_equal(scheduler_children(&s), 2);

        scheduler_release(&s, 1);
        scheduler_leave(&s, &a.t);
        assert_int_equal(room_calls, 1);                /* a slot free, nobody waits: refill */
        scheduler_release(&s, 1);
        scheduler_leave(&s, &b.t);
        assert_true(scheduler_idle(&s));
        assert_int_equal(scheduler_children(&s), 0);

        /* A slot is free but a request waits for two: the free one is not the pool's. */
        Req c = {}, d = {};
        assert_int_equal(ask(&s, &c, 1), 1);
        assert_int_equal(ask(&s, &d, 2), 0);
        assert_false(scheduler_take_spare(&s));
        scheduler_release(&s, 1);
        scheduler_leave(&s, &c.t);
        assert_int_equal(d.granted, 1);
        scheduler_release(&s, 2);
        scheduler_leave(&s, &d.t);
        assert_true(scheduler_idle(&s));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_runs_now_within_the_limit),
                cmocka_unit_test(test_fifo_and_full_queue),
                cmocka_unit_test(test_no_overtaking),
                cmocka_unit_test(test_leave_and_failing_grant),
                cmocka_unit_test(test_stop_and_limits),
                cmocka_unit_test(test_spare_slots),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
