/* SPDX-License-Identifier: MIT */

/*
 * cli/spawn.c with /bin/sh as the child, both ways to start one (vfork and fork+gate): what the
 * child holds at exec (fds 0-2 and the passed fd 3 only, no blocked or ignored signal although
 * the parent blocks, ignores and handles some), its own process group, the exit status through
 * the pidfd, and a cgroup join that fails (reported by the CLONE_VM child, nothing left over).
 */

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/spawn.h"
#include "helpers.h"
#include "util/macro.h"

static void on_usr1(int sig) {
}

/* The parent's state a child must not inherit: a handler, an ignored and a blocked signal. */
static int setup(void **state) {
        struct sigaction sa = { .sa_handler = on_usr1 };
        sigset_t set;

        assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
        assert_int_equal(signal(SIGPIPE, SIG_IGN) != SIG_ERR, 1);
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        assert_int_equal(sigprocmask(SIG_BLOCK, &set, NULL), 0);
        return 0;
}

/* Everything the child writes to stdout until EOF, then its exit. */
static char *run_to_end(CliChild *c, CliExit *e) {
        static char out[16384];
        size_t n = 0;

        c->stdin_fd = safe_close(c->stdin_fd);
        for (;;) {
                struct pollfd p = { .fd = c->stdout_fd, .events = POLLIN };
                assert_true(poll(&p, 1, 10000) > 0);
                ssize_t k = read(c->stdout_fd, out + n, sizeof(out) - 1 - n);
                if (k == 0)
                        break;
                if (k > 0)
                        n += (size_t) k;
        }
        out[n] = 0;
        for (int i = 0; i < 1000; i++) {
                int r = cli_child_try_reap(c, e);
                assert_true(r >= 0);
                if (r > 0)
                        break;
                usleep(10000);
        }
        assert_true(c->reaped);
        return out;
}

static const char *const script =
        "grep -E '^Sig(Blk|Ign):' /proc/self/status; ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; "
        "echo pgid=$(ps -o pgid= $$ 2>/dev/null | tr -d ' ') pid=$$; cat <&3; exit 7";

static void check_child(bool gated) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) script, NULL };
        char *envp[] = { (char *) "PATH=/usr/bin:/bin", NULL };
        _cleanup_close_ int pass = open("/dev/null", O_RDONLY | O_CLOEXEC);
        /* A stray fd of the parent's without O_CLOEXEC: close_range must catch it. */
        _cleanup_close_ int stray = open("/dev/null", O_RDONLY);
        CliSpawnOptions o = { .argv = argv, .envp = envp, .cwd = "/", .pass_fd = pass, .gated = gated };
        CliChild c;
        CliExit e = {};

        assert_true(pass >= 0 && stray >= 0);
        assert_int_equal(cli_spawn(&o, &c), 0);
        assert_true(c.pid > 0 && c.pidfd >= 0);
        assert_int_equal(c.gate_fd >= 0, gated);
        if (gated)
                assert_int_equal(cli_child_release(&c), 0);
        char *out = run_to_end(&c, &e);

        assert_non_null(strstr(out, "SigBlk:\t0000000000000000\n"));
        assert_non_null(strstr(out, "SigIgn:\t0000000000000000\n"));
        /* ls's own directory fd is the 4th (3 is the passed one). */
        assert_non_null(strstr(out, "\n0 1 2 3 4 \n"));
        char want[64];
        snprintf(want, sizeof(want), "pid=%d", (int) c.pid);
        assert_non_null(strstr(out, want));
        if (!strstr(out, "pgid= ")) {   /* ps may be missing; the integration tests check too */
                snprintf(want, sizeof(want), "pgid=%d ", (int) c.pid);
                assert_non_null(strstr(out, want));
        }
        assert_true(e.exited);
        assert_int_equal(e.code, 7);
        cli_child_done(&c);
}

static void test_vforked_child(void **state) {
        check_child(false);
}

static void test_gated_child(void **state) {
        check_child(true);
}

/* The second passed fd (the MCP config memfd) follows the first, or takes fd 3 alone; 0 passes nothing. */
static void test_second_passed_fd(void **state) {
        static const char *const sh = "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; cat <&$1";
        char *envp[] = { (char *) "PATH=/usr/bin:/bin", NULL };
        _cleanup_close_ int first = open("/dev/null", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int second = memfd_create("test-mcp-config", MFD_CLOEXEC);
        static const struct {
                bool first, second;
                const char *fd_arg, *want;
        } t[] = {
                { true, true, "4", "0 1 2 3 4 5 \nmcp-config-text" },
                { false, true, "3", "0 1 2 3 4 \nmcp-config-text" },
                { true, false, "3", "0 1 2 3 4 \n" },
        };

        assert_true(first >= 0 && second >= 3);
        assert_int_equal(write(second, "mcp-config-text", 15), 15);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) sh, (char *) "sh", (char *) t[i].fd_arg,
                                 NULL };
                CliSpawnOptions o = { .argv = argv, .envp = envp, .cwd = "/", .pass_fd = t[i].first ? first : -1,
                                      .pass_fd2 = t[i].second ? second : 0 };
                CliChild c;
                CliExit e = {};

                assert_int_equal(lseek(second, 0, SEEK_SET), 0);
                assert_int_equal(cli_spawn(&o, &c), 0);
                char *out = run_to_end(&c, &e);
                if (!streq(out, t[i].want))
                        fail_msg("case %zu: '%s'", i, out);
                cli_child_done(&c);
        }
}

/* The child reports a failed join through the memory it shares with us; nothing is left. */
static void test_join_failure(void **state) {
        if (spawn_emulated_by_valgrind())
                skip();
        char *argv[] = { (char *) "/bin/true", NULL };
        char *envp[] = { NULL };
        _cleanup_close_ int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CliSpawnOptions o = { .argv = argv, .envp = envp, .pass_fd = -1, .join_cgroup = true,
                              .cgroup_procs_fd = ro };
        CliChild c;
        siginfo_t si = {};

        assert_int_equal(cli_spawn(&o, &c), -EBADF);
        assert_true(c.join_failed);
        assert_int_equal(c.pid, 0);
        assert_int_equal(c.stdout_fd, -EBADF);
        /* Reaped already: no child of ours is left, zombie or not. */
        assert_int_equal(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vforked_child),
                cmocka_unit_test(test_gated_child),
                cmocka_unit_test(test_second_passed_fd),
                cmocka_unit_test(test_join_failure),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
