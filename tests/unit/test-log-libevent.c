/* SPDX-License-Identifier: MIT */

/* libevent's own messages: through our log, with our prefix, and rate-limited. */

#include <event2/util.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "util/log-libevent.h"
#include "util/log.h"

/* Lines of stderr containing `needle` while `fn` runs. */
static unsigned stderr_lines_during(void (*fn)(void), const char *needle) {
        char path[] = "/tmp/test-log-libevent-XXXXXX", line[512];
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        unsigned n = 0;
        FILE *f;

        assert_true(fd >= 0 && saved >= 0);
        fflush(stderr);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        fn();
        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        f = fdopen(fd, "r");
        assert_non_null(f);
        rewind(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, needle))
                        n++;
        fclose(f);
        unlink(path);
        return n;
}

/* A libevent call that warns every time: fcntl() on an invalid descriptor. */
static void warn_100_times(void) {
        for (int i = 0; i < 100; i++)
                assert_int_equal(evutil_make_socket_nonblocking(-1), -1);
}

static void test_routed_and_limited(void **state) {
        log_setup(LOG_TARGET_CONSOLE, LOG_DEBUG);
        log_libevent_setup();
        unsigned n = stderr_lines_during(warn_100_times, "libevent: fcntl(-1");
        /* The first burst gets through, in our format; the loop does not flood. */
        assert_true(n >= 1);
        assert_true(n <= 10);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_routed_and_limited),
        };
        return cmocka_run_group_tests_name("log-libevent", tests, NULL, NULL);
}
