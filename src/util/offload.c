/* SPDX-License-Identifier: MIT */

/*
 * One thread per job, joined on the loop. The worker signals completion through an eventfd the
 * loop watches; the join then returns at once. Every signal is blocked in the worker, so the
 * loop's signal handling is not disturbed and a SIGTERM never interrupts the worker. Jobs are
 * rare (large bodies only) and few at a time (the caller bounds them), so no pool.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/offload.h"

struct Offload {
        pthread_t thread;
        int efd;
        struct event *ev;
        offload_work_fn work;
        offload_done_fn done;
        void *userdata;
};

static unsigned in_flight;

unsigned offload_in_flight(void) {
        return in_flight;
}

static void *offload_main(void *arg) {
        Offload *o = arg;
        uint64_t one = 1;

        o->work(o->userdata);
        /* An eventfd write of 1 cannot block or fail short; EINTR cannot happen with all blocked. */
        (void) !write(o->efd, &one, sizeof(one));
        return NULL;
}

static void offload_free(Offload *o) {
        if (o->ev)
                event_free(o->ev);
        safe_close(o->efd);
        free(o);
}

static void on_offload_done(evutil_socket_t fd, short what, void *userdata) {
        Offload *o = userdata;
        offload_done_fn done = o->done;
        void *arg = o->userdata;
        uint64_t n;

        (void) !read(fd, &n, sizeof(n));
        (void) pthread_join(o->thread, NULL);
        offload_free(o);
        in_flight--;
        done(arg);
}

/**
 * offload_run() - run @work on a new thread, then @done on the loop
 * @base: the loop
 * @work: the work, on the worker thread
 * @done: called on the loop after @work returned
 * @userdata: for both
 *
 * Return: 0 (then @done will be called); a negative errno (then neither is called).
 */
int offload_run(struct event_base *base, offload_work_fn work, offload_done_fn done, void *userdata) {
        sigset_t all, old;
        Offload *o;
        int r;

        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        *o = (Offload) { .work = work, .done = done, .userdata = userdata };
        o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (o->efd < 0) {
                r = -errno;
                offload_free(o);
                return r;
        }
        o->ev = event_new(base, o->efd, EV_READ, on_offload_done, o);
        if (!o->ev || event_add(o->ev, NULL) < 0) {
                offload_free(o);
                return -ENOMEM;
        }

        sigfillset(&all);
        (void) pthread_sigmask(SIG_BLOCK, &all, &old);
        r = pthread_create(&o->thread, NULL, offload_main, o);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
                offload_free(o);
                return -r;
        }
        in_flight++;
        return 0;
}
