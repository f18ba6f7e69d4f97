/* SPDX-License-Identifier: MIT */

/* The HAProxy agent-check line for a weight (haproxy configuration.txt, "agent-check"). */

#include <string.h>

#include "helpers.h"
#include "http/lb-agent.h"

static void test_reply(void **state) {
        char buf[32];

        assert_int_equal(lb_agent_reply(100, buf, sizeof(buf)), (int) strlen("up ready 100%\n"));
        assert_string_equal(buf, "up ready 100%\n");
        assert_int_equal(lb_agent_reply(5, buf, sizeof(buf)), (int) strlen("up ready 5%\n"));
        assert_string_equal(buf, "up ready 5%\n");
        /* 0 is no weight but a drain: persistent sessions may finish, nothing new comes. */
        assert_int_equal(lb_agent_reply(0, buf, sizeof(buf)), (int) strlen("drain 0%\n"));
        assert_string_equal(buf, "drain 0%\n");
        /* Never above the configured weight. */
        lb_agent_reply(400, buf, sizeof(buf));
        assert_string_equal(buf, "up ready 100%\n");
        assert_int_equal(lb_agent_reply(100, buf, 8), -ENOBUFS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reply),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
