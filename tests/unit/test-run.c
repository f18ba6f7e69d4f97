/* SPDX-License-Identifier: MIT */

/*
 * run.c with fake children (small shell scripts) and a stub container: the history
 * sequencing, control lines, the reap, a placement that fails or stays pending, the idle and
 * kill timers. The stub stands in for systemd/container.c, whose failures the daemon cannot be
 * made to produce on demand.
 */

#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "run.h"
#include "util/macro.h"
#include "util/time-util.h"

/* Answers every stdin line with a control_request and a result numbered by the line. */
static const char ECHO_SCRIPT[] =
        "#!/bin/sh\n"
        "n=0\n"
        "while IFS= read -r l; do\n"
        "  n=$((n+1))\n"
        "  echo '{\"type\":\"control_request\",\"request_id\":\"c'$n'\",\"request\":{\"subtype\":\"x\"}}'\n"
        "  echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"n\":'$n'}'\n"
        "done\n"
        "echo 'bye' >&2\n"
        "exit 0\n";
/* Ignores SIGTERM (its sleeps too: ignored dispositions are inherited) and prints nothing. */
static const char STUBBORN_SCRIPT[] =
        "#!/bin/sh\n"
        "trap '' TERM\n"
        "while :; do sleep 0.05; done\n";
static const char SILENT_SCRIPT[] = "#!/bin/sh\nexec sleep 60\n";

static struct {
        bool gate;
        int place_result;
        container_ready_t ready_cb;
        void *ready_userdata;
        unsigned placed, freed, killed;
} stub;

static bool stub_needs_gate(const Container *c) {
        return stub.gate;
}

static int stub_place(Container *c, const ScopeInfo *info, container_ready_t ready_cb, void *userdata,
                      ContainerSlot **ret) {
        if (stub.place_result < 0)
                return stub.place_result;
        stub.placed++;
        stub.ready_cb = ready_cb;
        stub.ready_userdata = userdata;
        *ret = (ContainerSlot *) &stub;
        return stub.place_result;
}

static const char *stub_unit(const ContainerSlot *s) {
        return s ? "stub.scope" : NULL;
}

static void stub_kill(ContainerSlot *s, int sig) {
        if (s)
                stub.killed++;
}

static ContainerSlot *stub_slot_free(ContainerSlot *s) {
        if (s)
                stub.freed++;
        return NULL;
}

static const RunContainerOps stub_ops = {
        .needs_gate = stub_needs_gate,
        .place = stub_place,
        .unit = stub_unit,
        .kill = stub_kill,
        .slot_free = stub_slot_free,
};

/* What the owner heard. */
typedef struct Owner {
        Run *run;
        unsigned events, controls, idles, exits, failures;
        json_int_t last_n;
        CliEventType last_type;
        bool exit_known;
        CliExit exit;
        int failure;
        bool kill_on_idle, finish_on_result;
} Owner;

static void on_event(Run *run, const CliEvent *ev, void *userdata) {
        Owner *o = userdata;

        o->events++;
        o->last_type = ev->type;
        o->last_n = json_integer_value(json_object_get(ev->payload, "n"));
        if (ev->type == CLI_EVENT_RESULT && o->finish_on_result)
                run_finish(run);
}

static void on_control(Run *run, const CliEvent *ev, void *userdata) {
        ((Owner *) userdata)->controls++;
}

static void on_failed(Run *run, int error, void *userdata) {
        Owner *o = userdata;

        o->failures++;
        o->failure = error;
}

static void on_idle(Run *run, void *userdata) {
        Owner *o = userdata;

        o->idles++;
        if (o->kill_on_idle)
                run_kill(run, CLI_KILL_IDLE);
}

static void on_exit_(Run *run, const CliExit *exit, void *userdata) {
        Owner *o = userdata;

        o->exits++;
        o->exit_known = exit != NULL;
        if (exit)
                o->exit = *exit;
}

static const RunCallbacks callbacks = {
        .on_event = on_event,
        .on_control = on_control,
        .on_failed = on_failed,
        .on_idle = on_idle,
        .on_exit = on_exit_,
};

static struct event_base *base;
static char dir[] = "/tmp/test-run-XXXXXX";
static char *envp[] = { (char *) "PATH=/usr/bin:/bin", NULL };
static Config config;
static RunContext ctx;

static char *script(const char *name, const char *text) {
        char *p = NULL;
        FILE *f;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(p, 0755), 0);
        return p;
}

static unsigned fd_count(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

/* No child at all, running or zombie. */
static bool no_children(void) {
        siginfo_t si = {};

        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

static bool has_zombie(void) {
        siginfo_t si = {};

        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid > 0;
}

/* Is `pid` blocked in read(2) (its /proc syscall line starts with SYS_read)? */
static bool blocked_in_read(pid_t pid) {
        char path[64], line[64] = "";
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/syscall", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        if (!fgets(line, sizeof(line), f))
                line[0] = 0;
        fclose(f);
        return strtol(line, NULL, 10) == SYS_read && line[0] >= '0' && line[0] <= '9';
}

/* Has `pid` exec'd `script` (an argument of its command line; before the exec the command line
 * is ours, or valgrind's)? Not its /proc exe link: under valgrind both the forked child's and our
 * own name valgrind's tool, so an exe comparison would say "exec'd" there. */
static bool execed_script(pid_t pid, const char *script) {
        char path[64], buf[8192];
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = 0;
        for (ssize_t i = 0; i < n; i += (ssize_t) strlen(buf + i) + 1)
                if (streq(buf + i, script))
                        return true;
        return false;
}

/* Run the loop until `cond` or the bound (generous: CI is loaded). */
#define SPIN_UNTIL(cond, ms)                                                                       \
        do {                                                                                       \
                uint64_t deadline_ = now_usec() + (uint64_t) (ms) * 1000;                          \
                while (!(cond) && now_usec() < deadline_) {                                        \
                        (void) event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);               \
                        usleep(2000);                                                              \
                }                                                                                  \
        } while (0)

static int start(Owner *o, const char *path, RunStage *stage) {
        CliRequest cli = { .model = (char *) "sonnet" };
        RunSpawn sp = { .cli = &cli, .claude_path = path, .log_id = "req_test", .api = "anthropic" };

        return run_start(&o->run, &ctx, &sp, &callbacks, o, stage);
}

static int setup(void **state) {
        memset(&stub, 0, sizeof(stub));
        stub.place_result = 1;
        config = (Config) { .kill_grace_ms = 2000 };
        return 0;
}

/* The lines as an owner hands them over: serialized, the tree gone. */
static int send_turns(Run *run, json_t *turns) {
        CliInput in = {};
        int k = cli_input_serialize(turns, &in);

        if (k >= 0)
                k = run_send_turns(run, &in);
        assert_null(in.lines);          /* the run took them */
        cli_input_done(&in);
        return k;
}

static json_t *two_turns(void) {
        return json_literal("[{\"type\":\"user\",\"shouldQuery\":false,\"message\":{\"role\":\"user\",\"content\":\"a\"}},"
                            "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"b\"}}]");
}

/* The history line waits for its result, which is swallowed; the live turn's reaches the owner. */
static void test_history_then_live_turn(void **state) {
        _cleanup_free_ char *path = script("echo", ECHO_SCRIPT);
        unsigned fds = fd_count();
        Owner o = { .finish_on_result = true };
        RunStage stage;
        json_t *turns = two_turns();

        assert_int_equal(start(&o, path, &stage), 0);
        assert_string_equal(run_unit(o.run), "stub.scope");
        assert_true(run_pid(o.run) > 0);
        assert_int_equal(send_turns(o.run, turns), 0);
        json_decref(turns);
        SPIN_UNTIL(o.exits > 0, 20000);

        assert_int_equal(o.exits, 1);
        /* Written all at once, line 1's result would have been the live one. */
        assert_int_equal(o.events, 1);
        assert_int_equal(o.last_type, CLI_EVENT_RESULT);
        assert_int_equal(o.last_n, 2);
        assert_int_equal(o.controls, 2);        /* control lines come through even in the history */
        assert_true(o.exit_known && o.exit.exited && o.exit.code == 0);
        assert_int_equal(o.exit.kill_reason, CLI_KILL_NONE);
        assert_string_equal(run_stderr_tail(o.run), "bye\n");
        assert_int_equal(stub.freed, 1);        /* the slot goes with the reap */
        assert_true(run_reaped(o.run));
        o.run = run_free(o.run);
        assert_true(no_children());
        assert_int_equal(fd_count(), fds);
}

/*
 * The leak: container_place() failing after the fork. The gated child must not be left for a
 * reap that no event would ever do: run_start() fails with nothing left behind.
 */
static void test_place_fails_leaves_nothing(void **state) {
        _cleanup_free_ char *path = script("silent", SILENT_SCRIPT);
        unsigned fds = fd_count();
        Owner o = {};
        RunStage stage = RUN_STAGE_SPAWN;

        stub.gate = true;
        stub.place_result = -EIO;
        assert_int_equal(start(&o, path, &stage), -EIO);
        assert_int_equal(stage, RUN_STAGE_CONTAIN);
        assert_null(o.run);
        assert_true(no_children());             /* killed and reaped, no zombie */
        assert_int_equal(fd_count(), fds);
        SPIN_UNTIL(false, 50);
        assert_int_equal(o.exits, 0);
}

/* A gated child that dies while its scope is pending stays a zombie until the job is done. */
static void test_pending_placement_parks_the_reap(void **state) {
        _cleanup_free_ char *path = script("silent", SILENT_SCRIPT);
        Owner o = {};
        RunStage stage;

        stub.gate = true;
        stub.place_result = 0;
        assert_int_equal(start(&o, path, &stage), 0);
        run_kill(o.run, CLI_KILL_SHUTDOWN);
        SPIN_UNTIL(has_zombie(), 10000);
        assert_true(has_zombie());
        SPIN_UNTIL(false, 100);
        assert_int_equal(o.exits, 0);
        stub.ready_cb((ContainerSlot *) &stub, 1, stub.ready_userdata);
        SPIN_UNTIL(o.exits > 0, 10000);
        assert_int_equal(o.exits, 1);
        assert_int_equal(o.exit.kill_reason, CLI_KILL_SHUTDOWN);
        assert_int_equal(o.events, 0);
        o.run = run_free(o.run);
        assert_true(no_children());
}

static void test_pending_placement_then_runs(void **state) {
        _cleanup_free_ char *path = script("echo", ECHO_SCRIPT);
        Owner o = { .finish_on_result = true };
        RunStage stage;
        json_t *turns = json_literal("[{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"b\"}}]");

        stub.gate = true;
        stub.place_result = 0;
        assert_int_equal(start(&o, path, &stage), 0);
        assert_int_equal(send_turns(o.run, turns), 0);
        json_decref(turns);
        /* At the gate: blocked reading it and not exec'd. Without a gate the child would be the
         * script by now (sh blocks in read() too, on its stdin, but as another image). */
        SPIN_UNTIL(blocked_in_read(run_pid(o.run)), 10000);
        assert_true(blocked_in_read(run_pid(o.run)));
        assert_false(execed_script(run_pid(o.run), path));
        assert_int_equal(o.events, 0);
        stub.ready_cb((ContainerSlot *) &stub, 1, stub.ready_userdata);
        SPIN_UNTIL(o.exits > 0, 20000);
        assert_int_equal(o.events, 1);
        assert_int_equal(o.last_n, 1);
        assert_true(o.exit.exited && o.exit.code == 0);
        o.run = run_free(o.run);
        assert_true(no_children());
}

static void test_pending_placement_fails(void **state) {
        _cleanup_free_ char *path = script("silent", SILENT_SCRIPT);
        Owner o = {};
        RunStage stage;

        stub.gate = true;
        stub.place_result = 0;
        assert_int_equal(start(&o, path, &stage), 0);
        stub.ready_cb((ContainerSlot *) &stub, -EIO, stub.ready_userdata);
        assert_int_equal(o.failures, 1);
        assert_int_equal(o.failure, -EIO);
        SPIN_UNTIL(o.exits > 0, 10000);
        assert_int_equal(o.exits, 1);
        assert_int_equal(o.exit.kill_reason, CLI_KILL_PROTOCOL);
        o.run = run_free(o.run);
        assert_true(no_children());
}

/* No output: on_idle; the owner kills; SIGTERM is ignored, SIGKILL follows after the grace. */
static void test_idle_then_kill_escalates(void **state) {
        _cleanup_free_ char *path = script("stubborn", STUBBORN_SCRIPT);
        Owner o = { .kill_on_idle = true };
        RunStage stage;
        uint64_t t0;

        config.idle_timeout_ms = 100;
        config.kill_grace_ms = 300;
        assert_int_equal(start(&o, path, &stage), 0);
        SPIN_UNTIL(o.idles > 0, 10000);
        assert_int_equal(o.idles, 1);
        t0 = now_usec();
        SPIN_UNTIL(o.exits > 0, 20000);
        assert_int_equal(o.exits, 1);
        assert_false(o.exit.exited);
        assert_int_equal(o.exit.signal, SIGKILL);
        assert_int_equal(o.exit.kill_reason, CLI_KILL_IDLE);
        assert_true(now_usec() - t0 >= 250 * 1000);
        assert_true(stub.killed >= 2);          /* the container got SIGTERM and SIGKILL too */
        o.run = run_free(o.run);
        assert_true(no_children());
}

/* The process is ending: a run freed while its child runs leaves nothing. */
static void test_free_while_running(void **state) {
        _cleanup_free_ char *path = script("silent", SILENT_SCRIPT);
        unsigned fds = fd_count();
        Owner o = {};
        RunStage stage;

        assert_int_equal(start(&o, path, &stage), 0);
        o.run = run_free(o.run);
        assert_true(no_children());
        assert_int_equal(fd_count(), fds);
        assert_int_equal(o.exits, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_history_then_live_turn, setup),
                cmocka_unit_test_setup(test_place_fails_leaves_nothing, setup),
                cmocka_unit_test_setup(test_pending_placement_parks_the_reap, setup),
                cmocka_unit_test_setup(test_pending_placement_then_runs, setup),
                cmocka_unit_test_setup(test_pending_placement_fails, setup),
                cmocka_unit_test_setup(test_idle_then_kill_escalates, setup),
                cmocka_unit_test_setup(test_free_while_running, setup),
        };
        int r;

        if (!mkdtemp(dir))
                return 99;
        base = event_base_new();
        if (!base)
                return 99;
        ctx = (RunContext) { .base = base, .config = &config, .container_ops = &stub_ops, .envp = envp, .cwd = dir };
        r = cmocka_run_group_tests(tests, NULL, NULL);
        event_base_free(base);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void) system(cmd);
        return r;
}
